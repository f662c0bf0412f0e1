//! The sealed model store end to end: models at rest hold no plaintext, and
//! after a restart a changed, truncated or swapped model file is refused
//! (logged by name, never served) while the other models keep being served.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::path::Path;

use common::*;
use veil_protocol::ErrorCode;
use veil_protocol::oip::InferRequest;

fn sealed(dir: &Path, name: &str) -> std::path::PathBuf {
    dir.join("models").join(format!("{name}.sealed"))
}

async fn upload(url: &str, name: &str, file: &str) -> String {
    let client = connect(url, Some(OWNER)).await;
    client
        .upload_model(name, &model_bytes(file), |_, _| {})
        .await
        .unwrap()
        .sha256
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_truncated_and_swapped_models_are_not_served_after_restart_and_the_others_are() {
    let logs = captured_logs(LogFormat::Text);
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let mlp = upload(&server.url, "mlp", "mlp.onnx").await;
    upload(&server.url, "flipped", "add.onnx").await;
    upload(&server.url, "cut", "add.onnx").await;
    upload(&server.url, "left", "argmax.onnx").await;
    upload(&server.url, "right", "scalar.onnx").await;
    server.shutdown().await;

    // No model's bytes are in the data directory in plaintext.
    for (name, file) in [("mlp", "mlp.onnx"), ("flipped", "add.onnx")] {
        let on_disk = std::fs::read(sealed(dir.path(), name)).unwrap();
        let plain = model_bytes(file);
        assert!(!contains(&on_disk, &plain[plain.len() / 2..]), "{name}");
    }

    // The operator edits the data directory while the server is down.
    let path = sealed(dir.path(), "flipped");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, bytes).unwrap();
    let path = sealed(dir.path(), "cut");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let (left, right) = (sealed(dir.path(), "left"), sealed(dir.path(), "right"));
    let swap = dir.path().join("swap");
    std::fs::rename(&left, &swap).unwrap();
    std::fs::rename(&right, &left).unwrap();
    std::fs::rename(&swap, &right).unwrap();
    logs.lock().unwrap().clear();

    let server = start(config(dir.path())).await;
    let client = connect(&server.url, Some(OWNER)).await;
    assert_eq!(model_names(&client).await, ["mlp"]);
    for name in ["flipped", "cut", "left", "right"] {
        let err = client
            .infer(name, &InferRequest::new(vec![("x".into(), mlp_input(1))]))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::ModelNotFound), "{name}");
        let logged = String::from_utf8_lossy(&logs.lock().unwrap()).into_owned();
        assert!(
            logged
                .lines()
                .any(|l| l.contains("stored model refused") && l.contains(name)),
            "no refusal logged for {name}"
        );
    }
    let mut req = InferRequest::new(vec![("x".into(), mlp_input(2))]);
    req.expected_sha256 = Some(mlp);
    assert_eq!(
        client.infer("mlp", &req).await.unwrap().outputs[0]
            .1
            .shape(),
        &[2, 4]
    );
    // The refused files are left for their owner, who can replace them.
    assert!(sealed(dir.path(), "flipped").exists());
    upload(&server.url, "flipped", "add.onnx").await;
    assert_eq!(client.list_models().await.unwrap().len(), 2);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_sealed_under_another_key_are_not_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    upload(&server.url, "mlp", "mlp.onnx").await;
    server.shutdown().await;
    // A new sealing key (e.g. another machine's): nothing opens.
    std::fs::remove_file(dir.path().join("sealing-key")).unwrap();
    let server = start(config(dir.path())).await;
    let client = connect(&server.url, Some(OWNER)).await;
    assert!(client.list_models().await.unwrap().is_empty());
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsealed_model_files_of_older_versions_are_not_served() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("models")).unwrap();
    std::fs::write(
        dir.path().join("models/planted.onnx"),
        model_bytes("mlp.onnx"),
    )
    .unwrap();
    let server = start(config(dir.path())).await;
    let client = connect(&server.url, Some(OWNER)).await;
    assert!(client.list_models().await.unwrap().is_empty());
    server.shutdown().await;
}
