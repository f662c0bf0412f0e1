//! Graceful shutdown of the `veil serve` process: on SIGTERM during a slow
//! inference, readiness turns 503, new connections are refused, the
//! inference is answered, and the process exits 0; past the drain timeout
//! it exits 1 at once.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use common::*;
use veil_attest::SimulatedProducer;
use veil_client::Client;
use veil_protocol::inner::InnerRequest;
use veil_protocol::oip::{InferRequest, InferResponse};
use veil_server::AppState;
use veil_tensor::Tensor;

const VEIL: &str = env!("CARGO_BIN_EXE_veil");

/// Rounds of `slow_loop.onnx` (about 0.15 ms each on one core): seconds of
/// inference, far longer than the few requests the test makes meanwhile.
const SLOW_ROUNDS: i64 = 40_000;

fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// A plain HTTP client that opens a fresh connection for every request.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A `veil serve` process on free ports, with `--metrics-listen`.
struct ServeProcess {
    child: Child,
    url: String,
    metrics_url: String,
    /// Its stderr (the logs and the final error, if any).
    log: PathBuf,
}

impl ServeProcess {
    /// Starts it with its data directory and log file under `dir`.
    async fn start(dir: &Path, drain_timeout: &str) -> Self {
        let data_dir = dir.join("data");
        let (listen, metrics) = (free_address(), free_address());
        let log = dir.join("serve.log");
        let owner_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(OWNER.as_bytes()));
        let mut command = Command::new(VEIL);
        command
            .args(["serve", "--platform", "simulated", "--listen", &listen])
            .args([
                "--metrics-listen",
                &metrics,
                "--drain-timeout",
                drain_timeout,
            ])
            .args([
                "--owner-token-sha256",
                &owner_hash,
                "--intra-op-threads",
                "1",
            ])
            .arg("--data-dir")
            .arg(&data_dir)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (name, _) in std::env::vars() {
            if name.starts_with("VEIL_") {
                command.env_remove(name);
            }
        }
        let mut server = ServeProcess {
            child: command.spawn().unwrap(),
            url: format!("http://{listen}"),
            metrics_url: format!("http://{metrics}"),
            log,
        };
        for _ in 0..600 {
            if let Ok(r) = http()
                .get(format!("{}/v1/health/ready", server.url))
                .send()
                .await
                && r.status() == 200
            {
                return server;
            }
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("veil serve exited at start-up: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.child.kill().unwrap();
        panic!("veil serve did not become ready");
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn sigterm(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit (bounded; kills it past the bound).
    async fn exit_status(&mut self) -> ExitStatus {
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.child.kill().unwrap();
        panic!("veil serve did not exit after SIGTERM");
    }

    async fn get_metrics_listener(&self, path: &str) -> reqwest::Response {
        http()
            .get(format!("{}{path}", self.metrics_url))
            .send()
            .await
            .unwrap()
    }

    /// `veil_requests_in_flight` from the metrics listener.
    async fn requests_in_flight(&self) -> f64 {
        let text = self
            .get_metrics_listener("/metrics")
            .await
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix("veil_requests_in_flight "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no veil_requests_in_flight in:\n{text}"))
    }

    /// Waits until a request is in flight in the server.
    async fn wait_for_a_request_in_flight(&self) {
        for _ in 0..600 {
            if self.requests_in_flight().await >= 1.0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the inference never reached the server");
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn json(response: reqwest::Response) -> serde_json::Value {
    serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
}

async fn with_slow_model(server: &ServeProcess) -> Client {
    let client = connect(&server.url, Some(OWNER)).await;
    client
        .upload_model("slow", &model_bytes("slow_loop.onnx"), |_, _| {})
        .await
        .unwrap();
    client
}

fn slow_request() -> InferRequest {
    InferRequest::new(vec![
        (
            "x".into(),
            Tensor::from_values(vec![1, 64], vec![0.5f32; 64]).unwrap(),
        ),
        (
            "iterations".into(),
            Tensor::from_values(vec![], vec![SLOW_ROUNDS]).unwrap(),
        ),
    ])
}

fn spawn_slow_inference(
    client: Client,
) -> tokio::task::JoinHandle<Result<InferResponse, veil_client::ClientError>> {
    tokio::spawn(async move { client.infer("slow", &slow_request()).await })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_answers_the_inference_in_flight_refuses_new_work_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(dir.path(), "120").await;
    let live = server.get_metrics_listener("/v1/health/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(json(live).await, serde_json::json!({ "status": "live" }));
    let inference = spawn_slow_inference(with_slow_model(&server).await);
    server.wait_for_a_request_in_flight().await;

    server.sigterm();

    // Readiness turns 503 (seen on the metrics listener, which stays up
    // until the process exits) while the inference still runs.
    let mut ready = None;
    for _ in 0..500 {
        let r = server.get_metrics_listener("/v1/health/ready").await;
        if r.status() == 503 {
            ready = Some(json(r).await);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ready, Some(serde_json::json!({ "status": "draining" })));
    // New connections to the outer API are refused.
    let mut refused = false;
    for _ in 0..500 {
        match http().get(format!("{}/v1/health", server.url)).send().await {
            Err(e) if e.is_connect() => {
                refused = true;
                break;
            }
            Ok(r) if r.status() == 503 => {
                refused = true;
                break;
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    assert!(refused, "the outer API still took new connections");
    assert!(
        !inference.is_finished(),
        "the inference ended before the checks; raise SLOW_ROUNDS"
    );

    // The inference in flight is answered in full.
    let response = inference.await.unwrap().unwrap();
    let (name, y) = &response.outputs[0];
    assert_eq!(name, "y");
    assert_eq!(y.shape(), &[64]);
    assert!(
        y.to_values::<f32>()
            .unwrap()
            .iter()
            .all(|v| v.is_finite() && v.abs() <= 1.0)
    );
    assert!(server.exit_status().await.success(), "{}", server.log());
    assert!(
        server.log().contains("drained; stopped"),
        "{}",
        server.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_that_times_out_exits_1_and_cuts_off_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = ServeProcess::start(dir.path(), "0").await;
    let inference = spawn_slow_inference(with_slow_model(&server).await);
    server.wait_for_a_request_in_flight().await;

    server.sigterm();

    let status = server.exit_status().await;
    assert_eq!(status.code(), Some(1), "{status}");
    assert!(
        server.log().contains("error: the drain timed out after 0s"),
        "{}",
        server.log()
    );
    assert!(inference.await.unwrap().is_err());
}

async fn get_inner(client: &Client, path: &str) -> (u16, serde_json::Value) {
    let request = InnerRequest {
        method: "GET".into(),
        path: path.into(),
        headers: Vec::new(),
        body: Vec::new(),
    };
    let response = client.send(&request).await.unwrap();
    (
        response.status,
        serde_json::from_slice(&response.body).unwrap(),
    )
}

async fn get_outer(url: &str) -> (u16, serde_json::Value) {
    let response = http().get(url).send().await.unwrap();
    (response.status().as_u16(), json(response).await)
}

/// In process: both readiness routes, outer and inner, follow the draining
/// flag; liveness does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_inside_and_outside_the_channel_turns_503_when_draining_starts() {
    let dir = tempfile::tempdir().unwrap();
    let producer = SimulatedProducer::generate(hex::encode([0x5a; 48]).parse().unwrap());
    let state = AppState::new(config(dir.path()), engine(), Box::new(producer)).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = veil_server::app(state.clone());
    let task = tokio::spawn(async move { axum::serve(listener, app).await });
    let client = connect(&url, None).await;

    let ready = format!("{url}/v1/health/ready");
    let live = format!("{url}/v1/health/live");
    assert_eq!(
        get_outer(&ready).await,
        (200, serde_json::json!({ "status": "ready" }))
    );
    assert_eq!(
        get_inner(&client, "/v2/health/ready").await,
        (200, serde_json::json!({ "ready": true }))
    );

    state.services.readiness.start_draining();

    assert_eq!(
        get_outer(&ready).await,
        (503, serde_json::json!({ "status": "draining" }))
    );
    assert_eq!(
        get_inner(&client, "/v2/health/ready").await,
        (503, serde_json::json!({ "ready": false }))
    );
    assert_eq!(
        get_outer(&live).await,
        (200, serde_json::json!({ "status": "live" }))
    );
    assert_eq!(
        get_inner(&client, "/v2/health/live").await,
        (200, serde_json::json!({ "live": true }))
    );
    // The long-standing health route is unchanged.
    assert_eq!(get_outer(&format!("{url}/v1/health")).await.0, 200);
    task.abort();
}
