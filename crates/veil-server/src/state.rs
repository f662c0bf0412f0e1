//! Shared server state: configuration, models, the attested key.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use veil_attest::EvidenceProducer;
use veil_engine::Engine;
use veil_protocol::channel::GatewayKey;

use crate::config::ServerConfig;
use crate::gate::Gates;
use crate::metrics::Metrics;
use crate::registry::Registry;
use crate::store::ModelStore;

/// What the inner API needs: configuration and models.
pub struct Services {
    /// The configuration the server started with.
    pub config: ServerConfig,
    /// The served models.
    pub registry: Registry,
    /// Per-model admission of inferences (concurrency and queue limits).
    pub gates: Gates,
    /// The Prometheus metrics of this server (one registry per state).
    pub metrics: Metrics,
    /// Bytes of requests being read and decoded at once, server-wide.
    pub request_budget: crate::budget::RequestBudget,
    /// Whether the server takes new work, or drains before it stops.
    pub readiness: Readiness,
    /// Single-use challenges that bind uploads and deletes to the present.
    pub challenges: crate::challenge::Challenges,
    /// The rate limit on failed owner-token and API-key checks.
    pub auth_failures: crate::auth::FailedAuthLimiter,
    /// The key owners encrypt models to (derived from the sealing key).
    pub owner_model_key: veil_model_crypto::owner::ModelKeyPair,
    /// Which replicas of this server get its sealing key.
    pub replicas: crate::replica::ReplicaSharing,
}

/// Readiness for new work: true from start until draining starts (on
/// SIGTERM), then false for good. The readiness endpoints report it, so a
/// load balancer stops sending traffic while requests in flight finish.
#[derive(Debug, Default)]
pub struct Readiness {
    draining: AtomicBool,
}

impl Readiness {
    /// Marks the server as draining; it never becomes ready again.
    pub fn start_draining(&self) {
        self.draining.store(true, Ordering::SeqCst);
    }

    /// Whether the server takes new work (false once draining started).
    pub fn is_ready(&self) -> bool {
        !self.draining.load(Ordering::SeqCst)
    }
}

/// The evidence producer and the key it attests.
pub struct Attestor {
    /// Produces evidence over report data (shared with [`crate::replica`]).
    pub producer: Arc<dyn EvidenceProducer>,
    /// The OHTTP key whose configuration the evidence binds.
    pub key: GatewayKey,
}

/// State of the outer app: services, attestor and the inner router that the
/// gateway dispatches decapsulated requests to.
#[derive(Clone)]
pub struct AppState {
    /// Configuration and models.
    pub services: Arc<Services>,
    /// Evidence and the gateway key.
    pub attestor: Arc<Attestor>,
    /// The Open Inference Protocol router, reachable only through the gateway.
    pub inner: Router,
}

impl AppState {
    /// Opens the model store under the configured data directory, sealed
    /// with a replica's shared key, the configured key file or the
    /// platform's sealing key ([`crate::seal::key_source_for`]),
    /// loads its models with `engine`, and generates a fresh gateway key.
    pub fn new(
        config: ServerConfig,
        engine: Arc<dyn Engine>,
        producer: Box<dyn EvidenceProducer>,
    ) -> std::io::Result<Self> {
        let sealing: Box<dyn crate::seal::SealingKeySource> = match &config.shared_sealing_key {
            Some(shared) => Box::new(shared.clone()),
            None => crate::seal::key_source_for(
                producer.platform(),
                &config.data_dir,
                config.sealing_key_file.as_deref(),
            )
            .map_err(std::io::Error::other)?,
        };
        let key = sealing.sealing_key().map_err(std::io::Error::other)?;
        if sealing.hardware_protected() {
            tracing::info!(source = sealing.name(), "models at rest are sealed");
        } else {
            tracing::warn!(
                source = sealing.name(),
                "models at rest are sealed under a key that is NOT hardware-protected"
            );
        }
        let owner_model_key = key.owner_model_key();
        let producer: Arc<dyn EvidenceProducer> = Arc::from(producer);
        let replicas = crate::replica::ReplicaSharing::new(producer.clone(), key.clone());
        let store = ModelStore::open(&config.data_dir, key)?;
        let registry = Registry::open(engine, store)?;
        let key = GatewayKey::generate().map_err(std::io::Error::other)?;
        let gates = Gates::new(
            config.limits.max_concurrent_inferences_per_model,
            config.limits.max_queued_inferences_per_model,
        );
        let request_budget =
            crate::budget::RequestBudget::new(config.limits.max_inflight_request_bytes);
        let services = Arc::new(Services {
            config,
            registry,
            gates,
            metrics: Metrics::new().map_err(std::io::Error::other)?,
            request_budget,
            readiness: Readiness::default(),
            challenges: Default::default(),
            auth_failures: Default::default(),
            owner_model_key,
            replicas,
        });
        Ok(AppState {
            inner: crate::api::router(services.clone()),
            services,
            attestor: Arc::new(Attestor { producer, key }),
        })
    }
}
