//! Veil's client: verify the server's attestation first, then talk to it
//! end to end encrypted.
//!
//! ```no_run
//! # async fn demo() -> Result<(), veil_client::ClientError> {
//! use veil_client::{Client, ConnectOptions};
//! use veil_attest::Policy;
//! use veil_protocol::oip::InferRequest;
//! use veil_tensor::Tensor;
//!
//! // Refuses anything its policy does not name; simulated evidence only
//! // because this policy says so in as many words.
//! let client = Client::connect("http://127.0.0.1:8443",
//!     ConnectOptions::new(Policy::insecure_simulation_any_measurement())).await?;
//! println!("server measurement {}", client.attestation().measurement);
//! let x = Tensor::from_values(vec![1, 4], vec![1.0f32, 2.0, 3.0, 4.0]).unwrap();
//! let out = client.infer("mlp", &InferRequest::new(vec![("x".into(), x)])).await?;
//! # Ok(()) }
//! ```
//!
//! Every call after [`Client::connect`] is an inner HTTP request, binary
//! HTTP inside OHTTP, encrypted to the key the evidence binds; the outer
//! transport (plain HTTP, TLS, any proxy) sees only ciphertext.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod client;
mod encrypt;
mod error;
mod reconnect;
pub mod replica;
mod upload;

pub use client::{Client, ConnectOptions};
pub use encrypt::{EncryptedModel, encrypt_file};
pub use error::ClientError;
