//! `veil`: serve models inside a TEE, and talk to such a server after
//! verifying its attestation. Argument parsing and output only; every action
//! is a call into a library crate.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use veil_attest::Policy;
use veil_client::{Client, ConnectOptions};
use veil_protocol::oip::{InferRequest, RequestedOutput};

use crate::config_file::LogFormat;

mod config_file;
mod npy;
mod policy_cmd;
mod proxy;
mod rfc3339;
mod serve;
mod verify;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Confidential ONNX inference: attested, end-to-end encrypted.
#[derive(Debug, Parser)]
#[command(name = "veil", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log format on stderr: `text` (human-readable) or `json` (one JSON
    /// object per line, with the span fields such as `request_id`)
    /// [default: text, or `log_format` of `veil serve --config`]. The
    /// level is set by RUST_LOG (default `info`).
    #[arg(long, global = true, value_enum, env = "VEIL_LOG_FORMAT")]
    log_format: Option<LogFormat>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start the server (default: simulated TEE, ./veil-data, 127.0.0.1:8443).
    Serve(Box<serve::ServeArgs>),
    /// Fetch and verify the server's attestation; print the verified claims.
    Attest {
        #[command(flatten)]
        conn: ConnectArgs,
        /// Print the claims as JSON.
        #[arg(long)]
        json: bool,
        /// Also write the verified evidence bundle, as the server sent it,
        /// with the nonce and verification time (docs/verify.md).
        #[arg(long, value_name = "FILE")]
        save: Option<PathBuf>,
    },
    /// Upload an ONNX model (owner only), streamed and encrypted end to end.
    Upload {
        #[command(flatten)]
        conn: ConnectArgs,
        /// Model name (letters, digits, `.`, `_`, `-`).
        name: String,
        /// The .onnx file, or a file that `veil encrypt-model` wrote.
        file: PathBuf,
        /// Do not show a progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// Encrypt an ONNX model to the verified server's model key. The file
    /// it writes can be handed to whoever uploads it (`veil upload`, with
    /// the owner token): only the attested TEE opens it, so the weights are
    /// never in plaintext outside this machine and the TEE. Prints the key
    /// id and the model's SHA-256 (what the server reports once it serves it).
    EncryptModel {
        #[command(flatten)]
        conn: ConnectArgs,
        /// The .onnx file.
        file: PathBuf,
        /// Where to write the encrypted model (replaced atomically).
        #[arg(long, short = 'o', value_name = "FILE")]
        output: PathBuf,
        /// Do not show a progress bar.
        #[arg(long)]
        quiet: bool,
    },
    /// List the served models.
    Models {
        #[command(flatten)]
        conn: ConnectArgs,
    },
    /// Show a model's inputs, outputs and SHA-256.
    Metadata {
        #[command(flatten)]
        conn: ConnectArgs,
        /// Model name.
        name: String,
    },
    /// Run inference with inputs from .npy files; write outputs as .npy.
    Infer {
        #[command(flatten)]
        conn: ConnectArgs,
        /// Model name.
        name: String,
        /// An input, as NAME=FILE.npy (repeatable).
        #[arg(
            long = "input",
            short = 'i',
            value_name = "NAME=FILE.npy",
            required = true
        )]
        inputs: Vec<String>,
        /// Only these outputs (repeatable; default all).
        #[arg(long = "output", short = 'o', value_name = "NAME")]
        outputs: Vec<String>,
        /// Directory for the output .npy files (one per output, named after it).
        #[arg(long, default_value = ".")]
        output_dir: PathBuf,
        /// Refuse to run unless the served model has this SHA-256 (hex).
        #[arg(long, value_name = "HEX")]
        expect_sha256: Option<String>,
    },
    /// Delete a model (owner only).
    Delete {
        #[command(flatten)]
        conn: ConnectArgs,
        /// Model name.
        name: String,
    },
    /// Verify the server, then serve its inner API (Open Inference Protocol)
    /// in plaintext on a local address, every request end to end encrypted.
    Proxy(proxy::ProxyArgs),
    /// Verify saved or captured attestation evidence offline (no network).
    /// Exit code 0 accepted, 1 rejected, 2 unusable input.
    Verify(verify::VerifyArgs),
    /// Policy files: generate one from a server's current evidence.
    Policy {
        #[command(subcommand)]
        command: policy_cmd::PolicyCommand,
    },
}

