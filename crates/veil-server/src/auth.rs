//! Owner tokens and API keys: stored as SHA-256 hashes, compared in constant
//! time, with failed checks rate limited.
//!
//! Tokens travel only inside the encrypted channel, as
//! `Authorization: Bearer <token>` on the inner request.
//!
//! The rate limit is server-wide, not per client address: Veil is meant to
//! be reached through OHTTP relays (RFC 9458), which hide client addresses,
//! so behind a relay every client has the relay's address and a per-address
//! limit would be a global one anyway. While the limit holds, every token
//! check is answered `429` without looking at the token, so a guesser
//! learns nothing faster than [`FailedAuthLimiter`] allows; the price is
//! that a guesser can keep authenticated calls (management, and inference
//! when API keys are configured) refused, a denial of service that anyone
//! who can reach the server can cause by flooding it anyway.

use std::fmt;
use std::str::FromStr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

/// Failed authentications allowed at once before the limit holds.
pub const FAILED_AUTH_BURST: u32 = 10;
/// After a burst, one more failed authentication is allowed per interval.
pub const FAILED_AUTH_INTERVAL: Duration = Duration::from_secs(1);

/// A rate limit on failed token checks (the generic cell rate algorithm):
/// up to `burst` failures at once, then one per `interval`.
#[derive(Debug)]
pub struct FailedAuthLimiter {
    /// When the allowance is whole again (the theoretical arrival time).
    full_at: Mutex<Option<Instant>>,
    burst: u32,
    interval: Duration,
}

impl Default for FailedAuthLimiter {
    fn default() -> Self {
        FailedAuthLimiter::new(FAILED_AUTH_BURST, FAILED_AUTH_INTERVAL)
    }
}

impl FailedAuthLimiter {
    /// A limiter allowing `burst` failures at once, then one per `interval`.
    pub fn new(burst: u32, interval: Duration) -> Self {
        FailedAuthLimiter {
            full_at: Mutex::new(None),
            burst: burst.max(1),
            interval,
        }
    }

    /// Whether a token may be checked now; if not, how long to wait.
    pub fn check(&self) -> Result<(), Duration> {
        self.check_at(Instant::now())
    }

    /// Whether a token may be checked at `now`; if not, how long to wait.
    pub fn check_at(&self, now: Instant) -> Result<(), Duration> {
        let full_at = *self.full_at.lock().unwrap_or_else(|p| p.into_inner());
        let window = self.interval * self.burst;
        // What the allowance would owe after one more failure.
        let owed =
            full_at.map_or(Duration::ZERO, |t| t.saturating_duration_since(now)) + self.interval;
        if owed > window {
            Err(owed - window)
        } else {
            Ok(())
        }
    }

    /// Counts one failed check now.
    pub fn record_failure(&self) {
        self.record_failure_at(Instant::now());
    }

    /// Counts one failed check at `now`.
    pub fn record_failure_at(&self, now: Instant) {
        let mut full_at = self.full_at.lock().unwrap_or_else(|p| p.into_inner());
        let from = full_at.map_or(now, |t| t.max(now));
        *full_at = Some(from + self.interval);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_checks_are_limited_after_a_burst_and_allowed_again_later() {
        let limiter = FailedAuthLimiter::new(3, Duration::from_secs(1));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check_at(t0), Ok(()));
            limiter.record_failure_at(t0);
        }
        assert_eq!(limiter.check_at(t0), Err(Duration::from_secs(1)));
        // One more attempt per interval.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(limiter.check_at(t1), Ok(()));
        limiter.record_failure_at(t1);
        assert!(limiter.check_at(t1).is_err());
        // After a quiet spell the whole burst is back.
        let t2 = t1 + Duration::from_secs(10);
        for _ in 0..3 {
            assert_eq!(limiter.check_at(t2), Ok(()));
            limiter.record_failure_at(t2);
        }
        assert!(limiter.check_at(t2).is_err());
    }

    #[test]
    fn the_wait_is_how_long_until_the_next_attempt_is_allowed() {
        let limiter = FailedAuthLimiter::new(2, Duration::from_secs(5));
        let t0 = Instant::now();
        for _ in 0..4 {
            limiter.record_failure_at(t0);
        }
        // Four intervals owed and two allowed at once: one more attempt is
        // allowed once three intervals have passed.
        assert_eq!(limiter.check_at(t0), Err(Duration::from_secs(15)));
        assert!(limiter.check_at(t0 + Duration::from_secs(14)).is_err());
        assert_eq!(limiter.check_at(t0 + Duration::from_secs(15)), Ok(()));
    }

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
