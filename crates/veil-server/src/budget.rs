//! A global budget of request bytes being read and decoded at once.
//!
//! The per-model inference queue applies only after a body has been read,
//! decapsulated and decoded, so without a bound many concurrent large
//! `message/ohttp-req` requests would each hold their body (and its
//! decrypted and decoded copies) at once. [`read_body`] reserves each part
//! of a body in the budget as it arrives and keeps the reservation until the
//! request is answered; when the budget is spent, the request is refused
//! (`503` with `Retry-After`, see [`crate::gateway::over_budget`]) and what
//! it held is released at once.
//!
//! Bytes are reserved as they arrive, not by the declared `Content-Length`:
//! a slow client that announces 64 MiB and sends nothing holds nothing, so a
//! few such connections cannot lock everyone else out.
//!
//! The budget counts encapsulated bytes. Decapsulation and decoding make up
//! to about three transient copies of a body, so the memory it bounds is a
//! small multiple of the budget, not the budget itself. Chunked requests
//! (uploads) stream through fixed buffers to disk and take no reservation.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use futures::StreamExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The reservation unit: budgets and reservations are counted in KiB, so a
/// budget of up to 4 TiB fits the semaphore's 32-bit acquisitions.
const UNIT: u64 = 1024;

/// The server-wide budget of in-flight request bytes.
#[derive(Debug, Clone)]
pub struct RequestBudget {
    permits: Arc<Semaphore>,
    total_units: u32,
}

/// Bytes of one request, held until this is dropped.
#[derive(Debug, Default)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

impl Reservation {
    /// Bytes held (a multiple of 1 KiB).
    pub fn bytes(&self) -> u64 {
        self.permit
            .as_ref()
            .map_or(0, |p| p.num_permits() as u64 * UNIT)
    }

    fn add(&mut self, more: OwnedSemaphorePermit) {
        match &mut self.permit {
            Some(held) => held.merge(more),
            None => self.permit = Some(more),
        }
    }
}

/// Why a body was not read whole.
#[derive(Debug, thiserror::Error)]
pub enum ReadBodyError {
    /// The body is longer than the request limit.
    #[error("the body exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// The server-wide budget has no room for the rest of the body.
    #[error("the in-flight request budget is spent")]
    OverBudget,
    /// The transport failed while the body was read.
    #[error("the request body could not be read")]
    Body,
}

impl RequestBudget {
    /// A budget of `bytes` (rounded up to whole KiB, at least one).
    pub fn new(bytes: u64) -> Self {
        let total_units = units(bytes).max(1);
        RequestBudget {
            permits: Arc::new(Semaphore::new(total_units as usize)),
            total_units,
        }
    }

    /// Grows `reservation` to cover `bytes` in all, at once, or returns
    /// `false` if the budget has not that much left now. A request larger
    /// than the whole budget may hold all of it, so it runs alone rather
    /// than never.
    pub fn try_grow(&self, reservation: &mut Reservation, bytes: u64) -> bool {
        let wanted = units(bytes).min(self.total_units);
        let held = u32::try_from(reservation.bytes() / UNIT).unwrap_or(u32::MAX);
        if wanted <= held {
            return true;
        }
        match self.permits.clone().try_acquire_many_owned(wanted - held) {
            Ok(more) => {
                reservation.add(more);
                true
            }
            Err(_) => false,
        }
    }

    /// Bytes not reserved now (a multiple of 1 KiB).
    pub fn available_bytes(&self) -> u64 {
        self.permits.available_permits() as u64 * UNIT
    }
}

fn units(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(UNIT)).unwrap_or(u32::MAX)
}

