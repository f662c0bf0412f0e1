//! `veil proxy` end to end: a live server, a live proxy in front of it, and
//! unmodified Open Inference Protocol clients (reqwest, the real `curl`
//! binary, Python's tritonclient) talking plaintext to the proxy. Results
//! are compared with ONNX Runtime run in-process on the same model.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use common::*;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veil_engine::Engine;
use veil_protocol::oip::{InferRequest, InferResponse, ModelMetadata, RequestedOutput};
use veil_proxy::{ProxyConfig, ProxyState};
use veil_tensor::{DataType, Tensor};

// ---------------------------------------------------------------- harness

/// Everything the proxies of this test binary log, as the user would see it.
fn logs() -> Arc<Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let sink = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new("info"))
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
    .clone()
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().lock().unwrap()).into_owned()
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        std::io::stderr().write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Proxy {
    url: String,
    addr: SocketAddr,
    state: ProxyState,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A proxy in front of `server_url`, verified with the simulation policy.
async fn start_proxy(server_url: &str, default_token: Option<&str>) -> Proxy {
    logs();
    let client = connect(server_url, None).await;
    let mut config = ProxyConfig::default();
    config.default_token = default_token.map(str::to_owned);
    let state = ProxyState::new(client, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = veil_proxy::app(state.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Proxy {
        url: format!("http://{addr}"),
        addr,
        state,
        task,
    }
}

fn http() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn infer_response(&self) -> InferResponse {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        let n = self
            .header("inference-header-content-length")
            .map(|v| v.parse().unwrap());
        InferResponse::decode(&self.body, n).unwrap()
    }
}

async fn reqwest_call(
    method: reqwest::Method,
    url: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Reply {
    let mut req = http().request(method, url).body(body);
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: resp.bytes().await.unwrap().to_vec(),
    }
}

fn curl_binary() -> &'static str {
    let found = Command::new("sh")
        .args(["-c", "command -v curl"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "these tests drive the proxy with the real curl binary: install curl"
    );
    "curl"
}

/// Runs the real `curl` with `args`; `body` (if any) is sent from a file
/// with `--data-binary @file`, byte for byte.
fn curl(args: &[&str], body: Option<&[u8]>) -> Reply {
    let dir = tempfile::tempdir().unwrap();
    let head = dir.path().join("head");
    let out = dir.path().join("body");
    let mut cmd = Command::new(curl_binary());
    cmd.args(["-sS", "--noproxy", "*", "-w", "%{http_code}", "-D"])
        .arg(&head)
        .arg("-o")
        .arg(&out)
        .args(args);
    if let Some(body) = body {
        let input = dir.path().join("input");
        std::fs::write(&input, body).unwrap();
        cmd.arg("--data-binary")
            .arg(format!("@{}", input.display()));
    }
    let output = cmd.output().unwrap();
    assert!(
        output.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status = String::from_utf8_lossy(&output.stdout).parse().unwrap();
    let headers = std::fs::read_to_string(&head)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: std::fs::read(&out).unwrap_or_default(),
    }
}

/// A JSON-only OIP inference request, as a hand-written client sends it.
fn json_infer_body(x: &Tensor) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "inputs": [{
            "name": "x",
            "shape": x.shape(),
            "datatype": "FP32",
            "data": x.to_values::<f32>().unwrap(),
        }]
    }))
    .unwrap()
}

fn json_output_values(reply: &Reply) -> (Vec<usize>, Vec<f32>) {
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let v = reply.json();
    let out = &v["outputs"][0];
    assert_eq!(out["name"], "y");
    assert_eq!(out["datatype"], "FP32");
    let shape = out["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data = out["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_f64().unwrap() as f32)
        .collect();
    (shape, data)
}

fn mlp_reference(x: &Tensor) -> Tensor {
    let mut out = engine()
        .load(&model_bytes("mlp.onnx"))
        .unwrap()
        .run(vec![("x".into(), x.clone())], None)
        .unwrap();
    out.remove(0).1
}

async fn upload_direct(server: &Server, name: &str, file: &str) {
    connect(&server.url, Some(OWNER))
        .await
        .upload_model(name, &model_bytes(file), |_, _| {})
        .await
        .unwrap();
}

