//! Latency and throughput of the Rust client, for `bench/bench.py`.
//!
//! ```text
//! cargo run --release -p veil-client --example bench_client -- \
//!     URL MODEL ITERATIONS CONCURRENCY NAME:DTYPE:D0xD1x… [NAME:DTYPE:SHAPE …]
//! ```
//!
//! Connects once (allowing simulation: this is a benchmark, not a deployment),
//! runs one warm-up request, then ITERATIONS requests spread over CONCURRENCY
//! tasks sharing one client, and prints one JSON line: `connect_us`,
//! `latencies_us` (per request) and `wall_us` (all requests).
#![allow(clippy::expect_used)] // a benchmark's argument errors may panic

use std::sync::Arc;
use std::time::Instant;

use veil_attest::Policy;
use veil_client::{Client, ConnectOptions};
use veil_protocol::oip::InferRequest;

#[path = "../../../bench/input_spec.rs"]
mod input_spec;
use input_spec::input;

// As the `veil` binary does: glibc's allocator returns large freed buffers to
// the kernel and faults them in again on the next request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        args.len() >= 5,
        "usage: URL MODEL ITERATIONS CONCURRENCY NAME:DTYPE:SHAPE..."
    );
    let (url, model) = (&args[0], args[1].clone());
    let iterations: usize = args[2].parse().expect("ITERATIONS");
    let concurrency: usize = args[3].parse().expect("CONCURRENCY");
    let request = Arc::new(InferRequest::new(
        args[4..].iter().map(|s| input(s)).collect(),
    ));

    let start = Instant::now();
    let options = ConnectOptions::new(Policy::insecure_simulation_any_measurement());
    let client = Arc::new(Client::connect(url, options).await.expect("connect"));
    let connect_us = start.elapsed().as_micros();
    client
        .infer(&model, &request)
        .await
        .expect("warm-up inference");

    let wall = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (client, request, model) = (client.clone(), request.clone(), model.clone());
        let count = iterations / concurrency + usize::from(worker < iterations % concurrency);
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(count);
            for _ in 0..count {
                let t = Instant::now();
                client.infer(&model, &request).await.expect("inference");
                latencies.push(t.elapsed().as_micros());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.expect("worker"));
    }
    let wall_us = wall.elapsed().as_micros();
    println!(
        "{}",
        serde_json::json!({ "connect_us": connect_us, "latencies_us": latencies, "wall_us": wall_us })
    );
}
