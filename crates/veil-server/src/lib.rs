//! Veil's server: the outer API anyone may reach, the OHTTP gateway that
//! decapsulates requests inside the TEE, the Open Inference Protocol router
//! behind it, and the model registry and store.
//!
//! ```no_run
//! # async fn demo(state: veil_server::AppState) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
//! axum::serve(listener, veil_server::app(state)).await
//! # }
//! ```
//!
//! Layout: [`outer`] is the plaintext API (attestation, health, the
//! ciphertext endpoint); [`gateway`] turns ciphertext into inner requests;
//! [`api`] serves those (the only place request data is in plaintext);
//! [`registry`] and [`store`] keep models, sealed at rest by [`seal`]; [`auth`] checks tokens;
//! [`metrics`] counts what happens, without request data.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod budget;
pub mod challenge;
pub mod config;
pub mod error;
pub mod gate;
pub mod gateway;
pub mod listener;
pub mod measurement;
pub mod metrics;
pub mod model_name;
pub mod openapi;
pub mod outer;
pub mod registry;
pub mod replica;
pub mod seal;
pub mod state;
pub mod store;

pub use config::{Limits, ServerConfig};
pub use outer::app;
pub use state::AppState;
