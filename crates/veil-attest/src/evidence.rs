//! What a server hands out to prove what it runs, and the trait that produces it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{AttestationError, Check};
use crate::fields::ReportData;

/// Which kind of trusted execution environment produced a piece of evidence.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlatformKind {
    /// No hardware protection: reports in the SEV-SNP format signed by a key
    /// the server generated. Accepted only by a policy with `allow_simulation`.
    Simulated,
    /// AMD SEV-SNP, endorsed by AMD's root key.
    SevSnp,
}

impl PlatformKind {
    /// The stable name: `"simulated"` or `"sev-snp"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformKind::Simulated => "simulated",
            PlatformKind::SevSnp => "sev-snp",
        }
    }

    /// Whether this platform offers hardware protection (everything but `Simulated`).
    pub fn is_hardware(self) -> bool {
        !matches!(self, PlatformKind::Simulated)
    }
}

impl fmt::Display for PlatformKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for PlatformKind {
    type Err = AttestationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "simulated" => Ok(PlatformKind::Simulated),
            "sev-snp" => Ok(PlatformKind::SevSnp),
            other => Err(AttestationError::new(
                Check::Platform,
                format!("unknown platform `{other}` (expected `sev-snp` or `simulated`)"),
            )),
        }
    }
}

/// Evidence as it crosses the wire: nothing in it is trusted until
/// [`verify_evidence`](crate::verify_evidence) says so.
///
/// For both platforms `report` is a raw 1184-byte SEV-SNP attestation report
/// (AMD SEV-SNP ABI specification, table "ATTESTATION_REPORT").
/// `certificates` depends on the platform:
/// * `sev-snp`: DER certificates, leaf first: `[VCEK, ASK]`, optionally
///   followed by the ARK, which must then equal the pinned one;
/// * `simulated`: exactly one entry, the report-signing P-384 public key as
///   a DER `SubjectPublicKeyInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The platform the evidence claims to come from.
    pub platform: PlatformKind,
    /// The raw attestation report.
    pub report: Vec<u8>,
    /// The endorsement of the report-signing key (see above).
    pub certificates: Vec<Vec<u8>>,
}

/// Produces evidence on the server side: one implementation per platform.
pub trait EvidenceProducer: Send + Sync {
    /// The platform whose evidence this produces.
    fn platform(&self) -> PlatformKind;

    /// Produces evidence whose report carries `report_data`.
    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip_through_display_from_str_and_serde() {
        for p in [PlatformKind::Simulated, PlatformKind::SevSnp] {
            assert_eq!(p.to_string().parse::<PlatformKind>().unwrap(), p);
            assert_eq!(toml::Value::try_from(p).unwrap().as_str(), Some(p.as_str()));
        }
        assert!("sev_snp".parse::<PlatformKind>().is_err());
    }
}
