//! AES-256-GCM in the STREAM construction (Hoang, Reyhanitabar, Rogaway,
//! Vizár, "Online Authenticated-Encryption and its Nonce-Reuse
//! Misuse-Resistance"; the `aead-stream` crate's big-endian 32-bit counter
//! flavour): a long plaintext is cut into fixed-size chunks, each sealed
//! with a nonce that carries its position and a last-chunk flag, so that
//! reordering, dropping, duplicating or appending chunks fails
//! authentication, and so does cutting the stream at a chunk boundary.
//!
//! Every chunk but the last holds exactly `chunk_bytes` of plaintext; the
//! last holds the rest (possibly nothing, possibly a full chunk). Every
//! chunk is sealed with the same associated data, which callers set to the
//! file header that precedes the chunks.
//!
//! [`ChunkSealer`] writes a stream; [`ChunkOpener`] reads one pushed to it
//! in pieces of any size (a network body) and hands out plaintext only
//! chunk by authenticated chunk.

use std::io::{self, Write};

use aead_stream::{DecryptorBE32, EncryptorBE32};
use aes_gcm::{Aes256Gcm, Key, KeyInit};

/// Bytes of the authentication tag that ends every chunk.
pub const TAG_BYTES: usize = 16;
/// Bytes of the per-stream nonce prefix (AES-GCM's 12-byte nonce less the
/// 4-byte counter and the 1-byte last-chunk flag).
pub const NONCE_PREFIX_BYTES: usize = 7;

/// Why a stream did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The stream ends before its last chunk's tag: it was cut.
    #[error("the stream is truncated")]
    Truncated,
    /// A chunk failed authentication: the bytes were changed, chunks were
    /// reordered, dropped or appended, the stream was cut at a chunk
    /// boundary, or it was sealed under another key or header.
    #[error("a chunk failed authentication")]
    Authentication,
}

/// Seals plaintext written to it into a STREAM of chunks written to `W`.
/// A sealer dropped before [`ChunkSealer::finish`] leaves a stream that
/// never opens (it has no last chunk).
pub struct ChunkSealer<W: Write> {
    encryptor: EncryptorBE32<Aes256Gcm>,
    associated_data: Vec<u8>,
    chunk_bytes: usize,
    buffer: Vec<u8>,
    out: W,
}

impl<W: Write> ChunkSealer<W> {
    /// Starts a stream under `key` and `nonce_prefix` (never to be used
    /// twice with one key), with `associated_data` authenticated by every
    /// chunk and `chunk_bytes` of plaintext per chunk. Writes nothing yet.
    ///
    /// # Panics
    /// If `chunk_bytes` is 0.
    pub fn new(
        key: &[u8; 32],
        nonce_prefix: &[u8; NONCE_PREFIX_BYTES],
        associated_data: Vec<u8>,
        chunk_bytes: usize,
        out: W,
    ) -> Self {
        assert!(chunk_bytes > 0, "a STREAM chunk holds at least one byte");
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
        ChunkSealer {
            encryptor: EncryptorBE32::from_aead(cipher, &(*nonce_prefix).into()),
            associated_data,
            chunk_bytes,
            buffer: Vec::with_capacity(chunk_bytes + TAG_BYTES),
            out,
        }
    }

    /// Writes `header` to `out`, then starts a stream whose every chunk
    /// authenticates that header (the layout of Veil's model files).
    ///
    /// # Panics
    /// If `chunk_bytes` is 0.
    pub fn after_header(
        key: &[u8; 32],
        nonce_prefix: &[u8; NONCE_PREFIX_BYTES],
        header: &[u8],
        chunk_bytes: usize,
        mut out: W,
    ) -> io::Result<Self> {
        out.write_all(header)?;
        Ok(Self::new(
            key,
            nonce_prefix,
            header.to_vec(),
            chunk_bytes,
            out,
        ))
    }

    /// Seals `bytes` (buffered up to one chunk).
    pub fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.buffer.len() == self.chunk_bytes {
                // More follows, so this full chunk is not the last.
                self.encryptor
                    .encrypt_next_in_place(&self.associated_data, &mut self.buffer)
                    .map_err(|_| io::Error::other("the STREAM counter is exhausted"))?;
                self.out.write_all(&self.buffer)?;
                self.buffer.clear();
            }
            let take = (self.chunk_bytes - self.buffer.len()).min(bytes.len());
            self.buffer.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Seals what is buffered as the last chunk and returns the writer
    /// (not flushed or synced: the caller decides).
    pub fn finish(self) -> io::Result<W> {
        let ChunkSealer {
            encryptor,
            associated_data,
            mut buffer,
            mut out,
            ..
        } = self;
        encryptor
            .encrypt_last_in_place(&associated_data, &mut buffer)
            .map_err(|_| io::Error::other("cannot seal the last chunk"))?;
        out.write_all(&buffer)?;
        Ok(out)
    }
}

