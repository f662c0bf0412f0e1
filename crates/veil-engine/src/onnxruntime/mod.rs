//! The ONNX Runtime backend, loaded at run time from a shared library.

mod convert;
mod model;
mod runtime;
mod workers;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::PathBuf;
use std::sync::Arc;

use ort::session::Session;
use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights};

use self::model::OrtModel;
use self::runtime::Runtime;
use self::workers::SessionWorkers;
use crate::{Engine, EngineError, LoadedModel};

/// The session option naming the directory that external-data initializers
/// of a model loaded from bytes are read from (default: the working directory).
const EXTERNAL_DATA_FOLDER_KEY: &str = "session.model_external_initializers_file_folder_path";

/// A directory that cannot exist (its parent is not a directory), so every
/// external-data initializer fails to load: an uploaded model must not read
/// the server's files. Absolute and escaping paths ONNX Runtime refuses itself.
const NO_EXTERNAL_DATA_FOLDER: &str = "/dev/null/veil-models-may-not-read-files";

/// How the ONNX Runtime engine runs models.
///
/// ```
/// # use veil_engine::OrtConfig;
/// let config = OrtConfig::new("/opt/veil/libonnxruntime.so.1.32.0")
///     .with_intra_op_threads(2)
///     .with_sessions_per_model(2);
/// assert_eq!(config.sessions_per_model, 2);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OrtConfig {
    /// Full path of `libonnxruntime.so.*` (see
    /// [`find_onnxruntime_library`](crate::find_onnxruntime_library)).
    pub library_path: PathBuf,
    /// Threads each session uses inside one operator; 0 lets ONNX Runtime
    /// choose (one per physical core).
    pub intra_op_threads: usize,
    /// Sessions per loaded model, so that many requests to one model run at
    /// once; at least 1.
    ///
    /// The trade is memory for concurrency: each session holds its own copy
    /// of the model's weights (a 16 MiB MLP cost +16 MiB resident per extra
    /// session; the shared pre-packed-weights container saved nothing on it).
    /// With 4 clients on 2 cores and one intra-op thread, 2 sessions gave
    /// 1.4–1.9x the throughput of 1 and 4 gave no more than 2 (see
    /// `benches/session_pool.rs`): about one session per core is the sweet spot.
    pub sessions_per_model: usize,
}

impl OrtConfig {
    /// ONNX Runtime from `library_path`, ORT's default thread count, one session per model.
    pub fn new(library_path: impl Into<PathBuf>) -> Self {
        OrtConfig {
            library_path: library_path.into(),
            intra_op_threads: 0,
            sessions_per_model: 1,
        }
    }

    /// Sets [`OrtConfig::intra_op_threads`].
    #[must_use]
    pub fn with_intra_op_threads(mut self, threads: usize) -> Self {
        self.intra_op_threads = threads;
        self
    }

    /// Sets [`OrtConfig::sessions_per_model`].
    #[must_use]
    pub fn with_sessions_per_model(mut self, sessions: usize) -> Self {
        self.sessions_per_model = sessions;
        self
    }
}

/// Runs ONNX models with ONNX Runtime on the CPU.
///
/// The library is loaded once per process; further engines must name the
/// same library (they share it) and may differ in every other setting.
pub struct OrtEngine {
    runtime: Arc<Runtime>,
    config: OrtConfig,
}

impl std::fmt::Debug for OrtEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OrtEngine")
            .field("library", &self.runtime.library)
            .field("config", &self.config)
            .finish()
    }
}

impl OrtEngine {
    /// Loads ONNX Runtime from `config.library_path` (once per process) and
    /// checks the configuration.
    pub fn new(config: OrtConfig) -> Result<Self, EngineError> {
        if config.sessions_per_model == 0 {
            return Err(EngineError::InvalidConfig(
                "sessions_per_model must be at least 1".to_owned(),
            ));
        }
        let runtime = runtime::runtime(&config.library_path)?;
        Ok(OrtEngine { runtime, config })
    }

    /// The configuration this engine was made with.
    pub fn config(&self) -> &OrtConfig {
        &self.config
    }

    /// One session of `model`, sharing pre-packed weights with its siblings
    /// (cheap; helps kernels that pre-pack into a separate buffer).
    fn session(&self, model: &[u8], prepacked: &PrepackedWeights) -> Result<Session, EngineError> {
        let build = || -> ort::Result<Session> {
            let mut builder = Session::builder(&self.runtime.environment)?
                .with_optimization_level(GraphOptimizationLevel::All)?
                .with_inter_threads(1)?
                .with_prepacked_weights(prepacked)?
                .with_config_entry(EXTERNAL_DATA_FOLDER_KEY, NO_EXTERNAL_DATA_FOLDER)?;
            if self.config.intra_op_threads > 0 {
                builder = builder.with_intra_threads(self.config.intra_op_threads)?;
            }
            builder.commit_from_memory(model)
        };
        match catch_unwind(AssertUnwindSafe(build)) {
            Ok(Ok(session)) => Ok(session),
            Ok(Err(e)) => {
                let reason = e.to_string();
                let hint = if reason.contains("xternal data") {
                    " (Veil serves only self-contained models: save the ONNX file \
                     without external data, at most 2 GiB)"
                } else {
                    ""
                };
                Err(EngineError::InvalidModel(format!(
                    "{}{hint}",
                    reason.trim_end()
                )))
            }
            // ort panics on value types it does not know (e.g. opaque).
            Err(panic) => Err(EngineError::InvalidModel(format!(
                "ONNX Runtime could not describe the model: {}",
                runtime::panic_message(&*panic)
            ))),
        }
    }
}

impl Engine for OrtEngine {
    fn name(&self) -> &'static str {
        "onnxruntime"
    }

    fn load(&self, model: &[u8]) -> Result<Arc<dyn LoadedModel>, EngineError> {
        let prepacked = PrepackedWeights::new();
        let first = self.session(model, &prepacked)?;
        // Refuse unsupported signatures before paying for the other sessions.
        let signature = model::signature_of(&first)?;
        let mut sessions = Vec::with_capacity(self.config.sessions_per_model);
        sessions.push(first);
        for _ in 1..self.config.sessions_per_model {
            sessions.push(self.session(model, &prepacked)?);
        }
        let workers = SessionWorkers::start(sessions, "veil-session")?;
        let loaded = OrtModel::new(signature, workers);
        tracing::debug!(
            bytes = model.len(),
            sessions = loaded.sessions(),
            "loaded ONNX model"
        );
        Ok(Arc::new(loaded))
    }
}
