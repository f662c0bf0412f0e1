//! The server's model key: the public key that owners encrypt models to
//! before upload (`veil_model_crypto::owner`). Clients fetch it through the
//! attested channel, so that the answer comes from the verified TEE.

/// Where the inner API serves the model key (`GET`).
pub const MODEL_KEY_PATH: &str = "/veil/v1/model-key";

/// The answer of [`MODEL_KEY_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ModelKeyInfo {
    /// The encryption suite, in words.
    pub suite: String,
    /// The 32-byte X25519 public key, base64 (standard alphabet, padded).
    pub public_key: String,
    /// SHA-256 of the public key, hex: the id an encrypted file names.
    pub key_id: String,
}
