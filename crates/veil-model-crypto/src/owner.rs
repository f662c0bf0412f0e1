//! Owner-encrypted models: an owner encrypts a model once to a server's
//! model key — a public key the owner fetched through the attested channel,
//! so it belongs to the verified TEE — and the file can then travel through
//! anyone's hands (an operator's storage, a deployment pipeline) and be
//! uploaded by anyone holding the owner token. Only the TEE that holds the
//! private key opens it: the weights are never in plaintext outside the
//! owner's machine and the TEE.
//!
//! Format (version 1):
//!
//! ```text
//! header (77 bytes) = "VEILOWNM" | version (1) | key id (32) | enc (32) | chunk size (u32 BE)
//! chunk*            = STREAM AES-256-GCM chunks (crate::stream), header as associated data
//! ```
//!
//! * `key id` is the SHA-256 of the recipient's public key, so a server
//!   can say that a file was encrypted to another key instead of failing
//!   authentication without a reason.
//! * `enc` is the HPKE (RFC 9180) encapsulated key: base mode, DHKEM(X25519,
//!   HKDF-SHA256), HKDF-SHA256, export-only AEAD, info [`HPKE_INFO`]. A
//!   fresh one per file.
//! * The STREAM key and nonce prefix are the 39 bytes the HPKE context
//!   exports under [`EXPORT_CONTEXT`]; every chunk authenticates the whole
//!   header, so no header byte can change unnoticed.
//!
//! The sender is not authenticated (anyone may encrypt to a public key);
//! the server still asks an owner token for every upload.

use std::fmt;
use std::io::{self, Write};

use hpke::aead::ExportOnlyAead;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem as _, OpModeR, OpModeS, Serializable};
use sha2::{Digest, Sha256};

use crate::stream::{ChunkOpener, ChunkSealer, NONCE_PREFIX_BYTES, StreamError};

type Kem = X25519HkdfSha256;

/// First bytes of every owner-encrypted model file.
pub const MAGIC: &[u8; 8] = b"VEILOWNM";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// The media type of an owner-encrypted model in an upload request.
pub const MEDIA_TYPE: &str = "application/vnd.veil.owner-encrypted-model";
/// The HPKE suite, as the server describes its model key.
pub const SUITE: &str =
    "HPKE base mode, DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, export-only; STREAM AES-256-GCM";
/// HPKE `info`: names this use of the key.
pub const HPKE_INFO: &[u8] = b"veil owner-encrypted model v1";
/// HPKE exporter context of the STREAM key and nonce prefix.
pub const EXPORT_CONTEXT: &[u8] = b"veil/owner-encrypted-model/v1 stream key and nonce prefix";
/// Plaintext bytes per chunk when encrypting.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Largest chunk size a reader accepts (bounds what a header can make it allocate).
const MAX_CHUNK_BYTES: usize = 16 << 20;
const KEY_ID_BYTES: usize = 32;
const ENC_BYTES: usize = 32;
/// Length of the header.
pub const HEADER_BYTES: usize = MAGIC.len() + 1 + KEY_ID_BYTES + ENC_BYTES + 4;

/// Why an owner-encrypted model could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OwnerModelError {
    /// The bytes do not start with the owner-encrypted model magic.
    #[error("not an owner-encrypted model (no VEILOWNM header)")]
    NotOwnerEncrypted,
    /// The file is in a format version this code does not read.
    #[error("owner-encrypted model format version {0} is not supported (this reads {VERSION})")]
    UnsupportedVersion(u8),
    /// The file was encrypted to another model key.
    #[error(
        "the owner-encrypted model was encrypted to model key {file}, not to this server's key {server} (encrypt it again with this server's key)"
    )]
    WrongRecipient {
        /// The key id the file names.
        file: KeyId,
        /// This server's key id.
        server: KeyId,
    },
    /// The header names a chunk size this reader refuses.
    #[error("the owner-encrypted model's header names an invalid chunk size")]
    BadChunkSize,
    /// The encapsulated key does not decapsulate.
    #[error("the owner-encrypted model's encapsulated key is invalid")]
    Encapsulation,
    /// The file ends before its header or last chunk does.
    #[error("the owner-encrypted model is truncated")]
    Truncated,
    /// A chunk failed authentication.
    #[error(
        "the owner-encrypted model failed authentication (changed, or cut at a chunk boundary)"
    )]
    Authentication,
    /// A public key of the wrong length.
    #[error("a model public key is 32 bytes (X25519), not {0}")]
    InvalidPublicKey(usize),
}

