//! Limits and back-pressure, slow clients, and no leaks of request data.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::sync::Arc;

use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use veil_protocol::ErrorCode;
use veil_protocol::inner::InnerRequest;
use veil_protocol::oip::{self, InferRequest};
use veil_tensor::Tensor;

/// Runs `batch` rows through `mlp` with several clients at once; returns
/// (accepted, refused as unavailable), checking every accepted answer.
async fn flood(url: &str, input: &Tensor, expected: &Tensor, requests: usize) -> (usize, usize) {
    let mut clients = Vec::new();
    for _ in 0..4 {
        clients.push(Arc::new(connect(url, None).await));
    }
    let mut tasks = Vec::new();
    for i in 0..requests {
        let client = clients[i % clients.len()].clone();
        let input = input.clone();
        tasks.push(tokio::spawn(async move {
            client
                .infer("mlp", &InferRequest::new(vec![("x".into(), input)]))
                .await
        }));
    }
    let (mut ok, mut refused) = (0, 0);
    for t in tasks {
        match t.await.unwrap() {
            Ok(out) => {
                assert_eq!(
                    &out.outputs[0].1, expected,
                    "an accepted request got a wrong answer"
                );
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), Some(ErrorCode::Unavailable), "{e}");
                refused += 1;
            }
        }
    }
    (ok, refused)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_queue_requests_get_503_and_accepted_ones_are_right() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_concurrent_inferences_per_model = 1;
    cfg.limits.max_queued_inferences_per_model = 1;
    cfg.limits.max_tensor_elements = 64 << 20;
    let (server, owner) = start_serving_mlp(cfg).await;

    let mut refused_seen = false;
    for batch in [20_000, 50_000, 100_000] {
        let input = mlp_input(batch);
        let expected = owner
            .infer("mlp", &InferRequest::new(vec![("x".into(), input.clone())]))
            .await
            .unwrap()
            .outputs[0]
            .1
            .clone();
        let (ok, refused) = flood(&server.url, &input, &expected, 16).await;
        assert!(ok >= 1, "at least the first request runs");
        if refused > 0 {
            refused_seen = true;
            break;
        }
    }
    assert!(
        refused_seen,
        "16 concurrent requests never overflowed a queue of 1"
    );

    // The refusal carries Retry-After, and the server recovers.
    let input = mlp_input(2);
    let out = owner
        .infer("mlp", &InferRequest::new(vec![("x".into(), input)]))
        .await
        .unwrap();
    assert_eq!(out.outputs[0].1.shape(), &[2, 4]);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refusal_has_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_concurrent_inferences_per_model = 1;
    cfg.limits.max_queued_inferences_per_model = 0;
    let (server, owner) = start_serving_mlp(cfg).await;
    let owner = Arc::new(owner);
    let encoded = InferRequest::new(vec![("x".into(), mlp_input(50_000))])
        .encode(true)
        .unwrap();
    let mut headers = vec![(
        "content-type".to_string(),
        encoded.content_type().to_string(),
    )];
    if let Some(n) = encoded.header_length {
        headers.push((oip::HEADER_LENGTH_HEADER.into(), n.to_string()));
    }
    let request = InnerRequest {
        method: "POST".into(),
        path: "/v2/models/mlp/infer".into(),
        headers,
        body: encoded.body,
    };
    // With no queue, some of these overlap and are refused at once.
    for _ in 0..10 {
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let (c, r) = (owner.clone(), request.clone());
                tokio::spawn(async move { c.send(&r).await.unwrap() })
            })
            .collect();
        for t in tasks {
            let resp = t.await.unwrap();
            if resp.status == 503 {
                assert_eq!(resp.header("retry-after"), Some("1"));
                let body: veil_protocol::ErrorBody = serde_json::from_slice(&resp.body).unwrap();
                assert_eq!(body.code, ErrorCode::Unavailable);
                server.stop();
                return;
            }
            assert_eq!(resp.status, 200);
        }
    }
    panic!("no request was ever refused with a queue of 0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn beyond_the_model_limit_new_names_are_refused_and_replacing_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_models = 2;
    let server = start(cfg).await;
    let owner = connect(&server.url, Some(OWNER)).await;
    let mlp = model_bytes("mlp.onnx");
    for name in ["a", "b"] {
        owner.upload_model(name, &mlp, |_, _| {}).await.unwrap();
    }
    let err = owner
        .upload_model("c", &mlp, |_, _| {})
        .await
        .expect_err("a third name is over the limit");
    assert_eq!(err.code(), Some(ErrorCode::ModelLimitReached), "{err}");
    assert_eq!(owner.list_models().await.unwrap().len(), 2);
    assert!(
        !dir.path().join("tmp").read_dir().unwrap().any(|_| true),
        "nothing of the refused upload is left"
    );
    // Replacing a held model is not a new one.
    owner.upload_model("b", &mlp, |_, _| {}).await.unwrap();
    owner.delete_model("a").await.unwrap();
    owner.upload_model("c", &mlp, |_, _| {}).await.unwrap();
    assert_eq!(model_names(&owner).await, ["b", "c"]);
    server.stop();
}

