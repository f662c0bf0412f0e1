//! Owner-encrypted models on the client side: fetch the server's model key
//! through the attested channel and encrypt a model to it
//! ([`veil_model_crypto::owner`]), so that the encrypted file can be handed
//! to whoever uploads it without the weights ever being in plaintext
//! outside the owner's machine and the TEE.

use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use veil_model_crypto::owner::{ModelPublicKey, OwnerEncryptor};
use veil_protocol::ProtocolError;
use veil_protocol::model_key::{MODEL_KEY_PATH, ModelKeyInfo};

use crate::{Client, ClientError};

/// What encrypting a model produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct EncryptedModel {
    /// The id (SHA-256, hex) of the model key it is encrypted to.
    pub key_id: String,
    /// SHA-256 (hex) of the plaintext model: what the server reports once
    /// it serves the model, and what `expected_sha256` pins.
    pub sha256: String,
    /// Bytes of the plaintext model.
    pub model_bytes: u64,
    /// Bytes of the encrypted file.
    pub encrypted_bytes: u64,
}

impl Client {
    /// The server's model key, fetched inside the attested channel (so it
    /// belongs to the verified TEE) and checked against its id.
    pub async fn model_key(&self) -> Result<ModelPublicKey, ClientError> {
        let info: ModelKeyInfo = self.call("GET", MODEL_KEY_PATH.into(), false).await?;
        let malformed = |why: String| ProtocolError::malformed("model key", why);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&info.public_key)
            .map_err(|e| malformed(e.to_string()))?;
        let key = ModelPublicKey::from_bytes(&bytes).map_err(|e| malformed(e.to_string()))?;
        if key.key_id().to_string() != info.key_id {
            return Err(malformed("its key id is not the SHA-256 of the key".into()).into());
        }
        Ok(key)
    }

    /// Encrypts the model at `model` to this server's model key into
    /// `out`, streaming (the model is never held in memory whole). `out` is
    /// written beside and renamed into place, so it is never left half
    /// written. `progress(done, total)` is called as plaintext is read.
    pub async fn encrypt_model_file(
        &self,
        model: &Path,
        out: &Path,
        progress: impl FnMut(u64, u64) + Send + 'static,
    ) -> Result<EncryptedModel, ClientError> {
        let key = self.model_key().await?;
        let (model, out) = (model.to_owned(), out.to_owned());
        tokio::task::spawn_blocking(move || encrypt_file(&key, &model, &out, progress))
            .await
            .map_err(|e| ClientError::Io(std::io::Error::other(e)))?
    }

    /// Encrypts model bytes in memory to this server's model key.
    pub async fn encrypt_model(
        &self,
        model: &[u8],
    ) -> Result<(Vec<u8>, EncryptedModel), ClientError> {
        let key = self.model_key().await?;
        let encrypted = veil_model_crypto::owner::encrypt(&key, model)?;
        let summary = EncryptedModel {
            key_id: key.key_id().to_string(),
            sha256: hex::encode(Sha256::digest(model)),
            model_bytes: model.len() as u64,
            encrypted_bytes: encrypted.len() as u64,
        };
        Ok((encrypted, summary))
    }
}

/// Encrypts the file `model` to `key` into `out` (written beside, synced,
/// then renamed into place).
pub fn encrypt_file(
    key: &ModelPublicKey,
    model: &Path,
    out: &Path,
    mut progress: impl FnMut(u64, u64),
) -> Result<EncryptedModel, ClientError> {
    let mut input = File::open(model)?;
    let total = input.metadata()?.len();
    let tmp = sibling_temp(out);
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut encryptor = OwnerEncryptor::new(key, BufWriter::new(file))?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        let mut done = 0u64;
        loop {
            let n = input.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            encryptor.write_all(&buffer[..n])?;
            done += n as u64;
            progress(done, total);
        }
        let mut writer = encryptor.finish()?;
        writer.flush()?;
        let file = writer.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        let encrypted_bytes = file.metadata()?.len();
        fs::rename(&tmp, out)?;
        std::io::Result::Ok(EncryptedModel {
            key_id: key.key_id().to_string(),
            sha256: hex::encode(hasher.finalize()),
            model_bytes: done,
            encrypted_bytes,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    Ok(result?)
}

fn sibling_temp(out: &Path) -> PathBuf {
    let mut name = out.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".partial-{}", std::process::id()));
    out.with_file_name(name)
}