/// How to reach and trust the server.
#[derive(Debug, Args)]
struct ConnectArgs {
    /// Server URL, e.g. http://127.0.0.1:8443.
    url: String,
    /// Policy file (TOML) naming the platforms and measurements to accept.
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "allow_simulation"
    )]
    policy: Option<PathBuf>,
    /// DANGER: accept simulated evidence, which proves nothing about the server.
    /// For development against `veil serve --platform simulated` only.
    #[arg(long, conflicts_with = "policy")]
    allow_simulation: bool,
    /// Owner token (uploads and deletes). Sent only inside the encrypted channel.
    #[arg(long, env = "VEIL_OWNER_TOKEN", hide_env_values = true)]
    owner_token: Option<String>,
    /// File holding the owner token (e.g. ./veil-data/owner-token).
    #[arg(long, value_name = "FILE", conflicts_with = "owner_token")]
    owner_token_file: Option<PathBuf>,
    /// API key for inference, if the server requires one.
    #[arg(long, env = "VEIL_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Timeout of each exchange, in seconds.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
}

impl ConnectArgs {
    /// The policy file, or the simulation-only policy of `--allow-simulation`.
    fn policy(&self) -> Result<Policy> {
        Ok(match (&self.policy, self.allow_simulation) {
            (Some(path), _) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read policy {}", path.display()))?;
                Policy::from_toml_str(&text)?
            }
            (None, true) => Policy::insecure_simulation_any_measurement(),
            (None, false) => {
                bail!("give --policy FILE (or --allow-simulation for a development server)")
            }
        })
    }

    async fn connect(&self) -> Result<Client> {
        let mut options = ConnectOptions::new(self.policy()?);
        options.timeout = Duration::from_secs_f64(self.timeout);
        options.api_key = self.api_key.clone();
        options.owner_token = match &self.owner_token_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("cannot read owner token file {}", f.display()))?
                    .trim()
                    .to_owned(),
            ),
            None => self.owner_token.clone(),
        };
        Ok(Client::connect(&self.url, options).await?)
    }
}

/// A progress bar counting bytes (hidden with `quiet`).
fn bytes_bar(quiet: bool) -> Result<indicatif::ProgressBar> {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{msg} [{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )?
        .progress_chars("=> "),
    );
    Ok(bar)
}

fn print_json(v: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

fn parse_input(spec: &str) -> Result<(String, PathBuf)> {
    let (name, file) = spec
        .split_once('=')
        .with_context(|| format!("--input {spec}: expected NAME=FILE.npy"))?;
    Ok((name.to_owned(), PathBuf::from(file)))
}

fn output_path(dir: &Path, name: &str) -> PathBuf {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}.npy"))
}

async fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Serve(_) => unreachable!("handled in main: its configuration sets the log format"),
        Command::Attest { conn, json, save } => {
            let client = conn.connect().await?;
            let claims = client.attestation();
            if let Some(path) = &save {
                let saved = verify::saved_bundle_json(
                    client.url(),
                    client.evidence_bundle_json(),
                    claims.verified_at,
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)?
                        .as_secs(),
                )?;
                std::fs::write(path, saved)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            if json {
                return print_json(claims);
            }
            if claims.simulated {
                println!(
                    "WARNING: simulated platform: this evidence proves nothing about the server"
                );
            }
            println!("verified:        yes");
            println!("platform:        {}", claims.platform);
            println!("measurement:     {}", claims.measurement);
            println!("debug:           {}", claims.debug);
            println!("details:         {}", claims.details);
            println!("server version:  {}", client.server_version());
            println!("report data:     {}", hex::encode(claims.report_data.0));
            // Asked inside the verified channel, like every call after connect.
            match client.model_key().await {
                Ok(key) => println!(
                    "model key:       {} (what `veil encrypt-model` encrypts to)",
                    key.key_id()
                ),
                Err(e) => println!("model key:       unavailable ({e})"),
            }
            let source = conn
                .policy
                .clone()
                .unwrap_or_else(|| PathBuf::from("--allow-simulation"));
            println!("checks (policy {}):", source.display());
            for check in verify::checks_of_connection(
                client.evidence_bundle_json(),
                source,
                conn.policy()?,
                claims.verified_at,
            )? {
                println!(
                    "  {:<22} {:<14} {}",
                    check.name.to_string(),
                    serde_json::to_value(check.result)?.as_str().unwrap_or("?"),
                    check.detail
                );
            }
            Ok(())
        }
        Command::Upload {
            conn,
            name,
            file,
            quiet,
        } => {
            let client = conn.connect().await?;
            let bar = bytes_bar(quiet)?;
            bar.set_message(format!("uploading {name}"));
            let info = client
                .upload_model_file(&name, &file, |sent, total| {
                    bar.set_length(total);
                    bar.set_position(sent);
                })
                .await;
            bar.finish_and_clear();
            print_json(&info?)
        }
        Command::EncryptModel {
            conn,
            file,
            output,
            quiet,
        } => {
            let client = conn.connect().await?;
            let bar = bytes_bar(quiet)?;
            bar.set_message(format!("encrypting {}", file.display()));
            let progress = {
                let bar = bar.clone();
                move |done, total| {
                    bar.set_length(total);
                    bar.set_position(done);
                }
            };
            let encrypted = client.encrypt_model_file(&file, &output, progress).await;
            bar.finish_and_clear();
            let encrypted =
                encrypted.with_context(|| format!("cannot encrypt {}", file.display()))?;
            print_json(&encrypted)
        }
        Command::Models { conn } => print_json(&conn.connect().await?.list_models().await?),
        Command::Metadata { conn, name } => {
            print_json(&conn.connect().await?.model_metadata(&name).await?)
        }
        Command::Infer {
            conn,
            name,
            inputs,
            outputs,
            output_dir,
            expect_sha256,
        } => {
            let mut tensors = Vec::new();
            for spec in &inputs {
                let (input_name, path) = parse_input(spec)?;
                tensors.push((input_name, npy::read(&path)?));
            }
            let client = conn.connect().await?;
            let mut request = InferRequest::new(tensors);
            request.expected_sha256 = expect_sha256;
            if !outputs.is_empty() {
                request.outputs = Some(
                    outputs
                        .into_iter()
                        .map(|name| RequestedOutput { name, binary: None })
                        .collect(),
                );
            }
            let response = client.infer(&name, &request).await?;
            std::fs::create_dir_all(&output_dir)?;
            for (out_name, tensor) in &response.outputs {
                let path = output_path(&output_dir, out_name);
                npy::write(&path, tensor)?;
                println!(
                    "{out_name}: {} {:?} -> {}",
                    tensor.dtype(),
                    tensor.shape(),
                    path.display()
                );
            }
            Ok(())
        }
        Command::Delete { conn, name } => {
            conn.connect().await?.delete_model(&name).await?;
            println!("deleted {name}");
            Ok(())
        }
        Command::Proxy(args) => proxy::run(args).await,
        Command::Policy { command } => policy_cmd::run(command).await,
        Command::Verify(_) => unreachable!("handled in main: it has its own exit codes"),
    }
}

fn init_logs(format: LogFormat) {
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
}

fn exit_code(result: Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `veil serve`: the configuration is resolved before logging starts, since
/// it may set the log format. `--check-config` prints it and stops there.
async fn serve_main(args: &serve::ServeArgs, log_format: Option<LogFormat>) -> Result<()> {
    let config = args.resolve(log_format)?;
    if args.check_config {
        print!("{}", config.to_redacted_toml()?);
        return Ok(());
    }
    init_logs(config.log_format);
    serve::run(config).await
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Serve(args) = &cli.command {
        return exit_code(serve_main(args, cli.log_format).await);
    }
    init_logs(cli.log_format.unwrap_or_default());
    if let Command::Verify(args) = &cli.command {
        return verify::run(args);
    }
    exit_code(run(cli).await)
}
