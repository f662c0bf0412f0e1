//! Prometheus metrics, served at `GET /metrics` on the outer API.
//!
//! Every label value comes from a fixed set (routes, error codes, stages,
//! framings, rejection reasons) or is the name of a model that was loaded:
//! no request data, token or inner path ever becomes a label. The
//! exposition is the Prometheus text format 0.0.4, written by the
//! `prometheus` crate's encoder: the format Prometheus scrapes and
//! `promtool check metrics` lints (counters end in `_total`, units are in
//! the names, every metric has its help text).

use std::sync::Mutex;
use std::time::Duration;

use prometheus::{
    Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};
use veil_attest::EndorsementTimes;
use veil_protocol::ErrorCode;

/// The content type of the exposition: the Prometheus text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Why the metrics could not be registered or encoded.
#[derive(Debug, thiserror::Error)]
#[error("metrics: {0}")]
pub struct MetricsError(#[from] prometheus::Error);

/// Latency buckets in seconds: 50 µs … ~105 s, doubling.
fn latency_buckets() -> Vec<f64> {
    std::iter::successors(Some(0.000_05f64), |b| Some(b * 2.0))
        .take(22)
        .collect()
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
    /// Every reason, each exported from the start at zero.
    pub const ALL: [Rejection; 4] = [
        Rejection::QueueFull,
        Rejection::ReadTimeout,
        Rejection::PayloadTooLarge,
        Rejection::RequestBudget,
    ];

    /// The label value.
    pub fn as_str(self) -> &'static str {
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
    /// Decrypting the OHTTP request and decoding its binary HTTP, up to the
    /// inner request the router sees (single-message requests only).
    Decapsulate,
    /// Waiting for a run slot of the model.
    Queue,
    /// The engine running the model.
    Run,
    /// Encoding the inner response as binary HTTP and encrypting it.
    Encapsulate,
}

impl Stage {
    /// The label value: `decapsulate`, `queue`, `run` or `encapsulate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Decapsulate => "decapsulate",
            Stage::Queue => "queue",
            Stage::Run => "run",
            Stage::Encapsulate => "encapsulate",
        }
    }
}

/// Request extension set by the gateway: how long decapsulating the request took.
#[derive(Clone, Copy, Debug)]
pub struct Decapsulated(pub Duration);

/// Response extension set by a successful inference: the (loaded) model it
/// ran, so that the gateway can attribute the channel's stages to it.
#[derive(Clone, Debug)]
pub struct InferredModel(pub String);

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
    requests: IntCounterVec,
    inference: HistogramVec,
    ohttp: HistogramVec,
    in_flight: IntGauge,
    rejected: IntCounterVec,
    models_loaded: IntGauge,
    model_bytes: IntGaugeVec,
    attestations: IntCounter,
    resident_memory: IntGauge,
    endorsement_age: IntGaugeVec,
    endorsement_expiry: IntGaugeVec,
    /// Serialises scrapes: the model gauges are rebuilt at each one.
    scrape: Mutex<()>,
}

