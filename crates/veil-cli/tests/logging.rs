//! Structured logs: every OHTTP request gets an id, which the (encrypted)
//! response carries and the JSON log lines of that request record; no
//! request data reaches the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use common::*;
use veil_protocol::ErrorCode;
use veil_protocol::channel::REQUEST_MEDIA_TYPE;
use veil_protocol::inner::InnerRequest;
use veil_protocol::oip::{self, InferRequest};
use veil_tensor::Tensor;

fn is_request_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requests_have_ids_in_responses_and_json_logs_without_request_data() {
    let logs = captured_logs(LogFormat::Json);
    // 27182.375 + k/4: exact in f32, unmistakable in decimal and in hex.
    let secret: Vec<f32> = (0..16).map(|k| 27182.375 + k as f32 * 0.25).collect();
    let secret_bytes: Vec<u8> = secret.iter().flat_map(|v| v.to_le_bytes()).collect();

    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start_serving_mlp(config(dir.path())).await;

    // An inference through `send`: the inner response carries the id.
    let request = InferRequest::new(vec![(
        "x".into(),
        Tensor::from_values(vec![1, 16], secret.clone()).unwrap(),
    )]);
    let encoded = request.encode(true).unwrap();
    let mut headers = vec![("content-type".to_string(), encoded.content_type().into())];
    if let Some(n) = encoded.header_length {
        headers.push((oip::HEADER_LENGTH_HEADER.into(), n.to_string()));
    }
    let resp = client
        .send(&InnerRequest {
            method: "POST".into(),
            path: "/v2/models/mlp/infer".into(),
            headers,
            body: encoded.body,
        })
        .await
        .unwrap();
    assert_eq!(resp.status, 200);
    let infer_id = resp
        .header("x-request-id")
        .expect("the inner response carries x-request-id")
        .to_owned();
    assert!(is_request_id(&infer_id), "{infer_id}");

    // A second request gets another id.
    let again = client.list_models().await;
    assert!(again.is_ok());

    // An inner error: the client's error exposes the id.
    let err = client
        .infer(
            "nope",
            &InferRequest::new(vec![(
                "x".into(),
                Tensor::from_values(vec![1, 16], secret.clone()).unwrap(),
            )]),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ModelNotFound));
    let error_id = err.request_id().expect("the error carries the request id");
    assert!(is_request_id(error_id), "{error_id}");
    assert_ne!(error_id, infer_id);

    // A plaintext outer error (bad encapsulation) has it as a header.
    let outer = reqwest::Client::new()
        .post(format!("{}/v1/ohttp", server.url))
        .header("content-type", REQUEST_MEDIA_TYPE)
        .body(vec![0u8; 64])
        .send()
        .await
        .unwrap();
    assert_eq!(outer.status(), 400);
    let outer_id = outer
        .headers()
        .get("x-request-id")
        .expect("a plaintext error carries x-request-id")
        .to_str()
        .unwrap()
        .to_owned();
    assert!(is_request_id(&outer_id), "{outer_id}");
    server.stop();

    let captured = logs.lock().unwrap().clone();
    let text = String::from_utf8(captured.clone()).expect("logs are UTF-8");
    let mut lines = 0;
    let with_id = |id: &str| {
        text.lines()
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("a log line is JSON"))
            .filter(|v| v.to_string().contains(id))
            .count()
    };
    for line in text.lines().filter(|l| !l.is_empty()) {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
        lines += 1;
    }
    assert!(lines > 0, "nothing was logged");
    for id in [&infer_id, error_id, &outer_id] {
        assert!(with_id(id) > 0, "no log line carries request id {id}");
    }
    // The id is a span field, so it is in the JSON under `span`.
    assert!(text.contains(&format!("\"request_id\":\"{infer_id}\"")));

    let needles: Vec<Vec<u8>> = vec![
        secret_bytes[..8].to_vec(),
        hex::encode(&secret_bytes[..8]).into_bytes(),
        hex::encode_upper(&secret_bytes[..8]).into_bytes(),
        b"27182".to_vec(),
        OWNER.as_bytes().to_vec(),
        b"/v2/models/".to_vec(),
        b"/v2/repository".to_vec(),
    ];
    for needle in &needles {
        assert!(
            !contains(&captured, needle),
            "the logs hold {:?}",
            String::from_utf8_lossy(needle)
        );
    }
}
