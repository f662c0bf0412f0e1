//! Shared helpers of the end-to-end tests: a live server on a real socket,
//! the real ONNX Runtime engine, the simulated platform.
#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use veil_attest::{Policy, SimulatedProducer};
use veil_client::{Client, ConnectOptions};
use veil_engine::{Engine, OrtConfig, OrtEngine, find_onnxruntime_library};
use veil_server::auth::TokenHash;
use veil_server::{AppState, ServerConfig};

pub const OWNER: &str = "owner-secret-token";

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

pub fn model_path(name: &str) -> PathBuf {
    let p = repo_root().join("tests/models").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup.sh (it generates the test models)",
        p.display()
    );
    p
}

pub fn model_bytes(name: &str) -> Vec<u8> {
    std::fs::read(model_path(name)).unwrap()
}

/// One engine per test process: ONNX Runtime is initialised once.
pub fn engine() -> Arc<OrtEngine> {
    static ENGINE: OnceLock<Arc<OrtEngine>> = OnceLock::new();
    ENGINE
        .get_or_init(|| {
            let lib = find_onnxruntime_library(&[PathBuf::from(env!("CARGO_MANIFEST_DIR"))])
                .expect("ONNX Runtime not found: run scripts/setup.sh");
            let mut cfg = OrtConfig::new(lib);
            cfg.intra_op_threads = 1;
            cfg.sessions_per_model = 2;
            Arc::new(OrtEngine::new(cfg).unwrap())
        })
        .clone()
}

pub fn config(data_dir: &Path) -> ServerConfig {
    let mut c = ServerConfig::new("127.0.0.1:0".parse().unwrap(), data_dir.to_path_buf());
    c.owner_tokens = vec![TokenHash::of(OWNER)];
    c
}

pub struct Server {
    pub addr: SocketAddr,
    pub url: String,
    task: tokio::task::JoinHandle<()>,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    pub fn stop(self) {
        self.task.abort();
    }

    /// Stops accepting, closes idle keep-alive connections and waits until
    /// the port is free, as a server process that exits would.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

/// Starts a server with `config` on an ephemeral port.
pub async fn start(config: ServerConfig) -> Server {
    start_at(config, "127.0.0.1:0".parse().unwrap()).await
}

/// Starts a server with `config` on `addr`, with a freshly generated
/// serving key (as a restarted server process has).
pub async fn start_at(config: ServerConfig, addr: SocketAddr) -> Server {
    start_measured(config, addr, &hex::encode([0x5a; 48])).await
}

/// Starts a server with `config`, connects as the owner and uploads
/// `tests/models/mlp.onnx` as `mlp`: the setup of most inference tests.
pub async fn start_serving_mlp(config: ServerConfig) -> (Server, Client) {
    let server = start(config).await;
    let owner = connect(&server.url, Some(OWNER)).await;
    owner
        .upload_model("mlp", &model_bytes("mlp.onnx"), |_, _| {})
        .await
        .unwrap();
    (server, owner)
}

/// The names of the models `client` sees, in the server's (sorted) order.
pub async fn model_names(client: &Client) -> Vec<String> {
    client
        .list_models()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.name)
        .collect()
}

/// Starts a server on `addr` whose simulated evidence reports `measurement`
/// (hex), as a server built from other code would.
pub async fn start_measured(config: ServerConfig, addr: SocketAddr, measurement: &str) -> Server {
    let engine: Arc<dyn Engine> = engine();
    let producer = SimulatedProducer::generate(measurement.parse().unwrap());
    let state = AppState::new(config, engine, Box::new(producer)).unwrap();
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let header_read_timeout = state.services.config.limits.header_read_timeout;
    // The listener `veil serve` uses (header-read timeout, graceful shutdown).
    let task = tokio::spawn(veil_server::listener::serve(
        listener,
        veil_server::app(state),
        header_read_timeout,
        async {
            // Only an explicit `shutdown()`; dropping `Server` does not stop it.
            if stopped.await.is_err() {
                std::future::pending::<()>().await;
            }
        },
    ));
    Server {
        addr,
        url: format!("http://{addr}"),
        task,
        shutdown,
    }
}

/// A deterministic, varied f32[batch, 16] input for `mlp.onnx` (an LCG, not zeros).
pub fn mlp_input(batch: usize) -> veil_tensor::Tensor {
    let mut state = 12345u64;
    let values: Vec<f32> = (0..batch * 16)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32) * 4.0 - 2.0
        })
        .collect();
    veil_tensor::Tensor::from_values(vec![batch, 16], values).unwrap()
}

pub async fn connect(url: &str, owner: Option<&str>) -> Client {
    let mut opts = ConnectOptions::new(Policy::insecure_simulation_any_measurement());
    opts.owner_token = owner.map(str::to_owned);
    Client::connect(url, opts).await.unwrap()
}

/// How [`captured_logs`] formats what it captures.
pub enum LogFormat {
    /// tracing's human-readable lines, without colours.
    Text,
    /// JSON lines, as `veil --log-format json` writes them.
    Json,
}

/// Everything this test process logs, at every level (TRACE). The first
/// call installs the global subscriber, so one test binary uses one format.
pub fn captured_logs(format: LogFormat) -> Arc<std::sync::Mutex<Vec<u8>>> {
    static LOGS: OnceLock<Arc<std::sync::Mutex<Vec<u8>>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf = Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = buf.clone();
        let builder = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || LogWriter(sink.clone()));
        match format {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder.json().init(),
        }
        buf
    })
    .clone()
}

struct LogWriter(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The built `veil serve` as a child process (platform `simulated`, a free
/// port), SIGKILLed when dropped.
pub struct ServeProcess {
    pub child: Child,
    pub url: String,
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl ServeProcess {
    /// Starts `veil serve` on `data_dir` with `extra` arguments; its output
    /// is appended to `log`, or dropped. See [`ServeProcess::wait_until_healthy`].
    pub fn spawn(data_dir: &Path, extra: &[&str], log: Option<&Path>) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let library = find_onnxruntime_library(&[repo_root()]).unwrap();
        let (stdout, stderr) = match log {
            Some(path) => {
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(path)
                    .unwrap();
                (Stdio::from(file.try_clone().unwrap()), Stdio::from(file))
            }
            None => (Stdio::null(), Stdio::null()),
        };
        let child = Command::new(env!("CARGO_BIN_EXE_veil"))
            .args(["serve", "--platform", "simulated", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env(veil_engine::ORT_DYLIB_PATH, library)
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        ServeProcess {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Waits until `/v1/health` answers (at most a minute).
    pub async fn wait_until_healthy(&mut self) {
        let http = reqwest::Client::new();
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("veil serve exited early: {status}");
            }
            if let Ok(r) = http.get(format!("{}/v1/health", self.url)).send().await
                && r.status().is_success()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("veil serve did not become healthy");
    }

    /// SIGKILL: no destructor, no flush, no graceful anything.
    pub fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// A field of `/proc/<pid>/status` in bytes (`VmRSS`, `VmHWM`).
    pub fn memory(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"));
        kib * 1024
    }
}

/// Path (as a string, for command lines) of a file under veil-attest's
/// `testdata/`: the real evidence vectors and their endorsements.
pub fn testdata(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../veil-attest/testdata")
        .join(path)
        .display()
        .to_string()
}

/// Runs the built `veil` binary with `args` and waits for it.
pub fn veil(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_veil"))
        .args(args)
        .output()
        .unwrap()
}
