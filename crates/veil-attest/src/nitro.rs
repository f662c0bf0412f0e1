//! AWS Nitro Enclaves: the attestation document `/dev/nsm` returns, an
//! untagged COSE_Sign1 (ES384) over a CBOR map, verified here:
//!
//! 1. the COSE structure parses and its protected header says ES384;
//! 2. the payload's `certificate` chains through `cabundle[1..]` to the
//!    pinned AWS Nitro root (`cabundle[0]` is the root by convention and is
//!    not trusted: the pinned one is used in its place), each link an ECDSA
//!    P-384/SHA-384 signature by a CA, every certificate (root included)
//!    valid at the verification time;
//! 3. the COSE signature (raw r‖s) verifies under the leaf's key;
//! 4. then, in [`verify_evidence`](crate::verify_evidence): the `[nitro]`
//!    policy (PCR0/1/2/8), debug (all-zero PCR0–2), and Veil's report data
//!    in `user_data`.

use std::collections::BTreeMap;

use ciborium::Value;
use coset::{CborSerializable, CoseSign1, iana};
use p384::ecdsa::signature::Verifier;
use p384::ecdsa::{Signature, VerifyingKey};
use p384::pkcs8::DecodePublicKey;
use serde::{Deserialize, Serialize, Serializer};
use x509_cert::Certificate;
use x509_cert::der::Encode;

use crate::anchors::TrustAnchors;
use crate::claims::PlatformClaims;
use crate::error::{AttestationError, Check};
use crate::evidence::Evidence;
use crate::fields::{Measurement, ReportData};
use crate::policy::require_length;
use crate::verify::{Attested, check_allowed};
use crate::x509::{check_validity, parse_certificate, verify_p384_issued_by};

/// The AWS Nitro Enclaves root certificate (DER; SHA-256 fingerprint
/// `641a0321…79bb5b`), valid 2019–2049: the only Nitro root trusted.
pub const AWS_NITRO_ROOT_DER: &[u8] = include_bytes!("../roots/aws_nitro_root.der");

/// What a Nitro attestation document says, once its chain and signature verified.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NitroClaims {
    /// The enclave's ID (`i-…-enc…`).
    pub module_id: String,
    /// When the NSM produced the document (milliseconds since the Unix epoch).
    pub timestamp_ms: u64,
    /// Every PCR the document lists: 0 enclave image, 1 kernel and
    /// bootstrap, 2 application, 3 IAM role, 4 instance ID, 8 signing certificate.
    pub pcrs: BTreeMap<u16, Measurement>,
    /// `user_data` as signed (Veil puts its 64-byte report data here).
    #[serde(serialize_with = "serialize_optional_hex")]
    pub user_data: Option<Vec<u8>>,
    /// `nonce` as signed (informational: Veil binds its nonce through `user_data`).
    #[serde(serialize_with = "serialize_optional_hex")]
    pub nonce: Option<Vec<u8>>,
    /// `public_key` as signed (informational).
    #[serde(serialize_with = "serialize_optional_hex")]
    pub public_key: Option<Vec<u8>>,
}

impl NitroClaims {
    /// PCR `index`, if the document has it.
    pub fn pcr(&self, index: u16) -> Option<&Measurement> {
        self.pcrs.get(&index)
    }

    /// Debug-mode enclaves report all-zero PCR0, PCR1 and PCR2.
    pub fn is_debug(&self) -> bool {
        [0, 1, 2]
            .into_iter()
            .all(|i| self.pcr(i).is_none_or(Measurement::is_zero))
    }
}

/// The `[nitro]` policy section. `pcr0` must name at least one value; each
/// other list, when not empty, must contain the document's value.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NitroPolicy {
    /// Allowed PCR0 values (the enclave image file, 48 bytes, hex).
    pub pcr0: Vec<Measurement>,
    /// Allowed PCR1 values (Linux kernel and bootstrap); empty means not checked.
    #[serde(default)]
    pub pcr1: Vec<Measurement>,
    /// Allowed PCR2 values (application); empty means not checked.
    #[serde(default)]
    pub pcr2: Vec<Measurement>,
    /// Allowed PCR8 values (the enclave image's signing certificate); empty means not checked.
    #[serde(default)]
    pub pcr8: Vec<Measurement>,
}

