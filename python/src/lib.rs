//! `veil._native`: the Rust half of Veil's Python SDK.
//!
//! Everything that decides whether a server is trusted, every byte of
//! cryptography and the tensor wire encoding run here, in the same
//! `veil-client` crate that the `veil` CLI uses. The Python package (`veil`)
//! holds only the API surface: argument coercion, dataclasses, exception
//! classes and docstrings.
//!
//! Calls release the GIL while they wait on the network or encrypt, so one
//! [`NativeClient`] serves many Python threads at once.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use numpy::PyArray1;
use pyo3::buffer::PyBuffer;
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use veil_attest::Policy;
use veil_client::{Client, ClientError, ConnectOptions};
use veil_protocol::oip::{InferRequest, RequestedOutput};
use veil_tensor::{DataType, Tensor};

/// mimalloc keeps freed request buffers for reuse: with glibc's allocator
/// every large request's buffers go back to the kernel and fault in again
/// (see docs/benchmarks.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

create_exception!(
    _native,
    NativeError,
    PyException,
    "Raised by the native module with args (kind, message, code, status, check, expected_json); \
     the `veil` package turns it into its public exception classes."
);

/// One tokio runtime for the process: every client's I/O runs on it.
fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("veil-io")
        .enable_all()
        .build()
        .map_err(|e| native_error("connection", format!("cannot start the I/O runtime: {e}")))?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// A `NativeError` of `kind` without server details.
fn native_error(kind: &str, message: impl Into<String>) -> PyErr {
    NativeError::new_err((
        kind.to_owned(),
        message.into(),
        None::<String>,
        None::<u16>,
        None::<String>,
        None::<String>,
    ))
}

/// Maps a client error to `NativeError(kind, message, code, status, check, expected_json)`.
fn to_py_err(e: ClientError) -> PyErr {
    let message = e.to_string();
    match e {
        ClientError::Attestation(a) => NativeError::new_err((
            "attestation",
            message,
            None::<String>,
            None::<u16>,
            Some(a.check.as_str().to_owned()),
            None::<String>,
        )),
        ClientError::Server {
            status,
            code,
            expected,
            ..
        } => NativeError::new_err((
            "server",
            message,
            Some(code.as_str().to_owned()),
            Some(status),
            None::<String>,
            expected.and_then(|sig| serde_json::to_string(&sig).ok()),
        )),
        ClientError::Connection(_) => native_error("connection", message),
        ClientError::Io(_) => native_error("io", message),
        _ => native_error("protocol", message),
    }
}

fn data_type(numpy_name: &str) -> PyResult<DataType> {
    DataType::ALL
        .into_iter()
        .find(|d| d.numpy_name() == numpy_name)
        .ok_or_else(|| {
            native_error(
                "input",
                format!(
                    "dtype {numpy_name} is not supported (supported: {})",
                    DataType::ALL.map(DataType::numpy_name).join(", ")
                ),
            )
        })
}

fn json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(|e| native_error("protocol", e.to_string()))
}

/// One input tensor as the Python layer hands it over: name, numpy dtype
/// name, shape, and its C-contiguous little-endian bytes (any object with
/// the buffer protocol and unsigned-byte format, e.g. `memoryview.cast("B")`).
type InputTuple<'py> = (String, String, Vec<usize>, PyBuffer<u8>);

/// One output tensor for the Python layer: name, numpy dtype name, shape,
/// and its bytes as a 1-D uint8 numpy array that owns them (no extra copy).
type OutputTuple<'py> = (String, &'static str, Vec<usize>, Bound<'py, PyArray1<u8>>);

/// A connection to a Veil server whose attestation verified.
///
/// Built only by [`NativeClient::connect`], so holding one means the
/// server's evidence satisfied the policy it was given.
#[pyclass(frozen, module = "veil._native")]
pub struct NativeClient {
    client: Client,
}

