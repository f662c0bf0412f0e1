//! `veil-load`: drives a live Veil server with N clients for T seconds and
//! reports what held.
//!
//! Each client verifies the server's attestation and keeps its own HTTP
//! connection, then sends encrypted inference requests back to back: zeros
//! shaped by the model's own signature (dynamic dimensions 1), and every
//! `--bad-every`th request one of three bad ones (an unknown model, a wrong
//! shape, a wrong data type) that the server must refuse with its typed
//! error. Meanwhile the server's resident memory is sampled from `/metrics`.
//!
//! The report gives throughput, p50/p99/max latency of the good requests,
//! the refusals by code and the errors by kind. The exit code is 1 if any
//! request failed unexpectedly (a good request refused, a bad one answered
//! with the wrong code, a transport error), 0 otherwise.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use tokio::sync::watch;
use veil_attest::Policy;
use veil_client::{Client, ClientError, ConnectOptions};
use veil_protocol::ErrorCode;
use veil_protocol::oip::InferRequest;
use veil_tensor::{DataType, Dimension, Tensor, TensorSpec};

/// Drive a live Veil server with N verified clients for T seconds.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// The server's outer URL.
    #[arg(long, default_value = "http://127.0.0.1:8443")]
    url: String,
    /// The model to run (already uploaded).
    #[arg(long, default_value = "mlp")]
    model: String,
    /// Concurrent clients, each with its own connection.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// How long to send requests, in seconds.
    #[arg(long, default_value_t = 300)]
    duration: u64,
    /// Every Nth request of a client is a bad one (0: none).
    #[arg(long, default_value_t = 50)]
    bad_every: u64,
    /// Accept simulated evidence (it proves nothing; for test servers).
    #[arg(long)]
    allow_simulation: bool,
    /// The policy file the server must satisfy (instead of --allow-simulation).
    #[arg(long, conflicts_with = "allow_simulation")]
    policy: Option<std::path::PathBuf>,
    /// How often to sample the server's memory from /metrics, in seconds.
    #[arg(long, default_value_t = 1)]
    sample_every: u64,
}

/// The bad requests a client mixes in, and the code each must be refused with.
#[derive(Debug, Clone, Copy)]
enum Bad {
    UnknownModel,
    WrongShape,
    WrongDataType,
}

impl Bad {
    const ALL: [Bad; 3] = [Bad::UnknownModel, Bad::WrongShape, Bad::WrongDataType];

    fn expected(self) -> ErrorCode {
        match self {
            Bad::UnknownModel => ErrorCode::ModelNotFound,
            Bad::WrongShape | Bad::WrongDataType => ErrorCode::InvalidInput,
        }
    }
}

/// What one client saw.
#[derive(Debug, Default)]
struct Tally {
    /// Latency of each good request that succeeded, in microseconds.
    latencies_us: Vec<u64>,
    /// Bad requests refused with the expected code, by code.
    refused: BTreeMap<String, u64>,
    /// Unexpected outcomes, by kind.
    errors: BTreeMap<String, u64>,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        self.latencies_us.extend(other.latencies_us);
        for (k, v) in other.refused {
            *self.refused.entry(k).or_default() += v;
        }
        for (k, v) in other.errors {
            *self.errors.entry(k).or_default() += v;
        }
    }

    fn error(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }
}

/// A short, data-free name for an error: its server code, or its kind.
fn error_kind(e: &ClientError) -> String {
    match e {
        ClientError::Server { code, status, .. } => format!("{code} (HTTP {status})"),
        ClientError::Attestation(_) => "attestation".into(),
        ClientError::Connection(_) => "connection".into(),
        ClientError::Protocol(_) => "protocol".into(),
        ClientError::Io(_) => "io".into(),
        _ => "other".into(),
    }
}

/// Zeros shaped by `spec`, dynamic dimensions taken as 1, optionally one
/// dimension longer (a wrong shape).
fn zeros(spec: &TensorSpec, dtype: DataType, grow_last: bool) -> anyhow::Result<Tensor> {
    let mut shape: Vec<usize> = spec
        .shape
        .iter()
        .map(|d| match d {
            Dimension::Fixed(n) => usize::try_from(*n).unwrap_or(usize::MAX),
            Dimension::Dynamic => 1,
        })
        .collect();
    if grow_last && let Some(last) = shape.last_mut() {
        *last += 1;
    }
    let bytes = shape
        .iter()
        .try_fold(dtype.size(), |n, &d| n.checked_mul(d))
        .context("the model's input is too large to send")?;
    Ok(Tensor::from_bytes(dtype, shape, vec![0; bytes])?)
}

/// The requests a client sends: one good, and the bad ones.
struct Requests {
    good: InferRequest,
    wrong_shape: InferRequest,
    wrong_dtype: InferRequest,
}

