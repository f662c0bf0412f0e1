//! The configfs-tsm report interface: one report request, done the way
//! `Documentation/ABI/testing/configfs-tsm-report` documents it.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use veil_attest::PlatformKind;

use crate::error::TeeError;

/// Where configfs is mounted on Linux.
pub const DEFAULT_CONFIGFS_ROOT: &str = "/sys/kernel/config";

/// How many times a request is tried when `generation` shows another writer
/// raced us, before giving up with [`TeeError::GenerationRace`].
pub const MAX_ATTEMPTS: u32 = 3;

/// The largest privilege level the ABI accepts (`TSM_PRIVLEVEL_MAX`).
const PRIVLEVEL_MAX: u8 = 3;

/// `ENXIO`: the kernel's answer to `mkdir` under `tsm/report` when no TEE
/// driver registered as a provider.
const ENXIO: i32 = 6;

/// Entry names are unique per process and request, so that two requests
/// never share a report entry (the ABI's advice for avoiding conflicts).
static NEXT_ENTRY: AtomicU64 = AtomicU64::new(0);

/// A TEE driver registered with configfs-tsm, as named in its `provider`
/// attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TsmProvider {
    /// `sev_guest`: the AMD SEV-SNP guest driver; `outblob` is the SNP
    /// attestation report, `auxblob` the host's certificate table.
    SevGuest,
    /// `tdx_guest`: the Intel TDX guest driver; `outblob` is a DCAP quote.
    TdxGuest,
}

impl TsmProvider {
    /// The name the kernel writes to `provider`.
    pub fn as_str(self) -> &'static str {
        match self {
            TsmProvider::SevGuest => "sev_guest",
            TsmProvider::TdxGuest => "tdx_guest",
        }
    }

    /// The platform whose evidence this provider produces.
    pub fn platform(self) -> PlatformKind {
        match self {
            TsmProvider::SevGuest => PlatformKind::SevSnp,
            TsmProvider::TdxGuest => PlatformKind::Tdx,
        }
    }

    /// Parses the content of a `provider` attribute.
    pub fn from_kernel_name(name: &str) -> Result<Self, TeeError> {
        match name.trim() {
            "sev_guest" => Ok(TsmProvider::SevGuest),
            "tdx_guest" => Ok(TsmProvider::TdxGuest),
            other => Err(TeeError::UnsupportedProvider {
                provider: other.to_owned(),
            }),
        }
    }
}

impl fmt::Display for TsmProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What one report request returned. Nothing in it is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsmReport {
    /// The `provider` attribute, trimmed.
    pub provider: String,
    /// The `outblob` attribute: the provider's report or quote.
    pub outblob: Vec<u8>,
    /// The `auxblob` attribute, when the kernel has one and it is not empty.
    pub auxblob: Option<Vec<u8>>,
}

/// What the kernel does by itself when a configfs-tsm entry is created,
/// written or removed.
///
/// On a real configfs mount the kernel does all of it and no emulation is
/// installed ([`ConfigfsTsm::new`]). Tests lay out a temporary directory like
/// the kernel's and install an emulation that creates the attribute files,
/// fills `outblob` and advances `generation`, so every file operation of the
/// producer runs unchanged against it.
pub trait KernelEmulation: Send + Sync {
    /// After `mkdir` of `entry`: the kernel populates its attributes.
    fn entry_created(&self, entry: &Path) -> io::Result<()>;
    /// After a write to `entry/attribute` was closed.
    fn attribute_written(&self, entry: &Path, attribute: &str) -> io::Result<()>;
    /// Before `rmdir` of `entry`: configfs removes attribute files itself.
    fn entry_removing(&self, entry: &Path) -> io::Result<()>;
}

/// The configfs-tsm report interface under a configfs mount point.
#[derive(Clone)]
pub struct ConfigfsTsm {
    root: PathBuf,
    privlevel: Option<u8>,
    emulation: Option<Arc<dyn KernelEmulation>>,
}

impl fmt::Debug for ConfigfsTsm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConfigfsTsm")
            .field("root", &self.root)
            .field("privlevel", &self.privlevel)
            .field("emulated", &self.emulation.is_some())
            .finish()
    }
}

