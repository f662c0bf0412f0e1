//! `veil serve`: start the server, and drain it on SIGTERM or Ctrl-C.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use rand::RngCore;
use tokio::signal::unix::{Signal, SignalKind, signal};
use veil_attest::{EvidenceProducer, Measurement, PlatformKind, SimulatedProducer};
use veil_engine::{OrtConfig, OrtEngine, find_onnxruntime_library};
use veil_server::auth::TokenHash;
use veil_server::listener::{ListenAddr, Listener};
use veil_server::replica::SharedSealingKey;
use veil_server::seal::SealingKey;
use veil_server::{AppState, ServerConfig};
use veil_tee::{
    ConfigfsTsm, FetchOptions, HardwarePlatform, PlatformOptions, open_producer,
    unverified_measurement,
};

use crate::config_file::{LogFormat, PlatformConfig, ServeConfig, SnpProductName, TeePlatform};

/// Arguments of `veil serve`. Every setting is optional here: one given by
/// flag or `VEIL_*` variable overrides the configuration file, which
/// overrides the defaults (docs/configuration.md).
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Configuration file (TOML, see veil.example.toml); flags and VEIL_*
    /// variables override its values.
    #[arg(long, value_name = "FILE", env = "VEIL_CONFIG")]
    config: Option<PathBuf>,
    /// Validate the configuration, print it (token hashes redacted) as TOML
    /// and exit, without starting the server.
    #[arg(long)]
    pub check_config: bool,
    /// Address of the outer API: HOST:PORT for TCP, or vsock:PORT or
    /// vsock:CID:PORT for vsock (AWS Nitro Enclaves, which have no network;
    /// CID defaults to any) [default: 127.0.0.1:8443].
    #[arg(long, value_name = "ADDR", env = "VEIL_LISTEN")]
    listen: Option<ListenAddr>,
    /// Data directory: stored models, and the generated owner token
    /// [default: ./veil-data].
    #[arg(long, value_name = "DIR", env = "VEIL_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Also serve /metrics and the health routes on this address, TCP or
    /// vsock as for --listen (off by default; /metrics stays on the outer
    /// API too).
    #[arg(long, value_name = "ADDR", env = "VEIL_METRICS_LISTEN")]
    metrics_listen: Option<ListenAddr>,
    /// Seconds that requests in flight get to finish after SIGTERM or
    /// Ctrl-C; past it the server exits with status 1 [default: 30].
    #[arg(long, value_name = "SECONDS", env = "VEIL_DRAIN_TIMEOUT")]
    drain_timeout: Option<u64>,
    /// TEE platform [default: simulated].
    #[arg(long, value_enum, env = "VEIL_PLATFORM")]
    platform: Option<TeePlatform>,
    /// Where configfs is mounted (configfs-tsm reports live under
    /// CONFIGFS/tsm/report) [default: /sys/kernel/config].
    #[arg(long, value_name = "DIR", env = "VEIL_CONFIGFS_ROOT")]
    configfs_root: Option<PathBuf>,
    /// SEV-SNP: a directory with the chip's VCEK chain from AMD KDS
    /// (vcek.der or vcek.pem, ask.pem, optionally ark.pem); when given,
    /// nothing is fetched (air-gapped sites).
    #[arg(long, value_name = "DIR", env = "VEIL_SNP_CERTS")]
    snp_certs: Option<PathBuf>,
    /// TDX and SGX: Intel PCS collateral for this platform
    /// (QuoteCollateralV3 JSON), shipped with every quote; when given,
    /// nothing is fetched.
    #[arg(long, value_name = "FILE", env = "VEIL_TDX_COLLATERAL")]
    tdx_collateral: Option<PathBuf>,
    /// SEV-SNP: the EPYC product, to fetch the VCEK of a version 2 report
    /// (which carries no CPUID).
    #[arg(long, value_enum, env = "VEIL_SNP_PRODUCT")]
    snp_product: Option<SnpProductName>,
    /// Fetch endorsements not given as files from AMD KDS / Intel PCS,
    /// cache them in DATA_DIR/endorsements, refresh before expiry
    /// [default: true].
    #[arg(long, value_name = "BOOL", env = "VEIL_FETCH_ENDORSEMENTS")]
    fetch_endorsements: Option<bool>,
    /// AMD KDS base URL [default: https://kdsintf.amd.com].
    #[arg(long, value_name = "URL", env = "VEIL_KDS_URL")]
    kds_url: Option<String>,
    /// Intel PCS base URL, or a PCCS serving the same API
    /// [default: https://api.trustedservices.intel.com].
    #[arg(long, value_name = "URL", env = "VEIL_PCS_URL")]
    pcs_url: Option<String>,
    /// The Intel SGX Root CA CRL [default: Intel's].
    #[arg(long, value_name = "URL", env = "VEIL_INTEL_ROOT_CRL_URL")]
    intel_root_crl_url: Option<String>,
    /// SHA-256 (hex) of an owner token allowed to upload and delete models
    /// (repeatable). Without any, a token is generated into DATA_DIR/owner-token.
    #[arg(
        long = "owner-token-sha256",
        value_name = "HEX",
        env = "VEIL_OWNER_TOKEN_SHA256",
        value_delimiter = ','
    )]
    owner_tokens: Option<Vec<TokenHash>>,
    /// SHA-256 (hex) of an API key allowed to run inference (repeatable).
    /// Without any, inference is open to every client that verified the server.
    #[arg(
        long = "api-key-sha256",
        value_name = "HEX",
        env = "VEIL_API_KEY_SHA256",
        value_delimiter = ','
    )]
    api_keys: Option<Vec<TokenHash>>,
    /// ONNX Runtime intra-op threads per session (0 = ONNX Runtime's
    /// default) [default: 0].
    #[arg(long, value_name = "N", env = "VEIL_INTRA_OP_THREADS")]
    intra_op_threads: Option<usize>,
    /// ONNX Runtime sessions per model: concurrent runs of one model [default: 2].
    #[arg(long, value_name = "N", env = "VEIL_SESSIONS_PER_MODEL")]
    sessions_per_model: Option<usize>,
    /// Largest encapsulated request in bytes (inference and management
    /// calls) [default: 67108864].
    #[arg(long, value_name = "BYTES", env = "VEIL_MAX_REQUEST_BYTES")]
    max_request_bytes: Option<usize>,
    /// Largest model upload in bytes [default: 2147483648].
    #[arg(long, value_name = "BYTES", env = "VEIL_MAX_MODEL_BYTES")]
    max_model_bytes: Option<u64>,
    /// Largest number of elements in one input tensor [default: 67108864].
    #[arg(long, value_name = "N", env = "VEIL_MAX_TENSOR_ELEMENTS")]
    max_tensor_elements: Option<usize>,
    /// Inferences of one model that run at once (default, and at most:
    /// --sessions-per-model; each session runs on a thread of its own).
    #[arg(long, value_name = "N", env = "VEIL_MAX_CONCURRENT_INFERENCES")]
    max_concurrent_inferences: Option<usize>,
    /// Inferences of one model that may wait; beyond that, 503 with
    /// Retry-After [default: 32].
    #[arg(long, value_name = "N", env = "VEIL_MAX_QUEUED_INFERENCES")]
    max_queued_inferences: Option<usize>,
    /// Seconds allowed to receive a request body (chunked: the longest
    /// pause); then 408 [default: 60].
    #[arg(long, value_name = "SECONDS", env = "VEIL_REQUEST_READ_TIMEOUT")]
    request_read_timeout: Option<u64>,
    /// Bytes of encapsulated (non-chunked) requests read and decoded at
    /// once, server-wide; beyond that, 503 with Retry-After [default: 268435456].
    #[arg(long, value_name = "BYTES", env = "VEIL_MAX_INFLIGHT_REQUEST_BYTES")]
    max_inflight_request_bytes: Option<u64>,
    /// Models held at once; an upload under a new name beyond that is
    /// refused (model_limit_reached) [default: 64].
    #[arg(long, value_name = "N", env = "VEIL_MAX_MODELS")]
    max_models: Option<usize>,
    /// Seconds a client has to send a request's head once it started one;
    /// then its connection is closed [default: 30].
    #[arg(long, value_name = "SECONDS", env = "VEIL_HEADER_READ_TIMEOUT")]
    header_read_timeout: Option<u64>,
    /// Path of libonnxruntime.so (default: $ORT_DYLIB_PATH, else the project's .venv).
    #[arg(long, value_name = "PATH", env = "VEIL_ORT_LIBRARY")]
    ort_library: Option<PathBuf>,
    /// A 32-byte key file (created if absent) to seal models at rest with,
    /// instead of the platform's sealing key. Required on TDX and Nitro,
    /// which have no sealing key built; NOT hardware-protected: keep it where
    /// only the TEE can read it (e.g. an encrypted disk unlocked after attestation).
    #[arg(long, value_name = "FILE", env = "VEIL_SEALING_KEY_FILE")]
    sealing_key_file: Option<PathBuf>,
    /// Join the running server at URL as its replica: verify that it runs
    /// this very code (the policy pinning this server's own evidence), then
    /// take its sealing key, sealed to this process, so both read the same
    /// sealed models and share the model key. The server at URL checks this
    /// server's evidence the same way. Replaces the platform's key and
    /// --sealing-key-file.
    #[arg(long, value_name = "URL", env = "VEIL_JOIN_REPLICA")]
    join_replica: Option<String>,
}

