//! Finding the ONNX Runtime shared library on disk.
//!
//! Veil loads ONNX Runtime at run time from the pinned PyPI wheel that
//! `scripts/setup.sh` installs into `.venv`. That wheel ships only the
//! versioned `libonnxruntime.so.1.32.0`, so a bare `dlopen("libonnxruntime.so")`
//! would fail: the full path is found here and handed to
//! [`OrtEngine::new`](crate::OrtEngine::new).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use crate::EngineError;

/// The environment variable that overrides the search.
pub const ORT_DYLIB_PATH: &str = "ORT_DYLIB_PATH";

/// Finds libonnxruntime: `$ORT_DYLIB_PATH` if set (it must exist), else the
/// first `.venv/lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*`
/// in any of `search_roots` or their ancestors.
///
/// ```no_run
/// let library = veil_engine::find_onnxruntime_library(&[std::env::current_dir()?])?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_onnxruntime_library(search_roots: &[PathBuf]) -> Result<PathBuf, EngineError> {
    find_onnxruntime_library_with(std::env::var_os(ORT_DYLIB_PATH).as_deref(), search_roots)
}

/// [`find_onnxruntime_library`] with the value of `ORT_DYLIB_PATH` passed in
/// rather than read from the process environment (`None` or empty = unset).
pub fn find_onnxruntime_library_with(
    ort_dylib_path: Option<&OsStr>,
    search_roots: &[PathBuf],
) -> Result<PathBuf, EngineError> {
    if let Some(path) = ort_dylib_path.filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(EngineError::LibraryNotFound {
                searched: vec![path],
            })
        };
    }
    let mut searched = Vec::new();
    for root in search_roots {
        let root = std::path::absolute(root).unwrap_or_else(|_| root.clone());
        for dir in root.ancestors() {
            let venv_lib = dir.join(".venv").join("lib");
            if let Some(found) = library_in_venv(&venv_lib) {
                return Ok(found);
            }
            if !searched.contains(&venv_lib) {
                searched.push(venv_lib);
            }
        }
    }
    Err(EngineError::LibraryNotFound { searched })
}

/// `venv_lib/python3*/site-packages/onnxruntime/capi/libonnxruntime.so*`,
/// the first in name order.
fn library_in_venv(venv_lib: &Path) -> Option<PathBuf> {
    sorted_entries(venv_lib, "python3")
        .into_iter()
        .map(|python| {
            python
                .join("site-packages")
                .join("onnxruntime")
                .join("capi")
        })
        .flat_map(|capi| sorted_entries(&capi, "libonnxruntime.so"))
        .find(|lib| lib.is_file())
}

/// Entries of `dir` whose file name starts with `prefix`, sorted by name.
fn sorted_entries(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fake_venv(root: &Path, python: &str, lib: &str) -> PathBuf {
        let capi = root
            .join(".venv/lib")
            .join(python)
            .join("site-packages/onnxruntime/capi");
        std::fs::create_dir_all(&capi).unwrap();
        let path = capi.join(lib);
        std::fs::write(&path, b"not really a library").unwrap();
        path
    }

    #[test]
    fn finds_the_versioned_library_in_an_ancestor_venv() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fake_venv(dir.path(), "python3.11", "libonnxruntime.so.1.32.0");
        fake_venv(
            dir.path(),
            "python3.11",
            "libonnxruntime_providers_shared.so",
        );
        let nested = dir.path().join("crates/veil-engine");
        std::fs::create_dir_all(&nested).unwrap();
        let found = find_onnxruntime_library_with(None, &[nested]).unwrap();
        assert_eq!(found, std::path::absolute(lib).unwrap());
    }

    #[test]
    fn explicit_path_wins_over_the_search() {
        let dir = tempfile::tempdir().unwrap();
        fake_venv(dir.path(), "python3.11", "libonnxruntime.so.1.32.0");
        let other = dir.path().join("elsewhere.so");
        std::fs::write(&other, b"x").unwrap();
        let found =
            find_onnxruntime_library_with(Some(other.as_os_str()), &[dir.path().to_path_buf()])
                .unwrap();
        assert_eq!(found, other);
    }

    #[test]
    fn empty_explicit_path_counts_as_unset() {
        let dir = tempfile::tempdir().unwrap();
        let lib = fake_venv(dir.path(), "python3.12", "libonnxruntime.so.1.32.0");
        let found =
            find_onnxruntime_library_with(Some(OsStr::new("")), &[dir.path().to_path_buf()])
                .unwrap();
        assert_eq!(found, std::path::absolute(lib).unwrap());
    }

    #[test]
    fn missing_library_lists_where_it_looked() {
        let dir = tempfile::tempdir().unwrap();
        let err = find_onnxruntime_library_with(None, &[dir.path().to_path_buf()]).unwrap_err();
        let EngineError::LibraryNotFound { searched } = &err else {
            panic!("wrong error: {err}");
        };
        assert!(searched.contains(&dir.path().join(".venv/lib")));
    }
}
