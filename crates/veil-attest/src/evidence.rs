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
    /// Intel TDX (DCAP quote v4/v5), endorsed by Intel's SGX root CA.
    Tdx,
    /// Intel SGX (DCAP quote v3), endorsed by Intel's SGX root CA.
    Sgx,
    /// AWS Nitro Enclaves (COSE_Sign1 attestation document), endorsed by the
    /// AWS Nitro root.
    Nitro,
}

impl PlatformKind {
    /// Every platform, for listing and round-trip tests.
    pub const ALL: [PlatformKind; 5] = [
        PlatformKind::Simulated,
        PlatformKind::SevSnp,
        PlatformKind::Tdx,
        PlatformKind::Sgx,
        PlatformKind::Nitro,
    ];

    /// The stable name: `"simulated"`, `"sev-snp"`, `"tdx"`, `"sgx"` or `"nitro"`.
    pub fn as_str(self) -> &'static str {
        match self {
            PlatformKind::Simulated => "simulated",
            PlatformKind::SevSnp => "sev-snp",
            PlatformKind::Tdx => "tdx",
            PlatformKind::Sgx => "sgx",
            PlatformKind::Nitro => "nitro",
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
        PlatformKind::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                AttestationError::new(
                    Check::Platform,
                    format!(
                        "unknown platform `{s}` (expected one of `sev-snp`, `tdx`, `sgx`, `nitro`, `simulated`)"
                    ),
                )
            })
    }
}

/// Evidence as it crosses the wire: nothing in it is trusted until
/// [`verify_evidence`](crate::verify_evidence) says so.
///
/// What each field holds depends on the platform:
///
/// | platform | `report` | `certificates` | `collateral` |
/// | --- | --- | --- | --- |
/// | `sev-snp` | 1184-byte SNP attestation report | DER, leaf first: `[VCEK, ASK]` or `[VLEK, ASVK]`, as the report's KEY_INFO says, optionally the ARK (must equal the pinned one) | empty |
/// | `simulated` | the same report format | one entry: the signing P-384 key as DER `SubjectPublicKeyInfo` | empty |
/// | `tdx`, `sgx` | the DCAP quote (v4/v5 TDX, v3 SGX), PCK chain inside | empty | Intel PCS collateral as JSON (`QuoteCollateralV3`: TCB info, QE identity, CRLs, their chains) |
/// | `nitro` | the COSE_Sign1 attestation document (CBOR), its chain inside | empty | empty |
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evidence {
    /// The platform the evidence claims to come from.
    pub platform: PlatformKind,
    /// The raw attestation report (or quote, or document).
    pub report: Vec<u8>,
    /// The endorsement of the report-signing key (see above).
    pub certificates: Vec<Vec<u8>>,
    /// Endorsements that are not a certificate list: the Intel collateral
    /// for `tdx` and `sgx`, empty for every other platform.
    pub collateral: Vec<u8>,
}

impl Evidence {
    /// Evidence with no collateral (every platform but `tdx` and `sgx`).
    pub fn new(platform: PlatformKind, report: Vec<u8>, certificates: Vec<Vec<u8>>) -> Self {
        Evidence {
            platform,
            report,
            certificates,
            collateral: Vec::new(),
        }
    }
}

/// When a producer obtained the endorsement it ships with its evidence, and
/// when that endorsement expires. For operators' metrics only: verification
/// never reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndorsementTimes {
    /// When this process obtained it (fetched, or read from the cache or
    /// the operator's files), in unix seconds.
    pub obtained_at: u64,
    /// The earliest certificate `notAfter` or collateral `nextUpdate` in
    /// it, in unix seconds, if it could be read.
    pub expires_at: Option<u64>,
}

/// Produces evidence on the server side: one implementation per platform.
pub trait EvidenceProducer: Send + Sync {
    /// The platform whose evidence this produces.
    fn platform(&self) -> PlatformKind;

    /// Produces evidence whose report carries `report_data`.
    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError>;

    /// The endorsement this producer holds for its evidence, if any
    /// (certificates a host hands out with each report are not held).
    fn endorsement_times(&self) -> Option<EndorsementTimes> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_names_round_trip_through_display_from_str_and_serde() {
        for p in PlatformKind::ALL {
            assert_eq!(p.to_string().parse::<PlatformKind>().unwrap(), p);
            assert_eq!(toml::Value::try_from(p).unwrap().as_str(), Some(p.as_str()));
        }
        assert!("sev_snp".parse::<PlatformKind>().is_err());
    }
}
