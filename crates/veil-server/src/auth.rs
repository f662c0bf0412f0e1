//! Owner tokens and API keys: stored as SHA-256 hashes, compared in constant time.
//!
//! Tokens travel only inside the encrypted channel, as
//! `Authorization: Bearer <token>` on the inner request.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The SHA-256 of a secret token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TokenHash([u8; 32]);

impl TokenHash {
    /// Hashes a token.
    pub fn of(token: &str) -> Self {
        TokenHash(Sha256::digest(token.as_bytes()).into())
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({})", hex::encode(self.0))
    }
}

/// A token hash that is not 64 hex digits.
#[derive(Debug, thiserror::Error)]
#[error("a token hash must be 64 hex digits (SHA-256 of the token)")]
pub struct BadTokenHash;

impl FromStr for TokenHash {
    type Err = BadTokenHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s.trim()).map_err(|_| BadTokenHash)?;
        Ok(TokenHash(bytes.try_into().map_err(|_| BadTokenHash)?))
    }
}

/// Extracts the bearer token from an `Authorization` header value.
pub fn bearer(header: Option<&str>) -> Option<&str> {
    header?.strip_prefix("Bearer ").map(str::trim)
}

/// Whether `token` hashes to one of `allowed`, in time independent of which
/// (and of how many bytes of it) matched.
pub fn token_allowed(token: Option<&str>, allowed: &[TokenHash]) -> bool {
    let Some(token) = token else { return false };
    let h = TokenHash::of(token);
    allowed
        .iter()
        .fold(subtle::Choice::from(0), |acc, a| acc | a.0.ct_eq(&h.0))
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_a_configured_token() {
        let allowed = vec![TokenHash::of("alpha"), TokenHash::of("beta")];
        assert!(token_allowed(Some("beta"), &allowed));
        assert!(!token_allowed(Some("gamma"), &allowed));
        assert!(!token_allowed(Some(""), &allowed));
        assert!(!token_allowed(None, &allowed));
        assert!(!token_allowed(Some("alpha"), &[]));
    }

    #[test]
    fn parses_bearer_headers() {
        assert_eq!(bearer(Some("Bearer abc")), Some("abc"));
        assert_eq!(bearer(Some("Basic abc")), None);
        assert_eq!(bearer(None), None);
    }

    #[test]
    fn token_hash_parses_hex() {
        let h = TokenHash::of("x");
        assert_eq!(hex::encode(h.0).parse::<TokenHash>().unwrap(), h);
        assert!("abcd".parse::<TokenHash>().is_err());
    }
}
