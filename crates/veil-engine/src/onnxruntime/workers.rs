//! One long-lived thread per session, fed from one queue.
//!
//! `ort`'s `Session::run` takes `&mut self` (ONNX Runtime's `Run` is not
//! thread safe for every execution provider), so one session serves one run
//! at a time. Each session lives on its own thread for the model's lifetime:
//!
//! * a session always runs on the same thread, so ONNX Runtime's per-thread
//!   buffers stay warm (running a session on a different thread each time,
//!   as a blocking pool does, cost MobileNetV2 +0.2 ms and MiniLM +0.15 ms
//!   per run here);
//! * a thread that finishes a run takes the next queued job at once, without
//!   waking anyone, so the engine never idles while requests wait;
//! * the idle thread that finished last gets the next job (a stack, not a
//!   round robin): with one request at a time every run reuses the same
//!   session, whose weights are still in the CPU caches. Round robin over two
//!   sessions cost MobileNetV2 +25% latency (13.5 ms against 10.8 ms, serial
//!   requests, 2 cores).

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

use ort::session::Session;

use crate::EngineError;

/// Work for a session: runs on a worker thread, given its session, and
/// returns how to deliver its result.
pub(super) type Job = Box<dyn FnOnce(&mut Session) -> Delivery + Send>;

/// Hands a finished job's result to its requester.
pub(super) type Delivery = Box<dyn FnOnce() + Send>;

/// Sessions of one model, each on its own thread.
pub(super) struct SessionWorkers {
    shared: Arc<Shared>,
    count: usize,
}

struct Shared {
    state: Mutex<State>,
    /// One per worker: signalled when a job is handed to it or on close.
    wake: Vec<Condvar>,
}

#[derive(Default)]
struct State {
    /// Jobs waiting for a worker, oldest first.
    queue: VecDeque<Job>,
    /// Idle workers, the most recently idle last.
    idle: Vec<usize>,
    /// A job handed to an idle worker, by worker index.
    handed: Vec<Option<Job>>,
    /// Set when the model is dropped: workers exit once idle.
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SessionWorkers {
    /// Starts one thread per session; `name` labels the threads.
    pub(super) fn start(sessions: Vec<Session>, name: &str) -> Result<Self, EngineError> {
        let count = sessions.len();
        if count == 0 {
            return Err(EngineError::InvalidConfig("no sessions".to_owned()));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                handed: (0..count).map(|_| None).collect(),
                ..State::default()
            }),
            wake: (0..count).map(|_| Condvar::new()).collect(),
        });
        for (index, session) in sessions.into_iter().enumerate() {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{index}"))
                .spawn(move || work(&shared, index, session))
                .map_err(|e| {
                    EngineError::InvalidConfig(format!("could not start a session thread: {e}"))
                })?;
        }
        Ok(SessionWorkers { shared, count })
    }

    /// Number of sessions (and threads).
    pub(super) fn len(&self) -> usize {
        self.count
    }

    /// Queues `job`; the most recently idle worker runs it, or the first
    /// worker to finish its current run.
    pub(super) fn submit(&self, job: Job) {
        let mut state = self.shared.lock();
        match state.idle.pop() {
            Some(worker) => {
                state.handed[worker] = Some(job);
                drop(state);
                self.shared.wake[worker].notify_one();
            }
            None => state.queue.push_back(job),
        }
    }
}

impl Drop for SessionWorkers {
    /// Idle workers exit now, busy ones after their run (a run whose
    /// requester went away still finishes); their sessions go with them.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        for wake in &self.shared.wake {
            wake.notify_one();
        }
    }
}

/// A worker's loop: run handed or queued jobs until the model is dropped.
fn work(shared: &Shared, index: usize, mut session: Session) {
    let mut state = shared.lock();
    loop {
        let job = if let Some(job) = state.handed[index].take() {
            job
        } else if let Some(job) = state.queue.pop_front() {
            job
        } else if state.closed {
            return;
        } else {
            if !state.idle.contains(&index) {
                state.idle.push(index);
            }
            state = shared.wake[index]
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
            continue;
        };
        drop(state);
        // A panicking job loses only its own reply (the requester sees the
        // run fail); the thread and its session keep serving.
        let delivery = catch_unwind(AssertUnwindSafe(|| job(&mut session)));
        // Back on the idle stack before the requester hears of the result:
        // its next request must find this session (warm caches), not
        // another one because this thread had not yet come back.
        let mut back = shared.lock();
        if back.handed[index].is_none() && back.queue.is_empty() && !back.idle.contains(&index) {
            back.idle.push(index);
        }
        drop(back);
        match delivery {
            Ok(deliver) => deliver(),
            Err(_) => tracing::error!("an inference job panicked; its request failed"),
        }
        state = shared.lock();
    }
}
