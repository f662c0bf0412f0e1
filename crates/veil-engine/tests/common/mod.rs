//! Shared by the integration tests: the ONNX Runtime library, the test models
//! written by `scripts/make_test_models.py`, and error helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use veil_engine::{
    Engine, EngineError, LoadedModel, OrtConfig, OrtEngine, find_onnxruntime_library,
};

/// The ONNX Runtime library in the repository's `.venv` (or `$ORT_DYLIB_PATH`).
pub fn library() -> PathBuf {
    find_onnxruntime_library(&[PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
        .unwrap_or_else(|e| panic!("{e}"))
}

/// An engine with `sessions` sessions per model and one intra-op thread.
pub fn engine_with_sessions(sessions: usize) -> OrtEngine {
    let config = OrtConfig::new(library())
        .with_intra_op_threads(1)
        .with_sessions_per_model(sessions);
    OrtEngine::new(config).unwrap_or_else(|e| panic!("{e}"))
}

/// An engine with one session per model.
pub fn engine() -> OrtEngine {
    engine_with_sessions(1)
}

/// `tests/models/` at the repository root.
pub fn models_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/models")
}

/// The bytes of a test model (or its expected-output file); fails, never
/// skips, when the generated files are missing.
pub fn model_file(name: &str) -> Vec<u8> {
    let path = models_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "test model {} is missing ({e}): run `.venv/bin/python scripts/make_test_models.py` \
             at the repository root to generate tests/models/",
            path.display()
        )
    })
}

/// A test model loaded into `engine`.
pub fn load_with(engine: &OrtEngine, name: &str) -> Arc<dyn LoadedModel> {
    engine
        .load(&model_file(name))
        .unwrap_or_else(|e| panic!("loading {name}: {e}"))
}

/// A test model loaded into a one-session engine.
pub fn load(name: &str) -> Arc<dyn LoadedModel> {
    load_with(&engine(), name)
}

/// The reason of an [`EngineError::InvalidInput`]; panics on any other result.
pub fn invalid_input_reason<T: std::fmt::Debug>(result: Result<T, EngineError>) -> String {
    match result {
        Err(EngineError::InvalidInput { reason, .. }) => reason,
        other => panic!("expected InvalidInput, got {other:?}"),
    }
}
