//! Failed authentication is rate limited: after a burst of wrong tokens the
//! server answers `429 too_many_requests` with `Retry-After`, for every
//! token alike (so a guesser learns nothing faster than the limit), serves
//! calls that need no token meanwhile, and lets the owner in again after
//! the wait.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::time::Duration;

use common::*;
use veil_client::Client;
use veil_protocol::challenge::CHALLENGE_PATH;
use veil_protocol::inner::InnerRequest;
use veil_protocol::{ErrorBody, ErrorCode};
use veil_server::auth::{FAILED_AUTH_BURST, TokenHash};

/// An owner-only call with `token`; returns the status, the error code and
/// the `Retry-After` value.
async fn owner_call(client: &Client, token: &str) -> (u16, Option<ErrorCode>, Option<u64>) {
    let resp = client
        .send(&InnerRequest {
            method: "POST".into(),
            path: CHALLENGE_PATH.into(),
            headers: vec![("authorization".into(), format!("Bearer {token}"))],
            body: Vec::new(),
        })
        .await
        .unwrap();
    let code = serde_json::from_slice::<ErrorBody>(&resp.body)
        .ok()
        .map(|b| b.code);
    let retry = resp.header("retry-after").map(|v| v.parse().unwrap());
    (resp.status, code, retry)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_owner_tokens_are_rate_limited_with_429_and_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let client = connect(&server.url, None).await;

    for _ in 0..FAILED_AUTH_BURST {
        assert_eq!(
            owner_call(&client, "a guess").await,
            (401, Some(ErrorCode::Unauthorized), None)
        );
    }
    // The limit holds: wrong and right tokens alike get 429, unchecked.
    let (status, code, guesser_wait) = owner_call(&client, "another guess").await;
    assert_eq!((status, code), (429, Some(ErrorCode::TooManyRequests)));
    let (status, code, owner_wait) = owner_call(&client, OWNER).await;
    assert_eq!((status, code), (429, Some(ErrorCode::TooManyRequests)));
    let wait = guesser_wait.unwrap().max(owner_wait.unwrap());
    assert!(wait >= 1);
    // Calls that check no token are served meanwhile.
    assert!(client.list_models().await.unwrap().is_empty());

    // After the wait the owner gets in (a challenge, then the upload).
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let owner = connect(&server.url, Some(OWNER)).await;
    owner
        .upload_model("m", &model_bytes("add.onnx"), |_, _| {})
        .await
        .unwrap();
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_api_keys_are_rate_limited_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = config(dir.path());
    cfg.api_keys = vec![TokenHash::of("user-key")];
    let server = start(cfg).await;
    let guesser = connect(&server.url, None).await;
    let mut codes = Vec::new();
    for _ in 0..=FAILED_AUTH_BURST {
        codes.push(guesser.list_models().await.unwrap_err().code().unwrap());
    }
    assert!(
        codes[..FAILED_AUTH_BURST as usize]
            .iter()
            .all(|c| *c == ErrorCode::Unauthorized)
    );
    assert_eq!(codes.last(), Some(&ErrorCode::TooManyRequests));
    server.stop();
}
