//! The file `veil attest --save` writes: `veil-saved-bundle/1`.

use serde::{Deserialize, Serialize};
use veil_protocol::bundle::EvidenceBundle;

/// The `format` of a file `veil attest --save` writes. Bumped whenever a
/// field changes meaning or is added or removed.
pub const SAVED_BUNDLE_FORMAT: &str = "veil-saved-bundle/1";

/// A file `veil attest --save` writes: the bundle exactly as the server sent
/// it, the nonce the client sent, and when it was verified.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedBundle {
    /// [`SAVED_BUNDLE_FORMAT`].
    pub format: String,
    /// The server URL the bundle came from (informational).
    pub server_url: String,
    /// The nonce the client sent, 64 hex characters.
    pub nonce: String,
    /// When `veil attest` verified the bundle (unix seconds).
    pub verified_at: u64,
    /// When the file was written (unix seconds).
    pub saved_at: u64,
    /// The server's `GET /v1/attestation` answer.
    pub bundle: EvidenceBundle,
}

/// Where a saved bundle came from, as its file says (unverified: shown so a
/// reader can compare it with their records).
#[derive(Debug, Clone, Serialize)]
pub struct Provenance {
    /// The server URL the bundle was fetched from.
    pub server_url: String,
    /// The nonce the client sent (hex).
    pub nonce: String,
    /// When `veil attest` verified it (unix seconds).
    pub verified_at: u64,
    /// When the file was written (unix seconds).
    pub saved_at: u64,
}

/// The saved-bundle file for `bundle_json` (the server's answer, byte for
/// byte: it is spliced in, not re-serialised).
pub fn saved_bundle_json(
    server_url: &str,
    bundle_json: &[u8],
    verified_at: u64,
    saved_at: u64,
) -> anyhow::Result<Vec<u8>> {
    let bundle: EvidenceBundle = serde_json::from_slice(bundle_json)?;
    let head = format!(
        "{{\n  \"format\": {},\n  \"server_url\": {},\n  \"nonce\": {},\n  \"verified_at\": {verified_at},\n  \"saved_at\": {saved_at},\n  \"bundle\": ",
        serde_json::to_string(SAVED_BUNDLE_FORMAT)?,
        serde_json::to_string(server_url)?,
        serde_json::to_string(&bundle.nonce)?,
    );
    let mut out = head.into_bytes();
    out.extend_from_slice(bundle_json);
    out.extend_from_slice(b"\n}\n");
    Ok(out)
}
