//! Checking a request against a model's signature before any engine sees it.
//!
//! Engine-independent: every backend calls these, so every backend refuses
//! the same requests with the same messages. Messages name tensors, data
//! types and shapes, never values.

use veil_tensor::{ModelSignature, Tensor, TensorSpec};

use crate::EngineError;

/// Longest client-supplied name quoted back in an error message.
const MAX_QUOTED_NAME: usize = 64;

/// Checks `inputs` against `signature` and returns the tensors in the model's
/// input order: every declared input present exactly once, no unknown name,
/// data type equal, shape accepted (dynamic dimensions take any size) and
/// small enough for a 64-bit element count.
pub fn order_inputs(
    signature: &ModelSignature,
    inputs: Vec<(String, Tensor)>,
) -> Result<Vec<Tensor>, EngineError> {
    let invalid = |reason: String| EngineError::InvalidInput {
        reason,
        expected: signature.clone(),
    };
    let mut slots: Vec<Option<Tensor>> = vec![None; signature.inputs.len()];
    for (name, tensor) in inputs {
        let Some(index) = signature.inputs.iter().position(|s| s.name == name) else {
            return Err(invalid(format!(
                "unknown input {} (model inputs: {})",
                quoted(&name),
                names(&signature.inputs)
            )));
        };
        let spec = &signature.inputs[index];
        check_tensor(spec, &tensor).map_err(invalid)?;
        if slots[index].replace(tensor).is_some() {
            return Err(invalid(format!("input {} given twice", quoted(&name))));
        }
    }
    slots
        .into_iter()
        .zip(&signature.inputs)
        .map(|(slot, spec)| {
            slot.ok_or_else(|| invalid(format!("missing input {}", quoted(&spec.name))))
        })
        .collect()
}

/// Resolves the requested outputs to indices into `signature.outputs`:
/// `None` selects every output in model order; names must be known, distinct
/// and at least one.
pub fn select_outputs(
    signature: &ModelSignature,
    requested: Option<&[String]>,
) -> Result<Vec<usize>, EngineError> {
    let Some(requested) = requested else {
        return Ok((0..signature.outputs.len()).collect());
    };
    let invalid = |reason: String| EngineError::InvalidInput {
        reason,
        expected: signature.clone(),
    };
    if requested.is_empty() {
        return Err(invalid(
            "an empty list of outputs was requested; ask for none to get all".to_owned(),
        ));
    }
    let mut selected = Vec::with_capacity(requested.len());
    for name in requested {
        let Some(index) = signature.outputs.iter().position(|s| &s.name == name) else {
            return Err(invalid(format!(
                "unknown output {} (model outputs: {})",
                quoted(name),
                names(&signature.outputs)
            )));
        };
        if selected.contains(&index) {
            return Err(invalid(format!("output {} requested twice", quoted(name))));
        }
        selected.push(index);
    }
    Ok(selected)
}

fn check_tensor(spec: &TensorSpec, tensor: &Tensor) -> Result<(), String> {
    let name = quoted(&spec.name);
    if tensor.dtype() != spec.datatype {
        return Err(format!(
            "input {name} has datatype {}, the model expects {}",
            tensor.dtype(),
            spec.datatype
        ));
    }
    let shape = tensor.shape();
    if shape.len() != spec.shape.len() {
        return Err(format!(
            "input {name} has shape {shape:?} of rank {}, the model expects rank {} ({spec})",
            shape.len(),
            spec.shape.len()
        ));
    }
    if !spec.accepts_shape(shape) {
        return Err(format!(
            "input {name} has shape {shape:?}, the model expects {spec}"
        ));
    }
    // Engines count elements in i64, including the non-zero dimensions of an
    // empty tensor: refuse shapes whose product would overflow there.
    let fits = shape
        .iter()
        .try_fold(1i64, |acc, &d| {
            i64::try_from(d.max(1))
                .ok()
                .and_then(|d| acc.checked_mul(d))
        })
        .is_some();
    if !fits {
        return Err(format!(
            "input {name} has shape {shape:?}, which is too large"
        ));
    }
    Ok(())
}

