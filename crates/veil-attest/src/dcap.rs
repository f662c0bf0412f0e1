//! Intel DCAP, shared by TDX and SGX: a quote and Intel's PCS collateral,
//! verified by `dcap-qvl` (RustCrypto backend, offline) against Intel's SGX
//! root CA, then Intel's TCB verdict checked against the policy.
//!
//! `dcap-qvl` checks: the CRLs and every chain (PCK, TCB info, QE identity)
//! to the root given here, each at the verification time; the signatures of
//! the TCB info, the QE identity, the QE report (by the PCK key) and the
//! quote body (by the attestation key the QE report binds); the QE identity;
//! the platform's TCB level (refusing a TCB below every listed level, and
//! `Revoked`); TD attributes (migratable TDs, SEPT_VE not disabled, service
//! TDs). Debug is left to Veil's own check, so that it is named
//! [`Check::Debug`].

use std::fmt;
use std::str::FromStr;

use dcap_qvl::QuoteCollateralV3;
use dcap_qvl::configs::RustCryptoConfig;
use dcap_qvl::quote::Report;
use dcap_qvl::verify::QuoteVerifier;
use serde::{Deserialize, Serialize};

use crate::anchors::TrustAnchors;
use crate::error::{AttestationError, Check};
use crate::evidence::Evidence;

/// Intel SGX Root CA (DER), the root of every SGX and TDX chain: the only
/// Intel root trusted. Valid 2018–2049.
pub const INTEL_SGX_ROOT_CA_DER: &[u8] = include_bytes!("../roots/intel_sgx_root_ca.der");

/// The TCB status Intel's collateral assigns to a platform (Intel PCS
/// `tcbStatus` values, spelled as Intel spells them).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IntelTcbStatus {
    /// Fully patched.
    UpToDate,
    /// Patched, but software hardening (e.g. LVI mitigations) is needed in the enclave/TD.
    #[serde(rename = "SWHardeningNeeded")]
    SwHardeningNeeded,
    /// Patched, but the platform's configuration needs changing (e.g. SMT off).
    ConfigurationNeeded,
    /// Both of the above.
    #[serde(rename = "ConfigurationAndSWHardeningNeeded")]
    ConfigurationAndSwHardeningNeeded,
    /// Microcode or firmware is out of date.
    OutOfDate,
    /// Out of date, and configuration is needed.
    OutOfDateConfigurationNeeded,
    /// TDX 1.5: launched on an out-of-date TCB, updated since; relaunch advised.
    #[serde(rename = "TDRelaunchAdvised")]
    TdRelaunchAdvised,
    /// As `TDRelaunchAdvised`, and configuration is needed.
    #[serde(rename = "TDRelaunchAdvisedConfigurationNeeded")]
    TdRelaunchAdvisedConfigurationNeeded,
}

impl IntelTcbStatus {
    /// Intel's spelling, e.g. `"UpToDate"`, `"SWHardeningNeeded"`.
    pub fn as_str(self) -> &'static str {
        match self {
            IntelTcbStatus::UpToDate => "UpToDate",
            IntelTcbStatus::SwHardeningNeeded => "SWHardeningNeeded",
            IntelTcbStatus::ConfigurationNeeded => "ConfigurationNeeded",
            IntelTcbStatus::ConfigurationAndSwHardeningNeeded => {
                "ConfigurationAndSWHardeningNeeded"
            }
            IntelTcbStatus::OutOfDate => "OutOfDate",
            IntelTcbStatus::OutOfDateConfigurationNeeded => "OutOfDateConfigurationNeeded",
            IntelTcbStatus::TdRelaunchAdvised => "TDRelaunchAdvised",
            IntelTcbStatus::TdRelaunchAdvisedConfigurationNeeded => {
                "TDRelaunchAdvisedConfigurationNeeded"
            }
        }
    }

    const ALL: [IntelTcbStatus; 8] = [
        IntelTcbStatus::UpToDate,
        IntelTcbStatus::SwHardeningNeeded,
        IntelTcbStatus::ConfigurationNeeded,
        IntelTcbStatus::ConfigurationAndSwHardeningNeeded,
        IntelTcbStatus::OutOfDate,
        IntelTcbStatus::OutOfDateConfigurationNeeded,
        IntelTcbStatus::TdRelaunchAdvised,
        IntelTcbStatus::TdRelaunchAdvisedConfigurationNeeded,
    ];
}

impl fmt::Display for IntelTcbStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntelTcbStatus {
    type Err = AttestationError;

    /// Parses Intel's spelling; `Revoked` and unknown statuses are refused
    /// ([`Check::TcbStatus`]): no policy may accept them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IntelTcbStatus::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| {
                AttestationError::new(
                    Check::TcbStatus,
                    format!("TCB status `{s}` is not one any policy can accept"),
                )
            })
    }
}

/// The statuses a policy accepts unless it says otherwise: `UpToDate` only.
pub(crate) fn default_tcb_statuses() -> Vec<IntelTcbStatus> {
    vec![IntelTcbStatus::UpToDate]
}

/// Intel's verdict on the platform, from the collateral.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IntelTcb {
    /// The platform's (and QE's) merged TCB status.
    pub status: IntelTcbStatus,
    /// Intel security advisories (`INTEL-SA-…`) affecting this TCB level.
    pub advisory_ids: Vec<String>,
}

/// The TCB part of a `[tdx]` or `[sgx]` policy section.
pub(crate) struct IntelTcbPolicy<'a> {
    pub accepted: &'a [IntelTcbStatus],
    pub allowed_advisories: &'a [String],
}

