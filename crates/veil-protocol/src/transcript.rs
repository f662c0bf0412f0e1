//! The report-data transcript: what ties the attested code to the key a
//! client encrypts to, and to this client's question.
//!
//! `report_data = SHA-512("veil/v1 report-data" ‖ 0x00 ‖ len(key_config) as u32 BE ‖ key_config ‖ nonce)`
//!
//! The domain label keeps these 64 bytes from meaning anything in another
//! protocol; the length prefix makes the split between key configuration and
//! nonce unambiguous. The verifier recomputes it; nothing else binds the key.

use sha2::{Digest, Sha512};
use veil_attest::ReportData;

/// Domain separation label of the transcript.
pub const REPORT_DATA_LABEL: &[u8] = b"veil/v1 report-data";

/// Length of the client's freshness nonce.
pub const NONCE_LEN: usize = 32;

/// A client's 32-byte freshness nonce.
pub type Nonce = [u8; NONCE_LEN];

/// Computes the report data that binds `key_config` (the encoded OHTTP key
/// configuration list) to `nonce`.
pub fn report_data(key_config: &[u8], nonce: &Nonce) -> ReportData {
    let len = u32::try_from(key_config.len()).unwrap_or(u32::MAX);
    let mut h = Sha512::new();
    h.update(REPORT_DATA_LABEL);
    h.update([0u8]);
    h.update(len.to_be_bytes());
    h.update(key_config);
    h.update(nonce);
    ReportData(h.finalize().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_with_every_byte_of_key_and_nonce() {
        let key = [7u8; 40];
        let nonce = [9u8; 32];
        let base = report_data(&key, &nonce);
        for i in 0..key.len() {
            let mut k = key;
            k[i] ^= 1;
            assert_ne!(report_data(&k, &nonce), base);
        }
        for i in 0..nonce.len() {
            let mut n = nonce;
            n[i] ^= 1;
            assert_ne!(report_data(&key, &n), base);
        }
    }

    #[test]
    fn length_prefix_separates_key_from_nonce() {
        // Moving a byte from the end of the key to ... cannot collide because
        // the nonce has a fixed length and the key length is hashed.
        assert_ne!(
            report_data(&[1, 2], &[0; 32]),
            report_data(&[1, 2, 0], &[0; 32])
        );
    }
}
