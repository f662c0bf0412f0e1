//! Models at rest are sealed: encrypted and authenticated with a key that
//! (on a real TEE) exists only inside it, so that the operator can neither
//! read the weights nor change, truncate or swap them unnoticed.
//!
//! Format of a sealed model file (version 1):
//!
//! ```text
//! header (20 bytes) = "VEILSEAL" | version (1) | nonce prefix (7, random) | chunk size (u32 BE)
//! chunk*            = AES-256-GCM(chunk of the model) | tag (16)
//! ```
//!
//! The chunks form one STREAM (Hoang, Reyhanitabar, Rogaway, Vizár; the
//! `aead-stream` crate's big-endian 32-bit counter flavour): every chunk's
//! nonce carries its position and a last-chunk flag, so reordering,
//! dropping or appending chunks fails authentication. Every chunk but the
//! last holds exactly the chunk size; the last holds the rest (possibly
//! nothing). The whole header is the associated data of every chunk. The
//! key is derived per model with HKDF-SHA256 from the sealing key and the
//! model's name, so a file sealed for one name does not open under another.
//!
//! Where the sealing key comes from is a [`SealingKeySource`]:
//! [`KeyFile`] for the `simulated` platform (a file in the data directory,
//! **not** hardware-protected) and [`SevSnpDerivedKey`] for AMD SEV-SNP (a
//! key the AMD Secure Processor derives from the guest's launch measurement,
//! via `MSG_KEY_REQ` on `/dev/sev-guest`). Other platforms have no source
//! yet, and the server refuses to start on them rather than store models
//! under a key the operator can read.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hkdf::Hkdf;
use rand::RngCore;
use sha2::Sha256;
use veil_attest::PlatformKind;
use veil_model_crypto::owner::ModelKeyPair;
use veil_model_crypto::stream::{ChunkOpener, ChunkSealer, NONCE_PREFIX_BYTES, StreamError};

use crate::model_name::ModelName;

/// First bytes of every sealed model file.
pub const MAGIC: &[u8; 8] = b"VEILSEAL";
/// The format version this code writes and reads.
pub const VERSION: u8 = 1;
/// Plaintext bytes per chunk when sealing.
pub const CHUNK_BYTES: usize = 1 << 20;
/// Largest chunk size a reader accepts (bounds what a header can make it allocate).
const MAX_CHUNK_BYTES: usize = 16 << 20;
/// Length of the header.
pub const HEADER_BYTES: usize = MAGIC.len() + 1 + NONCE_PREFIX_BYTES + 4;
/// HKDF salt: names this use of the sealing key.
const KDF_SALT: &[u8] = b"veil/sealed-model/v1";
/// HKDF salt of the owner model key: another use of the sealing key.
const OWNER_KEY_SALT: &[u8] = b"veil/owner-model-key/v1";

/// Why a sealed model could not be sealed or opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    /// Reading or writing failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// The file does not start with the sealed-model magic.
    #[error("not a sealed model file")]
    NotSealed,
    /// The file is sealed in a format version this server does not read.
    #[error("sealed model format version {0} is not supported (this server reads {VERSION})")]
    UnsupportedVersion(u8),
    /// The file ends before its last chunk: it was truncated.
    #[error("the sealed model is truncated")]
    Truncated,
    /// A chunk failed authentication: the file was changed, truncated at a
    /// chunk boundary, sealed under another model name, or under another key.
    #[error(
        "the sealed model failed authentication (changed, truncated, sealed for another name or under another key)"
    )]
    Authentication,
    /// The header names a chunk size this reader refuses.
    #[error("the sealed model's header names an invalid chunk size")]
    BadChunkSize,
    /// The platform's sealing key could not be obtained.
    #[error("cannot obtain the sealing key from {source_name}: {reason}")]
    KeySource {
        /// Which source failed.
        source_name: &'static str,
        /// What went wrong.
        reason: String,
    },
    /// No sealing key source is built for this platform.
    #[error(
        "no sealing key source is built for platform `{0}`: models at rest cannot be sealed with a hardware key there, so the server refuses to start; \
         give --sealing-key-file FILE (config `sealing_key_file`) to seal with a key file instead, kept where only the TEE can read it (e.g. an encrypted disk unlocked after attestation)"
    )]
    NoKeySource(PlatformKind),
}

