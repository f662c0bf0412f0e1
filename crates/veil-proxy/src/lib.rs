//! Veil's local proxy: an unmodified Open Inference Protocol client (curl,
//! tritonclient, KServe clients) talks plaintext HTTP to this proxy on the
//! user's own machine; the proxy carries every request to the server end to
//! end encrypted, through a [`veil_client::Client`] that verified the
//! server's attestation first.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use veil_attest::Policy;
//! use veil_client::{Client, ConnectOptions};
//! use veil_proxy::{ProxyConfig, ProxyState};
//!
//! // Verification happens here, before the proxy accepts a single request.
//! let client = Client::connect("https://veil.example",
//!     ConnectOptions::new(Policy::from_toml_str(&std::fs::read_to_string("policy.toml")?)?)).await?;
//! let state = ProxyState::new(client, ProxyConfig::default());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, veil_proxy::app(state)).await?;
//! # Ok(()) }
//! ```
//!
//! Invariants a change must keep:
//! * nothing is sent to a key that was not verified: when the server's key
//!   changes, the proxy re-attests ([`veil_client::Client::reconnect`]) and
//!   retries once; it never falls back to plaintext;
//! * credentials travel only inside the encrypted channel;
//! * logs carry method, path, model, status, sizes and latency, never
//!   bodies, queries or credentials.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod channel;
mod error;
mod forward;

pub use channel::{Channel, Framing};
pub use error::ProxyError;
pub use forward::{ProxyConfig, ProxyState, app};
