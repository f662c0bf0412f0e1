//! Writes `fuzz/corpus/<target>/` seeds: the attestation test vectors, a
//! real evidence bundle, and real encoded requests (encapsulated, binary
//! HTTP, Open Inference Protocol bodies), each prefixed with the mode byte
//! its target reads. Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml -p veil-fuzz-seeds`.

use std::fs;
use std::path::{Path, PathBuf};

use futures::io::{AsyncWriteExt, Cursor};
use veil_attest::{EvidenceProducer, Measurement, SimulatedProducer};
use veil_protocol::bundle::EvidenceBundle;
use veil_protocol::channel::{ClientKey, GatewayKey};
use veil_protocol::inner::{self, InnerRequest, StreamingRequestHead};
use veil_protocol::oip::{InferRequest, InferResponse, RequestedOutput};
use veil_tensor::Tensor;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vector(path: &str) -> Res<Vec<u8>> {
    Ok(fs::read(
        root().join("crates/veil-attest/testdata").join(path),
    )?)
}

fn write(target: &str, name: &str, mode: Option<u8>, bytes: &[u8]) -> Res<()> {
    let dir = root().join("fuzz/corpus").join(target);
    fs::create_dir_all(&dir)?;
    let mut out = Vec::with_capacity(bytes.len() + 1);
    out.extend(mode);
    out.extend_from_slice(bytes);
    fs::write(dir.join(name), out)?;
    Ok(())
}

fn oip_seed(flags: u8, header_length: Option<usize>, body: &[u8]) -> Res<Vec<u8>> {
    let length = u16::try_from(header_length.unwrap_or(0))?;
    let mut out = vec![flags];
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(body);
    Ok(out)
}

