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
//! * [`Engine::load`] and [`LoadedModel::run`] block (ONNX Runtime computes on
//!   the calling thread): from async code, call them in `spawn_blocking`.
//! * One ONNX Runtime library per process: every [`OrtEngine`] shares the
//!   first one loaded, and nothing else in the process may initialise `ort`.
//! * Concurrent runs of one model use a pool of
//!   [`OrtConfig::sessions_per_model`] sessions; each costs a copy of the
//!   weights.
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

use std::sync::Arc;

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
}
