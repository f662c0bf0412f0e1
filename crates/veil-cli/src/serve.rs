//! `veil serve`: start the server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use rand::RngCore;
use veil_attest::{EvidenceProducer, Measurement, PlatformKind, ReportData, SimulatedProducer};
use veil_engine::{OrtConfig, OrtEngine, find_onnxruntime_library};
use veil_server::auth::TokenHash;
use veil_server::{AppState, Limits, ServerConfig};
use veil_tee::{
    ConfigfsTsm, ConfigfsTsmProducer, DEFAULT_CONFIGFS_ROOT, SnpCertificates, TdxCollateral,
    TsmProvider, unverified_measurement,
};

/// Which TEE platform produces evidence.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PlatformArg {
    /// No TEE: evidence in the SEV-SNP report format signed by a key this
    /// process generates. For development and tests only; clients refuse it
    /// unless told to allow simulation.
    Simulated,
    /// AMD SEV-SNP confidential VM: reports through Linux configfs-tsm
    /// (provider `sev_guest`), VCEK chain from the host or --snp-certs.
    SevSnp,
    /// Intel TDX confidential VM: quotes through Linux configfs-tsm
    /// (provider `tdx_guest`), Intel collateral from --tdx-collateral.
    Tdx,
    /// Whichever of `sev-snp` or `tdx` configfs-tsm reports. Never falls
    /// back to `simulated`: without a TEE it fails, naming what it looked for.
    Auto,
}

/// Arguments of `veil serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443", env = "VEIL_LISTEN")]
    listen: SocketAddr,
    /// Data directory: stored models, and the generated owner token.
    #[arg(long, default_value = "./veil-data", env = "VEIL_DATA_DIR")]
    data_dir: PathBuf,
    /// TEE platform.
    #[arg(long, value_enum, default_value = "simulated", env = "VEIL_PLATFORM")]
    platform: PlatformArg,
    /// Where configfs is mounted (configfs-tsm reports live under
    /// CONFIGFS/tsm/report).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_CONFIGFS_ROOT)]
    configfs_root: PathBuf,
    /// SEV-SNP: a directory with the chip's VCEK chain from AMD KDS
    /// (vcek.der or vcek.pem, ask.pem, optionally ark.pem), used when the
    /// host supplies no certificates. Veil does not fetch from AMD KDS.
    #[arg(long, value_name = "DIR", env = "VEIL_SNP_CERTS")]
    snp_certs: Option<PathBuf>,
    /// TDX: Intel PCS collateral for this platform (QuoteCollateralV3 JSON),
    /// shipped with every quote. Veil does not fetch from Intel PCS.
    #[arg(long, value_name = "FILE", env = "VEIL_TDX_COLLATERAL")]
    tdx_collateral: Option<PathBuf>,
    /// SHA-256 (hex) of an owner token allowed to upload and delete models
    /// (repeatable). Without any, a token is generated into DATA_DIR/owner-token.
    #[arg(
        long = "owner-token-sha256",
        value_name = "HEX",
        env = "VEIL_OWNER_TOKEN_SHA256",
        value_delimiter = ','
    )]
    owner_tokens: Vec<TokenHash>,
    /// SHA-256 (hex) of an API key allowed to run inference (repeatable).
    /// Without any, inference is open to every client that verified the server.
    #[arg(
        long = "api-key-sha256",
        value_name = "HEX",
        env = "VEIL_API_KEY_SHA256",
        value_delimiter = ','
    )]
    api_keys: Vec<TokenHash>,
    /// ONNX Runtime intra-op threads per session (0 = ONNX Runtime's default).
    #[arg(long, default_value_t = 0)]
    intra_op_threads: usize,
    /// ONNX Runtime sessions per model: concurrent runs of one model.
    #[arg(long, default_value_t = 2)]
    sessions_per_model: usize,
    /// Largest encapsulated request in bytes (inference and management calls).
    #[arg(long, default_value_t = Limits::default().max_request_bytes)]
    max_request_bytes: usize,
    /// Largest model upload in bytes.
    #[arg(long, default_value_t = Limits::default().max_model_bytes)]
    max_model_bytes: u64,
    /// Largest number of elements in one input tensor.
    #[arg(long, default_value_t = Limits::default().max_tensor_elements)]
    max_tensor_elements: usize,
    /// Inferences of one model that run at once (default: --sessions-per-model).
    #[arg(long, value_name = "N")]
    max_concurrent_inferences: Option<usize>,
    /// Inferences of one model that may wait; beyond that, 503 with Retry-After.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_queued_inferences_per_model)]
    max_queued_inferences: usize,
    /// Seconds allowed to receive a request body (chunked: the longest pause); then 408.
    #[arg(long, value_name = "SECONDS", default_value_t = Limits::default().request_read_timeout.as_secs())]
    request_read_timeout: u64,
    /// Path of libonnxruntime.so (default: $ORT_DYLIB_PATH, else the project's .venv).
    #[arg(long, value_name = "PATH")]
    ort_library: Option<PathBuf>,
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