/// A client-supplied name, truncated and escaped for an error message.
fn quoted(name: &str) -> String {
    if name.chars().count() <= MAX_QUOTED_NAME {
        format!("{name:?}")
    } else {
        let head: String = name.chars().take(MAX_QUOTED_NAME).collect();
        format!("{head:?}…")
    }
}

fn names(specs: &[TensorSpec]) -> String {
    specs
        .iter()
        .map(|s| quoted(&s.name))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use veil_tensor::{DataType, Dimension};

    use super::*;

    fn signature() -> ModelSignature {
        let spec = |name: &str, shape: Vec<Dimension>| TensorSpec {
            name: name.to_owned(),
            datatype: DataType::F32,
            shape,
        };
        ModelSignature {
            inputs: vec![
                spec("a", vec![Dimension::Dynamic, Dimension::Fixed(2)]),
                spec("b", vec![]),
            ],
            outputs: vec![spec("y", vec![]), spec("z", vec![])],
        }
    }

    fn f32s(shape: Vec<usize>) -> Tensor {
        let n = veil_tensor::element_count(&shape).unwrap();
        Tensor::from_values(shape, vec![1.5f32; n]).unwrap()
    }

    fn reason(err: EngineError) -> String {
        match err {
            EngineError::InvalidInput { reason, .. } => reason,
            other => panic!("expected InvalidInput, got {other}"),
        }
    }

    #[test]
    fn orders_inputs_as_the_model_declares_them() {
        let ordered = order_inputs(
            &signature(),
            vec![("b".into(), f32s(vec![])), ("a".into(), f32s(vec![3, 2]))],
        )
        .unwrap();
        assert_eq!(ordered[0].shape(), &[3, 2]);
        assert_eq!(ordered[1].shape(), &[] as &[usize]);
    }

    #[test]
    fn refuses_an_input_given_twice() {
        let err = order_inputs(
            &signature(),
            vec![
                ("b".into(), f32s(vec![])),
                ("b".into(), f32s(vec![])),
                ("a".into(), f32s(vec![1, 2])),
            ],
        )
        .unwrap_err();
        assert!(reason(err).contains("\"b\" given twice"));
    }

    #[test]
    fn refuses_an_empty_tensor_whose_dimensions_overflow_i64() {
        let signature = ModelSignature {
            inputs: vec![TensorSpec {
                name: "e".to_owned(),
                datatype: DataType::F32,
                shape: vec![Dimension::Dynamic; 3],
            }],
            outputs: vec![],
        };
        let huge = Tensor::from_bytes(DataType::F32, vec![0, 1 << 40, 1 << 40], vec![]).unwrap();
        let err = order_inputs(&signature, vec![("e".into(), huge)]).unwrap_err();
        assert!(reason(err).contains("too large"));
    }

    #[test]
    fn long_and_odd_names_are_truncated_and_escaped() {
        let name = format!("x\n{}", "y".repeat(500));
        let err = order_inputs(&signature(), vec![(name, f32s(vec![]))]).unwrap_err();
        let reason = reason(err);
        assert!(reason.contains("\"x\\n"));
        assert!(reason.len() < 200, "{reason}");
    }

    #[test]
    fn output_selection_keeps_the_requested_order() {
        let all = select_outputs(&signature(), None).unwrap();
        assert_eq!(all, vec![0, 1]);
        let picked = select_outputs(&signature(), Some(&["z".to_owned(), "y".to_owned()])).unwrap();
        assert_eq!(picked, vec![1, 0]);
    }

    #[test]
    fn refuses_empty_duplicate_or_unknown_output_selections() {
        assert!(select_outputs(&signature(), Some(&[])).is_err());
        let twice = ["y".to_owned(), "y".to_owned()];
        assert!(reason(select_outputs(&signature(), Some(&twice)).unwrap_err()).contains("twice"));
        let unknown = ["w".to_owned()];
        let reason = reason(select_outputs(&signature(), Some(&unknown)).unwrap_err());
        assert!(reason.contains("unknown output \"w\""), "{reason}");
        assert!(reason.contains("\"y\", \"z\""), "{reason}");
    }
}