// ---------------------------------------------------------------- tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_and_reqwest_through_the_proxy_match_in_process_onnxruntime() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let proxy = start_proxy(&server.url, None).await;
    let base = proxy.url.clone();

    // Repository: upload with curl; the local Authorization travels inside
    // the channel; without it the server's 401 comes back unchanged.
    let mlp = model_bytes("mlp.onnx");
    let denied = curl(
        &["-X", "PUT", &format!("{base}/v2/repository/models/mlp")],
        Some(&mlp),
    );
    assert_eq!(denied.status, 401);
    assert_eq!(denied.json()["code"], "unauthorized");
    let auth = format!("Authorization: Bearer {OWNER}");
    let uploaded = curl(
        &[
            "-X",
            "PUT",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/octet-stream",
            &format!("{base}/v2/repository/models/mlp"),
        ],
        Some(&mlp),
    );
    assert_eq!(
        uploaded.status,
        200,
        "{}",
        String::from_utf8_lossy(&uploaded.body)
    );
    let sha = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&mlp));
    assert_eq!(uploaded.json()["sha256"], sha);

    // Metadata and health: curl and reqwest see what the Rust client sees.
    for path in [
        "/v2/health/live",
        "/v2/health/ready",
        "/v2/models/mlp/ready",
    ] {
        assert_eq!(
            curl(&[&format!("{base}{path}")], None).status,
            200,
            "{path}"
        );
    }
    let server_meta = curl(&[&format!("{base}/v2")], None);
    assert_eq!(server_meta.status, 200);
    let direct = connect(&server.url, None).await;
    assert_eq!(
        serde_json::from_slice::<veil_protocol::oip::ServerMetadata>(&server_meta.body).unwrap(),
        direct.server_metadata().await.unwrap()
    );
    let by_curl = curl(&[&format!("{base}/v2/models/mlp")], None);
    let by_reqwest = reqwest_call(
        reqwest::Method::GET,
        &format!("{base}/v2/models/mlp"),
        &[],
        vec![],
    )
    .await;
    assert_eq!(by_curl.status, 200);
    assert_eq!(by_curl.body, by_reqwest.body);
    assert_eq!(by_curl.header("content-type"), Some("application/json"));
    let meta: ModelMetadata = serde_json::from_slice(&by_curl.body).unwrap();
    assert_eq!(meta, direct.model_metadata("mlp").await.unwrap());
    assert_eq!(meta.sha256, sha);
    let missing = curl(&[&format!("{base}/v2/models/nope")], None);
    assert_eq!(missing.status, 404);
    assert_eq!(missing.json()["code"], "model_not_found");

    // JSON inference, with curl and with reqwest.
    let x = mlp_input(3);
    let reference = mlp_reference(&x);
    let infer_url = format!("{base}/v2/models/mlp/infer");
    let json_body = json_infer_body(&x);
    for reply in [
        curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                &infer_url,
            ],
            Some(&json_body),
        ),
        reqwest_call(
            reqwest::Method::POST,
            &infer_url,
            &[("content-type", "application/json".into())],
            json_body.clone(),
        )
        .await,
    ] {
        let (shape, data) = json_output_values(&reply);
        assert_eq!(shape, reference.shape());
        assert_eq!(data, reference.to_values::<f32>().unwrap());
    }

    // Binary tensor extension, binary outputs requested: bit-identical.
    let mut req = InferRequest::new(vec![("x".into(), x.clone())]);
    req.binary_outputs = true;
    let encoded = req.encode(true).unwrap();
    let header_length = encoded.header_length.unwrap().to_string();
    let by_curl = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            &format!("Inference-Header-Content-Length: {header_length}"),
            &infer_url,
        ],
        Some(&encoded.body),
    );
    let by_reqwest = reqwest_call(
        reqwest::Method::POST,
        &infer_url,
        &[
            ("content-type", "application/octet-stream".into()),
            ("inference-header-content-length", header_length.clone()),
        ],
        encoded.body.clone(),
    )
    .await;
    for reply in [by_curl, by_reqwest] {
        assert!(reply.header("inference-header-content-length").is_some());
        let resp = reply.infer_response();
        assert_eq!(resp.outputs, vec![("y".to_owned(), reference.clone())]);
    }

    // A requested subset of the outputs, one binary and one JSON.
    upload_direct(&server, "ident", "identity_all_dtypes.onnx").await;
    let ident = direct.model_metadata("ident").await.unwrap();
    let inputs: Vec<(String, Tensor)> = ident
        .inputs
        .iter()
        .map(|spec| {
            let bytes = (0..6 * spec.datatype.size())
                .map(|i| {
                    if spec.datatype == DataType::Bool {
                        1
                    } else {
                        i as u8
                    }
                })
                .collect();
            (
                spec.name.clone(),
                Tensor::from_bytes(spec.datatype, vec![2, 3], bytes).unwrap(),
            )
        })
        .collect();
    let wanted = |dt: DataType| {
        ident
            .outputs
            .iter()
            .find(|o| o.datatype == dt)
            .unwrap()
            .name
            .clone()
    };
    let subset = vec![wanted(DataType::F32), wanted(DataType::I64)];
    let mut req = InferRequest::new(inputs.clone());
    req.outputs = Some(vec![
        RequestedOutput {
            name: subset[0].clone(),
            binary: Some(true),
        },
        RequestedOutput {
            name: subset[1].clone(),
            binary: Some(false),
        },
    ]);
    let encoded = req.encode(true).unwrap();
    let reply = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/octet-stream",
            "-H",
            &format!(
                "Inference-Header-Content-Length: {}",
                encoded.header_length.unwrap()
            ),
            &format!("{base}/v2/models/ident/infer"),
        ],
        Some(&encoded.body),
    );
    let got = reply.infer_response().outputs;
    let expected = engine()
        .load(&model_bytes("identity_all_dtypes.onnx"))
        .unwrap()
        .run(inputs, Some(&subset))
        .unwrap();
    assert_eq!(got, expected);
    assert_eq!(
        got.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        subset
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_token_file_supplies_the_owner_token_inside_the_channel() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let proxy = start_proxy(&server.url, Some(OWNER)).await;
    let mlp = model_bytes("mlp.onnx");
    let url = format!("{}/v2/repository/models/mlp", proxy.url);
    let reply = reqwest_call(reqwest::Method::PUT, &url, &[], mlp.clone()).await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // A local Authorization header wins over the proxy's token.
    let reply = reqwest_call(
        reqwest::Method::DELETE,
        &url,
        &[("authorization", "Bearer not-the-owner".into())],
        vec![],
    )
    .await;
    assert_eq!(reply.status, 401);
    let reply = reqwest_call(reqwest::Method::DELETE, &url, &[], vec![]).await;
    assert_eq!(reply.status, 200);
    assert!(!logged().contains(OWNER), "a token reached the logs");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_local_body_is_refused_by_the_proxy_with_413() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    logs();
    let mut config = ProxyConfig::default();
    config.max_body_bytes = 1024;
    let state = ProxyState::new(connect(&server.url, None).await, config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        axum::serve(listener, veil_proxy::app(state)).await.unwrap();
    });
    let reply = reqwest_call(
        reqwest::Method::POST,
        &format!("http://{addr}/v2/models/mlp/infer"),
        &[("content-type", "application/json".into())],
        vec![b' '; 4096],
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "payload_too_large");
    task.abort();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_restart_with_a_new_key_is_reattested_and_the_request_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    upload_direct(&server, "mlp", "mlp.onnx").await;
    let proxy = start_proxy(&server.url, None).await;
    let x = mlp_input(2);
    let reference = mlp_reference(&x);
    let infer_url = format!("{}/v2/models/mlp/infer", proxy.url);
    let body = json_infer_body(&x);
    let infer = || async {
        reqwest_call(
            reqwest::Method::POST,
            &infer_url,
            &[("content-type", "application/json".into())],
            body.clone(),
        )
        .await
    };
    assert_eq!(
        json_output_values(&infer().await).1,
        reference.to_values::<f32>().unwrap()
    );
    let first_key = proxy.state.channel().client().key_config().to_vec();
    assert_eq!(proxy.state.channel().reattestations(), 0);

    // The server process restarts on the same port: same data, new key.
    let addr = server.addr;
    server.shutdown().await;
    let server = start_at(config(dir.path()), addr).await;

    let reply = infer().await;
    assert_eq!(
        json_output_values(&reply).1,
        reference.to_values::<f32>().unwrap()
    );
    assert_eq!(proxy.state.channel().reattestations(), 1);
    assert_ne!(
        proxy.state.channel().client().key_config(),
        first_key.as_slice()
    );
    assert!(
        logged().contains("re-attested"),
        "the re-attestation was not logged"
    );
    // Later requests use the new key directly.
    assert_eq!(infer().await.status, 200);
    assert_eq!(proxy.state.channel().reattestations(), 1);

    // Restart again; this time the first request is a chunked upload, which
    // the proxy can replay because it holds the body it was given.
    server.shutdown().await;
    let server = start_at(config(dir.path()), addr).await;
    let reply = reqwest_call(
        reqwest::Method::PUT,
        &format!("{}/v2/repository/models/mlp2", proxy.url),
        &[("authorization", format!("Bearer {OWNER}"))],
        model_bytes("mlp.onnx"),
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(proxy.state.channel().reattestations(), 2);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_through_the_proxy_are_chunked_past_the_servers_message_limit() {
    let dir = tempfile::tempdir().unwrap();
    let mut small = config(dir.path());
    small.limits.max_request_bytes = 1024;
    let server = start(small).await;
    let proxy = start_proxy(&server.url, Some(OWNER)).await;
    let mlp = model_bytes("mlp.onnx");
    assert!(mlp.len() > 1024);
    let reply = reqwest_call(
        reqwest::Method::PUT,
        &format!("{}/v2/repository/models/mlp", proxy.url),
        &[],
        mlp,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    // An owner-encrypted model goes through too: the proxy passes its
    // content type on, and the server opens it.
    let owner = connect(&server.url, Some(OWNER)).await;
    let (encrypted, summary) = owner.encrypt_model(&model_bytes("add.onnx")).await.unwrap();
    let reply = reqwest_call(
        reqwest::Method::PUT,
        &format!("{}/v2/repository/models/add", proxy.url),
        &[(
            "content-type",
            veil_model_crypto::owner::MEDIA_TYPE.to_owned(),
        )],
        encrypted,
    )
    .await;
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    assert_eq!(reply.json()["sha256"], summary.sha256.as_str());
    // A single-message request over the server's limit: the server's 413
    // reaches the local client as a 413.
    let x = mlp_input(64);
    let reply = reqwest_call(
        reqwest::Method::POST,
        &format!("{}/v2/models/mlp/infer", proxy.url),
        &[("content-type", "application/json".into())],
        json_infer_body(&x),
    )
    .await;
    assert_eq!(reply.status, 413);
    assert_eq!(reply.json()["code"], "payload_too_large");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_that_fails_the_policy_gets_no_request() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    upload_direct(&server, "mlp", "mlp.onnx").await;
    // The policy pins the measurement the first server reports.
    let policy = veil_attest::Policy::from_toml_str(&format!(
        "platforms = [\"simulated\"]\nallow_simulation = true\nmeasurements = [\"{}\"]\n",
        hex::encode([0x5a; 48])
    ))
    .unwrap();
    logs();
    let client =
        veil_client::Client::connect(&server.url, veil_client::ConnectOptions::new(policy))
            .await
            .unwrap();
    let state = ProxyState::new(client, ProxyConfig::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    let app = veil_proxy::app(state.clone());
    let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let url = format!("http://{proxy}/v2/models/mlp");
    assert_eq!(
        reqwest_call(reqwest::Method::GET, &url, &[], vec![])
            .await
            .status,
        200
    );

    // Other code comes up on the same port, with a new key.
    let addr = server.addr;
    server.shutdown().await;
    let server = start_measured(config(dir.path()), addr, &hex::encode([0x11; 48])).await;
    let reply = reqwest_call(reqwest::Method::GET, &url, &[], vec![]).await;
    assert_eq!(reply.status, 502);
    let error = reply.json()["error"].as_str().unwrap().to_owned();
    assert!(error.contains("`measurement`"), "{error}");
    assert_eq!(state.channel().reattestations(), 0);
    // The proxy still holds the old, verified key: it never adopted the new one.
    assert_eq!(
        state
            .channel()
            .client()
            .attestation()
            .measurement
            .to_string(),
        hex::encode([0x5a; 48])
    );
    task.abort();
    server.stop();
}

/// A TCP relay that forwards both ways and records every byte that goes
/// from its client (the proxy) to its upstream (the server).
async fn recording_relay(upstream: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let sink = recorded.clone();
    tokio::spawn(async move {
        loop {
            let Ok((inbound, _)) = listener.accept().await else {
                return;
            };
            let sink = sink.clone();
            tokio::spawn(async move {
                let outbound = tokio::net::TcpStream::connect(upstream).await.unwrap();
                let (mut in_read, mut in_write) = inbound.into_split();
                let (mut out_read, mut out_write) = outbound.into_split();
                let up = async move {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = match in_read.read(&mut buf).await {
                            Ok(0) | Err(_) => break,
                            Ok(n) => n,
                        };
                        sink.lock().unwrap().extend_from_slice(&buf[..n]);
                        if out_write.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                    let _ = out_write.shutdown().await;
                };
                let down = async move {
                    let _ = tokio::io::copy(&mut out_read, &mut in_write).await;
                    let _ = in_write.shutdown().await;
                };
                tokio::join!(up, down);
            });
        }
    });
    (addr, recorded)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_input_tensor_bytes_or_tokens_leave_the_proxy_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let (relay, recorded) = recording_relay(server.addr).await;
    let proxy = start_proxy(&format!("http://{relay}"), None).await;
    let base = proxy.url.clone();

    // Upload through the proxy too: the owner token must not show either.
    let reply = reqwest_call(
        reqwest::Method::PUT,
        &format!("{base}/v2/repository/models/mlp"),
        &[("authorization", format!("Bearer {OWNER}"))],
        model_bytes("mlp.onnx"),
    )
    .await;
    assert_eq!(reply.status, 200);

    // A distinctive pattern: exactly representable, so its JSON text is known.
    let values: Vec<f32> = (0..32)
        .map(|i| 1000.0 + (i as f32 * 32.0 + 1.0) / 128.0)
        .collect();
    let x = Tensor::from_values(vec![2, 16], values.clone()).unwrap();
    let reference = mlp_reference(&x);
    let infer_url = format!("{base}/v2/models/mlp/infer");
    let (_, data) = json_output_values(
        &reqwest_call(
            reqwest::Method::POST,
            &infer_url,
            &[("content-type", "application/json".into())],
            json_infer_body(&x),
        )
        .await,
    );
    assert_eq!(data, reference.to_values::<f32>().unwrap());
    let encoded = InferRequest::new(vec![("x".into(), x.clone())])
        .encode(true)
        .unwrap();
    let reply = reqwest_call(
        reqwest::Method::POST,
        &infer_url,
        &[
            ("content-type", "application/octet-stream".into()),
            (
                "inference-header-content-length",
                encoded.header_length.unwrap().to_string(),
            ),
        ],
        encoded.body,
    )
    .await;
    assert_eq!(reply.infer_response().outputs[0].1, reference);

    let local_json = String::from_utf8(json_infer_body(&x)).unwrap();
    assert!(local_json.contains("1000.0078") && local_json.contains("1000.2578"));
    let wire = recorded.lock().unwrap().clone();
    let contains = |needle: &[u8]| wire.windows(needle.len()).any(|w| w == needle);
    // The relay did see the traffic: attestation and ciphertext requests.
    assert!(contains(b"GET /v1/attestation?nonce="));
    assert!(contains(b"POST /v1/ohttp"));
    // No 8-byte run of the input tensor, in any position.
    let raw: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    for window in raw.windows(8) {
        assert!(!contains(window), "input tensor bytes crossed in plaintext");
    }
    for needle in [
        "1000.0078",
        "1000.2578",
        OWNER,
        "/v2/models/mlp",
        "/v2/repository",
        "inference-header-content-length",
    ] {
        assert!(
            !contains(needle.as_bytes()),
            "`{needle}` crossed in plaintext"
        );
    }
    let logs = logged();
    assert!(!logs.contains("1000.0078") && !logs.contains(OWNER));
    server.stop();
}

fn veil_binary() -> &'static str {
    env!("CARGO_BIN_EXE_veil")
}

/// Runs `veil proxy` under the policy `toml`, which must refuse `url`.
fn refused_under_policy(dir: &Path, url: &str, toml: &str) -> String {
    let path = dir.join("policy.toml");
    std::fs::write(&path, toml).unwrap();
    veil_proxy_refusal(&[
        url,
        "--policy",
        path.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ])
}

/// Runs `veil proxy` to completion (it exits at once when it refuses).
fn veil_proxy_refusal(args: &[&str]) -> String {
    let out = Command::new(veil_binary())
        .arg("proxy")
        .args(args)
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the proxy started but should have refused"
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_refuses_to_start_against_a_server_its_policy_does_not_name() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let measurement = hex::encode([0x5a; 48]);

    // A real-platform policy: simulated evidence is not allowed.
    let err = refused_under_policy(
        dir.path(),
        &server.url,
        &format!("platforms = [\"sev-snp\"]\nmeasurements = [\"{measurement}\"]\n"),
    );
    assert!(err.contains("simulation_not_allowed"), "{err}");
    assert!(err.contains("does not start"), "{err}");

    // Simulation allowed, but another measurement pinned.
    let err = refused_under_policy(
        dir.path(),
        &server.url,
        &format!(
            "platforms = [\"simulated\"]\nallow_simulation = true\nmeasurements = [\"{}\"]\n",
            hex::encode([0x00; 48])
        ),
    );
    assert!(err.contains("`measurement`"), "{err}");

    // Neither policy nor --allow-simulation: a usage error, not a guess.
    let err = veil_proxy_refusal(&[&server.url]);
    assert!(err.contains("--policy"), "{err}");
    server.stop();
}

#[test]
fn proxy_refuses_a_non_loopback_listen_address_without_the_explicit_flag() {
    let err = veil_proxy_refusal(&[
        "http://127.0.0.1:9",
        "--allow-simulation",
        "--listen",
        "0.0.0.0:0",
    ]);
    assert!(err.contains("--allow-non-loopback"), "{err}");
}

/// Starts `veil proxy` as a process and waits until it serves.
async fn spawn_cli_proxy(server_url: &str, extra: &[&str]) -> (std::process::Child, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(veil_binary())
        .args([
            "proxy",
            server_url,
            "--allow-simulation",
            "--listen",
            &listen,
        ])
        .args(extra)
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://{listen}");
    for _ in 0..300 {
        if let Ok(r) = http().get(format!("{url}/v2/health/live")).send().await
            && r.status() == 200
        {
            return (child, url);
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let mut child = child;
    let _ = child.kill();
    let _ = child.wait();
    panic!("veil proxy did not start serving");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veil_proxy_command_serves_inference_with_the_token_from_its_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let token_file = dir.path().join("owner-token");
    std::fs::write(&token_file, format!("{OWNER}\n")).unwrap();
    let (mut child, url) = spawn_cli_proxy(
        &server.url,
        &["--owner-token-file", token_file.to_str().unwrap()],
    )
    .await;
    let up = curl(
        &["-X", "PUT", &format!("{url}/v2/repository/models/mlp")],
        Some(&model_bytes("mlp.onnx")),
    );
    assert_eq!(up.status, 200, "{}", String::from_utf8_lossy(&up.body));
    let x = mlp_input(4);
    let reply = curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            &format!("{url}/v2/models/mlp/infer"),
        ],
        Some(&json_infer_body(&x)),
    );
    assert_eq!(
        json_output_values(&reply).1,
        mlp_reference(&x).to_values::<f32>().unwrap()
    );
    child.kill().unwrap();
    child.wait().unwrap();
    server.stop();
}

/// tritonclient, Triton's own Python OIP client from PyPI, drives the proxy
/// unmodified (see tests/proxy_tritonclient.py).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tritonclient_from_pypi_drives_the_proxy_unmodified() {
    let python = repo_root().join(".venv/bin/python");
    let has_client = Command::new(&python)
        .args(["-c", "import tritonclient.http, pytest, onnxruntime"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !has_client {
        eprintln!(
            "SKIPPED: {} lacks tritonclient[http], pytest or onnxruntime \
             (pip install 'tritonclient[http]' pytest onnxruntime)",
            python.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    upload_direct(&server, "mlp", "mlp.onnx").await;
    let proxy = start_proxy(&server.url, None).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/proxy_tritonclient.py");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
            .arg(script)
            .env("VEIL_PROXY", proxy.addr.to_string())
            .env("VEIL_TEST_MODELS", repo_root().join("tests/models"))
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{report}");
    assert!(out.status.success(), "pytest failed:\n{report}");
    server.stop();
}

/// Latency of one inference three ways, interleaved in the same run: ONNX
/// Runtime in-process, the Rust client (attested, OHTTP), and an unmodified
/// HTTP client through the proxy (plaintext hop + the same OHTTP path), for
/// the test MLP and, when `bench/models/` holds them (bench/make_models.py),
/// MobileNetV2 and MiniLM. Prints medians; asserts nothing about time. Run with
/// `cargo test --release -p veil-cli --test proxy -- --ignored --nocapture proxy_latency`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a test: run explicitly with --ignored --nocapture"]
async fn proxy_latency_versus_rust_client_and_in_process_onnxruntime() {
    let median = |mut v: Vec<std::time::Duration>| {
        v.sort();
        v[v.len() / 2].as_secs_f64() * 1e3
    };
    let bench = repo_root().join("bench/models");
    let pattern = |n: usize| {
        (0..n)
            .map(|i| (i % 251) as f32 / 251.0)
            .collect::<Vec<f32>>()
    };
    let ids: Vec<i64> = (0..128).map(|i| 1000 + i).collect();
    type Inputs = Vec<(String, Tensor)>;
    let cases: Vec<(&str, PathBuf, usize, Inputs)> = vec![
        (
            "mlp [8,16]",
            model_path("mlp.onnx"),
            300,
            vec![("x".into(), mlp_input(8))],
        ),
        (
            "mobilenetv2 [1,3,224,224]",
            bench.join("mobilenetv2.onnx"),
            30,
            vec![(
                "input".into(),
                Tensor::from_values(vec![1, 3, 224, 224], pattern(3 * 224 * 224)).unwrap(),
            )],
        ),
        (
            "minilm [1,128]",
            bench.join("minilm.onnx"),
            30,
            vec![
                (
                    "input_ids".into(),
                    Tensor::from_values(vec![1, 128], ids).unwrap(),
                ),
                (
                    "attention_mask".into(),
                    Tensor::from_values(vec![1, 128], vec![1i64; 128]).unwrap(),
                ),
            ],
        ),
    ];
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let proxy = start_proxy(&server.url, None).await;
    let client = connect(&server.url, Some(OWNER)).await;
    let http = http();
    println!("| model | rounds | in-process ORT | Rust client | through the proxy |");
    println!("| --- | --- | --- | --- | --- |");
    for (label, path, rounds, inputs) in cases {
        if !path.exists() {
            println!("| {label} | skipped: {} missing | | | |", path.display());
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let name = path.file_stem().unwrap().to_str().unwrap().to_owned();
        client.upload_model(&name, &bytes, |_, _| {}).await.unwrap();
        let model = engine().load(&bytes).unwrap();
        let mut request = InferRequest::new(inputs.clone());
        request.binary_outputs = true;
        let encoded = request.encode(true).unwrap();
        let header_length = encoded.header_length.unwrap().to_string();
        let url = format!("{}/v2/models/{name}/infer", proxy.url);

        let (mut ort, mut rust, mut proxied) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            let t = std::time::Instant::now();
            model
                .submit(inputs.clone(), None, Box::new(()))
                .await
                .outputs
                .unwrap();
            ort.push(t.elapsed());

            let t = std::time::Instant::now();
            client.infer(&name, &request).await.unwrap();
            rust.push(t.elapsed());

            let t = std::time::Instant::now();
            let resp = http
                .post(&url)
                .header("content-type", "application/octet-stream")
                .header("inference-header-content-length", &header_length)
                .body(encoded.body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(resp.status(), 200);
            resp.bytes().await.unwrap();
            proxied.push(t.elapsed());
        }
        println!(
            "| {label} | {rounds} | {:.3} ms | {:.3} ms | {:.3} ms |",
            median(ort),
            median(rust),
            median(proxied)
        );
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_local_clients_at_once_each_get_their_own_answer() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    upload_direct(&server, "mlp", "mlp.onnx").await;
    let proxy = start_proxy(&server.url, None).await;
    let url = format!("{}/v2/models/mlp/infer", proxy.url);
    let tasks: Vec<_> = (1..=16)
        .map(|batch| {
            let url = url.clone();
            tokio::spawn(async move {
                let x = mlp_input(batch);
                let encoded = InferRequest::new(vec![("x".into(), x.clone())])
                    .encode(true)
                    .unwrap();
                let reply = reqwest_call(
                    reqwest::Method::POST,
                    &url,
                    &[
                        ("content-type", "application/octet-stream".into()),
                        (
                            "inference-header-content-length",
                            encoded.header_length.unwrap().to_string(),
                        ),
                    ],
                    encoded.body,
                )
                .await;
                (x, reply.infer_response())
            })
        })
        .collect();
    for task in tasks {
        let (x, response) = task.await.unwrap();
        assert_eq!(response.outputs, vec![("y".to_owned(), mlp_reference(&x))]);
    }
    assert_eq!(proxy.state.channel().reattestations(), 0);
    let logs = logged();
    assert!(
        logs.contains("method=POST path=\"/v2/models/mlp/infer\" model=\"mlp\" status=200"),
        "the proxy's request log lacks method, path, model or status"
    );
    server.stop();
}
