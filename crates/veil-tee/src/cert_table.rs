//! The SEV-SNP certificate table a host hands its guest (`auxblob` of the
//! `sev_guest` provider): the layout of the GHCB specification's extended
//! guest request (`MSG_REPORT_REQ` with certificates).
//!
//! The table is a run of 24-byte entries — a 16-byte GUID naming the
//! certificate, then its offset and length as little-endian `u32`s, offsets
//! counted from the start of the table — terminated by an all-zero entry;
//! the certificates (DER) follow. GUIDs are compared in the byte order the
//! `sev` crate and AMD's `snpguest`/`snphost` tools write them (RFC 4122
//! order of the textual GUID).

use crate::error::TeeError;

const ENTRY_LEN: usize = 24;

const fn guid(s: &str) -> [u8; 16] {
    let s = s.as_bytes();
    let mut out = [0u8; 16];
    let mut i = 0;
    let mut o = 0;
    while i < s.len() {
        if s[i] == b'-' {
            i += 1;
            continue;
        }
        out[o] = (nibble(s[i]) << 4) | nibble(s[i + 1]);
        o += 1;
        i += 2;
    }
    out
}

const fn nibble(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("GUID literal must be lowercase hex"),
    }
}

/// GUIDs of the certificates the GHCB specification names.
const ARK: [u8; 16] = guid("c0b406a4-a803-4952-9743-3fb6014cd0ae");
const ASK: [u8; 16] = guid("4ab7b379-bbac-4fe4-a02f-05aef327c782");
const VCEK: [u8; 16] = guid("63da758d-e664-4564-adc5-f4b93be8accd");
const VLEK: [u8; 16] = guid("a8074bc2-a25a-483e-aae6-39c045a0b8a1");
const CRL: [u8; 16] = guid("92f81bc3-5811-4d3d-97ff-d19f88dc67ea");

/// Which certificate a table entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SnpCertKind {
    /// AMD Root Key.
    Ark,
    /// AMD SEV Key (or the ASVK, which endorses VLEKs).
    Ask,
    /// Versioned Chip Endorsement Key: signs this chip's reports.
    Vcek,
    /// Versioned Loaded Endorsement Key: signs reports on a cloud provider's
    /// chips instead of the VCEK.
    Vlek,
    /// A certificate revocation list.
    Crl,
    /// A GUID the specification does not name.
    Other([u8; 16]),
}

impl SnpCertKind {
    /// The kind named by `guid`.
    pub fn from_guid(guid: [u8; 16]) -> Self {
        match guid {
            ARK => SnpCertKind::Ark,
            ASK => SnpCertKind::Ask,
            VCEK => SnpCertKind::Vcek,
            VLEK => SnpCertKind::Vlek,
            CRL => SnpCertKind::Crl,
            other => SnpCertKind::Other(other),
        }
    }

    /// The GUID that names this kind in a table.
    pub fn guid(self) -> [u8; 16] {
        match self {
            SnpCertKind::Ark => ARK,
            SnpCertKind::Ask => ASK,
            SnpCertKind::Vcek => VCEK,
            SnpCertKind::Vlek => VLEK,
            SnpCertKind::Crl => CRL,
            SnpCertKind::Other(g) => g,
        }
    }
}

/// One certificate of the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertTableEntry {
    /// What the GUID says it is.
    pub kind: SnpCertKind,
    /// Its bytes (DER for certificates), exactly `length` bytes at `offset`.
    pub data: Vec<u8>,
}

fn malformed(detail: String) -> TeeError {
    TeeError::Malformed {
        what: "SEV-SNP certificate table (auxblob)",
        detail,
    }
}

fn u32_at(table: &[u8], at: usize) -> Result<usize, TeeError> {
    table
        .get(at..at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map(|b| u32::from_le_bytes(b) as usize)
        .ok_or_else(|| malformed(format!("truncated at byte {at}")))
}

/// Parses a certificate table; every offset and length is checked against
/// the table's size, and a table without its terminating zero entry is
/// refused.
pub fn parse_cert_table(table: &[u8]) -> Result<Vec<CertTableEntry>, TeeError> {
    let mut entries = Vec::new();
    let mut at = 0usize;
    loop {
        let raw = table.get(at..at + ENTRY_LEN).ok_or_else(|| {
            malformed(format!(
                "no all-zero terminating entry within its {} bytes",
                table.len()
            ))
        })?;
        if raw.iter().all(|&b| b == 0) {
            return Ok(entries);
        }
        let mut guid = [0u8; 16];
        guid.copy_from_slice(&raw[..16]);
        let offset = u32_at(table, at + 16)?;
        let length = u32_at(table, at + 20)?;
        let data = offset
            .checked_add(length)
            .and_then(|end| table.get(offset..end))
            .ok_or_else(|| {
                malformed(format!(
                    "entry {} points at bytes {offset}..{offset}+{length}, past the table's {} bytes",
                    entries.len(),
                    table.len()
                ))
            })?;
        entries.push(CertTableEntry {
            kind: SnpCertKind::from_guid(guid),
            data: data.to_vec(),
        });
        at += ENTRY_LEN;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guid_literals_are_in_textual_byte_order() {
        assert_eq!(VCEK[..4], [0x63, 0xda, 0x75, 0x8d]);
        assert_eq!(ARK[15], 0xae);
    }

    #[test]
    fn empty_table_is_just_a_terminator() {
        assert_eq!(parse_cert_table(&[0u8; 24]).ok(), Some(vec![]));
    }

    #[test]
    fn refuses_table_without_terminator() {
        assert!(parse_cert_table(&[]).is_err());
        let mut t = vec![0u8; 24];
        t[..16].copy_from_slice(&VCEK);
        assert!(parse_cert_table(&t).is_err());
    }

    #[test]
    fn refuses_entry_pointing_past_the_table() {
        let mut t = vec![0u8; 48];
        t[..16].copy_from_slice(&ASK);
        t[16..20].copy_from_slice(&40u32.to_le_bytes());
        t[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(parse_cert_table(&t).is_err());
    }
}
