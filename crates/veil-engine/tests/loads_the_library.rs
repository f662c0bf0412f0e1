//! Finding and loading the ONNX Runtime library: clear errors that say how to
//! fix a missing library, no panic on a bad one, one library shared by every
//! engine in the process.
#![allow(clippy::unwrap_used)] // test helpers outside #[test] fns count as non-test code

mod common;

use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::Command;

use common::{library, load_with};
use veil_engine::{
    Engine, EngineError, OrtConfig, OrtEngine, Tensor, find_onnxruntime_library,
    find_onnxruntime_library_with,
};

const FIX: &str = "run scripts/setup.sh (installs onnxruntime==1.32.0 into .venv) or set \
                   ORT_DYLIB_PATH=/path/to/libonnxruntime.so.1.32.0";

#[test]
fn bogus_ort_dylib_path_is_library_not_found_naming_it_and_the_fix() {
    let bogus = OsStr::new("/nonexistent/libonnxruntime.so.1.32.0");
    let err =
        find_onnxruntime_library_with(Some(bogus), &[PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
            .unwrap_err();
    assert!(
        matches!(&err, EngineError::LibraryNotFound { searched } if searched == &[PathBuf::from(bogus)])
    );
    let message = err.to_string();
    assert!(
        message.contains("/nonexistent/libonnxruntime.so.1.32.0"),
        "{message}"
    );
    assert!(message.contains(FIX), "{message}");
}

/// Child half of the next test: runs only when that test sets the marker.
#[test]
fn probe_reads_ort_dylib_path_from_the_environment() {
    if std::env::var_os("VEIL_ENGINE_ENV_PROBE").is_none() {
        return;
    }
    let err = find_onnxruntime_library(&[PathBuf::from(env!("CARGO_MANIFEST_DIR"))]).unwrap_err();
    assert!(err.to_string().contains("/bogus/from/env.so"), "{err}");
}

#[test]
fn find_reads_a_bogus_ort_dylib_path_from_the_environment() {
    // Environment variables are process-global: set it in a child process.
    let child = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "probe_reads_ort_dylib_path_from_the_environment"])
        .env("VEIL_ENGINE_ENV_PROBE", "1")
        .env("ORT_DYLIB_PATH", "/bogus/from/env.so")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "probe failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
}

#[test]
fn engine_on_a_missing_file_is_library_not_found() {
    let err = OrtEngine::new(OrtConfig::new("/nonexistent/libonnxruntime.so.1.32.0")).unwrap_err();
    assert!(matches!(err, EngineError::LibraryNotFound { .. }), "{err}");
    assert!(err.to_string().contains(FIX));
}

#[test]
fn engine_on_a_file_that_is_not_a_library_is_library_load_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("libonnxruntime.so.1.32.0");
    std::fs::write(&fake, b"not an ELF file").unwrap();
    let err = OrtEngine::new(OrtConfig::new(&fake)).unwrap_err();
    assert!(matches!(err, EngineError::LibraryLoad(_)), "{err}");
}

#[test]
fn zero_sessions_per_model_is_invalid_config() {
    let err = OrtEngine::new(OrtConfig::new(library()).with_sessions_per_model(0)).unwrap_err();
    assert!(matches!(err, EngineError::InvalidConfig(_)), "{err}");
}

#[test]
fn several_engines_share_the_library_and_each_runs_models() {
    let engines: Vec<OrtEngine> = [1, 2, 3]
        .into_iter()
        .map(|sessions| {
            OrtEngine::new(OrtConfig::new(library()).with_sessions_per_model(sessions)).unwrap()
        })
        .collect();
    for engine in &engines {
        assert_eq!(engine.name(), "onnxruntime");
        let model = load_with(engine, "add.onnx");
        let one = Tensor::from_values(vec![1, 1], vec![1.0f32]).unwrap();
        let outputs = model
            .run(vec![("a".into(), one.clone()), ("b".into(), one)], None)
            .unwrap();
        assert_eq!(outputs[0].1.to_values::<f32>().unwrap(), vec![2.0]);
    }
}
