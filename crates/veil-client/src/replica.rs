//! Joining a running server as its replica
//! ([`veil_protocol::replica`]): verify it runs this very code, then ask
//! it for its sealing key, sealed to a key only this process holds.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use veil_attest::{EvidenceProducer, PinnedPolicy, VerifiedClaims};
use veil_protocol::ProtocolError;
use veil_protocol::inner::InnerRequest;
use veil_protocol::replica::{self, JoinRequest, JoinerKey, SealedSealingKey};

use crate::client::parse_json;
use crate::{Client, ClientError, ConnectOptions};

/// A sealing key another replica shared, and what its evidence proved.
pub struct SharedKey {
    /// The 32-byte sealing key.
    pub key: [u8; 32],
    /// The sharer's verified claims (the same code as this process).
    pub sharer: VerifiedClaims,
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedKey")
            .field("sharer", &self.sharer)
            .finish_non_exhaustive()
    }
}

/// Asks the server at `url` for its sealing key, as a replica of it.
///
/// `producer` makes this process's own evidence, over the report data of a
/// fresh ephemeral key. The policy that pins that evidence decides both
/// ways: the server at `url` must satisfy it before anything is sent (a
/// server running other code is never asked, and cannot hand this process a
/// key it chose), and the server gives the key only if this evidence
/// satisfies the same policy built from its own.
pub async fn join(
    url: &str,
    producer: &dyn EvidenceProducer,
    timeout: Duration,
) -> Result<SharedKey, ClientError> {
    let joiner = JoinerKey::generate();
    let report_data = replica::report_data(joiner.public_key());
    let evidence = producer.produce(&report_data)?;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let own = PinnedPolicy::of_own_evidence(&evidence, &report_data, now)?;
    let mut options = ConnectOptions::new(own.policy);
    options.timeout = timeout;
    let sharer = Client::connect(url, options).await?;
    let body = serde_json::to_vec(&JoinRequest::new(&evidence, joiner.public_key()))
        .map_err(|e| ProtocolError::malformed("join request", e))?;
    let response = sharer
        .send(&InnerRequest {
            method: "POST".into(),
            path: replica::SEALING_KEY_PATH.into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        })
        .await?;
    let sealed: SealedSealingKey = parse_json(&response)?;
    Ok(SharedKey {
        key: joiner.open(&sealed)?,
        sharer: sharer.attestation().clone(),
    })
}