/// Opens a STREAM pushed to it in pieces of any size. Plaintext is handed
/// out a whole chunk at a time, and only once the chunk authenticated; the
/// stream as a whole is authentic only when [`ChunkOpener::finish`] says
/// so. Stop at the first error: later pushes are refused.
pub struct ChunkOpener {
    decryptor: DecryptorBE32<Aes256Gcm>,
    associated_data: Vec<u8>,
    sealed_chunk_bytes: usize,
    pending: Vec<u8>,
    failed: bool,
}

impl ChunkOpener {
    /// Opens a stream sealed by [`ChunkSealer::new`] with the same key,
    /// nonce prefix, associated data and chunk size.
    ///
    /// # Panics
    /// If `chunk_bytes` is 0.
    pub fn new(
        key: &[u8; 32],
        nonce_prefix: &[u8; NONCE_PREFIX_BYTES],
        associated_data: Vec<u8>,
        chunk_bytes: usize,
    ) -> Self {
        assert!(chunk_bytes > 0, "a STREAM chunk holds at least one byte");
        let cipher = Aes256Gcm::new(&Key::<Aes256Gcm>::from(*key));
        ChunkOpener {
            decryptor: DecryptorBE32::from_aead(cipher, &(*nonce_prefix).into()),
            associated_data,
            sealed_chunk_bytes: chunk_bytes + TAG_BYTES,
            pending: Vec::new(),
            failed: false,
        }
    }

    /// Takes the next `bytes` of the stream and appends to `plaintext`
    /// every chunk they complete. A full chunk is opened only once a byte
    /// after it arrives: until then it may be the last one.
    pub fn push(&mut self, mut bytes: &[u8], plaintext: &mut Vec<u8>) -> Result<(), StreamError> {
        if self.failed {
            return Err(StreamError::Authentication);
        }
        while !bytes.is_empty() {
            if self.pending.len() == self.sealed_chunk_bytes {
                // More follows, so this full chunk is not the last.
                if self
                    .decryptor
                    .decrypt_next_in_place(&self.associated_data, &mut self.pending)
                    .is_err()
                {
                    self.failed = true;
                    return Err(StreamError::Authentication);
                }
                plaintext.extend_from_slice(&self.pending);
                self.pending.clear();
            }
            if self.pending.capacity() == 0 {
                self.pending.reserve_exact(self.sealed_chunk_bytes);
            }
            let take = (self.sealed_chunk_bytes - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
        }
        Ok(())
    }

    /// Ends the stream: opens what is pending as the last chunk and appends
    /// it to `plaintext`. Only now is the stream known to be whole.
    pub fn finish(self, plaintext: &mut Vec<u8>) -> Result<(), StreamError> {
        let ChunkOpener {
            decryptor,
            associated_data,
            mut pending,
            failed,
            ..
        } = self;
        if failed {
            return Err(StreamError::Authentication);
        }
        if pending.len() < TAG_BYTES {
            // Every stream ends with a last chunk of at least its tag.
            return Err(StreamError::Truncated);
        }
        decryptor
            .decrypt_last_in_place(&associated_data, &mut pending)
            .map_err(|_| StreamError::Authentication)?;
        plaintext.extend_from_slice(&pending);
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const PREFIX: [u8; NONCE_PREFIX_BYTES] = [1; NONCE_PREFIX_BYTES];
    const CHUNK: usize = 64;

    fn seal(plain: &[u8], writes: usize) -> Vec<u8> {
        let mut s = ChunkSealer::new(&KEY, &PREFIX, b"header".to_vec(), CHUNK, Vec::new());
        for part in plain.chunks(writes.max(1)) {
            s.write_all(part).unwrap();
        }
        s.finish().unwrap()
    }

    fn open(sealed: &[u8], pushes: usize) -> Result<Vec<u8>, StreamError> {
        open_with(sealed, pushes, b"header", &KEY)
    }

    fn open_with(
        sealed: &[u8],
        pushes: usize,
        aad: &[u8],
        key: &[u8; 32],
    ) -> Result<Vec<u8>, StreamError> {
        let mut o = ChunkOpener::new(key, &PREFIX, aad.to_vec(), CHUNK);
        let mut plain = Vec::new();
        for part in sealed.chunks(pushes.max(1)) {
            o.push(part, &mut plain)?;
        }
        o.finish(&mut plain)?;
        Ok(plain)
    }

    #[test]
    fn round_trips_every_length_around_chunk_boundaries_in_any_pieces() {
        for len in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 5] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            for writes in [1, 7, CHUNK, 1000] {
                let sealed = seal(&plain, writes);
                let chunks = len.div_ceil(CHUNK).max(1);
                assert_eq!(sealed.len(), len + chunks * TAG_BYTES, "len {len}");
                for pushes in [1, 3, CHUNK + TAG_BYTES, 10_000] {
                    assert_eq!(open(&sealed, pushes).unwrap(), plain, "len {len}");
                }
            }
        }
    }