/// Reads `body` whole (at most `limit` bytes), reserving every part in
/// `budget` as it arrives; returns the bytes and the reservation that must
/// live until the request is answered.
///
/// A body refused for the budget is read on to its end (up to `limit`)
/// without being kept, so the client reads the answer rather than a reset
/// connection in the middle of its upload; its reservation is released
/// first.
pub async fn read_body(
    budget: &RequestBudget,
    body: Body,
    limit: usize,
) -> Result<(Bytes, Reservation), ReadBodyError> {
    let mut stream = body.into_data_stream();
    let mut reservation = Reservation::default();
    let mut parts: Vec<Bytes> = Vec::new();
    let mut len: usize = 0;
    while let Some(part) = stream.next().await {
        let part = part.map_err(|_| ReadBodyError::Body)?;
        len = len.saturating_add(part.len());
        if len > limit {
            return Err(ReadBodyError::TooLarge { limit });
        }
        if !budget.try_grow(&mut reservation, len as u64) {
            drop(parts);
            drop(reservation);
            let mut drained = len;
            while let Some(Ok(part)) = stream.next().await {
                drained = drained.saturating_add(part.len());
                if drained > limit {
                    break;
                }
            }
            return Err(ReadBodyError::OverBudget);
        }
        parts.push(part);
    }
    let bytes = match parts.len() {
        1 => parts.pop().unwrap_or_default(),
        _ => {
            let mut whole = Vec::with_capacity(len);
            for part in parts {
                whole.extend_from_slice(&part);
            }
            Bytes::from(whole)
        }
    };
    Ok((bytes, reservation))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chunked(parts: &[&'static [u8]]) -> Body {
        Body::from_stream(futures::stream::iter(
            parts
                .iter()
                .copied()
                .map(Bytes::from_static)
                .map(Ok::<_, std::io::Error>)
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn refuses_beyond_the_budget_and_recovers_when_released() {
        let budget = RequestBudget::new(10 * UNIT);
        let mut first = Reservation::default();
        assert!(budget.try_grow(&mut first, 6 * UNIT));
        assert_eq!(budget.available_bytes(), 4 * UNIT);
        let mut second = Reservation::default();
        assert!(!budget.try_grow(&mut second, 5 * UNIT));
        assert!(budget.try_grow(&mut second, 4 * UNIT));
        assert!(!budget.try_grow(&mut Reservation::default(), 1));
        drop(first);
        drop(second);
        assert_eq!(budget.available_bytes(), 10 * UNIT);
    }

    #[test]
    fn growing_takes_only_the_difference_and_rounds_up() {
        let budget = RequestBudget::new(4 * UNIT);
        let mut r = Reservation::default();
        assert!(budget.try_grow(&mut r, 1));
        assert!(budget.try_grow(&mut r, UNIT));
        assert_eq!(r.bytes(), UNIT);
        assert!(budget.try_grow(&mut r, UNIT + 1));
        assert_eq!(r.bytes(), 2 * UNIT);
        assert_eq!(budget.available_bytes(), 2 * UNIT);
    }

    #[test]
    fn a_request_larger_than_the_budget_runs_alone() {
        let budget = RequestBudget::new(4 * UNIT);
        let mut big = Reservation::default();
        assert!(budget.try_grow(&mut big, 100 * UNIT));
        assert_eq!(budget.available_bytes(), 0);
        assert!(!budget.try_grow(&mut Reservation::default(), 1));
        drop(big);
        assert!(budget.try_grow(&mut Reservation::default(), 1));
    }

    #[tokio::test]
    async fn reads_a_body_in_parts_and_holds_its_size_until_dropped() {
        let budget = RequestBudget::new(16 * UNIT);
        let (bytes, held) = read_body(&budget, chunked(&[b"abc", b"", b"def"]), 100)
            .await
            .unwrap();
        assert_eq!(&bytes[..], b"abcdef");
        assert_eq!(held.bytes(), UNIT);
        assert_eq!(budget.available_bytes(), 15 * UNIT);
        drop(held);
        assert_eq!(budget.available_bytes(), 16 * UNIT);
    }

    #[tokio::test]
    async fn a_body_beyond_the_budget_is_refused_and_releases_what_it_held() {
        static KIB: [u8; 1024] = [7; 1024];
        let budget = RequestBudget::new(2 * UNIT);
        let mut other = Reservation::default();
        assert!(budget.try_grow(&mut other, UNIT));
        let refused = read_body(&budget, chunked(&[&KIB, &KIB, &KIB]), 1 << 20).await;
        assert!(matches!(refused, Err(ReadBodyError::OverBudget)));
        assert_eq!(budget.available_bytes(), UNIT);
    }

    #[tokio::test]
    async fn a_body_beyond_the_limit_is_too_large() {
        let budget = RequestBudget::new(16 * UNIT);
        let refused = read_body(&budget, chunked(&[b"abcd", b"efgh"]), 6).await;
        assert!(matches!(refused, Err(ReadBodyError::TooLarge { limit: 6 })));
        assert_eq!(budget.available_bytes(), 16 * UNIT);
    }
}