#[pymethods]
impl NativeClient {
    /// Fetches the server's evidence with a fresh nonce and verifies it.
    ///
    /// `policy_toml` is the policy file's text; without it, only
    /// `allow_simulation=True` can succeed (and only against a simulated
    /// server). Raises `NativeError` with kind `attestation` and the failed
    /// check otherwise.
    #[staticmethod]
    #[pyo3(signature = (url, policy_toml=None, allow_simulation=false, timeout=30.0, owner_token=None, api_key=None))]
    fn connect(
        py: Python<'_>,
        url: String,
        policy_toml: Option<String>,
        allow_simulation: bool,
        timeout: f64,
        owner_token: Option<String>,
        api_key: Option<String>,
    ) -> PyResult<Self> {
        let policy = match policy_toml {
            Some(text) => {
                let mut policy = Policy::from_toml_str(&text)
                    .map_err(|e| to_py_err(ClientError::Attestation(e)))?;
                policy.allow_simulation |= allow_simulation;
                policy
            }
            None if allow_simulation => Policy::insecure_simulation_any_measurement(),
            None => {
                return Err(native_error(
                    "attestation_policy",
                    "no policy given: pass policy=<file or TOML text> naming the measurements \
                     to trust, or allow_simulation=True for a development server",
                ));
            }
        };
        if !(timeout.is_finite() && timeout > 0.0) {
            return Err(native_error(
                "input",
                "timeout must be a positive number of seconds",
            ));
        }
        let mut options = ConnectOptions::new(policy);
        options.timeout = Duration::from_secs_f64(timeout);
        options.owner_token = owner_token;
        options.api_key = api_key;
        let rt = runtime()?;
        let client = py
            .detach(|| rt.block_on(Client::connect(&url, options)))
            .map_err(to_py_err)?;
        Ok(NativeClient { client })
    }

    /// The verified claims, as JSON.
    fn attestation_json(&self) -> PyResult<String> {
        json(self.client.attestation())
    }

    /// The server's base URL.
    #[getter]
    fn url(&self) -> String {
        self.client.url().to_owned()
    }

    /// The server's self-reported version (informational).
    #[getter]
    fn server_version(&self) -> String {
        self.client.server_version().to_owned()
    }

    /// `GET /v2` through the channel, as JSON.
    fn server_metadata_json(&self, py: Python<'_>) -> PyResult<String> {
        let rt = runtime()?;
        let meta = py
            .detach(|| rt.block_on(self.client.server_metadata()))
            .map_err(to_py_err)?;
        json(&meta)
    }

    /// The repository index, as JSON.
    fn models_json(&self, py: Python<'_>) -> PyResult<String> {
        let rt = runtime()?;
        let models = py
            .detach(|| rt.block_on(self.client.list_models()))
            .map_err(to_py_err)?;
        json(&models)
    }

    /// One model's metadata, as JSON.
    fn model_json(&self, py: Python<'_>, name: String) -> PyResult<String> {
        let rt = runtime()?;
        let meta = py
            .detach(|| rt.block_on(self.client.model_metadata(&name)))
            .map_err(to_py_err)?;
        json(&meta)
    }

    /// Deletes a model with `owner_token` (or the one given at connect).
    #[pyo3(signature = (name, owner_token=None))]
    fn delete_model(
        &self,
        py: Python<'_>,
        name: String,
        owner_token: Option<String>,
    ) -> PyResult<()> {
        let owner = owner_token.map(|t| self.client.with_owner_token(Some(t)));
        let client = owner.as_ref().unwrap_or(&self.client);
        let rt = runtime()?;
        py.detach(|| rt.block_on(client.delete_model(&name)))
            .map_err(to_py_err)
    }

    /// Streams the file at `path` to the server as model `name`; returns
    /// the server's model info as JSON. `progress(sent, total)` is called
    /// as bytes go out.
    #[pyo3(signature = (name, path, owner_token=None, progress=None))]
    fn upload_file(
        &self,
        py: Python<'_>,
        name: String,
        path: PathBuf,
        owner_token: Option<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let owner = owner_token.map(|t| self.client.with_owner_token(Some(t)));
        let client = owner.as_ref().unwrap_or(&self.client);
        let rt = runtime()?;
        let info = py
            .detach(|| {
                rt.block_on(client.upload_model_file(&name, &path, |sent, total| {
                    report_progress(progress.as_ref(), sent, total)
                }))
            })
            .map_err(to_py_err)?;
        json(&info)
    }

