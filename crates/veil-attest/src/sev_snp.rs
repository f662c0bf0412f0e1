//! SEV-SNP trust: which key may sign a report, established from its
//! certificate chain with the ARK pinned in code.
//!
//! A report names its signer in KEY_INFO: the VCEK (chip- and TCB-specific,
//! chain VCEK → ASK → ARK) or the VLEK (issued to a cloud provider, chain
//! VLEK → ASVK → ARK; the ASVK is signed by the same ARK as the ASK).
//!
//! The `sev` crate (without OpenSSL) checks the RSA-PSS signatures and
//! nothing else. This module adds what it leaves out: strict DER (a
//! certificate must re-encode to exactly the bytes received), the roles and
//! family of every certificate (common names `ARK-{family}`, `SEV-{family}`
//! or `SEV-VLEK-{family}`, `SEV-VCEK` or `SEV-VLEK`) against the report's
//! key selector and CPU family, the validity period of every certificate at
//! the verification time, and the binding of the key to the report: its TCB
//! extensions (with FMC on Turin) must equal the reported TCB, and a VCEK's
//! hwID the report's chip ID (all 64 bytes on Milan and Genoa, the first 8
//! on Turin).

use p384::ecdsa::VerifyingKey;
use p384::pkcs8::DecodePublicKey;
use sev::certs::snp::{Certificate as SevCertificate, Verifiable};
use x509_cert::Certificate;
use x509_cert::der::asn1::Ia5String;
use x509_cert::der::{Decode, DecodePem, Encode};
use x509_cert::name::Name;
use x509_cert::spki::ObjectIdentifier;

use crate::claims::SnpSigningKey;
use crate::error::{AttestationError, Check};
use crate::fields::TcbVersion;
use crate::product::{SnpProduct, TcbLayout};
use crate::report::{Report, SigningKey};
use crate::x509::{check_validity, parse_certificate};

/// AMD's root keys (ARKs, PEM): the only SEV-SNP roots trusted, as the
/// `sev` crate ships them. Their SHA-256 DER fingerprints are pinned in
/// this module's tests and were cross-checked against independent copies
/// (the Turin ARK against google/go-sev-guest `verify/trust/ask_ark_turin_vlek.pem`).
/// Each ARK signs its family's ASK (VCEK chains) and ASVK (VLEK chains).
const PINNED_ARKS: [(SnpProduct, &[u8]); 3] = [
    (SnpProduct::Milan, sev::certs::snp::builtin::milan::ARK),
    (SnpProduct::Genoa, sev::certs::snp::builtin::genoa::ARK),
    (SnpProduct::Turin, sev::certs::snp::builtin::turin::ARK),
];

/// VCEK and VLEK extensions (AMD, "Versioned Chip Endorsement Key (VCEK)
/// Certificate and KDS Interface Specification"; the same OIDs in
/// google/go-sev-guest `kds/kds.go`).
const OID_BOOTLOADER_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.1");
const OID_TEE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.2");
const OID_SNP_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.3");
const OID_MICROCODE_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.8");
/// Turin only.
const OID_FMC_SPL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.3.9");
/// VCEK only: the chip's hwID, raw bytes (64 on Milan/Genoa, 8 on Turin).
const OID_HW_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.4");
/// VLEK only: the cloud provider's name, an IA5String.
const OID_CSP_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.3704.1.5");
/// `id-at-commonName` (X.520).
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// The key a chain endorses for one report, and what it says about it.
#[derive(Debug)]
pub(crate) struct Endorsement {
    /// The report-signing P-384 key.
    pub key: VerifyingKey,
    /// VCEK or VLEK, as the report says and the chain proves.
    pub signing_key: SnpSigningKey,
    /// The cloud provider named in a VLEK (CSP_ID).
    pub csp_id: Option<String>,
}

/// The names of the two certificates below the ARK, by signing key.
struct Roles {
    signing_key: SnpSigningKey,
    leaf: &'static str,
    intermediate: &'static str,
}

impl Roles {
    fn of(selector: SigningKey) -> Result<Self, AttestationError> {
        match selector {
            SigningKey::Vcek => Ok(Roles {
                signing_key: SnpSigningKey::Vcek,
                leaf: "VCEK",
                intermediate: "ASK",
            }),
            SigningKey::Vlek => Ok(Roles {
                signing_key: SnpSigningKey::Vlek,
                leaf: "VLEK",
                intermediate: "ASVK",
            }),
            SigningKey::Other(selector) => Err(chain_error(format!(
                "the report names signing key selector {selector}; only 0 (VCEK) and 1 (VLEK) \
                 are endorsed by AMD certificates"
            ))),
        }
    }

