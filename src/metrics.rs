//! Counters for `/metrics` (Prometheus text format) and the figures the
//! heartbeat reports (error rate over a sliding window, the latest error).
//!
//! Invariant: every label value comes from a fixed set in this file or in
//! `protocol::Method::label`: no user input, no secret, can reach a label.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const ROUTES: [&str; 4] = ["card", "a2a", "metrics", "not_found"];
const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];
pub const METHODS: [&str; 9] = [
    "send",
    "stream",
    "get_task",
    "list_tasks",
    "cancel",
    "subscribe",
    "push_config",
    "extended_card",
    "invalid",
];
const OUTCOMES: [&str; 2] = ["ok", "error"];
/// latency buckets, seconds
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1.0, 5.0, 30.0,
];

/// Registration state, for `/metrics` and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum RegState {
    Disabled = 0,
    Pending = 1,
    Registered = 2,
    Rejected = 3,
    LockedOut = 4,
}

const REG_NAMES: [&str; 5] = [
    "disabled",
    "pending",
    "registered",
    "rejected",
    "locked_out",
];

/// The error-rate window: per-second buckets over the last `WINDOW`.
const WINDOW: Duration = Duration::from_secs(300);
const SLOTS: usize = 300;
/// `sample_error` is bounded so a huge backend error cannot bloat heartbeats.
pub const SAMPLE_ERROR_MAX: usize = 256;

struct Window {
    start: Instant,
    /// (second index, handled, failed)
    slots: Vec<(u64, u64, u64)>,
    last_error: String,
}

impl Window {
    fn record(&mut self, failed: bool, error: Option<&str>) {
        let sec = self.start.elapsed().as_secs();
        let slot = &mut self.slots[(sec % SLOTS as u64) as usize];
        if slot.0 != sec {
            *slot = (sec, 0, 0);
        }
        slot.1 += 1;
        if failed {
            slot.2 += 1;
            if let Some(e) = error {
                // the heartbeat carries it off the host: no URL credentials
                self.last_error = truncate(&crate::redact::text(e), SAMPLE_ERROR_MAX);
            }
        }
    }

    fn rate(&self) -> f64 {
        let now = self.start.elapsed().as_secs();
        let (mut handled, mut failed) = (0u64, 0u64);
        for (sec, h, f) in &self.slots {
            if *h > 0 && now.saturating_sub(*sec) < WINDOW.as_secs() {
                handled += h;
                failed += f;
            }
        }
        if handled == 0 {
            0.0
        } else {
            failed as f64 / handled as f64
        }
    }
}

pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