impl From<StreamError> for OwnerModelError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Truncated => OwnerModelError::Truncated,
            _ => OwnerModelError::Authentication,
        }
    }
}

/// A model key's id: the SHA-256 of its public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct KeyId(pub [u8; KEY_ID_BYTES]);

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

/// The public half of a server's model key: what owners encrypt to.
#[derive(Clone, PartialEq, Eq)]
pub struct ModelPublicKey {
    key: <Kem as hpke::Kem>::PublicKey,
    bytes: [u8; 32],
}

impl ModelPublicKey {
    /// Reads a 32-byte X25519 public key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, OwnerModelError> {
        let key = <Kem as hpke::Kem>::PublicKey::from_bytes(bytes)
            .map_err(|_| OwnerModelError::InvalidPublicKey(bytes.len()))?;
        let mut raw = [0u8; 32];
        raw.copy_from_slice(bytes);
        Ok(ModelPublicKey { key, bytes: raw })
    }

    /// The 32 key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.bytes
    }

    /// The key's id (SHA-256 of its bytes), which encrypted files name.
    pub fn key_id(&self) -> KeyId {
        KeyId(Sha256::digest(self.bytes).into())
    }
}

impl fmt::Debug for ModelPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelPublicKey({})", self.key_id())
    }
}

/// A server's model key pair. Derived from secret input keying material
/// (the server derives it from its sealing key, so it is the same across
/// restarts of the same TEE and data, and files encrypted to it stay
/// usable).
pub struct ModelKeyPair {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: ModelPublicKey,
}

impl ModelKeyPair {
    /// RFC 9180 `DeriveKeyPair(ikm)`; `ikm` must be secret, uniformly
    /// random and at least 32 bytes.
    pub fn derive(ikm: &[u8]) -> Self {
        let (private, public) = Kem::derive_keypair(ikm);
        let bytes: [u8; 32] = public.to_bytes().into();
        ModelKeyPair {
            private,
            public: ModelPublicKey { key: public, bytes },
        }
    }

    /// The public key, for owners to encrypt to.
    pub fn public(&self) -> &ModelPublicKey {
        &self.public
    }
}

impl fmt::Debug for ModelKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelKeyPair({}, ..)", self.public.key_id())
    }
}

/// Whether `prefix` (the first bytes of a file or body, at least 8 of
/// them) starts like an owner-encrypted model.
pub fn is_owner_encrypted(prefix: &[u8]) -> bool {
    prefix.starts_with(MAGIC)
}

fn header(key_id: &KeyId, enc: &[u8; ENC_BYTES], chunk_bytes: u32) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8] = VERSION;
    h[9..41].copy_from_slice(&key_id.0);
    h[41..73].copy_from_slice(enc);
    h[73..].copy_from_slice(&chunk_bytes.to_be_bytes());
    h
}

