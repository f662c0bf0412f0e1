//! Owner-encrypted uploads end to end: an owner encrypts a model to the
//! verified server's model key (`veil encrypt-model`), anyone holding the
//! owner token uploads the file (`veil upload`), and only that server opens
//! it — across restarts, since the key derives from the sealing key — while
//! a file for another server, a changed one or a cut one is refused and
//! nothing of it is stored.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::path::Path;

use common::*;
use sha2::{Digest, Sha256};
use veil_protocol::ErrorCode;
use veil_protocol::oip::InferRequest;

/// Runs the built `veil` off the runtime's worker threads (the server under
/// test runs on them) and returns its stdout as JSON, asserting success.
async fn veil_json(args: Vec<String>) -> serde_json::Value {
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        veil(&args)
    })
    .await
    .unwrap();
    assert!(
        out.status.success(),
        "veil failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

fn tmp_is_empty(data_dir: &Path) -> bool {
    std::fs::read_dir(data_dir.join("tmp"))
        .unwrap()
        .next()
        .is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_encrypts_to_the_attested_key_and_only_that_server_opens_it_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let encrypted = files.path().join("mlp.onnx.veil");
    let model = model_bytes("mlp.onnx");
    let sha256 = hex::encode(Sha256::digest(&model));

    let server = start(config(dir.path())).await;
    let summary = veil_json(args(&[
        "encrypt-model",
        &server.url,
        "--allow-simulation",
        "--quiet",
        &model_path("mlp.onnx").display().to_string(),
        "-o",
        &encrypted.display().to_string(),
    ]))
    .await;
    let key_id = connect(&server.url, None)
        .await
        .model_key()
        .await
        .unwrap()
        .key_id()
        .to_string();
    assert_eq!(summary["key_id"], key_id.as_str());
    // `veil attest` shows the same key id, fetched inside the channel.
    let url = server.url.clone();
    let attest = tokio::task::spawn_blocking(move || veil(&["attest", &url, "--allow-simulation"]))
        .await
        .unwrap();
    let shown = String::from_utf8_lossy(&attest.stdout);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("model key:") && l.contains(&key_id)),
        "{shown}"
    );
    assert_eq!(summary["sha256"], sha256.as_str());
    assert_eq!(summary["model_bytes"], model.len() as u64);
    let file = std::fs::read(&encrypted).unwrap();
    assert_eq!(summary["encrypted_bytes"], file.len() as u64);
    assert!(
        !contains(&file, &model[model.len() / 2..model.len() / 2 + 48]),
        "the weights are in the encrypted file"
    );
    assert_eq!(
        std::fs::read_dir(files.path()).unwrap().count(),
        1,
        "no partial file left beside the output"
    );

    // Whoever holds the owner token uploads the file; the server opens it.
    let info = veil_json(args(&[
        "upload",
        &server.url,
        "--allow-simulation",
        "--owner-token",
        OWNER,
        "--quiet",
        "mlp",
        &encrypted.display().to_string(),
    ]))
    .await;
    assert_eq!(info["sha256"], sha256.as_str());
    let user = connect(&server.url, None).await;
    let mut request = InferRequest::new(vec![("x".into(), mlp_input(2))]);
    request.expected_sha256 = Some(sha256.clone());
    let served = user.infer("mlp", &request).await.unwrap();

    // The model key survives a restart: the same file opens again.
    server.shutdown().await;
    let server = start(config(dir.path())).await;
    let owner = connect(&server.url, Some(OWNER)).await;
    assert_eq!(
        owner.model_key().await.unwrap().key_id().to_string(),
        key_id
    );
    let info = owner
        .upload_model_file("again", &encrypted, |_, _| {})
        .await
        .unwrap();
    assert_eq!(info.sha256, sha256);
    let again = owner.infer("again", &request).await.unwrap();
    assert_eq!(again.outputs, served.outputs);

    // Another server (another sealing key) has another model key and
    // refuses the file, naming both keys; nothing of it is stored.
    let other_dir = tempfile::tempdir().unwrap();
    let other = start(config(other_dir.path())).await;
    let other_owner = connect(&other.url, Some(OWNER)).await;
    let other_key = other_owner.model_key().await.unwrap().key_id().to_string();
    assert_ne!(other_key, key_id);
    let err = other_owner
        .upload_model_file("mlp", &encrypted, |_, _| {})
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::InvalidModel), "{err}");
    let message = err.to_string();
    assert!(
        message.contains(&key_id) && message.contains(&other_key),
        "{message}"
    );
    assert!(model_names(&other_owner).await.is_empty());
    assert!(tmp_is_empty(other_dir.path()));
    other.shutdown().await;
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changed_or_cut_encrypted_models_are_refused_and_the_served_model_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (server, owner) = start_serving_mlp(config(dir.path())).await;
    let mlp = owner.model_metadata("mlp").await.unwrap().sha256;

    // In memory through the library: the same format as the CLI's file.
    let (encrypted, summary) = owner.encrypt_model(&model_bytes("add.onnx")).await.unwrap();
    assert_eq!(summary.encrypted_bytes, encrypted.len() as u64);
    let header = veil_model_crypto::owner::HEADER_BYTES;
    let mut bad_files = Vec::new();
    for at in [9, 50, 75, header + 3, encrypted.len() - 1] {
        let mut changed = encrypted.clone();
        changed[at] ^= 0x01;
        bad_files.push((format!("flipped byte {at}"), changed));
    }
    for cut in [20, header, header + 10, encrypted.len() - 1] {
        bad_files.push((format!("cut at {cut}"), encrypted[..cut].to_vec()));
    }
    for (what, bytes) in bad_files {
        let err = owner
            .upload_model("mlp", &bytes, |_, _| {})
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InvalidModel), "{what}: {err}");
        assert!(
            err.to_string().contains("owner-encrypted model"),
            "{what}: {err}"
        );
        // The model of that name is untouched and still served.
        assert_eq!(
            owner.model_metadata("mlp").await.unwrap().sha256,
            mlp,
            "{what}"
        );
        assert!(tmp_is_empty(dir.path()), "{what}");
    }
    // Sent as plaintext (a hand-made request without the content type):
    // refused with the remedy, not handed to ONNX Runtime.
    let headers = vec![
        ("authorization".to_owned(), format!("Bearer {OWNER}")),
        (
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        (
            veil_protocol::challenge::CHALLENGE_HEADER.to_owned(),
            owner.challenge().await.unwrap(),
        ),
    ];
    let response = owner
        .send(&veil_protocol::inner::InnerRequest {
            method: "PUT".into(),
            path: "/v2/repository/models/add".into(),
            headers,
            body: encrypted.clone(),
        })
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    let body = String::from_utf8_lossy(&response.body);
    assert!(
        body.contains("invalid_model") && body.contains(veil_model_crypto::owner::MEDIA_TYPE),
        "{body}"
    );
    assert!(tmp_is_empty(dir.path()));

    let info = owner
        .upload_model("add", &encrypted, |_, _| {})
        .await
        .unwrap();
    assert_eq!(info.sha256, summary.sha256);
    assert_eq!(model_names(&owner).await, ["add", "mlp"]);
    server.shutdown().await;
}
