//! The stop flag every long-lived thread waits on.
//!
//! A `Condvar` rather than `sleep` so that a thread waiting out a 30 s
//! heartbeat interval or a 60 s registration backoff wakes the moment a
//! signal arrives: idle shutdown takes milliseconds.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<(Mutex<u32>, Condvar)>,
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Raises the flag and wakes every waiter. Returns how many times it has
    /// been raised, so the signal handler can tell a second signal apart.
    pub fn trigger(&self) -> u32 {
        let (lock, cv) = &*self.inner;
        let mut n = lock.lock().unwrap_or_else(|e| e.into_inner());
        *n += 1;
        cv.notify_all();
        *n
    }

    pub fn is_set(&self) -> bool {
        *self.inner.0.lock().unwrap_or_else(|e| e.into_inner()) > 0
    }

    /// Waits up to `timeout`; returns `true` if the flag is (or becomes) set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (lock, cv) = &*self.inner;
        let mut n = lock.lock().unwrap_or_else(|e| e.into_inner());
        while *n == 0 {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            n = match cv.wait_timeout(n, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_waiters_promptly() {
        let stop = Stop::new();
        let s2 = stop.clone();
        let t = std::thread::spawn(move || {
            let start = Instant::now();
            assert!(s2.wait_timeout(Duration::from_secs(30)));
            start.elapsed()
        });
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(stop.trigger(), 1);
        let waited = t.join().unwrap();
        assert!(waited < Duration::from_secs(5));
        assert!(stop.is_set());
        assert_eq!(stop.trigger(), 2);
    }

    #[test]
    fn times_out_when_not_set() {
        assert!(!Stop::new().wait_timeout(Duration::from_millis(5)));
    }
}