/// The STREAM key and nonce prefix an HPKE context exports.
fn stream_secrets(
    export: impl FnOnce(&mut [u8]) -> Result<(), hpke::HpkeError>,
) -> ([u8; 32], [u8; NONCE_PREFIX_BYTES]) {
    let mut okm = [0u8; 32 + NONCE_PREFIX_BYTES];
    // 39 bytes is far below the exporter's 2^16 limit.
    if export(&mut okm).is_err() {
        unreachable!("HPKE exports 39 bytes");
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(&okm[..32]);
    let mut prefix = [0u8; NONCE_PREFIX_BYTES];
    prefix.copy_from_slice(&okm[32..]);
    (key, prefix)
}

/// Encrypts a model to a server's model key as it is written.
pub struct OwnerEncryptor<W: Write>(ChunkSealer<W>);

impl<W: Write> OwnerEncryptor<W> {
    /// Starts encrypting to `recipient` into `out` (writes the header).
    pub fn new(recipient: &ModelPublicKey, out: W) -> io::Result<Self> {
        let (enc, context) = hpke::setup_sender::<ExportOnlyAead, HkdfSha256, Kem>(
            &OpModeS::Base,
            &recipient.key,
            HPKE_INFO,
        )
        .map_err(|e| io::Error::other(format!("HPKE encapsulation failed: {e}")))?;
        let enc: [u8; ENC_BYTES] = enc.to_bytes().into();
        // CHUNK_BYTES is 1 MiB: it fits a u32.
        let header = header(&recipient.key_id(), &enc, CHUNK_BYTES as u32);
        let (key, prefix) = stream_secrets(|okm| context.export(EXPORT_CONTEXT, okm));
        ChunkSealer::after_header(&key, &prefix, &header, CHUNK_BYTES, out).map(OwnerEncryptor)
    }

    /// Encrypts `bytes` (buffered up to one chunk).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    /// Encrypts the last chunk and returns the writer (not flushed).
    pub fn finish(self) -> io::Result<W> {
        self.0.finish()
    }
}

/// Encrypts a whole model in memory.
pub fn encrypt(recipient: &ModelPublicKey, model: &[u8]) -> io::Result<Vec<u8>> {
    let mut e = OwnerEncryptor::new(recipient, Vec::with_capacity(model.len() + 4096))?;
    e.write_all(model)?;
    e.finish()
}

enum State {
    Header(Vec<u8>),
    Body(Box<ChunkOpener>),
    Failed,
}

/// Decrypts an owner-encrypted model pushed to it in pieces of any size,
/// handing out plaintext only chunk by authenticated chunk; the model is
/// whole only when [`OwnerDecryptor::finish`] says so.
pub struct OwnerDecryptor<'k> {
    key: &'k ModelKeyPair,
    state: State,
}

impl<'k> OwnerDecryptor<'k> {
    /// Starts decrypting with the server's `key`.
    pub fn new(key: &'k ModelKeyPair) -> Self {
        OwnerDecryptor {
            key,
            state: State::Header(Vec::with_capacity(HEADER_BYTES)),
        }
    }

    /// Takes the next `bytes` of the file and appends to `plaintext` every
    /// chunk they complete. Stop at the first error.
    pub fn push(&mut self, bytes: &[u8], plaintext: &mut Vec<u8>) -> Result<(), OwnerModelError> {
        let result = self.push_inner(bytes, plaintext);
        if result.is_err() {
            self.state = State::Failed;
        }
        result
    }

