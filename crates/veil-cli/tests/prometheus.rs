//! A real Prometheus (Debian's `prometheus` package, installed by
//! `scripts/setup.sh`) scrapes a real `veil serve` every second; uploads,
//! inferences and bad requests go through the real client; then Prometheus's
//! HTTP API must show the counters and histograms moved as they did, and
//! `promtool check metrics` must accept the exposition.
//!
//! Without `prometheus` and `promtool` on the PATH this test fails (it does
//! not skip): setup installs them.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{connect, mlp_input, model_bytes, repo_root};
use serde_json::Value;
use veil_protocol::ErrorCode;
use veil_protocol::channel::REQUEST_MEDIA_TYPE;
use veil_protocol::oip::InferRequest;
use veil_tensor::Tensor;

/// Inferences that succeed.
const N: usize = 3;
/// `--max-request-bytes` of the server: small enough to exceed on purpose.
const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// A child process killed when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The full path of `tool` on the PATH, or a failure that says how to get it.
fn installed(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join(tool))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "`{tool}` is not installed: run scripts/setup.sh (it installs Debian's \
                 `prometheus` package, which provides `prometheus` and `promtool`)"
            )
        })
}

/// Two distinct ports free now (the kernel's choice, both held until both
/// are chosen); the children bind them right after.
fn free_ports() -> (u16, u16) {
    let a = TcpListener::bind("127.0.0.1:0").unwrap();
    let b = TcpListener::bind("127.0.0.1:0").unwrap();
    (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    )
}

