//! Back-pressure for inference: per model, a bounded number of requests
//! admitted (running or queued in the engine); beyond that, `503` at once.
//!
//! The engine bounds how many run at once (one per session thread, see
//! `veil_engine::OrtConfig::sessions_per_model`); the gate bounds how many
//! may wait behind them, so memory stays bounded under a flood.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use veil_protocol::ErrorCode;

use crate::error::ApiError;

/// The admission gate of one model: `max_concurrent + max_queued` requests in.
#[derive(Debug)]
pub struct Gate {
    admitted: Arc<AtomicUsize>,
    max_concurrent: usize,
    max_queued: usize,
}

/// A request's place in a model's gate, given back when dropped. Move it
/// into the engine's run (`LoadedModel::submit`'s hold) so that it lasts as
/// long as the run, even if the requester goes away.
#[derive(Debug)]
pub struct Ticket(Arc<AtomicUsize>);

impl Drop for Ticket {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Gate {
    /// A gate admitting `max_concurrent` (at least 1) running and
    /// `max_queued` waiting requests.
    pub fn new(max_concurrent: usize, max_queued: usize) -> Self {
        Gate {
            admitted: Arc::new(AtomicUsize::new(0)),
            max_concurrent: max_concurrent.max(1),
            max_queued,
        }
    }

    /// Admits a request, or refuses with `unavailable` if the queue is full.
    pub fn admit(&self) -> Result<Ticket, ApiError> {
        let capacity = self.max_concurrent.saturating_add(self.max_queued);
        self.admitted
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < capacity).then_some(n + 1)
            })
            .map(|_| Ticket(self.admitted.clone()))
            .map_err(|_| overloaded())
    }

    /// Requests admitted beyond the ones that can run at once.
    pub fn queued(&self) -> usize {
        self.admitted
            .load(Ordering::Acquire)
            .saturating_sub(self.max_concurrent)
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

    #[test]
    fn refuses_beyond_the_queue_and_recovers() {
        let gate = Gate::new(1, 1);
        let running = gate.admit().unwrap();
        let waiting = gate.admit().unwrap();
        assert_eq!(gate.queued(), 1);
        let refused = gate.admit().unwrap_err();
        assert_eq!(refused.code, ErrorCode::Unavailable);
        drop(running);
        assert_eq!(gate.queued(), 0);
        let again = gate.admit().unwrap();
        drop((waiting, again));
        assert_eq!(gate.admitted.load(Ordering::Acquire), 0);
    }
}
