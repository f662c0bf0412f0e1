//! The one error type of this crate: what went wrong talking to the kernel,
//! and what the operator can do about it.

use std::path::PathBuf;

/// Producing evidence failed. Every variant names the file or interface
/// involved, and the ones an operator can fix say how.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum TeeError {
    /// The configfs mount point does not exist.
    #[error(
        "configfs is not mounted at {root}: mount it (`mount -t configfs none /sys/kernel/config`) \
         inside a confidential VM whose kernel has CONFIG_CONFIGFS_FS"
    )]
    ConfigfsNotMounted {
        /// The configfs mount point looked at.
        root: PathBuf,
    },
    /// configfs is mounted but has no `tsm/report` directory.
    #[error(
        "{path} does not exist: configfs-tsm needs Linux >= 6.7 built with CONFIG_TSM_REPORTS and \
         a TEE guest driver loaded (`sev-guest` for SEV-SNP, `tdx-guest` for TDX)"
    )]
    TsmMissing {
        /// The `tsm/report` directory looked for.
        path: PathBuf,
    },
    /// `tsm/report` exists but the kernel refused to create a report entry
    /// because no TEE driver registered as a provider (ENXIO).
    #[error(
        "no configfs-tsm provider is registered (creating {path} failed with ENXIO): this is not a \
         confidential VM, or its guest driver is not loaded (`modprobe sev-guest` or `modprobe tdx-guest`)"
    )]
    NoProvider {
        /// The entry the kernel refused to create.
        path: PathBuf,
    },
    /// The process may not use configfs-tsm.
    #[error(
        "permission denied on {path}: configfs-tsm report entries can only be created by root (or CAP_SYS_ADMIN)"
    )]
    PermissionDenied {
        /// The file or directory refused.
        path: PathBuf,
    },
    /// Any other I/O failure on a configfs-tsm file.
    #[error("cannot {action} {path}: {cause}")]
    Io {
        /// What was being done (`read`, `write`, `create`, `remove`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The underlying error (in the message, so that callers that
        /// print only the top-level error still show it).
        cause: std::io::Error,
    },
    /// `generation` did not advance by exactly our writes on any attempt:
    /// another writer kept changing the report entry between our write and
    /// our read, so the outblob may not be the report for our report data.
    #[error(
        "configfs-tsm report entry was modified by another writer on each of {attempts} attempts \
         (generation {before} before our writes, expected {expected} after, found {found}); \
         refusing to hand out a report that may not carry our report data"
    )]
    GenerationRace {
        /// How many times the request was tried.
        attempts: u32,
        /// `generation` before our writes (last attempt).
        before: u64,
        /// The value our writes alone would give.
        expected: u64,
        /// The value read after `outblob` (last attempt).
        found: u64,
    },
    /// `/dev/sev-guest` does not exist.
    #[error(
        "{device} does not exist: load the SEV-SNP guest driver (`modprobe sev-guest`) inside an \
         SEV-SNP confidential VM"
    )]
    SevGuestMissing {
        /// The device looked for.
        device: PathBuf,
    },
    /// Gramine's `/dev/attestation` interface is not there.
    #[error(
        "{path} does not exist: SGX evidence needs Veil to run inside a Gramine enclave with \
         `sgx.remote_attestation = \"dcap\"` in its manifest"
    )]
    GramineMissing {
        /// The `attestation_type` file looked for.
        path: PathBuf,
    },
    /// Gramine attests, but not with DCAP quotes.
    #[error(
        "Gramine's attestation_type is `{attestation_type}`, not `dcap`: set \
         `sgx.remote_attestation = \"dcap\"` in the manifest (EPID and none cannot be verified by Veil clients)"
    )]
    GramineNotDcap {
        /// What `attestation_type` says.
        attestation_type: String,
    },
    /// The Nitro Secure Module device is not there.
    #[error(
        "{device} does not exist or cannot be opened: Nitro evidence needs Veil to run inside an AWS Nitro Enclave"
    )]
    NsmMissing {
        /// The device looked for.
        device: PathBuf,
    },
    /// `--platform auto` found no TEE interface at all.
    #[error(
        "--platform auto found no TEE: it tried {tried}; it never falls back to simulation \
         (pass --platform simulated to run without a TEE)"
    )]
    NoTee {
        /// Every interface looked for, and why it is unusable.
        tried: String,
    },
    /// Neither SEV-SNP interface is there.
    #[error(
        "no SEV-SNP guest interface: tried configfs-tsm ({configfs}) and /dev/sev-guest ({sev_guest})"
    )]
    NoSevSnpInterface {
        /// Why configfs-tsm is unusable.
        configfs: Box<TeeError>,
        /// Why `/dev/sev-guest` is unusable.
        sev_guest: Box<TeeError>,
    },
    /// The kernel's provider is not one this crate can produce evidence for.
    #[error(
        "configfs-tsm provider `{provider}` is not supported (expected `sev_guest` for SEV-SNP or `tdx_guest` for TDX)"
    )]
    UnsupportedProvider {
        /// The provider name the kernel reported.
        provider: String,
    },
    /// The kernel's provider is not the platform the operator asked for.
    #[error("--platform {requested} asked for, but the configfs-tsm provider is `{found}`")]
    WrongProvider {
        /// The platform requested.
        requested: &'static str,
        /// The provider name the kernel reported.
        found: String,
    },
    /// A configfs-tsm file holds something the ABI does not allow.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// Which file or structure.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
    /// The kernel returned a report that does not carry the report data we
    /// wrote: handing it out would bind the wrong key or nonce.
    #[error("the {what} returned by the kernel does not carry the report data written to inblob")]
    ReportDataMismatch {
        /// `SEV-SNP report` or `TDX quote`.
        what: &'static str,
    },
    /// The endorsements a client needs to verify the evidence are missing.
    #[error("{0}")]
    MissingEndorsement(String),
    /// Fetching an endorsement from AMD KDS or Intel PCS failed.
    #[error("cannot fetch {url}: {detail}")]
    Fetch {
        /// The URL requested.
        url: String,
        /// What went wrong (connection, HTTP status, content).
        detail: String,
    },
    /// An operator-provided endorsement file is unusable.
    #[error("endorsement file {path}: {detail}")]
    EndorsementFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
}

impl TeeError {
    /// Maps an I/O error on `path` to the most precise variant.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
        cause: std::io::Error,
    ) -> Self {
        let path = path.into();
        match cause.kind() {
            std::io::ErrorKind::PermissionDenied => TeeError::PermissionDenied { path },
            _ => TeeError::Io {
                action,
                path,
                cause,
            },
        }
    }
}

impl From<TeeError> for veil_attest::AttestationError {
    /// What a server's producer reports through
    /// [`veil_attest::EvidenceProducer::produce`]: the evidence could not be
    /// produced (`format`), with this error's message.
    fn from(e: TeeError) -> Self {
        veil_attest::AttestationError::new(
            veil_attest::Check::Format,
            format!("cannot produce evidence: {e}"),
        )
    }
}
