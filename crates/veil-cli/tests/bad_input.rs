//! Every bad input gets a precise typed error, and the server keeps serving:
//! after each one, a good inference must still succeed.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use common::*;
use futures::io::AsyncWriteExt;
use veil_client::Client;
use veil_protocol::channel::{CHUNKED_REQUEST_MEDIA_TYPE, REQUEST_MEDIA_TYPE};
use veil_protocol::inner::{self, InnerRequest, InnerResponse, StreamingRequestHead};
use veil_protocol::oip::InferRequest;
use veil_protocol::{ErrorBody, ErrorCode};
use veil_tensor::Tensor;

fn x(rows: usize, cols: usize) -> Tensor {
    Tensor::from_values(
        vec![rows, cols],
        (0..rows * cols).map(|i| i as f32 * 0.25).collect(),
    )
    .unwrap()
}

async fn good_inference_still_works(client: &Client) {
    let out = client
        .infer("mlp", &InferRequest::new(vec![("x".into(), x(2, 16))]))
        .await
        .unwrap();
    assert_eq!(out.outputs[0].1.shape(), &[2, 4]);
}

/// Sends a raw inner request and returns the error body it must produce.
async fn inner_error(client: &Client, req: InnerRequest) -> (u16, ErrorBody) {
    let resp = client.send(&req).await.unwrap();
    assert!(resp.status >= 400, "expected an error, got {}", resp.status);
    (
        resp.status,
        serde_json::from_slice(&resp.body).expect("error body is JSON"),
    )
}

