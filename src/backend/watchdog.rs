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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc::channel;
    use std::time::Duration;

    fn watch(
        cancel: &CancelToken,
        deadline: Instant,
    ) -> (Watchdog, std::sync::mpsc::Receiver<Instant>) {
        let (tx, rx) = channel();
        let w = Watchdog::spawn("test-watchdog", cancel, deadline, move || {
            let _ = tx.send(Instant::now());
        })
        .unwrap();
        (w, rx)
    }

    #[test]
    fn fires_at_once_on_cancel_and_at_the_deadline() {
        let cancel = CancelToken::new();
        let (w, rx) = watch(&cancel, Instant::now() + Duration::from_secs(60));
        let t = Instant::now();
        cancel.trigger();
        let fired_at = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(
            fired_at - t < Duration::from_millis(40),
            "no tick to wait for"
        );
        assert!(w.finish());
        let (w, rx) = watch(
            &CancelToken::new(),
            Instant::now() + Duration::from_millis(50),
        );
        assert!(rx.recv_timeout(Duration::from_secs(5)).is_ok());
        assert!(w.finish());
    }

    #[test]
    fn a_finished_run_is_never_fired_at_and_leaves_no_link() {
        let cancel = CancelToken::new();
        let (w, rx) = watch(&cancel, Instant::now() + Duration::from_secs(60));
        assert!(!w.finish());
        cancel.trigger();
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
    }
}