pub struct Metrics {
    http: [[AtomicU64; 5]; 4],
    a2a: [[AtomicU64; 2]; 9],
    latency: [[AtomicU64; 13]; 9],
    latency_sum_us: [AtomicU64; 9],
    pub backend_errors: AtomicU64,
    pub busy_refusals: AtomicU64,
    pub heartbeat_ok: AtomicU64,
    pub heartbeat_failed: AtomicU64,
    pub register_attempts: AtomicU64,
    registration: AtomicU8,
    pub token_persisted: AtomicU8,
    window: Mutex<Window>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        Metrics {
            http: Default::default(),
            a2a: Default::default(),
            latency: Default::default(),
            latency_sum_us: Default::default(),
            backend_errors: AtomicU64::new(0),
            busy_refusals: AtomicU64::new(0),
            heartbeat_ok: AtomicU64::new(0),
            heartbeat_failed: AtomicU64::new(0),
            register_attempts: AtomicU64::new(0),
            registration: AtomicU8::new(RegState::Disabled as u8),
            token_persisted: AtomicU8::new(1),
            window: Mutex::new(Window {
                start: Instant::now(),
                slots: vec![(u64::MAX, 0, 0); SLOTS],
                last_error: String::new(),
            }),
        }
    }

    pub fn http_request(&self, route: usize, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.http[route.min(ROUTES.len() - 1)][class].fetch_add(1, Relaxed);
    }

    /// One A2A request handled: `error` is `Some` when it failed in a way
    /// that counts against the agent (a backend failure, an internal error,
    /// a busy refusal), which feeds the heartbeat's `error_rate`.
    pub fn a2a_request(
        &self,
        method: &str,
        elapsed: Duration,
        ok: bool,
        agent_error: Option<&str>,
    ) {
        let m = METHODS
            .iter()
            .position(|x| *x == method)
            .unwrap_or(METHODS.len() - 1);
        self.a2a[m][usize::from(!ok)].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = BUCKETS
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(BUCKETS.len());
        self.latency[m][b].fetch_add(1, Relaxed);
        self.latency_sum_us[m].fetch_add(elapsed.as_micros() as u64, Relaxed);
        self.record_outcome(agent_error);
    }

    /// Feeds the error-rate window (also used by background task runs).
    pub fn record_outcome(&self, agent_error: Option<&str>) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.record(agent_error.is_some(), agent_error);
    }

    pub fn error_rate(&self) -> f64 {
        self.window.lock().unwrap_or_else(|e| e.into_inner()).rate()
    }

    pub fn sample_error(&self) -> String {
        self.window
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .last_error
            .clone()
    }

    pub fn set_registration(&self, s: RegState) {
        self.registration.store(s as u8, Relaxed);
    }

    pub fn registration(&self) -> RegState {
        match self.registration.load(Relaxed) {
            1 => RegState::Pending,
            2 => RegState::Registered,
            3 => RegState::Rejected,
            4 => RegState::LockedOut,
            _ => RegState::Disabled,
        }
    }

    /// The Prometheus text exposition. `gauges` are live figures sampled
    /// by the caller (name, help, value).
    pub fn render(&self, gauges: &[(&str, &str, f64)]) -> String {
        let mut s = String::with_capacity(8192);
        let _ = writeln!(s, "# HELP workspace_agent_build_info Build information.");
        let _ = writeln!(s, "# TYPE workspace_agent_build_info gauge");
        let _ = writeln!(
            s,
            "workspace_agent_build_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        );

        let _ = writeln!(
            s,
            "# HELP workspace_agent_http_requests_total HTTP requests by route and status class."
        );
        let _ = writeln!(s, "# TYPE workspace_agent_http_requests_total counter");
        for (r, route) in ROUTES.iter().enumerate() {
            for (c, class) in STATUS_CLASSES.iter().enumerate() {
                let v = self.http[r][c].load(Relaxed);
                if v > 0 {
                    let _ = writeln!(s, "workspace_agent_http_requests_total{{route=\"{route}\",status=\"{class}\"}} {v}");
                }
            }
        }

        let _ = writeln!(s, "# HELP workspace_agent_a2a_requests_total A2A JSON-RPC requests by method and outcome.");
        let _ = writeln!(s, "# TYPE workspace_agent_a2a_requests_total counter");
        for (m, method) in METHODS.iter().enumerate() {
            for (o, outcome) in OUTCOMES.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "workspace_agent_a2a_requests_total{{method=\"{method}\",outcome=\"{outcome}\"}} {}",
                    self.a2a[m][o].load(Relaxed)
                );
            }
        }

        let _ = writeln!(s, "# HELP workspace_agent_a2a_request_duration_seconds Time to answer an A2A request (streams: to the first event).");
        let _ = writeln!(
            s,
            "# TYPE workspace_agent_a2a_request_duration_seconds histogram"
        );
        for (m, method) in METHODS.iter().enumerate() {
            let mut cum = 0;
            for (b, le) in BUCKETS.iter().enumerate() {
                cum += self.latency[m][b].load(Relaxed);
                let _ = writeln!(s, "workspace_agent_a2a_request_duration_seconds_bucket{{method=\"{method}\",le=\"{le}\"}} {cum}");
            }
            cum += self.latency[m][BUCKETS.len()].load(Relaxed);
            let _ = writeln!(s, "workspace_agent_a2a_request_duration_seconds_bucket{{method=\"{method}\",le=\"+Inf\"}} {cum}");
            let sum = self.latency_sum_us[m].load(Relaxed) as f64 / 1e6;
            let _ = writeln!(
                s,
                "workspace_agent_a2a_request_duration_seconds_sum{{method=\"{method}\"}} {sum}"
            );
            let _ = writeln!(
                s,
                "workspace_agent_a2a_request_duration_seconds_count{{method=\"{method}\"}} {cum}"
            );
        }

        let counters: [(&str, &str, &AtomicU64); 5] = [
            (
                "workspace_agent_backend_errors_total",
                "Backend runs that failed or timed out.",
                &self.backend_errors,
            ),
            (
                "workspace_agent_busy_refusals_total",
                "Requests refused because every task slot was busy.",
                &self.busy_refusals,
            ),
            (
                "workspace_agent_heartbeats_ok_total",
                "Heartbeats the platform accepted.",
                &self.heartbeat_ok,
            ),
            (
                "workspace_agent_heartbeats_failed_total",
                "Heartbeats that failed.",
                &self.heartbeat_failed,
            ),
            (
                "workspace_agent_registration_attempts_total",
                "Registration attempts.",
                &self.register_attempts,
            ),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(
                s,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}",
                v.load(Relaxed)
            );
        }

        let reg = self.registration() as usize;
        let _ = writeln!(s, "# HELP workspace_agent_registration_state Registration with the platform (1 = current state).");
        let _ = writeln!(s, "# TYPE workspace_agent_registration_state gauge");
        for (i, name) in REG_NAMES.iter().enumerate() {
            let _ = writeln!(
                s,
                "workspace_agent_registration_state{{state=\"{name}\"}} {}",
                u8::from(i == reg)
            );
        }
        let _ = writeln!(s, "# HELP workspace_agent_token_persisted 0 while the platform token is held only in memory (CONFIGS_DIR not writable).");
        let _ = writeln!(s, "# TYPE workspace_agent_token_persisted gauge");
        let _ = writeln!(
            s,
            "workspace_agent_token_persisted {}",
            self.token_persisted.load(Relaxed)
        );
        let _ = writeln!(s, "# HELP workspace_agent_error_rate Failed / handled A2A requests over the last 5 minutes.");
        let _ = writeln!(s, "# TYPE workspace_agent_error_rate gauge");
        let _ = writeln!(s, "workspace_agent_error_rate {}", self.error_rate());
        for (name, help, v) in gauges {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rate_over_window() {
        let m = Metrics::new();
        assert_eq!(m.error_rate(), 0.0, "idle is 0");
        m.a2a_request("send", Duration::from_millis(1), true, None);
        m.a2a_request(
            "send",
            Duration::from_millis(1),
            false,
            Some("backend down"),
        );
        assert!((m.error_rate() - 0.5).abs() < 1e-9);
        assert_eq!(m.sample_error(), "backend down");
        m.record_outcome(Some(&"x".repeat(10_000)));
        assert!(m.sample_error().len() <= SAMPLE_ERROR_MAX + 4);
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.http_request(0, 200);
        m.a2a_request("send", Duration::from_millis(3), true, None);
        let text = m.render(&[("workspace_agent_active_tasks", "Tasks running.", 2.0)]);
        assert!(
            text.contains("workspace_agent_http_requests_total{route=\"card\",status=\"2xx\"} 1")
        );
        assert!(
            text.contains("workspace_agent_a2a_request_duration_seconds_count{method=\"send\"} 1")
        );
        assert!(text.contains("workspace_agent_active_tasks 2"));
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
