//! The process-wide ONNX Runtime: one shared library, one environment.
//!
//! `ort` keeps the loaded library and the environment in process globals and
//! refuses a second environment, so every [`OrtEngine`](super::OrtEngine)
//! shares the one made here; asking for a different library later is an
//! error rather than a silent mismatch.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use ort::environment::Environment;
use ort::logging::LogLevel;

use crate::EngineError;

/// A loaded ONNX Runtime and its environment.
pub(super) struct Runtime {
    /// Canonical path of the library loaded.
    pub(super) library: PathBuf,
    /// The one environment sessions are created in.
    pub(super) environment: Environment,
}

static RUNTIME: Mutex<Option<Arc<Runtime>>> = Mutex::new(None);

/// The process's runtime, loading `library` the first time.
pub(super) fn runtime(library: &Path) -> Result<Arc<Runtime>, EngineError> {
    // ort's loader panics on some failures and dlopen of a missing file gives
    // a poor message: check the file first.
    if !library.is_file() {
        return Err(EngineError::LibraryNotFound {
            searched: vec![library.to_path_buf()],
        });
    }
    let canonical = std::fs::canonicalize(library)
        .map_err(|e| EngineError::LibraryLoad(format!("{}: {e}", library.display())))?;
    let mut slot = RUNTIME.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(runtime) = slot.as_ref() {
        return if runtime.library == canonical {
            Ok(Arc::clone(runtime))
        } else {
            Err(EngineError::LibraryLoad(format!(
                "this process already loaded ONNX Runtime from {}; it cannot also load {}",
                runtime.library.display(),
                canonical.display()
            )))
        };
    }
    let environment =
        catch_unwind(AssertUnwindSafe(|| create_environment(&canonical))).map_err(|panic| {
            EngineError::LibraryLoad(format!(
                "{}: loader panicked: {}",
                canonical.display(),
                panic_message(&*panic)
            ))
        })??;
    let runtime = Arc::new(Runtime {
        library: canonical,
        environment,
    });
    *slot = Some(Arc::clone(&runtime));
    tracing::info!(library = %runtime.library.display(), "loaded ONNX Runtime");
    Ok(runtime)
}

fn create_environment(library: &Path) -> Result<Environment, EngineError> {
    let load_error = |e: &dyn std::fmt::Display| EngineError::LibraryLoad(e.to_string());
    let environment = ort::init_from(library)
        .map_err(|e| load_error(&e))?
        .with_name("veil")
        .with_telemetry(false)
        .with_logger(Arc::new(forward_log))
        .build()
        .map_err(|e| load_error(&e))?;
    // A custom logger starts at VERBOSE; keep warnings and worse.
    environment.set_log_level(LogLevel::Warning);
    Ok(environment)
}

/// Forwards ONNX Runtime's log to `tracing`.
///
/// Messages from the graph executor are withheld: when a kernel fails, ORT
/// logs the failure text, which can quote request values (an out-of-range
/// index, say), and request data never goes to logs. The same text reaches the
/// caller in [`EngineError::Run`].
fn forward_log(level: LogLevel, category: &str, _id: &str, location: &str, message: &str) {
    if location.contains("executor") || location.contains("ExecuteKernel") {
        tracing::debug!(
            target: "veil_engine::ort",
            category,
            location,
            "a kernel failed (message withheld: it may quote request data)"
        );
        return;
    }
    match level {
        LogLevel::Verbose => {
            tracing::trace!(target: "veil_engine::ort", category, location, "{message}")
        }
        LogLevel::Info => {
            tracing::debug!(target: "veil_engine::ort", category, location, "{message}")
        }
        LogLevel::Warning => {
            tracing::warn!(target: "veil_engine::ort", category, location, "{message}")
        }
        LogLevel::Error | LogLevel::Fatal => {
            tracing::error!(target: "veil_engine::ort", category, location, "{message}")
        }
    }
}

/// The text of a caught panic, if it has one.
pub(super) fn panic_message(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)")
}