impl ConfigfsTsm {
    /// The interface under the configfs mount point `configfs_root`
    /// (normally [`DEFAULT_CONFIGFS_ROOT`]).
    pub fn new(configfs_root: impl Into<PathBuf>) -> Self {
        ConfigfsTsm {
            root: configfs_root.into(),
            privlevel: None,
            emulation: None,
        }
    }

    /// The interface under a directory laid out like configfs, with
    /// `emulation` standing in for the kernel. For tests only: nothing it
    /// returns comes from hardware.
    pub fn with_kernel_emulation(
        configfs_root: impl Into<PathBuf>,
        emulation: Arc<dyn KernelEmulation>,
    ) -> Self {
        ConfigfsTsm {
            root: configfs_root.into(),
            privlevel: None,
            emulation: Some(emulation),
        }
    }

    /// Also writes `privlevel` (e.g. the SEV-SNP VMPL the report is for)
    /// before `inblob`. The ABI accepts 0 to 3; the kernel may require more
    /// (`privlevel_floor`).
    pub fn with_privlevel(mut self, privlevel: u8) -> Result<Self, TeeError> {
        if privlevel > PRIVLEVEL_MAX {
            return Err(TeeError::Malformed {
                what: "privlevel",
                detail: format!("{privlevel} is above the ABI's maximum {PRIVLEVEL_MAX}"),
            });
        }
        self.privlevel = Some(privlevel);
        Ok(self)
    }

    /// `<configfs root>/tsm/report`, where report entries are created.
    pub fn report_dir(&self) -> PathBuf {
        self.root.join("tsm").join("report")
    }

    /// Checks that configfs is mounted and has configfs-tsm reports, naming
    /// what is missing otherwise.
    pub fn check_interface(&self) -> Result<(), TeeError> {
        if !self.root.is_dir() {
            return Err(TeeError::ConfigfsNotMounted {
                root: self.root.clone(),
            });
        }
        let report_dir = self.report_dir();
        if !report_dir.is_dir() {
            return Err(TeeError::TsmMissing { path: report_dir });
        }
        Ok(())
    }

    /// Which TEE driver serves reports, found by creating (and removing) a
    /// report entry and reading its `provider`.
    pub fn provider(&self) -> Result<TsmProvider, TeeError> {
        self.check_interface()?;
        let entry = self.create_entry()?;
        let provider = read_text(&entry.path.join("provider"));
        entry.remove()?;
        TsmProvider::from_kernel_name(&provider?)
    }

    /// Requests a report carrying `inblob`, retrying up to [`MAX_ATTEMPTS`]
    /// times if another writer modifies the entry meanwhile.
    pub fn request(&self, inblob: &[u8; 64]) -> Result<TsmReport, TeeError> {
        self.check_interface()?;
        let mut last = (0, 0, 0);
        for _ in 0..MAX_ATTEMPTS {
            match self.attempt(inblob)? {
                Attempt::Done(report) => return Ok(report),
                Attempt::Raced {
                    before,
                    expected,
                    found,
                } => last = (before, expected, found),
            }
        }
        let (before, expected, found) = last;
        Err(TeeError::GenerationRace {
            attempts: MAX_ATTEMPTS,
            before,
            expected,
            found,
        })
    }

    fn attempt(&self, inblob: &[u8; 64]) -> Result<Attempt, TeeError> {
        let entry = self.create_entry()?;
        let result = self.fill_and_read(&entry.path, inblob);
        let removed = entry.remove();
        // A failed request's own error is the one worth reporting.
        let attempt = result?;
        removed?;
        Ok(attempt)
    }

