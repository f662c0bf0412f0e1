//! The ONNX upload path from the bytes the server stored to a loaded model:
//! `Engine::load`, which hands the bytes to ONNX Runtime (protobuf parsing,
//! graph checks, session creation) and then reads the model's signature,
//! refusing what Veil does not serve. Veil has no validation layer of its
//! own before ONNX Runtime; this target runs the real library (from
//! `.venv`, or `ORT_DYLIB_PATH`). ONNX Runtime is C++ built without
//! libFuzzer's instrumentation, so the fuzzer's coverage feedback covers
//! only the Rust side: inside ORT it mutates blind from the seed models.
#![no_main]

use std::path::PathBuf;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use veil_engine::{Engine, OrtConfig, OrtEngine};

static ENGINE: LazyLock<OrtEngine> = LazyLock::new(|| {
    let library =
        veil_engine::find_onnxruntime_library(&[PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
            .expect("libonnxruntime in .venv (run scripts/setup.sh) or ORT_DYLIB_PATH");
    OrtEngine::new(
        OrtConfig::new(library)
            .with_intra_op_threads(1)
            .with_sessions_per_model(1),
    )
    .expect("ONNX Runtime loads")
});

fuzz_target!(|data: &[u8]| {
    if let Ok(model) = ENGINE.load(data) {
        // A model that loads has a signature of served data types only.
        let _ = model.signature();
    }
});
