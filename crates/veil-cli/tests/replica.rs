//! Replicas share the sealing key, and only with each other: a server
//! started with `--join-replica` verifies that the running one runs the same
//! code, takes its sealing key sealed to itself, and then serves the same
//! sealed models and accepts models encrypted to the same model key; a
//! joiner running other code, or a sharer running other code, gets nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use veil_attest::{Check, SimulatedProducer};
use veil_client::ClientError;
use veil_protocol::ErrorCode;
use veil_protocol::oip::InferRequest;
use veil_server::replica::SharedSealingKey;
use veil_server::seal::SealingKey;

const MEASUREMENT: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
const OTHER_CODE: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";

fn producer(measurement: &str) -> SimulatedProducer {
    SimulatedProducer::generate(measurement.parse().unwrap())
}

/// Copies the sealed model files of `from` into `to` (shared storage).
fn copy_models(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.join("models")).unwrap();
    for entry in std::fs::read_dir(from.join("models")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join("models").join(path.file_name().unwrap())).unwrap();
    }
}

async fn infer_mlp(url: &str, name: &str, sha256: &str) -> Result<InferRequest, ClientError> {
    let client = connect(url, None).await;
    let mut request = InferRequest::new(vec![("x".into(), mlp_input(2))]);
    request.expected_sha256 = Some(sha256.to_owned());
    client.infer(name, &request).await.map(|_| request)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_of_the_same_code_gets_the_key_and_serves_the_same_sealed_models() {
    let dir_a = tempfile::tempdir().unwrap();
    let a = start_measured(
        config(dir_a.path()),
        "127.0.0.1:0".parse().unwrap(),
        MEASUREMENT,
    )
    .await;
    let owner_a = connect(&a.url, Some(OWNER)).await;
    let mlp = owner_a
        .upload_model("mlp", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap()
        .sha256;
    let key_a = owner_a.model_key().await.unwrap();
    let (encrypted, _) = owner_a
        .encrypt_model(&model_bytes("add.onnx"))
        .await
        .unwrap();

    // Without A's key, a copy of A's store serves nothing.
    let dir_c = tempfile::tempdir().unwrap();
    copy_models(dir_a.path(), dir_c.path());
    let c = start_measured(
        config(dir_c.path()),
        "127.0.0.1:0".parse().unwrap(),
        MEASUREMENT,
    )
    .await;
    let err = infer_mlp(&c.url, "mlp", &mlp).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ModelNotFound), "{err}");
    c.shutdown().await;

    // B joins A: same code, so A's key, so A's models and model key.
    let shared =
        veil_client::replica::join(&a.url, &producer(MEASUREMENT), Duration::from_secs(30))
            .await
            .unwrap();
    assert_eq!(shared.sharer.measurement.to_string(), MEASUREMENT);
    let dir_b = tempfile::tempdir().unwrap();
    copy_models(dir_a.path(), dir_b.path());
    let mut config_b = config(dir_b.path());
    config_b.shared_sealing_key = Some(SharedSealingKey::new(
        SealingKey::from_bytes(shared.key),
        &a.url,
    ));
    let b = start_measured(config_b, "127.0.0.1:0".parse().unwrap(), MEASUREMENT).await;
    infer_mlp(&b.url, "mlp", &mlp).await.unwrap();
    let owner_b = connect(&b.url, Some(OWNER)).await;
    assert_eq!(owner_b.model_key().await.unwrap(), key_a);
    owner_b
        .upload_model("add", &encrypted, |_, _| {})
        .await
        .unwrap();
    assert!(
        !dir_b.path().join("sealing-key").exists(),
        "the joined replica keeps no key file"
    );
    b.shutdown().await;
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_joiner_running_other_code_is_refused_and_never_learns_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let a = start_measured(
        config(dir.path()),
        "127.0.0.1:0".parse().unwrap(),
        MEASUREMENT,
    )
    .await;
    // The joiner pins its own measurement, so it would not talk to A either;
    // here it is asked to pin A's, as a modified joiner would, and A refuses.
    let joiner = veil_protocol::replica::JoinerKey::generate();
    let report_data = veil_protocol::replica::report_data(joiner.public_key());
    let evidence =
        veil_attest::EvidenceProducer::produce(&producer(OTHER_CODE), &report_data).unwrap();
    let sharer = connect(&a.url, None).await;
    let send = |request: veil_protocol::replica::JoinRequest| {
        let sharer = &sharer;
        async move {
            sharer
                .send(&veil_protocol::inner::InnerRequest {
                    method: "POST".into(),
                    path: veil_protocol::replica::SEALING_KEY_PATH.into(),
                    headers: vec![("content-type".into(), "application/json".into())],
                    body: serde_json::to_vec(&request).unwrap(),
                })
                .await
                .unwrap()
        }
    };
    let response = send(veil_protocol::replica::JoinRequest::new(
        &evidence,
        joiner.public_key(),
    ))
    .await;
    assert_eq!(response.status, 403);
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert!(
        body.contains("replica_refused") && body.contains("measurement"),
        "{body}"
    );

    // The same code, but evidence that binds another key than the one sent.
    let evidence =
        veil_attest::EvidenceProducer::produce(&producer(MEASUREMENT), &report_data).unwrap();
    let other = veil_protocol::replica::JoinerKey::generate();
    let response = send(veil_protocol::replica::JoinRequest::new(
        &evidence,
        other.public_key(),
    ))
    .await;
    assert_eq!(response.status, 403);
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert!(
        body.contains("replica_refused") && body.contains("report data"),
        "{body}"
    );

    // Garbage: a typed refusal, and A keeps serving.
    let response = sharer
        .send(&veil_protocol::inner::InnerRequest {
            method: "POST".into(),
            path: veil_protocol::replica::SEALING_KEY_PATH.into(),
            headers: vec![],
            body: b"{\"platform\": 7}".to_vec(),
        })
        .await
        .unwrap();
    assert_eq!(response.status, 400);

    // Through the library, a joiner of other code cannot even connect: A
    // does not satisfy the policy pinning the joiner's own evidence.
    let err = veil_client::replica::join(&a.url, &producer(OTHER_CODE), Duration::from_secs(30))
        .await
        .unwrap_err();
    match err {
        ClientError::Attestation(e) => assert_eq!(e.check, Check::Measurement, "{e}"),
        other => panic!("expected an attestation refusal, got {other}"),
    }
    a.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn veil_serve_join_replica_serves_the_models_of_the_server_it_joined() {
    let dir_a = tempfile::tempdir().unwrap();
    let mut a = ServeProcess::spawn(dir_a.path(), &[], None);
    a.wait_until_healthy().await;
    let token = std::fs::read_to_string(dir_a.path().join("owner-token")).unwrap();
    let owner_a = connect(&a.url, Some(token.trim())).await;
    let mlp = owner_a
        .upload_model("mlp", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap()
        .sha256;

    let dir_b = tempfile::tempdir().unwrap();
    copy_models(dir_a.path(), dir_b.path());
    let log = dir_b.path().join("serve.log");
    let mut b = ServeProcess::spawn(dir_b.path(), &["--join-replica", &a.url], Some(&log));
    b.wait_until_healthy().await;
    infer_mlp(&b.url, "mlp", &mlp).await.unwrap();
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.contains("joined a replica running this code"),
        "{logged}"
    );

    // A key file and a replica to join exclude each other.
    let out = veil(&[
        "serve",
        "--check-config",
        "--join-replica",
        &a.url,
        "--sealing-key-file",
        "/tmp/never-created",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("exclude each other"), "{err}");
}
