//! Does a pool of sessions per model help concurrent requests?
//!
//! Four client threads run `tests/models/mlp.onnx` as fast as they can for a
//! fixed time against one loaded model with 1, 2 and 4 sessions (one intra-op
//! thread each unless `VEIL_BENCH_INTRA_THREADS` says otherwise), at batch 1, 256 and 4096. Prints throughput and latency.
//!
//! ```text
//! cargo bench -p veil-engine --bench session_pool
//! VEIL_BENCH_SECONDS=5 VEIL_BENCH_THREADS=8 VEIL_BENCH_INTRA_THREADS=2 cargo bench -p veil-engine --bench session_pool
//! ```
//!
//! With `VEIL_BENCH_MODEL=/path/model.onnx` (input `x: FP32[batch, 16]`) it
//! also reports the resident memory one loaded copy of that model costs with
//! 1, 2 and 4 sessions.

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
    let intra = usize::try_from(env_number("VEIL_BENCH_INTRA_THREADS", 1)?)?;
    let config = OrtConfig::new(library)
        .with_intra_op_threads(intra)
        .with_sessions_per_model(sessions);
    Ok(OrtEngine::new(config)?)
}

fn mlp_input(batch: usize, seed: usize) -> Result<Vec<(String, Tensor)>, Box<dyn Error>> {
    let values = (0..batch * 16)
        .map(|i| ((i * 31 + seed * 17) % 97) as f32 / 97.0 - 0.5)
        .collect();
    Ok(vec![(
        "x".to_owned(),
        Tensor::from_values(vec![batch, 16], values)?,
    )])
}

struct Measurement {
    runs: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn hammer(
    model: &dyn LoadedModel,
    threads: usize,
    batch: usize,
    duration: Duration,
) -> Result<Measurement, Box<dyn Error + Send + Sync>> {
    let input = mlp_input(batch, 0).map_err(|e| e.to_string())?;
    for _ in 0..200 {
        model.run(input.clone(), None)?;
    }
    let start = Instant::now();
    let per_thread = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let input = mlp_input(batch, t).map_err(|e| e.to_string());
                scope.spawn(
                    move || -> Result<Vec<Duration>, Box<dyn Error + Send + Sync>> {
                        let input = input?;
                        let mut latencies = Vec::new();
                        while start.elapsed() < duration {
                            let begin = Instant::now();
                            model.run(input.clone(), None)?;
                            latencies.push(begin.elapsed());
                        }
                        Ok(latencies)
                    },
                )
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
    Ok(Measurement {
        runs: latencies.len(),
        elapsed,
        latencies,
    })
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

/// Loads the model with `sessions` sessions and prints what that cost in
/// resident memory. Runs in a child process per pool size, so one
/// measurement's freed memory cannot hide the next one's.
fn memory_of_one_pool(
    library: &Path,
    model_path: &Path,
    sessions: usize,
) -> Result<(), Box<dyn Error>> {
    let bytes = std::fs::read(model_path)?;
    let engine = engine(library, sessions)?;
    let before = rss_bytes().unwrap_or(0);
    let model = engine.load(&bytes)?;
    let loaded = rss_bytes().unwrap_or(0);
    // Each session allocates its activation arena on its first run: run them all.
    let input = mlp_input(1, 0)?;
    std::thread::scope(|scope| {
        for _ in 0..sessions {
            scope.spawn(|| {
                for _ in 0..50 {
                    model.run(input.clone(), None).ok();
                }
            });
        }
    });
    let after = rss_bytes().unwrap_or(0);
    let mib = |b: u64| b.saturating_sub(before) as f64 / f64::from(1 << 20);
    println!(
        "  sessions {sessions}: +{:.1} MiB after load, +{:.1} MiB after runs",
        mib(loaded),
        mib(after)
    );
    Ok(())
}

fn memory_per_pool_size(model_path: &Path) -> Result<(), Box<dyn Error>> {
    println!(
        "\nresident memory for one loaded copy of {} ({} bytes of ONNX):",
        model_path.display(),
        std::fs::metadata(model_path)?.len()
    );
    for sessions in [1, 2, 4] {
        let status = std::process::Command::new(std::env::current_exe()?)
            .env("VEIL_BENCH_MEMORY_SESSIONS", sessions.to_string())
            .status()?;
        if !status.success() {
            return Err(format!("memory probe for {sessions} sessions failed").into());
        }
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
    if let Some(path) = std::env::var_os("VEIL_BENCH_MODEL")
        && let Ok(sessions) = std::env::var("VEIL_BENCH_MEMORY_SESSIONS")
    {
        return memory_of_one_pool(&library, Path::new(&path), sessions.parse()?);
    }
    let seconds = env_number("VEIL_BENCH_SECONDS", 3)?;
    let threads = usize::try_from(env_number("VEIL_BENCH_THREADS", 4)?)?;
    let intra = env_number("VEIL_BENCH_INTRA_THREADS", 1)?;
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!(
        "mlp.onnx, {threads} client threads, {cores} cores, intra-op threads {intra}, {seconds} s each"
    );
    println!("batch  sessions      runs/s   rows/s        p50        p99");
    for batch in [1, 256, 4096] {
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
        memory_per_pool_size(Path::new(&path))?;
    }
    Ok(())
}
