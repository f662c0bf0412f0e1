//! `GET /metrics`: the exposition parses, the counters and histograms move
//! as the requests did, and no request data, token or failed model name
//! appears in it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::*;
use veil_protocol::ErrorCode;
use veil_protocol::oip::InferRequest;
use veil_tensor::Tensor;

/// One sample: metric name and its labels, sorted.
type Key = (String, BTreeMap<String, String>);

/// A tiny parser of the text format: `# TYPE` lines and sample lines.
struct Exposition {
    types: BTreeMap<String, String>,
    samples: BTreeMap<Key, f64>,
}

fn parse(text: &str) -> Exposition {
    let mut types = BTreeMap::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("`# TYPE name kind`");
            types.insert(name.to_owned(), kind.to_owned());
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("`series value`");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value: {line}"));
        let (name, labels) = match series.split_once('{') {
            None => (series.to_owned(), BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let labels = body
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("label k=v");
                        let v = v
                            .strip_prefix('"')
                            .and_then(|v| v.strip_suffix('"'))
                            .expect("quoted label value");
                        (k.to_owned(), v.to_owned())
                    })
                    .collect();
                (name.to_owned(), labels)
            }
        };
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name {name}"
        );
        samples.insert((name, labels), value);
    }
    Exposition { types, samples }
}

impl Exposition {
    fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.get(name, labels)
            .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
    }

    /// Every value that label `label` takes in any sample.
    fn label_values(&self, label: &str) -> BTreeSet<String> {
        self.samples
            .keys()
            .filter_map(|(_, l)| l.get(label).cloned())
            .collect()
    }
}

async fn scrape(url: &str) -> String {
    let resp = reqwest::get(format!("{url}/metrics")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let ct = resp.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(ct.contains("text"), "content type {ct}");
    resp.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_without_request_data() {
    const N: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let server = start(config(dir.path())).await;

    // Before anything: parses, nothing loaded.
    let before = parse(&scrape(&server.url).await);
    assert_eq!(before.value("veil_models_loaded", &[]), 0.0);

    let client = connect(&server.url, Some(OWNER)).await;
    client
        .upload_model("mlp", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap();
    let input = mlp_input(2);
    for _ in 0..N {
        client
            .infer("mlp", &InferRequest::new(vec![("x".into(), input.clone())]))
            .await
            .unwrap();
    }
    let unknown = client
        .infer(
            "no-such-model-xyz",
            &InferRequest::new(vec![("x".into(), input.clone())]),
        )
        .await
        .expect_err("unknown model");
    assert_eq!(unknown.code(), Some(ErrorCode::ModelNotFound));
    // Wrong width: 8 columns where the model takes 16.
    let bad_values: Vec<f32> = (0..16).map(|i| 1.0 + i as f32 * 0.123_457).collect();
    let bad = Tensor::from_values(vec![2, 8], bad_values.clone()).unwrap();
    let invalid = client
        .infer("mlp", &InferRequest::new(vec![("x".into(), bad)]))
        .await
        .expect_err("bad input");
    assert_eq!(invalid.code(), Some(ErrorCode::InvalidInput));

    let text = scrape(&server.url).await;
    let m = parse(&text);

    // Types, with units in the names.
    for (name, kind) in [
        ("veil_requests_total", "counter"),
        ("veil_inference_seconds", "histogram"),
        ("veil_ohttp_request_seconds", "histogram"),
        ("veil_requests_in_flight", "gauge"),
        ("veil_requests_rejected_total", "counter"),
        ("veil_models_loaded", "gauge"),
        ("veil_model_bytes", "gauge"),
        ("veil_attestations_served_total", "counter"),
        ("veil_process_resident_memory_bytes", "gauge"),
    ] {
        assert_eq!(
            m.types.get(name).map(String::as_str),
            Some(kind),
            "# TYPE of {name}"
        );
    }

    // Counters.
    let requests = |route: &str, outcome: &str| {
        m.get(
            "veil_requests_total",
            &[("route", route), ("outcome", outcome)],
        )
        .unwrap_or(0.0)
    };
    assert!(requests("infer", "ok") >= N as f64);
    assert_eq!(requests("infer", "invalid_input"), 1.0);
    assert_eq!(requests("infer", "model_not_found"), 1.0);
    assert_eq!(requests("upload", "ok"), 1.0);
    assert!(m.value("veil_attestations_served_total", &[]) >= 1.0);
    for reason in ["queue_full", "read_timeout", "payload_too_large"] {
        assert_eq!(
            m.value("veil_requests_rejected_total", &[("reason", reason)]),
            0.0
        );
    }

    // Histograms: only successful inferences of the loaded model.
    for stage in ["decapsulate", "queue", "run", "encapsulate"] {
        assert_eq!(
            m.value(
                "veil_inference_seconds_count",
                &[("model", "mlp"), ("stage", stage)]
            ),
            N as f64,
            "stage {stage}"
        );
        assert_eq!(
            m.value(
                "veil_inference_seconds_bucket",
                &[("le", "+Inf"), ("model", "mlp"), ("stage", stage)]
            ),
            N as f64
        );
    }
    assert!(
        m.value("veil_ohttp_request_seconds_count", &[("framing", "single")]) >= (N + 2) as f64
    );
    assert_eq!(
        m.value(
            "veil_ohttp_request_seconds_count",
            &[("framing", "chunked")]
        ),
        1.0
    );

    // Gauges.
    assert_eq!(m.value("veil_models_loaded", &[]), 1.0);
    assert_eq!(
        m.value("veil_model_bytes", &[("model", "mlp")]),
        model_bytes("mlp.onnx").len() as f64
    );
    assert_eq!(m.value("veil_requests_in_flight", &[]), 0.0);
    assert!(m.value("veil_process_resident_memory_bytes", &[]) > 1e6);

    // Bounded labels, no request data.
    assert_eq!(m.label_values("model"), BTreeSet::from(["mlp".to_owned()]));
    let routes = m.label_values("route");
    let allowed = [
        "infer",
        "upload",
        "delete",
        "metadata",
        "repository",
        "health",
        "other",
    ];
    assert!(
        routes.iter().all(|r| allowed.contains(&r.as_str())),
        "{routes:?}"
    );
    assert!(!text.contains("no-such-model-xyz"));
    assert!(!text.contains(OWNER));
    assert!(!text.contains("/v2/"));
    for v in input.to_values::<f32>().unwrap().iter().chain(&bad_values) {
        let s = format!("{}", v.abs());
        if s.len() >= 6 {
            assert!(!text.contains(&s), "input value {s} in the metrics");
        }
    }

    // Another server has its own registry.
    let other_dir = tempfile::tempdir().unwrap();
    let other = start(config(other_dir.path())).await;
    let fresh = parse(&scrape(&other.url).await);
    assert_eq!(
        fresh.get(
            "veil_requests_total",
            &[("route", "infer"), ("outcome", "ok")]
        ),
        None
    );
    other.stop();
    server.stop();
}
