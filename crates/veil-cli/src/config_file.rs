//! `veil serve`'s configuration file (docs/configuration.md).
//!
//! One type, [`ServeConfig`], is the whole configuration: parsing a TOML
//! file gives the defaults for every key the file leaves out, and
//! `serve::ServeArgs::resolve` then overwrites the keys that a flag or a
//! `VEIL_*` variable gave. So the precedence is flags > environment > file >
//! defaults, and the defaults live here only.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use serde::{Deserialize, Serialize};
use veil_server::Limits;
use veil_server::auth::TokenHash;
use veil_server::listener::ListenAddr;
use veil_tee::{
    DEFAULT_CONFIGFS_ROOT, DEFAULT_INTEL_ROOT_CRL_URL, DEFAULT_KDS_URL, DEFAULT_PCS_URL, SnpProduct,
};

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Which TEE platform produces evidence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TeePlatform {
    /// No TEE: evidence in the SEV-SNP report format signed by a key this
    /// process generates. For development and tests only; clients refuse it
    /// unless told to allow simulation.
    #[default]
    Simulated,
    /// AMD SEV-SNP confidential VM: reports through Linux configfs-tsm
    /// (provider `sev_guest`), else /dev/sev-guest; VCEK chain from
    /// --snp-certs, the host, or AMD KDS.
    SevSnp,
    /// Intel TDX confidential VM: quotes through Linux configfs-tsm
    /// (provider `tdx_guest`); Intel collateral from --tdx-collateral or
    /// Intel PCS.
    Tdx,
    /// Intel SGX enclave under Gramine: DCAP quotes through
    /// /dev/attestation; Intel collateral from --tdx-collateral or Intel PCS.
    Sgx,
    /// AWS Nitro Enclave: attestation documents from /dev/nsm.
    Nitro,
    /// Whichever TEE this machine has (configfs-tsm, /dev/sev-guest,
    /// Gramine, /dev/nsm). Never falls back to `simulated`: without a TEE
    /// it fails, naming every interface it tried.
    Auto,
}

/// An EPYC product, for fetching the VCEK of an SEV-SNP report that does
/// not say (report version 2 carries no CPUID).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SnpProductName {
    /// 3rd generation EPYC.
    Milan,
    /// 4th generation EPYC.
    Genoa,
    /// 5th generation EPYC.
    Turin,
}

impl From<SnpProductName> for SnpProduct {
    fn from(name: SnpProductName) -> Self {
        match name {
            SnpProductName::Milan => SnpProduct::Milan,
            SnpProductName::Genoa => SnpProduct::Genoa,
            SnpProductName::Turin => SnpProduct::Turin,
        }
    }
}

/// Everything `veil serve` is configured with. Each key has one flag and
/// one `VEIL_*` variable (docs/configuration.md lists them).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServeConfig {
    /// Address of the outer API: `HOST:PORT` (TCP), `vsock:PORT` or
    /// `vsock:CID:PORT` (`--listen`).
    pub listen: ListenAddr,
    /// Data directory: stored models, and the generated owner token (`--data-dir`).
    pub data_dir: PathBuf,
    /// A second address that serves only `/metrics` and the health routes,
    /// written like `listen`; off when unset (`--metrics-listen`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<ListenAddr>,
    /// Log format on stderr (`--log-format`).
    pub log_format: LogFormat,
    /// Seconds that requests in flight get to finish after SIGTERM or
    /// Ctrl-C (`--drain-timeout`).
    pub drain_timeout: u64,
    /// Path of libonnxruntime.so; unset: $ORT_DYLIB_PATH, else the
    /// project's .venv (`--ort-library`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ort_library: Option<PathBuf>,
    /// A 32-byte key file to seal models at rest with, instead of the
    /// platform's sealing key; required on TDX and Nitro, which have
    /// none built (`--sealing-key-file`). Not hardware-protected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sealing_key_file: Option<PathBuf>,
    /// URL of a running server to join as its replica: its sealing key is
    /// used, once each side has verified that the other runs this very code
    /// (`--join-replica`). Excludes `sealing_key_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub join_replica: Option<String>,
    /// Where evidence comes from.
    pub platform: PlatformConfig,
    /// Who may manage models and run inference.
    pub auth: AuthConfig,
    /// Limits on requests, uploads and queues.
    pub limits: LimitsConfig,
    /// ONNX Runtime settings.
    pub engine: EngineConfig,
}

