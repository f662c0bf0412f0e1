//! The one verification path every platform goes through.

use crate::anchors::TrustAnchors;
use crate::claims::{PlatformClaims, SevSnpClaims, VerifiedClaims};
use crate::error::{AttestationError, Check};
use crate::evidence::{Evidence, PlatformKind};
use crate::fields::{Measurement, ReportData};
use crate::policy::Policy;
use crate::report::Report;
use crate::signature::verify_report_signature;
use crate::{nitro, sev_snp, sgx, simulated, tdx};

/// Verifies `evidence` at time `now_unix` (unix seconds) against `policy`,
/// expecting its report to carry `expected_report_data`, with the vendor
/// roots pinned in this crate ([`TrustAnchors::pinned`]).
///
/// The checks run in this order, and the first failure is returned:
/// 1. the platform is acceptable: simulated evidence needs
///    `policy.allow_simulation` ([`Check::SimulationNotAllowed`]), every
///    platform must be listed ([`Check::Platform`]), and a hardware platform
///    needs pinned measurements ([`Check::Policy`]);
/// 2. the evidence parses ([`Check::Format`]);
/// 3. the signing key is endorsed by the platform's pinned root
///    ([`Check::Chain`]), every certificate and collateral item valid at
///    `now_unix` ([`Check::Freshness`]): SEV-SNP VCEK → ASK → ARK or VLEK →
///    ASVK → ARK (Milan, Genoa or Turin); TDX and
///    SGX PCK chain, TCB info and QE identity → Intel SGX root; Nitro leaf →
///    cabundle → AWS Nitro root. Simulated evidence carries its own key;
/// 4. the signature verifies over the raw signed bytes ([`Check::Signature`]);
/// 5. the policy holds: measurements ([`Check::Measurement`]), SEV-SNP
///    signing key (`signing_keys`, [`Check::Chain`]), TCB floor
///    ([`Check::Tcb`]), Intel TCB status ([`Check::TcbStatus`]) and
///    advisories ([`Check::Advisory`]), then debug ([`Check::Debug`]);
/// 6. the report data is the expected value ([`Check::ReportData`]).
///
/// Pure: no I/O, no clock.
pub fn verify_evidence(
    evidence: &Evidence,
    expected_report_data: &ReportData,
    policy: &Policy,
    now_unix: u64,
) -> Result<VerifiedClaims, AttestationError> {
    verify_evidence_with_trust_anchors(
        evidence,
        expected_report_data,
        policy,
        now_unix,
        &TrustAnchors::pinned(),
    )
}

/// [`verify_evidence`] with other vendor roots than the pinned ones: the
/// same checks, a different trust decision. For tests that prove a
/// different root is refused, and for vendors' pre-production roots.
pub fn verify_evidence_with_trust_anchors(
    evidence: &Evidence,
    expected_report_data: &ReportData,
    policy: &Policy,
    now_unix: u64,
    anchors: &TrustAnchors,
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

    let attested = attest(evidence, anchors, now_unix)?;

    policy.check_claims(platform, &attested.measurement, &attested.details)?;
    policy.check_debug(attested.debug)?;

    if attested.report_data.as_ref() != Some(expected_report_data) {
        return Err(AttestationError::new(
            Check::ReportData,
            "the report data is not the expected value (wrong nonce or key configuration)",
        ));
    }

    Ok(VerifiedClaims {
        platform,
        simulated: platform == PlatformKind::Simulated,
        measurement: attested.measurement,
        report_data: *expected_report_data,
        debug: attested.debug,
        details: attested.details,
        verified_at: now_unix,
    })
}

/// Steps 2–4 of [`verify_evidence`] (format, chain, freshness, signature,
/// and for Intel platforms that the collateral gives the TCB a status):
/// what the evidence proves about itself, before any policy.
pub(crate) fn attest(
    evidence: &Evidence,
    anchors: &TrustAnchors,
    now_unix: u64,
) -> Result<Attested, AttestationError> {
    let platform = evidence.platform;
    match platform {
        PlatformKind::SevSnp | PlatformKind::Simulated => {
            verify_snp_format(evidence, platform, anchors, now_unix)
        }
        PlatformKind::Tdx => tdx::verify(evidence, anchors, now_unix),
        PlatformKind::Sgx => sgx::verify(evidence, anchors, now_unix),
        PlatformKind::Nitro => nitro::verify(evidence, anchors, now_unix),
    }
}

/// What a platform module established: the signature verified under a key
/// its pinned root endorses. The policy has not been applied yet.
pub(crate) struct Attested {
    /// The platform-neutral measurement (see [`VerifiedClaims::measurement`]).
    pub measurement: Measurement,
    /// The 64 bytes of report data, or `None` if the evidence has none of
    /// that size (a Nitro document without 64-byte `user_data`).
    pub report_data: Option<ReportData>,
    /// Whether the evidence says debugging is possible.
    pub debug: bool,
    /// Everything else it says.
    pub details: PlatformClaims,
}

/// SEV-SNP and simulated evidence: the same report, different roots.
fn verify_snp_format(
    evidence: &Evidence,
    platform: PlatformKind,
    anchors: &TrustAnchors,
    now_unix: u64,
) -> Result<Attested, AttestationError> {
    if !evidence.collateral.is_empty() {
        return Err(AttestationError::new(
            Check::Format,
            format!("{platform} evidence carries no collateral"),
        ));
    }
    let report = Report::parse(&evidence.report)?;
    let (key, signing_key, csp_id) = if platform == PlatformKind::SevSnp {
        let endorsement = sev_snp::endorsed_report_key(
            &evidence.certificates,
            &report,
            anchors.amd_ark_der.as_deref(),
            now_unix,
        )?;
        (
            endorsement.key,
            Some(endorsement.signing_key),
            endorsement.csp_id,
        )
    } else {
        let key = simulated::simulated_signing_key(&evidence.certificates)?;
        (key, None, None)
    };
    verify_report_signature(report.bytes, &key)?;
    Ok(Attested {
        measurement: report.measurement,
        report_data: Some(report.report_data),
        debug: report.debug_allowed(),
        details: PlatformClaims::SevSnp(SevSnpClaims {
            reported_tcb: report.reported_tcb,
            current_tcb: report.current_tcb,
            committed_tcb: report.committed_tcb,
            launch_tcb: report.launch_tcb,
            signing_key,
            csp_id,
            chip_id: report.chip_id,
            vmpl: report.vmpl,
            report_version: report.version,
            host_data: Measurement::from(report.host_data),
            id_key_digest: Measurement::from(report.id_key_digest),
            author_key_digest: Measurement::from(report.author_key_digest),
        }),
    })
}

/// `value` must be in `allowed`; an empty list passes unless `required`.
pub(crate) fn check_allowed(
    name: &str,
    allowed: &[Measurement],
    value: &Measurement,
    required: bool,
) -> Result<(), AttestationError> {
    if (allowed.is_empty() && !required) || allowed.contains(value) {
        return Ok(());
    }
    Err(AttestationError::new(
        Check::Measurement,
        format!("{name} {value} is not one the policy allows"),
    ))
}
