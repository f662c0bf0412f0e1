//! A fake "kernel" for a temporary directory laid out like configfs-tsm:
//! it does what `drivers/virt/coco/tsm.c` does on each file operation, so
//! the producer's real file I/O runs unchanged against it.

#![allow(dead_code)] // each test file uses part of it

use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use veil_tee::{ConfigfsTsm, KernelEmulation};

pub const MILAN_REPORT_HEX: &str =
    include_str!("../../../veil-attest/testdata/sev-snp/report_milan.hex");
pub const MILAN_VCEK_DER: &[u8] =
    include_bytes!("../../../veil-attest/testdata/sev-snp/vcek_milan.der");
pub const MILAN_ASK_PEM: &[u8] = include_bytes!("../../../veil-attest/testdata/sev-snp/ask.pem");
pub const MILAN_ARK_PEM: &[u8] = include_bytes!("../../../veil-attest/testdata/sev-snp/ark.pem");
pub const TDX_QUOTE: &[u8] = include_bytes!("../../../veil-attest/testdata/tdx/tdx_quote");
pub const TDX_COLLATERAL_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../veil-attest/testdata/tdx/tdx_quote_collateral.json"
);
/// 2024-01-01, inside the Milan VCEK's validity (2023-04-03 … 2030-04-03).
pub const INSIDE_MILAN_VCEK_VALIDITY: u64 = 1_704_067_200;
/// Inside the TDX vector's collateral validity (testdata/README.md).
pub const TDX_VERIFY_AT: u64 = 1_750_332_747;
pub const SNP_REPORT_DATA_OFFSET: usize = 0x50;

/// A file under veil-attest's `testdata/` (the real evidence vectors).
pub fn vector(path: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../veil-attest/testdata")
            .join(path),
    )
    .unwrap()
}

pub fn milan_report() -> Vec<u8> {
    let hex: String = MILAN_REPORT_HEX.split_whitespace().collect();
    hex::decode(hex).unwrap()
}

/// What the fake kernel puts in `outblob` for a given `inblob`.
pub type OutblobFn = dyn Fn(&[u8]) -> Vec<u8> + Send + Sync;

pub struct FakeKernel {
    pub provider: &'static str,
    pub outblob: Box<OutblobFn>,
    pub auxblob: Option<Vec<u8>>,
    /// How many more requests a concurrent writer disturbs (it writes the
    /// entry once more between our write and our read).
    pub races_left: AtomicU32,
    pub entries_created: AtomicU32,
    pub privlevels_written: Mutex<Vec<String>>,
}

impl FakeKernel {
    pub fn new(
        provider: &'static str,
        outblob: impl Fn(&[u8]) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        FakeKernel {
            provider,
            outblob: Box::new(outblob),
            auxblob: None,
            races_left: AtomicU32::new(0),
            entries_created: AtomicU32::new(0),
            privlevels_written: Mutex::new(Vec::new()),
        }
    }

    pub fn with_auxblob(mut self, auxblob: Vec<u8>) -> Self {
        self.auxblob = Some(auxblob);
        self
    }

    pub fn with_races(self, n: u32) -> Self {
        self.races_left.store(n, Ordering::SeqCst);
        self
    }

    fn bump_generation(entry: &Path) -> io::Result<()> {
        let path = entry.join("generation");
        let g: u64 = std::fs::read_to_string(&path)?
            .trim()
            .parse()
            .map_err(io::Error::other)?;
        std::fs::write(path, format!("{}\n", g + 1))
    }
}

impl KernelEmulation for FakeKernel {
    fn entry_created(&self, entry: &Path) -> io::Result<()> {
        self.entries_created.fetch_add(1, Ordering::SeqCst);
        std::fs::write(entry.join("generation"), "0\n")?;
        std::fs::write(entry.join("provider"), format!("{}\n", self.provider))?;
        std::fs::write(entry.join("outblob"), b"")?;
        if let Some(aux) = &self.auxblob {
            std::fs::write(entry.join("auxblob"), aux)?;
        }
        Ok(())
    }

    fn attribute_written(&self, entry: &Path, attribute: &str) -> io::Result<()> {
        Self::bump_generation(entry)?;
        match attribute {
            "inblob" => {
                let inblob = std::fs::read(entry.join("inblob"))?;
                std::fs::write(entry.join("outblob"), (self.outblob)(&inblob))?;
                let raced = self
                    .races_left
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                    .is_ok();
                if raced {
                    // Another process writes inblob of our entry meanwhile.
                    Self::bump_generation(entry)?;
                }
            }
            "privlevel" => {
                let value = std::fs::read_to_string(entry.join("privlevel"))?;
                self.privlevels_written.lock().unwrap().push(value);
            }
            _ => {}
        }
        Ok(())
    }

    fn entry_removing(&self, entry: &Path) -> io::Result<()> {
        for file in std::fs::read_dir(entry)? {
            std::fs::remove_file(file?.path())?;
        }
        Ok(())
    }
}

/// A temporary configfs root with `tsm/report/` and the fake kernel.
pub struct FakeConfigfs {
    pub dir: tempfile::TempDir,
    pub kernel: Arc<FakeKernel>,
}

impl FakeConfigfs {
    pub fn new(kernel: FakeKernel) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("tsm/report")).unwrap();
        FakeConfigfs {
            dir,
            kernel: Arc::new(kernel),
        }
    }

    pub fn tsm(&self) -> ConfigfsTsm {
        ConfigfsTsm::with_kernel_emulation(self.dir.path(), self.kernel.clone())
    }

    pub fn report_dir(&self) -> PathBuf {
        self.dir.path().join("tsm/report")
    }

    /// Entries left behind (the producer must remove every one it creates).
    pub fn leftover_entries(&self) -> usize {
        std::fs::read_dir(self.report_dir()).unwrap().count()
    }
}

/// A GHCB certificate table: 24-byte entries (GUID, offset, length; offsets
/// from the table's start), an all-zero terminator, then the data.
pub fn cert_table(certs: &[([u8; 16], &[u8])]) -> Vec<u8> {
    let header = 24 * (certs.len() + 1);
    let mut table = Vec::new();
    let mut data = Vec::new();
    for (guid, cert) in certs {
        table.extend_from_slice(guid);
        table.extend_from_slice(&u32::try_from(header + data.len()).unwrap().to_le_bytes());
        table.extend_from_slice(&u32::try_from(cert.len()).unwrap().to_le_bytes());
        data.extend_from_slice(cert);
    }
    table.extend_from_slice(&[0u8; 24]);
    table.extend_from_slice(&data);
    // Hosts hand out whole pages; the padding must be ignored.
    table.resize(table.len().next_multiple_of(4096), 0);
    table
}

/// The Milan chain as DER, read through the operator-files path.
pub fn milan_chain_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("vcek.der"), MILAN_VCEK_DER).unwrap();
    std::fs::write(dir.path().join("ask.pem"), MILAN_ASK_PEM).unwrap();
    std::fs::write(dir.path().join("ark.pem"), MILAN_ARK_PEM).unwrap();
    dir
}