fn main() -> Res<()> {
    // Attestation vectors.
    let snp_hex = vector("sev-snp/report_milan.hex")?;
    let snp = veil_attest::decode_snp_report(&snp_hex)?;
    let vcek = vector("sev-snp/vcek_milan.der")?;
    let ask = veil_attest::decode_certificates(&vector("sev-snp/ask.pem")?)?;
    write("evidence_sev_snp", "report", Some(0), &snp)?;
    write("evidence_sev_snp", "vcek", Some(1), &vcek)?;
    write("evidence_sev_snp", "ask", Some(2), &ask[0])?;
    write("evidence_sev_snp", "report_hex", Some(3), &snp_hex)?;
    for platform in ["tdx", "sgx"] {
        let quote = vector(&format!("{platform}/{platform}_quote"))?;
        let collateral = vector(&format!("{platform}/{platform}_quote_collateral.json"))?;
        write(&format!("evidence_{platform}"), "quote", Some(0), &quote)?;
        write(
            &format!("evidence_{platform}"),
            "collateral",
            Some(1),
            &collateral,
        )?;
    }
    write("evidence_tdx", "trim", Some(2), &vector("tdx/tdx_quote")?)?;
    write(
        "evidence_nitro",
        "document",
        None,
        &vector("nitro/attestation_doc.cbor")?,
    )?;

    // Simulated evidence and a whole bundle answering the bundle target's nonce.
    let producer = SimulatedProducer::generate(Measurement::from_sha384([0x42; 48]));
    let gateway = GatewayKey::generate()?;
    let nonce = [0x11; 32];
    let report_data = veil_protocol::transcript::report_data(gateway.encoded_config(), &nonce);
    let evidence = producer.produce(&report_data)?;
    write("evidence_simulated", "report", Some(0), &evidence.report)?;
    write(
        "evidence_simulated",
        "key",
        Some(1),
        &evidence.certificates[0],
    )?;
    let bundle = EvidenceBundle::new(&evidence, gateway.encoded_config(), &nonce, "0.1.0");
    write(
        "bundle_json",
        "simulated",
        None,
        &serde_json::to_vec_pretty(&bundle)?,
    )?;

    // Open Inference Protocol bodies: the mlp model's request, JSON and binary.
    let x = Tensor::from_values(vec![2, 16], (0..32).map(|i| i as f32 / 10.0).collect())?;
    let ids = Tensor::from_values(vec![1, 3], vec![7i64, 8, 9])?;
    let mut request = InferRequest::new(vec![("x".into(), x.clone()), ("ids".into(), ids)]);
    request.id = Some("r1".into());
    request.outputs = Some(vec![RequestedOutput {
        name: "y".into(),
        binary: Some(false),
    }]);
    let binary = request.encode(true)?;
    let json = request.encode(false)?;
    write(
        "oip_infer",
        "request_binary",
        None,
        &oip_seed(1, binary.header_length, &binary.body)?,
    )?;
    write(
        "oip_infer",
        "request_json",
        None,
        &oip_seed(0, None, &json.body)?,
    )?;
    let response = InferResponse {
        model_name: "mlp".into(),
        id: Some("r1".into()),
        outputs: vec![(
            "y".into(),
            Tensor::from_values(vec![2, 4], vec![0.5f32; 8])?,
        )],
    };
    let encoded = response.encode(|_| true)?;
    write(
        "oip_infer",
        "response_binary",
        None,
        &oip_seed(3, encoded.header_length, &encoded.body)?,
    )?;
    let encoded = response.encode(|_| false)?;
    write(
        "oip_infer",
        "response_json",
        None,
        &oip_seed(2, None, &encoded.body)?,
    )?;

    // Channel: the same request as the client sends it.
    let inner_request = InnerRequest {
        method: "POST".into(),
        path: "/v2/models/mlp/infer".into(),
        headers: vec![
            ("content-type".into(), binary.content_type().into()),
            (
                "inference-header-content-length".into(),
                binary.header_length.unwrap_or(0).to_string(),
            ),
            ("authorization".into(), "Bearer token".into()),
        ],
        body: binary.body.clone(),
    };
    let bhttp = inner_request.encode()?;
    let client = ClientKey::new(gateway.encoded_config().to_vec())?;
    let (enc, _) = client.encapsulate(&bhttp)?;
    write("ohttp_request", "encapsulated", Some(0), &enc)?;
    write("ohttp_request", "inner", Some(1), &bhttp)?;
    // An upload as the chunked framing carries it: streaming head, body, end.
    let mut streamed = StreamingRequestHead::encode(
        "PUT",
        "/v2/repository/models/mlp",
        &[("authorization".to_owned(), "Bearer token".to_owned())],
    )?;
    inner::write_body_chunk(
        &fs::read(root().join("tests/models/add.onnx"))?,
        &mut streamed,
    );
    inner::write_body_end(&mut streamed);
    write("ohttp_request", "inner_streamed", Some(2), &streamed)?;
    let chunked = futures::executor::block_on(async {
        let mut out = Cursor::new(Vec::new());
        {
            let mut writer = client.request()?.encapsulate_stream(&mut out)?;
            writer.write_all(&streamed).await?;
            writer.close().await?;
        }
        Ok::<_, Box<dyn std::error::Error>>(out.into_inner())
    })?;
    write("ohttp_request", "chunked", Some(3), &chunked)?;

    // Sealed store: a test model sealed under the sealed_blob target's key and name.
    let key = veil_server::seal::SealingKey::from_bytes([0x5e; 32]);
    let name = veil_server::model_name::ModelName::new("mlp")?;
    let mut sealer = veil_server::seal::Sealer::new(&key, &name, Vec::new())?;
    sealer.write_all(&fs::read(root().join("tests/models/add.onnx"))?)?;
    write("sealed_blob", "sealed_add", Some(0), &sealer.finish()?)?;
    write(
        "sealed_blob",
        "model",
        Some(1),
        &fs::read(root().join("tests/models/scalar.onnx"))?,
    )?;
    write("sealed_blob", "name", Some(2), b"mobilenet-v2.int8")?;

    // A replica's join request under the replica_join target's measurement,
    // and a sharer's answer (to another key: the target's joiner is random).
    let joiner = veil_protocol::replica::JoinerKey::generate();
    let report_data = veil_protocol::replica::report_data(joiner.public_key());
    let producer = SimulatedProducer::generate(Measurement::from_sha384([0x42; 48]));
    let evidence = veil_attest::EvidenceProducer::produce(&producer, &report_data)?;
    let request = veil_protocol::replica::JoinRequest::new(&evidence, joiner.public_key());
    write(
        "replica_join",
        "request",
        Some(0),
        &serde_json::to_vec(&request)?,
    )?;
    let answer = veil_protocol::replica::seal_sealing_key(joiner.public_key(), &[0x5e; 32])?;
    write(
        "replica_join",
        "answer",
        Some(1),
        &serde_json::to_vec(&answer)?,
    )?;

    // Owner-encrypted model: a test model encrypted to the owner_model target's key.
    let key = veil_model_crypto::owner::ModelKeyPair::derive(&[0x0e; 32]);
    let add = fs::read(root().join("tests/models/add.onnx"))?;
    let encrypted = veil_model_crypto::owner::encrypt(key.public(), &add)?;
    write("owner_model", "encrypted_add", Some(0), &encrypted)?;
    write(
        "owner_model",
        "encrypted_add_pieces",
        Some(0x20),
        &encrypted,
    )?;
    write(
        "owner_model",
        "model",
        Some(1),
        &fs::read(root().join("tests/models/scalar.onnx"))?,
    )?;

    // ONNX: the test models, served and refused alike.
    for entry in fs::read_dir(root().join("tests/models"))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "onnx") {
            let name = file_name(&path);
            write("onnx_model", &name, None, &fs::read(&path)?)?;
        }
    }
    Ok(())
}

fn file_name(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
