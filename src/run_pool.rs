//! Threads for backend runs that do not run on the request's own thread
//! (streams, non-blocking sends), kept for reuse: starting a thread costs a
//! dozen system calls (clone, stack mmap and guard, signal stack, ...),
//! more than a fast backend's whole run.
//!
//! Invariant: a job is handed to an idle thread only when one is sure to
//! take it (counted under the queue's lock), else it gets a new thread; so
//! a job never waits behind another. Every run holds a task slot, so the
//! threads busy at once are bounded by `MAX_CONCURRENT_TASKS`; idle ones
//! exit after `IDLE_EXIT`.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// An idle thread exits after waiting this long for a job.
const IDLE_EXIT: Duration = Duration::from_secs(2);

type Job = Box<dyn FnOnce() + Send + 'static>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    /// threads waiting for a job right now
    idle: usize,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    ready: Condvar,
}

#[derive(Clone, Default)]
pub struct RunPool {
    shared: Arc<Shared>,
}

impl RunPool {
    /// Runs `job` on an idle thread, or on a new one named `task-run`.
    pub fn run(&self, job: Job) -> std::io::Result<()> {
        let mut q = self.shared.lock();
        if q.idle > q.jobs.len() {
            q.jobs.push_back(job);
            self.shared.ready.notify_one();
            return Ok(());
        }
        drop(q);
        let shared = Arc::clone(&self.shared);
        std::thread::Builder::new()
            .name("task-run".into())
            .spawn(move || {
                let mut next = Some(job);
                while let Some(job) = next.take() {
                    // a panic costs the run (task_run fails its task); the
                    // thread lives on for the next one
                    crate::panics::isolate(&"running a backend", job);
                    next = shared.next_job();
                }
            })
            .map(|_| ())
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // jobs never run under the lock, so it is never poisoned by them
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next job, or `None` once idle for `IDLE_EXIT`.
    fn next_job(&self) -> Option<Job> {
        let mut q = self.lock();
        loop {
            if let Some(job) = q.jobs.pop_front() {
                return Some(job);
            }
            q.idle += 1;
            let (g, waited) = self
                .ready
                .wait_timeout(q, IDLE_EXIT)
                .unwrap_or_else(|e| e.into_inner());
            q = g;
            q.idle -= 1;
            if waited.timed_out() && q.jobs.is_empty() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn runs_every_job_and_reuses_an_idle_thread() {
        let pool = RunPool::default();
        let (tx, rx) = mpsc::channel();
        let mut threads = Vec::new();
        for _ in 0..3 {
            let tx = tx.clone();
            let job: Job = Box::new(move || {
                let _ = tx.send(std::thread::current().id());
            });
            pool.run(job).unwrap();
            threads.push(rx.recv_timeout(Duration::from_secs(5)).unwrap());
            // the thread is back waiting before the next job comes
            let deadline = std::time::Instant::now() + Duration::from_secs(5);
            while pool.shared.lock().idle == 0 && std::time::Instant::now() < deadline {
                std::thread::yield_now();
            }
        }
        assert!(
            threads.iter().all(|t| *t == threads[0]),
            "one thread: {threads:?}"
        );
    }

    #[test]
    fn a_panicking_job_leaves_the_thread_for_the_next() {
        let pool = RunPool::default();
        pool.run(Box::new(|| panic!("boom"))).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.run(Box::new(move || tx.send(()).unwrap())).unwrap();
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
    }
}