impl From<StreamError> for SealError {
    fn from(e: StreamError) -> Self {
        match e {
            StreamError::Truncated => SealError::Truncated,
            _ => SealError::Authentication,
        }
    }
}

/// The 32-byte key from which every model's sealing key is derived.
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl SealingKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealingKey(bytes)
    }

    /// The raw key bytes, for sharing with an attested replica only
    /// ([`crate::replica`]).
    pub(crate) fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The AES-256-GCM key for model `name`: HKDF-SHA256 over the sealing
    /// key, with the model name as context, so a file cannot move between names.
    fn model_key(&self, name: &ModelName) -> [u8; 32] {
        let hkdf = Hkdf::<Sha256>::new(Some(KDF_SALT), &self.0);
        let mut okm = [0u8; 32];
        // 32 bytes is far below HKDF-SHA256's 8160-byte output limit.
        if hkdf.expand(name.as_str().as_bytes(), &mut okm).is_err() {
            unreachable!("HKDF-SHA256 can expand 32 bytes");
        }
        okm
    }

    /// The server's model key pair, which owners encrypt models to
    /// ([`veil_model_crypto::owner`]): derived with HKDF-SHA256 from the
    /// sealing key, so it is the same on every start that has the same
    /// sealing key, and files encrypted to it stay usable.
    pub fn owner_model_key(&self) -> ModelKeyPair {
        let hkdf = Hkdf::<Sha256>::new(Some(OWNER_KEY_SALT), &self.0);
        let mut ikm = [0u8; 32];
        if hkdf.expand(b"x25519 key pair ikm", &mut ikm).is_err() {
            unreachable!("HKDF-SHA256 can expand 32 bytes");
        }
        ModelKeyPair::derive(&ikm)
    }
}

impl fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SealingKey(..)")
    }
}

/// Where the sealing key comes from.
pub trait SealingKeySource: Send + Sync {
    /// A short name for logs and errors.
    fn name(&self) -> &str;
    /// Whether the key is protected by hardware (false for a key file).
    fn hardware_protected(&self) -> bool;
    /// Obtains the key.
    fn sealing_key(&self) -> Result<SealingKey, SealError>;
}

/// The sealing key source for `platform`, with `data_dir` for those that
/// keep state there. An operator's `key_file` wins over the platform's key,
/// and is the only source on platforms without one (TDX, Nitro).
pub fn key_source_for(
    platform: PlatformKind,
    data_dir: &Path,
    key_file: Option<&Path>,
) -> Result<Box<dyn SealingKeySource>, SealError> {
    if let Some(path) = key_file {
        return Ok(Box::new(KeyFile::operator_supplied(path)));
    }
    match platform {
        PlatformKind::Simulated => Ok(Box::new(KeyFile::in_data_dir(data_dir))),
        PlatformKind::SevSnp => Ok(Box::new(SevSnpDerivedKey)),
        PlatformKind::Sgx => Ok(Box::new(GramineSgxSealingKey::at(Path::new(
            GRAMINE_MRENCLAVE_KEY,
        )))),
        other => Err(SealError::NoKeySource(other)),
    }
}

/// The `simulated` platform's sealing key: 32 random bytes in
/// `DATA_DIR/sealing-key` (mode 0600), created on first start. **Not
/// hardware-protected**: whoever can read the data directory can unseal the
/// models. It still makes the store detect changed, truncated and swapped files.
///
/// Also the operator-supplied key file (`--sealing-key-file`), created the
/// same way if absent: the same protection, wherever the operator keeps it.
#[derive(Debug, Clone)]
pub struct KeyFile {
    path: PathBuf,
    operator_supplied: bool,
}

