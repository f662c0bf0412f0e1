//! The secure data path end to end: verify attestation, upload, infer,
//! compare with ONNX Runtime run in-process, delete, restart.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use common::*;
use veil_attest::{Check, Measurement, Policy};
use veil_client::{Client, ClientError, ConnectOptions};
use veil_engine::Engine;
use veil_protocol::ErrorCode;
use veil_protocol::oip::InferRequest;
use veil_tensor::{DataType, Tensor, f16};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upload_infer_matches_in_process_onnxruntime_then_delete() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let client = connect(&server.url, Some(OWNER)).await;
    assert!(client.attestation().simulated);
    assert_eq!(
        client.attestation().measurement,
        Measurement::from([0x5a; 48])
    );

    let bytes = model_bytes("mlp.onnx");
    let mut last_progress = 0;
    let info = client
        .upload_model("mlp", &bytes, |sent, _| last_progress = sent)
        .await
        .unwrap();
    assert_eq!(last_progress, bytes.len() as u64);
    assert_eq!(
        info.sha256,
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes))
    );
    assert_eq!(info.signature.inputs[0].name, "x");

    let x = mlp_input(5);
    let reference = engine()
        .load(&bytes)
        .unwrap()
        .run(vec![("x".into(), x.clone())], None)
        .unwrap();
    let mut req = InferRequest::new(vec![("x".into(), x)]);
    req.expected_sha256 = Some(info.sha256.clone());
    let resp = client.infer("mlp", &req).await.unwrap();
    assert_eq!(resp.outputs.len(), 1);
    assert_eq!(resp.outputs[0].0, reference[0].0);
    // Same engine, same bytes in: bit-identical out.
    assert_eq!(resp.outputs[0].1, reference[0].1);
    assert_eq!(resp.outputs[0].1.shape(), &[5, 4]);

    let listed = client.list_models().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].sha256.as_deref(), Some(info.sha256.as_str()));

    client.delete_model("mlp").await.unwrap();
    let gone = client.infer("mlp", &req).await.unwrap_err();
    assert_eq!(gone.code(), Some(ErrorCode::ModelNotFound));
    assert!(client.list_models().await.unwrap().is_empty());
    assert_eq!(
        client.model_metadata("mlp").await.unwrap_err().code(),
        Some(ErrorCode::ModelNotFound)
    );
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mlp_output_matches_python_onnxruntime_reference() {
    // scripts/make_test_models.py stores an input and the output that Python
    // onnxruntime computed for it: an independent binding of the same runtime.
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(model_path("mlp.expected.json")).unwrap()).unwrap();
    let to_vec = |v: &serde_json::Value| -> Vec<f32> {
        let mut out = Vec::new();
        fn flat(v: &serde_json::Value, out: &mut Vec<f32>) {
            match v {
                serde_json::Value::Array(a) => a.iter().for_each(|i| flat(i, out)),
                n => out.push(n.as_f64().unwrap() as f32),
            }
        }
        flat(v, &mut out);
        out
    };
    let x = to_vec(&expected["x"]);
    let y = to_vec(&expected["y"]);
    let dir = tempfile::tempdir().unwrap();
    let (server, client) = start_serving_mlp(config(dir.path())).await;
    let t = Tensor::from_values(vec![x.len() / 16, 16], x).unwrap();
    let resp = client
        .infer("mlp", &InferRequest::new(vec![("x".into(), t)]))
        .await
        .unwrap();
    let got = resp.outputs[0].1.to_values::<f32>().unwrap();
    assert_eq!(got.len(), y.len());
    for (g, e) in got.iter().zip(&y) {
        assert!((g - e).abs() <= 1e-6 * e.abs().max(1.0), "{g} vs {e}");
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_dtype_crosses_the_channel_bit_exactly_in_binary_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let client = connect(&server.url, Some(OWNER)).await;
    client
        .upload_model("ident", &model_bytes("identity_all_dtypes.onnx"), |_, _| {})
        .await
        .unwrap();
    let meta = client.model_metadata("ident").await.unwrap();
    let inputs: Vec<(String, Tensor)> = meta
        .inputs
        .iter()
        .map(|spec| {
            let shape = vec![2, 3];
            let t = match spec.datatype {
                DataType::Bool => {
                    Tensor::from_values(shape, vec![true, false, true, true, false, false])
                }
                DataType::U8 => Tensor::from_values(shape, vec![0u8, 1, 2, 127, 128, 255]),
                DataType::U16 => Tensor::from_values(shape, vec![0u16, 1, 2, 3, 4, u16::MAX]),
                DataType::U32 => Tensor::from_values(shape, vec![0u32, 1, 2, 3, 4, u32::MAX]),
                DataType::U64 => Tensor::from_values(shape, vec![0u64, 1, 2, 3, 4, u64::MAX]),
                DataType::I8 => Tensor::from_values(shape, vec![i8::MIN, -1, 0, 1, 2, i8::MAX]),
                DataType::I16 => Tensor::from_values(shape, vec![i16::MIN, -1, 0, 1, 2, i16::MAX]),
                DataType::I32 => Tensor::from_values(shape, vec![i32::MIN, -1, 0, 1, 2, i32::MAX]),
                DataType::I64 => Tensor::from_values(shape, vec![i64::MIN, -1, 0, 1, 2, i64::MAX]),
                DataType::F16 => Tensor::from_values(
                    shape,
                    [0.5f32, -1.0, 65504.0, 0.0, 1e-3, 3.0]
                        .map(f16::from_f32)
                        .to_vec(),
                ),
                DataType::F32 => Tensor::from_values(
                    shape,
                    vec![0.1f32, -1e30, f32::MIN_POSITIVE, 0.0, 1.5, 3.0],
                ),
                DataType::F64 => Tensor::from_values(
                    shape,
                    vec![0.1f64, -1e300, f64::MIN_POSITIVE, 0.0, 1.5, 3.0],
                ),
                other => panic!("unexpected dtype {other}"),
            };
            (spec.name.clone(), t.unwrap())
        })
        .collect();
    assert_eq!(inputs.len(), 12, "one input per supported dtype");
    for binary_out in [true, false] {
        let mut req = InferRequest::new(inputs.clone());
        req.binary_outputs = binary_out;
        let resp = client.infer("ident", &req).await.unwrap();
        assert_eq!(resp.outputs.len(), inputs.len());
        for (name, t) in &resp.outputs {
            let input_name = name.replacen("out_", "in_", 1);
            let (_, sent) = inputs.iter().find(|(n, _)| *n == input_name).unwrap();
            assert_eq!(t, sent, "{name} (binary outputs: {binary_out})");
        }
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarted_server_still_serves_the_uploaded_model() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = model_bytes("mlp.onnx");
    let x = mlp_input(2);
    let (sha, before) = {
        let server = start(config(dir.path())).await;
        let client = connect(&server.url, Some(OWNER)).await;
        let info = client.upload_model("mlp", &bytes, |_, _| {}).await.unwrap();
        let out = client
            .infer("mlp", &InferRequest::new(vec![("x".into(), x.clone())]))
            .await
            .unwrap();
        server.stop();
        (info.sha256, out.outputs)
    };
    let server = start(config(dir.path())).await;
    // A new server process has a new key: a new attestation is needed.
    let client = connect(&server.url, None).await;
    let meta = client.model_metadata("mlp").await.unwrap();
    assert_eq!(meta.sha256, sha);
    let mut req = InferRequest::new(vec![("x".into(), x)]);
    req.expected_sha256 = Some(sha);
    assert_eq!(client.infer("mlp", &req).await.unwrap().outputs, before);
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_refuses_simulated_server_under_a_real_policy() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let err = Client::connect(
        &server.url,
        ConnectOptions::new(Policy::sev_snp([Measurement::from([0x5a; 48])])),
    )
    .await
    .err()
    .expect("a real-platform policy must refuse simulated evidence");
    match err {
        ClientError::Attestation(e) => assert_eq!(e.check, Check::SimulationNotAllowed),
        other => panic!("unexpected {other}"),
    }
    let mut wrong = Policy::insecure_simulation_any_measurement();
    wrong.measurements = vec![Measurement::from([0x00; 48])];
    match Client::connect(&server.url, ConnectOptions::new(wrong))
        .await
        .err()
        .unwrap()
    {
        ClientError::Attestation(e) => assert_eq!(e.check, Check::Measurement),
        other => panic!("unexpected {other}"),
    }
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_clients_get_their_own_correct_answers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;
    let bytes = model_bytes("mlp.onnx");
    connect(&server.url, Some(OWNER))
        .await
        .upload_model("mlp", &bytes, |_, _| {})
        .await
        .unwrap();
    let reference = engine().load(&bytes).unwrap();
    let client = std::sync::Arc::new(connect(&server.url, None).await);
    let tasks: Vec<_> = (1..=8)
        .map(|batch| {
            let client = client.clone();
            tokio::spawn(async move {
                let x = mlp_input(batch);
                let out = client
                    .infer("mlp", &InferRequest::new(vec![("x".into(), x.clone())]))
                    .await
                    .unwrap();
                (x, out.outputs)
            })
        })
        .collect();
    for t in tasks {
        let (x, outputs) = t.await.unwrap();
        let expected = reference.run(vec![("x".into(), x)], None).unwrap();
        assert_eq!(outputs, expected);
    }
    server.stop();
}
