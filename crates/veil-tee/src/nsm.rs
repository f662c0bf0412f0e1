//! AWS Nitro Enclaves attestation documents through the Nitro Secure Module
//! (`/dev/nsm`), with the `aws-nitro-enclaves-nsm-api` crate doing the
//! ioctl.
//!
//! Veil binds its 64 bytes of report data in the document's `user_data`
//! (where `veil_attest`'s Nitro verifier looks for them); `nonce` and
//! `public_key` stay empty. The document carries its own certificate chain
//! to the AWS Nitro root: no endorsements are fetched.

use std::path::Path;

use aws_nitro_enclaves_nsm_api::api::{ErrorCode, Request, Response};
use aws_nitro_enclaves_nsm_api::driver::{nsm_exit, nsm_init, nsm_process_request};
use serde_bytes::ByteBuf;
use veil_attest::{AttestationError, Evidence, EvidenceProducer, PlatformKind, ReportData};

use crate::error::TeeError;

/// The Nitro Secure Module device inside an enclave.
pub const NSM_DEVICE: &str = "/dev/nsm";

/// The NSM request for a document binding `report_data` (pure: what is sent).
pub fn attestation_request(report_data: &ReportData) -> Request {
    Request::Attestation {
        user_data: Some(ByteBuf::from(report_data.0.to_vec())),
        nonce: None,
        public_key: None,
    }
}

/// The document in an NSM response, or what the NSM said instead (pure).
pub fn attestation_document(response: Response) -> Result<Vec<u8>, TeeError> {
    let nsm_error = |detail: String| TeeError::Malformed {
        what: "NSM response",
        detail,
    };
    match response {
        Response::Attestation { document } if !document.is_empty() => Ok(document),
        Response::Attestation { .. } => Err(nsm_error("an empty attestation document".into())),
        Response::Error(code) => Err(nsm_error(format!("the NSM refused: {}", describe(code)))),
        _ => Err(nsm_error("not an attestation response".into())),
    }
}

fn describe(code: ErrorCode) -> &'static str {
    match code {
        ErrorCode::InvalidArgument => "invalid argument",
        ErrorCode::InputTooLarge => "input too large",
        ErrorCode::BufferTooSmall => "buffer too small",
        ErrorCode::InternalError => "internal error",
        _ => "error",
    }
}

/// Produces Nitro evidence through `/dev/nsm`.
#[derive(Debug)]
pub struct NsmProducer {
    fd: i32,
}

impl NsmProducer {
    /// Opens the NSM. `device` is checked first (the crate opens
    /// [`NSM_DEVICE`] itself), so that a missing device gives an error
    /// naming it.
    pub fn open(device: &Path) -> Result<Self, TeeError> {
        if !device.exists() {
            return Err(TeeError::NsmMissing {
                device: device.to_path_buf(),
            });
        }
        match nsm_init() {
            fd if fd >= 0 => Ok(NsmProducer { fd }),
            _ => Err(TeeError::NsmMissing {
                device: NSM_DEVICE.into(),
            }),
        }
    }

    /// Like [`EvidenceProducer::produce`], with this crate's error type.
    pub fn produce_evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        let response = nsm_process_request(self.fd, attestation_request(report_data));
        let document = attestation_document(response)?;
        Ok(Evidence::new(PlatformKind::Nitro, document, Vec::new()))
    }
}

impl Drop for NsmProducer {
    fn drop(&mut self) {
        nsm_exit(self.fd);
    }
}

impl EvidenceProducer for NsmProducer {
    fn platform(&self) -> PlatformKind {
        PlatformKind::Nitro
    }

    fn produce(&self, report_data: &ReportData) -> Result<Evidence, AttestationError> {
        Ok(self.produce_evidence(report_data)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_the_report_data_in_user_data_only() {
        let Request::Attestation {
            user_data,
            nonce,
            public_key,
        } = attestation_request(&ReportData([7; 64]))
        else {
            panic!("not an attestation request");
        };
        assert_eq!(user_data.unwrap().into_vec(), vec![7; 64]);
        assert!(nonce.is_none() && public_key.is_none());
    }

    #[test]
    fn response_yields_the_document_or_names_the_nsm_error() {
        let doc = attestation_document(Response::Attestation {
            document: vec![1, 2, 3],
        })
        .unwrap();
        assert_eq!(doc, [1, 2, 3]);
        let err = attestation_document(Response::Error(ErrorCode::InputTooLarge)).unwrap_err();
        assert!(err.to_string().contains("input too large"), "{err}");
        assert!(attestation_document(Response::Attestation { document: vec![] }).is_err());
    }

    #[test]
    fn missing_device_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = NsmProducer::open(&dir.path().join("nsm")).unwrap_err();
        assert!(err.to_string().contains("nsm"), "{err}");
        assert!(err.to_string().contains("Nitro Enclave"), "{err}");
    }
}
