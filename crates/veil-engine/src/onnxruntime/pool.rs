//! A fixed pool of sessions of one model.
//!
//! `ort`'s `Session::run` takes `&mut self` (ONNX Runtime's `Run` is not
//! thread safe for every execution provider), so one session serves one run at
//! a time. A pool of several lets that many requests run at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, TryLockError};

use ort::session::Session;

/// Sessions of one model, each behind its own lock.
pub(super) struct SessionPool {
    /// Never empty.
    sessions: Vec<Mutex<Session>>,
    /// Where the next run starts looking, so runs spread over the pool.
    next: AtomicUsize,
}

impl SessionPool {
    /// A pool of `sessions`; `None` if there are none.
    pub(super) fn new(sessions: Vec<Session>) -> Option<Self> {
        if sessions.is_empty() {
            return None;
        }
        Some(SessionPool {
            sessions: sessions.into_iter().map(Mutex::new).collect(),
            next: AtomicUsize::new(0),
        })
    }

    /// Number of sessions.
    pub(super) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Runs `f` on a free session: tries each once, round robin from a moving
    /// start, and if all are busy waits for the one it started at.
    pub(super) fn with_session<R>(&self, f: impl FnOnce(&mut Session) -> R) -> R {
        let count = self.sessions.len();
        let start = self.next.fetch_add(1, Ordering::Relaxed) % count;
        for offset in 0..count {
            let candidate = &self.sessions[(start + offset) % count];
            match candidate.try_lock() {
                Ok(mut session) => return f(&mut session),
                // A run that panicked leaves the session itself intact:
                // ONNX Runtime state is not touched by a Rust unwind.
                Err(TryLockError::Poisoned(poisoned)) => return f(&mut poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => {}
            }
        }
        let mut session: MutexGuard<'_, Session> = self.sessions[start]
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        f(&mut session)
    }
}