/// Polls `url` until it answers 200, or fails after `within` naming `what`.
async fn wait_until_up(url: &str, what: &str, child: &mut Running, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            panic!("{what} exited with {status} before it answered");
        }
        if let Ok(r) = reqwest::get(url).await
            && r.status() == 200
        {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} did not answer {url} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn start_veil(data_dir: &Path, port: u16) -> Running {
    Running(
        Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["serve", "--platform", "simulated", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--intra-op-threads", "1", "--max-request-bytes"])
            .arg(MAX_REQUEST_BYTES.to_string())
            // The ONNX Runtime library is found under the repository's .venv.
            .current_dir(repo_root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn start_prometheus(dir: &Path, port: u16, target: u16) -> Running {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n\
             scrape_configs:\n  - job_name: veil\n    static_configs:\n      \
             - targets: ['127.0.0.1:{target}']\n"
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    Running(
        Command::new(installed("prometheus"))
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap(),
    )
}

/// The samples of an instant PromQL query: (labels, value).
async fn query(prometheus: &str, promql: &str) -> Vec<(Value, f64)> {
    let body = reqwest::Client::new()
        .get(format!("{prometheus}/api/v1/query"))
        .query(&[("query", promql)])
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["status"], "success", "{promql}: {body}");
    body["data"]["result"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let value: f64 = s["value"][1].as_str().unwrap().parse().unwrap();
            (s["metric"].clone(), value)
        })
        .collect()
}

/// The one value of a query that must select exactly one series.
async fn value(prometheus: &str, promql: &str) -> f64 {
    let samples = query(prometheus, promql).await;
    assert_eq!(samples.len(), 1, "{promql} selects {samples:?}");
    samples[0].1
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_prometheus_sees_the_counters_and_histograms_move() {
    let promtool = installed("promtool");
    let dir = tempfile::tempdir().unwrap();
    let (veil_port, prometheus_port) = free_ports();
    let veil_url = format!("http://127.0.0.1:{veil_port}");
    let prometheus_url = format!("http://127.0.0.1:{prometheus_port}");
    let data_dir = dir.path().join("veil-data");
    let mut veil = start_veil(&data_dir, veil_port);
    wait_until_up(
        &format!("{veil_url}/v1/health"),
        "veil serve",
        &mut veil,
        Duration::from_secs(60),
    )
    .await;
    let mut prometheus = start_prometheus(dir.path(), prometheus_port, veil_port);
    wait_until_up(
        &format!("{prometheus_url}/-/ready"),
        "prometheus",
        &mut prometheus,
        Duration::from_secs(60),
    )
    .await;

    // The workload, through the real client.
    let owner = std::fs::read_to_string(data_dir.join("owner-token")).unwrap();
    let client = connect(&veil_url, Some(owner.trim())).await;
    let model = model_bytes("mlp.onnx");
    client.upload_model("mlp", &model, |_, _| {}).await.unwrap();
    for _ in 0..N {
        client
            .infer("mlp", &InferRequest::new(vec![("x".into(), mlp_input(2))]))
            .await
            .unwrap();
    }
    let unknown = client
        .infer(
            "no-such-model",
            &InferRequest::new(vec![("x".into(), mlp_input(2))]),
        )
        .await
        .expect_err("unknown model");
    assert_eq!(unknown.code(), Some(ErrorCode::ModelNotFound));
    let narrow = Tensor::from_values(vec![2, 8], vec![0.5f32; 16]).unwrap();
    let invalid = client
        .infer("mlp", &InferRequest::new(vec![("x".into(), narrow)]))
        .await
        .expect_err("wrong width");
    assert_eq!(invalid.code(), Some(ErrorCode::InvalidInput));
    // Bad outer requests: too large, and a nonce that is not hex.
    let http = reqwest::Client::new();
    let too_large = http
        .post(format!("{veil_url}/v1/ohttp"))
        .header("content-type", REQUEST_MEDIA_TYPE)
        .body(vec![0u8; MAX_REQUEST_BYTES + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(too_large.status(), 413);
    let bad_nonce = http
        .get(format!("{veil_url}/v1/attestation?nonce=zz"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_nonce.status(), 400);
    let workload_done = now_unix();

    // Wait for a scrape that started after the workload: from then on every
    // value below is final.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let scraped = query(&prometheus_url, "timestamp(up{job=\"veil\"})").await;
        if scraped.first().is_some_and(|(_, t)| *t > workload_done) {
            break;
        }
        if let Some(status) = prometheus.0.try_wait().unwrap() {
            panic!("prometheus exited with {status}");
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "prometheus did not scrape veil after the workload: {:?}",
            std::fs::read_to_string(dir.path().join("prometheus.log"))
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let p = prometheus_url.as_str();
    assert_eq!(value(p, "up{job=\"veil\"}").await, 1.0);
    let requests = |route: &str, outcome: &str| {
        format!("veil_requests_total{{job=\"veil\",route=\"{route}\",outcome=\"{outcome}\"}}")
    };
    assert_eq!(value(p, &requests("upload", "ok")).await, 1.0);
    assert_eq!(value(p, &requests("infer", "ok")).await, N as f64);
    assert_eq!(value(p, &requests("infer", "model_not_found")).await, 1.0);
    assert_eq!(value(p, &requests("infer", "invalid_input")).await, 1.0);
    assert_eq!(
        value(
            p,
            "veil_requests_rejected_total{reason=\"payload_too_large\"}"
        )
        .await,
        1.0
    );
    assert_eq!(
        value(p, "veil_requests_rejected_total{reason=\"queue_full\"}").await,
        0.0
    );
    // Every attestation the client made (connecting once) was counted.
    assert!(value(p, "veil_attestations_served_total").await >= 1.0);

    // Histograms: only the successful inferences of the uploaded model, in
    // every stage; the failed ones and the unknown name left no series.
    for stage in ["decapsulate", "queue", "run", "encapsulate"] {
        let series = format!("{{model=\"mlp\",stage=\"{stage}\"}}");
        assert_eq!(
            value(p, &format!("veil_inference_seconds_count{series}")).await,
            N as f64
        );
        let le_inf =
            format!("veil_inference_seconds_bucket{{model=\"mlp\",stage=\"{stage}\",le=\"+Inf\"}}");
        assert_eq!(value(p, &le_inf).await, N as f64);
    }
    assert!(value(p, "veil_inference_seconds_sum{model=\"mlp\",stage=\"run\"}").await > 0.0);
    let quantile = value(
        p,
        "histogram_quantile(0.5, sum by (le) (veil_inference_seconds_bucket{stage=\"run\"}))",
    )
    .await;
    assert!(
        quantile > 0.0 && quantile.is_finite(),
        "median run time {quantile}"
    );
    let models: Vec<String> = query(p, "veil_inference_seconds_count")
        .await
        .iter()
        .map(|(labels, _)| labels["model"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        models.iter().all(|m| m == "mlp"),
        "models labelled: {models:?}"
    );
    assert!(
        value(p, "veil_ohttp_request_seconds_count{framing=\"single\"}").await >= (N + 2) as f64
    );
    assert_eq!(
        value(p, "veil_ohttp_request_seconds_count{framing=\"chunked\"}").await,
        1.0
    );

    // Gauges: the model and its size; the process's memory.
    assert_eq!(value(p, "veil_models_loaded").await, 1.0);
    assert_eq!(
        value(p, "veil_model_bytes{model=\"mlp\"}").await,
        model.len() as f64
    );
    assert!(value(p, "veil_process_resident_memory_bytes").await > 1e6);
    assert_eq!(value(p, "veil_requests_in_flight").await, 0.0);

    // promtool lints the exposition as Prometheus reads it.
    let exposition = reqwest::get(format!("{veil_url}/metrics"))
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let mut check = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    check.stdin.take().unwrap().write_all(&exposition).unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
