//! A counting limit with a bounded wait. Backend runs
//! (`MAX_CONCURRENT_TASKS`) and the workers' share of long requests both use
//! it: take a permit (waiting up to a limit), and the permit gives its slot
//! back when dropped, wherever it has moved to.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

pub struct Slots {
    max: usize,
    used: Mutex<usize>,
    changed: Condvar,
}

/// One taken slot; owned, so it can travel to the thread doing the work.
pub struct Permit(Arc<Slots>);

impl Drop for Permit {
    fn drop(&mut self) {
        *self.0.lock() -= 1;
        // both acquirers and `wait_idle` may be waiting
        self.0.changed.notify_all();
    }
}

impl Slots {
    pub fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots {
            max,
            used: Mutex::new(0),
            changed: Condvar::new(),
        })
    }

    pub fn max(&self) -> usize {
        self.max
    }

    fn lock(&self) -> MutexGuard<'_, usize> {
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits while `busy(used)` holds, up to `deadline`; `None` on timeout.
    fn wait_while(
        &self,
        deadline: Instant,
        busy: impl Fn(usize) -> bool,
    ) -> Option<MutexGuard<'_, usize>> {
        let mut used = self.lock();
        while busy(*used) {
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            used = match self.changed.wait_timeout(used, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        Some(used)
    }

    /// Takes a slot, waiting up to `wait` for one to free.
    pub fn acquire(self: &Arc<Self>, wait: Duration) -> Option<Permit> {
        let mut used = self.wait_while(Instant::now() + wait, |n| n >= self.max)?;
        *used += 1;
        Some(Permit(Arc::clone(self)))
    }

    pub fn in_use(&self) -> usize {
        *self.lock()
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