    fn push_inner(
        &mut self,
        mut bytes: &[u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<(), OwnerModelError> {
        let key = self.key;
        if let State::Header(header) = &mut self.state {
            let take = (HEADER_BYTES - header.len()).min(bytes.len());
            header.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            let seen = header.len().min(MAGIC.len());
            if header[..seen] != MAGIC[..seen] {
                return Err(OwnerModelError::NotOwnerEncrypted);
            }
            if header.len() < HEADER_BYTES {
                return Ok(());
            }
            let opener = open_header(key, header)?;
            self.state = State::Body(Box::new(opener));
        }
        match &mut self.state {
            State::Body(opener) => Ok(opener.push(bytes, plaintext)?),
            State::Header(_) => Ok(()),
            State::Failed => Err(OwnerModelError::Authentication),
        }
    }
}

/// Checks a whole header and sets up the STREAM it announces.
fn open_header(key: &ModelKeyPair, header: &[u8]) -> Result<ChunkOpener, OwnerModelError> {
    if header[8] != VERSION {
        return Err(OwnerModelError::UnsupportedVersion(header[8]));
    }
    let mut file_key = [0u8; KEY_ID_BYTES];
    file_key.copy_from_slice(&header[9..41]);
    let server_key = key.public.key_id();
    if file_key != server_key.0 {
        return Err(OwnerModelError::WrongRecipient {
            file: KeyId(file_key),
            server: server_key,
        });
    }
    let mut chunk_field = [0u8; 4];
    chunk_field.copy_from_slice(&header[73..]);
    let chunk_bytes = u32::from_be_bytes(chunk_field) as usize;
    if chunk_bytes == 0 || chunk_bytes > MAX_CHUNK_BYTES {
        return Err(OwnerModelError::BadChunkSize);
    }
    let enc = <Kem as hpke::Kem>::EncappedKey::from_bytes(&header[41..73])
        .map_err(|_| OwnerModelError::Encapsulation)?;
    let context = hpke::setup_receiver::<ExportOnlyAead, HkdfSha256, Kem>(
        &OpModeR::Base,
        &key.private,
        &enc,
        HPKE_INFO,
    )
    .map_err(|_| OwnerModelError::Encapsulation)?;
    let (key, prefix) = stream_secrets(|okm| context.export(EXPORT_CONTEXT, okm));
    Ok(ChunkOpener::new(
        &key,
        &prefix,
        header.to_vec(),
        chunk_bytes,
    ))
}

impl OwnerDecryptor<'_> {
    /// Ends the file: checks its last chunk and appends it to `plaintext`.
    pub fn finish(self, plaintext: &mut Vec<u8>) -> Result<(), OwnerModelError> {
        match self.state {
            State::Header(_) => Err(OwnerModelError::Truncated),
            State::Body(opener) => Ok(opener.finish(plaintext)?),
            State::Failed => Err(OwnerModelError::Authentication),
        }
    }
}

/// Decrypts a whole owner-encrypted model in memory.
pub fn decrypt(key: &ModelKeyPair, file: &[u8]) -> Result<Vec<u8>, OwnerModelError> {
    let mut plaintext = Vec::with_capacity(file.len());
    let mut d = OwnerDecryptor::new(key);
    d.push(file, &mut plaintext)?;
    d.finish(&mut plaintext)?;
    Ok(plaintext)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::stream::TAG_BYTES;

    fn server(seed: u8) -> ModelKeyPair {
        ModelKeyPair::derive(&[seed; 32])
    }

    /// Two and a half chunks of varied bytes.
    fn model() -> Vec<u8> {
        (0..CHUNK_BYTES * 5 / 2)
            .map(|i| (i * 13 % 251) as u8)
            .collect()
    }

    #[test]
    fn round_trips_in_any_pieces_and_hides_the_model() {
        let key = server(1);
        let plain = model();
        let file = encrypt(key.public(), &plain).unwrap();
        assert!(is_owner_encrypted(&file));
        assert_eq!(file.len(), HEADER_BYTES + plain.len() + 3 * TAG_BYTES);
        assert!(!file.windows(64).any(|w| w == &plain[1000..1064]));
        for piece in [1, 77, 16 << 10, usize::MAX] {
            let mut d = OwnerDecryptor::new(&key);
            let mut out = Vec::new();
            for part in file.chunks(piece.min(file.len())) {
                d.push(part, &mut out).unwrap();
            }
            d.finish(&mut out).unwrap();
            assert_eq!(out, plain, "pieces of {piece}");
        }
        assert_eq!(
            decrypt(&key, &encrypt(key.public(), b"").unwrap()).unwrap(),
            b""
        );
    }

    #[test]
    fn every_file_has_a_fresh_encapsulation() {
        let key = server(1);
        let a = encrypt(key.public(), b"weights").unwrap();
        let b = encrypt(key.public(), b"weights").unwrap();
        assert_ne!(a[41..73], b[41..73]);
        assert_ne!(a[HEADER_BYTES..], b[HEADER_BYTES..]);
    }

    #[test]
    fn the_key_is_derived_deterministically_and_differs_by_input() {
        assert_eq!(server(1).public(), server(1).public());
        assert_ne!(server(1).public(), server(2).public());
        let public = ModelPublicKey::from_bytes(server(1).public().as_bytes()).unwrap();
        assert_eq!(&public, server(1).public());
        assert_eq!(
            ModelPublicKey::from_bytes(&[1; 31]).unwrap_err(),
            OwnerModelError::InvalidPublicKey(31)
        );
    }

    #[test]
    fn a_file_for_another_key_names_both_keys() {
        let file = encrypt(server(1).public(), b"weights").unwrap();
        let err = decrypt(&server(2), &file).unwrap_err();
        assert_eq!(
            err,
            OwnerModelError::WrongRecipient {
                file: server(1).public().key_id(),
                server: server(2).public().key_id()
            }
        );
        let text = err.to_string();
        assert!(
            text.contains(&server(1).public().key_id().to_string()),
            "{text}"
        );
    }

    #[test]
    fn a_changed_key_id_with_the_right_key_still_fails_authentication() {
        // The key id only explains failures: changing it to the server's
        // own id on a file for another key gets past the id check and then
        // fails to decapsulate into the right secrets.
        let file = encrypt(server(1).public(), b"weights").unwrap();
        let mut forged = file.clone();
        forged[9..41].copy_from_slice(&server(2).public().key_id().0);
        assert_eq!(
            decrypt(&server(2), &forged),
            Err(OwnerModelError::Authentication)
        );
    }

    #[test]
    fn refuses_a_flipped_byte_anywhere() {
        let key = server(1);
        let file = encrypt(key.public(), &model()).unwrap();
        for at in [
            0,
            7,
            8,
            9,
            40,
            41,
            72,
            73,
            76,
            HEADER_BYTES,
            HEADER_BYTES + CHUNK_BYTES + 20,
            file.len() - 1,
        ] {
            let mut bad = file.clone();
            bad[at] ^= 0x01;
            assert!(decrypt(&key, &bad).is_err(), "flipped byte {at}");
        }
        let mut bad = file.clone();
        bad[8] = 2;
        assert_eq!(
            decrypt(&key, &bad),
            Err(OwnerModelError::UnsupportedVersion(2))
        );
        let mut bad = file.clone();
        bad[73..77].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(decrypt(&key, &bad), Err(OwnerModelError::BadChunkSize));
        bad[73..77].copy_from_slice(&u32::MAX.to_be_bytes());
        assert_eq!(decrypt(&key, &bad), Err(OwnerModelError::BadChunkSize));
    }

    #[test]
    fn refuses_a_file_cut_anywhere_or_extended() {
        let key = server(1);
        let file = encrypt(key.public(), &model()).unwrap();
        let full = CHUNK_BYTES + TAG_BYTES;
        for cut in [
            0,
            3,
            8,
            50,
            HEADER_BYTES,
            HEADER_BYTES + 5,
            HEADER_BYTES + full,
            HEADER_BYTES + 2 * full,
            file.len() - 1,
        ] {
            assert!(decrypt(&key, &file[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(decrypt(&key, &file[..50]), Err(OwnerModelError::Truncated));
        let mut longer = file.clone();
        longer.push(0);
        assert_eq!(decrypt(&key, &longer), Err(OwnerModelError::Authentication));
    }

    #[test]
    fn refuses_what_is_not_an_owner_encrypted_model_at_its_first_wrong_byte() {
        let key = server(1);
        let mut d = OwnerDecryptor::new(&key);
        let mut out = Vec::new();
        // An ONNX file starts with a protobuf tag, not the magic.
        assert_eq!(
            d.push(&[0x08, 0x07], &mut out),
            Err(OwnerModelError::NotOwnerEncrypted)
        );
        assert!(d.push(MAGIC, &mut out).is_err(), "stays failed");
        assert!(!is_owner_encrypted(b"\x08\x07\x12\x04onnx"));
        assert!(!is_owner_encrypted(b"VEIL"));
    }
}