impl KeyFile {
    /// The key file `DATA_DIR/sealing-key`.
    pub fn in_data_dir(data_dir: &Path) -> Self {
        KeyFile {
            path: data_dir.join("sealing-key"),
            operator_supplied: false,
        }
    }

    /// A key file at `path`, named by the operator.
    pub fn operator_supplied(path: &Path) -> Self {
        KeyFile {
            path: path.to_owned(),
            operator_supplied: true,
        }
    }

    fn create(&self) -> io::Result<()> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir)?;
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        // Written beside, then renamed: a crash never leaves a short key file.
        let tmp = self.path.with_extension("new");
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(&key)?;
        f.sync_all()?;
        fs::rename(&tmp, &self.path)?;
        File::open(dir)?.sync_all()
    }
}

impl SealingKeySource for KeyFile {
    fn name(&self) -> &'static str {
        if self.operator_supplied {
            "the operator's key file (--sealing-key-file, not hardware-protected)"
        } else {
            "the data directory's key file (simulated platform, not hardware-protected)"
        }
    }

    fn hardware_protected(&self) -> bool {
        false
    }

    fn sealing_key(&self) -> Result<SealingKey, SealError> {
        let failed = |reason: String| SealError::KeySource {
            source_name: "sealing-key file",
            reason,
        };
        if !self.path.exists() {
            self.create()
                .map_err(|e| failed(format!("cannot create {}: {e}", self.path.display())))?;
            tracing::info!(path = %self.path.display(), "generated the sealing key file");
        }
        let bytes = fs::read(&self.path)
            .map_err(|e| failed(format!("cannot read {}: {e}", self.path.display())))?;
        let key: [u8; 32] = bytes.try_into().map_err(|b: Vec<u8>| {
            failed(format!(
                "{} holds {} bytes, not 32; it is never overwritten, since the models sealed under it would be lost",
                self.path.display(),
                b.len()
            ))
        })?;
        Ok(SealingKey(key))
    }
}

/// AMD SEV-SNP: a key derived by the AMD Secure Processor (`MSG_KEY_REQ`
/// through `/dev/sev-guest`) from the chip's VCEK root, mixed with the
/// guest's launch measurement and policy. Only this server build, launched
/// with this policy on this chip, obtains it: a server built from other code
/// cannot unseal the models (owners re-upload after an upgrade). Not yet run
/// on SEV-SNP hardware.
#[derive(Debug, Clone, Copy)]
pub struct SevSnpDerivedKey;

impl SealingKeySource for SevSnpDerivedKey {
    fn name(&self) -> &'static str {
        "the AMD SEV-SNP derived key (MSG_KEY_REQ)"
    }

    fn hardware_protected(&self) -> bool {
        true
    }

    fn sealing_key(&self) -> Result<SealingKey, SealError> {
        use sev::firmware::guest::{DerivedKey, Firmware, GuestFieldSelect};
        let failed = |reason: String| SealError::KeySource {
            source_name: "/dev/sev-guest",
            reason,
        };
        let mut fw = Firmware::open().map_err(|e| failed(format!("cannot open: {e}")))?;
        let mut fields = GuestFieldSelect::default();
        fields.set_measurement(true);
        fields.set_guest_policy(true);
        // Root key VCEK, VMPL 0, guest SVN and TCB 0; message version 1
        // (version 2 also mixes a launch mitigation vector we do not set).
        let request = DerivedKey::new(false, fields, 0, 0, 0, None);
        let key = fw
            .get_derived_key(Some(1), request)
            .map_err(|e| failed(format!("MSG_KEY_REQ failed: {e}")))?;
        Ok(SealingKey(key))
    }
}

/// Where Gramine exposes the enclave's MRENCLAVE-bound SGX sealing key.
pub const GRAMINE_MRENCLAVE_KEY: &str = "/dev/attestation/keys/_sgx_mrenclave";

