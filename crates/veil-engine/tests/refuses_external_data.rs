//! An uploaded model must not read the server's files: ONNX "external data"
//! initializers are refused. (ONNX Runtime resolves them against the working
//! directory for models loaded from bytes, so a model could otherwise copy,
//! say, a key file in that directory into its outputs.)
//!
//! Its own test binary: it changes the process's working directory.
#![allow(clippy::unwrap_used)]

mod common;

use common::{engine, model_file};
use veil_engine::{Engine, EngineError};

#[test]
fn a_model_reading_a_file_from_the_working_directory_is_refused() {
    let model = model_file("external_data.onnx");
    let workdir = tempfile::tempdir().unwrap();
    std::fs::write(
        workdir.path().join("veil_external_data_probe.bin"),
        b"server-only-data",
    )
    .unwrap();
    std::env::set_current_dir(workdir.path()).unwrap();
    match engine().load(&model) {
        Err(EngineError::InvalidModel(reason)) => {
            assert!(reason.contains("without external data"), "{reason}");
        }
        Err(other) => panic!("expected InvalidModel, got {other}"),
        Ok(_) => panic!("a model read veil_external_data_probe.bin from the working directory"),
    }
}
