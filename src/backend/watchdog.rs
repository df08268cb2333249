//! A thread that acts once when a run is canceled or its deadline passes
//! (kill a process group, close a connection), so a backend blocked in a
//! read or a wait is set free within a fraction of a second.

use crate::shutdown::Stop;
use crate::store::CancelToken;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

pub struct Watchdog {
    /// raised when the run ends, and (linked) when it is canceled
    wake: Stop,
    cancel: CancelToken,
    finished: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts watching; `on_fire` runs at most once, on the watchdog's
    /// thread. It sleeps on one condvar until the deadline, woken by a
    /// cancel (linked to its flag) or by the run's end: no polling.
    pub fn spawn(
        name: &str,
        cancel: &CancelToken,
        deadline: Instant,
        on_fire: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<Watchdog> {
        let wake = Stop::new();
        let finished = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        cancel.link(&wake);
        let thread = {
            let (wake, finished, fired) = (wake.clone(), finished.clone(), fired.clone());
            std::thread::Builder::new()
                .name(name.into())
                .spawn(move || {
                    wake.wait_timeout(deadline.saturating_duration_since(Instant::now()));
                    if !finished.load(Ordering::SeqCst) {
                        fired.store(true, Ordering::SeqCst);
                        on_fire();
                    }
                })
        };
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                cancel.unlink(&wake);
                return Err(e);
            }
        };
        Ok(Watchdog {
            wake,
            cancel: cancel.clone(),
            finished,
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
        self.finished.store(true, Ordering::SeqCst);
        self.cancel.unlink(&self.wake);
        self.wake.trigger();
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
