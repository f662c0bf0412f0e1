//! A loaded model publishes the names, data types and shapes ONNX declares,
//! with symbolic and unnamed dimensions as dynamic (-1 on the wire).
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns count as non-test code

mod common;

use common::load;
use veil_engine::{DataType, Dimension, TensorSpec};

fn spec(name: &str, datatype: DataType, shape: &[i64]) -> TensorSpec {
    TensorSpec {
        name: name.to_owned(),
        datatype,
        shape: shape.iter().map(|&d| Dimension::from(d)).collect(),
    }
}

#[test]
fn add_reports_two_fully_dynamic_fp32_inputs() {
    let signature = load("add.onnx").signature().clone();
    assert_eq!(
        signature.inputs,
        vec![
            spec("a", DataType::F32, &[-1, -1]),
            spec("b", DataType::F32, &[-1, -1])
        ]
    );
    assert_eq!(
        signature.outputs,
        vec![spec("sum", DataType::F32, &[-1, -1])]
    );
    assert_eq!(
        signature.to_string(),
        "inputs (a: FP32[-1, -1], b: FP32[-1, -1]) -> outputs (sum: FP32[-1, -1])"
    );
}

#[test]
fn mlp_reports_a_symbolic_batch_dimension_as_dynamic() {
    let signature = load("mlp.onnx").signature().clone();
    assert_eq!(signature.inputs, vec![spec("x", DataType::F32, &[-1, 16])]);
    assert_eq!(signature.outputs, vec![spec("y", DataType::F32, &[-1, 4])]);
    assert_eq!(i64::from(signature.inputs[0].shape[0]), -1);
}

#[test]
fn identity_reports_every_dtype_in_model_order() {
    let signature = load("identity_all_dtypes.onnx").signature().clone();
    let expected = |prefix: &str| -> Vec<TensorSpec> {
        DataType::ALL
            .iter()
            .map(|&d| spec(&format!("{prefix}_{}", d.oip_name()), d, &[-1, -1]))
            .collect()
    };
    assert_eq!(signature.inputs, expected("in"));
    assert_eq!(signature.outputs, expected("out"));
}

#[test]
fn argmax_and_scalar_report_their_output_types_and_ranks() {
    let argmax = load("argmax.onnx").signature().clone();
    assert_eq!(
        argmax.inputs,
        vec![spec("scores", DataType::F32, &[-1, 10])]
    );
    assert_eq!(argmax.outputs, vec![spec("label", DataType::I64, &[-1])]);
    let scalar = load("scalar.onnx").signature().clone();
    assert_eq!(scalar.inputs, vec![spec("x", DataType::F64, &[])]);
    assert_eq!(scalar.outputs, vec![spec("square", DataType::F64, &[])]);
}