    /// The common names AMD gives the intermediate and the leaf.
    fn expected_names(&self, product: SnpProduct) -> (String, &'static str) {
        match self.signing_key {
            SnpSigningKey::Vcek => (format!("SEV-{product}"), "SEV-VCEK"),
            SnpSigningKey::Vlek => (format!("SEV-VLEK-{product}"), "SEV-VLEK"),
        }
    }
}

/// Returns the key that signed `report` if `certificates` (`[leaf,
/// intermediate]` or `[leaf, intermediate, ARK]`, DER: VCEK and ASK, or VLEK
/// and ASVK, as the report's KEY_INFO says) chain to the pinned ARK (or to
/// `ark_override`, when given), are all valid at `now_unix`, and the leaf is
/// certified for `report`'s TCB (and, for a VCEK, its chip).
pub(crate) fn endorsed_report_key(
    certificates: &[Vec<u8>],
    report: &Report<'_>,
    ark_override: Option<&[u8]>,
    now_unix: u64,
) -> Result<Endorsement, AttestationError> {
    let (leaf_der, intermediate_der, supplied_ark_der) = match certificates {
        [leaf, intermediate] => (leaf, intermediate, None),
        [leaf, intermediate, ark] => (leaf, intermediate, Some(ark)),
        _ => {
            return Err(AttestationError::new(
                Check::Format,
                format!(
                    "sev-snp evidence needs [VCEK, ASK], [VLEK, ASVK], or either with the ARK, \
                     got {} certificates",
                    certificates.len()
                ),
            ));
        }
    };
    let roles = Roles::of(report.signing_key)?;
    let intermediate = parse_certificate(intermediate_der, roles.intermediate)?;
    let leaf = parse_certificate(leaf_der, roles.leaf)?;
    let ark = match ark_override {
        Some(der) => parse_certificate(der, "ARK")?,
        None => pinned_ark_for(&intermediate, roles.intermediate)?,
    };
    if let Some(supplied) = supplied_ark_der
        && ark.to_der().ok().as_deref() != Some(supplied.as_slice())
    {
        return Err(chain_error("the supplied ARK is not the trusted AMD ARK"));
    }
    let product = product_of_ark(&ark)?;
    check_roles(&roles, product, &intermediate, &leaf)?;
    check_report_family(report, product)?;

    let sev_ark = SevCertificate::from(ark.clone());
    let sev_intermediate = SevCertificate::from(intermediate.clone());
    (&sev_ark, &sev_ark)
        .verify()
        .map_err(|e| chain_error(format!("the {product} ARK does not sign itself: {e}")))?;
    (&sev_ark, &sev_intermediate).verify().map_err(|e| {
        chain_error(format!(
            "the {} is not signed by the {product} ARK: {e}",
            roles.intermediate
        ))
    })?;
    (&sev_intermediate, &SevCertificate::from(leaf.clone()))
        .verify()
        .map_err(|e| {
            chain_error(format!(
                "the {} is not signed by the {}: {e}",
                roles.leaf, roles.intermediate
            ))
        })?;

    for (name, certificate) in [
        (roles.leaf, &leaf),
        (roles.intermediate, &intermediate),
        ("ARK", &ark),
    ] {
        check_validity(certificate, name, now_unix)?;
    }
    check_tcb_matches_report(&leaf, roles.leaf, product, report)?;
    let csp_id = match roles.signing_key {
        SnpSigningKey::Vcek => {
            check_vcek_chip(&leaf, product, report)?;
            None
        }
        SnpSigningKey::Vlek => Some(vlek_csp_id(&leaf)?),
    };

    let spki = leaf
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| chain_error(format!("{} public key does not encode: {e}", roles.leaf)))?;
    let key = VerifyingKey::from_public_key_der(&spki)
        .map_err(|e| chain_error(format!("{} public key is not a P-384 key: {e}", roles.leaf)))?;
    Ok(Endorsement {
        key,
        signing_key: roles.signing_key,
        csp_id,
    })
}

