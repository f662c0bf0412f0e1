//! `NAME:DTYPE:D0xD1x…` input specifications for the benchmark examples
//! (`veil-client/examples/bench_client.rs`, `veil-engine/examples/engine_latency.rs`),
//! included by both with `#[path]`: the same values reach in-process ORT
//! (bench/bench.py builds them the same way), the engine and the server.

use veil_tensor::{DataType, Tensor};

/// The tensor a spec names: floats 0.5, integers `i % 97` (valid token ids),
/// booleans alternating.
pub fn input(spec: &str) -> (String, Tensor) {
    let mut parts = spec.split(':');
    let name = parts.next().expect("NAME").to_owned();
    let dtype = parts.next().expect("DTYPE");
    let dtype = DataType::ALL
        .into_iter()
        .find(|d| d.numpy_name() == dtype)
        .expect("a numpy dtype name, e.g. float32");
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
                DataType::F16 => veil_tensor::f16::from_f32(0.5).to_le_bytes().to_vec(),
                DataType::F32 => 0.5f32.to_le_bytes().to_vec(),
                DataType::F64 => 0.5f64.to_le_bytes().to_vec(),
                _ => {
                    let mut b = vec![0u8; dtype.size()];
                    b[0] = (i % 97) as u8 % if dtype == DataType::Bool { 2 } else { 97 };
                    b
                }
            }
        })
        .collect();
    (
        name,
        Tensor::from_bytes(dtype, shape, bytes).expect("shape and dtype agree"),
    )
}
