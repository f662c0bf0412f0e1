//! A model loaded into ONNX Runtime: its signature and its session threads.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Instant;

use ort::session::{OutputSelector, RunOptions, Session, SessionInputValue, SessionOutputs};
use ort::value::{Outlet, ValueType};
use veil_tensor::{Dimension, ModelSignature, Tensor, TensorSpec};

use super::convert;
use super::workers::SessionWorkers;
use crate::{EngineError, LoadedModel, PendingRun, RunHold, RunOutcome, validate};

/// A model served by ONNX Runtime.
pub(super) struct OrtModel {
    /// Shared with queued runs, which need its input names.
    signature: Arc<ModelSignature>,
    workers: SessionWorkers<Session>,
}

impl OrtModel {
    pub(super) fn new(signature: ModelSignature, workers: SessionWorkers<Session>) -> Self {
        OrtModel {
            signature: Arc::new(signature),
            workers,
        }
    }

    /// Number of sessions (each on its own thread).
    pub(super) fn sessions(&self) -> usize {
        self.workers.len()
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
        self.submit(inputs, outputs.map(<[String]>::to_vec), Box::new(()))
            .wait()
            .outputs
    }

    fn submit(
        &self,
        inputs: Vec<(String, Tensor)>,
        outputs: Option<Vec<String>>,
        hold: RunHold,
    ) -> PendingRun {
        // Checked on the caller's thread: a bad request never takes a session.
        let checked = validate::order_inputs(&self.signature, inputs).and_then(|ordered| {
            let selected = validate::select_outputs(&self.signature, outputs.as_deref())?;
            Ok((ordered, selected))
        });
        let (ordered, selected) = match checked {
            Ok(checked) => checked,
            Err(e) => return PendingRun::ready(RunOutcome::refused(e)),
        };
        let signature = self.signature.clone();
        let output_names: Vec<String> = selected
            .iter()
            .map(|&i| self.signature.outputs[i].name.clone())
            .collect();
        let all_outputs = outputs.is_none();
        let (pending, reply) = PendingRun::channel();
        let queued = Instant::now();
        self.workers.submit(Box::new(move |session: &mut Session| {
            let started = Instant::now();
            let result = run_on(
                session,
                &signature.inputs,
                ordered,
                &output_names,
                all_outputs,
            );
            let ran = started.elapsed();
            // The hold (e.g. an admission ticket) ends with the run, before
            // the requester hears of it.
            drop(hold);
            let outcome = RunOutcome {
                outputs: result.map(|tensors| output_names.into_iter().zip(tensors).collect()),
                queued: started.saturating_duration_since(queued),
                ran,
            };
            Box::new(move || reply.send(outcome))
        }));
        pending
    }
}

/// Converts the inputs (in model order), runs `session` and copies the
/// outputs named in `output_names` out of it.
fn run_on(
    session: &mut Session,
    input_specs: &[TensorSpec],
    ordered: Vec<Tensor>,
    output_names: &[String],
    all_outputs: bool,
) -> Result<Vec<Tensor>, EngineError> {
    let mut values: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(ordered.len());
    // Views of the request's bytes where they are aligned: `ordered` lives
    // until the run has returned.
    for (spec, tensor) in input_specs.iter().zip(&ordered) {
        values.push((
            Cow::Borrowed(spec.name.as_str()),
            convert::to_input(tensor)?,
        ));
    }
    let options = if all_outputs {
        None
    } else {
        let selector = output_names
            .iter()
            .fold(OutputSelector::no_default(), |s, name| {
                s.with(name.as_str())
            });
        Some(
            RunOptions::new()
                .map_err(|e| EngineError::Run(e.to_string()))?
                .with_outputs(selector),
        )
    };
    let results = match &options {
        None => session.run(values),
        Some(options) => session.run_with_options(values, options),
    }
    .map_err(|e| EngineError::Run(e.to_string().trim_end().to_owned()))?;
    copy_outputs(output_names, &results)
}

/// Copies every output out of the session's buffers, in `names` order.
fn copy_outputs(
    names: &[String],
    results: &SessionOutputs<'_>,
) -> Result<Vec<Tensor>, EngineError> {
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
