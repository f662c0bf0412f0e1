//! The evidence bundle a server hands out at `GET /v1/attestation`, and its
//! verification on the client.
//!
//! The bundle is public: anyone may fetch it, any proxy may see it. What makes
//! it trustworthy is [`verify_bundle`]: the evidence must verify under the
//! caller's policy, and its report data must equal the transcript of the key
//! configuration in this bundle and the caller's own fresh nonce.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use veil_attest::{AttestationError, Check, Evidence, PlatformKind, Policy, VerifiedClaims};

use crate::PROTOCOL_VERSION;
use crate::transcript::{self, Nonce};

/// Evidence that a server runs attested code and holds the key of
/// `key_config`, answering one client's nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceBundle {
    /// Protocol version ([`PROTOCOL_VERSION`]).
    pub version: u32,
    /// Which platform produced the evidence.
    pub platform: PlatformKind,
    /// The attestation report, base64.
    pub report: String,
    /// Endorsement certificates, DER in base64, leaf first.
    pub certificates: Vec<String>,
    /// Platform collateral, base64: the Intel PCS collateral JSON for `tdx`
    /// and `sgx`; absent (empty) for every other platform.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub collateral: String,
    /// The OHTTP key configuration list (`application/ohttp-keys`), base64.
    pub key_config: String,
    /// The client's nonce this evidence answers, hex.
    pub nonce: String,
    /// The server's version string (informational: the measurement is what counts).
    pub server_version: String,
}

impl EvidenceBundle {
    /// Assembles a bundle from produced evidence.
    pub fn new(
        evidence: &Evidence,
        key_config: &[u8],
        nonce: &Nonce,
        server_version: &str,
    ) -> Self {
        let (report, certificates, collateral) = encode_evidence(evidence);
        EvidenceBundle {
            version: PROTOCOL_VERSION,
            platform: evidence.platform,
            report,
            certificates,
            collateral,
            key_config: B64.encode(key_config),
            nonce: hex::encode(nonce),
            server_version: server_version.to_owned(),
        }
    }

    /// The evidence and the key configuration this bundle carries, decoded
    /// but not verified: the bundle `version` must be supported and every
    /// field valid base64 ([`Check::Format`] otherwise). For verifiers that
    /// check the evidence themselves (offline, `veil verify`);
    /// [`verify_bundle`] is the whole check.
    pub fn decode(&self) -> Result<(Evidence, Vec<u8>), AttestationError> {
        if self.version != PROTOCOL_VERSION {
            return Err(format_error(format!(
                "bundle version {} is not supported (expected {PROTOCOL_VERSION})",
                self.version
            )));
        }
        let key_config = decode_b64("key_config", &self.key_config)?;
        let evidence = decode_evidence(
            self.platform,
            &self.report,
            &self.certificates,
            &self.collateral,
        )?;
        Ok((evidence, key_config))
    }
}

/// A server whose evidence verified: its claims and the key to encrypt to.
#[derive(Debug, Clone)]
pub struct VerifiedServer {
    /// What the evidence proved.
    pub claims: VerifiedClaims,
    /// The attested OHTTP key configuration list; encrypt only to this.
    pub key_config: Vec<u8>,
    /// The server's self-reported version.
    pub server_version: String,
}

pub(crate) fn format_error(detail: impl Into<String>) -> AttestationError {
    AttestationError {
        check: Check::Format,
        detail: detail.into(),
    }
}

pub(crate) fn decode_b64(field: &str, value: &str) -> Result<Vec<u8>, AttestationError> {
    B64.decode(value)
        .map_err(|e| format_error(format!("field `{field}` is not base64: {e}")))
}

/// Evidence as the wire carries it: report, certificates (leaf first) and
/// collateral, each base64.
pub(crate) fn encode_evidence(evidence: &Evidence) -> (String, Vec<String>, String) {
    (
        B64.encode(&evidence.report),
        evidence
            .certificates
            .iter()
            .map(|c| B64.encode(c))
            .collect(),
        B64.encode(&evidence.collateral),
    )
}

/// The inverse of [`encode_evidence`] ([`Check::Format`] on bad base64).
pub(crate) fn decode_evidence(
    platform: PlatformKind,
    report: &str,
    certificates: &[String],
    collateral: &str,
) -> Result<Evidence, AttestationError> {
    let mut evidence = Evidence::new(
        platform,
        decode_b64("report", report)?,
        certificates
            .iter()
            .map(|c| decode_b64("certificates", c))
            .collect::<Result<_, _>>()?,
    );
    evidence.collateral = decode_b64("collateral", collateral)?;
    Ok(evidence)
}

/// Verifies a bundle against `policy` for the caller's `nonce` at `now_unix`.
///
/// Returns the verified claims and the key configuration that the evidence
/// binds; any failure names the check that failed.
pub fn verify_bundle(
    bundle: &EvidenceBundle,
    nonce: &Nonce,
    policy: &Policy,
    now_unix: u64,
) -> Result<VerifiedServer, AttestationError> {
    if bundle.nonce != hex::encode(nonce) {
        return Err(AttestationError {
            check: Check::Freshness,
            detail: "the bundle answers a different nonce than the one this client sent".into(),
        });
    }
    let (evidence, key_config) = bundle.decode()?;
    let expected = transcript::report_data(&key_config, nonce);
    let claims = veil_attest::verify_evidence(&evidence, &expected, policy, now_unix)?;
    // The key is attested; it must also be usable. A config that does not
    // parse is refused here rather than at the first request.
    ohttp::KeyConfig::decode_list(&key_config)
        .map_err(|e| format_error(format!("attested key configuration does not parse: {e}")))?;
    Ok(VerifiedServer {
        claims,
        key_config,
        server_version: bundle.server_version.clone(),
    })
}
