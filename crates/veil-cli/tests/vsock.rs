//! `veil serve --listen vsock:…`, the way an AWS Nitro Enclave runs it.
//!
//! What runs here: parsing of the address on the command line and in the
//! configuration file, and a real `veil serve` that binds its outer API on
//! vsock (this machine has the kernel's vsock support, /dev/vsock), logs so,
//! answers health on a TCP `--metrics-listen` and drains on SIGTERM. What
//! cannot run here: a request over vsock — without the `vsock_loopback`
//! module a machine cannot connect to its own vsock ports, and there is no
//! enclave or VM peer. The HTTP serving code is the same for TCP and vsock
//! (`veil_server::listener::serve`), and is exercised over TCP by every
//! other end-to-end test.
#![allow(clippy::unwrap_used, clippy::expect_used)] // helpers outside #[test] fns count as non-test code

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use common::repo_root;

const VEIL: &str = env!("CARGO_BIN_EXE_veil");

/// `veil ARGS` with no `VEIL_*` variable from the environment.
fn veil_command(args: &[&str]) -> Command {
    let mut command = Command::new(VEIL);
    command.args(args);
    for (name, _) in std::env::vars() {
        if name.starts_with("VEIL_") {
            command.env_remove(name);
        }
    }
    command
}

fn run(args: &[&str]) -> Output {
    veil_command(args).output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn check_config_prints_vsock_addresses_as_given() {
    let output = run(&[
        "serve",
        "--check-config",
        "--listen",
        "vsock:5005",
        "--metrics-listen",
        "vsock:3:5006",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.lines().any(|l| l == r#"listen = "vsock:5005""#),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l == r#"metrics_listen = "vsock:3:5006""#),
        "{stdout}"
    );
}

#[test]
fn a_vsock_port_beyond_32_bits_is_refused_naming_the_range() {
    let output = run(&["serve", "--check-config", "--listen", "vsock:4294967296"]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("vsock port must be 0..=4294967295, got `4294967296`"),
        "{err}"
    );
}

#[test]
fn a_bad_vsock_cid_in_the_configuration_file_names_the_key_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("veil.toml");
    std::fs::write(&file, "data_dir = \"d\"\nlisten = \"vsock:cid:5005\"\n").unwrap();
    let output = run(&[
        "serve",
        "--check-config",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(err.contains("line 2"), "{err}");
    assert!(
        err.contains("vsock CID must be 0..=4294967295, got `cid`"),
        "{err}"
    );
}

#[test]
fn the_configuration_file_takes_a_vsock_listen_address() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("veil.toml");
    std::fs::write(&file, "listen = \"vsock:16:8443\"\n").unwrap();
    let output = run(&[
        "serve",
        "--check-config",
        "--config",
        file.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        stdout.lines().any(|l| l == r#"listen = "vsock:16:8443""#),
        "{stdout}"
    );
}

/// `veil serve` as a child process, killed when dropped.
struct Serve {
    child: Child,
    log: PathBuf,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn log_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.log)
            .unwrap()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Waits for the process to exit (at most a minute; then it fails).
    async fn exit_status(&mut self) -> std::process::ExitStatus {
        for _ in 0..1200 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("veil serve did not exit");
    }

    /// The `fields` of the JSON log line whose message is `message`.
    fn logged(&self, message: &str) -> Option<serde_json::Value> {
        self.log_lines()
            .into_iter()
            .map(|l| l["fields"].clone())
            .find(|f| f["message"] == message)
    }
}

fn free_tcp_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

fn start(dir: &Path, listen: &str, metrics: &str) -> Serve {
    let log = dir.join("serve.log");
    let library = veil_engine::find_onnxruntime_library(&[repo_root()]).unwrap();
    let child = veil_command(&["--log-format", "json", "serve", "--platform", "simulated"])
        .args(["--listen", listen, "--metrics-listen", metrics])
        .arg("--data-dir")
        .arg(dir.join("data"))
        .env(veil_engine::ORT_DYLIB_PATH, library)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    Serve { child, log }
}

/// Binds the outer API on vsock — a port the kernel picks, on any CID —
/// while health and metrics answer over TCP; then drains on SIGTERM. No
/// request reaches the vsock port (see the module doc): this proves the
/// server starts, listens on vsock and stops cleanly, not that vsock serves.
#[tokio::test]
async fn serves_the_outer_api_on_vsock_and_health_on_tcp() {
    assert!(
        Path::new("/dev/vsock").exists(),
        "this test needs the kernel's vsock support (/dev/vsock, module vsock or \
         vhost_vsock); this machine has none"
    );
    let dir = tempfile::tempdir().unwrap();
    let metrics = free_tcp_address();
    let mut serve = start(dir.path(), "vsock:4294967295", &metrics);
    let http = reqwest::Client::new();
    let ready_url = format!("http://{metrics}/v1/health/ready");
    let mut ready = false;
    for _ in 0..1200 {
        if let Some(status) = serve.child.try_wait().unwrap() {
            panic!(
                "veil serve exited at start-up: {status}\n{}",
                std::fs::read_to_string(&serve.log).unwrap()
            );
        }
        if let Ok(r) = http.get(&ready_url).send().await
            && r.status().is_success()
        {
            ready = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ready, "veil serve did not become ready");

    let outer = serve
        .logged("outer API listening on vsock")
        .expect("a log line says the outer API listens on vsock");
    assert_eq!(outer["family"], "vsock");
    let address = outer["address"].as_str().unwrap();
    let port: u32 = address.strip_prefix("vsock:").unwrap().parse().unwrap();
    assert_ne!(port, u32::MAX, "the log shows the port the kernel picked");
    let metrics_log = serve
        .logged("metrics listening on tcp")
        .expect("a log line says metrics listen on TCP");
    assert_eq!(metrics_log["address"], metrics.as_str());
    let metrics_text = http
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert!(metrics_text.status().is_success());

    let status = Command::new("kill")
        .args(["-TERM", &serve.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = serve.exit_status().await;
    assert!(exit.success(), "{exit}");
    assert!(serve.logged("drained; stopped").is_some());
}

/// Two listeners on the same vsock port cannot both bind: the second
/// `veil serve` fails at start-up, naming the address and its family.
#[tokio::test]
async fn a_taken_vsock_port_fails_start_up_naming_the_address() {
    assert!(
        Path::new("/dev/vsock").exists(),
        "this test needs the kernel's vsock support (/dev/vsock); this machine has none"
    );
    let dir = tempfile::tempdir().unwrap();
    let metrics = free_tcp_address();
    let mut first = start(dir.path(), "vsock:4294967295", &metrics);
    let mut port = None;
    for _ in 0..1200 {
        if let Some(status) = first.child.try_wait().unwrap() {
            panic!(
                "veil serve exited at start-up: {status}\n{}",
                std::fs::read_to_string(&first.log).unwrap()
            );
        }
        if let Some(fields) = first.logged("outer API listening on vsock") {
            port = Some(fields["address"].as_str().unwrap().to_owned());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let address = port.expect("the first server listens on vsock");
    let second_dir = tempfile::tempdir().unwrap();
    let mut second = start(second_dir.path(), &address, &free_tcp_address());
    assert!(!second.exit_status().await.success());
    let log = std::fs::read_to_string(second_dir.path().join("serve.log")).unwrap();
    assert!(
        log.contains(&format!("cannot listen on {address} (outer API, vsock)")),
        "{log}"
    );
}
