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

use crate::EngineError;

/// Work for a session `S` (an ONNX Runtime session): runs on a worker
/// thread, given its session, and returns how to deliver its result.
pub(super) type Job<S> = Box<dyn FnOnce(&mut S) -> Delivery + Send>;

/// Hands a finished job's result to its requester.
pub(super) type Delivery = Box<dyn FnOnce() + Send>;

/// Sessions of one model, each on its own thread.
pub(super) struct SessionWorkers<S> {
    shared: Arc<Shared<S>>,
    count: usize,
}

struct Shared<S> {
    state: Mutex<State<S>>,
    /// One per worker: signalled when a job is handed to it or on close.
    wake: Vec<Condvar>,
}

struct State<S> {
    /// Jobs waiting for a worker, oldest first.
    queue: VecDeque<Job<S>>,
    /// Idle workers, the most recently idle last.
    idle: Vec<usize>,
    /// A job handed to an idle worker, by worker index.
    handed: Vec<Option<Job<S>>>,
    /// Set when the model is dropped: workers exit once idle.
    closed: bool,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, State<S>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<S: Send + 'static> SessionWorkers<S> {
    /// Starts one thread per session; `name` labels the threads.
    pub(super) fn start(sessions: Vec<S>, name: &str) -> Result<Self, EngineError> {
        let count = sessions.len();
        if count == 0 {
            return Err(EngineError::InvalidConfig("no sessions".to_owned()));
        }
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                idle: Vec::with_capacity(count),
                handed: (0..count).map(|_| None).collect(),
                closed: false,
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
    pub(super) fn submit(&self, job: Job<S>) {
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

impl<S> Drop for SessionWorkers<S> {
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
fn work<S>(shared: &Shared<S>, index: usize, mut session: S) {
    let mut state = shared.lock();
    // A thread that has not run anything yet goes to the bottom of the idle
    // stack: threads start in any order, and one that starts late must not
    // take the next job from the one that has just run (and warmed) one.
    if state.handed[index].is_none() && state.queue.is_empty() {
        state.idle.insert(0, index);
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::mpsc;
    use std::time::Duration;

    use super::*;

    const WAIT: Duration = Duration::from_secs(30);

    /// Workers whose "session" is their own index.
    fn workers(count: usize) -> SessionWorkers<usize> {
        SessionWorkers::start((0..count).collect(), "test-session").unwrap()
    }

    /// A job that reports the session it ran on, through `tx`, when delivered.
    fn report(tx: &mpsc::Sender<usize>) -> Job<usize> {
        let tx = tx.clone();
        Box::new(move |session: &mut usize| {
            let ran_on = *session;
            Box::new(move || tx.send(ran_on).unwrap())
        })
    }

    #[test]
    fn serial_requests_all_run_on_the_session_that_ran_the_last_one() {
        // A client that sends its next request as soon as it has the answer
        // must find the same (warm) session, however fast it is: the worker
        // is back on the idle stack before the answer is delivered.
        let pool = workers(3);
        let (tx, rx) = mpsc::channel();
        pool.submit(report(&tx));
        let first = rx.recv_timeout(WAIT).unwrap();
        for _ in 0..500 {
            pool.submit(report(&tx));
            assert_eq!(rx.recv_timeout(WAIT).unwrap(), first);
        }
    }

    #[test]
    fn no_more_jobs_run_at_once_than_sessions_and_every_queued_job_runs() {
        let pool = workers(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = mpsc::channel();
        for i in 0..40usize {
            let (running, most, tx) = (running.clone(), most.clone(), tx.clone());
            pool.submit(Box::new(move |_: &mut usize| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(2));
                running.fetch_sub(1, Ordering::SeqCst);
                Box::new(move || tx.send(i).unwrap())
            }));
        }
        let mut done: Vec<usize> = (0..40).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
        done.sort_unstable();
        assert_eq!(done, (0..40).collect::<Vec<_>>());
        assert_eq!(
            most.load(Ordering::SeqCst),
            2,
            "both sessions were used, never more"
        );
    }

    #[test]
    fn a_panicking_job_loses_only_its_own_answer() {
        let pool = workers(1);
        let (tx, rx) = mpsc::channel();
        pool.submit(Box::new(|_: &mut usize| panic!("a job that fails")));
        // The one session's thread survived and keeps serving.
        for _ in 0..3 {
            pool.submit(report(&tx));
            assert_eq!(rx.recv_timeout(WAIT).unwrap(), 0);
        }
    }

    #[test]
    fn jobs_queued_when_the_pool_is_dropped_still_run_then_the_threads_exit() {
        let pool = workers(1);
        let (tx, rx) = mpsc::channel();
        let (release, gate) = mpsc::channel::<()>();
        // Hold the only session so that the next jobs queue.
        pool.submit(Box::new(move |_: &mut usize| {
            gate.recv_timeout(WAIT).unwrap();
            Box::new(|| ())
        }));
        for _ in 0..5 {
            pool.submit(report(&tx));
        }
        drop(pool);
        release.send(()).unwrap();
        for _ in 0..5 {
            assert_eq!(rx.recv_timeout(WAIT).unwrap(), 0);
        }
        // The worker held the last sender clone inside no job: once all
        // jobs ran, nothing more arrives.
        drop(tx);
        assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    }
}
