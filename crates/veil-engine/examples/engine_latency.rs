//! Median latency of the engine alone (no channel, no HTTP), for
//! `bench/bench.py`, which compares it with Python onnxruntime and with the
//! full Veil path to show where time goes.
//!
//! ```text
//! cargo run --release -p veil-engine --example engine_latency -- \
//!     MODEL.onnx INTRA_OP_THREADS ITERATIONS NAME:DTYPE:D0xD1x… [...]
//! ```
//! Prints one JSON line: `{"latencies_us": [...]}`.
#![allow(clippy::expect_used)] // a benchmark's argument errors may panic

use std::path::PathBuf;
use std::time::Instant;

use veil_engine::{Engine, OrtConfig, OrtEngine, find_onnxruntime_library};
use veil_tensor::Tensor;

#[path = "../../../bench/input_spec.rs"]
mod input_spec;
use input_spec::input;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model = std::fs::read(&args[0]).expect("model file");
    let threads: usize = args[1].parse().expect("threads");
    let iterations: usize = args[2].parse().expect("iterations");
    let inputs: Vec<(String, Tensor)> = args[3..].iter().map(|s| input(s)).collect();
    let library = find_onnxruntime_library(&[PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
        .expect("ONNX Runtime library");
    let mut config = OrtConfig::new(library);
    config.intra_op_threads = threads;
    config.sessions_per_model = 1;
    let engine = OrtEngine::new(config).expect("engine");
    let loaded = engine.load(&model).expect("model loads");
    loaded.run(inputs.clone(), None).expect("warm-up");
    let mut latencies = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let batch = inputs.clone();
        let t = Instant::now();
        loaded.run(batch, None).expect("run");
        latencies.push(t.elapsed().as_micros());
    }
    println!("{{\"latencies_us\": {latencies:?}}}");
}