    /// Uploads model bytes (any buffer of unsigned bytes) as model `name`;
    /// returns the server's model info as JSON.
    #[pyo3(signature = (name, data, owner_token=None, progress=None))]
    fn upload_bytes(
        &self,
        py: Python<'_>,
        name: String,
        data: PyBuffer<u8>,
        owner_token: Option<String>,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let bytes = data.to_vec(py)?;
        drop(data);
        let owner = owner_token.map(|t| self.client.with_owner_token(Some(t)));
        let client = owner.as_ref().unwrap_or(&self.client);
        let rt = runtime()?;
        let info = py
            .detach(|| {
                rt.block_on(client.upload_model(&name, &bytes, |sent, total| {
                    report_progress(progress.as_ref(), sent, total)
                }))
            })
            .map_err(to_py_err)?;
        json(&info)
    }

    /// Encrypts the model file at `path` to the server's model key into
    /// `output` (streamed; replaced atomically); returns what was written
    /// as JSON. `progress(done, total)` is called as the model is read.
    #[pyo3(signature = (path, output, progress=None))]
    fn encrypt_model_file(
        &self,
        py: Python<'_>,
        path: PathBuf,
        output: PathBuf,
        progress: Option<Py<PyAny>>,
    ) -> PyResult<String> {
        let rt = runtime()?;
        let summary = py
            .detach(|| {
                rt.block_on(
                    self.client
                        .encrypt_model_file(&path, &output, move |done, total| {
                            report_progress(progress.as_ref(), done, total)
                        }),
                )
            })
            .map_err(to_py_err)?;
        json(&summary)
    }

    /// Encrypts model bytes (any buffer of unsigned bytes) to the server's
    /// model key; returns the encrypted bytes and what was written as JSON.
    fn encrypt_model_bytes<'py>(
        &self,
        py: Python<'py>,
        data: PyBuffer<u8>,
    ) -> PyResult<(Bound<'py, pyo3::types::PyBytes>, String)> {
        let bytes = data.to_vec(py)?;
        drop(data);
        let rt = runtime()?;
        let (encrypted, summary) = py
            .detach(|| rt.block_on(self.client.encrypt_model(&bytes)))
            .map_err(to_py_err)?;
        Ok((pyo3::types::PyBytes::new(py, &encrypted), json(&summary)?))
    }

    /// Runs inference. `inputs` are `(name, numpy dtype name, shape,
    /// bytes)`; returns `(name, numpy dtype name, shape, uint8 array)` per
    /// output. `outputs` selects outputs by name; `expected_sha256` makes
    /// the server refuse to run any other model under this name.
    #[pyo3(signature = (name, inputs, outputs=None, expected_sha256=None))]
    fn infer<'py>(
        &self,
        py: Python<'py>,
        name: String,
        inputs: Vec<InputTuple<'py>>,
        outputs: Option<Vec<String>>,
        expected_sha256: Option<String>,
    ) -> PyResult<Vec<OutputTuple<'py>>> {
        let mut tensors = Vec::with_capacity(inputs.len());
        for (input_name, dtype, shape, buffer) in inputs {
            let dtype = data_type(&dtype)?;
            let bytes = buffer.to_vec(py)?;
            let tensor = Tensor::from_bytes(dtype, shape, bytes)
                .map_err(|e| native_error("input", format!("input {input_name}: {e}")))?;
            tensors.push((input_name, tensor));
        }
        let mut request = InferRequest::new(tensors);
        request.expected_sha256 = expected_sha256;
        request.outputs = outputs.map(|names| {
            names
                .into_iter()
                .map(|name| RequestedOutput { name, binary: None })
                .collect()
        });
        let rt = runtime()?;
        let response = py
            .detach(|| rt.block_on(self.client.infer(&name, &request)))
            .map_err(to_py_err)?;
        drop(request);
        Ok(response
            .outputs
            .into_iter()
            .map(|(out_name, tensor)| {
                let dtype = tensor.dtype().numpy_name();
                let shape = tensor.shape().to_vec();
                let array = PyArray1::from_vec(py, tensor.into_bytes());
                (out_name, dtype, shape, array)
            })
            .collect())
    }
}

/// Calls the Python progress callback, if any; its errors are ignored (a
/// broken progress bar must not abort an upload).
fn report_progress(callback: Option<&Py<PyAny>>, sent: u64, total: u64) {
    if let Some(cb) = callback {
        Python::attach(|py| {
            let _ = cb.call1(py, (sent, total));
        });
    }
}

/// The native module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeClient>()?;
    m.add("NativeError", m.py().get_type::<NativeError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