impl IntelTcbPolicy<'_> {
    /// The status must be accepted and every advisory allowed.
    pub(crate) fn check(&self, tcb: &IntelTcb) -> Result<(), AttestationError> {
        if !self.accepted.contains(&tcb.status) {
            return Err(AttestationError::new(
                Check::TcbStatus,
                format!(
                    "Intel TCB status {} is not one the policy accepts ({})",
                    tcb.status,
                    self.accepted
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let unlisted: Vec<&str> = tcb
            .advisory_ids
            .iter()
            .filter(|id| !self.allowed_advisories.contains(id))
            .map(String::as_str)
            .collect();
        if !unlisted.is_empty() {
            return Err(AttestationError::new(
                Check::Advisory,
                format!(
                    "the TCB is affected by advisories the policy does not allow: {}",
                    unlisted.join(", ")
                ),
            ));
        }
        Ok(())
    }
}

/// A quote `dcap-qvl` verified, with Intel's verdict.
pub(crate) struct VerifiedQuote {
    pub version: u16,
    pub report: Report,
    pub tcb: IntelTcb,
}

/// Verifies the quote of `tdx` or `sgx` evidence with its collateral,
/// against the Intel root of `anchors`.
pub(crate) fn verify_evidence_quote(
    evidence: &Evidence,
    anchors: &TrustAnchors,
    now_unix: u64,
) -> Result<VerifiedQuote, AttestationError> {
    if !evidence.certificates.is_empty() {
        return Err(AttestationError::new(
            Check::Format,
            format!(
                "{} evidence carries its PCK chain in the quote: certificates must be empty",
                evidence.platform
            ),
        ));
    }
    verify_quote(
        &evidence.report,
        &evidence.collateral,
        &anchors.intel_root_der,
        now_unix,
    )
}

/// Verifies `quote` with `collateral_json` (Intel PCS collateral as
/// `QuoteCollateralV3` JSON) against `root_der` at `now_unix`.
fn verify_quote(
    quote: &[u8],
    collateral_json: &[u8],
    root_der: &[u8],
    now_unix: u64,
) -> Result<VerifiedQuote, AttestationError> {
    let collateral: QuoteCollateralV3 = serde_json::from_slice(collateral_json).map_err(|e| {
        AttestationError::new(
            Check::Format,
            format!("the Intel collateral is not QuoteCollateralV3 JSON: {e}"),
        )
    })?;
    let verified = QuoteVerifier::<RustCryptoConfig>::new_with_config(root_der.to_vec())
        // Veil checks the debug bit itself, to name the check.
        .allow_debug(true)
        .allow_service_td(false)
        .verify(quote, &collateral, now_unix)
        .map_err(|e| {
            let detail = format!("{e:#}");
            AttestationError::new(classify_dcap_error(&detail), detail)
        })?;
    let status = verified.status.parse::<IntelTcbStatus>()?;
    // The header version is not in the verified report: read it from the
    // quote, which dcap-qvl just decoded (2 little-endian bytes at offset 0).
    let version = match quote {
        [lo, hi, ..] => u16::from_le_bytes([*lo, *hi]),
        _ => return Err(AttestationError::new(Check::Format, "quote too short")),
    };
    Ok(VerifiedQuote {
        version,
        report: verified.report,
        tcb: IntelTcb {
            status,
            advisory_ids: verified.advisory_ids,
        },
    })
}

/// Names the check behind a `dcap-qvl` error message (its error type is
/// `anyhow`, so its message is all there is). Unrecognised failures are
/// reported as [`Check::Chain`]: the evidence is refused either way.
fn classify_dcap_error(message: &str) -> Check {
    let lower = message.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(needle);
    if has("expired") || has("notvalidyet") || has("in the future") {
        Check::Freshness
    } else if has("no matching tcb level") || has("revoked") || has("qe isvsvn") {
        Check::TcbStatus
    } else if has("isv enclave report signature")
        || has("signature is invalid for qe_report")
        || has("qe report hash mismatch")
    {
        Check::Signature
    } else if has("failed to decode quote")
        || has("unsupported dcap quote version")
        || has("must have version")
        || has("attestation key type")
        || has("unknown qe vendor")
        || has("unsupported tee type")
        || has("unsupported dcap pck cert format")
    {
        Check::Format
    } else {
        Check::Chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcb_status_names_round_trip_and_revoked_is_refused() {
        for status in IntelTcbStatus::ALL {
            assert_eq!(status.as_str().parse::<IntelTcbStatus>().unwrap(), status);
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
        assert_eq!(
            "Revoked".parse::<IntelTcbStatus>().unwrap_err().check,
            Check::TcbStatus
        );
    }

    #[test]
    fn tcb_policy_names_status_then_advisory() {
        let tcb = IntelTcb {
            status: IntelTcbStatus::SwHardeningNeeded,
            advisory_ids: vec!["INTEL-SA-00615".into()],
        };
        let only_up_to_date = IntelTcbPolicy {
            accepted: &[IntelTcbStatus::UpToDate],
            allowed_advisories: &[],
        };
        assert_eq!(
            only_up_to_date.check(&tcb).unwrap_err().check,
            Check::TcbStatus
        );
        let status_ok = IntelTcbPolicy {
            accepted: &[IntelTcbStatus::SwHardeningNeeded],
            allowed_advisories: &[],
        };
        assert_eq!(status_ok.check(&tcb).unwrap_err().check, Check::Advisory);
        let allowed = ["INTEL-SA-00615".to_string()];
        let all_ok = IntelTcbPolicy {
            accepted: &[IntelTcbStatus::SwHardeningNeeded],
            allowed_advisories: &allowed,
        };
        assert!(all_ok.check(&tcb).is_ok());
    }
}