/// The `[platform]` table: the TEE and the files its evidence needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PlatformConfig {
    /// The TEE platform (`--platform`).
    pub kind: TeePlatform,
    /// Where configfs is mounted; reports live under CONFIGFS/tsm/report
    /// (`--configfs-root`).
    pub configfs_root: PathBuf,
    /// SEV-SNP: a directory with the chip's VCEK chain from AMD KDS, used
    /// when the host supplies none (`--snp-certs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snp_certs: Option<PathBuf>,
    /// TDX and SGX: Intel PCS collateral (QuoteCollateralV3 JSON) shipped
    /// with every quote (`--tdx-collateral`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tdx_collateral: Option<PathBuf>,
    /// SEV-SNP: the EPYC product, needed to fetch the VCEK only for version
    /// 2 reports, which carry no CPUID (`--snp-product`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snp_product: Option<SnpProductName>,
    /// Fetch the endorsements not given as files (VCEK chain from AMD KDS,
    /// collateral from Intel PCS), cache them in DATA_DIR/endorsements and
    /// refresh them before they expire (`--fetch-endorsements`).
    pub fetch_endorsements: bool,
    /// AMD KDS base URL (`--kds-url`).
    pub kds_url: String,
    /// Intel PCS base URL, or a PCCS serving the same API (`--pcs-url`).
    pub pcs_url: String,
    /// The Intel SGX Root CA's CRL (`--intel-root-crl-url`).
    pub intel_root_crl_url: String,
}

/// The `[auth]` table: SHA-256 hashes of the accepted tokens, never the tokens.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Owner tokens that may upload and delete models; none: a token is
    /// generated into DATA_DIR/owner-token (`--owner-token-sha256`).
    #[serde(with = "token_hashes")]
    pub owner_token_sha256: Vec<TokenHash>,
    /// API keys that may run inference; none: inference is open to every
    /// client that verified the server (`--api-key-sha256`).
    #[serde(with = "token_hashes")]
    pub api_key_sha256: Vec<TokenHash>,
}

/// The `[limits]` table (see [`veil_server::Limits`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest encapsulated request in bytes (`--max-request-bytes`).
    pub max_request_bytes: usize,
    /// Largest model upload in bytes (`--max-model-bytes`).
    pub max_model_bytes: u64,
    /// Largest number of elements in one input tensor (`--max-tensor-elements`).
    pub max_tensor_elements: usize,
    /// Inferences of one model that run at once, at most the engine's
    /// `sessions_per_model`; unset: that (`--max-concurrent-inferences`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_inferences: Option<usize>,
    /// Inferences of one model that may wait; beyond that, 503 with
    /// Retry-After (`--max-queued-inferences`).
    pub max_queued_inferences: usize,
    /// Seconds allowed to receive a request body, or between two chunks of
    /// a chunked one; then 408 (`--request-read-timeout`).
    pub request_read_timeout: u64,
    /// Bytes of encapsulated (non-chunked) requests read and decoded at
    /// once, server-wide; beyond that, 503 with Retry-After
    /// (`--max-inflight-request-bytes`).
    pub max_inflight_request_bytes: u64,
    /// Models held at once; an upload under a new name beyond it is refused
    /// (`--max-models`).
    pub max_models: usize,
    /// Seconds a client has to send a request's head once it started one;
    /// then its connection is closed (`--header-read-timeout`).
    pub header_read_timeout: u64,
}

