//! A counting limit with a bounded wait, for backend runs
//! (`MAX_CONCURRENT_TASKS`): take a permit (waiting up to a limit), and the
//! permit gives its slot back when dropped, wherever it has moved to.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct Slots {
    max: usize,
    count: Mutex<Count>,
    changed: Condvar,
}

struct Count {
    used: usize,
    /// threads in `wait_while`: a freed slot wakes them only if there are
    /// any (a notify is a system call even when nobody waits)
    waiting: usize,
}

/// One taken slot; owned, so it can travel to the thread doing the work.
pub struct Permit(Arc<Slots>);

impl Drop for Permit {
    fn drop(&mut self) {
        let mut c = self.0.lock();
        c.used -= 1;
        // both acquirers and `wait_idle` may be waiting
        if c.waiting > 0 {
            self.0.changed.notify_all();
        }
    }
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max,
            count: Mutex::new(Count {
                used: 0,
                waiting: 0,
            }),
            changed: Condvar::new(),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn lock(&self) -> MutexGuard<'_, Count> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits while `busy(used)` holds, up to `deadline`; `None` on timeout.
    fn wait_while(
        &self,
        deadline: Instant,
        busy: impl Fn(usize) -> bool,
    ) -> Option<MutexGuard<'_, Count>> {
        let mut c = self.lock();
        while busy(c.used) {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            c.waiting += 1;
            crate::blocking::about_to_wait();
            c = match self.changed.wait_timeout(c, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
            c.waiting -= 1;
        }
        Some(c)
    }

    /// Takes a slot, waiting up to `wait` for one to free.
    pub fn acquire(self: &Arc<Self>, wait: Duration) -> Option<Permit> {
        let mut c = self.wait_while(Instant::now() + wait, |n| n >= self.max)?;
        c.used += 1;
        Some(Permit(Arc::clone(self)))
    }

    pub fn in_use(&self) -> usize {
        self.lock().used
    }

    /// Waits until every slot is free, up to `deadline`.
    pub fn wait_idle(&self, deadline: Instant) -> bool {
        self.wait_while(deadline, |n| n > 0).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_and_released_on_drop() {
        let s = Slots::new(2);
        let a = s.acquire(Duration::ZERO).unwrap();
        let b = s.acquire(Duration::ZERO).unwrap();
        assert!(s.acquire(Duration::from_millis(5)).is_none());
        assert_eq!(s.in_use(), 2);
        let t = std::thread::spawn(move || drop(a));
        assert!(
            s.acquire(Duration::from_secs(5)).is_some(),
            "a freed slot wakes a waiter"
        );
        t.join().unwrap();
        assert!(!s.wait_idle(Instant::now() + Duration::from_millis(5)));
        drop(b);
        assert!(s.wait_idle(Instant::now() + Duration::from_secs(1)));
    }
}