impl Requests {
    fn for_inputs(inputs: &[TensorSpec]) -> anyhow::Result<Self> {
        let build = |shape_off: bool, dtype_off: bool| -> anyhow::Result<InferRequest> {
            let tensors = inputs
                .iter()
                .map(|spec| {
                    let dtype = match (dtype_off, spec.datatype) {
                        (false, d) => d,
                        (true, DataType::F64) => DataType::F32,
                        (true, _) => DataType::F64,
                    };
                    Ok((spec.name.clone(), zeros(spec, dtype, shape_off)?))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            Ok(InferRequest::new(tensors))
        };
        Ok(Requests {
            good: build(false, false)?,
            wrong_shape: build(true, false)?,
            wrong_dtype: build(false, true)?,
        })
    }
}

async fn run_client(
    client: Client,
    model: Arc<str>,
    requests: Arc<Requests>,
    bad_every: u64,
    stop: watch::Receiver<bool>,
) -> Tally {
    let mut tally = Tally::default();
    let mut sent: u64 = 0;
    while !*stop.borrow() {
        sent += 1;
        if bad_every > 0 && sent.is_multiple_of(bad_every) {
            let bad = Bad::ALL[((sent / bad_every) % 3) as usize];
            let result = match bad {
                Bad::UnknownModel => client.infer("no-such-model", &requests.good).await,
                Bad::WrongShape => client.infer(&model, &requests.wrong_shape).await,
                Bad::WrongDataType => client.infer(&model, &requests.wrong_dtype).await,
            };
            match result {
                Err(e) if e.code() == Some(bad.expected()) => {
                    *tally.refused.entry(bad.expected().to_string()).or_default() += 1;
                }
                Err(e) => tally.error(format!("{bad:?}: {}", error_kind(&e))),
                Ok(_) => tally.error(format!("{bad:?}: accepted")),
            }
            continue;
        }
        let started = Instant::now();
        match client.infer(&model, &requests.good).await {
            Ok(_) => tally
                .latencies_us
                .push(u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)),
            Err(e) => tally.error(format!("inference: {}", error_kind(&e))),
        }
    }
    tally
}

/// The server's resident memory from its `/metrics` (the metric whose name
/// ends in `process_resident_memory_bytes`).
async fn resident_memory(http: &reqwest::Client, url: &str) -> Option<u64> {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .ok()?
        .text()
        .await
        .ok()?;
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| {
            let (name, value) = l.split_once(' ')?;
            name.ends_with("process_resident_memory_bytes")
                .then(|| value.trim().parse::<f64>().ok())
                .flatten()
        })
        .map(|v| v as u64)
}

/// Samples memory until `stop`; returns every sample.
async fn sample_memory(url: String, every: Duration, mut stop: watch::Receiver<bool>) -> Vec<u64> {
    let http = reqwest::Client::new();
    let mut samples = Vec::new();
    loop {
        if let Some(rss) = resident_memory(&http, &url).await {
            samples.push(rss);
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = stop.changed() => break,
        }
    }
    if let Some(rss) = resident_memory(&http, &url).await {
        samples.push(rss);
    }
    samples
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let policy = match (&args.policy, args.allow_simulation) {
        (Some(path), _) => Policy::from_toml_str(
            &std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?,
        )?,
        (None, true) => Policy::insecure_simulation_any_measurement(),
        (None, false) => bail!("give --policy FILE, or --allow-simulation for a test server"),
    };
    if args.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let url = args.url.trim_end_matches('/').to_owned();
    let options = ConnectOptions::new(policy);

    // Every client verifies the server itself, on its own connection.
    let mut clients = Vec::with_capacity(args.clients);
    for _ in 0..args.clients {
        clients.push(
            Client::connect(&url, options.clone())
                .await
                .context("connecting a client")?,
        );
    }
    let metadata = clients[0]
        .model_metadata(&args.model)
        .await
        .with_context(|| format!("model {:?} (upload it first)", args.model))?;
    let requests = Arc::new(Requests::for_inputs(&metadata.inputs)?);
    let model: Arc<str> = args.model.as_str().into();

    let (stop_tx, stop_rx) = watch::channel(false);
    let sampler = tokio::spawn(sample_memory(
        url.clone(),
        Duration::from_secs(args.sample_every.max(1)),
        stop_rx.clone(),
    ));
    let started = Instant::now();
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|c| {
            tokio::spawn(run_client(
                c,
                model.clone(),
                requests.clone(),
                args.bad_every,
                stop_rx.clone(),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(args.duration)).await;
    stop_tx.send(true).context("stopping the clients")?;
    let mut tally = Tally::default();
    for t in tasks {
        match t.await {
            Ok(client_tally) => tally.merge(client_tally),
            Err(_) => tally.error("client task panicked".into()),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let rss = sampler.await.unwrap_or_default();

    let mut lat = tally.latencies_us;
    lat.sort_unstable();
    let ok = lat.len() as u64;
    let refused: u64 = tally.refused.values().sum();
    let unexpected: u64 = tally.errors.values().sum();
    println!("clients:           {}", args.clients);
    println!("duration:          {elapsed:.1} s");
    println!("requests:          {}", ok + refused + unexpected);
    println!(
        "inferences ok:     {ok} ({:.1}/s)",
        ok as f64 / elapsed.max(f64::EPSILON)
    );
    println!(
        "latency ms:        p50 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&lat, 50.0) as f64 / 1000.0,
        percentile(&lat, 99.0) as f64 / 1000.0,
        lat.last().copied().unwrap_or(0) as f64 / 1000.0
    );
    println!("bad requests refused as expected: {refused}");
    for (code, n) in &tally.refused {
        println!("  {code}: {n}");
    }
    println!("unexpected errors: {unexpected}");
    for (kind, n) in &tally.errors {
        println!("  {kind}: {n}");
    }
    match (rss.first(), rss.iter().max(), rss.last()) {
        (Some(first), Some(max), Some(last)) => println!(
            "server RSS MiB:    start {:.1}  max {:.1}  end {:.1}  ({} samples)",
            mib(*first),
            mib(*max),
            mib(*last),
            rss.len()
        ),
        _ => println!("server RSS:        not available from {url}/metrics"),
    }
    Ok(unexpected == 0)
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("veil-load: {e:#}");
            ExitCode::from(2)
        }
    }
}
