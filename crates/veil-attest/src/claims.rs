//! What verified evidence proves, for the caller to log, show and act on.

use serde::Serialize;

use crate::evidence::PlatformKind;
use crate::fields::{Measurement, ReportData, TcbVersion, serialize_hex};

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
    /// The launch measurement: which code runs.
    pub measurement: Measurement,
    /// The report data, equal to the expected value.
    pub report_data: ReportData,
    /// Whether the guest policy allows debugging (only if the policy allowed it).
    pub debug: bool,
    /// The TCB version the report claims and the VCEK is certified for.
    pub reported_tcb: TcbVersion,
    /// The chip's ID (zero when the platform masks it, and for simulated evidence).
    #[serde(serialize_with = "serialize_hex")]
    pub chip_id: [u8; 64],
    /// The privilege level (VMPL) that requested the report.
    pub vmpl: u32,
    /// The report format version.
    pub report_version: u32,
    /// The verification time (unix seconds) the evidence was checked at.
    pub verified_at: u64,
}
