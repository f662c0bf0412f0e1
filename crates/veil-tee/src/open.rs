//! One entry point from the operator's platform choice to a working
//! producer: [`open_producer`] finds the TEE interface (detecting it for
//! `auto`, never falling back to simulation), attaches the endorsements
//! (operator files, the host's, or fetched and cached), and proves it all
//! works by producing one report before the server starts.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use veil_attest::{Evidence, EvidenceProducer, PlatformKind, ReportData};

use crate::cache::EndorsementCache;
use crate::configfs::{ConfigfsTsm, DEFAULT_CONFIGFS_ROOT, TsmProvider};
use crate::endorsements::{SnpCertificates, TdxCollateral};
use crate::endorser::{Endorsement, EndorsementTarget, Endorser, LiveEndorsement};
use crate::error::TeeError;
use crate::fetch::{EndorsementSources, Fetcher};
use crate::gramine::{DEFAULT_GRAMINE_ATTESTATION_DIR, GramineAttestation, GramineSgxProducer};
use crate::kds::{SnpProduct, VcekRequest};
use crate::nsm::{NSM_DEVICE, NsmProducer};
use crate::pcs::PcsRequest;
use crate::producer::ConfigfsTsmProducer;
use crate::sev_guest::{SEV_GUEST_DEVICE, SevGuestProducer};

/// The hardware platform asked for (`simulated` is not one: it needs no
/// interface, and the server builds it itself).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HardwarePlatform {
    /// AMD SEV-SNP: configfs-tsm, else `/dev/sev-guest`.
    SevSnp,
    /// Intel TDX: configfs-tsm.
    Tdx,
    /// Intel SGX: Gramine's `/dev/attestation`.
    Sgx,
    /// AWS Nitro Enclaves: `/dev/nsm`.
    Nitro,
    /// Whichever of the above this machine has; an error if none.
    Auto,
}

/// How to fetch endorsements the operator did not provide.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// AMD KDS, Intel PCS and the Intel root CRL.
    pub sources: EndorsementSources,
    /// The disk cache (normally `DATA_DIR/endorsements`).
    pub cache_dir: PathBuf,
    /// Timeout of each request.
    pub timeout: Duration,
    /// How often the background task checks for expiry.
    pub check_every: Duration,
}

impl FetchOptions {
    /// The vendors' services, caching in `cache_dir`, 30 s per request,
    /// checked hourly.
    pub fn new(cache_dir: impl Into<PathBuf>) -> Self {
        FetchOptions {
            sources: EndorsementSources::default(),
            cache_dir: cache_dir.into(),
            timeout: Duration::from_secs(30),
            check_every: Duration::from_secs(3600),
        }
    }
}

/// Everything [`open_producer`] needs; the paths default to the kernel's
/// and Gramine's, and are changed only by tests.
#[non_exhaustive]
#[derive(Debug, Clone)]
pub struct PlatformOptions {
    /// The platform asked for.
    pub platform: HardwarePlatform,
    /// The configfs-tsm interface (under the configfs mount point).
    pub configfs: ConfigfsTsm,
    /// The SEV-SNP guest device.
    pub sev_guest_device: PathBuf,
    /// Gramine's attestation directory.
    pub gramine_dir: PathBuf,
    /// The Nitro Secure Module device.
    pub nsm_device: PathBuf,
    /// SEV-SNP: the operator's VCEK chain directory (`--snp-certs`).
    pub snp_certs: Option<PathBuf>,
    /// TDX and SGX: the operator's Intel collateral (`--tdx-collateral`).
    pub intel_collateral: Option<PathBuf>,
    /// SEV-SNP: the EPYC product, for reports without CPUID (version 2).
    pub snp_product: Option<SnpProduct>,
    /// Fetch endorsements the operator did not provide; `None` never fetches.
    pub fetch: Option<FetchOptions>,
}

impl PlatformOptions {
    /// `platform` on the standard interfaces, no operator files, no fetching.
    pub fn new(platform: HardwarePlatform) -> Self {
        PlatformOptions {
            platform,
            configfs: ConfigfsTsm::new(DEFAULT_CONFIGFS_ROOT),
            sev_guest_device: SEV_GUEST_DEVICE.into(),
            gramine_dir: DEFAULT_GRAMINE_ATTESTATION_DIR.into(),
            nsm_device: NSM_DEVICE.into(),
            snp_certs: None,
            intel_collateral: None,
            snp_product: None,
            fetch: None,
        }
    }
}