/// Intel SGX under Gramine: the 16-byte sealing key that `EGETKEY` derives
/// for this enclave's MRENCLAVE, which Gramine exposes read-only at
/// [`GRAMINE_MRENCLAVE_KEY`]; stretched to 32 bytes with HKDF-SHA256. Only
/// this enclave build on this CPU obtains it (owners re-upload after an
/// upgrade). Tested against a file laid out as Gramine serves it; not yet
/// run under Gramine.
#[derive(Debug, Clone)]
pub struct GramineSgxSealingKey {
    path: PathBuf,
}

impl GramineSgxSealingKey {
    /// The key file at `path` (normally [`GRAMINE_MRENCLAVE_KEY`]).
    pub fn at(path: &Path) -> Self {
        GramineSgxSealingKey {
            path: path.to_owned(),
        }
    }
}

impl SealingKeySource for GramineSgxSealingKey {
    fn name(&self) -> &'static str {
        "the SGX MRENCLAVE sealing key (Gramine /dev/attestation/keys/_sgx_mrenclave)"
    }

    fn hardware_protected(&self) -> bool {
        true
    }

    fn sealing_key(&self) -> Result<SealingKey, SealError> {
        let failed = |reason: String| SealError::KeySource {
            source_name: "Gramine's SGX sealing key",
            reason,
        };
        let raw = fs::read(&self.path).map_err(|e| {
            failed(format!(
                "cannot read {} (is this Gramine with SGX?): {e}",
                self.path.display()
            ))
        })?;
        let raw: [u8; 16] = raw.try_into().map_err(|b: Vec<u8>| {
            failed(format!(
                "{} holds {} bytes, not the 16 of an SGX sealing key",
                self.path.display(),
                b.len()
            ))
        })?;
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(b"veil/seal/sgx-mrenclave/v1"), &raw)
            .expand(b"veil model sealing key", &mut key)
            .map_err(|_| failed("HKDF-SHA256 cannot expand to 32 bytes".into()))?;
        Ok(SealingKey(key))
    }
}

fn header(nonce_prefix: &[u8; NONCE_PREFIX_BYTES], chunk_bytes: u32) -> [u8; HEADER_BYTES] {
    let mut h = [0u8; HEADER_BYTES];
    h[..8].copy_from_slice(MAGIC);
    h[8] = VERSION;
    h[9..16].copy_from_slice(nonce_prefix);
    h[16..].copy_from_slice(&chunk_bytes.to_be_bytes());
    h
}

/// Seals a model as it is written: plaintext in through [`Sealer::write_all`],
/// sealed chunks out to `W`, the last chunk at [`Sealer::finish`]. A sealer
/// dropped before `finish` leaves a file that never opens (no last chunk).
pub struct Sealer<W: Write>(ChunkSealer<W>);

impl<W: Write> Sealer<W> {
    /// Starts sealing model `name` under `key` into `out` (writes the header).
    pub fn new(key: &SealingKey, name: &ModelName, out: W) -> io::Result<Self> {
        let mut nonce_prefix = [0u8; NONCE_PREFIX_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce_prefix);
        // CHUNK_BYTES is 1 MiB: it fits a u32.
        let header = header(&nonce_prefix, CHUNK_BYTES as u32);
        ChunkSealer::after_header(
            &key.model_key(name),
            &nonce_prefix,
            &header,
            CHUNK_BYTES,
            out,
        )
        .map(Sealer)
    }

    /// Seals `bytes` (buffered up to one chunk).
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.0.write_all(bytes)
    }

    /// Seals what is buffered as the last chunk and returns the writer
    /// (not flushed or synced: the caller decides).
    pub fn finish(self) -> io::Result<W> {
        self.0.finish()
    }
}

/// Reads as many bytes as `buf` holds unless the input ends first; returns
/// how many were read.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Opens a sealed model: checks the header and every chunk, and returns the
/// plaintext only if all of it authenticates, the last chunk included.
pub fn unseal(key: &SealingKey, name: &ModelName, input: impl Read) -> Result<Vec<u8>, SealError> {
    unseal_into(key, name, input, Vec::new())
}

