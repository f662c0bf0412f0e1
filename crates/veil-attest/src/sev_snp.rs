//! SEV-SNP trust: which key may sign a report, established from the VCEK →
//! ASK → ARK chain with the ARK pinned in code.
//!
//! The `sev` crate (without OpenSSL) checks the three RSA-PSS signatures and
//! nothing else. This module adds what it leaves out: strict DER (a
//! certificate must re-encode to exactly the bytes received), the validity
//! period of every certificate at the verification time, and the binding of
//! the VCEK to the report: its hwID and TCB extensions must equal the
//! report's chip ID and reported TCB.

use p384::ecdsa::VerifyingKey;
use p384::pkcs8::DecodePublicKey;
use sev::certs::snp::{Certificate as SevCertificate, Chain, Verifiable, ca};
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::spki::ObjectIdentifier;

use crate::error::{AttestationError, Check};
use crate::fields::TcbVersion;
use crate::report::{Report, SigningKey};
use crate::x509::{check_validity, parse_certificate};

/// AMD's root keys (ARKs, PEM): the only SEV-SNP roots trusted, as the
/// `sev` crate ships them. Their SHA-256 DER fingerprints are pinned in
/// this module's tests and were cross-checked against independent copies
/// (the Turin ARK against google/go-sev-guest `verify/trust/ask_ark_turin_vlek.pem`).
///
/// Milan and Genoa (family 19h) share the TCB layout this crate decodes.
/// Turin (family 1Ah) lays its TCB out differently (FMC, bootloader, TEE,
/// SNP, microcode) and its VCEK carries an 8-byte hwID: its root is pinned
/// so that a Turin chain is recognised, but its reports are refused (at
/// parsing for version 3 and later; here, fail-closed, for any other).
const PINNED_ARKS: [(&str, &[u8]); 3] = [
    ("Milan", sev::certs::snp::builtin::milan::ARK),
    ("Genoa", sev::certs::snp::builtin::genoa::ARK),
    ("Turin", sev::certs::snp::builtin::turin::ARK),
];

/// VCEK extensions (AMD "Versioned Chip Endorsement Key" specification).
const OID_BOOTLOADER_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const OID_TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const OID_SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const OID_MICROCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
const OID_HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");

/// Returns the VCEK's key if `certificates` (`[VCEK, ASK]` or `[VCEK, ASK,
/// ARK]`, DER) chain to the pinned ARK (or to `ark_override`, when given), are all valid at `now_unix`, and the
/// VCEK is the one for `report`'s chip and reported TCB.
pub(crate) fn endorsed_vcek_key(
    certificates: &[Vec<u8>],
    report: &Report<'_>,
    ark_override: Option<&[u8]>,
    now_unix: u64,
) -> Result<VerifyingKey, AttestationError> {
    let (vcek_der, ask_der, supplied_ark_der) = match certificates {
        [vcek, ask] => (vcek, ask, None),
        [vcek, ask, ark] => (vcek, ask, Some(ark)),
        _ => {
            return Err(AttestationError::new(
                Check::Format,
                format!(
                    "sev-snp evidence needs [VCEK, ASK] or [VCEK, ASK, ARK], got {} certificates",
                    certificates.len()
                ),
            ));
        }
    };
    if report.signing_key != SigningKey::Vcek {
        return Err(chain_error(format!(
            "report is signed by key selector {:?}; only VCEK-signed reports are supported",
            report.signing_key
        )));
    }

    let ask = parse_certificate(ask_der, "ASK")?;
    let vcek = parse_certificate(vcek_der, "VCEK")?;
    let (family, ark) = match ark_override {
        Some(der) => ("given", parse_certificate(der, "ARK")?),
        None => pinned_ark_for(&ask)?,
    };
    if family == "Turin" {
        return Err(chain_error(
            "the chain is Turin's (ARK-Turin): binding a Turin VCEK to its report (FMC SPL, \
             8-byte hwID) is not implemented, so Turin reports are refused",
        ));
    }
    if let Some(supplied) = supplied_ark_der
        && ark.to_der().ok().as_deref() != Some(supplied.as_slice())
    {
        return Err(chain_error(format!(
            "the supplied ARK is not the {family} AMD ARK"
        )));
    }

    let chain = Chain {
        ca: ca::Chain {
            ark: SevCertificate::from(ark.clone()),
            ask: SevCertificate::from(ask.clone()),
        },
        vek: SevCertificate::from(vcek.clone()),
    };
    (&chain)
        .verify()
        .map_err(|e| chain_error(format!("VCEK → ASK → pinned ARK does not verify: {e}")))?;

    for (name, certificate) in [("VCEK", &vcek), ("ASK", &ask), ("ARK", &ark)] {
        check_validity(certificate, name, now_unix)?;
    }
    check_vcek_matches_report(&vcek, report)?;

    let spki = vcek
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| chain_error(format!("VCEK public key does not encode: {e}")))?;
    VerifyingKey::from_public_key_der(&spki)
        .map_err(|e| chain_error(format!("VCEK public key is not a P-384 key: {e}")))
}