/// The evidence producer for `--platform`, checked by producing one report
/// at start-up so that a missing interface or endorsement fails here, not at
/// the first client.
fn evidence_producer(args: &ServeArgs) -> Result<Box<dyn EvidenceProducer>> {
    let tsm = ConfigfsTsm::new(&args.configfs_root);
    let provider = match args.platform {
        PlatformArg::Simulated => {
            let measurement = veil_server::measurement::executable_measurement()
                .context("cannot hash the server executable")?;
            tracing::warn!(
                "platform `simulated`: NOT a TEE; clients must pass --allow-simulation to talk to it"
            );
            tracing::info!(%measurement, "measurement (SHA-384 of this executable)");
            return Ok(Box::new(SimulatedProducer::generate(measurement)));
        }
        PlatformArg::SevSnp => TsmProvider::SevGuest,
        PlatformArg::Tdx => TsmProvider::TdxGuest,
        PlatformArg::Auto => tsm.provider().with_context(|| {
            format!(
                "--platform auto found no TEE: it looked for a configfs-tsm provider \
                 (sev_guest or tdx_guest) under {}; it never falls back to simulation \
                 (pass --platform simulated to run without a TEE)",
                tsm.report_dir().display()
            )
        })?,
    };
    // The interface first: without it, endorsements are beside the point.
    tsm.check_interface()?;
    let producer = match provider {
        TsmProvider::SevGuest => {
            if args.tdx_collateral.is_some() {
                tracing::warn!("--tdx-collateral ignored: the platform is sev-snp");
            }
            let certs = args
                .snp_certs
                .as_deref()
                .map(SnpCertificates::from_dir)
                .transpose()?;
            ConfigfsTsmProducer::sev_snp(tsm, certs)?
        }
        TsmProvider::TdxGuest => {
            if args.snp_certs.is_some() {
                tracing::warn!("--snp-certs ignored: the platform is tdx");
            }
            let path = args.tdx_collateral.as_deref().context(
                "platform tdx needs --tdx-collateral FILE: the Intel PCS collateral \
                 (QuoteCollateralV3 JSON) for this platform; Veil does not fetch it from Intel PCS",
            )?;
            ConfigfsTsmProducer::tdx(tsm, TdxCollateral::from_file(path)?)?
        }
    };
    let platform = producer.platform();
    let probe = producer
        .produce_evidence(&ReportData([0; 64]))
        .with_context(|| format!("cannot produce {platform} evidence at start-up"))?;
    log_hardware_measurement(platform, unverified_measurement(platform, &probe.report));
    Ok(Box::new(producer))
}

fn log_hardware_measurement(platform: PlatformKind, measurement: Option<Measurement>) {
    let field = match platform {
        PlatformKind::Tdx => "MRTD",
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

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> Result<()> {
    let producer = evidence_producer(&args)?;
    let library = match &args.ort_library {
        Some(p) => p.clone(),
        None => find_onnxruntime_library(&search_roots())?,
    };
    let mut ort = OrtConfig::new(library.clone());
    ort.intra_op_threads = args.intra_op_threads;
    ort.sessions_per_model = args.sessions_per_model;
    let engine = OrtEngine::new(ort)?;
    tracing::info!(library = %library.display(), "ONNX Runtime loaded");

    let mut config = ServerConfig::new(args.listen, args.data_dir.clone());
    config.owner_tokens = args.owner_tokens.clone();
    config.api_keys = args.api_keys.clone();
    config.limits.max_request_bytes = args.max_request_bytes;
    config.limits.max_model_bytes = args.max_model_bytes;
    config.limits.max_tensor_elements = args.max_tensor_elements;
    config.limits.max_concurrent_inferences_per_model = args
        .max_concurrent_inferences
        .unwrap_or(args.sessions_per_model)
        .max(1);
    config.limits.max_queued_inferences_per_model = args.max_queued_inferences;
    config.limits.request_read_timeout = std::time::Duration::from_secs(args.request_read_timeout);
    if config.owner_tokens.is_empty() {
        let (path, token) = generated_owner_token(&args.data_dir)?;
        config.owner_tokens.push(TokenHash::of(&token));
        tracing::info!(path = %path.display(), "owner token (no --owner-token-sha256 given)");
    }

    let state = AppState::new(config, Arc::new(engine), producer)
        .with_context(|| format!("cannot open the data directory {}", args.data_dir.display()))?;
    tracing::info!(models = state.services.registry.len(), "models loaded");

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    tracing::info!(address = %listener.local_addr()?, "veil serving");
    axum::serve(listener, veil_server::app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
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
        evidence_producer(&cli.serve)
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
