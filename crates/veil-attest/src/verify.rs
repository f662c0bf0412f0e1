//! The one verification path every platform goes through.

use crate::claims::VerifiedClaims;
use crate::error::{AttestationError, Check};
use crate::evidence::{Evidence, PlatformKind};
use crate::fields::ReportData;
use crate::policy::Policy;
use crate::report::Report;
use crate::signature::verify_report_signature;
use crate::{sev_snp, simulated};

/// Verifies `evidence` at time `now_unix` (unix seconds) against `policy`,
/// expecting its report to carry `expected_report_data`.
///
/// The checks run in this order, and the first failure is returned:
/// 1. the platform is acceptable: simulated evidence needs
///    `policy.allow_simulation` ([`Check::SimulationNotAllowed`]), every
///    platform must be listed ([`Check::Platform`]), and a hardware platform
///    needs pinned measurements ([`Check::Policy`]);
/// 2. the report parses ([`Check::Format`]);
/// 3. the report-signing key is trusted: for SEV-SNP the VCEK chains to the
///    pinned AMD ARK ([`Check::Chain`]) with every certificate valid at
///    `now_unix` ([`Check::Freshness`]); for simulated evidence the key
///    it carries is taken as is;
/// 4. the signature verifies over the raw report bytes ([`Check::Signature`]);
/// 5. the report data is the expected value ([`Check::ReportData`]);
/// 6. the policy holds: measurement ([`Check::Measurement`]), debug
///    ([`Check::Debug`]), TCB floor for SEV-SNP ([`Check::Tcb`]).
///
/// Pure: no I/O, no clock.
pub fn verify_evidence(
    evidence: &Evidence,
    expected_report_data: &ReportData,
    policy: &Policy,
    now_unix: u64,
) -> Result<VerifiedClaims, AttestationError> {
    let platform = evidence.platform;
    if platform == PlatformKind::Simulated && !policy.allow_simulation {
        return Err(AttestationError::new(
            Check::SimulationNotAllowed,
            "the evidence is simulated and the policy does not set allow_simulation",
        ));
    }
    if !policy.platforms.contains(&platform) {
        return Err(AttestationError::new(
            Check::Platform,
            format!("platform `{platform}` is not in the policy's platforms"),
        ));
    }
    policy.check_pins_measurements(platform)?;

    let report = Report::parse(&evidence.report)?;

    let signing_key = match platform {
        PlatformKind::SevSnp => {
            sev_snp::endorsed_vcek_key(&evidence.certificates, &report, now_unix)?
        }
        PlatformKind::Simulated => simulated::simulated_signing_key(&evidence.certificates)?,
    };

    verify_report_signature(report.bytes, &signing_key)?;

    if report.report_data != *expected_report_data {
        return Err(AttestationError::new(
            Check::ReportData,
            "the report data is not the expected value (wrong nonce or key configuration)",
        ));
    }

    policy.check_measurement(&report.measurement)?;
    policy.check_debug(report.debug_allowed())?;
    if platform == PlatformKind::SevSnp {
        policy.check_tcb(&report.reported_tcb)?;
    }

    Ok(VerifiedClaims {
        platform,
        simulated: platform == PlatformKind::Simulated,
        measurement: report.measurement,
        report_data: report.report_data,
        debug: report.debug_allowed(),
        reported_tcb: report.reported_tcb,
        chip_id: report.chip_id,
        vmpl: report.vmpl,
        report_version: report.version,
        verified_at: now_unix,
    })
}
