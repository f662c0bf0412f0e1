//! `veil proxy`: verify the server, then serve its inner API in plaintext on
//! a local address, carrying every request end to end encrypted.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use clap::Args;
use veil_proxy::{ProxyConfig, ProxyState};

use crate::ConnectArgs;

/// Arguments of `veil proxy`.
#[derive(Debug, Args)]
pub struct ProxyArgs {
    #[command(flatten)]
    conn: ConnectArgs,
    /// Local address to serve the plaintext Open Inference Protocol API on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "VEIL_PROXY_LISTEN")]
    listen: SocketAddr,
    /// DANGER: allow a non-loopback --listen address. The local side is
    /// plaintext: anyone who can reach it reads inputs and outputs, and uses
    /// the proxy's token.
    #[arg(long)]
    allow_non_loopback: bool,
    /// Largest local request body, in bytes.
    #[arg(long, default_value_t = ProxyConfig::default().max_body_bytes)]
    max_body_bytes: usize,
}

/// Runs the proxy until Ctrl-C.
pub async fn run(args: ProxyArgs) -> Result<()> {
    if !args.listen.ip().is_loopback() {
        if !args.allow_non_loopback {
            bail!(
                "--listen {} is not a loopback address; the proxy's side is plaintext. \
                 Pass --allow-non-loopback if every host that can reach it is trusted",
                args.listen
            );
        }
        eprintln!(
            "WARNING: listening on non-loopback {}: requests, responses and the proxy's token \
             are readable by anyone who can reach this address",
            args.listen
        );
        tracing::warn!(listen = %args.listen, "plaintext proxy on a non-loopback address");
    }

    let client = args
        .conn
        .connect()
        .await
        .context("the server failed verification; the proxy does not start")?;
    let claims = client.attestation();
    if claims.simulated {
        eprintln!("WARNING: simulated platform: this evidence proves nothing about the server");
    }
    tracing::info!(
        server = client.url(),
        platform = %claims.platform,
        measurement = %claims.measurement,
        simulated = claims.simulated,
        "server verified"
    );

    let mut config = ProxyConfig::default();
    config.max_body_bytes = args.max_body_bytes;
    // The owner token (from --owner-token-file or VEIL_OWNER_TOKEN) can do
    // everything an API key can, so it is preferred when both are given.
    let options = client.options();
    config.default_token = options.owner_token.clone().or(options.api_key.clone());

    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener.local_addr()?;
    tracing::info!(%address, "veil proxy serving the inner API in plaintext on http://{address}");
    axum::serve(listener, veil_proxy::app(ProxyState::new(client, config)))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    tracing::info!("stopped");
    Ok(())
}
