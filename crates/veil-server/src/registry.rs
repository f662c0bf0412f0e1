//! The models being served: loaded once, shared by every request, backed by
//! the store so that a restart serves the same models.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use sha2::{Digest, Sha256};
use veil_engine::{Engine, LoadedModel};
use veil_protocol::ErrorCode;
use veil_protocol::oip::{ModelInfo, RepositoryEntry};

use crate::error::ApiError;
use crate::model_name::ModelName;
use crate::store::{ModelStore, TempModel};

/// A loaded model and what identifies it.
pub struct ServedModel {
    /// Its name.
    pub name: ModelName,
    /// SHA-256 of the model bytes, hex.
    pub sha256: String,
    /// Size of the model bytes.
    pub size_bytes: u64,
    /// The engine's loaded model.
    pub model: Arc<dyn LoadedModel>,
}

impl ServedModel {
    /// What an upload response reports.
    pub fn info(&self) -> ModelInfo {
        ModelInfo {
            name: self.name.to_string(),
            sha256: self.sha256.clone(),
            size_bytes: self.size_bytes,
            signature: self.model.signature().clone(),
        }
    }
}

/// All served models.
pub struct Registry {
    engine: Arc<dyn Engine>,
    store: ModelStore,
    models: RwLock<BTreeMap<ModelName, Arc<ServedModel>>>,
    /// Serialises uploads and deletes so the store and the map agree.
    writes: tokio::sync::Mutex<()>,
}

fn internal(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "model store failure");
    ApiError::new(
        ErrorCode::Internal,
        "the model store failed; see the server log",
    )
}

impl Registry {
    /// Opens the store and loads every model in it. A stored model that
    /// fails to unseal (changed, truncated, swapped) or no longer loads is
    /// logged by name and skipped, never served and never deleted.
    pub fn open(engine: Arc<dyn Engine>, store: ModelStore) -> std::io::Result<Self> {
        let mut models = BTreeMap::new();
        for name in store.list()? {
            let bytes = match store.read(&name) {
                Ok(bytes) => bytes,
                Err(e) => {
                    // Never served, never deleted: the owner decides.
                    tracing::error!(model = %name, error = %e, "stored model refused; not served");
                    continue;
                }
            };
            match engine.load(&bytes) {
                Ok(model) => {
                    let served = ServedModel {
                        sha256: hex::encode(Sha256::digest(&bytes)),
                        size_bytes: bytes.len() as u64,
                        name: name.clone(),
                        model,
                    };
                    tracing::info!(model = %name, bytes = served.size_bytes, "loaded stored model");
                    models.insert(name, Arc::new(served));
                }
                Err(e) => {
                    tracing::warn!(model = %name, error = %e, "stored model does not load; skipped")
                }
            }
        }
        Ok(Registry {
            engine,
            store,
            models: RwLock::new(models),
            writes: tokio::sync::Mutex::new(()),
        })
    }

    /// The store, for writing uploads.
    pub fn store(&self) -> &ModelStore {
        &self.store
    }

    /// The model called `name`.
    pub fn get(&self, name: &str) -> Result<Arc<ServedModel>, ApiError> {
        let found = ModelName::new(name)
            .ok()
            .and_then(|n| self.models.read().ok().and_then(|m| m.get(&n).cloned()));
        found.ok_or_else(|| {
            ApiError::new(ErrorCode::ModelNotFound, "no model of that name is loaded")
        })
    }

    /// Number of served models.
    pub fn len(&self) -> usize {
        self.models.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Whether no model is served.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The repository index.
    pub fn index(&self) -> Vec<RepositoryEntry> {
        let models = self
            .models
            .read()
            .map(|m| m.values().cloned().collect::<Vec<_>>())
            .unwrap_or_default();
        models
            .iter()
            .map(|m| RepositoryEntry {
                name: m.name.to_string(),
                state: "READY".into(),
                sha256: Some(m.sha256.clone()),
                size_bytes: Some(m.size_bytes),
            })
            .collect()
    }

    /// Refuses a model under a new name when `max_models` are held already
    /// (replacing a held model is always allowed).
    pub fn check_room(&self, name: &ModelName, max_models: usize) -> Result<(), ApiError> {
        let full = self
            .models
            .read()
            .map(|m| !m.contains_key(name) && m.len() >= max_models)
            .unwrap_or(false);
        if full {
            Err(ApiError::new(
                ErrorCode::ModelLimitReached,
                format!("the server holds its maximum of {max_models} models; delete one first"),
            ))
        } else {
            Ok(())
        }
    }

    /// Loads a fully received upload and, if the engine accepts it, installs
    /// it durably under its name (replacing any previous model), unless that
    /// would make more than `max_models`.
    pub async fn install(
        &self,
        temp: TempModel,
        sha256: String,
        size_bytes: u64,
        max_models: usize,
    ) -> Result<ModelInfo, ApiError> {
        let name = temp.name().clone();
        let engine = self.engine.clone();
        // Unsealed into memory only: ONNX Runtime loads from bytes.
        let (temp, model) = tokio::task::spawn_blocking(move || {
            let mut temp = temp;
            let loaded = temp
                .finish()
                .map_err(internal)
                .and_then(|()| temp.unseal().map_err(internal))
                .and_then(|bytes| engine.load(&bytes).map_err(ApiError::from));
            (temp, loaded)
        })
        .await
        .map_err(internal)?;
        let model = model?;
        let served = Arc::new(ServedModel {
            name: name.clone(),
            sha256,
            size_bytes,
            model,
        });
        let _guard = self.writes.lock().await;
        // Checked again under the write lock: uploads run concurrently.
        self.check_room(&name, max_models)?;
        self.store.commit(temp).map_err(internal)?;
        if let Ok(mut m) = self.models.write() {
            m.insert(name.clone(), served.clone());
        }
        tracing::info!(model = %name, bytes = size_bytes, sha256 = %served.sha256, "model installed");
        Ok(served.info())
    }

    /// Deletes model `name` from the store and stops serving it.
    pub async fn delete(&self, name: &str) -> Result<(), ApiError> {
        let not_found =
            || ApiError::new(ErrorCode::ModelNotFound, "no model of that name is loaded");
        let name = ModelName::new(name).map_err(|_| not_found())?;
        let _guard = self.writes.lock().await;
        let existed = self.store.delete(&name).map_err(internal)?;
        let removed = self
            .models
            .write()
            .ok()
            .and_then(|mut m| m.remove(&name))
            .is_some();
        if !existed && !removed {
            return Err(not_found());
        }
        tracing::info!(model = %name, "model deleted");
        Ok(())
    }
}
