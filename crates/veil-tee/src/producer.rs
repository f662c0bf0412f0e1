//! [`ConfigfsTsmProducer`]: SEV-SNP and TDX evidence from configfs-tsm,
//! behind the same [`EvidenceProducer`] trait as the simulated platform.

use veil_attest::{
    AttestationError, EndorsementTimes, Evidence, EvidenceProducer, PlatformKind, REPORT_LEN,
    ReportData,
};

use crate::cert_table::{CertTableEntry, parse_cert_table};
use crate::configfs::{ConfigfsTsm, TsmProvider};
use crate::endorsements::{SnpCertificates, TdxCollateral};
use crate::endorser::{Endorsement, LiveEndorsement};
use crate::error::TeeError;
use crate::quote::outblob_report_data;

/// The endorsements shipped with each report.
#[derive(Debug, Clone)]
enum Endorsements {
    /// SEV-SNP: the host's certificate table when it has one, else this
    /// chain (operator-provided files, or fetched from AMD KDS).
    SevSnp(LiveEndorsement),
    /// TDX: Intel collateral (operator-provided, or fetched from PCS).
    Tdx(LiveEndorsement),
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
        let live = match operator_certs {
            Some(certs) => LiveEndorsement::fixed(Endorsement::Snp(certs)),
            None => LiveEndorsement::default(),
        };
        Self::sev_snp_live(tsm, live)
    }

    /// An SEV-SNP producer whose fallback chain (when the host's `auxblob`
    /// has none) is read from `live` for every report, e.g. as an
    /// [`Endorser`](crate::Endorser) refreshes it.
    pub fn sev_snp_live(tsm: ConfigfsTsm, live: LiveEndorsement) -> Result<Self, TeeError> {
        expect_provider(&tsm, TsmProvider::SevGuest)?;
        Ok(ConfigfsTsmProducer {
            tsm,
            endorsements: Endorsements::SevSnp(live),
        })
    }

    /// A TDX producer; quotes ship with `collateral` (e.g.
    /// `--tdx-collateral FILE`). Fails unless the kernel's provider is
    /// `tdx_guest`.
    pub fn tdx(tsm: ConfigfsTsm, collateral: TdxCollateral) -> Result<Self, TeeError> {
        Self::tdx_live(tsm, LiveEndorsement::fixed(Endorsement::Intel(collateral)))
    }

    /// A TDX producer whose collateral is read from `live` for every quote.
    pub fn tdx_live(tsm: ConfigfsTsm, live: LiveEndorsement) -> Result<Self, TeeError> {
        expect_provider(&tsm, TsmProvider::TdxGuest)?;
        Ok(ConfigfsTsmProducer {
            tsm,
            endorsements: Endorsements::Tdx(live),
        })
    }

    /// One report for `report_data`, without endorsements: what an
    /// [`Endorser`](crate::Endorser) needs to know which VCEK or
    /// collateral to fetch (chip ID, TCB, FMSPC).
    pub fn raw_report(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        Ok(self.tsm.request(&report_data.0)?.outblob)
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
            Endorsements::SevSnp(fallback) => {
                let host_table = match &report.auxblob {
                    Some(table) => parse_cert_table(table)?,
                    None => Vec::new(),
                };
                snp_evidence(report.outblob, &host_table, fallback)
            }
            Endorsements::Tdx(live) => match live.get() {
                Some(Endorsement::Intel(collateral)) => Ok(Evidence {
                    platform,
                    report: report.outblob,
                    certificates: Vec::new(),
                    collateral: collateral.as_bytes().to_vec(),
                }),
                _ => Err(TeeError::MissingEndorsement(
                    "no Intel collateral for the TDX quote: none given (--tdx-collateral) \
                     and none fetched from Intel PCS"
                        .into(),
                )),
            },
        }
    }
}

/// SEV-SNP evidence for `report`: with the chain from the host's
/// certificate table when it has one, else the `fallback` chain (operator
/// files or fetched from AMD KDS).
pub(crate) fn snp_evidence(
    report: Vec<u8>,
    host_table: &[CertTableEntry],
    fallback: &LiveEndorsement,
) -> Result<Evidence, TeeError> {
    let certs = match (
        SnpCertificates::from_cert_table(host_table)?,
        fallback.get(),
    ) {
        (Some(certs), _) | (None, Some(Endorsement::Snp(certs))) => certs,
        _ => {
            return Err(TeeError::MissingEndorsement(
                "no VCEK chain for the SEV-SNP report: the host supplied no certificates, no \
                 --snp-certs directory was given, and none was fetched from AMD KDS"
                    .into(),
            ));
        }
    };
    Ok(Evidence::new(
        PlatformKind::SevSnp,
        report,
        certs.to_chain(),
    ))
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
        Ok(self.produce_evidence(report_data)?)
    }

    fn endorsement_times(&self) -> Option<EndorsementTimes> {
        match &self.endorsements {
            Endorsements::SevSnp(live) | Endorsements::Tdx(live) => live.times(),
        }
    }
}
