//! Readiness (`/readyz`): may this agent take traffic? Two checks, each a
//! line of the answer: the backend answered its last probe
//! (`backend::probe`), and, when registering, the platform has accepted
//! the agent at least once.
//!
//! The backend is probed on demand, not on a timer: an agent nobody asks
//! never sends its backend a request. A result is reused for `FRESH`; when
//! it is older, one `readiness-probe` thread (never more than one) checks
//! again while the request waits at most `ANSWER_WITHIN`, so `/readyz`
//! answers fast even when the backend hangs (it then reports the previous
//! result, or that the check has not answered yet).

use crate::backend::probe;
use crate::config::BackendConfig;
use crate::metrics::Metrics;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a probe's result stands (a Kubernetes probe every 10 s sees a
/// fresh one each time, with one probe per period at most).
const FRESH: Duration = Duration::from_secs(5);
/// The probe's own connect and answer deadline.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest a `/readyz` request waits for a running probe.
const ANSWER_WITHIN: Duration = Duration::from_millis(1000);

/// The answer to `/readyz`: 200 or 503, a line per check.
pub struct Verdict {
    pub ready: bool,
    pub body: String,
}

#[derive(Default)]
struct Cache {
    last: Option<(Instant, Result<String, String>)>,
    probing: bool,
}

struct Inner {
    backend: BackendConfig,
    cache: Mutex<Cache>,
    done: Condvar,
}

pub struct Readiness {
    inner: Arc<Inner>,
    register: bool,
    metrics: Arc<Metrics>,
}

impl Readiness {
    pub fn new(backend: BackendConfig, register: bool, metrics: Arc<Metrics>) -> Readiness {
        let inner = Inner {
            backend,
            cache: Mutex::new(Cache::default()),
            done: Condvar::new(),
        };
        Readiness {
            inner: Arc::new(inner),
            register,
            metrics,
        }
    }

    pub fn check(&self) -> Verdict {
        let backend = self.backend_status();
        let platform = self.platform_status();
        let ready = backend.is_ok() && platform.is_ok();
        let line = |what: &str, r: &Result<String, String>| match r {
            Ok(s) => format!("{what}: ok: {s}\n"),
            Err(s) => format!("{what}: not ready: {s}\n"),
        };
        let body = line("backend", &backend) + &line("platform", &platform);
        Verdict { ready, body }
    }

    fn platform_status(&self) -> Result<String, String> {
        if !self.register {
            return Ok("not registering (REGISTER=false)".into());
        }
        if self.metrics.ever_registered() {
            return Ok("the platform accepted the registration".into());
        }
        Err(format!(
            "the platform has not accepted the registration yet (state: {})",
            self.metrics.registration().label()
        ))
    }

    fn backend_status(&self) -> Result<String, String> {
        if matches!(self.inner.backend, BackendConfig::Echo { .. }) {
            return Ok("echo backend: always ready".into());
        }
        let mut cache = lock(&self.inner.cache);
        let stale = cache
            .last
            .as_ref()
            .is_none_or(|(t, _)| t.elapsed() >= FRESH);
        if stale && !cache.probing {
            cache.probing = Inner::start_probe(&self.inner).is_ok();
        }
        let deadline = Instant::now() + ANSWER_WITHIN;
        while cache.probing && stale {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            crate::blocking::about_to_wait();
            cache = match self.inner.done.wait_timeout(cache, left) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        match &cache.last {
            Some((_, r)) => r.clone(),
            None => Err(format!(
                "the first check has not answered within {} ms",
                ANSWER_WITHIN.as_millis()
            )),
        }
    }
}

impl Inner {
    fn start_probe(inner: &Arc<Inner>) -> std::io::Result<()> {
        let inner = Arc::clone(inner);
        std::thread::Builder::new()
            .name("readiness-probe".into())
            .spawn(move || {
                let r = crate::panics::isolate(&"probing the backend", || {
                    probe::check(&inner.backend, PROBE_TIMEOUT)
                })
                .unwrap_or_else(|| Err("the probe crashed".into()));
                let mut cache = lock(&inner.cache);
                cache.last = Some((Instant::now(), r));
                cache.probing = false;
                inner.done.notify_all();
            })
            .map(|_| ())
    }
}

fn lock(m: &Mutex<Cache>) -> MutexGuard<'_, Cache> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::RegState;

    fn webhook(url: String) -> BackendConfig {
        BackendConfig::Webhook {
            url,
            tls: crate::tls::client_config(&[]).unwrap(),
        }
    }

    #[test]
    fn platform_must_have_accepted_us_once() {
        let m = Arc::new(Metrics::new());
        let r = Readiness::new(
            BackendConfig::Echo {
                delay: Duration::ZERO,
            },
            true,
            Arc::clone(&m),
        );
        let v = r.check();
        assert!(!v.ready);
        assert!(v.body.contains("platform: not ready"), "{}", v.body);
        m.set_registration(RegState::Registered);
        m.set_registration(RegState::Pending);
        assert!(r.check().ready);
    }

    #[test]
    fn a_dead_backend_is_reported_then_a_live_one() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://127.0.0.1:{}/hook", l.local_addr().unwrap().port());
        let m = Arc::new(Metrics::new());
        let r = Readiness::new(webhook(url.clone()), false, Arc::clone(&m));
        assert!(r.check().ready);
        drop(l);
        let dead = Readiness::new(webhook(url), false, m);
        let v = dead.check();
        assert!(!v.ready);
        assert!(
            v.body.contains("backend: not ready: cannot connect"),
            "{}",
            v.body
        );
    }
}
