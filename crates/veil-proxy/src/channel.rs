//! The verified channel to the server, re-attested when the server's key
//! changes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use veil_client::{Client, ClientError};
use veil_protocol::inner::{InnerRequest, InnerResponse};

/// How a request crosses the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Framing {
    /// One OHTTP message (RFC 9458): inference and small calls.
    Whole,
    /// Chunked OHTTP, the body encrypted piece by piece: model uploads,
    /// which the server does not bound by its single-message limit.
    Chunked,
}

async fn send_once(
    client: &Client,
    request: &InnerRequest,
    framing: Framing,
) -> Result<InnerResponse, ClientError> {
    match framing {
        Framing::Whole => client.send(request).await,
        Framing::Chunked => {
            client
                .send_streaming(
                    &request.method,
                    &request.path,
                    &request.headers,
                    request.body.as_slice(),
                    |_| {},
                )
                .await
        }
    }
}

/// A verified [`Client`] shared by all local requests, replaced by a freshly
/// verified one when the server's key changes.
pub struct Channel {
    current: RwLock<Arc<Client>>,
    /// Serialises re-attestation, so that a burst of requests that all hit
    /// the old key causes one new attestation, not one each.
    reattesting: tokio::sync::Mutex<()>,
    reattestations: AtomicU64,
}

impl Channel {
    /// A channel over `client`, which must already be verified (it is: a
    /// [`Client`] exists only after [`Client::connect`] succeeded).
    pub fn new(client: Client) -> Self {
        Channel {
            current: RwLock::new(Arc::new(client)),
            reattesting: tokio::sync::Mutex::new(()),
            reattestations: AtomicU64::new(0),
        }
    }

    /// The client requests are sent through now.
    pub fn client(&self) -> Arc<Client> {
        // A poisoned lock still holds a verified client: a panic elsewhere
        // cannot have left a half-written `Arc` behind.
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// How many times the server was re-attested since the channel was made.
    pub fn reattestations(&self) -> u64 {
        self.reattestations.load(Ordering::Relaxed)
    }

    /// Sends `request` through the channel. If the server cannot decapsulate
    /// it (its key changed), re-attests and retries once with the newly
    /// verified key; any other outcome is returned as it is.
    pub async fn send(
        &self,
        request: &InnerRequest,
        framing: Framing,
    ) -> Result<InnerResponse, ClientError> {
        let client = self.client();
        match send_once(&client, request, framing).await {
            Err(e) if e.is_bad_encapsulation() => {
                let fresh = self.reattest(&client).await?;
                send_once(&fresh, request, framing).await
            }
            other => other,
        }
    }

    /// Replaces `stale` with a freshly verified client, unless another
    /// request already did.
    async fn reattest(&self, stale: &Arc<Client>) -> Result<Arc<Client>, ClientError> {
        let _one_at_a_time = self.reattesting.lock().await;
        let current = self.client();
        if !Arc::ptr_eq(&current, stale) {
            return Ok(current);
        }
        let fresh = match stale.reconnect().await {
            Ok(client) => Arc::new(client),
            Err(e) => {
                tracing::warn!(error = %e, "re-attestation failed; the request is not sent");
                return Err(e);
            }
        };
        let claims = fresh.attestation();
        tracing::info!(
            server = fresh.url(),
            platform = %claims.platform,
            measurement = %claims.measurement,
            simulated = claims.simulated,
            "re-attested: the server's key changed; the new key verified against the policy"
        );
        *self
            .current
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh.clone();
        self.reattestations.fetch_add(1, Ordering::Relaxed);
        Ok(fresh)
    }
}
