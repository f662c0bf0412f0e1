//! The endorsements a client needs next to the hardware's report: the
//! SEV-SNP certificate chain, Intel's TDX collateral.
//!
//! They come from the host (`auxblob`), from files the operator provides,
//! or from AMD KDS / Intel PCS through the endorsement cache
//! ([`crate::Endorser`]).

use std::path::{Path, PathBuf};

use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};

use crate::cert_table::{CertTableEntry, SnpCertKind};
use crate::error::TeeError;

/// The chain that endorses an SEV-SNP report's signing key, DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnpCertificates {
    /// The VCEK (or VLEK) that signs the reports.
    pub leaf: Vec<u8>,
    /// The ASK (or ASVK) that endorses it.
    pub ask: Vec<u8>,
    /// The ARK, if provided; the client compares it to its pinned root.
    pub ark: Option<Vec<u8>>,
}

impl SnpCertificates {
    /// The chain from a host's certificate table, or `None` when the table
    /// has no VCEK/VLEK. A VLEK wins over a VCEK (it is what signs reports
    /// where the cloud provider installed one).
    pub fn from_cert_table(entries: &[CertTableEntry]) -> Result<Option<Self>, TeeError> {
        let find = |kind| entries.iter().find(|e| e.kind == kind).map(|e| &e.data);
        let Some(leaf) = find(SnpCertKind::Vlek).or_else(|| find(SnpCertKind::Vcek)) else {
            return Ok(None);
        };
        let ask = find(SnpCertKind::Ask).ok_or_else(|| {
            TeeError::MissingEndorsement(
                "the host's certificate table (auxblob) has a VCEK/VLEK but no ASK".into(),
            )
        })?;
        let ark = find(SnpCertKind::Ark);
        let table = Path::new("auxblob");
        Ok(Some(SnpCertificates {
            leaf: checked_der(table, leaf)?,
            ask: checked_der(table, ask)?,
            ark: ark.map(|a| checked_der(table, a)).transpose()?,
        }))
    }

    /// The chain from an operator's directory: `vcek.der` or `vcek.pem`
    /// (or `vlek.*`), `ask.pem` or `ask.der`, and optionally `ark.pem` or
    /// `ark.der` — the files AMD KDS serves for the chip.
    pub fn from_dir(dir: &Path) -> Result<Self, TeeError> {
        if !dir.is_dir() {
            return Err(TeeError::EndorsementFile {
                path: dir.to_path_buf(),
                detail: "not a directory (expected vcek.der or vcek.pem, and ask.pem)".into(),
            });
        }
        let leaf = read_cert(dir, "vlek")?
            .or(read_cert(dir, "vcek")?)
            .ok_or_else(|| TeeError::EndorsementFile {
                path: dir.to_path_buf(),
                detail: "holds no vcek.der, vcek.pem, vlek.der or vlek.pem".into(),
            })?;
        let ask = read_cert(dir, "ask")?.ok_or_else(|| TeeError::EndorsementFile {
            path: dir.to_path_buf(),
            detail: "holds no ask.pem or ask.der".into(),
        })?;
        Ok(SnpCertificates {
            leaf,
            ask,
            ark: read_cert(dir, "ark")?,
        })
    }

    /// The chain as [`veil_attest::Evidence::certificates`] carries it:
    /// leaf first.
    pub fn to_chain(&self) -> Vec<Vec<u8>> {
        let mut chain = vec![self.leaf.clone(), self.ask.clone()];
        chain.extend(self.ark.clone());
        chain
    }
}

/// Reads `dir/<stem>.der` or `dir/<stem>.pem`, as DER; `None` if neither exists.
fn read_cert(dir: &Path, stem: &str) -> Result<Option<Vec<u8>>, TeeError> {
    let der_path = dir.join(format!("{stem}.der"));
    if der_path.is_file() {
        let der = std::fs::read(&der_path).map_err(|e| TeeError::io("read", &der_path, e))?;
        return checked_der(&der_path, &der).map(Some);
    }
    let pem_path = dir.join(format!("{stem}.pem"));
    if pem_path.is_file() {
        let pem = std::fs::read(&pem_path).map_err(|e| TeeError::io("read", &pem_path, e))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| TeeError::EndorsementFile {
            path: pem_path.clone(),
            detail: format!("not a PEM certificate: {e}"),
        })?;
        let der = cert.to_der().map_err(|e| TeeError::EndorsementFile {
            path: pem_path,
            detail: format!("cannot re-encode as DER: {e}"),
        })?;
        return Ok(Some(der));
    }
    Ok(None)
}

/// Refuses bytes that do not parse as one X.509 certificate (the client
/// would refuse them anyway; this says so at the server's start).
fn checked_der(source: &Path, der: &[u8]) -> Result<Vec<u8>, TeeError> {
    Certificate::from_der(der).map_err(|e| TeeError::EndorsementFile {
        path: source.to_path_buf(),
        detail: format!("not a DER certificate: {e}"),
    })?;
    Ok(der.to_vec())
}

/// Intel PCS collateral for TDX and SGX quotes (`QuoteCollateralV3` JSON:
/// TCB info, QE identity, CRLs and their chains), provided by the operator
/// or fetched from PCS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TdxCollateral {
    json: Vec<u8>,
    source: PathBuf,
}

impl TdxCollateral {
    /// Reads the collateral file and checks that it is a JSON object.
    /// Whether it matches the platform's quotes is the client's check.
    pub fn from_file(path: &Path) -> Result<Self, TeeError> {
        let json = std::fs::read(path).map_err(|e| TeeError::io("read", path, e))?;
        Self::from_json(json, path.to_path_buf())
    }

    /// Collateral from JSON bytes that came from `source` (a file, the
    /// endorsement cache); checked to be a JSON object.
    pub fn from_json(json: Vec<u8>, source: PathBuf) -> Result<Self, TeeError> {
        let path = &source;
        match serde_json::from_slice::<serde_json::Value>(&json) {
            Ok(serde_json::Value::Object(_)) => Ok(TdxCollateral { json, source }),
            Ok(_) => Err(TeeError::EndorsementFile {
                path: path.to_path_buf(),
                detail: "is JSON but not an object (expected Intel PCS QuoteCollateralV3)".into(),
            }),
            Err(e) => Err(TeeError::EndorsementFile {
                path: path.to_path_buf(),
                detail: format!("is not JSON: {e}"),
            }),
        }
    }

    /// The JSON bytes, as [`veil_attest::Evidence::collateral`] carries them.
    pub fn as_bytes(&self) -> &[u8] {
        &self.json
    }

    /// The file it was read from.
    pub fn source(&self) -> &Path {
        &self.source
    }
}
