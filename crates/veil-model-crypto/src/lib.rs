//! Model files encrypted in chunks.
//!
//! * [`stream`]: AES-256-GCM in the STREAM construction, pushed or written
//!   in pieces of any size. The server seals its models at rest with it.
//! * [`owner`]: models that their owner encrypted to a server's attested
//!   model key (HPKE), so that the file may pass through other hands before
//!   upload and the weights are in plaintext only on the owner's machine
//!   and inside the TEE.
//!
//! ```
//! use veil_model_crypto::owner::{ModelKeyPair, decrypt, encrypt};
//!
//! // Inside the TEE, derived from the sealing key; owners get the public half
//! // through the attested channel.
//! let server = ModelKeyPair::derive(&[7; 32]);
//! let file = encrypt(server.public(), b"onnx bytes").unwrap();
//! assert_eq!(decrypt(&server, &file).unwrap(), b"onnx bytes");
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod owner;
pub mod stream;
