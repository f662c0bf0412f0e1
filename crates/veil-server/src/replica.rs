//! Sharing the sealing key between replicas of one server
//! ([`veil_protocol::replica`]): the sharer's side, and the key source of
//! a server that joined another.
//!
//! A server recognises a replica of itself by the policy that pins its own
//! evidence ([`veil_attest::PinnedPolicy`]): the same platform, the same
//! measurements, a TCB at least as recent, debug only if it runs with debug
//! itself, simulation only if it is simulated. Nothing the operator
//! configures widens that: whoever can start a server cannot make it hand
//! the key to other code.

use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use veil_attest::{EvidenceProducer, PinnedPolicy, Policy, ReportData};
use veil_protocol::ErrorCode;
use veil_protocol::replica::{self, JoinRequest, SealedSealingKey};

use crate::error::ApiError;
use crate::seal::{SealError, SealingKey, SealingKeySource};

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The sharer's side: which replicas get the sealing key, and the key.
pub struct ReplicaSharing {
    producer: Arc<dyn EvidenceProducer>,
    /// The policy pinning this server's own evidence, made at the first
    /// join request (a server nobody joins never makes it) and kept once
    /// made; a failure is reported to that joiner and tried again next time.
    policy: OnceLock<Policy>,
    key: SealingKey,
}

impl std::fmt::Debug for ReplicaSharing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplicaSharing")
            .field("policy_made", &self.policy.get().is_some())
            .finish_non_exhaustive()
    }
}

/// The policy pinning what `producer`'s evidence reports now
/// ([`PinnedPolicy::of_own_evidence`]).
pub fn own_policy(producer: &dyn EvidenceProducer, now: u64) -> Result<Policy, String> {
    let probe = ReportData([0x76; 64]);
    let evidence = producer
        .produce(&probe)
        .map_err(|e| format!("cannot produce this server's own evidence: {e}"))?;
    PinnedPolicy::of_own_evidence(&evidence, &probe, now)
        .map(|pinned| pinned.policy)
        .map_err(|e| format!("no policy pins this server's own evidence: {e}"))
}

impl ReplicaSharing {
    /// Shares `key` with the replicas that `producer`'s own evidence pins.
    pub fn new(producer: Arc<dyn EvidenceProducer>, key: SealingKey) -> Self {
        ReplicaSharing {
            producer,
            policy: OnceLock::new(),
            key,
        }
    }

    /// The policy pinning this server's own evidence, made once.
    fn policy(&self) -> Result<&Policy, String> {
        if let Some(policy) = self.policy.get() {
            return Ok(policy);
        }
        let policy = own_policy(self.producer.as_ref(), now_unix()).inspect_err(|reason| {
            tracing::warn!(%reason, "replicas cannot join this server");
        })?;
        // Another request may have made it meanwhile: either is the same.
        Ok(self.policy.get_or_init(|| policy))
    }

    /// Answers a joiner: the sealing key sealed to its public key, if its
    /// evidence verifies under this server's own policy and binds that key.
    pub fn answer(&self, request: &JoinRequest) -> Result<SealedSealingKey, ApiError> {
        let refused = |detail: String| ApiError::new(ErrorCode::ReplicaRefused, detail);
        let policy = self.policy().map_err(|reason| {
            refused(format!(
                "this server shares its sealing key with no replica: {reason}"
            ))
        })?;
        let (evidence, public_key) = request
            .decode()
            .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))?;
        let claims = veil_attest::verify_evidence(
            &evidence,
            &replica::report_data(&public_key),
            policy,
            now_unix(),
        )
        .map_err(|e| {
            tracing::warn!(check = %e.check, "a replica's request for the sealing key was refused");
            refused(format!(
                "the replica's evidence does not show the same code as this server: {e}"
            ))
        })?;
        let sealed = replica::seal_sealing_key(&public_key, self.key.as_bytes()).map_err(|e| {
            tracing::error!(error = %e, "cannot seal the sealing key to a replica");
            ApiError::new(ErrorCode::Internal, "the server could not seal its key")
        })?;
        tracing::info!(
            platform = %claims.platform,
            measurement = %claims.measurement,
            "sealing key shared with a replica of this server"
        );
        Ok(sealed)
    }
}

/// The sealing key another replica shared with this server at start
/// (`veil serve --join-replica URL`).
#[derive(Debug, Clone)]
pub struct SharedSealingKey {
    key: SealingKey,
    source: String,
}

impl SharedSealingKey {
    /// The key `key`, shared by the replica at `url`.
    pub fn new(key: SealingKey, url: &str) -> Self {
        SharedSealingKey {
            key,
            source: format!(
                "the sealing key of the replica at {url} (verified to run this code; as protected as that replica's own key)"
            ),
        }
    }
}

impl SealingKeySource for SharedSealingKey {
    fn name(&self) -> &str {
        &self.source
    }

    /// Unknown here: the sharer's key may come from hardware or a file.
    fn hardware_protected(&self) -> bool {
        false
    }

    fn sealing_key(&self) -> Result<SealingKey, SealError> {
        Ok(self.key.clone())
    }
}
