//! Evidence in the forms real sources publish it, turned into the exact
//! bytes [`Evidence`](crate::Evidence) holds: SNP reports as binary or hex
//! text, DCAP quotes with trailing zero padding, certificates as PEM or DER.
//! Pure: bytes in, bytes out.

use x509_cert::Certificate;
use x509_cert::der::Encode;

use crate::error::{AttestationError, Check};
use crate::evidence::PlatformKind;
use crate::report::REPORT_LEN;

/// DCAP quote header length (every version).
const QUOTE_HEADER_LEN: usize = 48;
/// TEE type of a TDX quote (header offset 4); SGX is 0.
const TEE_TYPE_TDX: u32 = 0x81;
/// SGX enclave report body, TDX 1.0 TD report body (quote v3/v4).
const SGX_BODY_LEN: usize = 384;
const TDX10_BODY_LEN: usize = 584;

fn format_error(detail: impl Into<String>) -> AttestationError {
    AttestationError::new(Check::Format, detail)
}

/// An SEV-SNP (or simulated) report: exactly [`REPORT_LEN`] raw bytes, or
/// the same as hex text (whitespace and line breaks ignored).
pub fn decode_snp_report(bytes: &[u8]) -> Result<Vec<u8>, AttestationError> {
    if bytes.len() == REPORT_LEN {
        return Ok(bytes.to_vec());
    }
    let text: Vec<u8> = bytes
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = hex::decode(&text).map_err(|_| {
        format_error(format!(
            "an SNP report is {REPORT_LEN} bytes or their hex; got {} bytes that are neither",
            bytes.len()
        ))
    })?;
    if decoded.len() != REPORT_LEN {
        return Err(format_error(format!(
            "the hex decodes to {} bytes, an SNP report is {REPORT_LEN}",
            decoded.len()
        )));
    }
    Ok(decoded)
}

