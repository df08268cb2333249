//! The stop flag every long-lived thread waits on.
//!
//! A `Condvar` rather than `sleep` so that a thread waiting out a 30 s
//! heartbeat interval or a 60 s registration backoff wakes the moment a
//! signal arrives: idle shutdown takes milliseconds.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
pub struct Stop {
    inner: Arc<(Mutex<Flag>, Condvar)>,
}

#[derive(Default)]
struct Flag {
    raised: u32,
    /// flags raised with this one (a watchdog's wake-up), until unlinked
    linked: Vec<Stop>,
}

impl Stop {
    pub fn new() -> Stop {
        Stop::default()
    }

    /// Raises the flag and wakes every waiter. Returns how many times it has
    /// been raised, so the signal handler can tell a second signal apart.
    pub fn trigger(&self) -> u32 {
        let (n, linked) = {
            let mut f = self.lock();
            f.raised += 1;
            self.inner.1.notify_all();
            (f.raised, std::mem::take(&mut f.linked))
        };
        // outside our lock: the linked flags take their own
        for l in linked {
            l.trigger();
        }
        n
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Flag> {
        self.inner.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_set(&self) -> bool {
        self.lock().raised > 0
    }

    /// Raises `other` when this flag is raised (at once if it is already),
    /// so one thread can wait on either without polling.
    pub fn link(&self, other: &Stop) {
        let raised = {
            let mut f = self.lock();
            if f.raised == 0 {
                f.linked.push(other.clone());
            }
            f.raised > 0
        };
        if raised {
            other.trigger();
        }
    }

    pub fn unlink(&self, other: &Stop) {
        self.lock()
            .linked
            .retain(|l| !Arc::ptr_eq(&l.inner, &other.inner));
    }

    /// Waits up to `timeout`; returns `true` if the flag is (or becomes) set.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let cv = &self.inner.1;
        let mut n = self.lock();
        while n.raised == 0 {
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
    fn a_linked_flag_is_raised_with_it_until_unlinked() {
        let (a, b, c) = (Stop::new(), Stop::new(), Stop::new());
        a.link(&b);
        a.link(&c);
        a.unlink(&c);
        a.trigger();
        assert!(b.is_set() && !c.is_set());
        let d = Stop::new();
        a.link(&d);
        assert!(d.is_set(), "linking to a raised flag raises at once");
    }

    #[test]
    fn times_out_when_not_set() {
        assert!(!Stop::new().wait_timeout(Duration::from_millis(5)));
    }
}
