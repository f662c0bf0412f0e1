//! Back-pressure for inference: per model, a bounded number of runs at once
//! and a bounded queue of waiting requests; beyond the queue, `503` at once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use veil_protocol::ErrorCode;

use crate::error::ApiError;

/// The admission gate of one model: `max_concurrent` runs, `max_queued` waiters.
#[derive(Debug)]
pub struct Gate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queued: usize,
}

/// Decrements the waiting count when a queued request stops waiting,
/// including when its future is dropped (the client went away).
struct Waiting<'a>(&'a AtomicUsize);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// A gate admitting `max_concurrent` (at least 1) runs and `max_queued` waiters.
    pub fn new(max_concurrent: usize, max_queued: usize) -> Self {
        Gate {
            running: Arc::new(Semaphore::new(max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            max_queued,
        }
    }

    /// Waits for a run slot, or refuses with `unavailable` if the queue is full.
    ///
    /// The permit is owned, so it can move into the blocking task and stay
    /// held while the engine runs even if the request future is dropped.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let queued = self
            .waiting
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.max_queued).then_some(n + 1)
            });
        if queued.is_err() {
            return Err(overloaded());
        }
        let _waiting = Waiting(&self.waiting);
        self.running
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ApiError::new(ErrorCode::Internal, "the inference gate is closed"))
    }

    /// Requests waiting for a run slot now.
    pub fn queued(&self) -> usize {
        self.waiting.load(Ordering::Acquire)
    }
}

fn overloaded() -> ApiError {
    ApiError::new(
        ErrorCode::Unavailable,
        "the model's inference queue is full; retry later",
    )
}

/// One [`Gate`] per model name, created on first use.
#[derive(Debug)]
pub struct Gates {
    gates: Mutex<HashMap<String, Arc<Gate>>>,
    max_concurrent: usize,
    max_queued: usize,
}

impl Gates {
    /// Gates with these per-model limits.
    pub fn new(max_concurrent: usize, max_queued: usize) -> Self {
        Gates {
            gates: Mutex::new(HashMap::new()),
            max_concurrent,
            max_queued,
        }
    }

    /// The gate of the model served as `name` (a name the registry knows).
    pub fn get(&self, name: &str) -> Arc<Gate> {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gates
            .entry(name.to_owned())
            .or_insert_with(|| Arc::new(Gate::new(self.max_concurrent, self.max_queued)))
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_the_queue_and_recovers() {
        let gate = Arc::new(Gate::new(1, 1));
        let first = gate.admit().await.unwrap();
        let g = gate.clone();
        let waiter = tokio::spawn(async move { g.admit().await.map(drop) });
        while gate.queued() == 0 {
            tokio::task::yield_now().await;
        }
        let refused = gate.admit().await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::Unavailable);
        drop(first);
        waiter.await.unwrap().unwrap();
        assert_eq!(gate.queued(), 0);
        drop(gate.admit().await.unwrap());
    }
}
