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
//! the VCEK/VLEK chain from `auxblob`, operator-provided files, or AMD KDS)
//! and TDX (the quote, with Intel collateral from files or Intel PCS).
//!
//! Endorsements a client needs are shipped inside every evidence bundle, so
//! that it verifies offline. An [`Endorser`] fetches them from AMD KDS
//! ([`VcekRequest`]: the chip's VCEK at its reported TCB, and the ASK/ARK)
//! or Intel PCS ([`PcsRequest`]: PCK CRL, TCB info, QE identity, root CA
//! CRL), caches them on disk ([`EndorsementCache`]) and refreshes them
//! before they expire ([`needs_refresh`]). Operator files win: a site
//! without network access provides them and nothing is fetched.
//!
//! Nothing here verifies anything: a client checks the evidence with
//! `veil_attest::verify_evidence`. Nothing here has run on TEE hardware or
//! against the real AMD and Intel services: the tests use a fake configfs
//! tree and a local mock of KDS and PCS serving real vectors.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cache;
mod cert_table;
mod configfs;
mod endorsements;
mod endorser;
mod error;
mod fetch;
mod gramine;
mod kds;
mod nsm;
mod open;
mod pcs;
mod producer;
mod quote;
mod sev_guest;

pub use cache::{
    EndorsementCache, REFRESH_MARGIN_SECS, collateral_next_update, needs_refresh,
    snp_chain_not_after,
};
pub use cert_table::{CertTableEntry, SnpCertKind, parse_cert_table};
pub use configfs::{
    ConfigfsTsm, DEFAULT_CONFIGFS_ROOT, KernelEmulation, MAX_ATTEMPTS, TsmProvider, TsmReport,
};
pub use endorsements::{SnpCertificates, TdxCollateral};
pub use endorser::{Endorsement, EndorsementOrigin, EndorsementTarget, Endorser, LiveEndorsement};
pub use error::TeeError;
pub use fetch::{EndorsementSources, Fetcher};
pub use gramine::{DEFAULT_GRAMINE_ATTESTATION_DIR, GramineAttestation, GramineSgxProducer};
pub use kds::{DEFAULT_KDS_URL, KdsTcb, SnpProduct, VcekRequest};
pub use nsm::{NSM_DEVICE, NsmProducer, attestation_document, attestation_request};
pub use open::{FetchOptions, HardwarePlatform, OpenedProducer, PlatformOptions, open_producer};
pub use pcs::{DEFAULT_INTEL_ROOT_CRL_URL, DEFAULT_PCS_URL, PcsRequest};
pub use producer::ConfigfsTsmProducer;
pub use quote::{outblob_report_data, unverified_measurement};
pub use sev_guest::{SEV_GUEST_DEVICE, SevGuestProducer};