/// Opens a raw connection, sends only `head`, and returns what the server answers.
async fn stall(server: &Server, head: &str) -> String {
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    // A generous bound: the configured timeout is 1 s.
    let read = tokio::time::timeout(Duration::from_secs(30), tcp.read_to_end(&mut answer)).await;
    assert!(read.is_ok(), "the server kept a stalled request open");
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_client_trickling_its_headers_loses_the_connection() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.header_read_timeout = Duration::from_secs(1);
    let server = start(cfg).await;
    let client = connect(&server.url, None).await;

    // Part of a request head, then one more header byte every 300 ms: each
    // byte is within any idle timeout, the whole head never is.
    let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    tcp.write_all(b"GET /v1/health HTTP/1.1\r\nHost: veil\r\n")
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let closed = loop {
        if tcp.write_all(b"x").await.is_err() {
            break true;
        }
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(300), tcp.read(&mut byte)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break true,
            Ok(Ok(_)) => panic!("the server answered an unfinished request head"),
            Err(_) if started.elapsed() > Duration::from_secs(30) => break false,
            Err(_) => {}
        }
    };
    assert!(
        closed,
        "the server kept a connection whose head never ended"
    );
    // Everyone else is served meanwhile and after.
    assert_eq!(
        client.server_metadata().await.unwrap().name,
        "veil",
        "a normal client is still served"
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_clients_get_408_while_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.request_read_timeout = Duration::from_secs(1);
    let (server, owner) = start_serving_mlp(cfg).await;

    let plain = stall(
        &server,
        "POST /v1/ohttp HTTP/1.1\r\nHost: veil\r\nContent-Type: message/ohttp-req\r\nContent-Length: 1000000\r\n\r\npartial",
    );
    let chunked = stall(
        &server,
        "POST /v1/ohttp HTTP/1.1\r\nHost: veil\r\nContent-Type: message/ohttp-chunked-req\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let others = async {
        for _ in 0..5 {
            let out = owner
                .infer("mlp", &InferRequest::new(vec![("x".into(), mlp_input(3))]))
                .await
                .unwrap();
            assert_eq!(out.outputs[0].1.shape(), &[3, 4]);
        }
    };
    let (plain, chunked, ()) = tokio::join!(plain, chunked, others);
    for answer in [plain, chunked] {
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
        assert!(answer.contains("did not arrive in time"), "{answer}");
    }
    // A model upload (a chunked request that pauses only while the server
    // writes) still works.
    owner
        .upload_model("mlp2", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap();
    server.stop();
}

fn files_under(dir: &std::path::Path, out: &mut Vec<Vec<u8>>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(std::fs::read(&path).unwrap());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_secret_payload_leaks_nowhere() {
    let logs = captured_logs(LogFormat::Text);
    // 31337.125 + k/2: exact in f32, unmistakable in decimal and in hex.
    let secret: Vec<f32> = (0..16).map(|k| 31337.125 + k as f32 * 0.5).collect();
    let secret_bytes: Vec<u8> = secret.iter().flat_map(|v| v.to_le_bytes()).collect();
    let needles: Vec<Vec<u8>> = vec![
        hex::encode(&secret_bytes[..8]).into_bytes(),
        hex::encode_upper(&secret_bytes[..8]).into_bytes(),
        secret_bytes[..8].to_vec(),
        b"31337".to_vec(),
        format!("{:?}", &secret_bytes[..4])
            .trim_matches(['[', ']'])
            .as_bytes()
            .to_vec(),
    ];

    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start_serving_mlp(config(dir.path())).await;
    let good = Tensor::from_values(vec![1, 16], secret.clone()).unwrap();
    let out = client
        .infer("mlp", &InferRequest::new(vec![("x".into(), good)]))
        .await
        .unwrap();
    assert_eq!(out.outputs[0].1.shape(), &[1, 4]);

    // Error paths that see the payload: wrong shape, wrong input name, no
    // such model, expected hash mismatch, a JSON body with a bad element.
    let mut errors = Vec::new();
    let wrong_shape = Tensor::from_values(vec![2, 8], secret.clone()).unwrap();
    let bad_calls = [
        ("mlp", InferRequest::new(vec![("x".into(), wrong_shape)])),
        (
            "mlp",
            InferRequest::new(vec![(
                "y".into(),
                Tensor::from_values(vec![1, 16], secret.clone()).unwrap(),
            )]),
        ),
        (
            "nope",
            InferRequest::new(vec![(
                "x".into(),
                Tensor::from_values(vec![1, 16], secret.clone()).unwrap(),
            )]),
        ),
    ];
    for (model, req) in &bad_calls {
        let e = client.infer(model, req).await.unwrap_err();
        errors.push(e.to_string());
    }
    let mut hashed = InferRequest::new(vec![(
        "x".into(),
        Tensor::from_values(vec![1, 16], secret.clone()).unwrap(),
    )]);
    hashed.expected_sha256 = Some("00".repeat(32));
    errors.push(client.infer("mlp", &hashed).await.unwrap_err().to_string());
    let values: Vec<String> = secret.iter().map(|v| v.to_string()).collect();
    for data in [
        format!("[{}, \"x\"]", values.join(", ")),
        format!("[\"{}\"]", values.join("\", \"")),
    ] {
        let body = format!(
            r#"{{"inputs":[{{"name":"x","datatype":"FP32","shape":[1,16],"data":{data}}}]}}"#
        );
        let resp = client
            .send(&InnerRequest {
                method: "POST".into(),
                path: "/v2/models/mlp/infer".into(),
                headers: vec![("content-type".into(), "application/json".into())],
                body: body.into_bytes(),
            })
            .await
            .unwrap();
        assert!(resp.status >= 400);
        errors.push(String::from_utf8_lossy(&resp.body).into_owned());
    }
    server.stop();

    let logs = logs.lock().unwrap().clone();
    assert!(
        contains(&logs, b"ohttp request"),
        "the log capture saw nothing from the server"
    );
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    for needle in &needles {
        let shown = String::from_utf8_lossy(needle);
        assert!(!contains(&logs, needle), "the logs contain {shown}");
        for e in &errors {
            assert!(
                !contains(e.as_bytes(), needle),
                "an error contains {shown}: {e}"
            );
        }
        for f in &files {
            assert!(!contains(f, needle), "a data file contains {shown}");
        }
    }
}