/// The pinned ARK whose subject is the ASK's issuer. Choosing by name only
/// selects the root; the chain's signatures decide whether it is trusted.
fn pinned_ark_for(ask: &Certificate) -> Result<(&'static str, Certificate), AttestationError> {
    for (family, pem) in PINNED_ARKS {
        let ark = Certificate::from_pem(pem)
            .map_err(|e| chain_error(format!("the pinned {family} ARK does not parse: {e}")))?;
        if ark.tbs_certificate.subject == ask.tbs_certificate.issuer {
            return Ok((family, ark));
        }
    }
    Err(chain_error(
        "the ASK is not issued by a pinned AMD ARK (Milan, Genoa, Turin)",
    ))
}

/// The VCEK is derived from the chip's secret and the TCB: the report must
/// claim the chip and TCB the VCEK was issued for, or a firmware could sign
/// with an old VCEK while claiming a newer TCB.
fn check_vcek_matches_report(
    vcek: &Certificate,
    report: &Report<'_>,
) -> Result<(), AttestationError> {
    let certified_tcb = TcbVersion {
        bootloader: spl_extension(vcek, OID_BOOTLOADER_SPL, "bootloader")?,
        tee: spl_extension(vcek, OID_TEE_SPL, "TEE")?,
        snp: spl_extension(vcek, OID_SNP_SPL, "SNP")?,
        microcode: spl_extension(vcek, OID_MICROCODE_SPL, "microcode")?,
    };
    if certified_tcb != report.reported_tcb {
        return Err(chain_error(format!(
            "the VCEK is certified for TCB {certified_tcb}, the report claims {}",
            report.reported_tcb
        )));
    }
    // An all-zero chip ID means the platform masks it (MASK_CHIP_ID); the
    // VCEK's signature still ties the report to one chip.
    if report.chip_id != [0; 64] {
        let hw_id = extension_value(vcek, OID_HW_ID)
            .ok_or_else(|| chain_error("VCEK has no hwID extension"))?;
        if hw_id != report.chip_id.as_slice() {
            return Err(chain_error(
                "the VCEK was issued for a different chip than the report's chip ID",
            ));
        }
    }
    Ok(())
}

/// A security patch level extension: a DER INTEGER that fits in a byte.
fn spl_extension(
    vcek: &Certificate,
    oid: ObjectIdentifier,
    name: &str,
) -> Result<u8, AttestationError> {
    let value = extension_value(vcek, oid)
        .ok_or_else(|| chain_error(format!("VCEK has no {name} SPL extension")))?;
    u8::from_der(value).map_err(|e| {
        chain_error(format!(
            "VCEK {name} SPL extension is not a small integer: {e}"
        ))
    })
}

fn extension_value(certificate: &Certificate, oid: ObjectIdentifier) -> Option<&[u8]> {
    certificate
        .tbs_certificate
        .extensions
        .as_deref()?
        .iter()
        .find(|extension| extension.extn_id == oid)
        .map(|extension| extension.extn_value.as_bytes())
}

fn chain_error(detail: impl Into<String>) -> AttestationError {
    AttestationError::new(Check::Chain, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pinned_ark_signs_itself_and_its_own_familys_ask() {
        use sev::certs::snp::builtin::{genoa, milan, turin};
        for (family, ask_pem) in [
            ("Milan", milan::ASK),
            ("Genoa", genoa::ASK),
            ("Turin", turin::ASK),
        ] {
            let ask = Certificate::from_pem(ask_pem).unwrap();
            let (chosen, ark) = pinned_ark_for(&ask).unwrap();
            assert_eq!(chosen, family);
            let ark = SevCertificate::from(ark);
            // The ARK's self-signature, then ARK -> ASK.
            (&ark, &ark).verify().unwrap();
            let chain = ca::Chain {
                ark,
                ask: SevCertificate::from(ask),
            };
            (&chain).verify().unwrap();
        }
    }

    #[test]
    fn pinned_arks_are_amds_by_fingerprint() {
        use sha2::{Digest, Sha256};
        // SHA-256 of each ARK's DER. Turin's equals the ARK-Turin in
        // google/go-sev-guest verify/trust/ask_ark_turin_vlek.pem (commit
        // 6953342c), which that project took from AMD KDS.
        let expected = [
            (
                "Milan",
                "69d063b45344d26a2e94e1f4210de49ef555308287d4c174445c95639a540bcd",
            ),
            (
                "Genoa",
                "4c6598d19c18719c5dfd4a7d335f674e5bfe1d8f800cea2cf270c10d103db2f1",
            ),
            (
                "Turin",
                "1f084161a44bb6d93778a904877d4819cafa5d05ef4193b2ded9dd9c73dd3f6a",
            ),
        ];
        for ((family, pem), (name, fingerprint)) in PINNED_ARKS.into_iter().zip(expected) {
            assert_eq!(family, name);
            let der = Certificate::from_pem(pem).unwrap().to_der().unwrap();
            assert_eq!(hex::encode(Sha256::digest(&der)), fingerprint, "{family}");
        }
    }

    #[test]
    fn an_ask_of_no_pinned_family_has_no_root() {
        // Milan's ASK with another issuer name: no pinned ARK is chosen.
        let mut ask = Certificate::from_pem(sev::certs::snp::builtin::milan::ASK).unwrap();
        ask.tbs_certificate.issuer = ask.tbs_certificate.subject.clone();
        assert_eq!(pinned_ark_for(&ask).unwrap_err().check, Check::Chain);
    }
}
