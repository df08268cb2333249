//! The platform thread: register (retrying with capped exponential backoff
//! and jitter), then heartbeat every interval, recovering from a rejected
//! token on the way. Every wait is on the stop flag, so shutdown wakes it
//! at once.

use super::heartbeat::{heartbeat_body, Load};
use super::{PlatformClient, RegistryError};
use crate::metrics::{Metrics, RegState};
use crate::shutdown::Stop;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct PlatformLoop {
    pub client: Arc<PlatformClient>,
    pub workspace_id: String,
    pub agent_url: String,
    /// the card to register, read at every registration so one after a
    /// reload (SIGHUP) sends the current card
    pub card: Box<dyn Fn() -> Value + Send>,
    pub interval: Duration,
    pub metrics: Arc<Metrics>,
    pub stop: Stop,
    pub load: Box<dyn Fn() -> Load + Send>,
    pub started: Instant,
}

const BACKOFF_START: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
/// After a 400 the configuration must change; retrying faster cannot help.
const REJECTED_RETRY: Duration = Duration::from_secs(120);

/// Exponential backoff with "equal jitter": half fixed, half random.
pub fn backoff(attempt: u32) -> Duration {
    let base = BACKOFF_START
        .saturating_mul(1u32 << attempt.min(16))
        .min(BACKOFF_MAX);
    let half = base / 2;
    half + Duration::from_millis(crate::ids::random_below(half.as_millis() as u64 + 1))
}

impl PlatformLoop {
    pub fn spawn(self) -> std::io::Result<std::thread::JoinHandle<()>> {
        std::thread::Builder::new()
            .name("platform".into())
            .spawn(move || self.run())
    }

    fn run(self) {
        self.metrics.set_registration(RegState::Pending);
        // register-then-refused cycles without a good heartbeat in between
        let mut refused = 0u32;
        loop {
            if !self.register_until_done() {
                return; // stopping
            }
            let Some(good_heartbeats) = self.heartbeat_until_unauthorized() else {
                return;
            };
            // The token was refused mid-way: register again to recover it.
            // A platform that accepts the registration and refuses the next
            // heartbeat again must not be hammered: back off until a
            // heartbeat goes through.
            if good_heartbeats > 0 {
                refused = 0;
            }
            let wait = backoff(refused);
            refused = refused.saturating_add(1);
            if refused > 1 {
                log::warn!(
                    "the platform accepts registrations but refuses heartbeats ({refused} times in a row); \
                     registering again in {:.1} s",
                    wait.as_secs_f64()
                );
            }
            if self.stop.wait_timeout(wait) {
                return;
            }
        }
    }

    /// A token that could not be saved is saved again on every turn of
    /// either loop, until it is on disk; `/metrics` (and so `diagnose`)
    /// shows whether it is.
    fn keep_token_safe(&self) {
        let saved = self.client.tokens.retry_persist();
        self.metrics
            .token_persisted
            .store(u8::from(saved), Ordering::Relaxed);
    }

    /// Registers, retrying until it works. Returns false if told to stop.
    fn register_until_done(&self) -> bool {
        let mut attempt = 0u32;
        let mut tried_without_token = false;
        let mut explained = false;
        while !self.stop.is_set() {
            self.keep_token_safe();
            self.metrics
                .register_attempts
                .fetch_add(1, Ordering::Relaxed);
            let card = (self.card)();
            let wait = match self
                .client
                .register(&self.workspace_id, &self.agent_url, &card)
            {
                Ok(issued) => {
                    self.registered(issued);
                    return true;
                }
                Err(RegistryError::Unauthorized(msg)) => {
                    match self.token_refused(&msg, attempt, &mut tried_without_token) {
                        Some(w) => w,
                        None => continue,
                    }
                }
                Err(RegistryError::Rejected(msg)) => self.rejected(&msg),
                Err(e) => self.unreachable(&e, attempt, &mut explained),
            };
            attempt = attempt.saturating_add(1);
            if self.stop.wait_timeout(wait) {
                return false;
            }
        }
        false
    }

    fn registered(&self, issued: bool) {
        self.metrics.set_registration(RegState::Registered);
        self.keep_token_safe();
        log::info!(
            "registered with the platform at {} as {} (advertised URL {}){}",
            self.client.shown(),
            self.workspace_id,
            self.agent_url,
            if issued { "; auth token issued" } else { "" }
        );
    }

