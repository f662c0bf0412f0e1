//! Replay binding of state-changing calls: the inner route that issues a
//! single-use server challenge, and the header that carries it back.
//!
//! A model upload or delete must carry, inside its encrypted request, a
//! challenge the server issued moments before and accepts once; a captured
//! request replayed later carries a used one and is refused with
//! [`crate::ErrorCode::InvalidChallenge`].

/// The inner route (`POST`, owner only) that issues a challenge: answers
/// [`IssuedChallenge`] as JSON.
pub const CHALLENGE_PATH: &str = "/veil/v1/challenge";

/// The inner request header that carries the challenge (hex) on an upload
/// (`PUT /v2/repository/models/{name}`) or delete.
pub const CHALLENGE_HEADER: &str = "veil-challenge";

/// The answer of [`CHALLENGE_PATH`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IssuedChallenge {
    /// 32 random bytes, hex.
    pub challenge: String,
    /// How long the server accepts it.
    pub expires_in_seconds: u64,
}

/// Whether a call with `method` on `path` changes state and so needs a
/// challenge: model upload and delete.
pub fn needs_challenge(method: &str, path: &str) -> bool {
    matches!(method, "PUT" | "DELETE") && path.starts_with("/v2/repository/models/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_uploads_and_deletes_need_a_challenge() {
        assert!(needs_challenge("PUT", "/v2/repository/models/m"));
        assert!(needs_challenge("DELETE", "/v2/repository/models/m"));
        assert!(!needs_challenge("GET", "/v2/repository/models/m"));
        assert!(!needs_challenge("POST", "/v2/models/m/infer"));
        assert!(!needs_challenge("PUT", "/v2/models/m"));
    }
}