fn req(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> InnerRequest {
    InnerRequest {
        method: method.into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        body: body.to_vec(),
    }
}

const AUTH: (&str, &str) = ("authorization", "Bearer owner-secret-token");

async fn expect_client_error<T: std::fmt::Debug>(
    r: Result<T, veil_client::ClientError>,
    code: ErrorCode,
) {
    let e = r.expect_err("must be refused");
    assert_eq!(e.code(), Some(code), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_survives_every_bad_input_and_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.limits.max_request_bytes = 256 * 1024;
    cfg.limits.max_model_bytes = 64 * 1024;
    cfg.limits.max_tensor_elements = 10_000;
    let (server, client) = start_serving_mlp(cfg).await;
    let mlp_sha = client.model_metadata("mlp").await.unwrap().sha256;
    good_inference_still_works(&client).await;

    // Models the engine cannot serve.
    expect_client_error(
        client
            .upload_model("bad", b"this is not an onnx model", |_, _| {})
            .await,
        ErrorCode::InvalidModel,
    )
    .await;
    expect_client_error(
        client.upload_model("bad", b"", |_, _| {}).await,
        ErrorCode::InvalidModel,
    )
    .await;
    expect_client_error(
        client
            .upload_model("strings", &model_bytes("strings.onnx"), |_, _| {})
            .await,
        ErrorCode::InvalidModel,
    )
    .await;
    expect_client_error(
        client
            .upload_model("seq", &model_bytes("sequence_output.onnx"), |_, _| {})
            .await,
        ErrorCode::InvalidModel,
    )
    .await;
    // Half a real model.
    let half = &model_bytes("mlp.onnx")[..1500];
    expect_client_error(
        client.upload_model("half", half, |_, _| {}).await,
        ErrorCode::InvalidModel,
    )
    .await;
    good_inference_still_works(&client).await;

    // Oversized model.
    expect_client_error(
        client
            .upload_model("big", &vec![0u8; 100 * 1024], |_, _| {})
            .await,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    // Bad model names.
    let (_, e) = inner_error(
        &client,
        req("PUT", "/v2/repository/models/..%2Fescape", &[AUTH], b"x"),
    )
    .await;
    assert_eq!(e.code, ErrorCode::BadRequest);
    let (_, e) = inner_error(
        &client,
        req("PUT", "/v2/repository/models/.hidden", &[AUTH], b"x"),
    )
    .await;
    assert_eq!(e.code, ErrorCode::BadRequest);

    // Access control.
    let anonymous = connect(&server.url, None).await;
    expect_client_error(
        anonymous.upload_model("mlp", b"x", |_, _| {}).await,
        ErrorCode::Unauthorized,
    )
    .await;
    expect_client_error(anonymous.delete_model("mlp").await, ErrorCode::Unauthorized).await;
    let (s, e) = inner_error(
        &client,
        req(
            "DELETE",
            "/v2/repository/models/mlp",
            &[("authorization", "Bearer wrong")],
            b"",
        ),
    )
    .await;
    assert_eq!((s, e.code), (401, ErrorCode::Unauthorized));
    good_inference_still_works(&client).await;

    // Inference on a model that does not exist.
    expect_client_error(
        client
            .infer("nope", &InferRequest::new(vec![("x".into(), x(1, 16))]))
            .await,
        ErrorCode::ModelNotFound,
    )
    .await;

    // Inputs that do not fit the signature: each names what the model expects.
    let bad_inputs = vec![
        vec![("wrong_name".to_string(), x(1, 16))],
        vec![("x".to_string(), x(1, 15))],
        vec![(
            "x".to_string(),
            Tensor::from_values(vec![1, 16], vec![0.5f64; 16]).unwrap(),
        )],
        vec![(
            "x".to_string(),
            Tensor::from_values(vec![16], vec![0.5f32; 16]).unwrap(),
        )],
        vec![("x".to_string(), x(1, 16)), ("extra".to_string(), x(1, 16))],
        vec![],
    ];
    for inputs in bad_inputs {
        let err = client
            .infer("mlp", &InferRequest::new(inputs))
            .await
            .unwrap_err();
        match err {
            veil_client::ClientError::Server {
                code,
                expected,
                message,
                ..
            } => {
                assert_eq!(code, ErrorCode::InvalidInput, "{message}");
                let expected = expected.expect("invalid_input carries the expected signature");
                assert_eq!(expected.inputs[0].name, "x");
            }
            other => panic!("unexpected {other}"),
        }
    }
    // Too many elements for the configured limit.
    expect_client_error(
        client
            .infer("mlp", &InferRequest::new(vec![("x".into(), x(1000, 16))]))
            .await,
        ErrorCode::PayloadTooLarge,
    )
    .await;
    // Unknown output name.
    let mut r = InferRequest::new(vec![("x".into(), x(1, 16))]);
    r.outputs = Some(vec![veil_protocol::oip::RequestedOutput {
        name: "nope".into(),
        binary: None,
    }]);
    expect_client_error(client.infer("mlp", &r).await, ErrorCode::InvalidInput).await;
    // The model changed under the client.
    let mut r = InferRequest::new(vec![("x".into(), x(1, 16))]);
    r.expected_sha256 = Some("00".repeat(32));
    expect_client_error(client.infer("mlp", &r).await, ErrorCode::ModelHashMismatch).await;
    r.expected_sha256 = Some(mlp_sha.to_uppercase());
    client.infer("mlp", &r).await.unwrap();
    good_inference_still_works(&client).await;

    // Malformed inference bodies.
    let infer = "/v2/models/mlp/infer";
    for (headers, body, code) in [
        (vec![], &b"{not json"[..], ErrorCode::BadRequest),
        (vec![], br#"{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","data":[1,2]}]}"#, ErrorCode::InvalidInput),
        (vec![], br#"{"inputs":[{"name":"x","shape":[1,16],"datatype":"STRING","data":[]}]}"#, ErrorCode::InvalidInput),
        (vec![("inference-header-content-length", "99999")], b"{}", ErrorCode::BadRequest),
        (vec![("inference-header-content-length", "abc")], b"{}", ErrorCode::BadRequest),
        (
            vec![("inference-header-content-length", "95")],
            br#"{"inputs":[{"name":"x","shape":[1,16],"datatype":"FP32","parameters":{"binary_data_size":64}}]}0123"#,
            ErrorCode::InvalidInput,
        ),
    ] {
        let (_, e) = inner_error(&client, req("POST", infer, &headers, body)).await;
        assert_eq!(e.code, code, "{}", e.error);
    }
    // Unknown routes and methods inside the channel.
    let (s, e) = inner_error(&client, req("GET", "/v2/nothing/here", &[], b"")).await;
    assert_eq!((s, e.code), (404, ErrorCode::NotFound));
    let (s, e) = inner_error(&client, req("PATCH", "/v2/models/mlp/infer", &[], b"")).await;
    assert_eq!((s, e.code), (405, ErrorCode::MethodNotAllowed));
    good_inference_still_works(&client).await;

    // The outer layer: garbage ciphertext, wrong media type, oversized body, a
    // valid encapsulation of something that is not binary HTTP, bad nonces.
    let http = reqwest::Client::new();
    let ohttp = format!("{}/v1/ohttp", server.url);
    for garbage in [vec![], vec![0u8; 3], vec![1u8; 500]] {
        let r = http
            .post(&ohttp)
            .header("content-type", REQUEST_MEDIA_TYPE)
            .body(garbage)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400);
        let e: ErrorBody = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
        assert_eq!(e.code, ErrorCode::BadEncapsulation);
    }
    let r = http
        .post(&ohttp)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let r = http
        .post(&ohttp)
        .header("content-type", REQUEST_MEDIA_TYPE)
        .body(vec![0u8; 300 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
    let e: ErrorBody = serde_json::from_slice(&r.bytes().await.unwrap()).unwrap();
    assert_eq!(e.code, ErrorCode::PayloadTooLarge);
    let key = veil_protocol::channel::ClientKey::new(client.key_config().to_vec()).unwrap();
    let (enc, opener) = key.encapsulate(b"\x00\x07garbage").unwrap();
    let r = http
        .post(&ohttp)
        .header("content-type", REQUEST_MEDIA_TYPE)
        .body(enc)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let inner = InnerResponse::decode(&opener.open(&r.bytes().await.unwrap()).unwrap()).unwrap();
    assert_eq!(inner.status, 400);
    for q in ["", "?nonce=", "?nonce=zz", "?nonce=00"] {
        let r = http
            .get(format!("{}/v1/attestation{q}", server.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{q}");
    }
    good_inference_still_works(&client).await;

    // Truncated chunked uploads: cut at every few bytes, never stored. Each
    // carries a fresh challenge, so each reaches the body (not a replay).
    let model = model_bytes("mlp.onnx");
    let upload = || async {
        let challenge = client.challenge().await.unwrap();
        chunked_upload_ciphertext(client.key_config(), "cut", &model, &challenge).await
    };
    let full = upload().await;
    for cut in (0..full.len())
        .step_by(full.len() / 23)
        .chain([full.len() - 1])
    {
        let r = http
            .post(&ohttp)
            .header("content-type", CHUNKED_REQUEST_MEDIA_TYPE)
            .body(upload().await[..cut].to_vec())
            .send()
            .await
            .unwrap();
        let _ = r.bytes().await;
        assert!(
            client.model_metadata("cut").await.is_err(),
            "a truncated upload (cut at {cut}) was stored"
        );
    }
    // The uncut stream is accepted: the test really exercises the upload path.
    let r = http
        .post(&ohttp)
        .header("content-type", CHUNKED_REQUEST_MEDIA_TYPE)
        .body(upload().await)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(client.model_metadata("cut").await.unwrap().sha256, mlp_sha);
    good_inference_still_works(&client).await;
    assert_eq!(
        std::fs::read_dir(dir.path().join("tmp")).unwrap().count(),
        0,
        "no temp files left behind"
    );
    server.stop();
}

/// A complete chunked-OHTTP upload of `model` as `name`, as bytes.
async fn chunked_upload_ciphertext(
    key_config: &[u8],
    name: &str,
    model: &[u8],
    challenge: &str,
) -> Vec<u8> {
    let head = StreamingRequestHead::encode(
        "PUT",
        &format!("/v2/repository/models/{name}"),
        &[
            ("authorization".into(), format!("Bearer {OWNER}")),
            ("veil-challenge".into(), challenge.into()),
        ],
    )
    .unwrap();
    let mut plain = head;
    for chunk in model.chunks(700) {
        inner::write_body_chunk(chunk, &mut plain);
    }
    inner::write_body_end(&mut plain);
    let mut out = Vec::new();
    let mut w = ohttp::ClientRequest::from_encoded_config_list(key_config)
        .unwrap()
        .encapsulate_stream(&mut out)
        .unwrap();
    for piece in plain.chunks(1000) {
        w.write_all(piece).await.unwrap();
    }
    w.close().await.unwrap();
    drop(w);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_needs_an_api_key_when_one_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.api_keys = vec![veil_server::auth::TokenHash::of("user-key")];
    let server = start(cfg).await;
    connect(&server.url, Some(OWNER))
        .await
        .upload_model("mlp", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap();
    let anonymous = connect(&server.url, None).await;
    let r = InferRequest::new(vec![("x".into(), x(1, 16))]);
    expect_client_error(anonymous.infer("mlp", &r).await, ErrorCode::Unauthorized).await;
    expect_client_error(anonymous.list_models().await, ErrorCode::Unauthorized).await;
    let mut opts = veil_client::ConnectOptions::new(
        veil_attest::Policy::insecure_simulation_any_measurement(),
    );
    opts.api_key = Some("user-key".into());
    let user = Client::connect(&server.url, opts).await.unwrap();
    user.infer("mlp", &r).await.unwrap();
    // An API key is not an owner token.
    expect_client_error(user.delete_model("mlp").await, ErrorCode::Unauthorized).await;
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_messages_never_echo_request_values() {
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start_serving_mlp(config(dir.path())).await;
    let marker = 987654.25f32;
    let probes = vec![
        vec![(
            "x".to_string(),
            Tensor::from_values(vec![1, 15], vec![marker; 15]).unwrap(),
        )],
        vec![(
            "x".to_string(),
            Tensor::from_values(vec![1, 16], vec![marker as f64; 16]).unwrap(),
        )],
        vec![
            (
                "x".to_string(),
                Tensor::from_values(vec![1, 16], vec![marker; 16]).unwrap(),
            ),
            ("y".to_string(), x(1, 1)),
        ],
    ];
    for inputs in probes {
        let err = client
            .infer("mlp", &InferRequest::new(inputs))
            .await
            .unwrap_err()
            .to_string();
        assert!(!err.contains("987654"), "{err}");
    }
    let (_, e) = inner_error(
        &client,
        req(
            "POST",
            "/v2/models/mlp/infer",
            &[],
            br#"{"inputs":[{"name":"x","shape":[1,16],"datatype":"INT8","data":[987654]}]}"#,
        ),
    )
    .await;
    assert!(!e.error.contains("987654"), "{}", e.error);
    server.stop();
}