/// Registers `metric` in `registry` and hands it back.
fn registered<M>(registry: &Registry, metric: M) -> Result<M, MetricsError>
where
    M: prometheus::core::Collector + Clone + 'static,
{
    registry.register(Box::new(metric.clone()))?;
    Ok(metric)
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Result<Self, MetricsError> {
        let registry = Registry::new();
        let requests = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "veil_requests_total",
                    "Inner requests by route class and outcome (an error code, or ok).",
                ),
                &["route", "outcome"],
            )?,
        )?;
        let inference = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "veil_inference_seconds",
                    "Time of successful inferences per loaded model, by stage (decapsulate, queue, run, encapsulate).",
                )
                .buckets(latency_buckets()),
                &["model", "stage"],
            )?,
        )?;
        let ohttp = registered(
            &registry,
            HistogramVec::new(
                HistogramOpts::new(
                    "veil_ohttp_request_seconds",
                    "Time from receiving an OHTTP request to its encapsulated response, by framing.",
                )
                .buckets(latency_buckets()),
                &["framing"],
            )?,
        )?;
        let in_flight = registered(
            &registry,
            IntGauge::new(
                "veil_requests_in_flight",
                "OHTTP requests being handled now.",
            )?,
        )?;
        let rejected = registered(
            &registry,
            IntCounterVec::new(
                Opts::new(
                    "veil_requests_rejected_total",
                    "Requests refused by a limit, by reason.",
                ),
                &["reason"],
            )?,
        )?;
        for reason in Rejection::ALL {
            rejected.with_label_values(&[reason.as_str()]);
        }
        let models_loaded = registered(
            &registry,
            IntGauge::new("veil_models_loaded", "Models being served.")?,
        )?;
        let model_bytes = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new("veil_model_bytes", "Size of each served model in bytes."),
                &["model"],
            )?,
        )?;
        let attestations = registered(
            &registry,
            IntCounter::new("veil_attestations_served_total", "Evidence bundles served.")?,
        )?;
        let resident_memory = registered(
            &registry,
            IntGauge::new(
                "veil_process_resident_memory_bytes",
                "Resident memory of the server process in bytes (VmRSS).",
            )?,
        )?;
        let endorsement_age = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "veil_endorsement_age_seconds",
                    "Seconds since the server obtained the endorsement it ships with its evidence \
                     (fetched, or read from its cache or the operator's files); absent when it holds none.",
                ),
                &["platform"],
            )?,
        )?;
        let endorsement_expiry = registered(
            &registry,
            IntGaugeVec::new(
                Opts::new(
                    "veil_endorsement_expiry_timestamp_seconds",
                    "When that endorsement expires (earliest certificate notAfter or collateral \
                     nextUpdate), in unix seconds.",
                ),
                &["platform"],
            )?,
        )?;
        Ok(Metrics {
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
            endorsement_age,
            endorsement_expiry,
            scrape: Mutex::new(()),
        })
    }

    /// Counts one inner request; `outcome` is its error code, or `None` for ok.
    pub fn request(&self, route: &'static str, outcome: Option<ErrorCode>) {
        let outcome = outcome.map_or("ok", ErrorCode::as_str);
        self.requests.with_label_values(&[route, outcome]).inc();
    }

    /// Records a stage of a successful inference of `model`, a loaded model.
    pub fn inference(&self, model: &str, stage: Stage, took: Duration) {
        self.inference
            .with_label_values(&[model, stage.as_str()])
            .observe(took.as_secs_f64());
    }

    /// Records the total time of one OHTTP request.
    pub fn ohttp_request(&self, framing: Framing, took: Duration) {
        let histogram: Histogram = self.ohttp.with_label_values(&[framing.as_str()]);
        histogram.observe(took.as_secs_f64());
    }

    /// Counts a request refused by a limit.
    pub fn rejected(&self, reason: Rejection) {
        self.rejected.with_label_values(&[reason.as_str()]).inc();
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
    /// `endorsement` is the evidence producer's platform label and the
    /// times of the endorsement it holds, if any.
    pub fn encode(
        &self,
        models: impl IntoIterator<Item = (String, u64)>,
        endorsement: Option<(&str, EndorsementTimes)>,
    ) -> Result<String, MetricsError> {
        let _scrape = self
            .scrape
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.model_bytes.reset();
        let mut loaded = 0i64;
        for (model, bytes) in models {
            loaded += 1;
            self.model_bytes
                .with_label_values(&[model.as_str()])
                .set(i64::try_from(bytes).unwrap_or(i64::MAX));
        }
        self.models_loaded.set(loaded);
        self.resident_memory
            .set(resident_memory_bytes().unwrap_or(0));
        self.endorsement_age.reset();
        self.endorsement_expiry.reset();
        if let Some((platform, times)) = endorsement {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let age = now.saturating_sub(times.obtained_at);
            self.endorsement_age
                .with_label_values(&[platform])
                .set(i64::try_from(age).unwrap_or(i64::MAX));
            if let Some(expires_at) = times.expires_at {
                self.endorsement_expiry
                    .with_label_values(&[platform])
                    .set(i64::try_from(expires_at).unwrap_or(i64::MAX));
            }
        }
        let mut out = String::new();
        TextEncoder::new().encode_utf8(&self.registry.gather(), &mut out)?;
        Ok(out)
    }
}

/// Keeps a request counted in `veil_requests_in_flight` while alive.
#[derive(Debug)]
pub struct InFlight<'a>(&'a IntGauge);

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
        let m = Metrics::new().unwrap();
        m.request("infer", None);
        m.request("infer", Some(ErrorCode::InvalidInput));
        m.inference("mlp", Stage::Run, Duration::from_millis(2));
        let text = m.encode([("mlp".to_owned(), 1234)], None).unwrap();
        assert!(text.contains("# TYPE veil_inference_seconds histogram"));
        assert!(text.contains("# TYPE veil_requests_total counter"));
        assert!(text.contains("veil_requests_total{outcome=\"ok\",route=\"infer\"} 1"));
        assert!(text.contains("veil_model_bytes{model=\"mlp\"} 1234"));
        assert!(text.contains("veil_models_loaded 1"));
        assert!(text.contains("veil_process_resident_memory_bytes "));
        assert!(!text.contains("veil_process_resident_memory_bytes 0\n"));
        // No endorsement held (the simulated platform): no endorsement series.
        assert!(!text.contains("veil_endorsement_"), "{text}");
    }

    #[test]
    fn reports_the_age_and_expiry_of_the_held_endorsement() {
        let m = Metrics::new().unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let times = EndorsementTimes {
            obtained_at: now - 3600,
            expires_at: Some(now + 86_400),
        };
        let text = m.encode([], Some(("sev-snp", times))).unwrap();
        let age: u64 = text
            .lines()
            .find_map(|l| l.strip_prefix("veil_endorsement_age_seconds{platform=\"sev-snp\"} "))
            .expect("age series")
            .parse()
            .unwrap();
        assert!((3600..3700).contains(&age), "{age}");
        assert!(text.contains(&format!(
            "veil_endorsement_expiry_timestamp_seconds{{platform=\"sev-snp\"}} {}",
            now + 86_400
        )));
        // Gone again once the producer holds none.
        let text = m.encode([], None).unwrap();
        assert!(!text.contains("veil_endorsement_age_seconds{"), "{text}");
    }
}
