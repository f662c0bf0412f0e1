//! Re-verification: the same server, a fresh attestation.
//!
//! A server's key changes when it restarts, rotates its key, or a load
//! balancer sends the next request to another replica. Requests encrypted to
//! the old key then fail with `bad_encapsulation`
//! ([`ClientError::is_bad_encapsulation`]); the remedy is a new connection,
//! verified from scratch, never a quiet switch to an unverified key.

use crate::{Client, ClientError, ConnectOptions};

impl Client {
    /// Connects again to the same URL with the same options: fetches the
    /// server's evidence with a fresh nonce and verifies it against the same
    /// policy, exactly as [`Client::connect`] does.
    ///
    /// `self` is left unchanged; the returned client encrypts to the newly
    /// verified key. Fails, like `connect`, when the server no longer
    /// satisfies the policy.
    pub async fn reconnect(&self) -> Result<Client, ClientError> {
        Client::connect(&self.base, self.options.clone()).await
    }

    /// The options this client was connected with (policy, timeout,
    /// credentials), for callers that build inner requests themselves.
    pub fn options(&self) -> &ConnectOptions {
        &self.options
    }
}
