//! The report signature: ECDSA P-384 with SHA-384 over the raw bytes
//! `[0, 0x2A0)` of the report, r and s stored little-endian in 72-byte fields.
//!
//! Verification hashes the bytes exactly as received. (Re-encoding a parsed
//! report, as the `sev` crate does, lets flips in reserved bytes through.)

use p384::ecdsa::signature::{Signer, Verifier};
use p384::ecdsa::{Signature, SigningKey, VerifyingKey};

use crate::error::{AttestationError, Check};
use crate::report::{REPORT_LEN, SIGNED_LEN, offset};

/// Width of the r and s fields; a P-384 scalar fills the low 48 bytes.
const COMPONENT_FIELD_LEN: usize = 72;
const SCALAR_LEN: usize = 48;

/// Verifies the signature of a raw SEV-SNP report under `key`.
///
/// Refuses (with [`Check::Signature`]) unless r and s are valid scalars whose
/// padding is zero, the reserved rest of the signature field is zero, and
/// the signature verifies over `report[0..0x2A0]` as received. A report of
/// the wrong length is [`Check::Format`].
pub fn verify_report_signature(report: &[u8], key: &VerifyingKey) -> Result<(), AttestationError> {
    let report: &[u8; REPORT_LEN] = report.try_into().map_err(|_| {
        AttestationError::new(
            Check::Format,
            format!("report is {} bytes, expected {REPORT_LEN}", report.len()),
        )
    })?;
    let r = read_scalar(report, offset::SIGNATURE_R, "r")?;
    let s = read_scalar(report, offset::SIGNATURE_S, "s")?;
    if report[offset::SIGNATURE_RESERVED..].iter().any(|&b| b != 0) {
        return Err(signature_error(
            "reserved bytes of the signature field are not zero",
        ));
    }
    let signature = Signature::from_scalars(r, s)
        .map_err(|_| signature_error("r or s is not a valid P-384 scalar"))?;
    key.verify(&report[..SIGNED_LEN], &signature)
        .map_err(|_| signature_error("the report signature does not verify under the endorsed key"))
}

/// Signs `report[0..0x2A0]` with `key` and writes r and s in place.
pub(crate) fn sign_report(report: &mut [u8; REPORT_LEN], key: &SigningKey) {
    let signature: Signature = key.sign(&report[..SIGNED_LEN]);
    let (r, s) = signature.split_bytes();
    write_scalar(report, offset::SIGNATURE_R, &r);
    write_scalar(report, offset::SIGNATURE_S, &s);
}

/// Reads a little-endian 72-byte field as a big-endian 48-byte scalar.
fn read_scalar(
    report: &[u8; REPORT_LEN],
    at: usize,
    name: &str,
) -> Result<[u8; SCALAR_LEN], AttestationError> {
    let field = &report[at..at + COMPONENT_FIELD_LEN];
    let (value, padding) = field.split_at(SCALAR_LEN);
    if padding.iter().any(|&b| b != 0) {
        return Err(signature_error(format!(
            "signature component {name} has non-zero bytes above 384 bits"
        )));
    }
    let mut big_endian = [0u8; SCALAR_LEN];
    for (out, byte) in big_endian.iter_mut().zip(value.iter().rev()) {
        *out = *byte;
    }
    Ok(big_endian)
}

/// Writes a big-endian scalar as a little-endian 72-byte field.
fn write_scalar(report: &mut [u8; REPORT_LEN], at: usize, big_endian: &[u8]) {
    let field = &mut report[at..at + COMPONENT_FIELD_LEN];
    field.fill(0);
    for (out, byte) in field.iter_mut().zip(big_endian.iter().rev()) {
        *out = *byte;
    }
}

fn signature_error(detail: impl Into<String>) -> AttestationError {
    AttestationError::new(Check::Signature, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::OsRng;

    #[test]
    fn signed_report_verifies_and_any_signed_byte_flip_is_refused() {
        let key = SigningKey::random(&mut OsRng);
        let mut report = [0x5a; REPORT_LEN];
        report[offset::SIGNATURE_R..].fill(0);
        sign_report(&mut report, &key);
        verify_report_signature(&report, key.verifying_key()).unwrap();
        for at in [0, 0x50, SIGNED_LEN - 1] {
            let mut flipped = report;
            flipped[at] ^= 1;
            let err = verify_report_signature(&flipped, key.verifying_key()).unwrap_err();
            assert_eq!(err.check, Check::Signature, "flip at {at:#x}");
        }
    }

    #[test]
    fn scalars_are_stored_little_endian() {
        let key = SigningKey::random(&mut OsRng);
        let mut report = [0u8; REPORT_LEN];
        sign_report(&mut report, &key);
        let signature: Signature = key.sign(&report[..SIGNED_LEN]);
        let (r, _) = signature.split_bytes();
        assert_eq!(report[offset::SIGNATURE_R], r[SCALAR_LEN - 1]);
        assert_eq!(report[offset::SIGNATURE_R + SCALAR_LEN - 1], r[0]);
    }

    #[test]
    fn refuses_non_zero_padding_and_reserved_bytes() {
        let key = SigningKey::random(&mut OsRng);
        let mut report = [0u8; REPORT_LEN];
        sign_report(&mut report, &key);
        for at in [
            offset::SIGNATURE_R + SCALAR_LEN,
            offset::SIGNATURE_S + COMPONENT_FIELD_LEN - 1,
            offset::SIGNATURE_RESERVED,
            REPORT_LEN - 1,
        ] {
            let mut flipped = report;
            flipped[at] ^= 0x80;
            let err = verify_report_signature(&flipped, key.verifying_key()).unwrap_err();
            assert_eq!(err.check, Check::Signature, "flip at {at:#x}");
        }
    }

    #[test]
    fn refuses_wrong_length_as_format() {
        let key = SigningKey::random(&mut OsRng);
        let err = verify_report_signature(&[0; 10], key.verifying_key()).unwrap_err();
        assert_eq!(err.check, Check::Format);
    }
}
