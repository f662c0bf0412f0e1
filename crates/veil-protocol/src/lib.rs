//! What crosses Veil's wire, and nothing else: no HTTP server, no runtime.
//!
//! * [`bundle`] — the evidence bundle served at `GET /v1/attestation`, and
//!   [`bundle::verify_bundle`], the one function a client calls to decide
//!   whether a server may receive data.
//! * [`transcript`] — how report data binds the server's OHTTP key to the
//!   client's nonce.
//! * [`channel`] — Oblivious HTTP (RFC 9458) key configuration and
//!   encapsulation: the seam behind which HPKE and the AEAD live.
//! * [`inner`] — binary HTTP (RFC 9292) messages carried inside the channel.
//! * [`oip`] — the Open Inference Protocol (KServe v2) REST bodies, with the
//!   binary tensor extension.
//! * [`error`] — machine-readable error codes and the error body.
//!
//! ```no_run
//! # fn demo(bundle_json: &[u8], nonce: [u8; 32], now: u64) -> Result<(), Box<dyn std::error::Error>> {
//! use veil_attest::Policy;
//! use veil_protocol::bundle::{EvidenceBundle, verify_bundle};
//! let bundle: EvidenceBundle = serde_json::from_slice(bundle_json)?;
//! let server = verify_bundle(&bundle, &nonce, &Policy::insecure_simulation_any_measurement(), now)?;
//! println!("talking to {} code {}", server.claims.platform, server.claims.measurement);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod bundle;
pub mod challenge;
pub mod channel;
pub mod error;
pub mod inner;
pub mod model_key;
pub mod oip;
pub mod replica;
pub mod transcript;

pub use error::{ErrorBody, ErrorCode, ProtocolError};

/// The version of this protocol, as it appears in bundles and transcripts.
pub const PROTOCOL_VERSION: u32 = 1;