/// A DCAP quote (v3, v4 or v5) cut to the length its own fields give:
/// header, body, then the 4-byte signature data length and that many bytes.
/// Whatever follows (the zero padding some tools write) is dropped.
pub fn trim_dcap_quote(bytes: &[u8]) -> Result<Vec<u8>, AttestationError> {
    let u16_at = |at: usize| {
        bytes
            .get(at..at + 2)
            .map(|b| usize::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let u32_at = |at: usize| {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let too_short = || format_error(format!("a {}-byte quote is too short", bytes.len()));
    let version = u16_at(0).ok_or_else(too_short)?;
    let tee_type = u32_at(4).ok_or_else(too_short)?;
    let body_end = match version {
        3 => QUOTE_HEADER_LEN + SGX_BODY_LEN,
        4 if tee_type == TEE_TYPE_TDX => QUOTE_HEADER_LEN + TDX10_BODY_LEN,
        4 => QUOTE_HEADER_LEN + SGX_BODY_LEN,
        5 => {
            // v5: a 2-byte body type and a 4-byte body size precede the body.
            let size = u32_at(QUOTE_HEADER_LEN + 2).ok_or_else(too_short)?;
            QUOTE_HEADER_LEN + 6 + usize::try_from(size).map_err(|_| too_short())?
        }
        other => {
            return Err(format_error(format!(
                "quote version {other} is not a DCAP quote version (3, 4, 5)"
            )));
        }
    };
    let signature_len = u32_at(body_end).ok_or_else(too_short)?;
    let end = usize::try_from(signature_len)
        .ok()
        .and_then(|len| (body_end + 4).checked_add(len))
        .filter(|end| *end <= bytes.len())
        .ok_or_else(too_short)?;
    if bytes[end..].iter().any(|b| *b != 0) {
        return Err(format_error(format!(
            "{} bytes follow the quote's signature data and are not zero padding",
            bytes.len() - end
        )));
    }
    Ok(bytes[..end].to_vec())
}

/// The platform raw evidence is from, by its shape: a DCAP quote's header
/// (v3 → `sgx`; v4/v5 by TEE type), a COSE_Sign1 array (`nitro`), or an
/// SNP report in binary or hex (`sev-snp`). `None` if it is none of these.
pub fn detect_platform(bytes: &[u8]) -> Option<PlatformKind> {
    let version = bytes.get(0..2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    let tee_type = bytes
        .get(4..8)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]));
    if decode_snp_report(bytes).is_ok() {
        return Some(PlatformKind::SevSnp);
    }
    match (bytes.first(), version, tee_type) {
        // CBOR: an array of 4 (COSE_Sign1), possibly tagged 18.
        (Some(0x84), _, _) => Some(PlatformKind::Nitro),
        (Some(0xD2), _, _) if bytes.get(1) == Some(&0x84) => Some(PlatformKind::Nitro),
        (_, Some(3), _) => Some(PlatformKind::Sgx),
        (_, Some(4 | 5), Some(TEE_TYPE_TDX)) => Some(PlatformKind::Tdx),
        (_, Some(4 | 5), Some(0)) => Some(PlatformKind::Sgx),
        _ => None,
    }
}

/// Every certificate in `bytes`, as DER: a PEM file (one or several
/// certificates, e.g. an ASK + ARK chain) or one DER certificate.
pub fn decode_certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>, AttestationError> {
    if bytes.windows(11).any(|w| w == b"-----BEGIN ") {
        let chain = Certificate::load_pem_chain(bytes)
            .map_err(|e| format_error(format!("the PEM does not hold certificates: {e}")))?;
        return chain
            .iter()
            .map(|c| {
                c.to_der()
                    .map_err(|e| format_error(format!("a certificate does not encode: {e}")))
            })
            .collect();
    }
    // DER is passed on as it is: whether it is a valid certificate is the
    // verifier's `chain` check. Only its outer SEQUENCE, spanning the whole
    // file, is required here, to tell a certificate file from another file.
    if !is_one_der_sequence(bytes) {
        return Err(format_error(
            "neither PEM nor DER (a DER certificate is one SEQUENCE spanning the file)",
        ));
    }
    Ok(vec![bytes.to_vec()])
}

/// `bytes` is a DER SEQUENCE header whose definite length covers exactly the
/// rest of `bytes`.
fn is_one_der_sequence(bytes: &[u8]) -> bool {
    let (Some(0x30), Some(&first)) = (bytes.first(), bytes.get(1)) else {
        return false;
    };
    let (header, len) = match first {
        0..=0x7f => (2, usize::from(first)),
        0x81..=0x83 => {
            let count = usize::from(first & 0x7f);
            let Some(len_bytes) = bytes.get(2..2 + count) else {
                return false;
            };
            let len = len_bytes
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (2 + count, len)
        }
        _ => return false,
    };
    header + len == bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snp_report_hex_and_binary_decode_to_the_same_bytes() {
        let binary = vec![0x5a; REPORT_LEN];
        let text = hex::encode(&binary)
            .as_bytes()
            .chunks(64)
            .flat_map(|line| [line, b"\n"].concat())
            .collect::<Vec<u8>>();
        assert_eq!(decode_snp_report(&binary).unwrap(), binary);
        assert_eq!(decode_snp_report(&text).unwrap(), binary);
        assert_eq!(decode_snp_report(b"abcd").unwrap_err().check, Check::Format);
    }

    #[test]
    fn quote_padding_is_trimmed_by_length_fields_and_garbage_refused() {
        let mut quote = vec![0u8; QUOTE_HEADER_LEN + SGX_BODY_LEN + 4 + 3];
        quote[0] = 3;
        quote[QUOTE_HEADER_LEN + SGX_BODY_LEN] = 3;
        let mut padded = quote.clone();
        padded.extend_from_slice(&[0; 100]);
        assert_eq!(trim_dcap_quote(&padded).unwrap(), quote);
        padded.push(1);
        assert_eq!(trim_dcap_quote(&padded).unwrap_err().check, Check::Format);
        assert!(trim_dcap_quote(&quote[..quote.len() - 1]).is_err());
        assert_eq!(detect_platform(&quote), Some(PlatformKind::Sgx));
    }
}
