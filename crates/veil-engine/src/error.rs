//! What can go wrong when loading a runtime, loading a model or running it.

use std::fmt;
use std::path::PathBuf;

use veil_tensor::ModelSignature;

/// Why an engine could not start, load a model or run it.
///
/// No message ever contains tensor values that Veil put there. The one
/// exception is [`EngineError::Run`], whose text is ONNX Runtime's own and may
/// quote an input value (an out-of-range index, say): return it to the caller
/// inside the encrypted response, but never log it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EngineError {
    /// The ONNX Runtime shared library was not found.
    #[error(
        "ONNX Runtime library not found (looked in {}); run scripts/setup.sh (installs \
         onnxruntime==1.32.0 into .venv) or set ORT_DYLIB_PATH=/path/to/libonnxruntime.so.1.32.0",
        DisplayPaths(searched)
    )]
    LibraryNotFound {
        /// Every file or directory that was looked at.
        searched: Vec<PathBuf>,
    },
    /// The library exists but could not be loaded (not a shared library, wrong
    /// version or ABI, or a different ONNX Runtime already loaded in this process).
    #[error("could not load ONNX Runtime: {0}")]
    LibraryLoad(String),
    /// An engine setting is out of range.
    #[error("invalid engine configuration: {0}")]
    InvalidConfig(String),
    /// The model bytes are not a model this engine can serve.
    #[error("invalid model: {0}")]
    InvalidModel(String),
    /// The request does not match the model's signature.
    #[error("invalid input: {reason} (model signature: {expected})")]
    InvalidInput {
        /// What was wrong, naming the tensor and never its values.
        reason: String,
        /// The model's signature, so the caller can fix the request.
        expected: ModelSignature,
    },
    /// The engine failed while running a valid request.
    #[error("inference failed: {0}")]
    Run(String),
}

/// Formats a list of paths as `a, b, c`.
struct DisplayPaths<'a>(&'a [PathBuf]);

impl fmt::Display for DisplayPaths<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("nowhere");
        }
        for (i, path) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}", path.display())?;
        }
        Ok(())
    }
}
