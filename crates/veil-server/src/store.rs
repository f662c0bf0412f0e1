//! The local model store: one sealed file per model under `<data>/models/`
//! (see [`crate::seal`]), written atomically (temp file, fsync, rename,
//! fsync of the directory) so that a crash leaves either the old model or
//! the new one, never a partial file.
//!
//! Plaintext never reaches the disk: an upload is sealed as it is written
//! to its temp file, and a model is unsealed into memory when it is loaded.
//! Files from before the sealed store (`<name>.onnx`, plaintext) are not
//! loaded: they are reported at start-up and left untouched, since anyone
//! with access to the data directory could have written them. Their owners
//! upload them again.

use std::fs::{self, File};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model_name::ModelName;
use crate::seal::{SealError, Sealer, SealingKey, unseal_file};

/// Extension of sealed model files.
const MODEL_EXTENSION: &str = "sealed";
/// Extension of the plaintext model files older versions wrote.
const LEGACY_EXTENSION: &str = "onnx";

/// The on-disk store.
#[derive(Debug)]
pub struct ModelStore {
    models: PathBuf,
    tmp: PathBuf,
    key: SealingKey,
    counter: AtomicU64,
}

/// A model being sealed into a temporary file; removed on drop unless committed.
pub struct TempModel {
    name: ModelName,
    path: PathBuf,
    key: SealingKey,
    sealer: Option<Sealer<BufWriter<File>>>,
}

impl std::fmt::Debug for TempModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TempModel")
            .field("name", &self.name)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl TempModel {
    /// Seals and appends plaintext model bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.sealer {
            Some(s) => s.write_all(bytes),
            None => Err(io::Error::other("temp model already finished")),
        }
    }

    /// Seals the last chunk, flushes and fsyncs; the file stays until
    /// committed or dropped. Calling it again does nothing.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(sealer) = self.sealer.take() {
            let file = sealer.finish()?.into_inner().map_err(|e| e.into_error())?;
            file.sync_all()?;
        }
        Ok(())
    }

    /// The model name this file is sealed for.
    pub fn name(&self) -> &ModelName {
        &self.name
    }

    /// Unseals the finished file into memory (to load it before commit).
    pub fn unseal(&self) -> Result<Vec<u8>, SealError> {
        unseal_file(&self.key, &self.name, &self.path)
    }
}

impl Drop for TempModel {
    fn drop(&mut self) {
        // Committed files were renamed away; this only removes leftovers.
        let _ = fs::remove_file(&self.path);
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl ModelStore {
    /// Opens (creating if needed) the store under `data_dir`, sealing with
    /// `key`, and removes temp files that a crash may have left.
    pub fn open(data_dir: &Path, key: SealingKey) -> io::Result<Self> {
        let models = data_dir.join("models");
        let tmp = data_dir.join("tmp");
        fs::create_dir_all(&models)?;
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        let store = ModelStore {
            models,
            tmp,
            key,
            counter: AtomicU64::new(0),
        };
        for name in store.names_with(LEGACY_EXTENSION)? {
            tracing::warn!(
                model = %name,
                "unsealed model file from an older version is not loaded (it could have been written by anyone with access to the data directory); upload the model again"
            );
        }
        Ok(store)
    }

    fn path_of(&self, name: &ModelName) -> PathBuf {
        self.models.join(format!("{name}.{MODEL_EXTENSION}"))
    }

    fn names_with(&self, extension: &str) -> io::Result<Vec<ModelName>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.models)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(extension) {
                continue;
            }
            if let Some(name) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| ModelName::new(s).ok())
            {
                names.push(name);
            }
        }
        names.sort();
        Ok(names)
    }

    /// Names of the stored (sealed) models.
    pub fn list(&self) -> io::Result<Vec<ModelName>> {
        self.names_with(MODEL_EXTENSION)
    }

    /// Unseals a stored model into memory; fails if any byte of it was
    /// changed, it was cut short, or it was sealed for another name or key.
    pub fn read(&self, name: &ModelName) -> Result<Vec<u8>, SealError> {
        unseal_file(&self.key, name, &self.path_of(name))
    }

    /// Starts a new temp file for an upload of model `name`.
    pub fn temp(&self, name: &ModelName) -> io::Result<TempModel> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self
            .tmp
            .join(format!("upload-{}-{n}.part", std::process::id()));
        let file = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        let mut temp = TempModel {
            name: name.clone(),
            path,
            key: self.key.clone(),
            sealer: None,
        };
        // Created first so that a failing header write still removes the file.
        temp.sealer = Some(Sealer::new(&self.key, name, file)?);
        Ok(temp)
    }

    /// Atomically installs a finished temp file as its model, replacing any
    /// previous version.
    pub fn commit(&self, mut temp: TempModel) -> io::Result<()> {
        temp.finish()?;
        fs::rename(&temp.path, self.path_of(&temp.name))?;
        sync_dir(&self.models)?;
        sync_dir(&self.tmp)
    }

    /// Removes model `name`; returns whether it existed.
    pub fn delete(&self, name: &ModelName) -> io::Result<bool> {
        match fs::remove_file(self.path_of(name)) {
            Ok(()) => {
                sync_dir(&self.models)?;
                Ok(true)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> ModelStore {
        ModelStore::open(dir, SealingKey::from_bytes([7; 32])).unwrap()
    }

    #[test]
    fn commit_then_list_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let name = ModelName::new("m").unwrap();
        let mut t = store.temp(&name).unwrap();
        t.write_all(b"model bytes").unwrap();
        t.finish().unwrap();
        assert_eq!(t.unseal().unwrap(), b"model bytes");
        store.commit(t).unwrap();
        assert_eq!(store.list().unwrap(), vec![name.clone()]);
        assert_eq!(store.read(&name).unwrap(), b"model bytes");
        assert!(store.delete(&name).unwrap());
        assert!(!store.delete(&name).unwrap());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn no_plaintext_reaches_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let name = ModelName::new("m").unwrap();
        let secret = b"recognisable-model-weights-0123456789";
        let mut t = store.temp(&name).unwrap();
        t.write_all(secret).unwrap();
        store.commit(t).unwrap();
        let on_disk = fs::read(dir.path().join("models/m.sealed")).unwrap();
        assert!(!on_disk.windows(secret.len()).any(|w| w == secret));
    }

    #[test]
    fn an_abandoned_upload_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let mut t = store.temp(&ModelName::new("m").unwrap()).unwrap();
        t.write_all(b"partial").unwrap();
        drop(t);
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn reopening_cleans_temp_files_a_crash_left() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("tmp")).unwrap();
        fs::write(dir.path().join("tmp/upload-1-0.part"), b"x").unwrap();
        open(dir.path());
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn unsealed_files_of_older_versions_are_not_listed_nor_touched() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("models")).unwrap();
        fs::write(dir.path().join("models/old.onnx"), b"plaintext model").unwrap();
        let store = open(dir.path());
        assert!(store.list().unwrap().is_empty());
        assert_eq!(
            fs::read(dir.path().join("models/old.onnx")).unwrap(),
            b"plaintext model"
        );
    }

    #[test]
    fn a_file_renamed_to_another_model_does_not_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = open(dir.path());
        let a = ModelName::new("a").unwrap();
        let b = ModelName::new("b").unwrap();
        let mut t = store.temp(&a).unwrap();
        t.write_all(b"model a").unwrap();
        store.commit(t).unwrap();
        fs::rename(
            dir.path().join("models/a.sealed"),
            dir.path().join("models/b.sealed"),
        )
        .unwrap();
        assert!(matches!(store.read(&b), Err(SealError::Authentication)));
    }
}
