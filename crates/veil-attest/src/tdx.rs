//! Intel TDX: a DCAP quote (v4, or v5 with a TDX 1.5 body) and Intel's
//! collateral, verified to Intel's pinned root (see [`crate::dcap`]), then
//! the `[tdx]` policy section: MRTD, RTMR0–3, TCB status and advisories.

use serde::{Deserialize, Serialize};

use crate::anchors::TrustAnchors;
use crate::claims::PlatformClaims;
use crate::dcap::{self, IntelTcb, IntelTcbPolicy, IntelTcbStatus, default_tcb_statuses};
use crate::error::{AttestationError, Check};
use crate::evidence::Evidence;
use crate::fields::{Measurement, ReportData, serialize_hex};
use crate::policy::require_length;
use crate::verify::{Attested, check_allowed};

/// What a TDX quote says, once verified.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TdxClaims {
    /// The quote format version (4 or 5).
    pub quote_version: u16,
    /// MRTD: the TD's initial contents (its firmware, TDVF).
    pub mrtd: Measurement,
    /// RTMR0–3: run-time measurements (firmware configuration, boot loader
    /// and kernel, kernel command line and initrd, and the application's own).
    pub rtmr: [Measurement; 4],
    /// MRSEAM: the TDX module.
    pub mr_seam: Measurement,
    /// MRCONFIGID: software-defined configuration the host set at launch.
    pub mr_config_id: Measurement,
    /// MROWNER: software-defined owner ID the host set at launch.
    pub mr_owner: Measurement,
    /// MROWNERCONFIG: software-defined owner configuration.
    pub mr_owner_config: Measurement,
    /// TD_ATTRIBUTES (byte 0 is TUD: debug and its kin).
    #[serde(serialize_with = "serialize_hex")]
    pub td_attributes: [u8; 8],
    /// XFAM: the extended CPU features the TD may use.
    #[serde(serialize_with = "serialize_hex")]
    pub xfam: [u8; 8],
    /// TEE_TCB_SVN: the TDX module's security version.
    #[serde(serialize_with = "serialize_hex")]
    pub tee_tcb_svn: [u8; 16],
    /// Intel's verdict on the platform's TCB.
    pub tcb: IntelTcb,
}

/// The `[tdx]` policy section. `mrtd` must name at least one value; each
/// RTMR list, when not empty, must contain the quote's value.
///
/// Pinning only MRTD trusts whatever kernel and application the TD firmware
/// boots: pin the RTMRs too, or bind the application some other way.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TdxPolicy {
    /// Allowed MRTD values (48 bytes, hex).
    pub mrtd: Vec<Measurement>,
    /// Allowed RTMR0 values; empty means not checked.
    #[serde(default)]
    pub rtmr0: Vec<Measurement>,
    /// Allowed RTMR1 values; empty means not checked.
    #[serde(default)]
    pub rtmr1: Vec<Measurement>,
    /// Allowed RTMR2 values; empty means not checked.
    #[serde(default)]
    pub rtmr2: Vec<Measurement>,
    /// Allowed RTMR3 values; empty means not checked.
    #[serde(default)]
    pub rtmr3: Vec<Measurement>,
    /// Intel TCB statuses accepted. Default: `["UpToDate"]` only.
    #[serde(default = "default_tcb_statuses")]
    pub tcb_statuses: Vec<IntelTcbStatus>,
    /// Intel advisory IDs (`INTEL-SA-…`) the platform may be affected by. Default: none.
    #[serde(default)]
    pub allowed_advisory_ids: Vec<String>,
}

impl TdxPolicy {
    /// Accepts the given MRTDs, any RTMRs, TCB status `UpToDate`, no advisories.
    pub fn new(mrtd: impl IntoIterator<Item = Measurement>) -> Self {
        TdxPolicy {
            mrtd: mrtd.into_iter().collect(),
            rtmr0: Vec::new(),
            rtmr1: Vec::new(),
            rtmr2: Vec::new(),
            rtmr3: Vec::new(),
            tcb_statuses: default_tcb_statuses(),
            allowed_advisory_ids: Vec::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), AttestationError> {
        if self.mrtd.is_empty() {
            return Err(AttestationError::new(
                Check::Policy,
                "a policy accepting `tdx` must name at least one mrtd in [tdx]",
            ));
        }
        for (name, values) in [
            ("mrtd", &self.mrtd),
            ("rtmr0", &self.rtmr0),
            ("rtmr1", &self.rtmr1),
            ("rtmr2", &self.rtmr2),
            ("rtmr3", &self.rtmr3),
        ] {
            require_length(name, values, 48)?;
        }
        Ok(())
    }

    pub(crate) fn check(&self, claims: &TdxClaims) -> Result<(), AttestationError> {
        check_allowed("MRTD", &self.mrtd, &claims.mrtd, true)?;
        for (index, (allowed, value)) in [&self.rtmr0, &self.rtmr1, &self.rtmr2, &self.rtmr3]
            .into_iter()
            .zip(&claims.rtmr)
            .enumerate()
        {
            check_allowed(&format!("RTMR{index}"), allowed, value, false)?;
        }
        IntelTcbPolicy {
            accepted: &self.tcb_statuses,
            allowed_advisories: &self.allowed_advisory_ids,
        }
        .check(&claims.tcb)
    }
}

/// Verifies a TDX quote and its collateral; the policy is applied by the caller.
pub(crate) fn verify(
    evidence: &Evidence,
    anchors: &TrustAnchors,
    now_unix: u64,
) -> Result<Attested, AttestationError> {
    let quote = dcap::verify_evidence_quote(evidence, anchors, now_unix)?;
    let Some(td) = quote.report.as_td10() else {
        return Err(AttestationError::new(
            Check::Format,
            "the quote is not a TDX quote (labelled `tdx`, carries an SGX enclave report)",
        ));
    };
    let claims = TdxClaims {
        quote_version: quote.version,
        mrtd: Measurement::from(td.mr_td),
        rtmr: [td.rt_mr0, td.rt_mr1, td.rt_mr2, td.rt_mr3].map(Measurement::from),
        mr_seam: Measurement::from(td.mr_seam),
        mr_config_id: Measurement::from(td.mr_config_id),
        mr_owner: Measurement::from(td.mr_owner),
        mr_owner_config: Measurement::from(td.mr_owner_config),
        td_attributes: td.td_attributes,
        xfam: td.xfam,
        tee_tcb_svn: td.tee_tcb_svn,
        tcb: quote.tcb,
    };
    Ok(Attested {
        measurement: claims.mrtd,
        report_data: Some(ReportData(td.report_data)),
        debug: under_debug(&claims.td_attributes),
        details: PlatformClaims::Tdx(Box::new(claims)),
    })
}

/// TUD, byte 0 of TD_ATTRIBUTES: bit 0 DEBUG, bits 4–6 profiling. Any TUD
/// bit set means the host can inspect the TD.
fn under_debug(td_attributes: &[u8; 8]) -> bool {
    td_attributes[0] != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_tud_bit_means_debug_and_sec_bits_do_not() {
        assert!(!under_debug(&[0; 8]));
        assert!(under_debug(&[0x01, 0, 0, 0, 0, 0, 0, 0]));
        assert!(under_debug(&[0x10, 0, 0, 0, 0, 0, 0, 0]));
        // SEPT_VE_DISABLE (bit 28) is a SEC attribute, not debug.
        assert!(!under_debug(&[0, 0, 0, 0x10, 0, 0, 0, 0]));
    }
}