    fn fill_and_read(&self, entry: &Path, inblob: &[u8; 64]) -> Result<Attempt, TeeError> {
        // "Userspace can detect conflicts by checking generation before
        // writing to any attribute and making sure the number of writes
        // matches expectations after reading outblob."
        let before = read_generation(entry)?;
        let mut writes = 0u64;
        if let Some(level) = self.privlevel {
            self.write_attribute(entry, "privlevel", format!("{level}\n").as_bytes())?;
            writes += 1;
        }
        self.write_attribute(entry, "inblob", inblob)?;
        writes += 1;

        let outblob = read_bytes(&entry.join("outblob"))?;
        let auxblob = read_optional(&entry.join("auxblob"))?.filter(|a| !a.is_empty());
        let provider = read_text(&entry.join("provider"))?;
        let found = read_generation(entry)?;

        let expected = before.saturating_add(writes);
        if found != expected {
            return Ok(Attempt::Raced {
                before,
                expected,
                found,
            });
        }
        if outblob.is_empty() {
            return Err(TeeError::Malformed {
                what: "outblob",
                detail: "the kernel returned an empty report".into(),
            });
        }
        Ok(Attempt::Done(TsmReport {
            provider,
            outblob,
            auxblob,
        }))
    }

    /// Writes a whole attribute in one open–write–close: configfs commits a
    /// binary attribute when the file is closed.
    fn write_attribute(&self, entry: &Path, attribute: &str, value: &[u8]) -> Result<(), TeeError> {
        let path = entry.join(attribute);
        std::fs::write(&path, value).map_err(|e| TeeError::io("write", &path, e))?;
        if let Some(emulation) = &self.emulation {
            emulation
                .attribute_written(entry, attribute)
                .map_err(|e| TeeError::io("write", &path, e))?;
        }
        Ok(())
    }

    fn create_entry(&self) -> Result<Entry<'_>, TeeError> {
        let report_dir = self.report_dir();
        loop {
            let n = NEXT_ENTRY.fetch_add(1, Ordering::Relaxed);
            let path = report_dir.join(format!("veil-{}-{n}", std::process::id()));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let entry = Entry {
                        path,
                        tsm: self,
                        removed: false,
                    };
                    if let Some(emulation) = &self.emulation {
                        emulation
                            .entry_created(&entry.path)
                            .map_err(|e| TeeError::io("create", &entry.path, e))?;
                    }
                    return Ok(entry);
                }
                // A stale entry of an earlier process with our pid: take the next name.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) if e.raw_os_error() == Some(ENXIO) => {
                    return Err(TeeError::NoProvider { path });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(match self.check_interface() {
                        Err(missing) => missing,
                        Ok(()) => TeeError::io("create", &path, e),
                    });
                }
                Err(e) => return Err(TeeError::io("create", &path, e)),
            }
        }
    }
}

enum Attempt {
    Done(TsmReport),
    Raced {
        before: u64,
        expected: u64,
        found: u64,
    },
}

/// A report entry we created; removed on every path out of a request.
struct Entry<'a> {
    path: PathBuf,
    tsm: &'a ConfigfsTsm,
    removed: bool,
}

impl Entry<'_> {
    fn remove(mut self) -> Result<(), TeeError> {
        self.removed = true;
        self.remove_now()
    }

    fn remove_now(&self) -> Result<(), TeeError> {
        if let Some(emulation) = &self.tsm.emulation {
            emulation
                .entry_removing(&self.path)
                .map_err(|e| TeeError::io("remove", &self.path, e))?;
        }
        std::fs::remove_dir(&self.path).map_err(|e| TeeError::io("remove", &self.path, e))
    }
}

impl Drop for Entry<'_> {
    fn drop(&mut self) {
        if !self.removed {
            // Best effort on an early return; the error that caused it is
            // the one worth reporting.
            let _ = self.remove_now();
        }
    }
}

fn read_bytes(path: &Path) -> Result<Vec<u8>, TeeError> {
    std::fs::read(path).map_err(|e| TeeError::io("read", path, e))
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, TeeError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(TeeError::io("read", path, e)),
    }
}

fn read_text(path: &Path) -> Result<String, TeeError> {
    let bytes = read_bytes(path)?;
    String::from_utf8(bytes)
        .map(|s| s.trim().to_owned())
        .map_err(|_| TeeError::Malformed {
            what: "configfs-tsm attribute",
            detail: format!("{} is not UTF-8", path.display()),
        })
}

fn read_generation(entry: &Path) -> Result<u64, TeeError> {
    let path = entry.join("generation");
    let text = read_text(&path)?;
    text.parse().map_err(|_| TeeError::Malformed {
        what: "generation",
        detail: format!("{} holds {text:?}, not a decimal counter", path.display()),
    })
}
