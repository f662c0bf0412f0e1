//! X.509 helpers shared by the chains this crate checks itself (SEV-SNP,
//! Nitro): strict DER parsing and validity at the verification time.

use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use p384::pkcs8::DecodePublicKey;
use x509_cert::Certificate;
use x509_cert::der::{Decode, Encode};
use x509_cert::ext::pkix::BasicConstraints;
use x509_cert::spki::ObjectIdentifier;

use crate::error::{AttestationError, Check};

/// Parses a DER certificate, refusing anything the chain check would
/// overlook: non-canonical encodings (the check re-encodes), an outer
/// signature algorithm that differs from the signed inner one, and a
/// signature BIT STRING with unused bits (the check ignores that count).
pub(crate) fn parse_certificate(der: &[u8], name: &str) -> Result<Certificate, AttestationError> {
    let certificate = Certificate::from_der(der)
        .map_err(|e| chain_error(format!("{name} is not a DER certificate: {e}")))?;
    if certificate.to_der().ok().as_deref() != Some(der) {
        return Err(chain_error(format!("{name} is not in canonical DER")));
    }
    if certificate.signature_algorithm != certificate.tbs_certificate.signature {
        return Err(chain_error(format!(
            "{name}'s outer signature algorithm differs from the signed one"
        )));
    }
    if certificate.signature.unused_bits() != 0 {
        return Err(chain_error(format!(
            "{name}'s signature is not a whole number of bytes"
        )));
    }
    Ok(certificate)
}

pub(crate) fn check_validity(
    certificate: &Certificate,
    name: &str,
    now_unix: u64,
) -> Result<(), AttestationError> {
    let validity = &certificate.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    if now_unix < not_before || now_unix > not_after {
        return Err(AttestationError::new(
            Check::Freshness,
            format!(
                "{name} is valid from {not_before} to {not_after} (unix seconds), not at {now_unix}"
            ),
        ));
    }
    Ok(())
}

fn chain_error(detail: impl Into<String>) -> AttestationError {
    AttestationError::new(Check::Chain, detail)
}

/// `ecdsa-with-SHA384` (RFC 5758).
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// `id-ce-basicConstraints` (RFC 5280).
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");

/// Checks that `issuer` issued `subject` with an ECDSA P-384/SHA-384
/// signature: the names chain, the issuer is a CA (basicConstraints
/// `cA = TRUE`), and the signature over the subject's TBS verifies under
/// the issuer's key. The TBS is re-encoded; [`parse_certificate`] has
/// already refused any certificate that does not re-encode to its input.
pub(crate) fn verify_p384_issued_by(
    subject: &Certificate,
    subject_name: &str,
    issuer: &Certificate,
    issuer_name: &str,
) -> Result<(), AttestationError> {
    if subject.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return Err(chain_error(format!(
            "{subject_name}'s issuer is not {issuer_name}'s subject"
        )));
    }
    if !is_ca(issuer)? {
        return Err(chain_error(format!(
            "{issuer_name} is not a CA certificate (basicConstraints cA)"
        )));
    }
    if subject.signature_algorithm.oid != ECDSA_WITH_SHA384 {
        return Err(chain_error(format!(
            "{subject_name} is not signed with ecdsa-with-SHA384"
        )));
    }
    let spki = issuer
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| chain_error(format!("{issuer_name}'s public key does not encode: {e}")))?;
    let key = VerifyingKey::from_public_key_der(&spki)
        .map_err(|e| chain_error(format!("{issuer_name}'s key is not a P-384 key: {e}")))?;
    let signature = subject
        .signature
        .as_bytes()
        .and_then(|der| Signature::from_der(der).ok())
        .ok_or_else(|| chain_error(format!("{subject_name}'s signature is not DER ECDSA")))?;
    let tbs = subject
        .tbs_certificate
        .to_der()
        .map_err(|e| chain_error(format!("{subject_name} does not encode: {e}")))?;
    key.verify(&tbs, &signature).map_err(|_| {
        chain_error(format!(
            "{subject_name}'s signature does not verify under {issuer_name}'s key"
        ))
    })
}

/// Whether basicConstraints says `cA = TRUE` (absent: not a CA).
fn is_ca(certificate: &Certificate) -> Result<bool, AttestationError> {
    let Some(extension) = certificate
        .tbs_certificate
        .extensions
        .as_deref()
        .and_then(|extensions| extensions.iter().find(|e| e.extn_id == BASIC_CONSTRAINTS))
    else {
        return Ok(false);
    };
    BasicConstraints::from_der(extension.extn_value.as_bytes())
        .map(|constraints| constraints.ca)
        .map_err(|e| chain_error(format!("basicConstraints does not parse: {e}")))
}
