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
use veil_tensor::{DataType, Tensor};

fn input(spec: &str) -> (String, Tensor) {
    let mut parts = spec.split(':');
    let name = parts.next().expect("NAME").to_owned();
    let dtype = parts.next().expect("DTYPE");
    let dtype = DataType::ALL
        .into_iter()
        .find(|d| d.numpy_name() == dtype)
        .expect("a numpy dtype name");
    let shape: Vec<usize> = parts
        .next()
        .expect("SHAPE")
        .split('x')
        .map(|d| d.parse().expect("a dimension"))
        .collect();
    let count: usize = shape.iter().product();
    let bytes = (0..count)
        .flat_map(|i| -> Vec<u8> {
            match dtype {
                DataType::F32 => 0.5f32.to_le_bytes().to_vec(),
                _ => {
                    let mut b = vec![0u8; dtype.size()];
                    b[0] = (i % 97) as u8;
                    b
                }
            }
        })
        .collect();
    (
        name,
        Tensor::from_bytes(dtype, shape, bytes).expect("shape"),
    )
}

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
