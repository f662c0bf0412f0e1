//! Single-use server challenges that bind state-changing calls (model
//! upload and delete) to the present, so that a captured encapsulated
//! request replayed later changes nothing.
//!
//! A client asks for a challenge through the channel ([`CHALLENGE_PATH`],
//! owner only) and sends it back in the
//! [`CHALLENGE_HEADER`] of the upload or delete, inside the encrypted
//! request. The server accepts each challenge once, within [`TTL`] of its
//! issue; the table is bounded and evicts the oldest entry when full. An
//! attacker who replays the ciphertext of an upload or delete replays a
//! challenge that was already used (or expired, or forgotten), and cannot
//! put a fresh one inside a ciphertext it cannot open.
//!
//! Time is a parameter ([`Challenges::issue_at`], [`Challenges::redeem_at`])
//! so that expiry is tested without waiting.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::RngCore;

pub use veil_protocol::challenge::{CHALLENGE_HEADER, CHALLENGE_PATH};
/// How long a challenge stays valid.
pub const TTL: Duration = Duration::from_secs(60);
/// How many challenges are remembered at once (issued, or used and not yet expired).
pub const CAPACITY: usize = 4096;
/// Bytes of randomness in a challenge.
pub const CHALLENGE_BYTES: usize = 32;

/// Why a challenge was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The request carries no challenge header.
    #[error(
        "this call needs a fresh challenge in the `veil-challenge` header (POST /veil/v1/challenge)"
    )]
    Missing,
    /// The header is not 64 hex digits.
    #[error("the `veil-challenge` header must be 64 hex digits")]
    Malformed,
    /// This server never issued it (or forgot it: restart, eviction).
    #[error(
        "the challenge is unknown to this server (never issued, evicted, or issued before a restart)"
    )]
    Unknown,
    /// It was issued more than [`TTL`] ago.
    #[error("the challenge has expired; fetch a new one")]
    Expired,
    /// It was already used by another call.
    #[error("the challenge was already used; each one is good for a single call")]
    AlreadyUsed,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    issued: Instant,
    used: bool,
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<[u8; CHALLENGE_BYTES], Entry>,
    /// Issue order, oldest first, for eviction.
    order: VecDeque<[u8; CHALLENGE_BYTES]>,
}

/// The table of issued challenges.
#[derive(Debug)]
pub struct Challenges {
    table: Mutex<Table>,
    ttl: Duration,
    capacity: usize,
}

impl Default for Challenges {
    fn default() -> Self {
        Challenges::new(TTL, CAPACITY)
    }
}

impl Challenges {
    /// A table whose challenges live `ttl` and which holds at most `capacity`.
    pub fn new(ttl: Duration, capacity: usize) -> Self {
        Challenges {
            table: Mutex::new(Table::default()),
            ttl,
            capacity: capacity.max(1),
        }
    }

    /// How long a challenge stays valid.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Issues a fresh random challenge now; returns it as hex.
    pub fn issue(&self) -> String {
        self.issue_at(Instant::now())
    }

    /// Issues a fresh random challenge at `now`; returns it as hex.
    pub fn issue_at(&self, now: Instant) -> String {
        let mut challenge = [0u8; CHALLENGE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut challenge);
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        // Forget expired entries first, then the oldest while full.
        while let Some(oldest) = t.order.front().copied() {
            let expired = t
                .entries
                .get(&oldest)
                .is_none_or(|e| now.saturating_duration_since(e.issued) > self.ttl);
            if !expired && t.order.len() < self.capacity {
                break;
            }
            t.order.pop_front();
            t.entries.remove(&oldest);
        }
        t.entries.insert(
            challenge,
            Entry {
                issued: now,
                used: false,
            },
        );
        t.order.push_back(challenge);
        hex::encode(challenge)
    }

    /// Accepts `header` (the challenge header's value) once, now.
    pub fn redeem(&self, header: Option<&str>) -> Result<(), ChallengeError> {
        self.redeem_at(header, Instant::now())
    }

    /// Accepts `header` once at `now`: it must name a challenge this table
    /// issued within the TTL and that no call has used yet.
    pub fn redeem_at(&self, header: Option<&str>, now: Instant) -> Result<(), ChallengeError> {
        let header = header.ok_or(ChallengeError::Missing)?;
        let challenge: [u8; CHALLENGE_BYTES] = hex::decode(header.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or(ChallengeError::Malformed)?;
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let entry = t
            .entries
            .get_mut(&challenge)
            .ok_or(ChallengeError::Unknown)?;
        if entry.used {
            return Err(ChallengeError::AlreadyUsed);
        }
        if now.saturating_duration_since(entry.issued) > self.ttl {
            return Err(ChallengeError::Expired);
        }
        // Kept, marked used, until it expires or is evicted: a replay
        // within the TTL is told precisely why it is refused.
        entry.used = true;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn a_challenge_is_accepted_once() {
        let c = Challenges::default();
        let h = c.issue();
        assert_eq!(h.len(), 64);
        assert_eq!(c.redeem(Some(&h)), Ok(()));
        assert_eq!(c.redeem(Some(&h)), Err(ChallengeError::AlreadyUsed));
    }

    #[test]
    fn refuses_missing_malformed_and_unknown_challenges() {
        let c = Challenges::default();
        assert_eq!(c.redeem(None), Err(ChallengeError::Missing));
        assert_eq!(c.redeem(Some("xyz")), Err(ChallengeError::Malformed));
        assert_eq!(c.redeem(Some("ab")), Err(ChallengeError::Malformed));
        let other = Challenges::default().issue();
        assert_eq!(c.redeem(Some(&other)), Err(ChallengeError::Unknown));
    }

    #[test]
    fn refuses_an_expired_challenge() {
        let c = Challenges::new(Duration::from_secs(60), 16);
        let t0 = Instant::now();
        let h = c.issue_at(t0);
        assert_eq!(
            c.redeem_at(Some(&h), t0 + Duration::from_secs(61)),
            Err(ChallengeError::Expired)
        );
        let h = c.issue_at(t0);
        assert_eq!(c.redeem_at(Some(&h), t0 + Duration::from_secs(59)), Ok(()));
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_oldest() {
        let c = Challenges::new(Duration::from_secs(60), 3);
        let t0 = Instant::now();
        let first = c.issue_at(t0);
        let rest: Vec<String> = (0..3).map(|_| c.issue_at(t0)).collect();
        assert_eq!(c.table.lock().unwrap().entries.len(), 3);
        assert_eq!(c.redeem_at(Some(&first), t0), Err(ChallengeError::Unknown));
        for h in &rest {
            assert_eq!(c.redeem_at(Some(h), t0), Ok(()));
        }
    }

    #[test]
    fn expired_entries_are_forgotten_when_new_ones_are_issued() {
        let c = Challenges::new(Duration::from_secs(60), 100);
        let t0 = Instant::now();
        for _ in 0..10 {
            c.issue_at(t0);
        }
        c.issue_at(t0 + Duration::from_secs(120));
        assert_eq!(c.table.lock().unwrap().entries.len(), 1);
    }
}
