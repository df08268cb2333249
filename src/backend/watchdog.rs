//! A thread that acts once when a run is canceled or its deadline passes
//! (kill a process group, close a connection), so a backend blocked in a
//! read or a wait is set free within a fraction of a second.

use crate::shutdown::Stop;
use crate::store::CancelToken;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often the cancel token is looked at (the `done` flag wakes at once).
const TICK: Duration = Duration::from_millis(50);

pub struct Watchdog {
    done: Stop,
    fired: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching; `on_fire` runs at most once, on the watchdog's
    /// thread.
    pub fn spawn(
        name: &str,
        cancel: &CancelToken,
        deadline: Instant,
        on_fire: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Watchdog> {
        let done = Stop::new();
        let fired = Arc::new(AtomicBool::new(false));
        let thread = {
            let (done, cancel, fired) = (done.clone(), cancel.clone(), fired.clone());
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || loop {
                    if done.wait_timeout(TICK) {
                        return;
                    }
                    if cancel.is_set() || Instant::now() >= deadline {
                        fired.store(true, Ordering::SeqCst);
                        on_fire();
                        return;
                    }
                })?
        };
        Ok(Watchdog {
            done,
            fired,
            thread: Some(thread),
        })
    }

    /// Whether it has acted (so far).
    pub fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }

    /// Stops watching; returns whether it acted.
    pub fn finish(mut self) -> bool {
        self.stop();
        self.fired()
    }

    fn stop(&mut self) {
        self.done.trigger();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.stop();
    }
}