impl NitroPolicy {
    /// Accepts the given PCR0 values, any other PCRs.
    pub fn new(pcr0: impl IntoIterator<Item = Measurement>) -> Self {
        NitroPolicy {
            pcr0: pcr0.into_iter().collect(),
            pcr1: Vec::new(),
            pcr2: Vec::new(),
            pcr8: Vec::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), AttestationError> {
        if self.pcr0.is_empty() {
            return Err(AttestationError::new(
                Check::Policy,
                "a policy accepting `nitro` must name at least one pcr0 in [nitro]",
            ));
        }
        for (name, values) in [
            ("pcr0", &self.pcr0),
            ("pcr1", &self.pcr1),
            ("pcr2", &self.pcr2),
            ("pcr8", &self.pcr8),
        ] {
            require_length(name, values, 48)?;
        }
        Ok(())
    }

    pub(crate) fn check(&self, claims: &NitroClaims) -> Result<(), AttestationError> {
        for (index, allowed, required) in [
            (0, &self.pcr0, true),
            (1, &self.pcr1, false),
            (2, &self.pcr2, false),
            (8, &self.pcr8, false),
        ] {
            if allowed.is_empty() && !required {
                continue;
            }
            let value = claims.pcr(index).ok_or_else(|| {
                AttestationError::new(
                    Check::Measurement,
                    format!("the document has no PCR{index} and the policy pins it"),
                )
            })?;
            check_allowed(&format!("PCR{index}"), allowed, value, required)?;
        }
        Ok(())
    }
}

/// Verifies a Nitro attestation document's chain (to `root_der`, every
/// certificate valid at `now_unix`) and signature, and returns what it says.
///
/// This is steps 1–3 of the module documentation only: no policy, no
/// report data. [`verify_evidence`](crate::verify_evidence) is the entry
/// point that decides whether to trust a server; this function is for
/// inspecting a document.
pub fn verify_nitro_document(
    document: &[u8],
    root_der: &[u8],
    now_unix: u64,
) -> Result<NitroClaims, AttestationError> {
    let sign1 = CoseSign1::from_slice(document)
        .map_err(|e| format_error(format!("not an untagged COSE_Sign1 document: {e}")))?;
    let es384 = coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384);
    if sign1.protected.header.alg != Some(es384) {
        return Err(format_error(format!(
            "the COSE algorithm is {:?}, not ES384",
            sign1.protected.header.alg
        )));
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| format_error("the COSE_Sign1 has no payload"))?;
    let fields = DocumentFields::parse(payload)?;

    let leaf = parse_certificate(&fields.certificate, "leaf certificate")?;
    let root = parse_certificate(root_der, "pinned AWS Nitro root")?;
    let intermediates = fields
        .cabundle
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, der)| {
            parse_certificate(der, &format!("cabundle[{i}]")).map(|c| (format!("cabundle[{i}]"), c))
        })
        .collect::<Result<Vec<_>, _>>()?;
    verify_chain(&root, &intermediates, &leaf, now_unix)?;

    let leaf_key = p384_key(&leaf)?;
    sign1.verify_signature(b"", |signature, signed| {
        let signature = Signature::from_slice(signature).map_err(|_| {
            AttestationError::new(Check::Signature, "the COSE signature is not 96 bytes r‖s")
        })?;
        leaf_key.verify(signed, &signature).map_err(|_| {
            AttestationError::new(
                Check::Signature,
                "the COSE signature does not verify under the leaf certificate's key",
            )
        })
    })?;

    Ok(NitroClaims {
        module_id: fields.module_id,
        timestamp_ms: fields.timestamp_ms,
        pcrs: fields.pcrs,
        user_data: fields.user_data,
        nonce: fields.nonce,
        public_key: fields.public_key,
    })
}

/// Verifies Nitro evidence; the policy is applied by the caller.
pub(crate) fn verify(
    evidence: &Evidence,
    anchors: &TrustAnchors,
    now_unix: u64,
) -> Result<Attested, AttestationError> {
    if !evidence.certificates.is_empty() || !evidence.collateral.is_empty() {
        return Err(format_error(
            "nitro evidence carries its chain in the document: certificates and collateral must be empty",
        ));
    }
    let claims = verify_nitro_document(&evidence.report, &anchors.nitro_root_der, now_unix)?;
    let pcr0 = *claims
        .pcr(0)
        .ok_or_else(|| format_error("the document has no PCR0"))?;
    let report_data = claims
        .user_data
        .as_deref()
        .and_then(|data| <[u8; 64]>::try_from(data).ok())
        .map(ReportData);
    Ok(Attested {
        measurement: pcr0,
        report_data,
        debug: claims.is_debug(),
        details: PlatformClaims::Nitro(claims),
    })
}

/// root → intermediates (in order) → leaf, each issued by the one before,
/// all valid at `now_unix`.
fn verify_chain(
    root: &Certificate,
    intermediates: &[(String, Certificate)],
    leaf: &Certificate,
    now_unix: u64,
) -> Result<(), AttestationError> {
    check_validity(root, "the AWS Nitro root", now_unix)?;
    let mut issuer = (String::from("the pinned AWS Nitro root"), root);
    for (name, certificate) in intermediates {
        verify_p384_issued_by(certificate, name, issuer.1, &issuer.0)?;
        check_validity(certificate, name, now_unix)?;
        issuer = (name.clone(), certificate);
    }
    verify_p384_issued_by(leaf, "the leaf certificate", issuer.1, &issuer.0)?;
    check_validity(leaf, "the leaf certificate", now_unix)
}

