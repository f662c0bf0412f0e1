//! The vendor roots a verifier trusts, pinned in the code.

use crate::dcap::INTEL_SGX_ROOT_CA_DER;
use crate::nitro::AWS_NITRO_ROOT_DER;

/// The trust anchors of every hardware platform: the Intel and AWS roots,
/// and optionally an AMD ARK replacing the Milan, Genoa and Turin ARKs
/// pinned in the SEV-SNP module.
///
/// [`verify_evidence`](crate::verify_evidence) always uses
/// [`TrustAnchors::pinned`]. Other roots go through
/// [`verify_evidence_with_trust_anchors`](crate::verify_evidence_with_trust_anchors):
/// for tests proving a different root is refused, or a vendor's
/// pre-production root. Whoever picks the root decides what is trusted.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustAnchors {
    /// The Intel SGX Root CA certificate (DER), root of TDX and SGX chains.
    pub intel_root_der: Vec<u8>,
    /// The AWS Nitro Enclaves root certificate (DER).
    pub nitro_root_der: Vec<u8>,
    /// An AMD ARK (DER) to trust instead of the pinned Milan, Genoa and Turin ARKs;
    /// `None` (the default) trusts the pinned ones. Its common name must
    /// name its family as AMD's do (`ARK-Milan`, `ARK-Genoa`, `ARK-Turin`):
    /// that decides the TCB layout its reports are checked in.
    pub amd_ark_der: Option<Vec<u8>>,
}

impl TrustAnchors {
    /// The vendors' production roots, as pinned in this crate.
    pub fn pinned() -> Self {
        TrustAnchors {
            intel_root_der: INTEL_SGX_ROOT_CA_DER.to_vec(),
            nitro_root_der: AWS_NITRO_ROOT_DER.to_vec(),
            amd_ark_der: None,
        }
    }

    /// These anchors with another Intel root.
    pub fn with_intel_root_der(mut self, der: Vec<u8>) -> Self {
        self.intel_root_der = der;
        self
    }

    /// These anchors with another AWS Nitro root.
    pub fn with_nitro_root_der(mut self, der: Vec<u8>) -> Self {
        self.nitro_root_der = der;
        self
    }

    /// These anchors with another AMD ARK, the only SEV-SNP root then trusted.
    pub fn with_amd_ark_der(mut self, der: Vec<u8>) -> Self {
        self.amd_ark_der = Some(der);
        self
    }
}

impl Default for TrustAnchors {
    fn default() -> Self {
        TrustAnchors::pinned()
    }
}
