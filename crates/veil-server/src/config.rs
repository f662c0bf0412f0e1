//! Server configuration: where it listens, where models live, who may do what.

use std::path::PathBuf;
use std::time::Duration;

use crate::auth::TokenHash;
use crate::listener::ListenAddr;

/// Limits that protect the server from oversized input, overload and slow clients.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Limits {
    /// Largest encapsulated request body accepted at `/v1/ohttp` (non-chunked).
    pub max_request_bytes: usize,
    /// Largest model accepted by an upload.
    pub max_model_bytes: u64,
    /// Largest number of elements in one input tensor.
    pub max_tensor_elements: usize,
    /// Inferences of one model that run at once (at least 1); more wait in its queue.
    pub max_concurrent_inferences_per_model: usize,
    /// Inferences of one model that may wait for a run slot; beyond that the
    /// server answers `503` with `Retry-After` at once.
    pub max_queued_inferences_per_model: usize,
    /// Time allowed to receive a whole non-chunked `/v1/ohttp` body, and the
    /// longest pause between two parts of a chunked one; beyond it, `408`.
    pub request_read_timeout: Duration,
    /// Bytes of non-chunked `/v1/ohttp` requests that may be read and
    /// decoded at once, server-wide (see [`crate::budget`]); beyond it,
    /// `503` with `Retry-After`.
    pub max_inflight_request_bytes: u64,
    /// Models the server holds at once; an upload under a new name beyond
    /// it is refused with `model_limit_reached` (replacing one is allowed).
    pub max_models: usize,
    /// Time a client has to send a request's head once it started one; then
    /// its connection is closed (slow-header clients, "slowloris").
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_bytes: 64 << 20,
            max_model_bytes: 2 << 30,
            max_tensor_elements: 64 << 20,
            max_concurrent_inferences_per_model: 2,
            max_queued_inferences_per_model: 32,
            request_read_timeout: Duration::from_secs(60),
            max_inflight_request_bytes: 256 << 20,
            max_models: 64,
            header_read_timeout: Duration::from_secs(30),
        }
    }
}

/// Everything `veil serve` configures.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Address of the outer API.
    pub listen: ListenAddr,
    /// Data directory: models and the generated owner token live here.
    pub data_dir: PathBuf,
    /// SHA-256 hashes of the tokens that may upload and delete models.
    pub owner_tokens: Vec<TokenHash>,
    /// SHA-256 hashes of API keys that may run inference; empty = open inference.
    pub api_keys: Vec<TokenHash>,
    /// Size limits.
    pub limits: Limits,
    /// A 32-byte key file to seal models with instead of the platform's own
    /// sealing key: the only way to run TDX and Nitro, which have none
    /// built. Not hardware-protected: whoever can read the file can unseal.
    pub sealing_key_file: Option<PathBuf>,
    /// The sealing key another replica of this server shared at start
    /// (`--join-replica`); wins over the platform's key and the key file.
    pub shared_sealing_key: Option<crate::replica::SharedSealingKey>,
}

impl ServerConfig {
    /// A configuration with defaults for `data_dir`, listening on `listen`.
    pub fn new(listen: ListenAddr, data_dir: PathBuf) -> Self {
        ServerConfig {
            listen,
            data_dir,
            owner_tokens: Vec::new(),
            api_keys: Vec::new(),
            limits: Limits::default(),
            sealing_key_file: None,
            shared_sealing_key: None,
        }
    }
}
