//! Veil's inference engines behind one small trait, and the ONNX Runtime backend.
//!
//! An [`Engine`] turns model bytes into a [`LoadedModel`]; a loaded model
//! publishes its [`ModelSignature`] and runs named [`Tensor`]s to named
//! tensors. Requests are checked against the signature before the engine sees
//! them, and no error message carries tensor values.
//!
//! ```no_run
//! use std::path::PathBuf;
//! use veil_engine::{Engine, OrtConfig, OrtEngine, find_onnxruntime_library};
//! use veil_tensor::Tensor;
//!
//! let library = find_onnxruntime_library(&[PathBuf::from(".")])?;
//! let engine = OrtEngine::new(OrtConfig::new(library).with_sessions_per_model(2))?;
//! let model = engine.load(&std::fs::read("tests/models/add.onnx")?)?;
//! println!("{}", model.signature()); // inputs (a: FP32[-1, -1], b: FP32[-1, -1]) -> outputs (sum: FP32[-1, -1])
//!
//! let a = Tensor::from_values(vec![1, 2], vec![1.0f32, 2.0])?;
//! let b = Tensor::from_values(vec![1, 2], vec![10.0f32, 20.0])?;
//! let outputs = model.run(vec![("a".into(), a), ("b".into(), b)], None)?;
//! assert_eq!(outputs[0].0, "sum");
//! assert_eq!(outputs[0].1.to_values::<f32>()?, vec![11.0, 22.0]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Things a caller must know:
//!
//! * [`Engine::load`] and [`LoadedModel::run`] block: from async code, call
//!   `load` in `spawn_blocking` and await [`LoadedModel::submit`] instead of
//!   `run`. ONNX Runtime runs each session of a model on a thread of its own.
//! * One ONNX Runtime library per process: every [`OrtEngine`] shares the
//!   first one loaded, and nothing else in the process may initialise `ort`.
//! * Concurrent runs of one model use [`OrtConfig::sessions_per_model`]
//!   sessions, each on its own thread and each a copy of the weights; more
//!   runs queue.
//! * Models are self-contained: ONNX "external data" (weights in side files)
//!   is refused, so a model cannot read files of the server.
//! * ONNX Runtime's log goes to `tracing` (target `veil_engine::ort`, warnings
//!   and worse), minus executor messages, which may quote request data.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
mod library;
mod onnxruntime;
pub mod validate;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::oneshot;

pub use veil_tensor::{DataType, Dimension, ModelSignature, Tensor, TensorSpec};

pub use crate::error::EngineError;
pub use crate::library::{ORT_DYLIB_PATH, find_onnxruntime_library, find_onnxruntime_library_with};
pub use crate::onnxruntime::{OrtConfig, OrtEngine};

/// An inference backend: turns model bytes into a model that can run.
pub trait Engine: Send + Sync {
    /// Short stable name of the backend (`"onnxruntime"`), for logs and metadata.
    fn name(&self) -> &'static str;

    /// Loads a model from its serialized bytes (ONNX for ONNX Runtime).
    ///
    /// Fails with [`EngineError::InvalidModel`] if the bytes are not a model
    /// this engine can serve, including models whose inputs or outputs are not
    /// tensors of a [`DataType`].
    fn load(&self, model: &[u8]) -> Result<Arc<dyn LoadedModel>, EngineError>;
}

/// A model ready to run; shared by every request to it.
pub trait LoadedModel: Send + Sync {
    /// The model's inputs and outputs; dynamic dimensions are [`Dimension::Dynamic`].
    fn signature(&self) -> &ModelSignature;

    /// Validates inputs against the signature (every declared input present,
    /// no unknown input, dtype equal, shape accepted — dynamic dims any size,
    /// element count sane), then runs.
    ///
    /// `outputs`: `None` = all outputs in model order; `Some(names)` = just
    /// those, in that order (unknown, repeated or no names →
    /// [`EngineError::InvalidInput`]). Safe to call from many threads at once.
    fn run(
        &self,
        inputs: Vec<(String, Tensor)>,
        outputs: Option<&[String]>,
    ) -> Result<Vec<(String, Tensor)>, EngineError>;

