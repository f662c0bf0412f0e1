//! Verifying evidence with no policy: what the evidence proves about itself,
//! for auditors who inspect evidence rather than decide whether to trust a
//! server.

use serde::Serialize;

use crate::anchors::TrustAnchors;
use crate::claims::PlatformClaims;
use crate::error::{AttestationError, Check};
use crate::evidence::{Evidence, PlatformKind};
use crate::fields::{Measurement, ReportData};
use crate::verify::attest;

/// What evidence verified by [`verify_evidence_without_policy`] says.
///
/// The evidence is authentic (signed under a key its vendor's root
/// endorses, valid at `verified_at`), but **nothing here was compared with a
/// value you trust**: no measurement, debug flag, TCB floor, accepted Intel
/// TCB status or advisory. Read it; do not trust a server because of it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnpinnedClaims {
    /// The platform that produced the evidence.
    pub platform: PlatformKind,
    /// True for simulated evidence (no hardware protection at all).
    pub simulated: bool,
    /// The launch measurement, as in [`VerifiedClaims::measurement`](crate::VerifiedClaims::measurement).
    pub measurement: Measurement,
    /// The 64 bytes of report data, or `None` if the evidence carries none
    /// of that size (a Nitro document whose `user_data` is not 64 bytes).
    /// Equal to the expected value when one was given.
    pub report_data: Option<ReportData>,
    /// Whether the evidence says debugging is possible (reported, not judged).
    pub debug: bool,
    /// What only this platform's evidence says (Intel TCB status and
    /// advisories are reported here, not judged).
    pub details: PlatformClaims,
    /// The verification time (unix seconds) the evidence was checked at.
    pub verified_at: u64,
}

/// Verifies the evidence itself and applies **no policy**.
///
/// Checked, each failure naming its [`Check`]: simulated evidence needs
/// `allow_simulation` ([`Check::SimulationNotAllowed`]); the evidence parses
/// ([`Check::Format`]); its signing key chains to the root in `anchors`
/// ([`Check::Chain`]), every certificate and collateral item valid at
/// `now_unix` ([`Check::Freshness`]); the signature verifies
/// ([`Check::Signature`]); for TDX and SGX, Intel's collateral gives the
/// platform's TCB a status at all, i.e. a matching TCB level that is not
/// `Revoked` ([`Check::TcbStatus`]); and, if `expected_report_data` is
/// given, the report data equals it ([`Check::ReportData`]).
///
/// Not checked: which measurements, TCB, Intel TCB status or advisories are
/// acceptable, or whether debugging is on. Those are a policy's job
/// ([`verify_evidence`](crate::verify_evidence)); here they are only
/// reported in [`UnpinnedClaims`]. Pure: no I/O, no clock.
pub fn verify_evidence_without_policy(
    evidence: &Evidence,
    expected_report_data: Option<&ReportData>,
    allow_simulation: bool,
    now_unix: u64,
    anchors: &TrustAnchors,
) -> Result<UnpinnedClaims, AttestationError> {
    let platform = evidence.platform;
    if platform == PlatformKind::Simulated && !allow_simulation {
        return Err(AttestationError::new(
            Check::SimulationNotAllowed,
            "the evidence is simulated and allow_simulation is not set",
        ));
    }
    let attested = attest(evidence, anchors, now_unix)?;
    if let Some(expected) = expected_report_data
        && attested.report_data.as_ref() != Some(expected)
    {
        return Err(AttestationError::new(
            Check::ReportData,
            "the report data is not the expected value",
        ));
    }
    Ok(UnpinnedClaims {
        platform,
        simulated: platform == PlatformKind::Simulated,
        measurement: attested.measurement,
        report_data: attested.report_data,
        debug: attested.debug,
        details: attested.details,
        verified_at: now_unix,
    })
}
