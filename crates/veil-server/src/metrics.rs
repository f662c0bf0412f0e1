//! Prometheus metrics, served at `GET /metrics` on the outer API.
//!
//! Every label value comes from a fixed set (routes, error codes, stages,
//! framings, rejection reasons) or is the name of a model that was loaded:
//! no request data, token or inner path ever becomes a label. The
//! exposition is written by `prometheus-client`'s text encoder.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use veil_protocol::ErrorCode;

/// The content type of the exposition (OpenMetrics text, which Prometheus
/// negotiates and parses).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InferenceLabels {
    model: String,
    stage: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FramingLabels {
    framing: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ModelLabels {
    model: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 50 µs … ~105 s.
    Histogram::new(exponential_buckets(0.000_05, 2.0, 22))
}

/// Why a request was refused by a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The model's inference queue was full (`503`).
    QueueFull,
    /// The client did not send its request in time (`408`).
    ReadTimeout,
    /// A request, model or tensor exceeded its size limit (`413`).
    PayloadTooLarge,
    /// The server-wide budget of request bytes in flight was spent (`503`).
    RequestBudget,
}

impl Rejection {
    fn as_str(self) -> &'static str {
        match self {
            Rejection::QueueFull => "queue_full",
            Rejection::ReadTimeout => "read_timeout",
            Rejection::PayloadTooLarge => "payload_too_large",
            Rejection::RequestBudget => "request_budget",
        }
    }
}

/// The OHTTP framing of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    /// `message/ohttp-req`.
    Single,
    /// `message/ohttp-chunked-req`.
    Chunked,
}

impl Framing {
    /// The label value: `single` or `chunked`.
    pub fn as_str(self) -> &'static str {
        match self {
            Framing::Single => "single",
            Framing::Chunked => "chunked",
        }
    }
}

/// A stage of an inference.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    /// Waiting for a run slot of the model.
    Queue,
    /// The engine running the model.
    Run,
}

/// The route label of an inner request: a fixed set, never the raw path.
pub fn route_label(method: &http::Method, path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or("");
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        ["v2", "models", _, "infer"] if method == http::Method::POST => "infer",
        ["v2", "repository", "models", _] if method == http::Method::PUT => "upload",
        ["v2", "repository", "models", _] if method == http::Method::DELETE => "delete",
        ["v2"] | ["v2", "models", _] | ["v2", "models", _, "ready"] => "metadata",
        ["v2", "repository", "index"] => "repository",
        ["v2", "health", ..] => "health",
        _ => "other",
    }
}