/// The pinned ARK whose subject is the intermediate's issuer. Choosing by
/// name only selects the root; the chain's signatures decide whether it is
/// trusted.
fn pinned_ark_for(intermediate: &Certificate, name: &str) -> Result<Certificate, AttestationError> {
    for (product, pem) in PINNED_ARKS {
        let ark = Certificate::from_pem(pem)
            .map_err(|e| chain_error(format!("the pinned {product} ARK does not parse: {e}")))?;
        if ark.tbs_certificate.subject == intermediate.tbs_certificate.issuer {
            return Ok(ark);
        }
    }
    Err(chain_error(format!(
        "the {name} is not issued by a pinned AMD ARK (Milan, Genoa, Turin)"
    )))
}

/// The product family a trusted ARK is the root of, from its common name
/// (`ARK-Milan`, `ARK-Genoa`, `ARK-Turin`). It decides the TCB layout the
/// report must be in, so an ARK naming no known family is refused.
fn product_of_ark(ark: &Certificate) -> Result<SnpProduct, AttestationError> {
    common_name(&ark.tbs_certificate.subject)
        .and_then(|cn| cn.strip_prefix("ARK-"))
        .and_then(SnpProduct::parse)
        .ok_or_else(|| {
            chain_error(
                "the ARK's common name names no EPYC family (ARK-Milan, ARK-Genoa, ARK-Turin), \
                 so the report's TCB layout cannot be bound to it",
            )
        })
}

/// The intermediate and leaf must have the roles the report's key selector
/// implies, in the ARK's family: a VLEK is never accepted as a VCEK, nor
/// the other way round.
fn check_roles(
    roles: &Roles,
    product: SnpProduct,
    intermediate: &Certificate,
    leaf: &Certificate,
) -> Result<(), AttestationError> {
    let (intermediate_cn, leaf_cn) = roles.expected_names(product);
    let found = |name: &Name| common_name(name).unwrap_or("(none)").to_owned();
    let intermediate_found = found(&intermediate.tbs_certificate.subject);
    if intermediate_found != intermediate_cn {
        return Err(chain_error(format!(
            "the report says the {} signed it, so the chain's intermediate must be the {product} \
             {} ({intermediate_cn}), not {intermediate_found}",
            roles.leaf, roles.intermediate
        )));
    }
    let leaf_found = found(&leaf.tbs_certificate.subject);
    if leaf_found != leaf_cn {
        return Err(chain_error(format!(
            "the report says the {} signed it, so the leaf must be a {leaf_cn}, not {leaf_found}",
            roles.leaf
        )));
    }
    Ok(())
}

/// The report's TCB fields were decoded in the layout of its CPU family;
/// the chain's family must lay them out the same way.
fn check_report_family(report: &Report<'_>, product: SnpProduct) -> Result<(), AttestationError> {
    if report.tcb_layout == product.tcb_layout() {
        return Ok(());
    }
    Err(chain_error(match report.cpuid {
        // Without CPUID the report was read in the Milan/Genoa layout, so
        // the chain is Turin's.
        None => format!(
            "the chain is {product}'s, but the report is version {}, which carries no CPUID: its \
             TCB cannot be decoded in Turin's layout (FMC, bootloader, TEE, SNP, microcode); \
             Turin reports are version 3 or later",
            report.version
        ),
        Some((family, _)) => format!(
            "the chain is {product}'s, but the report says CPU family {family:#04x}: their TCB \
             layouts differ"
        ),
    }))
}

/// A VCEK or VLEK is certified for one TCB: the report must claim exactly
/// that TCB, or a firmware could sign with an old key while claiming a
/// newer TCB. On Turin the FMC SPL is part of it; a Milan or Genoa
/// certificate's FMC extension, if any, has nothing in the report to match
/// and is not read.
fn check_tcb_matches_report(
    leaf: &Certificate,
    name: &str,
    product: SnpProduct,
    report: &Report<'_>,
) -> Result<(), AttestationError> {
    let fmc = match product.tcb_layout() {
        TcbLayout::Turin => Some(spl_extension(leaf, name, OID_FMC_SPL, "FMC")?),
        TcbLayout::MilanGenoa => None,
    };
    let certified_tcb = TcbVersion {
        fmc,
        bootloader: spl_extension(leaf, name, OID_BOOTLOADER_SPL, "bootloader")?,
        tee: spl_extension(leaf, name, OID_TEE_SPL, "TEE")?,
        snp: spl_extension(leaf, name, OID_SNP_SPL, "SNP")?,
        microcode: spl_extension(leaf, name, OID_MICROCODE_SPL, "microcode")?,
    };
    if certified_tcb != report.reported_tcb {
        return Err(chain_error(format!(
            "the {name} is certified for TCB {certified_tcb}, the report claims {}",
            report.reported_tcb
        )));
    }
    Ok(())
}

