//! AMD Key Distribution Service (KDS): which VCEK a report needs, and the
//! URLs that serve it.
//!
//! A VCEK is specific to one chip and one TCB: KDS serves it at
//! `/vcek/v1/{product}/{hwid}?blSPL=..&teeSPL=..&snpSPL=..&ucodeSPL=..`
//! (Turin adds `fmcSPL` and uses an 8-byte hwID), and the ASK + ARK of the
//! product at `/vcek/v1/{product}/cert_chain` (AMD, "Versioned Chip
//! Endorsement Key (VCEK) Certificate and KDS Interface Specification",
//! pub. 57230). Everything here is pure: the report in, a request out.

use crate::error::TeeError;

/// AMD's production KDS.
pub const DEFAULT_KDS_URL: &str = "https://kdsintf.amd.com";

/// Offsets in the SEV-SNP attestation report (SEV-SNP ABI spec, table
/// "ATTESTATION_REPORT Structure").
const VERSION: usize = 0x00;
const REPORTED_TCB: usize = 0x180;
const CPUID_FAM_ID: usize = 0x188;
const CPUID_MOD_ID: usize = 0x189;
const CHIP_ID: usize = 0x1A0;
const REPORT_LEN: usize = 0x4A0;

/// The EPYC product families KDS serves, and the TCB layout of each: the
/// verifier's (`veil-attest`) definitions, so that the request and the
/// check of what it returns read a report the same way.
pub use veil_attest::SnpProduct;

/// The TCB components KDS certifies a VCEK for (with `fmc` on Turin),
/// decoded from the report's REPORTED_TCB in the product's layout.
pub type KdsTcb = veil_attest::TcbVersion;

/// What KDS needs to serve the VCEK that signs one chip's reports at one TCB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VcekRequest {
    /// The product family.
    pub product: SnpProduct,
    /// The hwID, lowercase hex: the report's 64-byte CHIP_ID (Milan,
    /// Genoa), or its first 8 bytes (Turin).
    pub hwid: String,
    /// The reported TCB.
    pub tcb: KdsTcb,
}

impl VcekRequest {
    /// The request for `report`'s chip and reported TCB. The product comes
    /// from the report's CPUID fields (report version 3 and later), else
    /// from `product`; a masked (all-zero) chip ID cannot be looked up.
    pub fn for_report(report: &[u8], product: Option<SnpProduct>) -> Result<Self, TeeError> {
        if report.len() != REPORT_LEN {
            return Err(TeeError::Malformed {
                what: "SEV-SNP report",
                detail: format!("{} bytes, expected {REPORT_LEN}", report.len()),
            });
        }
        let version = u32::from_le_bytes(array(report, VERSION));
        let from_cpuid = (version >= 3)
            .then(|| SnpProduct::from_cpuid(report[CPUID_FAM_ID], report[CPUID_MOD_ID]))
            .flatten();
        let product = match (from_cpuid, product) {
            (Some(reported), Some(given)) if reported != given => {
                return Err(TeeError::Malformed {
                    what: "SEV-SNP report",
                    detail: format!(
                        "its CPUID says {reported}, but the product was configured as {given}"
                    ),
                });
            }
            (Some(p), _) | (None, Some(p)) => p,
            (None, None) => {
                return Err(TeeError::MissingEndorsement(format!(
                    "cannot tell the EPYC product of a version {version} SEV-SNP report (only \
                     version 3 and later carry CPUID): configure it (--snp-product milan|genoa|turin) \
                     to fetch the VCEK from AMD KDS"
                )));
            }
        };
        let chip_id: [u8; 64] = array(report, CHIP_ID);
        if chip_id == [0; 64] {
            return Err(TeeError::MissingEndorsement(
                "the report's CHIP_ID is zero (masked by the guest policy, or the report is \
                 VLEK-signed): AMD KDS cannot serve a VCEK for it; provide the chain as files \
                 (--snp-certs DIR)"
                    .into(),
            ));
        }
        let hwid = hex::encode(&chip_id[..product.hw_id_len().min(chip_id.len())]);
        Ok(VcekRequest {
            product,
            hwid,
            tcb: KdsTcb::decode(product.tcb_layout(), array(report, REPORTED_TCB)),
        })
    }