/// The server's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    inference: HistogramFamily<InferenceLabels>,
    ohttp: HistogramFamily<FramingLabels>,
    in_flight: Gauge,
    rejected: Family<ReasonLabels, Counter>,
    models_loaded: Gauge,
    model_bytes: Family<ModelLabels, Gauge>,
    attestations: Counter,
    resident_memory: Gauge,
    /// Serialises scrapes: the model gauges are rebuilt at each one.
    scrape: Mutex<()>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "veil_requests",
            "Inner requests by route and outcome (an error code or ok)",
            requests.clone(),
        );
        let inference: HistogramFamily<InferenceLabels> =
            Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "veil_inference",
            "Time of successful inferences per loaded model, by stage (queue, run)",
            Unit::Seconds,
            inference.clone(),
        );
        let ohttp: HistogramFamily<FramingLabels> = Family::new_with_constructor(latency_histogram);
        registry.register_with_unit(
            "veil_ohttp_request",
            "Time from receiving an OHTTP request to its encapsulated response, by framing",
            Unit::Seconds,
            ohttp.clone(),
        );
        let in_flight = Gauge::default();
        registry.register(
            "veil_requests_in_flight",
            "OHTTP requests being handled now",
            in_flight.clone(),
        );
        let rejected = Family::<ReasonLabels, Counter>::default();
        registry.register(
            "veil_requests_rejected",
            "Requests refused by a limit, by reason",
            rejected.clone(),
        );
        // Every reason exported from the start, at zero.
        for reason in [
            Rejection::QueueFull,
            Rejection::ReadTimeout,
            Rejection::PayloadTooLarge,
            Rejection::RequestBudget,
        ] {
            drop(rejected.get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            }));
        }
        let models_loaded = Gauge::default();
        registry.register(
            "veil_models_loaded",
            "Models being served",
            models_loaded.clone(),
        );
        let model_bytes = Family::<ModelLabels, Gauge>::default();
        registry.register_with_unit(
            "veil_model",
            "Size of each served model",
            Unit::Bytes,
            model_bytes.clone(),
        );
        let attestations = Counter::default();
        registry.register(
            "veil_attestations_served",
            "Evidence bundles served",
            attestations.clone(),
        );
        let resident_memory = Gauge::default();
        registry.register_with_unit(
            "veil_process_resident_memory",
            "Resident memory of the server process (VmRSS)",
            Unit::Bytes,
            resident_memory.clone(),
        );
        Metrics {
            registry,
            requests,
            inference,
            ohttp,
            in_flight,
            rejected,
            models_loaded,
            model_bytes,
            attestations,
            resident_memory,
            scrape: Mutex::new(()),
        }
    }

    /// Counts one inner request; `outcome` is its error code, or `None` for ok.
    pub fn request(&self, route: &'static str, outcome: Option<ErrorCode>) {
        let outcome = outcome.map_or("ok", ErrorCode::as_str);
        self.requests
            .get_or_create(&RequestLabels { route, outcome })
            .inc();
    }

    /// Records a stage of a successful inference of `model`, a loaded model.
    pub fn inference(&self, model: &str, stage: Stage, took: Duration) {
        let stage = match stage {
            Stage::Queue => "queue",
            Stage::Run => "run",
        };
        self.inference
            .get_or_create(&InferenceLabels {
                model: model.to_owned(),
                stage,
            })
            .observe(took.as_secs_f64());
    }

    /// Records the total time of one OHTTP request.
    pub fn ohttp_request(&self, framing: Framing, took: Duration) {
        self.ohttp
            .get_or_create(&FramingLabels {
                framing: framing.as_str(),
            })
            .observe(took.as_secs_f64());
    }

    /// Counts a request refused by a limit.
    pub fn rejected(&self, reason: Rejection) {
        self.rejected
            .get_or_create(&ReasonLabels {
                reason: reason.as_str(),
            })
            .inc();
    }

    /// Counts one evidence bundle served.
    pub fn attestation_served(&self) {
        self.attestations.inc();
    }

    /// Marks a request in flight until the returned guard is dropped.
    pub fn in_flight(&self) -> InFlight<'_> {
        self.in_flight.inc();
        InFlight(&self.in_flight)
    }

    /// Renders the exposition; `models` are the served models and their sizes.
    pub fn encode(
        &self,
        models: impl IntoIterator<Item = (String, u64)>,
    ) -> Result<String, std::fmt::Error> {
        let _scrape = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.model_bytes.clear();
        let mut loaded = 0i64;
        for (model, bytes) in models {
            loaded += 1;
            self.model_bytes
                .get_or_create(&ModelLabels { model })
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        self.models_loaded.set(loaded);
        self.resident_memory
            .set(resident_memory_bytes().unwrap_or(0));
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Keeps a request counted in `veil_requests_in_flight` while alive.
#[derive(Debug)]
pub struct InFlight<'a>(&'a Gauge);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// VmRSS of this process in bytes, from `/proc/self/status` (Linux only).
fn resident_memory_bytes() -> Option<i64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: i64 = line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    kib.checked_mul(1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_a_fixed_set() {
        use http::Method;
        assert_eq!(route_label(&Method::POST, "/v2/models/m/infer"), "infer");
        assert_eq!(
            route_label(&Method::PUT, "/v2/repository/models/m"),
            "upload"
        );
        assert_eq!(
            route_label(&Method::DELETE, "/v2/repository/models/m"),
            "delete"
        );
        assert_eq!(route_label(&Method::GET, "/v2/models/m"), "metadata");
        assert_eq!(route_label(&Method::GET, "/v2/models/m/ready"), "metadata");
        assert_eq!(route_label(&Method::GET, "/v2"), "metadata");
        assert_eq!(
            route_label(&Method::POST, "/v2/repository/index?x=1"),
            "repository"
        );
        assert_eq!(route_label(&Method::GET, "/v2/health/ready"), "health");
        assert_eq!(route_label(&Method::GET, "/secret/path"), "other");
        assert_eq!(route_label(&Method::GET, "/v2/models/m/infer"), "other");
    }

    #[test]
    fn encodes_with_units_and_memory() {
        let m = Metrics::new();
        m.request("infer", None);
        m.request("infer", Some(ErrorCode::InvalidInput));
        m.inference("mlp", Stage::Run, Duration::from_millis(2));
        let text = m.encode([("mlp".to_owned(), 1234)]).unwrap();
        assert!(text.contains("# TYPE veil_inference_seconds histogram"));
        assert!(text.contains("veil_requests_total{route=\"infer\",outcome=\"ok\"} 1"));
        assert!(text.contains("veil_model_bytes{model=\"mlp\"} 1234"));
        assert!(text.contains("veil_models_loaded 1"));
        assert!(text.contains("veil_process_resident_memory_bytes "));
        assert!(!text.contains("veil_process_resident_memory_bytes 0\n"));
    }
}
