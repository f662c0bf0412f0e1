//! [`ConfigfsTsmProducer`]: SEV-SNP and TDX evidence from configfs-tsm,
//! behind the same [`EvidenceProducer`] trait as the simulated platform.

use veil_attest::{
    AttestationError, Check, Evidence, EvidenceProducer, PlatformKind, REPORT_LEN, ReportData,
};

use crate::cert_table::parse_cert_table;
use crate::configfs::{ConfigfsTsm, TsmProvider};
use crate::endorsements::{SnpCertificates, TdxCollateral};
use crate::error::TeeError;
use crate::quote::outblob_report_data;

/// The endorsements shipped with each report.
#[derive(Debug, Clone)]
enum Endorsements {
    /// SEV-SNP: the host's certificate table when it has one, else these
    /// operator-provided files.
    SevSnp(Option<SnpCertificates>),
    /// TDX: operator-provided Intel collateral.
    Tdx(TdxCollateral),
}

/// Produces SEV-SNP or TDX evidence through Linux configfs-tsm.
///
/// Each [`produce`](EvidenceProducer::produce) creates a fresh report entry,
/// so every evidence bundle carries a report signed by the hardware for
/// exactly the report data asked for; the producer refuses an `outblob`
/// that does not carry it.
#[derive(Debug, Clone)]
pub struct ConfigfsTsmProducer {
    tsm: ConfigfsTsm,
    endorsements: Endorsements,
}

impl ConfigfsTsmProducer {
    /// An SEV-SNP producer. Reports ship with the VCEK chain from the host's
    /// `auxblob` when it has one, else with `operator_certs` (e.g.
    /// `--snp-certs DIR`). Fails unless the kernel's provider is `sev_guest`.
    pub fn sev_snp(
        tsm: ConfigfsTsm,
        operator_certs: Option<SnpCertificates>,
    ) -> Result<Self, TeeError> {
        expect_provider(&tsm, TsmProvider::SevGuest)?;
        Ok(ConfigfsTsmProducer {
            tsm,
            endorsements: Endorsements::SevSnp(operator_certs),
        })
    }

    /// A TDX producer; quotes ship with `collateral` (e.g.
    /// `--tdx-collateral FILE`). Fails unless the kernel's provider is
    /// `tdx_guest`.
    pub fn tdx(tsm: ConfigfsTsm, collateral: TdxCollateral) -> Result<Self, TeeError> {
        expect_provider(&tsm, TsmProvider::TdxGuest)?;
        Ok(ConfigfsTsmProducer {
            tsm,
            endorsements: Endorsements::Tdx(collateral),
        })
    }

    /// Like [`EvidenceProducer::produce`], with this crate's error type.
    pub fn produce_evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        let platform = self.platform();
        let report = self.tsm.request(&report_data.0)?;
        let expected = match self.endorsements {
            Endorsements::SevSnp(_) => TsmProvider::SevGuest,
            Endorsements::Tdx(_) => TsmProvider::TdxGuest,
        };
        if TsmProvider::from_kernel_name(&report.provider)? != expected {
            return Err(TeeError::WrongProvider {
                requested: platform.as_str(),
                found: report.provider,
            });
        }
        let what = match platform {
            PlatformKind::Tdx => "TDX quote",
            _ => "SEV-SNP report",
        };
        if platform == PlatformKind::SevSnp && report.outblob.len() != REPORT_LEN {
            return Err(TeeError::Malformed {
                what: "outblob",
                detail: format!(
                    "an SEV-SNP report is {REPORT_LEN} bytes, the kernel returned {}",
                    report.outblob.len()
                ),
            });
        }
        match outblob_report_data(platform, &report.outblob) {
            Some(carried) if carried == report_data.0 => {}
            Some(_) => return Err(TeeError::ReportDataMismatch { what }),
            None => {
                return Err(TeeError::Malformed {
                    what: "outblob",
                    detail: format!(
                        "not a {what} this crate can read (unknown version or truncated)"
                    ),
                });
            }
        }

        match &self.endorsements {
            Endorsements::SevSnp(operator) => {
                let from_host = match &report.auxblob {
                    Some(table) => SnpCertificates::from_cert_table(&parse_cert_table(table)?)?,
                    None => None,
                };
                let certs = from_host.or_else(|| operator.clone()).ok_or_else(|| {
                    TeeError::MissingEndorsement(
                        "no VCEK chain for the SEV-SNP report: the host put no certificates in \
                         auxblob and no --snp-certs directory was given. Veil does not fetch from \
                         AMD KDS (no network here): download the chip's VCEK (for its chip id and \
                         reported TCB) and the ASK from https://kdsintf.amd.com into a directory \
                         as vcek.der and ask.pem, and pass --snp-certs DIR"
                            .into(),
                    )
                })?;
                Ok(Evidence::new(platform, report.outblob, certs.to_chain()))
            }
            Endorsements::Tdx(collateral) => Ok(Evidence {
                platform,
                report: report.outblob,
                certificates: Vec::new(),
                collateral: collateral.as_bytes().to_vec(),
            }),
        }
    }
}

fn expect_provider(tsm: &ConfigfsTsm, expected: TsmProvider) -> Result<(), TeeError> {
    let found = tsm.provider()?;
    if found == expected {
        Ok(())
    } else {
        Err(TeeError::WrongProvider {
            requested: expected.platform().as_str(),
            found: found.as_str().to_owned(),
        })
    }
}

impl EvidenceProducer for ConfigfsTsmProducer {
    fn platform(&self) -> PlatformKind {
        match self.endorsements {
            Endorsements::SevSnp(_) => PlatformKind::SevSnp,
            Endorsements::Tdx(_) => PlatformKind::Tdx,
        }
    }

    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError> {
        self.produce_evidence(report_data).map_err(|e| {
            AttestationError::new(Check::Format, format!("cannot produce evidence: {e}"))
        })
    }
}