    /// The VCEK's URL under the KDS base URL `kds`.
    pub fn vcek_url(&self, kds: &str) -> String {
        let t = &self.tcb;
        let fmc = t.fmc.map(|f| format!("fmcSPL={f:02}&")).unwrap_or_default();
        format!(
            "{}/vcek/v1/{}/{}?{fmc}blSPL={:02}&teeSPL={:02}&snpSPL={:02}&ucodeSPL={:02}",
            kds.trim_end_matches('/'),
            self.product,
            self.hwid,
            t.bootloader,
            t.tee,
            t.snp,
            t.microcode
        )
    }

    /// The URL of the product's ASK + ARK (PEM) under `kds`.
    pub fn cert_chain_url(&self, kds: &str) -> String {
        format!(
            "{}/vcek/v1/{}/cert_chain",
            kds.trim_end_matches('/'),
            self.product
        )
    }

    /// A file name for this chip and TCB in the endorsement cache.
    pub fn cache_name(&self) -> String {
        let t = &self.tcb;
        format!(
            "sev-snp-{}-{}-fmc{}-bl{}-tee{}-snp{}-uc{}.pem",
            self.product.kds_name().to_ascii_lowercase(),
            &self.hwid[..16],
            t.fmc.map(|f| f.to_string()).unwrap_or_else(|| "-".into()),
            t.bootloader,
            t.tee,
            t.snp,
            t.microcode
        )
    }
}

fn array<const N: usize>(bytes: &[u8], at: usize) -> [u8; N] {
    let mut out = [0; N];
    out.copy_from_slice(&bytes[at..at + N]);
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn report(version: u32, family: u8, model: u8, tcb: [u8; 8], chip: u8) -> Vec<u8> {
        let mut r = vec![0; REPORT_LEN];
        r[..4].copy_from_slice(&version.to_le_bytes());
        r[CPUID_FAM_ID] = family;
        r[CPUID_MOD_ID] = model;
        r[REPORTED_TCB..REPORTED_TCB + 8].copy_from_slice(&tcb);
        r[CHIP_ID..CHIP_ID + 64].fill(chip);
        r
    }

    #[test]
    fn milan_vcek_url_has_the_64_byte_hwid_and_four_spls() {
        let r = report(3, 0x19, 0x01, [3, 0, 0, 0, 0, 0, 8, 115], 0xab);
        let req = VcekRequest::for_report(&r, None).unwrap();
        assert_eq!(req.product, SnpProduct::Milan);
        assert_eq!(
            req.vcek_url("https://kds.test/"),
            format!(
                "https://kds.test/vcek/v1/Milan/{}?blSPL=03&teeSPL=00&snpSPL=08&ucodeSPL=115",
                "ab".repeat(64)
            )
        );
        assert_eq!(
            req.cert_chain_url("https://kds.test"),
            "https://kds.test/vcek/v1/Milan/cert_chain"
        );
    }

    #[test]
    fn turin_vcek_url_has_the_8_byte_hwid_and_fmc() {
        let r = report(3, 0x1A, 0x02, [1, 2, 3, 4, 0, 0, 0, 72], 0xcd);
        let req = VcekRequest::for_report(&r, None).unwrap();
        assert_eq!(req.product, SnpProduct::Turin);
        assert_eq!(
            req.tcb,
            KdsTcb {
                fmc: Some(1),
                bootloader: 2,
                tee: 3,
                snp: 4,
                microcode: 72
            }
        );
        assert_eq!(
            req.vcek_url("https://kds.test"),
            "https://kds.test/vcek/v1/Turin/cdcdcdcdcdcdcdcd?fmcSPL=01&blSPL=02&teeSPL=03&snpSPL=04&ucodeSPL=72"
        );
    }

    #[test]
    fn version_2_report_needs_the_product_configured() {
        let r = report(2, 0, 0, [0; 8], 1);
        let err = VcekRequest::for_report(&r, None).unwrap_err().to_string();
        assert!(err.contains("--snp-product"), "{err}");
        let req = VcekRequest::for_report(&r, Some(SnpProduct::Genoa)).unwrap();
        assert_eq!(req.product, SnpProduct::Genoa);
    }

    #[test]
    fn configured_product_contradicting_the_cpuid_is_refused() {
        let r = report(3, 0x19, 0x11, [0; 8], 1);
        assert!(VcekRequest::for_report(&r, Some(SnpProduct::Milan)).is_err());
    }

    #[test]
    fn masked_chip_id_cannot_be_looked_up() {
        let r = report(3, 0x19, 0x01, [0; 8], 0);
        let err = VcekRequest::for_report(&r, None).unwrap_err().to_string();
        assert!(err.contains("--snp-certs"), "{err}");
    }
}