fn p384_key(certificate: &Certificate) -> Result<VerifyingKey, AttestationError> {
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| {
            AttestationError::new(Check::Chain, format!("leaf key does not encode: {e}"))
        })?;
    VerifyingKey::from_public_key_der(&spki).map_err(|e| {
        AttestationError::new(Check::Chain, format!("leaf key is not a P-384 key: {e}"))
    })
}

/// The payload fields Veil reads (AWS "Nitro Enclaves attestation process",
/// "attestation document specification").
struct DocumentFields {
    module_id: String,
    timestamp_ms: u64,
    pcrs: BTreeMap<u16, Measurement>,
    certificate: Vec<u8>,
    cabundle: Vec<Vec<u8>>,
    user_data: Option<Vec<u8>>,
    nonce: Option<Vec<u8>>,
    public_key: Option<Vec<u8>>,
}

impl DocumentFields {
    fn parse(payload: &[u8]) -> Result<DocumentFields, AttestationError> {
        let value: Value = ciborium::de::from_reader(payload)
            .map_err(|e| format_error(format!("the payload is not CBOR: {e}")))?;
        let Value::Map(entries) = value else {
            return Err(format_error("the payload is not a CBOR map"));
        };
        let mut map: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in entries {
            let Value::Text(key) = key else {
                return Err(format_error("the payload has a non-text key"));
            };
            if map.insert(key.clone(), value).is_some() {
                return Err(format_error(format!("the payload repeats `{key}`")));
            }
        }
        let mut take = |name: &str| {
            map.remove(name)
                .ok_or_else(|| format_error(format!("the payload has no `{name}`")))
        };
        let module_id = match take("module_id")? {
            Value::Text(id) if !id.is_empty() => id,
            _ => return Err(format_error("`module_id` is not a non-empty text")),
        };
        match take("digest")? {
            Value::Text(digest) if digest == "SHA384" => {}
            _ => return Err(format_error("`digest` is not \"SHA384\"")),
        }
        let timestamp_ms = match take("timestamp")? {
            Value::Integer(t) => {
                u64::try_from(t).map_err(|_| format_error("`timestamp` is not a u64"))?
            }
            _ => return Err(format_error("`timestamp` is not an integer")),
        };
        let Value::Map(pcr_entries) = take("pcrs")? else {
            return Err(format_error("`pcrs` is not a map"));
        };
        let mut pcrs = BTreeMap::new();
        for (index, value) in pcr_entries {
            let index = match index {
                Value::Integer(i) => u16::try_from(i).ok().filter(|i| *i < 32),
                _ => None,
            }
            .ok_or_else(|| format_error("a PCR index is not an integer 0..32"))?;
            let Value::Bytes(bytes) = value else {
                return Err(format_error(format!("PCR{index} is not bytes")));
            };
            if bytes.len() != 48 {
                return Err(format_error(format!(
                    "PCR{index} is not 48 bytes (SHA-384)"
                )));
            }
            let pcr = Measurement::from_slice(&bytes)?;
            if pcrs.insert(index, pcr).is_some() {
                return Err(format_error(format!("`pcrs` repeats PCR{index}")));
            }
        }
        let certificate = match take("certificate")? {
            Value::Bytes(der) => der,
            _ => return Err(format_error("`certificate` is not bytes")),
        };
        let Value::Array(bundle) = take("cabundle")? else {
            return Err(format_error("`cabundle` is not an array"));
        };
        let cabundle = bundle
            .into_iter()
            .map(|entry| match entry {
                Value::Bytes(der) => Ok(der),
                _ => Err(format_error("a `cabundle` entry is not bytes")),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if cabundle.is_empty() {
            return Err(format_error("`cabundle` is empty"));
        }
        let user_data = optional_bytes(map.remove("user_data"), "user_data")?;
        let nonce = optional_bytes(map.remove("nonce"), "nonce")?;
        let public_key = optional_bytes(map.remove("public_key"), "public_key")?;
        Ok(DocumentFields {
            module_id,
            timestamp_ms,
            pcrs,
            certificate,
            cabundle,
            user_data,
            nonce,
            public_key,
        })
    }
}

fn optional_bytes(value: Option<Value>, name: &str) -> Result<Option<Vec<u8>>, AttestationError> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bytes(bytes)) => Ok(Some(bytes)),
        Some(_) => Err(format_error(format!("`{name}` is neither bytes nor null"))),
    }
}

fn serialize_optional_hex<S: Serializer>(
    bytes: &Option<Vec<u8>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(bytes) => serializer.serialize_some(&hex::encode(bytes)),
        None => serializer.serialize_none(),
    }
}

fn format_error(detail: impl Into<String>) -> AttestationError {
    AttestationError::new(Check::Format, detail)
}
