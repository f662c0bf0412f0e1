//! Intel SGX quotes through Gramine's `/dev/attestation` pseudo-filesystem
//! (Gramine documentation, "Attestation and Secret Provisioning": the
//! `/dev/attestation/` interface).
//!
//! Inside a Gramine enclave with `sgx.remote_attestation = "dcap"`:
//! `attestation_type` reads `dcap`; writing 64 bytes to `user_report_data`
//! and then reading `quote` returns a DCAP quote whose REPORTDATA is those
//! bytes. The files are process-wide, so requests are serialised.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use veil_attest::{
    AttestationError, EndorsementTimes, Evidence, EvidenceProducer, PlatformKind, ReportData,
    trim_dcap_quote,
};

use crate::endorser::{Endorsement, LiveEndorsement};
use crate::error::TeeError;
use crate::quote::outblob_report_data;

/// Where Gramine mounts its attestation interface.
pub const DEFAULT_GRAMINE_ATTESTATION_DIR: &str = "/dev/attestation";

/// The Gramine attestation interface under a directory (normally
/// [`DEFAULT_GRAMINE_ATTESTATION_DIR`]; tests use a temporary one laid out
/// the same way).
#[derive(Debug, Clone)]
pub struct GramineAttestation {
    dir: PathBuf,
}

impl GramineAttestation {
    /// The interface under `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        GramineAttestation { dir: dir.into() }
    }

    /// Checks that the interface exists and does DCAP attestation.
    pub fn check_interface(&self) -> Result<(), TeeError> {
        let type_file = self.dir.join("attestation_type");
        if !type_file.is_file() {
            return Err(TeeError::GramineMissing {
                path: type_file.clone(),
            });
        }
        let kind =
            std::fs::read_to_string(&type_file).map_err(|e| TeeError::io("read", &type_file, e))?;
        match kind.trim() {
            "dcap" => Ok(()),
            other => Err(TeeError::GramineNotDcap {
                attestation_type: other.to_owned(),
            }),
        }
    }

    /// One quote for `report_data`: write `user_report_data`, read `quote`.
    pub fn quote(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        let user_report_data = self.dir.join("user_report_data");
        std::fs::write(&user_report_data, report_data.0)
            .map_err(|e| TeeError::io("write", &user_report_data, e))?;
        let quote_file = self.dir.join("quote");
        let raw = std::fs::read(&quote_file).map_err(|e| TeeError::io("read", &quote_file, e))?;
        trim_dcap_quote(&raw).map_err(|e| TeeError::Malformed {
            what: "Gramine quote",
            detail: e.detail,
        })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Produces SGX evidence through Gramine, with Intel collateral (operator
/// file or fetched from PCS) read from a [`LiveEndorsement`].
#[derive(Debug)]
pub struct GramineSgxProducer {
    attestation: Mutex<GramineAttestation>,
    collateral: LiveEndorsement,
}

impl GramineSgxProducer {
    /// A producer over `attestation`; fails unless it does DCAP.
    pub fn new(
        attestation: GramineAttestation,
        collateral: LiveEndorsement,
    ) -> Result<Self, TeeError> {
        attestation.check_interface()?;
        Ok(GramineSgxProducer {
            attestation: Mutex::new(attestation),
            collateral,
        })
    }

    /// One quote for `report_data`, without collateral (for finding which
    /// collateral to fetch).
    pub fn raw_quote(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        let attestation = self.attestation.lock().map_err(|_| TeeError::Malformed {
            what: "Gramine attestation",
            detail: "a previous request panicked".into(),
        })?;
        let quote = attestation.quote(report_data)?;
        if outblob_report_data(PlatformKind::Sgx, &quote) != Some(report_data.0) {
            return Err(TeeError::ReportDataMismatch { what: "SGX quote" });
        }
        Ok(quote)
    }

    /// Like [`EvidenceProducer::produce`], with this crate's error type.
    pub fn produce_evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        let quote = self.raw_quote(report_data)?;
        match self.collateral.get() {
            Some(Endorsement::Intel(collateral)) => {
                let mut evidence = Evidence::new(PlatformKind::Sgx, quote, Vec::new());
                evidence.collateral = collateral.as_bytes().to_vec();
                Ok(evidence)
            }
            _ => Err(TeeError::MissingEndorsement(
                "no Intel collateral for the SGX quote: none given (--tdx-collateral, which \
                 also serves SGX) and none fetched from Intel PCS"
                    .into(),
            )),
        }
    }
}

impl EvidenceProducer for GramineSgxProducer {
    fn platform(&self) -> PlatformKind {
        PlatformKind::Sgx
    }

    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError> {
        Ok(self.produce_evidence(report_data)?)
    }

    fn endorsement_times(&self) -> Option<EndorsementTimes> {
        self.collateral.times()
    }
}
