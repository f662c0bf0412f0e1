//! Model files encrypted in chunks.
//!
//! * [`stream`]: AES-256-GCM in the STREAM construction, pushed or written
//!   in pieces of any size. The server seals its models at rest with it.
//! * [`owner`]: models that their owner encrypted to a server's attested
//!   model key (HPKE), so that the file may pass through other hands before
//!   upload and the weights are in plaintext only on the owner's machine
//!   and inside the TEE.

pub mod owner;
pub mod stream;
