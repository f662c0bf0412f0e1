//! `veil serve --config`: precedence (flags > VEIL_* > file > defaults), an
//! unknown key named with its line, and `--check-config` redaction, each
//! checked through the built binary's `--check-config` output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

const VEIL: &str = env!("CARGO_BIN_EXE_veil");

fn hash_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Runs `veil serve --check-config` with exactly `env` as its environment
/// (no VEIL_* variable of the caller leaks in).
fn check_config(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(VEIL)
        .arg("serve")
        .arg("--check-config")
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// The effective configuration printed by a successful `--check-config`.
fn effective(args: &[&str], env: &[(&str, &str)]) -> (String, toml::Table) {
    let out = check_config(args, env);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        out.status.success(),
        "--check-config failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let table = stdout.parse::<toml::Table>().unwrap();
    (stdout, table)
}

/// The value at a dotted `path` such as `limits.max_request_bytes`.
fn get<'a>(t: &'a toml::Table, path: &str) -> &'a toml::Value {
    let (tables, key) = path.rsplit_once('.').unwrap_or(("", path));
    let table = tables
        .split('.')
        .filter(|k| !k.is_empty())
        .fold(t, |t, k| t[k].as_table().unwrap());
    table
        .get(key)
        .unwrap_or_else(|| panic!("no `{path}` in:\n{t}"))
}

fn write_config(dir: &Path, text: &str) -> String {
    let path = dir.join("veil.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn flags_override_environment_which_overrides_the_file_which_overrides_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(
        dir.path(),
        r#"
listen = "127.0.0.1:1001"
data_dir = "/from/file"
log_format = "json"
drain_timeout = 7

[limits]
max_queued_inferences = 5
request_read_timeout = 11

[engine]
sessions_per_model = 3
"#,
    );
    let (_, c) = effective(
        &["--config", &file, "--listen", "127.0.0.1:1003"],
        &[
            ("VEIL_LISTEN", "127.0.0.1:1002"),
            ("VEIL_MAX_QUEUED_INFERENCES", "6"),
            ("VEIL_DRAIN_TIMEOUT", "8"),
        ],
    );
    // Set at all three levels: the flag wins.
    assert_eq!(get(&c, "listen").as_str(), Some("127.0.0.1:1003"));
    // File and environment: the environment wins.
    assert_eq!(
        get(&c, "limits.max_queued_inferences").as_integer(),
        Some(6)
    );
    assert_eq!(get(&c, "drain_timeout").as_integer(), Some(8));
    // Only the file: the file wins over the default.
    assert_eq!(get(&c, "data_dir").as_str(), Some("/from/file"));
    assert_eq!(get(&c, "log_format").as_str(), Some("json"));
    assert_eq!(
        get(&c, "limits.request_read_timeout").as_integer(),
        Some(11)
    );
    // A key defaulting to another key follows the file's value.
    assert_eq!(
        get(&c, "limits.max_concurrent_inferences").as_integer(),
        Some(3)
    );
    // Nowhere: the default.
    assert_eq!(get(&c, "platform.kind").as_str(), Some("simulated"));
    assert_eq!(
        get(&c, "limits.max_request_bytes").as_integer(),
        Some(64 << 20)
    );
    assert!(c.get("metrics_listen").is_none(), "off by default");

    // The global --log-format flag, and its variable, beat the file's key.
    let (_, c) = effective(&["--config", &file], &[("VEIL_LOG_FORMAT", "text")]);
    assert_eq!(get(&c, "log_format").as_str(), Some("text"));
    let (_, c) = effective(&["--config", &file, "--log-format", "text"], &[]);
    assert_eq!(get(&c, "log_format").as_str(), Some("text"));

    // Without a file: defaults, then environment, then flags.
    let (_, c) = effective(
        &["--metrics-listen", "127.0.0.1:9464"],
        &[
            ("VEIL_DATA_DIR", "/from/env"),
            ("VEIL_METRICS_LISTEN", "127.0.0.1:1"),
        ],
    );
    assert_eq!(get(&c, "listen").as_str(), Some("127.0.0.1:8443"));
    assert_eq!(get(&c, "data_dir").as_str(), Some("/from/env"));
    assert_eq!(get(&c, "metrics_listen").as_str(), Some("127.0.0.1:9464"));
    assert_eq!(get(&c, "drain_timeout").as_integer(), Some(30));
}

