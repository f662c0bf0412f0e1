//! The on-disk endorsement cache, and when a cached endorsement is due for
//! refresh. Expiry is read from the endorsements themselves (certificate
//! `notAfter`, Intel collateral `nextUpdate`), so the cache stores only
//! what the vendor served, in its own formats: a PEM chain (VCEK, ASK,
//! ARK) for SEV-SNP, `QuoteCollateralV3` JSON for Intel.

use std::path::{Path, PathBuf};

use x509_cert::Certificate;
use x509_cert::crl::CertificateList;
use x509_cert::der::{Decode, EncodePem, pem::LineEnding};

use crate::endorsements::{SnpCertificates, TdxCollateral};
use crate::error::TeeError;

/// How long before expiry a cached endorsement is fetched again: three days,
/// so that a vendor service that is down for a weekend does not take the
/// server's attestation with it.
pub const REFRESH_MARGIN_SECS: u64 = 3 * 24 * 3600;

/// Whether an endorsement valid until `not_after` (unix seconds) should be
/// fetched again at `now`: once it is within [`REFRESH_MARGIN_SECS`] of
/// expiry, or past it.
pub fn needs_refresh(now: u64, not_after: u64) -> bool {
    now.saturating_add(REFRESH_MARGIN_SECS) >= not_after
}

/// The earliest `notAfter` of the chain's certificates (unix seconds).
pub fn snp_chain_not_after(certs: &SnpCertificates) -> Result<u64, TeeError> {
    certs
        .to_chain()
        .iter()
        .map(|der| {
            let cert = Certificate::from_der(der).map_err(|e| malformed_chain(e.to_string()))?;
            Ok(cert
                .tbs_certificate
                .validity
                .not_after
                .to_unix_duration()
                .as_secs())
        })
        .try_fold(u64::MAX, |earliest, t: Result<u64, TeeError>| {
            Ok(earliest.min(t?))
        })
}

fn malformed_chain(detail: String) -> TeeError {
    TeeError::Malformed {
        what: "SEV-SNP certificate chain",
        detail,
    }
}

/// When Intel collateral must be replaced (unix seconds): the earliest
/// `nextUpdate` of its TCB info, QE identity, PCK CRL and root CA CRL.
pub fn collateral_next_update(json: &[u8]) -> Result<u64, TeeError> {
    let malformed = |detail: String| TeeError::Malformed {
        what: "Intel collateral",
        detail,
    };
    let collateral: dcap_qvl::QuoteCollateralV3 = serde_json::from_slice(json)
        .map_err(|e| malformed(format!("not QuoteCollateralV3 JSON: {e}")))?;
    let mut earliest = u64::MAX;
    for (name, signed_json, key) in [
        ("tcb_info", &collateral.tcb_info, "nextUpdate"),
        ("qe_identity", &collateral.qe_identity, "nextUpdate"),
    ] {
        let value: serde_json::Value = serde_json::from_str(signed_json)
            .map_err(|e| malformed(format!("{name} is not JSON: {e}")))?;
        let text = value[key]
            .as_str()
            .ok_or_else(|| malformed(format!("{name} has no {key}")))?;
        let time = chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|e| malformed(format!("{name} {key} `{text}`: {e}")))?;
        let secs = u64::try_from(time.timestamp())
            .map_err(|_| malformed(format!("{name} {key} is before 1970")))?;
        earliest = earliest.min(secs);
    }
    for (name, der) in [
        ("pck_crl", &collateral.pck_crl),
        ("root_ca_crl", &collateral.root_ca_crl),
    ] {
        let crl = CertificateList::from_der(der)
            .map_err(|e| malformed(format!("{name} is not a DER CRL: {e}")))?;
        if let Some(next) = crl.tbs_cert_list.next_update {
            earliest = earliest.min(next.to_unix_duration().as_secs());
        }
    }
    Ok(earliest)
}

/// A directory of fetched endorsements (normally `DATA_DIR/endorsements`).
#[derive(Debug, Clone)]
pub struct EndorsementCache {
    dir: PathBuf,
}