/// Overwrites `slot` with `given` if a flag or variable gave it.
fn overlay<T: Clone>(slot: &mut T, given: &Option<T>) {
    if let Some(value) = given {
        *slot = value.clone();
    }
}

/// Like [`overlay`], for settings that are optional in the configuration.
fn overlay_option<T: Clone>(slot: &mut Option<T>, given: &Option<T>) {
    if given.is_some() {
        slot.clone_from(given);
    }
}

impl ServeArgs {
    /// The effective configuration: the defaults, then the file given by
    /// `--config`, then every setting given by flag or `VEIL_*` variable
    /// (clap already ranks a flag over its variable). `log_format` is the
    /// global `--log-format`, if given.
    pub fn resolve(&self, log_format: Option<LogFormat>) -> Result<ServeConfig> {
        let mut c = match &self.config {
            Some(path) => ServeConfig::from_file(path)?,
            None => ServeConfig::default(),
        };
        overlay(&mut c.listen, &self.listen);
        overlay(&mut c.data_dir, &self.data_dir);
        overlay_option(&mut c.metrics_listen, &self.metrics_listen);
        overlay(&mut c.log_format, &log_format);
        overlay(&mut c.drain_timeout, &self.drain_timeout);
        overlay_option(&mut c.ort_library, &self.ort_library);
        overlay_option(&mut c.sealing_key_file, &self.sealing_key_file);
        overlay_option(&mut c.join_replica, &self.join_replica);
        let p = &mut c.platform;
        overlay(&mut p.kind, &self.platform);
        overlay(&mut p.configfs_root, &self.configfs_root);
        overlay_option(&mut p.snp_certs, &self.snp_certs);
        overlay_option(&mut p.tdx_collateral, &self.tdx_collateral);
        overlay_option(&mut p.snp_product, &self.snp_product);
        overlay(&mut p.fetch_endorsements, &self.fetch_endorsements);
        overlay(&mut p.kds_url, &self.kds_url);
        overlay(&mut p.pcs_url, &self.pcs_url);
        overlay(&mut p.intel_root_crl_url, &self.intel_root_crl_url);
        overlay(&mut c.auth.owner_token_sha256, &self.owner_tokens);
        overlay(&mut c.auth.api_key_sha256, &self.api_keys);
        let l = &mut c.limits;
        overlay(&mut l.max_request_bytes, &self.max_request_bytes);
        overlay(&mut l.max_model_bytes, &self.max_model_bytes);
        overlay(&mut l.max_tensor_elements, &self.max_tensor_elements);
        overlay_option(
            &mut l.max_concurrent_inferences,
            &self.max_concurrent_inferences,
        );
        overlay(&mut l.max_queued_inferences, &self.max_queued_inferences);
        overlay(&mut l.request_read_timeout, &self.request_read_timeout);
        overlay(
            &mut l.max_inflight_request_bytes,
            &self.max_inflight_request_bytes,
        );
        overlay(&mut l.max_models, &self.max_models);
        overlay(&mut l.header_read_timeout, &self.header_read_timeout);
        overlay(&mut c.engine.intra_op_threads, &self.intra_op_threads);
        overlay(&mut c.engine.sessions_per_model, &self.sessions_per_model);
        c.finish()
    }
}