/// The `[engine]` table: ONNX Runtime.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineConfig {
    /// Intra-op threads per session, 0 = ONNX Runtime's default (`--intra-op-threads`).
    pub intra_op_threads: usize,
    /// Sessions per model: concurrent runs of one model (`--sessions-per-model`).
    pub sessions_per_model: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listen: ListenAddr::Tcp(SocketAddr::from(([127, 0, 0, 1], 8443))),
            data_dir: PathBuf::from("./veil-data"),
            metrics_listen: None,
            log_format: LogFormat::Text,
            drain_timeout: 30,
            ort_library: None,
            sealing_key_file: None,
            join_replica: None,
            platform: PlatformConfig::default(),
            auth: AuthConfig::default(),
            limits: LimitsConfig::default(),
            engine: EngineConfig::default(),
        }
    }
}

impl Default for PlatformConfig {
    fn default() -> Self {
        PlatformConfig {
            kind: TeePlatform::Simulated,
            configfs_root: PathBuf::from(DEFAULT_CONFIGFS_ROOT),
            snp_certs: None,
            tdx_collateral: None,
            snp_product: None,
            fetch_endorsements: true,
            kds_url: DEFAULT_KDS_URL.to_owned(),
            pcs_url: DEFAULT_PCS_URL.to_owned(),
            intel_root_crl_url: DEFAULT_INTEL_ROOT_CRL_URL.to_owned(),
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        let limits = Limits::default();
        LimitsConfig {
            max_request_bytes: limits.max_request_bytes,
            max_model_bytes: limits.max_model_bytes,
            max_tensor_elements: limits.max_tensor_elements,
            max_concurrent_inferences: None,
            max_queued_inferences: limits.max_queued_inferences_per_model,
            request_read_timeout: limits.request_read_timeout.as_secs(),
            max_inflight_request_bytes: limits.max_inflight_request_bytes,
            max_models: limits.max_models,
            header_read_timeout: limits.header_read_timeout.as_secs(),
        }
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            intra_op_threads: 0,
            sessions_per_model: 2,
        }
    }
}

impl ServeConfig {
    /// Parses a configuration file. Keys it leaves out keep their defaults;
    /// an unknown key, or a value of the wrong type, is an error that names
    /// the key and its line.
    pub fn from_toml_str(text: &str) -> Result<Self, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses the configuration file at `path`.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the configuration file {}", path.display()))?;
        Self::from_toml_str(&text)
            .with_context(|| format!("invalid configuration file {}", path.display()))
    }

    /// Inferences of one model that run at once: `limits.max_concurrent_inferences`,
    /// which defaults to `engine.sessions_per_model`.
    pub fn concurrent_inferences(&self) -> usize {
        self.limits
            .max_concurrent_inferences
            .unwrap_or(self.engine.sessions_per_model)
    }

    /// Checks what a type cannot, and fills in the values that default to
    /// another key (`limits.max_concurrent_inferences`).
    pub fn finish(mut self) -> Result<Self> {
        if self.engine.sessions_per_model == 0 {
            bail!("engine.sessions_per_model (--sessions-per-model) must be at least 1");
        }
        let concurrent = self.concurrent_inferences();
        if concurrent == 0 {
            bail!(
                "limits.max_concurrent_inferences (--max-concurrent-inferences) must be at least 1"
            );
        }
        self.limits.max_concurrent_inferences = Some(concurrent);
        if self.metrics_listen == Some(self.listen) {
            bail!(
                "metrics_listen (--metrics-listen) must differ from listen (--listen): \
                 /metrics is served on the outer API anyway"
            );
        }
        if self.join_replica.is_some() && self.sealing_key_file.is_some() {
            bail!(
                "join_replica (--join-replica) and sealing_key_file (--sealing-key-file) exclude \
                 each other: a replica seals with the key of the server it joins"
            );
        }
        Ok(self)
    }

    /// The configuration as TOML, with every token hash replaced by a count
    /// (`"<redacted: 2 hashes>"`), as `veil serve --check-config` prints it.
    pub fn to_redacted_toml(&self) -> Result<String> {
        let mut table =
            toml::Table::try_from(self).context("the configuration cannot be written as TOML")?;
        if let Some(toml::Value::Table(auth)) = table.get_mut("auth") {
            for (_, hashes) in auth.iter_mut() {
                let n = hashes.as_array().map_or(0, Vec::len);
                *hashes = toml::Value::String(format!(
                    "<redacted: {n} hash{}>",
                    if n == 1 { "" } else { "es" }
                ));
            }
        }
        Ok(toml::to_string(&table)?)
    }
}