impl EndorsementCache {
    /// The cache in `dir` (created on the first store).
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        EndorsementCache { dir: dir.into() }
    }

    /// Where the cache keeps `name`.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The cached bytes of `name`, or `None` if absent.
    fn load(&self, name: &str) -> Result<Option<Vec<u8>>, TeeError> {
        let path = self.path(name);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(TeeError::io("read", path, e)),
        }
    }

    /// Writes `name` atomically (a temporary file renamed over it), so a
    /// crash never leaves half an endorsement.
    fn store(&self, name: &str, bytes: &[u8]) -> Result<(), TeeError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| TeeError::io("create", &self.dir, e))?;
        let path = self.path(name);
        let partial = self.dir.join(format!(".{name}.partial"));
        std::fs::write(&partial, bytes).map_err(|e| TeeError::io("write", &partial, e))?;
        std::fs::rename(&partial, &path).map_err(|e| TeeError::io("rename", &path, e))
    }

    /// The cached SEV-SNP chain `name` (PEM: VCEK, ASK, then ARK if any).
    pub fn load_snp(&self, name: &str) -> Result<Option<SnpCertificates>, TeeError> {
        let Some(pem) = self.load(name)? else {
            return Ok(None);
        };
        let certs = Certificate::load_pem_chain(&pem)
            .map_err(|e| malformed_chain(format!("cached {name}: {e}")))?;
        let ders = certs
            .iter()
            .map(|c| x509_cert::der::Encode::to_der(c).map_err(|e| malformed_chain(e.to_string())))
            .collect::<Result<Vec<_>, _>>()?;
        match <[Vec<u8>; 3]>::try_from(ders) {
            Ok([leaf, ask, ark]) => Ok(Some(SnpCertificates {
                leaf,
                ask,
                ark: Some(ark),
            })),
            Err(ders) => match <[Vec<u8>; 2]>::try_from(ders) {
                Ok([leaf, ask]) => Ok(Some(SnpCertificates {
                    leaf,
                    ask,
                    ark: None,
                })),
                Err(ders) => Err(malformed_chain(format!(
                    "cached {name} holds {} certificates, expected 2 or 3",
                    ders.len()
                ))),
            },
        }
    }

    /// Stores an SEV-SNP chain as PEM.
    pub fn store_snp(&self, name: &str, certs: &SnpCertificates) -> Result<(), TeeError> {
        let mut pem = String::new();
        for der in certs.to_chain() {
            let cert = Certificate::from_der(&der).map_err(|e| malformed_chain(e.to_string()))?;
            pem.push_str(
                &cert
                    .to_pem(LineEnding::LF)
                    .map_err(|e| malformed_chain(e.to_string()))?,
            );
        }
        self.store(name, pem.as_bytes())
    }

    /// The cached Intel collateral `name`.
    pub fn load_intel(&self, name: &str) -> Result<Option<TdxCollateral>, TeeError> {
        match self.load(name)? {
            Some(json) => TdxCollateral::from_json(json, self.path(name)).map(Some),
            None => Ok(None),
        }
    }

    /// Stores Intel collateral.
    pub fn store_intel(&self, name: &str, collateral: &TdxCollateral) -> Result<(), TeeError> {
        self.store(name, collateral.as_bytes())
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Parses one PEM certificate (for KDS's PEM chain), as DER.
pub(crate) fn pem_chain_to_der(pem: &[u8]) -> Result<Vec<Vec<u8>>, TeeError> {
    let certs = Certificate::load_pem_chain(pem).map_err(|e| malformed_chain(e.to_string()))?;
    certs
        .iter()
        .map(|c| x509_cert::der::Encode::to_der(c).map_err(|e| malformed_chain(e.to_string())))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;

    #[test]
    fn refresh_is_due_within_the_margin_and_after_expiry() {
        let not_after = 1_000 * DAY;
        assert!(!needs_refresh(not_after - 4 * DAY, not_after));
        assert!(!needs_refresh(not_after - 3 * DAY - 1, not_after));
        assert!(needs_refresh(not_after - 3 * DAY, not_after));
        assert!(needs_refresh(not_after - DAY, not_after));
        assert!(needs_refresh(not_after + DAY, not_after));
        assert!(needs_refresh(u64::MAX, not_after));
    }

    fn vector(path: &str) -> Vec<u8> {
        std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../veil-attest/testdata")
                .join(path),
        )
        .unwrap()
    }

    #[test]
    fn tdx_vector_collateral_expires_at_its_earliest_next_update() {
        // tcbInfo nextUpdate 2025-07-19T10:16:03Z, QE identity 10:32:27Z;
        // the CRLs may expire earlier.
        let next = collateral_next_update(&vector("tdx/tdx_quote_collateral.json")).unwrap();
        assert!(next <= 1_752_920_163, "{next}");
        assert!(
            next > 1_750_332_747,
            "after the vector's verification time: {next}"
        );
    }

    #[test]
    fn milan_chain_expires_at_the_vceks_not_after() {
        let ask_ark = pem_chain_to_der(&vector("sev-snp/cert_chain_milan")).unwrap();
        let certs = SnpCertificates {
            leaf: vector("sev-snp/vcek_milan.der"),
            ask: ask_ark[0].clone(),
            ark: Some(ask_ark[1].clone()),
        };
        // VCEK valid until 2030-04-03 (the vectors' README); ASK/ARK later.
        let not_after = snp_chain_not_after(&certs).unwrap();
        assert_eq!(rfc_day(not_after), "2030-04-03");
    }

    fn rfc_day(unix: u64) -> String {
        chrono::DateTime::from_timestamp(unix as i64, 0)
            .unwrap()
            .format("%Y-%m-%d")
            .to_string()
    }

    #[test]
    fn snp_chain_round_trips_through_the_cache() {
        let dir = tempfile::tempdir().unwrap();
        let cache = EndorsementCache::new(dir.path().join("endorsements"));
        let ask_ark = pem_chain_to_der(&vector("sev-snp/cert_chain_milan")).unwrap();
        let certs = SnpCertificates {
            leaf: vector("sev-snp/vcek_milan.der"),
            ask: ask_ark[0].clone(),
            ark: Some(ask_ark[1].clone()),
        };
        assert_eq!(cache.load_snp("chain.pem").unwrap(), None);
        cache.store_snp("chain.pem", &certs).unwrap();
        assert_eq!(cache.load_snp("chain.pem").unwrap(), Some(certs));
    }
}