/// A VCEK belongs to one chip: its hwID is the report's CHIP_ID (Turin: its
/// first 8 bytes). An all-zero chip ID means the platform masks it
/// (MASK_CHIP_ID); the VCEK's signature still ties the report to one chip.
fn check_vcek_chip(
    vcek: &Certificate,
    product: SnpProduct,
    report: &Report<'_>,
) -> Result<(), AttestationError> {
    if extension_value(vcek, OID_CSP_ID).is_some() {
        return Err(chain_error(
            "the VCEK carries a CSP_ID extension, which only a VLEK has",
        ));
    }
    if report.chip_id == [0; 64] {
        return Ok(());
    }
    let expected = report
        .chip_id
        .get(..product.hw_id_len())
        .ok_or_else(|| chain_error("the hwID is longer than a chip ID"))?;
    let hw_id = extension_value(vcek, OID_HW_ID)
        .ok_or_else(|| chain_error("VCEK has no hwID extension"))?;
    if hw_id != expected {
        return Err(chain_error(format!(
            "the VCEK's hwID is not the first {} bytes of the report's chip ID ({product}): it \
             was issued for a different chip",
            expected.len()
        )));
    }
    Ok(())
}

/// A VLEK belongs to a cloud provider, not a chip: it has no hwID and names
/// the provider in CSP_ID.
fn vlek_csp_id(vlek: &Certificate) -> Result<String, AttestationError> {
    if extension_value(vlek, OID_HW_ID).is_some() {
        return Err(chain_error(
            "the VLEK carries a hwID extension, which only a VCEK has",
        ));
    }
    let value = extension_value(vlek, OID_CSP_ID)
        .ok_or_else(|| chain_error("the VLEK has no CSP_ID extension"))?;
    Ia5String::from_der(value)
        .map(|csp_id| csp_id.to_string())
        .map_err(|e| chain_error(format!("the VLEK's CSP_ID is not an IA5String: {e}")))
}

/// A security patch level extension: a DER INTEGER that fits in a byte.
fn spl_extension(
    certificate: &Certificate,
    name: &str,
    oid: ObjectIdentifier,
    component: &str,
) -> Result<u8, AttestationError> {
    let value = extension_value(certificate, oid)
        .ok_or_else(|| chain_error(format!("{name} has no {component} SPL extension")))?;
    u8::from_der(value).map_err(|e| {
        chain_error(format!(
            "{name} {component} SPL extension is not a small integer: {e}"
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

/// The (single) common name of `name`, if it is a text string.
fn common_name(name: &Name) -> Option<&str> {
    let mut values = name
        .0
        .iter()
        .flat_map(|rdn| rdn.0.iter())
        .filter(|attribute| attribute.oid == OID_COMMON_NAME);
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    std::str::from_utf8(value.value.value()).ok()
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
            (SnpProduct::Milan, milan::ASK),
            (SnpProduct::Genoa, genoa::ASK),
            (SnpProduct::Turin, turin::ASK),
        ] {
            let ask = Certificate::from_pem(ask_pem).unwrap();
            let ark = pinned_ark_for(&ask, "ASK").unwrap();
            assert_eq!(product_of_ark(&ark).unwrap(), family);
            assert_eq!(
                common_name(&ask.tbs_certificate.subject),
                Some(format!("SEV-{family}").as_str())
            );
            let ark = SevCertificate::from(ark);
            // The ARK's self-signature, then ARK -> ASK.
            (&ark, &ark).verify().unwrap();
            (&ark, &SevCertificate::from(ask)).verify().unwrap();
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
            assert_eq!(family.kds_name(), name);
            let der = Certificate::from_pem(pem).unwrap().to_der().unwrap();
            assert_eq!(hex::encode(Sha256::digest(&der)), fingerprint, "{family}");
        }
    }

    #[test]
    fn an_ask_of_no_pinned_family_has_no_root() {
        // Milan's ASK with another issuer name: no pinned ARK is chosen.
        let mut ask = Certificate::from_pem(sev::certs::snp::builtin::milan::ASK).unwrap();
        ask.tbs_certificate.issuer = ask.tbs_certificate.subject.clone();
        assert_eq!(pinned_ark_for(&ask, "ASK").unwrap_err().check, Check::Chain);
    }
}
