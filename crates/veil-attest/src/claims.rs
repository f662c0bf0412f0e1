//! What verified evidence proves, for the caller to log, show and act on.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::evidence::PlatformKind;
use crate::fields::{Measurement, ReportData, TcbVersion, serialize_hex};
use crate::nitro::NitroClaims;
use crate::sgx::SgxClaims;
use crate::tdx::TdxClaims;

/// The facts a piece of evidence established, returned only by
/// [`verify_evidence`](crate::verify_evidence).
///
/// Not constructible outside this crate, so holding one means verification
/// ran. `simulated` is true for simulated evidence, which proves nothing
/// about the hardware: show it loudly.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VerifiedClaims {
    /// The platform that produced the evidence.
    pub platform: PlatformKind,
    /// True for simulated evidence (no hardware protection at all).
    pub simulated: bool,
    /// The launch measurement, platform-neutral: SEV-SNP `MEASUREMENT`, TDX
    /// `MRTD`, SGX `MRENCLAVE`, Nitro `PCR0`. The platform's other
    /// measurements are in `details`.
    pub measurement: Measurement,
    /// The report data, equal to the expected value.
    pub report_data: ReportData,
    /// Whether the evidence says debugging is possible (only if the policy allowed it).
    pub debug: bool,
    /// What only this platform's evidence says.
    pub details: PlatformClaims,
    /// The verification time (unix seconds) the evidence was checked at.
    pub verified_at: u64,
}

impl VerifiedClaims {
    /// The SEV-SNP report's details (also for simulated evidence), if that is the format.
    pub fn sev_snp(&self) -> Option<&SevSnpClaims> {
        match &self.details {
            PlatformClaims::SevSnp(claims) => Some(claims),
            _ => None,
        }
    }
}

/// The platform-specific part of [`VerifiedClaims`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PlatformClaims {
    /// An SEV-SNP report (also the format of simulated evidence).
    SevSnp(SevSnpClaims),
    /// An Intel TDX quote.
    Tdx(Box<TdxClaims>),
    /// An Intel SGX quote.
    Sgx(SgxClaims),
    /// An AWS Nitro attestation document.
    Nitro(NitroClaims),
}

impl fmt::Display for PlatformClaims {
    /// One line for humans; `serde` has every field.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformClaims::SevSnp(c) => write!(
                f,
                "report version {}, vmpl {}, signed by {}, reported TCB {}",
                c.report_version,
                c.vmpl,
                c.signing_key
                    .map_or("a simulated key", SnpSigningKey::as_str),
                c.reported_tcb
            ),
            PlatformClaims::Tdx(c) => write!(
                f,
                "quote v{}, TCB status {}{}",
                c.quote_version,
                c.tcb.status,
                advisories(&c.tcb.advisory_ids)
            ),
            PlatformClaims::Sgx(c) => write!(
                f,
                "mrsigner {}, isv_prod_id {}, isv_svn {}, TCB status {}{}",
                c.mrsigner,
                c.isv_prod_id,
                c.isv_svn,
                c.tcb.status,
                advisories(&c.tcb.advisory_ids)
            ),
            PlatformClaims::Nitro(c) => write!(
                f,
                "module {}, timestamp {} ms, {} PCRs",
                c.module_id,
                c.timestamp_ms,
                c.pcrs.len()
            ),
        }
    }
}

fn advisories(ids: &[String]) -> String {
    if ids.is_empty() {
        String::new()
    } else {
        format!(", advisories {}", ids.join(" "))
    }
}

/// What an SEV-SNP (or simulated) report says besides its measurement.
///
/// TCB versions are decoded in the layout of the report's CPU family: a
/// Turin (family 1Ah) report's have an `fmc`, a Milan or Genoa one's not.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SevSnpClaims {
    /// The TCB version the report claims and the VCEK or VLEK is certified for.
    pub reported_tcb: TcbVersion,
    /// CURRENT_TCB: the TCB the platform runs now (not endorsed by the chain).
    pub current_tcb: TcbVersion,
    /// COMMITTED_TCB: the TCB the platform cannot roll back below.
    pub committed_tcb: TcbVersion,
    /// LAUNCH_TCB: the TCB when the guest was launched.
    pub launch_tcb: TcbVersion,
    /// Which AMD key signed the report, as its KEY_INFO says and its
    /// certificate chain proves; `None` for simulated evidence, whose key
    /// no AMD chain endorses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signing_key: Option<SnpSigningKey>,
    /// For a VLEK-signed report: the cloud provider AMD issued the VLEK to
    /// (the VLEK certificate's CSP_ID extension).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csp_id: Option<String>,
    /// The chip's ID (zero when the platform masks it, and for simulated evidence).
    #[serde(serialize_with = "serialize_hex")]
    pub chip_id: [u8; 64],
    /// The privilege level (VMPL) that requested the report.
    pub vmpl: u32,
    /// The report format version.
    pub report_version: u32,
    /// HOST_DATA: 32 bytes the host supplied at launch (e.g. a config digest).
    pub host_data: Measurement,
    /// ID_KEY_DIGEST: SHA-384 of the key that signed the guest's ID block
    /// (zero without an ID block).
    pub id_key_digest: Measurement,
    /// AUTHOR_KEY_DIGEST: SHA-384 of the ID key's author key (zero if none).
    pub author_key_digest: Measurement,
}

/// The AMD key that signs an SEV-SNP report (`KEY_INFO.SIGNING_KEY`).
///
/// In a policy (`signing_keys = ["vcek"]`) and in claims, lowercase.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SnpSigningKey {
    /// The Versioned Chip Endorsement Key: derived from one chip's secret
    /// and its TCB, certified VCEK → ASK → ARK with the chip's hwID.
    Vcek,
    /// The Versioned Loaded Endorsement Key: issued by AMD to a cloud
    /// provider and loaded into its hosts' firmware, certified VLEK → ASVK
    /// → ARK with no hwID (it names the provider instead).
    Vlek,
}

impl SnpSigningKey {
    /// `vcek` or `vlek`.
    pub fn as_str(self) -> &'static str {
        match self {
            SnpSigningKey::Vcek => "vcek",
            SnpSigningKey::Vlek => "vlek",
        }
    }
}

impl fmt::Display for SnpSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
