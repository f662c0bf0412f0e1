//! SEV-SNP reports through `/dev/sev-guest`, for guests whose kernel has the
//! `sev-guest` driver but not configfs-tsm (Linux before 6.7, or built
//! without `CONFIG_TSM_REPORTS`).
//!
//! The ioctl (`SNP_GET_EXT_REPORT`) is done by the `sev` crate's
//! `firmware::guest::Firmware` (its `unsafe`, not ours); it returns the
//! report and the host's certificate table, as configfs-tsm's `outblob` and
//! `auxblob` do.

use std::path::Path;
use std::sync::Mutex;

use sev::firmware::guest::Firmware;
use sev::firmware::host::CertType;
use veil_attest::{
    AttestationError, EndorsementTimes, Evidence, EvidenceProducer, PlatformKind, REPORT_LEN,
    ReportData,
};

use crate::cert_table::{CertTableEntry, SnpCertKind};
use crate::endorser::LiveEndorsement;
use crate::error::TeeError;
use crate::producer::snp_evidence;
use crate::quote::outblob_report_data;

/// The SEV-SNP guest device, as the kernel names it.
pub const SEV_GUEST_DEVICE: &str = "/dev/sev-guest";

/// Produces SEV-SNP evidence through `/dev/sev-guest`.
#[derive(Debug)]
pub struct SevGuestProducer {
    firmware: Mutex<Firmware>,
    vmpl: u32,
    fallback: LiveEndorsement,
}

impl SevGuestProducer {
    /// Opens the device at `device` (normally [`SEV_GUEST_DEVICE`]); reports
    /// ship with the host's certificates, else with `fallback`.
    ///
    /// The `sev` crate opens the kernel's path itself: `device` is checked
    /// first so that a missing device gives an error naming it.
    pub fn open(device: &Path, vmpl: u32, fallback: LiveEndorsement) -> Result<Self, TeeError> {
        if !device.exists() {
            return Err(TeeError::SevGuestMissing {
                device: device.to_path_buf(),
            });
        }
        let firmware = Firmware::open().map_err(|e| TeeError::io("open", SEV_GUEST_DEVICE, e))?;
        Ok(SevGuestProducer {
            firmware: Mutex::new(firmware),
            vmpl,
            fallback,
        })
    }

    /// One report for `report_data`, with the host's certificate table.
    fn request(
        &self,
        report_data: &ReportData,
    ) -> Result<(Vec<u8>, Vec<CertTableEntry>), TeeError> {
        let mut firmware = self
            .firmware
            .lock()
            .map_err(|_| device_error("a previous request panicked".into()))?;
        let (report, table) = firmware
            .get_ext_report(None, Some(report_data.0), Some(self.vmpl))
            .map_err(|e| device_error(format!("SNP_GET_EXT_REPORT failed: {e}")))?;
        let entries = table
            .unwrap_or_default()
            .into_iter()
            .map(|entry| CertTableEntry {
                kind: match entry.cert_type {
                    CertType::ARK => SnpCertKind::Ark,
                    CertType::ASK => SnpCertKind::Ask,
                    CertType::VCEK => SnpCertKind::Vcek,
                    CertType::VLEK => SnpCertKind::Vlek,
                    CertType::CRL => SnpCertKind::Crl,
                    CertType::Empty | CertType::OTHER(_) => SnpCertKind::Other([0; 16]),
                },
                data: entry.data,
            })
            .collect();
        Ok((report, entries))
    }

    /// One report for `report_data`, without endorsements.
    pub fn raw_report(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        Ok(self.request(report_data)?.0)
    }

    /// Like [`EvidenceProducer::produce`], with this crate's error type.
    pub fn produce_evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        let (report, entries) = self.request(report_data)?;
        if report.len() != REPORT_LEN {
            return Err(TeeError::Malformed {
                what: "SEV-SNP report",
                detail: format!("{} bytes from {SEV_GUEST_DEVICE}", report.len()),
            });
        }
        if outblob_report_data(PlatformKind::SevSnp, &report) != Some(report_data.0) {
            return Err(TeeError::ReportDataMismatch {
                what: "SEV-SNP report",
            });
        }
        snp_evidence(report, &entries, &self.fallback)
    }
}

fn device_error(detail: String) -> TeeError {
    TeeError::Malformed {
        what: "/dev/sev-guest",
        detail,
    }
}

impl EvidenceProducer for SevGuestProducer {
    fn platform(&self) -> PlatformKind {
        PlatformKind::SevSnp
    }

    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError> {
        Ok(self.produce_evidence(report_data)?)
    }

    fn endorsement_times(&self) -> Option<EndorsementTimes> {
        self.fallback.times()
    }
}