/// A producer ready to serve, and what was found on the way.
pub struct OpenedProducer {
    /// The producer.
    pub producer: Box<dyn EvidenceProducer>,
    /// The interface used (`configfs-tsm`, `/dev/sev-guest`, …).
    pub interface: &'static str,
    /// The start-up report (report data all zero): for logging the
    /// measurement the hardware reports.
    pub probe: Evidence,
    /// The endorser keeping fetched endorsements fresh, if any were fetched:
    /// start [`Endorser::spawn_refresh`] on it.
    pub endorser: Option<Arc<Endorser>>,
}

impl fmt::Debug for OpenedProducer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenedProducer")
            .field("platform", &self.producer.platform())
            .field("interface", &self.interface)
            .field("endorser", &self.endorser)
            .finish()
    }
}

/// A producer of this crate, with its typed errors and its raw report.
trait TeeProducer: EvidenceProducer + 'static {
    fn evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError>;
    fn raw(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError>;
}

impl TeeProducer for ConfigfsTsmProducer {
    fn evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        self.produce_evidence(report_data)
    }
    fn raw(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        self.raw_report(report_data)
    }
}

impl TeeProducer for SevGuestProducer {
    fn evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        self.produce_evidence(report_data)
    }
    fn raw(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        self.raw_report(report_data)
    }
}

impl TeeProducer for GramineSgxProducer {
    fn evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        self.produce_evidence(report_data)
    }
    fn raw(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        self.raw_quote(report_data)
    }
}

impl TeeProducer for NsmProducer {
    fn evidence(&self, report_data: &ReportData) -> Result<Evidence, TeeError> {
        self.produce_evidence(report_data)
    }
    fn raw(&self, report_data: &ReportData) -> Result<Vec<u8>, TeeError> {
        Ok(self.produce_evidence(report_data)?.report)
    }
}

/// The interface found for a platform.
enum Interface {
    Configfs(ConfigfsTsm, TsmProvider),
    SevGuest,
    Gramine(GramineAttestation),
    Nsm,
}

/// Finds the interface for `opts.platform`.
fn find_interface(opts: &PlatformOptions) -> Result<Interface, TeeError> {
    let tsm = opts.configfs.clone();
    let gramine = GramineAttestation::new(&opts.gramine_dir);
    match opts.platform {
        HardwarePlatform::SevSnp => match tsm.provider() {
            Ok(TsmProvider::SevGuest) => Ok(Interface::Configfs(tsm, TsmProvider::SevGuest)),
            Ok(other) => Err(TeeError::WrongProvider {
                requested: "sev-snp",
                found: other.as_str().to_owned(),
            }),
            Err(configfs) if opts.sev_guest_device.exists() => {
                tracing::info!(configfs = %configfs, "configfs-tsm unusable; using /dev/sev-guest");
                Ok(Interface::SevGuest)
            }
            Err(configfs) => Err(TeeError::NoSevSnpInterface {
                configfs: Box::new(configfs),
                sev_guest: Box::new(TeeError::SevGuestMissing {
                    device: opts.sev_guest_device.clone(),
                }),
            }),
        },
        HardwarePlatform::Tdx => {
            tsm.check_interface()?;
            match tsm.provider()? {
                TsmProvider::TdxGuest => Ok(Interface::Configfs(tsm, TsmProvider::TdxGuest)),
                other => Err(TeeError::WrongProvider {
                    requested: "tdx",
                    found: other.as_str().to_owned(),
                }),
            }
        }
        HardwarePlatform::Sgx => {
            gramine.check_interface()?;
            Ok(Interface::Gramine(gramine))
        }
        HardwarePlatform::Nitro => Ok(Interface::Nsm),
        HardwarePlatform::Auto => {
            let configfs = match tsm.provider() {
                Ok(provider) => return Ok(Interface::Configfs(tsm, provider)),
                Err(e) => e,
            };
            if opts.sev_guest_device.exists() {
                return Ok(Interface::SevGuest);
            }
            let gramine_error = match gramine.check_interface() {
                Ok(()) => return Ok(Interface::Gramine(gramine)),
                // Gramine is there but misconfigured: say so rather than
                // look further.
                Err(e @ TeeError::GramineNotDcap { .. }) => return Err(e),
                Err(e) => e,
            };
            if opts.nsm_device.exists() {
                return Ok(Interface::Nsm);
            }
            Err(TeeError::NoTee {
                tried: format!(
                    "configfs-tsm ({configfs}); {} (absent); Gramine ({gramine_error}); {} (absent)",
                    opts.sev_guest_device.display(),
                    opts.nsm_device.display()
                ),
            })
        }
    }
}