    #[test]
    fn plaintext_is_handed_out_only_chunk_by_authenticated_chunk() {
        let plain = vec![9u8; 3 * CHUNK];
        let sealed = seal(&plain, 1000);
        let mut o = ChunkOpener::new(&KEY, &PREFIX, b"header".to_vec(), CHUNK);
        let mut out = Vec::new();
        o.push(&sealed[..CHUNK + TAG_BYTES], &mut out).unwrap();
        assert!(out.is_empty(), "a full chunk may be the last: held back");
        o.push(&sealed[CHUNK + TAG_BYTES..CHUNK + TAG_BYTES + 1], &mut out)
            .unwrap();
        assert_eq!(out.len(), CHUNK);
    }

    #[test]
    fn refuses_changed_reordered_dropped_appended_or_cut_streams() {
        let plain: Vec<u8> = (0..3 * CHUNK + 10).map(|i| i as u8).collect();
        let sealed = seal(&plain, 1000);
        let full = CHUNK + TAG_BYTES;
        for at in [0, CHUNK, full - 1, full + 3, sealed.len() - 1] {
            let mut bad = sealed.clone();
            bad[at] ^= 1;
            assert_eq!(
                open(&bad, 100),
                Err(StreamError::Authentication),
                "flip {at}"
            );
        }
        let mut swapped = sealed.clone();
        swapped[..full].copy_from_slice(&sealed[full..2 * full]);
        swapped[full..2 * full].copy_from_slice(&sealed[..full]);
        assert_eq!(open(&swapped, 100), Err(StreamError::Authentication));
        let dropped = [&sealed[..full], &sealed[2 * full..]].concat();
        assert_eq!(open(&dropped, 100), Err(StreamError::Authentication));
        // Cut at a chunk boundary: the last chunk present was sealed as "not last".
        assert_eq!(
            open(&sealed[..2 * full], 100),
            Err(StreamError::Authentication)
        );
        assert_eq!(open(&sealed[..0], 100), Err(StreamError::Truncated));
        assert_eq!(
            open(&sealed[..2 * full + 3], 100),
            Err(StreamError::Truncated)
        );
        let mut longer = sealed.clone();
        longer.extend_from_slice(&[0; TAG_BYTES]);
        assert_eq!(open(&longer, 100), Err(StreamError::Authentication));
        assert_eq!(
            open_with(&sealed, 100, b"other header", &KEY),
            Err(StreamError::Authentication)
        );
        assert_eq!(
            open_with(&sealed, 100, b"header", &[8; 32]),
            Err(StreamError::Authentication)
        );
    }

    #[test]
    fn after_a_failure_every_push_and_the_finish_fail() {
        let sealed = seal(&[5u8; 4 * CHUNK], 1000);
        let mut bad = sealed.clone();
        bad[2] ^= 1;
        let mut o = ChunkOpener::new(&KEY, &PREFIX, b"header".to_vec(), CHUNK);
        let mut out = Vec::new();
        assert!(o.push(&bad[..CHUNK + TAG_BYTES + 1], &mut out).is_err());
        assert!(o.push(&bad[CHUNK + TAG_BYTES + 1..], &mut out).is_err());
        assert_eq!(o.finish(&mut out), Err(StreamError::Authentication));
        assert!(out.is_empty());
    }
}
