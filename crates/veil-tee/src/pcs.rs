//! Intel Provisioning Certification Service (PCS): which collateral a DCAP
//! quote needs, and the URLs that serve it.
//!
//! The collateral of a platform is named by the FMSPC and the issuing CA
//! (`processor` or `platform`) in the PCK certificate that the quote
//! carries; the URLs follow Intel's PCS API v4, as `dcap-qvl`'s
//! `collateral` module builds them: `/sgx/certification/v4/pckcrl`,
//! `/{tdx|sgx}/certification/v4/tcb`, `/{tdx|sgx}/certification/v4/qe/identity`.
//! The Intel SGX Root CA's CRL is not served by PCS; it has its own URL.
//! Everything here is pure.

use dcap_qvl::config::PckCa;
use dcap_qvl::quote::Quote;
use veil_attest::PlatformKind;

use crate::error::TeeError;

/// Intel's production PCS.
pub const DEFAULT_PCS_URL: &str = "https://api.trustedservices.intel.com";

/// Where Intel publishes the CRL of the Intel SGX Root CA (the CRL
/// distribution point of the root certificate).
pub const DEFAULT_INTEL_ROOT_CRL_URL: &str =
    "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der";

/// What PCS needs to serve a platform's collateral.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcsRequest {
    /// `tdx` or `sgx`: which TCB info and QE identity.
    pub tee: &'static str,
    /// The platform's FMSPC, uppercase hex (6 bytes).
    pub fmspc: String,
    /// The PCK's issuing CA: `processor` or `platform`.
    pub ca: &'static str,
}

impl PcsRequest {
    /// The request for a quote's platform, from its embedded PCK chain
    /// (certification data type 5, as TDX and SGX DCAP quotes carry).
    pub fn for_quote(platform: PlatformKind, quote: &[u8]) -> Result<Self, TeeError> {
        let tee = match platform {
            PlatformKind::Tdx => "tdx",
            PlatformKind::Sgx => "sgx",
            other => {
                return Err(TeeError::Malformed {
                    what: "quote",
                    detail: format!("{other} evidence has no Intel collateral"),
                });
            }
        };
        let malformed = |detail: String| TeeError::Malformed {
            what: "quote",
            detail,
        };
        let parsed = Quote::parse(quote).map_err(|e| malformed(format!("does not parse: {e}")))?;
        let fmspc = dcap_qvl::intel::quote_fmspc(&parsed)
            .map_err(|e| malformed(format!("no FMSPC in its PCK certificate: {e}")))?;
        let ca: PckCa = dcap_qvl::intel::quote_ca(&parsed)
            .map_err(|e| malformed(format!("no PCK CA in its PCK certificate: {e}")))?;
        let ca = ca.as_id_str();
        Ok(PcsRequest {
            tee,
            fmspc: hex::encode_upper(fmspc),
            ca,
        })
    }

    /// The PCK CRL (DER; issuer chain in `SGX-PCK-CRL-Issuer-Chain`).
    pub fn pck_crl_url(&self, pcs: &str) -> String {
        format!(
            "{}/sgx/certification/v4/pckcrl?ca={}&encoding=der",
            base(pcs),
            self.ca
        )
    }

    /// The TCB info (JSON; issuer chain in `TCB-Info-Issuer-Chain`).
    pub fn tcb_info_url(&self, pcs: &str) -> String {
        format!(
            "{}/{}/certification/v4/tcb?fmspc={}",
            base(pcs),
            self.tee,
            self.fmspc
        )
    }

    /// The QE identity (JSON; issuer chain in `SGX-Enclave-Identity-Issuer-Chain`).
    pub fn qe_identity_url(&self, pcs: &str) -> String {
        format!("{}/{}/certification/v4/qe/identity", base(pcs), self.tee)
    }

    /// A file name for this platform's collateral in the endorsement cache.
    pub fn cache_name(&self) -> String {
        format!("{}-{}-{}.json", self.tee, self.fmspc, self.ca)
    }
}

fn base(url: &str) -> &str {
    url.trim_end_matches('/')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn vector(path: &str) -> Vec<u8> {
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../veil-attest/testdata")
                .join(path),
        )
        .unwrap()
    }

    #[test]
    fn tdx_vector_names_its_fmspc_and_ca() {
        let quote = veil_attest::trim_dcap_quote(&vector("tdx/tdx_quote")).unwrap();
        let req = PcsRequest::for_quote(PlatformKind::Tdx, &quote).unwrap();
        // The FMSPC of the vector's collateral (tcbInfo.fmspc).
        assert_eq!(req.fmspc, "B0C06F000000");
        assert_eq!(req.tee, "tdx");
        assert_eq!(
            req.tcb_info_url("https://pcs.test/"),
            "https://pcs.test/tdx/certification/v4/tcb?fmspc=B0C06F000000"
        );
        assert_eq!(
            req.qe_identity_url("https://pcs.test"),
            "https://pcs.test/tdx/certification/v4/qe/identity"
        );
        assert_eq!(
            req.pck_crl_url("https://pcs.test"),
            format!(
                "https://pcs.test/sgx/certification/v4/pckcrl?ca={}&encoding=der",
                req.ca
            )
        );
    }

    #[test]
    fn sgx_vector_uses_the_sgx_paths() {
        let quote = veil_attest::trim_dcap_quote(&vector("sgx/sgx_quote")).unwrap();
        let req = PcsRequest::for_quote(PlatformKind::Sgx, &quote).unwrap();
        assert_eq!(req.tee, "sgx");
        assert!(
            req.tcb_info_url("x")
                .starts_with("x/sgx/certification/v4/tcb?fmspc=")
        );
    }

    #[test]
    fn garbage_is_not_a_quote() {
        assert!(PcsRequest::for_quote(PlatformKind::Tdx, &[0; 100]).is_err());
    }
}