#[test]
fn the_config_file_can_come_from_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "[platform]\nkind = \"auto\"\n");
    let (_, c) = effective(&[], &[("VEIL_CONFIG", &file)]);
    assert_eq!(get(&c, "platform.kind").as_str(), Some("auto"));
}

#[test]
fn an_unknown_key_is_refused_naming_the_key_and_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(
        dir.path(),
        "listen = \"127.0.0.1:1\"\n\n[engine]\nsessions_per_model = 2\nintra_op_thread = 4\n",
    );
    let out = check_config(&["--config", &file], &[]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty(), "printed a configuration anyway");
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 5"), "{err}");
    assert!(err.contains("`intra_op_thread`"), "{err}");
    assert!(err.contains("veil.toml"), "the file is named: {err}");

    // A top-level one too, and a table the configuration does not have.
    for (text, key, line) in [
        (
            "drain_timeout = 3\nlisten_address = \"x\"\n",
            "`listen_address`",
            "line 2",
        ),
        ("\n\n[tls]\ncert = \"c\"\n", "`tls`", "line 3"),
    ] {
        let file = write_config(dir.path(), text);
        let out = check_config(&["--config", &file], &[]);
        assert!(!out.status.success());
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(err.contains(key) && err.contains(line), "{err}");
    }
}

#[test]
fn invalid_values_exit_non_zero_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_config(dir.path(), "[engine]\nsessions_per_model = 0\n");
    let out = check_config(&["--config", &file], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sessions_per_model"));

    let file = write_config(dir.path(), "listen = 8443\n");
    let out = check_config(&["--config", &file], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 1"));

    let out = check_config(&["--config", "/nonexistent/veil.toml"], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/veil.toml"));

    let out = check_config(&[], &[("VEIL_DRAIN_TIMEOUT", "soon")]);
    assert!(!out.status.success());
}

#[test]
fn check_config_prints_no_token_or_key_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (owner_a, owner_b, key_file, key_env, key_flag) = (
        hash_hex("owner-a"),
        hash_hex("owner-b"),
        hash_hex("key-file"),
        hash_hex("key-env"),
        hash_hex("key-flag"),
    );
    let file = write_config(
        dir.path(),
        &format!(
            "[auth]\nowner_token_sha256 = [\"{owner_a}\", \"{}\"]\napi_key_sha256 = [\"{key_file}\"]\n",
            owner_b.to_uppercase()
        ),
    );
    let env = format!("{key_env},{key_env}");
    let (text, c) = effective(&["--config", &file], &[("VEIL_API_KEY_SHA256", &env)]);
    assert_eq!(
        get(&c, "auth.owner_token_sha256").as_str(),
        Some("<redacted: 2 hashes>")
    );
    // The variable's list replaced the file's.
    assert_eq!(
        get(&c, "auth.api_key_sha256").as_str(),
        Some("<redacted: 2 hashes>")
    );
    let (text2, c) = effective(
        &["--config", &file, "--api-key-sha256", &key_flag],
        &[("VEIL_API_KEY_SHA256", &env)],
    );
    assert_eq!(
        get(&c, "auth.api_key_sha256").as_str(),
        Some("<redacted: 1 hash>")
    );
    for text in [text, text2] {
        let lower = text.to_lowercase();
        for secret in [&owner_a, &owner_b, &key_file, &key_env, &key_flag] {
            // Not the whole hash, nor a recognisable part of it.
            assert!(!lower.contains(&secret[..16]), "a hash leaked:\n{text}");
        }
    }
}

#[test]
fn the_shipped_example_passes_check_config() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../veil.example.toml");
    let (text, c) = effective(&["--config", example.to_str().unwrap()], &[]);
    assert_eq!(get(&c, "platform.kind").as_str(), Some("simulated"));
    assert!(text.contains("<redacted: 1 hash>"), "{text}");
}