    /// Queues a run (checked as for [`LoadedModel::run`]) and returns at
    /// once; the [`PendingRun`] resolves when it ends. `hold` is dropped when
    /// the run ends, even if the `PendingRun` was dropped before (the run
    /// still completes): give it what must last as long as the run, such as
    /// an admission ticket.
    ///
    /// The default runs on the calling thread, before returning; engines
    /// with threads of their own queue the run to them.
    fn submit(
        &self,
        inputs: Vec<(String, Tensor)>,
        outputs: Option<Vec<String>>,
        hold: RunHold,
    ) -> PendingRun {
        let started = std::time::Instant::now();
        let outputs = self.run(inputs, outputs.as_deref());
        let ran = started.elapsed();
        drop(hold);
        PendingRun::ready(RunOutcome {
            outputs,
            queued: Duration::ZERO,
            ran,
        })
    }
}

/// Anything kept alive until a submitted run ends (see [`LoadedModel::submit`]).
pub type RunHold = Box<dyn Send>;

/// How a run ended, and how long it waited and ran.
#[derive(Debug)]
pub struct RunOutcome {
    /// The outputs, named, or why the run failed.
    pub outputs: Result<Vec<(String, Tensor)>, EngineError>,
    /// Time from submission until a session started on it.
    pub queued: Duration,
    /// Time the run took, conversions included.
    pub ran: Duration,
}

impl RunOutcome {
    /// A run refused before it was queued.
    pub fn refused(error: EngineError) -> Self {
        RunOutcome {
            outputs: Err(error),
            queued: Duration::ZERO,
            ran: Duration::ZERO,
        }
    }
}

/// A run submitted with [`LoadedModel::submit`]: a future of its
/// [`RunOutcome`], or [`PendingRun::wait`] to block for it.
#[derive(Debug)]
pub struct PendingRun(Pending);

#[derive(Debug)]
enum Pending {
    Ready(Option<RunOutcome>),
    Queued(oneshot::Receiver<RunOutcome>),
}

/// The sending half of a [`PendingRun`], for engines that run elsewhere.
#[derive(Debug)]
pub struct RunReply(oneshot::Sender<RunOutcome>);

impl RunReply {
    /// Delivers the outcome; a requester that went away is not an error.
    pub fn send(self, outcome: RunOutcome) {
        let _ = self.0.send(outcome);
    }
}

impl PendingRun {
    /// A run that already ended.
    pub fn ready(outcome: RunOutcome) -> Self {
        PendingRun(Pending::Ready(Some(outcome)))
    }

    /// A run still to end, and the reply its runner sends when it does.
    pub fn channel() -> (Self, RunReply) {
        let (tx, rx) = oneshot::channel();
        (PendingRun(Pending::Queued(rx)), RunReply(tx))
    }

    /// Blocks the calling thread until the run ends. From async code,
    /// await the `PendingRun` instead: this would hold up the executor's
    /// thread for the whole run.
    pub fn wait(self) -> RunOutcome {
        // Not tokio's `blocking_recv`, which panics on a runtime's thread:
        // `LoadedModel::run` blocked before runs were queued, and callers
        // (tests, tools) may still call it from async code.
        futures::executor::block_on(self)
    }
}

impl Future for PendingRun {
    type Output = RunOutcome;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<RunOutcome> {
        match &mut self.0 {
            Pending::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    .unwrap_or_else(|| RunOutcome::refused(lost())),
            ),
            Pending::Queued(rx) => Pin::new(rx)
                .poll(cx)
                .map(|r| r.unwrap_or_else(|_| RunOutcome::refused(lost()))),
        }
    }
}

/// The runner dropped the reply without sending: its job panicked.
fn lost() -> EngineError {
    EngineError::Run("the run ended without a result".to_owned())
}
