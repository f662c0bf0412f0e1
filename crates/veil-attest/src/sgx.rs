//! Intel SGX: a DCAP quote v3 and Intel's collateral, verified to Intel's
//! pinned root (see [`crate::dcap`]), then the `[sgx]` policy section:
//! MRENCLAVE or MRSIGNER + product ID, minimum ISV SVN, TCB status and
//! advisories.

use serde::{Deserialize, Serialize};

use crate::anchors::TrustAnchors;
use crate::claims::PlatformClaims;
use crate::dcap::{self, IntelTcb, IntelTcbPolicy, IntelTcbStatus, default_tcb_statuses};
use crate::error::{AttestationError, Check};
use crate::evidence::Evidence;
use crate::fields::{Measurement, ReportData, serialize_hex};
use crate::policy::require_length;
use crate::verify::{Attested, check_allowed};

/// SGX `ATTRIBUTES.DEBUG` (bit 1 of the first byte).
const ATTRIBUTE_DEBUG: u8 = 0x02;

/// What an SGX quote says, once verified.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SgxClaims {
    /// MRENCLAVE: the enclave's code and initial data (32 bytes).
    pub mrenclave: Measurement,
    /// MRSIGNER: hash of the key that signed the enclave (32 bytes).
    pub mrsigner: Measurement,
    /// ISVPRODID: the product ID the signer gave the enclave.
    pub isv_prod_id: u16,
    /// ISVSVN: the enclave's security version.
    pub isv_svn: u16,
    /// ATTRIBUTES (bit 1 of byte 0 is DEBUG).
    #[serde(serialize_with = "serialize_hex")]
    pub attributes: [u8; 16],
    /// Intel's verdict on the platform's TCB.
    pub tcb: IntelTcb,
}

/// The `[sgx]` policy section. Either `mrenclave` names the enclave, or
/// `mrsigner` together with `isv_prod_id` names its signer and product
/// (then `min_isv_svn` should be set too).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SgxPolicy {
    /// Allowed MRENCLAVE values (32 bytes, hex); empty means not checked.
    #[serde(default)]
    pub mrenclave: Vec<Measurement>,
    /// Allowed MRSIGNER values (32 bytes, hex); empty means not checked.
    #[serde(default)]
    pub mrsigner: Vec<Measurement>,
    /// Required ISVPRODID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isv_prod_id: Option<u16>,
    /// Minimum ISVSVN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_isv_svn: Option<u16>,
    /// Intel TCB statuses accepted. Default: `["UpToDate"]` only.
    #[serde(default = "default_tcb_statuses")]
    pub tcb_statuses: Vec<IntelTcbStatus>,
    /// Intel advisory IDs (`INTEL-SA-…`) the platform may be affected by. Default: none.
    #[serde(default)]
    pub allowed_advisory_ids: Vec<String>,
}

impl SgxPolicy {
    /// Accepts the given MRENCLAVEs, TCB status `UpToDate`, no advisories.
    pub fn new(mrenclave: impl IntoIterator<Item = Measurement>) -> Self {
        SgxPolicy {
            mrenclave: mrenclave.into_iter().collect(),
            mrsigner: Vec::new(),
            isv_prod_id: None,
            min_isv_svn: None,
            tcb_statuses: default_tcb_statuses(),
            allowed_advisory_ids: Vec::new(),
        }
    }

    pub(crate) fn validate(&self) -> Result<(), AttestationError> {
        let names_signer = !self.mrsigner.is_empty() && self.isv_prod_id.is_some();
        if self.mrenclave.is_empty() && !names_signer {
            return Err(AttestationError::new(
                Check::Policy,
                "a policy accepting `sgx` must name mrenclave, or mrsigner and isv_prod_id, in [sgx]",
            ));
        }
        require_length("mrenclave", &self.mrenclave, 32)?;
        require_length("mrsigner", &self.mrsigner, 32)
    }

    pub(crate) fn check(&self, claims: &SgxClaims) -> Result<(), AttestationError> {
        check_allowed("MRENCLAVE", &self.mrenclave, &claims.mrenclave, false)?;
        check_allowed("MRSIGNER", &self.mrsigner, &claims.mrsigner, false)?;
        if let Some(id) = self.isv_prod_id
            && id != claims.isv_prod_id
        {
            return Err(AttestationError::new(
                Check::Measurement,
                format!("ISVPRODID {} is not the policy's {id}", claims.isv_prod_id),
            ));
        }
        if let Some(min) = self.min_isv_svn
            && claims.isv_svn < min
        {
            return Err(AttestationError::new(
                Check::Tcb,
                format!(
                    "ISVSVN {} is below the policy's minimum {min}",
                    claims.isv_svn
                ),
            ));
        }
        IntelTcbPolicy {
            accepted: &self.tcb_statuses,
            allowed_advisories: &self.allowed_advisory_ids,
        }
        .check(&claims.tcb)
    }
}

/// Verifies an SGX quote and its collateral; the policy is applied by the caller.
pub(crate) fn verify(
    evidence: &Evidence,
    anchors: &TrustAnchors,
    now_unix: u64,
) -> Result<Attested, AttestationError> {
    let quote = dcap::verify_evidence_quote(evidence, anchors, now_unix)?;
    let dcap_qvl::quote::Report::SgxEnclave(enclave) = quote.report else {
        return Err(AttestationError::new(
            Check::Format,
            "the quote is not an SGX quote (labelled `sgx`, carries a TD report)",
        ));
    };
    let claims = SgxClaims {
        mrenclave: Measurement::from(enclave.mr_enclave),
        mrsigner: Measurement::from(enclave.mr_signer),
        isv_prod_id: enclave.isv_prod_id,
        isv_svn: enclave.isv_svn,
        attributes: enclave.attributes,
        tcb: quote.tcb,
    };
    Ok(Attested {
        measurement: claims.mrenclave,
        report_data: Some(ReportData(enclave.report_data)),
        debug: enclave_debug(&claims.attributes),
        details: PlatformClaims::Sgx(claims),
    })
}

fn enclave_debug(attributes: &[u8; 16]) -> bool {
    attributes[0] & ATTRIBUTE_DEBUG != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_attributes_bit_one() {
        let mut attributes = [0u8; 16];
        assert!(!enclave_debug(&attributes));
        attributes[0] = 0x05; // INIT | MODE64BIT, production
        assert!(!enclave_debug(&attributes));
        attributes[0] |= ATTRIBUTE_DEBUG;
        assert!(enclave_debug(&attributes));
    }
}
