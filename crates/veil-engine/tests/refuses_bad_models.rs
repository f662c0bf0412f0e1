//! Bytes that are not a servable model are refused at load with a reason.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns count as non-test code

mod common;

use common::{engine, model_file};
use veil_engine::{Engine, EngineError};

fn invalid_model_reason(bytes: &[u8]) -> String {
    match engine().load(bytes) {
        Err(EngineError::InvalidModel(reason)) => reason,
        Err(other) => panic!("expected InvalidModel, got {other}"),
        Ok(_) => panic!("expected InvalidModel, the model loaded"),
    }
}

#[test]
fn garbage_bytes_are_an_invalid_model() {
    let reason = invalid_model_reason(b"this is not an ONNX model, just some bytes \x00\xff\x13");
    assert!(!reason.is_empty());
}

#[test]
fn empty_bytes_are_an_invalid_model() {
    invalid_model_reason(b"");
}

#[test]
fn a_truncated_model_is_an_invalid_model() {
    let mlp = model_file("mlp.onnx");
    invalid_model_reason(&mlp[..mlp.len() / 2]);
}

#[test]
fn string_tensors_are_refused_naming_the_tensor_and_type() {
    let reason = invalid_model_reason(&model_file("strings.onnx"));
    assert!(reason.contains("input \"text\""), "{reason}");
    assert!(
        reason.contains("string tensors are not supported"),
        "{reason}"
    );
}

#[test]
fn sequence_outputs_are_refused_with_the_zipmap_hint() {
    let reason = invalid_model_reason(&model_file("sequence_output.onnx"));
    assert!(reason.contains("output \"seq\""), "{reason}");
    assert!(reason.contains("zipmap=False"), "{reason}");
}
