//! Does a pool of sessions per model help concurrent requests?
//!
//! Four client threads run `tests/models/mlp.onnx` as fast as they can for a
//! fixed time against one loaded model with 1, 2 and 4 sessions (one intra-op
//! thread each), at batch 1 and batch 256. Prints throughput and latency.
//!
//! ```text
//! cargo bench -p veil-engine --bench session_pool
//! VEIL_BENCH_SECONDS=5 VEIL_BENCH_THREADS=8 cargo bench -p veil-engine --bench session_pool
//! ```
//!
//! With `VEIL_BENCH_MODEL=/path/model.onnx` it also reports the resident
//! memory one loaded copy of that model costs at 1 and 4 sessions.

use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use veil_engine::{Engine, LoadedModel, OrtConfig, OrtEngine, Tensor, find_onnxruntime_library};

fn env_number(name: &str, default: u64) -> Result<u64, Box<dyn Error>> {
    match std::env::var(name) {
        Ok(v) => Ok(v.parse()?),
        Err(_) => Ok(default),
    }
}

fn engine(library: &Path, sessions: usize) -> Result<OrtEngine, Box<dyn Error>> {
    let config = OrtConfig::new(library)
        .with_intra_op_threads(1)
        .with_sessions_per_model(sessions);
    Ok(OrtEngine::new(config)?)
}

fn mlp_input(batch: usize, seed: usize) -> Result<Vec<(String, Tensor)>, Box<dyn Error>> {
    let values = (0..batch * 16)
        .map(|i| ((i * 31 + seed * 17) % 97) as f32 / 97.0 - 0.5)
        .collect();
    Ok(vec![("x".to_owned(), Tensor::from_values(vec![batch, 16], values)?)])
}

struct Measurement {
    runs: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn hammer(model: &dyn LoadedModel, threads: usize, batch: usize, duration: Duration) -> Result<Measurement, Box<dyn Error + Send + Sync>> {
    let input = mlp_input(batch, 0).map_err(|e| e.to_string())?;
    for _ in 0..200 {
        model.run(input.clone(), None)?;
    }
    let start = Instant::now();
    let per_thread = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let input = mlp_input(batch, t).map_err(|e| e.to_string());
                scope.spawn(move || -> Result<Vec<Duration>, Box<dyn Error + Send + Sync>> {
                    let input = input?;
                    let mut latencies = Vec::new();
                    while start.elapsed() < duration {
                        let begin = Instant::now();
                        model.run(input.clone(), None)?;
                        latencies.push(begin.elapsed());
                    }
                    Ok(latencies)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().map_err(|_| "bench thread panicked")?)
            .collect::<Result<Vec<_>, Box<dyn Error + Send + Sync>>>()
    })?;
    let elapsed = start.elapsed();
    let mut latencies: Vec<Duration> = per_thread.into_iter().flatten().collect();
    latencies.sort();
    Ok(Measurement { runs: latencies.len(), elapsed, latencies })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or_default()
}

/// Resident set size of this process in bytes (Linux).
fn rss_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

fn memory_per_pool(library: &Path, model_path: &Path) -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(model_path)?;
    println!("\nmemory for {} ({} bytes of ONNX):", model_path.display(), bytes.len());
    for sessions in [1, 4] {
        let engine = engine(library, sessions)?;
        let before = rss_bytes().unwrap_or(0);
        let model = engine.load(&bytes)?;
        model.run(mlp_input(1, 0)?, None).ok(); // first run allocates arenas, if the input fits
        let after = rss_bytes().unwrap_or(0);
        println!(
            "  sessions {sessions}: +{:.1} MiB resident",
            (after.saturating_sub(before)) as f64 / (1 << 20) as f64
        );
        drop(model);
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let library = find_onnxruntime_library(std::slice::from_ref(&root))?;
    let model_path = root.join("../../tests/models/mlp.onnx");
    let bytes = std::fs::read(&model_path).map_err(|e| {
        format!(
            "{}: {e}; run `.venv/bin/python scripts/make_test_models.py`",
            model_path.display()
        )
    })?;
    let seconds = env_number("VEIL_BENCH_SECONDS", 3)?;
    let threads = usize::try_from(env_number("VEIL_BENCH_THREADS", 4)?)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("mlp.onnx, {threads} client threads, {cores} cores, intra-op threads 1, {seconds} s each");
    println!("batch  sessions      runs/s   rows/s        p50        p99");
    for batch in [1, 256] {
        for sessions in [1, 2, 4] {
            let engine = engine(&library, sessions)?;
            let model = engine.load(&bytes)?;
            let m = hammer(&*model, threads, batch, Duration::from_secs(seconds))
                .map_err(|e| e.to_string())?;
            let rate = m.runs as f64 / m.elapsed.as_secs_f64();
            println!(
                "{batch:>5}  {sessions:>8}  {rate:>10.0}  {:>7.0}  {:>9.1?}  {:>9.1?}",
                rate * batch as f64,
                percentile(&m.latencies, 0.5),
                percentile(&m.latencies, 0.99),
            );
        }
    }
    if let Some(path) = std::env::var_os("VEIL_BENCH_MODEL") {
        memory_per_pool(&library, Path::new(&path))?;
    }
    Ok(())
}
