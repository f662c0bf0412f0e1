//! The local model store: one file per model under `<data>/models/`, written
//! atomically (temp file, fsync, rename, fsync of the directory) so that a
//! crash leaves either the old model or the new one, never a partial file.
//!
//! Models are stored as uploaded (not yet sealed at rest: see the README).

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::model_name::ModelName;

const MODEL_EXTENSION: &str = "onnx";

/// The on-disk store.
#[derive(Debug)]
pub struct ModelStore {
    models: PathBuf,
    tmp: PathBuf,
    counter: AtomicU64,
}

/// A temporary file being written; removed on drop unless committed.
#[derive(Debug)]
pub struct TempModel {
    path: PathBuf,
    file: Option<File>,
}

impl TempModel {
    /// Appends bytes.
    pub fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.write_all(bytes),
            None => Err(io::Error::other("temp model already finished")),
        }
    }

    /// Flushes and fsyncs the data; the file stays until committed or dropped.
    pub fn finish(&mut self) -> io::Result<()> {
        if let Some(f) = self.file.take() {
            f.sync_all()?;
        }
        Ok(())
    }

    /// Path of the temp file.
    pub fn path(&self) -> &Path {
        &self.path
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
    /// Opens (creating if needed) the store under `data_dir`, and removes
    /// temp files that a crash may have left.
    pub fn open(data_dir: &Path) -> io::Result<Self> {
        let models = data_dir.join("models");
        let tmp = data_dir.join("tmp");
        fs::create_dir_all(&models)?;
        fs::create_dir_all(&tmp)?;
        for entry in fs::read_dir(&tmp)? {
            let _ = fs::remove_file(entry?.path());
        }
        Ok(ModelStore {
            models,
            tmp,
            counter: AtomicU64::new(0),
        })
    }

    fn path_of(&self, name: &ModelName) -> PathBuf {
        self.models.join(format!("{name}.{MODEL_EXTENSION}"))
    }

    /// Names of the stored models.
    pub fn list(&self) -> io::Result<Vec<ModelName>> {
        let mut names = Vec::new();
        for entry in fs::read_dir(&self.models)? {
            let path = entry?.path();
            if path.extension().and_then(|e| e.to_str()) != Some(MODEL_EXTENSION) {
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

    /// Reads a stored model.
    pub fn read(&self, name: &ModelName) -> io::Result<Vec<u8>> {
        fs::read(self.path_of(name))
    }

    /// Starts a new temp file for an upload.
    pub fn temp(&self) -> io::Result<TempModel> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let path = self
            .tmp
            .join(format!("upload-{}-{n}.part", std::process::id()));
        let file = File::create(&path)?;
        Ok(TempModel {
            path,
            file: Some(file),
        })
    }

    /// Atomically installs a finished temp file as model `name`, replacing
    /// any previous version.
    pub fn commit(&self, mut temp: TempModel, name: &ModelName) -> io::Result<()> {
        temp.finish()?;
        fs::rename(&temp.path, self.path_of(name))?;
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
mod tests {
    use super::*;

    #[test]
    fn commit_then_list_read_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path()).unwrap();
        let name = ModelName::new("m").unwrap();
        let mut t = store.temp().unwrap();
        t.write_all(b"model bytes").unwrap();
        store.commit(t, &name).unwrap();
        assert_eq!(store.list().unwrap(), vec![name.clone()]);
        assert_eq!(store.read(&name).unwrap(), b"model bytes");
        assert!(store.delete(&name).unwrap());
        assert!(!store.delete(&name).unwrap());
        assert!(store.list().unwrap().is_empty());
    }

    #[test]
    fn an_abandoned_upload_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path()).unwrap();
        let mut t = store.temp().unwrap();
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
        ModelStore::open(dir.path()).unwrap();
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }
}
