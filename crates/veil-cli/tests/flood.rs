//! Memory stays bounded under a flood of large requests: the built `veil
//! serve` process gets many concurrent near-limit `message/ohttp-req`
//! requests at once; beyond its in-flight request budget it answers `503`
//! with `Retry-After` without holding the body, its peak resident memory
//! stays under a bound, and it serves normally afterwards.
//!
//! The server's memory is read from `/proc/<pid>/status` (`VmHWM`, the
//! peak resident set), so the bound holds over the whole flood without
//! sampling and without timing.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use common::*;
use veil_client::{Client, ConnectOptions};
use veil_protocol::channel::{ClientKey, REQUEST_MEDIA_TYPE};
use veil_protocol::inner::InnerRequest;
use veil_protocol::oip::{self, InferRequest};
use veil_tensor::{DataType, Tensor};

/// The server's in-flight request budget (its default, given explicitly so
/// that `VEIL_MAX_INFLIGHT_REQUEST_BYTES` in the environment cannot change it).
const BUDGET: u64 = 256 << 20;
/// Concurrent requests in one wave, and waves.
const CONCURRENT: usize = 32;
const WAVES: usize = 2;
/// The size of each request's tensor: near the 64 MiB request limit.
const TENSOR_BYTES: usize = 48 << 20;

/// One encapsulated inference request of about `TENSOR_BYTES` for `mlp`
/// whose shape the model refuses: the server reads, decapsulates and
/// decodes all of it before it answers.
fn large_request(client: &Client) -> Vec<u8> {
    let rows = TENSOR_BYTES / (15 * 4);
    let x = Tensor::from_bytes(DataType::F32, vec![rows, 15], vec![0; rows * 15 * 4]).unwrap();
    let encoded = InferRequest::new(vec![("x".into(), x)])
        .encode(true)
        .unwrap();
    let inner = InnerRequest {
        method: "POST".into(),
        path: "/v2/models/mlp/infer".into(),
        headers: vec![
            ("content-type".into(), encoded.content_type().into()),
            (
                oip::HEADER_LENGTH_HEADER.into(),
                encoded.header_length.unwrap().to_string(),
            ),
        ],
        body: encoded.body,
    };
    let key = ClientKey::new(client.key_config().to_vec()).unwrap();
    key.encapsulate(&inner.encode().unwrap()).unwrap().0
}

/// The value of the `request_budget` rejection counter in `/metrics`.
async fn budget_rejections(url: &str) -> f64 {
    let text = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && l.contains("reason=\"request_budget\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_large_requests_gets_503s_and_memory_stays_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let budget = BUDGET.to_string();
    let mut server =
        ServeProcess::spawn(dir.path(), &["--max-inflight-request-bytes", &budget], None);
    server.wait_until_healthy().await;
    let token = std::fs::read_to_string(dir.path().join("owner-token")).unwrap();
    let mut options =
        ConnectOptions::new(veil_attest::Policy::insecure_simulation_any_measurement());
    options.owner_token = Some(token.trim().to_owned());
    let client = Client::connect(&server.url, options).await.unwrap();
    client
        .upload_model_file("mlp", &model_path("mlp.onnx"), |_, _| {})
        .await
        .unwrap();
    let before = server.memory("VmRSS");

    // One ciphertext, sent by every request (an inference replay is
    // harmless); leaked so that every request borrows it without a copy.
    let sealed: &'static [u8] = Box::leak(large_request(&client).into_boxed_slice());
    let http = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..WAVES {
        let sends: Vec<_> = (0..CONCURRENT)
            .map(|_| {
                let http = http.clone();
                let url = format!("{}/v1/ohttp", server.url);
                tokio::spawn(async move {
                    let r = http
                        .post(url)
                        .header("content-type", REQUEST_MEDIA_TYPE)
                        .body(sealed)
                        .send()
                        .await
                        .unwrap();
                    let retry_after = r.headers().contains_key("retry-after");
                    (r.status().as_u16(), retry_after)
                })
            })
            .collect();
        for s in sends {
            statuses.push(s.await.unwrap());
        }
    }
    let peak = server.memory("VmHWM");

    let refused = statuses.iter().filter(|(s, _)| *s == 503).count();
    let answered = statuses.iter().filter(|(s, _)| *s == 200).count();
    println!(
        "flood: {} requests of {} MiB, {answered} answered, {refused} refused (503); \
         server RSS before {} MiB, peak {} MiB",
        statuses.len(),
        TENSOR_BYTES >> 20,
        before >> 20,
        peak >> 20
    );
    assert_eq!(
        refused + answered,
        statuses.len(),
        "only sealed answers and 503s: {statuses:?}"
    );
    assert!(refused > 0, "the flood exceeded the budget: some 503s");
    assert!(answered > 0, "requests within the budget are served");
    assert!(
        statuses.iter().all(|&(s, retry)| s != 503 || retry),
        "every 503 says when to retry"
    );
    assert!(budget_rejections(&server.url).await >= refused as f64);

    // Decapsulation and decoding hold up to about three copies of an
    // admitted body; without the budget, 32 concurrent 48 MiB requests
    // would hold several GiB.
    let bound = before + 3 * BUDGET + (300 << 20);
    assert!(
        peak < bound,
        "peak RSS {} MiB is above the bound {} MiB (RSS before the flood {} MiB)",
        peak >> 20,
        bound >> 20,
        before >> 20
    );

    // And it still serves.
    let y = client
        .infer("mlp", &InferRequest::new(vec![("x".into(), mlp_input(2))]))
        .await
        .unwrap();
    assert_eq!(y.outputs[0].1.shape(), [2, 4]);
}