/// [`unseal`] for a file: the plaintext buffer is sized from the file's
/// length up front (when that much memory is available), so a large model
/// is not copied over and over as the buffer grows.
pub fn unseal_file(key: &SealingKey, name: &ModelName, path: &Path) -> Result<Vec<u8>, SealError> {
    let file = File::open(path)?;
    let sealed_len = file.metadata()?.len();
    let mut plaintext = Vec::new();
    // The length is the operator's to choose: a failed reservation only
    // means the buffer grows as it is filled.
    let _ = plaintext.try_reserve_exact(usize::try_from(sealed_len).unwrap_or(0));
    unseal_into(key, name, file, plaintext)
}

fn unseal_into(
    key: &SealingKey,
    name: &ModelName,
    mut input: impl Read,
    mut plaintext: Vec<u8>,
) -> Result<Vec<u8>, SealError> {
    let mut header = [0u8; HEADER_BYTES];
    let got = read_up_to(&mut input, &mut header)?;
    if got < MAGIC.len() || header[..MAGIC.len()] != MAGIC[..] {
        return Err(if got < MAGIC.len() && MAGIC.starts_with(&header[..got]) {
            SealError::Truncated
        } else {
            SealError::NotSealed
        });
    }
    if got < HEADER_BYTES {
        return Err(SealError::Truncated);
    }
    if header[8] != VERSION {
        return Err(SealError::UnsupportedVersion(header[8]));
    }
    let mut nonce_prefix = [0u8; NONCE_PREFIX_BYTES];
    nonce_prefix.copy_from_slice(&header[9..16]);
    let mut chunk_field = [0u8; 4];
    chunk_field.copy_from_slice(&header[16..]);
    let chunk_bytes = u32::from_be_bytes(chunk_field) as usize;
    if chunk_bytes == 0 || chunk_bytes > MAX_CHUNK_BYTES {
        return Err(SealError::BadChunkSize);
    }
    let mut opener = ChunkOpener::new(
        &key.model_key(name),
        &nonce_prefix,
        header.to_vec(),
        chunk_bytes,
    );
    let mut buffer = vec![0u8; 64 << 10];
    loop {
        let n = read_up_to(&mut input, &mut buffer)?;
        if n == 0 {
            opener.finish(&mut plaintext).map_err(SealError::from)?;
            return Ok(plaintext);
        }
        opener
            .push(&buffer[..n], &mut plaintext)
            .map_err(SealError::from)?;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use veil_model_crypto::stream::TAG_BYTES;

    fn key(byte: u8) -> SealingKey {
        SealingKey([byte; 32])
    }

    fn name(s: &str) -> ModelName {
        ModelName::new(s).unwrap()
    }

    fn seal(key: &SealingKey, name: &ModelName, plaintext: &[u8], writes: usize) -> Vec<u8> {
        let mut sealer = Sealer::new(key, name, Vec::new()).unwrap();
        for part in plaintext.chunks(writes.max(1)) {
            sealer.write_all(part).unwrap();
        }
        sealer.finish().unwrap()
    }

    /// 2.5 chunks of varied bytes: two full chunks and a short last one.
    fn model() -> Vec<u8> {
        (0..CHUNK_BYTES * 5 / 2)
            .map(|i| (i * 7 % 251) as u8)
            .collect()
    }

    #[test]
    fn round_trips_every_size_around_chunk_boundaries() {
        let k = key(1);
        let n = name("m");
        for len in [
            0,
            1,
            CHUNK_BYTES - 1,
            CHUNK_BYTES,
            CHUNK_BYTES + 1,
            2 * CHUNK_BYTES,
        ] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 253) as u8).collect();
            for writes in [4096, 1 << 20, 3 << 20] {
                let sealed = seal(&k, &n, &plain, writes);
                assert_eq!(unseal(&k, &n, &sealed[..]).unwrap(), plain, "len {len}");
            }
        }
    }

    #[test]
    fn unseal_file_opens_what_unseal_opens() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sealed");
        let plain = model();
        fs::write(&path, seal(&key(1), &name("m"), &plain, 1 << 16)).unwrap();
        assert_eq!(unseal_file(&key(1), &name("m"), &path).unwrap(), plain);
        assert!(unseal_file(&key(1), &name("other"), &path).is_err());
    }

    #[test]
    fn the_sealed_file_does_not_contain_the_plaintext() {
        let plain = b"recognisable weights recognisable weights".repeat(100);
        let sealed = seal(&key(1), &name("m"), &plain, 4096);
        assert!(!sealed.windows(20).any(|w| w == &plain[..20]));
    }

    #[test]
    fn refuses_a_flipped_byte_anywhere() {
        let k = key(1);
        let n = name("m");
        let sealed = seal(&k, &n, &model(), 1 << 16);
        let full = CHUNK_BYTES + TAG_BYTES;
        let spots = [
            ("version", 8),
            ("nonce prefix", 10),
            ("chunk size", 17),
            ("first chunk", HEADER_BYTES + 5),
            ("first chunk's tag", HEADER_BYTES + full - 1),
            ("second chunk", HEADER_BYTES + full + 1000),
            ("last chunk", sealed.len() - TAG_BYTES - 1),
            ("last tag", sealed.len() - 1),
        ];
        for (what, at) in spots {
            let mut bad = sealed.clone();
            bad[at] ^= 0x01;
            assert!(unseal(&k, &n, &bad[..]).is_err(), "flipped {what}");
        }
        let mut bad = sealed.clone();
        bad[0] ^= 0x01;
        assert!(matches!(
            unseal(&k, &n, &bad[..]),
            Err(SealError::NotSealed)
        ));
    }

    #[test]
    fn refuses_a_file_missing_its_last_chunk_or_cut_anywhere() {
        let k = key(1);
        let n = name("m");
        let sealed = seal(&k, &n, &model(), 1 << 16);
        let full = CHUNK_BYTES + TAG_BYTES;
        // Dropping the last chunk leaves a stream whose final chunk was
        // sealed as "not last": STREAM's last-chunk flag catches it.
        let without_last = &sealed[..HEADER_BYTES + 2 * full];
        assert!(matches!(
            unseal(&k, &n, without_last),
            Err(SealError::Authentication)
        ));
        for cut in [
            0,
            5,
            HEADER_BYTES,
            HEADER_BYTES + 10,
            HEADER_BYTES + full,
            sealed.len() - 1,
        ] {
            assert!(unseal(&k, &n, &sealed[..cut]).is_err(), "cut at {cut}");
        }
        // Nor may anything be appended.
        let mut longer = sealed.clone();
        longer.extend_from_slice(&[0; TAG_BYTES]);
        assert!(unseal(&k, &n, &longer[..]).is_err());
    }

    #[test]
    fn refuses_a_file_sealed_for_another_name_or_under_another_key() {
        let k = key(1);
        let sealed = seal(&k, &name("alpha"), b"alpha weights", 4096);
        assert!(matches!(
            unseal(&k, &name("beta"), &sealed[..]),
            Err(SealError::Authentication)
        ));
        assert!(matches!(
            unseal(&key(2), &name("alpha"), &sealed[..]),
            Err(SealError::Authentication)
        ));
    }

    #[test]
    fn refuses_chunks_swapped_between_two_files_of_one_name() {
        let k = key(1);
        let n = name("m");
        let a = seal(&k, &n, &model(), 1 << 16);
        let b = seal(&k, &n, &model(), 1 << 16);
        let full = CHUNK_BYTES + TAG_BYTES;
        let mut mixed = a.clone();
        mixed[HEADER_BYTES..HEADER_BYTES + full]
            .copy_from_slice(&b[HEADER_BYTES..HEADER_BYTES + full]);
        assert!(unseal(&k, &n, &mixed[..]).is_err());
    }

    #[test]
    #[ignore = "measurement, not a test: run explicitly with --ignored --nocapture"]
    fn sealing_and_unsealing_throughput() {
        let k = key(1);
        let n = name("m");
        let plain = vec![0x5au8; 64 << 20];
        let started = std::time::Instant::now();
        let sealed = seal(&k, &n, &plain, 256 << 10);
        let sealing = started.elapsed();
        let started = std::time::Instant::now();
        assert_eq!(unseal(&k, &n, &sealed[..]).unwrap().len(), plain.len());
        let unsealing = started.elapsed();
        let mib_s = |d: std::time::Duration| 64.0 / d.as_secs_f64();
        println!(
            "64 MiB: seal {sealing:?} ({:.0} MiB/s), unseal {unsealing:?} ({:.0} MiB/s), overhead {} bytes",
            mib_s(sealing),
            mib_s(unsealing),
            sealed.len() - plain.len()
        );
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let source = KeyFile::in_data_dir(dir.path());
        assert!(!source.hardware_protected());
        let first = source.sealing_key().unwrap();
        let meta = fs::metadata(dir.path().join("sealing-key")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 32);
        let again = source.sealing_key().unwrap();
        assert_eq!(first.0, again.0);
    }

    #[test]
    fn a_short_key_file_is_refused_not_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("sealing-key"), b"short").unwrap();
        let err = KeyFile::in_data_dir(dir.path()).sealing_key().unwrap_err();
        assert!(err.to_string().contains("5 bytes"), "{err}");
        assert_eq!(fs::read(dir.path().join("sealing-key")).unwrap(), b"short");
    }

    #[test]
    fn platforms_without_a_key_source_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        for p in [PlatformKind::Tdx, PlatformKind::Nitro] {
            let err = key_source_for(p, dir.path(), None).err().unwrap();
            assert!(matches!(err, SealError::NoKeySource(_)));
            assert!(err.to_string().contains("--sealing-key-file"), "{err}");
        }
    }

    #[test]
    fn sgx_seals_with_gramine_s_mrenclave_key_and_refuses_a_wrong_file() {
        let dir = tempfile::tempdir().unwrap();
        let source = key_source_for(PlatformKind::Sgx, dir.path(), None).unwrap();
        assert!(source.hardware_protected());
        assert!(source.name().contains("_sgx_mrenclave"));

        // Laid out as Gramine serves it: 16 raw bytes, read-only.
        let path = dir.path().join("_sgx_mrenclave");
        fs::write(&path, [7u8; 16]).unwrap();
        let key = GramineSgxSealingKey::at(&path).sealing_key().unwrap();
        assert_eq!(
            key.0,
            GramineSgxSealingKey::at(&path).sealing_key().unwrap().0
        );
        assert_ne!(
            &key.0[..16],
            &[7u8; 16],
            "stretched, not the raw key padded"
        );
        fs::write(&path, [8u8; 16]).unwrap();
        assert_ne!(
            key.0,
            GramineSgxSealingKey::at(&path).sealing_key().unwrap().0
        );

        fs::write(&path, [7u8; 32]).unwrap();
        let err = GramineSgxSealingKey::at(&path).sealing_key().unwrap_err();
        assert!(err.to_string().contains("32 bytes, not the 16"), "{err}");
        let err = GramineSgxSealingKey::at(&dir.path().join("absent"))
            .sealing_key()
            .unwrap_err();
        assert!(
            err.to_string().contains("is this Gramine with SGX"),
            "{err}"
        );
    }

    #[test]
    fn an_operator_key_file_seals_on_every_platform_and_is_created_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys").join("veil-sealing-key");
        for p in [
            PlatformKind::Tdx,
            PlatformKind::Sgx,
            PlatformKind::Nitro,
            PlatformKind::SevSnp,
            PlatformKind::Simulated,
        ] {
            let source = key_source_for(p, dir.path(), Some(&path)).unwrap();
            assert!(!source.hardware_protected());
            assert!(source.name().contains("--sealing-key-file"));
            let first = source.sealing_key().unwrap();
            let again = key_source_for(p, dir.path(), Some(&path))
                .unwrap()
                .sealing_key()
                .unwrap();
            assert_eq!(
                first.0, again.0,
                "{p}: the key file must be reused, not replaced"
            );
        }
        assert!(
            !dir.path().join("sealing-key").exists(),
            "the data directory's key is not used"
        );
    }
}
