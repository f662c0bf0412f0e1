//! A model loaded into ONNX Runtime: its signature and its session pool.

use std::borrow::Cow;

use ort::session::{OutputSelector, RunOptions, Session, SessionInputValue, SessionOutputs};
use ort::value::{Outlet, ValueType};
use veil_tensor::{Dimension, ModelSignature, Tensor, TensorSpec};

use super::convert;
use super::pool::SessionPool;
use crate::{EngineError, LoadedModel, validate};

/// A model served by ONNX Runtime.
pub(super) struct OrtModel {
    signature: ModelSignature,
    pool: SessionPool,
}

impl OrtModel {
    pub(super) fn new(signature: ModelSignature, pool: SessionPool) -> Self {
        OrtModel { signature, pool }
    }

    /// Number of sessions in the pool.
    pub(super) fn sessions(&self) -> usize {
        self.pool.len()
    }
}

impl LoadedModel for OrtModel {
    fn signature(&self) -> &ModelSignature {
        &self.signature
    }

    fn run(
        &self,
        inputs: Vec<(String, Tensor)>,
        outputs: Option<&[String]>,
    ) -> Result<Vec<(String, Tensor)>, EngineError> {
        let ordered = validate::order_inputs(&self.signature, inputs)?;
        let selected = validate::select_outputs(&self.signature, outputs)?;
        let all_outputs = outputs.is_none();

        // Convert outside the pool, so a session is held only while it runs.
        let mut values: Vec<(Cow<'_, str>, SessionInputValue<'_>)> =
            Vec::with_capacity(ordered.len());
        for (spec, tensor) in self.signature.inputs.iter().zip(ordered) {
            values.push((
                Cow::Borrowed(spec.name.as_str()),
                convert::to_value(tensor)?.into(),
            ));
        }
        let names: Vec<&str> = selected
            .iter()
            .map(|&i| self.signature.outputs[i].name.as_str())
            .collect();
        let run_options = if all_outputs {
            None
        } else {
            let selector = names
                .iter()
                .fold(OutputSelector::no_default(), |s, name| s.with(*name));
            Some(
                RunOptions::new()
                    .map_err(|e| EngineError::Run(e.to_string()))?
                    .with_outputs(selector),
            )
        };

        let tensors = self.pool.with_session(|session| {
            let results = match &run_options {
                None => session.run(values),
                Some(options) => session.run_with_options(values, options),
            }
            .map_err(|e| EngineError::Run(e.to_string().trim_end().to_owned()))?;
            copy_outputs(&names, &results)
        })?;
        Ok(names.into_iter().map(str::to_owned).zip(tensors).collect())
    }
}

/// Copies every output out of the session's buffers, in `names` order.
fn copy_outputs(names: &[&str], results: &SessionOutputs<'_>) -> Result<Vec<Tensor>, EngineError> {
    if results.len() != names.len() {
        return Err(EngineError::Run(format!(
            "ONNX Runtime returned {} outputs, {} were requested",
            results.len(),
            names.len()
        )));
    }
    names
        .iter()
        .zip(results.values())
        .map(|(name, value)| convert::from_value(name, &value))
        .collect()
}

/// The signature ONNX Runtime reports for a session; refuses anything but
/// tensors of the data types Veil serves.
pub(super) fn signature_of(session: &Session) -> Result<ModelSignature, EngineError> {
    let specs = |outlets: &[Outlet], role: &str| {
        outlets
            .iter()
            .map(|o| tensor_spec(o, role))
            .collect::<Result<Vec<_>, _>>()
    };
    Ok(ModelSignature {
        inputs: specs(session.inputs(), "input")?,
        outputs: specs(session.outputs(), "output")?,
    })
}

fn tensor_spec(outlet: &Outlet, role: &str) -> Result<TensorSpec, EngineError> {
    let name = outlet.name();
    let refuse = |what: String| {
        EngineError::InvalidModel(format!(
            "model {role} {name:?} {what}; Veil serves only tensors of BOOL, UINT8..UINT64, \
             INT8..INT64, FP16, FP32 or FP64"
        ))
    };
    match outlet.dtype() {
        ValueType::Tensor { ty, shape, .. } => {
            let datatype = convert::data_type(*ty).ok_or_else(|| {
                let hint = if matches!(ty, ort::value::TensorElementType::String) {
                    " (string tensors are not supported)"
                } else {
                    ""
                };
                refuse(format!("has element type {ty}{hint}"))
            })?;
            Ok(TensorSpec {
                name: name.to_owned(),
                datatype,
                // Symbolic and unknown dimensions come back as -1.
                shape: shape.iter().map(|&d| Dimension::from(d)).collect(),
            })
        }
        ValueType::Sequence(_) | ValueType::Map { .. } => Err(refuse(format!(
            "is a {} (for a scikit-learn classifier, convert with skl2onnx option \
             zipmap=False to get a probability tensor)",
            outlet.dtype()
        ))),
        other => Err(refuse(format!("is a {other}"))),
    }
}