/// Opens the producer for `opts`, with endorsements attached, and produces
/// one report to prove it works (`now` is the time fetched endorsements are
/// judged at). Operator files win; without them the host's are used
/// (SEV-SNP `auxblob`), else they are fetched if `opts.fetch` allows.
pub async fn open_producer(opts: &PlatformOptions, now: u64) -> Result<OpenedProducer, TeeError> {
    let interface = find_interface(opts)?;
    let live = LiveEndorsement::default();
    match interface {
        Interface::Configfs(tsm, TsmProvider::SevGuest) => {
            let has_files = load_snp_files(opts, &live)?;
            let producer = ConfigfsTsmProducer::sev_snp_live(tsm, live.clone())?;
            finish(producer, "configfs-tsm", live, has_files, opts, now).await
        }
        Interface::SevGuest => {
            let has_files = load_snp_files(opts, &live)?;
            let producer = SevGuestProducer::open(&opts.sev_guest_device, 0, live.clone())?;
            finish(producer, "/dev/sev-guest", live, has_files, opts, now).await
        }
        Interface::Configfs(tsm, TsmProvider::TdxGuest) => {
            let has_files = load_intel_files(opts, &live)?;
            let producer = ConfigfsTsmProducer::tdx_live(tsm, live.clone())?;
            finish(producer, "configfs-tsm", live, has_files, opts, now).await
        }
        Interface::Gramine(gramine) => {
            let has_files = load_intel_files(opts, &live)?;
            let producer = GramineSgxProducer::new(gramine, live.clone())?;
            finish(
                producer,
                "Gramine /dev/attestation",
                live,
                has_files,
                opts,
                now,
            )
            .await
        }
        Interface::Nsm => {
            let producer = NsmProducer::open(&opts.nsm_device)?;
            finish(producer, "/dev/nsm", live, true, opts, now).await
        }
    }
}

fn load_snp_files(opts: &PlatformOptions, live: &LiveEndorsement) -> Result<bool, TeeError> {
    if opts.intel_collateral.is_some() {
        tracing::warn!("--tdx-collateral ignored: the platform is sev-snp");
    }
    match &opts.snp_certs {
        Some(dir) => {
            live.replace(Endorsement::Snp(SnpCertificates::from_dir(dir)?));
            Ok(true)
        }
        None => Ok(false),
    }
}

fn load_intel_files(opts: &PlatformOptions, live: &LiveEndorsement) -> Result<bool, TeeError> {
    if opts.snp_certs.is_some() {
        tracing::warn!("--snp-certs ignored: the platform is Intel (tdx or sgx)");
    }
    match &opts.intel_collateral {
        Some(file) => {
            live.replace(Endorsement::Intel(TdxCollateral::from_file(file)?));
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Probes the producer; if it lacks endorsements the operator did not
/// provide, fetches them (through the cache) and probes again.
async fn finish<P: TeeProducer>(
    producer: P,
    interface: &'static str,
    live: LiveEndorsement,
    has_operator_files: bool,
    opts: &PlatformOptions,
    now: u64,
) -> Result<OpenedProducer, TeeError> {
    let zero = ReportData([0; 64]);
    let (probe, endorser) = match producer.evidence(&zero) {
        Ok(probe) => (probe, None),
        Err(TeeError::MissingEndorsement(why)) if !has_operator_files => {
            let Some(fetch) = &opts.fetch else {
                return Err(TeeError::MissingEndorsement(format!(
                    "{why}; fetching endorsements is turned off"
                )));
            };
            let raw = producer.raw(&zero)?;
            let target = match producer.platform() {
                PlatformKind::SevSnp => {
                    EndorsementTarget::Snp(VcekRequest::for_report(&raw, opts.snp_product)?)
                }
                platform => EndorsementTarget::Intel(PcsRequest::for_quote(platform, &raw)?),
            };
            let endorser = Endorser::with_live(
                EndorsementCache::new(&fetch.cache_dir),
                Fetcher::new(fetch.sources.clone(), fetch.timeout)?,
                target,
                live,
            );
            let origin = endorser.load(now).await?;
            tracing::info!(?origin, cache = %endorser.cache_path().display(), "endorsements loaded");
            (producer.evidence(&zero)?, Some(Arc::new(endorser)))
        }
        Err(e) => return Err(e),
    };
    Ok(OpenedProducer {
        producer: Box::new(producer),
        interface,
        probe,
        endorser,
    })
}