/// Token hashes as TOML strings of 64 hex digits.
mod token_hashes {
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};
    use veil_server::auth::TokenHash;

    pub fn serialize<S: Serializer>(hashes: &[TokenHash], s: S) -> Result<S::Ok, S::Error> {
        // Only ever written redacted (`to_redacted_toml` replaces them); the
        // shape is kept so that the redaction knows how many there are.
        s.collect_seq(hashes.iter().map(|_| "<hash>"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<TokenHash>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|s| s.parse().map_err(D::Error::custom))
            .collect()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn example() -> String {
        std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../veil.example.toml"),
        )
        .unwrap()
    }

    #[test]
    fn an_empty_file_is_the_defaults() {
        assert_eq!(
            ServeConfig::from_toml_str("").unwrap(),
            ServeConfig::default()
        );
    }

    #[test]
    fn the_shipped_example_parses_and_sets_every_key() {
        let mut config = ServeConfig::from_toml_str(&example())
            .unwrap()
            .finish()
            .unwrap();
        assert_eq!(config.auth.owner_token_sha256.len(), 1);
        assert_eq!(config.auth.api_key_sha256.len(), 1);
        assert!(config.metrics_listen.is_some());
        // Every key appears in the example (optional ones commented out),
        // so a key added without documentation fails here.
        config.ort_library = Some(PathBuf::new());
        config.sealing_key_file = Some(PathBuf::new());
        config.join_replica = Some(String::new());
        config.platform.snp_certs = Some(PathBuf::new());
        config.platform.tdx_collateral = Some(PathBuf::new());
        let full = toml::Table::try_from(&config).unwrap();
        let text = example();
        for (table, value) in &full {
            let keys: Vec<&String> = match value {
                toml::Value::Table(t) => t.keys().collect(),
                _ => vec![table],
            };
            for key in keys {
                assert!(
                    text.lines()
                        .any(|l| l.trim_start_matches("# ").starts_with(&format!("{key} ="))),
                    "veil.example.toml does not show `{key}`"
                );
            }
        }
    }

    #[test]
    fn an_unknown_key_names_the_key_and_its_line() {
        let err = ServeConfig::from_toml_str(
            "listen = \"127.0.0.1:1\"\n\n[limits]\nmax_request_byte = 5\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("line 4"), "{err}");
        assert!(err.contains("`max_request_byte`"), "{err}");
    }

    #[test]
    fn a_bad_token_hash_is_refused_with_its_line() {
        let err = ServeConfig::from_toml_str("[auth]\nowner_token_sha256 = [\"abcd\"]\n")
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 2"), "{err}");
        assert!(err.contains("64 hex digits"), "{err}");
    }

    #[test]
    fn redaction_keeps_the_count_and_drops_the_hashes() {
        let mut config = ServeConfig::default();
        let hash = TokenHash::of("secret");
        config.auth.owner_token_sha256 = vec![hash, hash];
        config.auth.api_key_sha256 = vec![hash];
        let text = config.to_redacted_toml().unwrap();
        assert!(
            text.contains("owner_token_sha256 = \"<redacted: 2 hashes>\""),
            "{text}"
        );
        assert!(
            text.contains("api_key_sha256 = \"<redacted: 1 hash>\""),
            "{text}"
        );
        let hex = format!("{hash:?}");
        let hex = hex.trim_start_matches("TokenHash(").trim_end_matches(')');
        assert!(!text.contains(hex), "{text}");
    }

    #[test]
    fn finish_fills_concurrency_from_sessions_and_refuses_zero() {
        let mut config = ServeConfig::default();
        config.engine.sessions_per_model = 3;
        assert_eq!(
            config
                .clone()
                .finish()
                .unwrap()
                .limits
                .max_concurrent_inferences,
            Some(3)
        );
        config.limits.max_concurrent_inferences = Some(0);
        assert!(config.finish().is_err());
    }
}
