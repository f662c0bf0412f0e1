//! Producing attestation evidence on real TEE hardware.
//!
//! `veil-attest` verifies evidence and never touches a file; this crate is
//! its I/O edge on the server: it asks the Linux kernel for a signed report
//! through **configfs-tsm** (`/sys/kernel/config/tsm/report`, kernel ≥ 6.7
//! with `CONFIG_TSM_REPORTS`), written the way the kernel ABI
//! (`Documentation/ABI/testing/configfs-tsm-report`) documents it:
//!
//! 1. create a directory under `tsm/report/` (one per request, so that
//!    concurrent requesters do not share state),
//! 2. read `generation`, write the 64 bytes of report data to `inblob`
//!    (and `privlevel` when asked),
//! 3. read `outblob` (and `auxblob`, where an SEV-SNP host puts its
//!    certificate table), read `generation` again and check it advanced by
//!    exactly our writes — otherwise another writer raced us, and the
//!    request is retried a bounded number of times,
//! 4. remove the directory.
//!
//! [`ConfigfsTsmProducer`] wraps that into a
//! [`veil_attest::EvidenceProducer`] for SEV-SNP (the 1184-byte report, with
//! the VCEK/VLEK chain from `auxblob` or from operator-provided files) and
//! TDX (the quote, with operator-provided Intel collateral).
//!
//! What this crate does **not** do: fetch endorsements from AMD KDS or Intel
//! PCS (no network here; operators provide the files), talk to
//! `/dev/sev-guest` (its ioctl needs `unsafe`, which this crate forbids), or
//! produce Nitro or SGX evidence. Nothing here verifies anything: a client
//! checks the evidence with `veil_attest::verify_evidence`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cert_table;
mod configfs;
mod endorsements;
mod error;
mod producer;
mod quote;

pub use cert_table::{CertTableEntry, SnpCertKind, parse_cert_table};
pub use configfs::{
    ConfigfsTsm, DEFAULT_CONFIGFS_ROOT, KernelEmulation, MAX_ATTEMPTS, TsmProvider, TsmReport,
};
pub use endorsements::{SnpCertificates, TdxCollateral};
pub use error::TeeError;
pub use producer::ConfigfsTsmProducer;
pub use quote::{outblob_report_data, unverified_measurement};