    /// A 401 on registration: retry at once with a token rotated on disk,
    /// then once without a token (so the platform can issue one), then
    /// wait: the agent is locked out. `None` means retry at once.
    fn token_refused(
        &self,
        msg: &str,
        attempt: u32,
        tried_without_token: &mut bool,
    ) -> Option<Duration> {
        if self.client.tokens.reload() {
            log::warn!(
                "platform refused the auth token ({msg}); \
                 the token file changed on disk, retrying with it"
            );
            return None;
        }
        if !*tried_without_token && self.client.tokens.get().is_some() {
            *tried_without_token = true;
            log::warn!(
                "platform refused the auth token ({msg}); \
                 registering without it so the platform can issue a new one"
            );
            self.client.tokens.forget();
            return None;
        }
        self.metrics.set_registration(RegState::LockedOut);
        *tried_without_token = false;
        let w = backoff(attempt);
        log::error!(
            "LOCKED OUT: the platform at {} refuses this agent ({msg}) and issues no new token while one is live. \
             Put the workspace's token in {} or revoke it on the platform. Retrying in {} s.",
            self.client.shown(),
            self.client.tokens.path().display(),
            w.as_secs()
        );
        // a token may be written to disk meanwhile
        let _ = self.client.tokens.reload();
        Some(w)
    }

    /// A 400: the configuration must change; retrying faster cannot help.
    fn rejected(&self, msg: &str) -> Duration {
        self.metrics.set_registration(RegState::Rejected);
        log::error!(
            "platform rejected the registration: {msg}. The advertised URL is {:?}: the platform refuses \
             loopback, link-local and other unroutable addresses; set AGENT_URL to an address the platform \
             can reach. Serving anyway; retrying in {} s.",
            self.agent_url,
            REJECTED_RETRY.as_secs()
        );
        REJECTED_RETRY
    }

    /// No answer, or an unexpected one: back off and say how to check,
    /// once; later failures are logged briefly.
    fn unreachable(&self, e: &RegistryError, attempt: u32, explained: &mut bool) -> Duration {
        let w = backoff(attempt);
        if *explained {
            log::warn!(
                "registration still failing ({e}); retry {attempt} in {:.1} s",
                w.as_secs_f64()
            );
            return w;
        }
        *explained = true;
        let hint = if matches!(e, RegistryError::Unreachable(m) if m.contains("Dns"))
            && self.client.base().contains("host.docker.internal")
        {
            " On Linux, run the container with --add-host host.docker.internal:host-gateway."
        } else {
            " `workspace-agent diagnose` checks the way to the platform."
        };
        log::warn!(
            "waiting for the platform at {} to register ({e}); retrying in {:.1} s. \
             The agent serves its card meanwhile.{hint}",
            self.client.shown(),
            w.as_secs_f64()
        );
        w
    }

    /// Heartbeats until stopped (`None`) or the token is refused (the
    /// number of heartbeats that went through before).
    fn heartbeat_until_unauthorized(&self) -> Option<u64> {
        let mut failures = 0u32;
        let mut good = 0u64;
        loop {
            if self.stop.is_set() {
                return None;
            }
            self.keep_token_safe();
            let body = heartbeat_body(
                &self.workspace_id,
                &(self.load)(),
                self.started.elapsed(),
                &self.metrics,
            );
            match self.client.heartbeat(&body) {
                Ok(()) => {
                    good += 1;
                    self.metrics.heartbeat_ok.fetch_add(1, Ordering::Relaxed);
                    if failures > 0 {
                        log::info!(
                            "heartbeats reach the platform again after {failures} failure(s)"
                        );
                    }
                    failures = 0;
                }
                Err(RegistryError::Unauthorized(msg)) => {
                    self.metrics
                        .heartbeat_failed
                        .fetch_add(1, Ordering::Relaxed);
                    if self.client.tokens.reload() {
                        log::warn!(
                            "heartbeat refused ({msg}); the token file changed on disk, using it"
                        );
                        continue;
                    }
                    log::warn!("heartbeat refused ({msg}); registering again to recover the token");
                    self.metrics.set_registration(RegState::Pending);
                    return Some(good);
                }
                Err(e) => {
                    self.metrics
                        .heartbeat_failed
                        .fetch_add(1, Ordering::Relaxed);
                    failures += 1;
                    log::warn!(
                        "heartbeat failed ({e}); next try in {} s",
                        self.interval.as_secs()
                    );
                }
            }
            if self.stop.wait_timeout(self.interval) {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_then_caps_with_jitter() {
        for attempt in 0..40 {
            let b = backoff(attempt);
            let base = BACKOFF_START
                .saturating_mul(1u32 << attempt.min(16))
                .min(BACKOFF_MAX);
            assert!(b >= base / 2 && b <= base, "{attempt}: {b:?}");
        }
        assert!(backoff(30) <= BACKOFF_MAX);
    }
}