/// Reads DATA_DIR/owner-token, creating it (mode 0600) with a random token if absent.
fn generated_owner_token(data_dir: &Path) -> Result<(PathBuf, String)> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let path = data_dir.join("owner-token");
    if let Ok(token) = std::fs::read_to_string(&path) {
        return Ok((path, token.trim().to_owned()));
    }
    let mut raw = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut raw);
    let token = hex::encode(raw);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    writeln!(f, "{token}")?;
    f.sync_all()?;
    Ok((path, token))
}

fn search_roots() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    if let Ok(cwd) = std::env::current_dir() {
        roots.push(cwd);
    }
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(Path::to_path_buf))
    {
        roots.push(dir);
    }
    // The source tree this binary was built from (target/ may live elsewhere).
    roots.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    roots
}

/// The evidence producer for the configured platform, checked by producing
/// one report at start-up so that a missing interface or endorsement fails
/// here, not at the first client. Endorsements fetched from AMD KDS or
/// Intel PCS are cached in DATA_DIR/endorsements and refreshed in the
/// background before they expire.
async fn evidence_producer(
    platform: &PlatformConfig,
    data_dir: &Path,
) -> Result<Box<dyn EvidenceProducer>> {
    let hardware = match platform.kind {
        TeePlatform::Simulated => {
            let measurement = veil_server::measurement::executable_measurement()
                .context("cannot hash the server executable")?;
            tracing::warn!(
                "platform `simulated`: NOT a TEE; clients must pass --allow-simulation to talk to it"
            );
            tracing::info!(%measurement, "measurement (SHA-384 of this executable)");
            return Ok(Box::new(SimulatedProducer::generate(measurement)));
        }
        TeePlatform::SevSnp => HardwarePlatform::SevSnp,
        TeePlatform::Tdx => HardwarePlatform::Tdx,
        TeePlatform::Sgx => HardwarePlatform::Sgx,
        TeePlatform::Nitro => HardwarePlatform::Nitro,
        TeePlatform::Auto => HardwarePlatform::Auto,
    };
    let mut options = PlatformOptions::new(hardware);
    options.configfs = ConfigfsTsm::new(&platform.configfs_root);
    options.snp_certs = platform.snp_certs.clone();
    options.intel_collateral = platform.tdx_collateral.clone();
    options.snp_product = platform.snp_product.map(Into::into);
    if platform.fetch_endorsements {
        let mut fetch = FetchOptions::new(data_dir.join("endorsements"));
        fetch.sources.kds_url = platform.kds_url.clone();
        fetch.sources.pcs_url = platform.pcs_url.clone();
        fetch.sources.intel_root_crl_url = platform.intel_root_crl_url.clone();
        options.fetch = Some(fetch);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs();
    let opened = open_producer(&options, now).await?;
    let kind = opened.producer.platform();
    tracing::info!(platform = %kind, interface = opened.interface, "TEE evidence producer ready");
    log_hardware_measurement(kind, unverified_measurement(kind, &opened.probe.report));
    if let (Some(endorser), Some(fetch)) = (opened.endorser, &options.fetch) {
        endorser.spawn_refresh(fetch.check_every);
    }
    Ok(opened.producer)
}

fn log_hardware_measurement(platform: PlatformKind, measurement: Option<Measurement>) {
    let field = match platform {
        PlatformKind::Tdx => "MRTD",
        PlatformKind::Sgx => "MRENCLAVE",
        PlatformKind::Nitro => "PCR0",
        _ => "MEASUREMENT",
    };
    match measurement {
        Some(measurement) => tracing::info!(
            %platform,
            %measurement,
            "measurement ({field} of the hardware report, as clients will verify it; pin it in the policy)"
        ),
        None => tracing::warn!(%platform, "the hardware report's {field} could not be read"),
    }
}

/// The server-side settings of `config`, with the generated owner token
/// if the configuration names none.
fn server_config(config: &ServeConfig) -> Result<ServerConfig> {
    let mut server = ServerConfig::new(config.listen, config.data_dir.clone());
    server.owner_tokens = config.auth.owner_token_sha256.clone();
    server.api_keys = config.auth.api_key_sha256.clone();
    let (l, limits) = (&config.limits, &mut server.limits);
    limits.max_request_bytes = l.max_request_bytes;
    limits.max_model_bytes = l.max_model_bytes;
    limits.max_tensor_elements = l.max_tensor_elements;
    limits.max_concurrent_inferences_per_model = config.concurrent_inferences();
    limits.max_queued_inferences_per_model = l.max_queued_inferences;
    limits.request_read_timeout = Duration::from_secs(l.request_read_timeout);
    limits.max_inflight_request_bytes = l.max_inflight_request_bytes;
    limits.max_models = l.max_models;
    limits.header_read_timeout = Duration::from_secs(l.header_read_timeout);
    server.sealing_key_file = config.sealing_key_file.clone();
    if server.owner_tokens.is_empty() {
        let (path, token) = generated_owner_token(&config.data_dir)?;
        server.owner_tokens.push(TokenHash::of(&token));
        tracing::info!(path = %path.display(), "owner token (no owner_token_sha256 configured)");
    }
    Ok(server)
}

/// SIGTERM and Ctrl-C (SIGINT), listened to from start-up on, so that a
/// signal that arrives early drains instead of killing the process.
struct ShutdownSignals {
    term: Signal,
    interrupt: Signal,
}

impl ShutdownSignals {
    fn install() -> Result<Self> {
        Ok(ShutdownSignals {
            term: signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?,
            interrupt: signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?,
        })
    }

    /// Waits for the next signal and returns its name.
    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

async fn bind(address: ListenAddr, what: &str) -> Result<Listener> {
    let listener = Listener::bind(address)
        .await
        .with_context(|| format!("cannot listen on {address} ({what}, {})", address.family()))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, family = address.family(), "{what} listening on {}", address.family());
    Ok(listener)
}

/// Runs the server until SIGTERM or Ctrl-C, then drains it: readiness turns
/// false, the listener closes (new connections are refused), requests in
/// flight get `drain_timeout` seconds to finish. If the drain times out or
/// a second signal cuts it short, exits the process with status 1.
pub async fn run(config: ServeConfig) -> Result<()> {
    let mut signals = ShutdownSignals::install()?;
    let producer = evidence_producer(&config.platform, &config.data_dir).await?;
    let library = match &config.ort_library {
        Some(p) => p.clone(),
        None => find_onnxruntime_library(&search_roots())?,
    };
    let mut ort = OrtConfig::new(library.clone());
    ort.intra_op_threads = config.engine.intra_op_threads;
    // A session beyond the runs allowed at once would never be used.
    ort.sessions_per_model = config
        .engine
        .sessions_per_model
        .min(config.concurrent_inferences());
    let engine = OrtEngine::new(ort)?;
    tracing::info!(library = %library.display(), "ONNX Runtime loaded");

    let mut server = server_config(&config)?;
    if let Some(url) = &config.join_replica {
        let shared = veil_client::replica::join(url, producer.as_ref(), Duration::from_secs(30))
            .await
            .with_context(|| format!("cannot join the replica at {url}"))?;
        tracing::info!(
            url = %url,
            measurement = %shared.sharer.measurement,
            "joined a replica running this code: models are sealed with its key"
        );
        server.shared_sealing_key = Some(SharedSealingKey::new(
            SealingKey::from_bytes(shared.key),
            url,
        ));
    }
    let state = AppState::new(server, Arc::new(engine), producer).with_context(|| {
        format!(
            "cannot open the data directory {}",
            config.data_dir.display()
        )
    })?;
    tracing::info!(models = state.services.registry.len(), "models loaded");

    let listener = bind(config.listen, "outer API").await?;
    let header_read_timeout = Duration::from_secs(config.limits.header_read_timeout);
    // The metrics listener is not drained: it answers (readiness: 503)
    // until the process exits.
    let _metrics = match config.metrics_listen {
        Some(address) => {
            let listener = bind(address, "metrics").await?;
            let app = veil_server::outer::metrics_app(state.clone());
            Some(AbortOnDrop(tokio::spawn(veil_server::listener::serve(
                listener,
                app,
                header_read_timeout,
                std::future::pending(),
            ))))
        }
        None => None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = veil_server::app(state.clone());
    let mut server = tokio::spawn(veil_server::listener::serve(
        listener,
        app,
        header_read_timeout,
        async {
            let _ = stopped.await;
        },
    ));
    tracing::info!("veil serving");

    let signal = tokio::select! {
        result = &mut server => {
            result.context("the server task failed")?;
            bail!("the server stopped without a signal");
        }
        signal = signals.next() => signal,
    };
    state.services.readiness.start_draining();
    let drain = Duration::from_secs(config.drain_timeout);
    tracing::info!(
        signal,
        drain_timeout_seconds = config.drain_timeout,
        "draining: not ready, no new connections, requests in flight may finish"
    );
    let _ = stop.send(());
    tokio::select! {
        result = tokio::time::timeout(drain, &mut server) => match result {
            Ok(result) => {
                result.context("the server task failed")?;
                tracing::info!("drained; stopped");
                Ok(())
            }
            Err(_) => exit_now(&format!(
                "the drain timed out after {}s with connections still open; \
                 their requests were cut off (uploads in progress are discarded)",
                config.drain_timeout
            )),
        },
        second = signals.next() => exit_now(&format!(
            "{second} during the drain: stopped without waiting for requests in flight"
        )),
    }
}

/// Exits with status 1 at once. Returning instead would drop the runtime,
/// which waits for work still going on its blocking threads (model loads
/// and stores) that the drain gave up on.
fn exit_now(message: &str) -> ! {
    tracing::error!("{message}");
    eprintln!("error: {message}");
    std::process::exit(1)
}

/// Aborts a background task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn producer_for(args: &[&str]) -> Result<Box<dyn EvidenceProducer>> {
        let cli = Cli::try_parse_from(std::iter::once("veil").chain(args.iter().copied())).unwrap();
        let config = cli.serve.resolve(None)?;
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(evidence_producer(&config.platform, &config.data_dir))
    }

    #[test]
    fn auto_without_a_tee_refuses_and_never_falls_back_to_simulation() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let err = producer_for(&["--platform", "auto", "--configfs-root", root])
            .err()
            .expect("no TEE here");
        let msg = format!("{err:#}");
        assert!(msg.contains("never falls back to simulation"), "{msg}");
        assert!(msg.contains("tsm/report"), "{msg}");
        assert!(msg.contains("CONFIG_TSM_REPORTS"), "{msg}");
    }

    #[test]
    fn sgx_and_nitro_without_their_interfaces_name_them() {
        // Neither Gramine's /dev/attestation nor /dev/nsm exists here.
        for (platform, names) in [("sgx", "/dev/attestation"), ("nitro", "/dev/nsm")] {
            let err = producer_for(&["--platform", platform, "--fetch-endorsements", "false"])
                .err()
                .expect("no TEE here");
            assert!(format!("{err:#}").contains(names), "{err:#}");
        }
    }

    #[test]
    fn endorsement_sources_come_from_flags() {
        let cli = Cli::try_parse_from([
            "veil",
            "--kds-url",
            "http://kds.test",
            "--pcs-url",
            "http://pcs.test",
            "--snp-product",
            "genoa",
            "--fetch-endorsements",
            "false",
        ])
        .unwrap();
        let p = cli.serve.resolve(None).unwrap().platform;
        assert_eq!(p.kds_url, "http://kds.test");
        assert_eq!(p.pcs_url, "http://pcs.test");
        assert_eq!(p.snp_product, Some(SnpProductName::Genoa));
        assert!(!p.fetch_endorsements);
        assert_eq!(
            ServeConfig::default().platform.kds_url,
            veil_tee::DEFAULT_KDS_URL
        );
    }

    #[test]
    fn explicit_hardware_platform_without_configfs_names_what_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("absent");
        for platform in ["sev-snp", "tdx"] {
            let err = producer_for(&[
                "--platform",
                platform,
                "--configfs-root",
                root.to_str().unwrap(),
            ])
            .err()
            .expect("no TEE here");
            assert!(
                format!("{err:#}").contains("configfs is not mounted"),
                "{err:#}"
            );
        }
    }
}
