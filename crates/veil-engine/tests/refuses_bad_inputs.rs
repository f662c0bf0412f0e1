//! Requests that do not fit the signature are refused before the engine runs,
//! with a reason that names the problem and never the tensor values; the model
//! keeps serving afterwards.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns count as non-test code

mod common;

use common::{invalid_input_reason, load};
use veil_engine::{EngineError, LoadedModel, Tensor};

/// A value that must never appear in an error message.
const SECRET: f32 = 4242.125;

fn secret_f32(shape: Vec<usize>) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_values(shape, vec![SECRET; n]).unwrap()
}

fn named(name: &str, tensor: Tensor) -> (String, Tensor) {
    (name.to_owned(), tensor)
}

/// Runs a bad request; checks the error is InvalidInput carrying the model's
/// signature and no value, and returns its reason.
fn refused(
    model: &dyn LoadedModel,
    inputs: Vec<(String, Tensor)>,
    outputs: Option<&[String]>,
) -> String {
    let err = model.run(inputs, outputs).unwrap_err();
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains("4242"), "error shows a tensor value: {text}");
    }
    if let EngineError::InvalidInput { expected, .. } = &err {
        assert_eq!(expected, model.signature());
    }
    invalid_input_reason::<()>(Err(err))
}

fn add_still_serves(model: &dyn LoadedModel) {
    let one = || Tensor::from_values(vec![1, 1], vec![1.0f32]).unwrap();
    let outputs = model
        .run(vec![named("a", one()), named("b", one())], None)
        .unwrap();
    assert_eq!(outputs[0].1.to_values::<f32>().unwrap(), vec![2.0]);
}

#[test]
fn missing_input_is_refused_by_name() {
    let model = load("add.onnx");
    let reason = refused(&*model, vec![named("a", secret_f32(vec![1, 2]))], None);
    assert!(reason.contains("missing input \"b\""), "{reason}");
    add_still_serves(&*model);
}

#[test]
fn unknown_extra_input_is_refused_by_name() {
    let model = load("add.onnx");
    let inputs = vec![
        named("a", secret_f32(vec![1, 2])),
        named("b", secret_f32(vec![1, 2])),
        named("c", secret_f32(vec![1, 2])),
    ];
    let reason = refused(&*model, inputs, None);
    assert!(reason.contains("unknown input \"c\""), "{reason}");
    add_still_serves(&*model);
}

#[test]
fn wrong_dtype_is_refused_naming_both_types() {
    let model = load("mlp.onnx");
    let x = Tensor::from_values(vec![1, 16], vec![f64::from(SECRET); 16]).unwrap();
    let reason = refused(&*model, vec![named("x", x)], None);
    assert!(
        reason.contains("\"x\" has datatype FP64, the model expects FP32"),
        "{reason}"
    );
}

#[test]
fn wrong_rank_is_refused_naming_both_ranks() {
    let model = load("mlp.onnx");
    let reason = refused(&*model, vec![named("x", secret_f32(vec![16]))], None);
    assert!(
        reason.contains("rank 1, the model expects rank 2"),
        "{reason}"
    );
}

#[test]
fn wrong_fixed_dimension_is_refused_showing_the_declared_shape() {
    let model = load("mlp.onnx");
    let reason = refused(&*model, vec![named("x", secret_f32(vec![2, 15]))], None);
    assert!(reason.contains("shape [2, 15]"), "{reason}");
    assert!(reason.contains("x: FP32[-1, 16]"), "{reason}");
}

#[test]
fn unknown_output_name_is_refused_listing_the_real_ones() {
    let model = load("add.onnx");
    let inputs = vec![
        named("a", secret_f32(vec![1, 2])),
        named("b", secret_f32(vec![1, 2])),
    ];
    let reason = refused(&*model, inputs, Some(&["total".to_owned()]));
    assert!(
        reason.contains("unknown output \"total\" (model outputs: \"sum\")"),
        "{reason}"
    );
    add_still_serves(&*model);
}

#[test]
fn incompatible_dynamic_shapes_fail_at_run_time_and_the_model_keeps_serving() {
    let model = load("add.onnx");
    let inputs = vec![
        named("a", secret_f32(vec![2, 3])),
        named("b", secret_f32(vec![2, 4])),
    ];
    match model.run(inputs, None) {
        Err(EngineError::Run(message)) => assert!(!message.contains("4242"), "{message}"),
        other => panic!("expected a Run error, got {other:?}"),
    }
    add_still_serves(&*model);
}
