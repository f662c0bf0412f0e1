//! Replay of state-changing calls: a recording relay between a client and
//! the server keeps the ciphertext of an upload and of a delete; replayed
//! byte for byte later, each is refused inside the channel and changes
//! nothing. A missing, malformed, unknown or reused challenge is refused
//! with a precise `invalid_challenge` error (expiry: the unit tests of
//! `veil_server::challenge`, whose clock is a parameter).
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use common::*;
use veil_client::Client;
use veil_protocol::challenge::CHALLENGE_HEADER;
use veil_protocol::inner::{InnerRequest, InnerResponse};
use veil_protocol::oip::InferRequest;
use veil_protocol::{ErrorBody, ErrorCode};

/// One request the relay passed on to `/v1/ohttp`.
#[derive(Clone)]
struct Recorded {
    content_type: String,
    body: Vec<u8>,
}

#[derive(Clone)]
struct Relay {
    upstream: String,
    http: reqwest::Client,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

/// Forwards every request to the server and keeps the ciphertext requests.
async fn relay(State(relay): State<Relay>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, 64 << 20).await.unwrap().to_vec();
    let content_type = parts
        .headers
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    if parts.uri.path() == "/v1/ohttp" {
        relay.recorded.lock().unwrap().push(Recorded {
            content_type: content_type.clone().unwrap_or_default(),
            body: body.clone(),
        });
    }
    let path = parts.uri.path_and_query().unwrap().as_str();
    let mut forwarded = relay
        .http
        .request(parts.method, format!("{}{path}", relay.upstream))
        .body(body);
    if let Some(ct) = content_type {
        forwarded = forwarded.header(header::CONTENT_TYPE, ct);
    }
    let answer = forwarded.send().await.unwrap();
    let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
    let ct = answer.headers().get(header::CONTENT_TYPE).cloned();
    let mut response = (status, Body::from(answer.bytes().await.unwrap())).into_response();
    if let Some(ct) = ct {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

async fn start_relay(upstream: &str) -> (String, Arc<Mutex<Vec<Recorded>>>) {
    let recorded = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().fallback(relay).with_state(Relay {
        upstream: upstream.to_owned(),
        http: reqwest::Client::new(),
        recorded: recorded.clone(),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), recorded)
}

/// Sends recorded ciphertext to the server again, byte for byte, as an
/// attacker who captured it would; returns the outer status.
async fn replay(server_url: &str, request: &Recorded) -> u16 {
    reqwest::Client::new()
        .post(format!("{server_url}/v1/ohttp"))
        .header(header::CONTENT_TYPE, &request.content_type)
        .body(request.body.clone())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// The last ciphertext request the relay saw: the state-changing call
/// itself (the challenge request comes before it).
fn last(recorded: &Mutex<Vec<Recorded>>) -> Recorded {
    recorded.lock().unwrap().last().unwrap().clone()
}

async fn served(client: &Client) -> BTreeMap<String, String> {
    client
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| (m.name, m.sha256.unwrap()))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_uploads_and_deletes_are_refused_and_change_nothing() {
    let logs = captured_logs(LogFormat::Text);
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let (relay_url, recorded) = start_relay(&server.url).await;
    let client = connect(&relay_url, Some(OWNER)).await;

    let add = client
        .upload_model("m", &model_bytes("add.onnx"), |_, _| {})
        .await
        .unwrap();
    let upload = last(&recorded);
    assert!(
        upload.content_type.contains("chunked"),
        "the upload is chunked OHTTP"
    );
    client.delete_model("m").await.unwrap();
    let delete = last(&recorded);
    assert!(served(&client).await.is_empty());

    // The upload, replayed after its model was deleted: not stored again.
    logs.lock().unwrap().clear();
    assert_eq!(
        replay(&server.url, &upload).await,
        200,
        "refused inside the channel"
    );
    assert!(
        served(&client).await.is_empty(),
        "a replayed upload restored a model"
    );
    assert!(contains(
        &logs.lock().unwrap(),
        b"state-changing call refused: stale or replayed challenge"
    ));

    // A new model under the same name; replaying the delete and the old
    // upload leaves it alone.
    let mlp = client
        .upload_model("m", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap();
    assert_ne!(mlp.sha256, add.sha256);
    assert_eq!(replay(&server.url, &delete).await, 200);
    assert_eq!(replay(&server.url, &upload).await, 200);
    assert_eq!(
        served(&client).await,
        BTreeMap::from([("m".into(), mlp.sha256.clone())])
    );
    let mut req = InferRequest::new(vec![("x".into(), mlp_input(1))]);
    req.expected_sha256 = Some(mlp.sha256);
    client.infer("m", &req).await.unwrap();

    // Inference replays are allowed: they recompute the same sealed answer
    // for whoever holds the original request's key (docs/threat-model.md).
    client.infer("m", &req).await.unwrap();
    let inference = last(&recorded);
    assert_eq!(replay(&server.url, &inference).await, 200);
    server.stop();
}

/// Deletes model `m` by hand, with the owner token and `challenge` if any.
async fn send_delete(client: &Client, challenge: Option<&str>) -> InnerResponse {
    let mut headers = vec![("authorization".to_owned(), format!("Bearer {OWNER}"))];
    if let Some(c) = challenge {
        headers.push((CHALLENGE_HEADER.to_owned(), c.to_owned()));
    }
    client
        .send(&InnerRequest {
            method: "DELETE".into(),
            path: "/v2/repository/models/m".into(),
            headers,
            body: Vec::new(),
        })
        .await
        .unwrap()
}

/// A delete that must be refused with 403: its error body.
async fn delete_with(client: &Client, challenge: Option<&str>) -> ErrorBody {
    let resp = send_delete(client, challenge).await;
    assert_eq!(resp.status, 403);
    serde_json::from_slice(&resp.body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_bad_challenge_is_refused_with_a_precise_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let client = connect(&server.url, Some(OWNER)).await;
    client
        .upload_model("m", &model_bytes("add.onnx"), |_, _| {})
        .await
        .unwrap();

    let cases = [
        (None, "needs a fresh challenge"),
        (Some("not hex"), "64 hex digits"),
        (Some(&*"ab".repeat(32)), "unknown to this server"),
    ];
    for (challenge, says) in cases {
        let e = delete_with(&client, challenge).await;
        assert_eq!(e.code, ErrorCode::InvalidChallenge);
        assert!(e.error.contains(says), "{}", e.error);
    }
    // A challenge is good for one call: the second use is refused.
    let challenge = client.challenge().await.unwrap();
    assert_eq!(send_delete(&client, Some(&challenge)).await.status, 200);
    let e = delete_with(&client, Some(&challenge)).await;
    assert_eq!(e.code, ErrorCode::InvalidChallenge);
    assert!(e.error.contains("already used"), "{}", e.error);

    // Without an owner token there is no challenge to be had.
    let anonymous = connect(&server.url, None).await;
    assert_eq!(
        anonymous.challenge().await.unwrap_err().code(),
        Some(ErrorCode::Unauthorized)
    );
    server.stop();
}
