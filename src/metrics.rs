//! Counters for `/metrics` (Prometheus text format, by the Prometheus
//! naming conventions) and the figures the heartbeat reports (error rate
//! over a sliding window, the latest error).
//!
//! Invariant: every label value comes from a fixed set: `Route`, `Method`,
//! `Outcome` and the tables here. No user input, no secret, can reach a
//! label. Slots are indexed by those enums, never looked up by name.

use crate::protocol::Method;
use crate::route::Route;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering::Relaxed};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// How an A2A request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome<'a> {
    Ok,
    /// the caller's mistake (bad params, unknown task or method): does not
    /// count against the agent
    ClientError,
    /// the agent's failure (backend, internal error, busy): feeds the
    /// heartbeat's `error_rate`; the text is its sample error
    AgentError(&'a str),
}

impl Outcome<'_> {
    const LABELS: [&'static str; 3] = ["ok", "client_error", "agent_error"];

    fn index(self) -> usize {
        match self {
            Outcome::Ok => 0,
            Outcome::ClientError => 1,
            Outcome::AgentError(_) => 2,
        }
    }
}

/// A2A calls are counted per `Method`, plus one slot for names the agent
/// does not know.
const CALLS: usize = Method::COUNT + 1;

fn call_index(m: Option<Method>) -> usize {
    m.map_or(Method::COUNT, Method::index)
}

fn call_label(i: usize) -> &'static str {
    Method::ALL.get(i).map_or("invalid", |m| m.label())
}

/// Latency bucket bounds (seconds) below the backend timeout; the timeout
/// itself is the last bound, so a run that timed out lands in it.
const BUCKETS: [f64; 17] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0,
];

fn buckets_up_to(timeout: Duration) -> Vec<f64> {
    let t = timeout.as_secs_f64().max(0.001);
    let mut b: Vec<f64> = BUCKETS.iter().copied().filter(|le| *le < t).collect();
    b.push(t);
    b
}

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

impl RegState {
    pub fn label(self) -> &'static str {
        REG_NAMES[self as usize]
    }
}

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

/// Figures sampled by the caller at scrape time (the store, the server).
#[derive(Debug, Default)]
pub struct Sampled {
    pub active_tasks: usize,
    pub tasks_stored: usize,
    pub tasks_live: usize,
    pub task_store_bytes: usize,
    pub task_archive_bytes: usize,
    /// counts since start: exported as counters
    pub tasks_evicted: u64,
    pub tasks_expired: u64,
    pub open_connections: usize,
}

pub struct Metrics {
    http: [[AtomicU64; STATUS_CLASSES.len()]; Route::COUNT],
    a2a: [[AtomicU64; Outcome::LABELS.len()]; CALLS],
    buckets: Vec<f64>,
    /// per call: one count per bucket, then the +Inf overflow
    latency: Vec<AtomicU64>,
    latency_sum_us: [AtomicU64; CALLS],
    pub backend_errors: AtomicU64,
    pub busy_refusals: AtomicU64,
    pub heartbeat_ok: AtomicU64,
    pub heartbeat_failed: AtomicU64,
    pub register_attempts: AtomicU64,
    registration: AtomicU8,
    ever_registered: AtomicBool,
    pub token_persisted: AtomicU8,
    window: Mutex<Window>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Latency buckets up to the default backend timeout (300 s).
    pub fn new() -> Metrics {
        Metrics::with_timeout(Duration::from_secs(300))
    }

    /// Latency buckets up to `backend_timeout` (AGENT_TIMEOUT_SECS).
    pub fn with_timeout(backend_timeout: Duration) -> Metrics {
        let buckets = buckets_up_to(backend_timeout);
        let latency = (0..CALLS * (buckets.len() + 1))
            .map(|_| AtomicU64::new(0))
            .collect();
        Metrics {
            http: Default::default(),
            a2a: Default::default(),
            buckets,
            latency,
            latency_sum_us: Default::default(),
            backend_errors: AtomicU64::new(0),
            busy_refusals: AtomicU64::new(0),
            heartbeat_ok: AtomicU64::new(0),
            heartbeat_failed: AtomicU64::new(0),
            register_attempts: AtomicU64::new(0),
            registration: AtomicU8::new(RegState::Disabled as u8),
            ever_registered: AtomicBool::new(false),
            token_persisted: AtomicU8::new(1),
            window: Mutex::new(Window {
                start: Instant::now(),
                slots: vec![(u64::MAX, 0, 0); SLOTS],
                last_error: String::new(),
            }),
        }
    }

    pub fn http_request(&self, route: Route, status: u16) {
        let class = (status / 100).clamp(1, 5) as usize - 1;
        self.http[route.index()][class].fetch_add(1, Relaxed);
    }

    /// One A2A request answered; `method` is `None` for a name the agent
    /// does not know.
    pub fn a2a_request(&self, method: Option<Method>, elapsed: Duration, outcome: Outcome<'_>) {
        let m = call_index(method);
        self.a2a[m][outcome.index()].fetch_add(1, Relaxed);
        let secs = elapsed.as_secs_f64();
        let b = self
            .buckets
            .iter()
            .position(|le| secs <= *le)
            .unwrap_or(self.buckets.len());
        self.latency[m * (self.buckets.len() + 1) + b].fetch_add(1, Relaxed);
        self.latency_sum_us[m].fetch_add(elapsed.as_micros() as u64, Relaxed);
        match outcome {
            Outcome::AgentError(e) => self.record_outcome(Some(e)),
            _ => self.record_outcome(None),
        }
    }

    /// Feeds the error-rate window (also used by background task runs).
    pub fn record_outcome(&self, agent_error: Option<&str>) {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.record(agent_error.is_some(), agent_error);
    }

    /// For the heartbeat only (platform-contract.md): Prometheus computes
    /// rates itself from `workspace_agent_a2a_requests_total`.
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
        if s == RegState::Registered {
            self.ever_registered.store(true, Relaxed);
        }
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

    /// Whether the platform has accepted a registration since start (for
    /// readiness: a later failed heartbeat does not take the agent out).
    pub fn ever_registered(&self) -> bool {
        self.ever_registered.load(Relaxed)
    }

    /// The Prometheus text exposition.
    pub fn render(&self, sampled: &Sampled) -> String {
        let mut out = Exposition(String::with_capacity(8192));
        out.family("workspace_agent_build_info", "gauge", "Build information.");
        let version = env!("CARGO_PKG_VERSION");
        let _ = writeln!(
            out.0,
            "workspace_agent_build_info{{version=\"{version}\"}} 1"
        );
        self.render_http(&mut out);
        self.render_a2a(&mut out);
        self.render_latency(&mut out);
        self.render_counters(&mut out, sampled);
        self.render_gauges(&mut out, sampled);
        render_process(&mut out, &crate::proc_self::read());
        out.0
    }

    fn render_http(&self, out: &mut Exposition) {
        let name = "workspace_agent_http_requests_total";
        out.family(name, "counter", "HTTP requests by route and status class.");
        for route in Route::ALL {
            for (c, class) in STATUS_CLASSES.iter().enumerate() {
                let v = self.http[route.index()][c].load(Relaxed);
                if v > 0 {
                    let r = route.label();
                    let _ = writeln!(out.0, "{name}{{route=\"{r}\",status=\"{class}\"}} {v}");
                }
            }
        }
    }

    /// Series appear once a method has been called (as the Prometheus
    /// client libraries do with a labelled metric's children): the agent
    /// answers eleven methods and an unknown-name slot, most of which a
    /// given deployment never sees.
    fn render_a2a(&self, out: &mut Exposition) {
        let name = "workspace_agent_a2a_requests_total";
        let help = "A2A JSON-RPC requests by method and outcome \
                    (agent_error counts against the agent, client_error does not).";
        out.family(name, "counter", help);
        for (m, counts) in self.a2a.iter().enumerate() {
            let values: Vec<u64> = counts.iter().map(|c| c.load(Relaxed)).collect();
            if values.iter().all(|v| *v == 0) {
                continue;
            }
            let method = call_label(m);
            for (outcome, v) in Outcome::LABELS.iter().zip(values) {
                let _ = writeln!(
                    out.0,
                    "{name}{{method=\"{method}\",outcome=\"{outcome}\"}} {v}"
                );
            }
        }
    }

    fn render_latency(&self, out: &mut Exposition) {
        let name = "workspace_agent_a2a_request_duration_seconds";
        out.family(
            name,
            "histogram",
            "Time to answer an A2A request (streams: to the first event).",
        );
        let width = self.buckets.len() + 1;
        for (m, slots) in self.latency.chunks(width).enumerate() {
            let counts: Vec<u64> = slots.iter().map(|c| c.load(Relaxed)).collect();
            let total: u64 = counts.iter().sum();
            if total == 0 {
                continue;
            }
            let method = call_label(m);
            let mut cum = 0;
            for (le, n) in self.buckets.iter().zip(&counts) {
                cum += n;
                let _ = writeln!(
                    out.0,
                    "{name}_bucket{{method=\"{method}\",le=\"{le}\"}} {cum}"
                );
            }
            let _ = writeln!(
                out.0,
                "{name}_bucket{{method=\"{method}\",le=\"+Inf\"}} {total}"
            );
            let sum = self.latency_sum_us[m].load(Relaxed) as f64 / 1e6;
            let _ = writeln!(out.0, "{name}_sum{{method=\"{method}\"}} {sum}");
            let _ = writeln!(out.0, "{name}_count{{method=\"{method}\"}} {total}");
        }
    }

    fn render_counters(&self, out: &mut Exposition, sampled: &Sampled) {
        let counters = [
            (
                "workspace_agent_backend_errors_total",
                "Backend runs that failed or timed out.",
                self.backend_errors.load(Relaxed),
            ),
            (
                "workspace_agent_busy_refusals_total",
                "Requests refused because every task slot was busy.",
                self.busy_refusals.load(Relaxed),
            ),
            (
                "workspace_agent_heartbeats_ok_total",
                "Heartbeats the platform accepted.",
                self.heartbeat_ok.load(Relaxed),
            ),
            (
                "workspace_agent_heartbeats_failed_total",
                "Heartbeats that failed.",
                self.heartbeat_failed.load(Relaxed),
            ),
            (
                "workspace_agent_registration_attempts_total",
                "Registration attempts.",
                self.register_attempts.load(Relaxed),
            ),
            (
                "workspace_agent_tasks_evicted_total",
                "Finished tasks evicted to stay within bounds.",
                sampled.tasks_evicted,
            ),
            (
                "workspace_agent_tasks_expired_total",
                "Unfinished tasks failed after their idle TTL.",
                sampled.tasks_expired,
            ),
        ];
        for (name, help, v) in counters {
            out.family(name, "counter", help);
            let _ = writeln!(out.0, "{name} {v}");
        }
    }

    fn render_gauges(&self, out: &mut Exposition, sampled: &Sampled) {
        let name = "workspace_agent_registration_state";
        out.family(
            name,
            "gauge",
            "Registration with the platform (1 = current state).",
        );
        let reg = self.registration() as usize;
        for (i, state) in REG_NAMES.iter().enumerate() {
            let _ = writeln!(out.0, "{name}{{state=\"{state}\"}} {}", u8::from(i == reg));
        }
        let persisted = u64::from(self.token_persisted.load(Relaxed));
        let gauges = [
            (
                "workspace_agent_token_persisted",
                "0 while the platform token is held only in memory (CONFIGS_DIR not writable).",
                persisted,
            ),
            (
                "workspace_agent_active_tasks",
                "Backend runs in flight.",
                sampled.active_tasks as u64,
            ),
            (
                "workspace_agent_tasks_stored",
                "Tasks held in memory.",
                sampled.tasks_stored as u64,
            ),
            (
                "workspace_agent_tasks_live",
                "Stored tasks not yet finished.",
                sampled.tasks_live as u64,
            ),
            (
                "workspace_agent_task_store_bytes",
                "Approximate bytes of stored tasks.",
                sampled.task_store_bytes as u64,
            ),
            (
                "workspace_agent_task_archive_bytes",
                "Bytes held by the chunks that keep finished tasks packed.",
                sampled.task_archive_bytes as u64,
            ),
            (
                "workspace_agent_open_connections",
                "HTTP connections open.",
                sampled.open_connections as u64,
            ),
        ];
        for (name, help, v) in gauges {
            out.family(name, "gauge", help);
            let _ = writeln!(out.0, "{name} {v}");
        }
    }
}

/// The text being built; `family` writes a metric's HELP and TYPE lines.
struct Exposition(String);

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, kind: &str, help: &str, value: Option<f64>) {
        if let Some(v) = value {
            self.family(name, kind, help);
            let _ = writeln!(self.0, "{name} {v}");
        }
    }
}

/// The standard `process_*` metrics of the Prometheus client libraries.
fn render_process(out: &mut Exposition, p: &crate::proc_self::ProcessStats) {
    let f = |v: Option<u64>| v.map(|n| n as f64);
    out.sample(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        f(p.resident_memory_bytes),
    );
    out.sample(
        "process_virtual_memory_bytes",
        "gauge",
        "Virtual memory size in bytes.",
        f(p.virtual_memory_bytes),
    );
    out.sample(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
        p.cpu_seconds,
    );
    out.sample(
        "process_open_fds",
        "gauge",
        "Number of open file descriptors.",
        f(p.open_fds),
    );
    out.sample(
        "process_max_fds",
        "gauge",
        "Maximum number of open file descriptors.",
        f(p.max_fds),
    );
    out.sample(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        p.start_time_seconds,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_rate_over_window() {
        let m = Metrics::new();
        assert_eq!(m.error_rate(), 0.0, "idle is 0");
        let send = Some(Method::Send);
        m.a2a_request(send, Duration::from_millis(1), Outcome::Ok);
        m.a2a_request(send, Duration::from_millis(1), Outcome::ClientError);
        m.a2a_request(
            send,
            Duration::from_millis(1),
            Outcome::AgentError("backend down"),
        );
        m.a2a_request(send, Duration::from_millis(1), Outcome::Ok);
        assert!((m.error_rate() - 0.25).abs() < 1e-9);
        assert_eq!(m.sample_error(), "backend down");
        m.record_outcome(Some(&"x".repeat(10_000)));
        assert!(m.sample_error().len() <= SAMPLE_ERROR_MAX + 4);
    }

    #[test]
    fn renders_prometheus_text() {
        let m = Metrics::new();
        m.http_request(Route::Card, 200);
        m.a2a_request(Some(Method::Send), Duration::from_millis(3), Outcome::Ok);
        let text = m.render(&Sampled {
            active_tasks: 2,
            tasks_evicted: 5,
            ..Sampled::default()
        });
        assert!(
            text.contains("workspace_agent_http_requests_total{route=\"card\",status=\"2xx\"} 1")
        );
        assert!(
            text.contains("workspace_agent_a2a_request_duration_seconds_count{method=\"send\"} 1")
        );
        assert!(text.contains(
            "workspace_agent_a2a_requests_total{method=\"send\",outcome=\"agent_error\"} 0"
        ));
        assert!(text.contains("workspace_agent_active_tasks 2"));
        assert!(text.contains("# TYPE workspace_agent_tasks_evicted_total counter\nworkspace_agent_tasks_evicted_total 5"));
        assert!(text.contains("# TYPE process_cpu_seconds_total counter"));
        assert!(
            !text.contains("# TYPE workspace_agent_error_rate"),
            "a rate is Prometheus' job"
        );
    }

    #[test]
    fn only_called_methods_have_series() {
        let m = Metrics::new();
        m.a2a_request(None, Duration::from_millis(1), Outcome::ClientError);
        let text = m.render(&Sampled::default());
        assert!(text.contains("method=\"invalid\""));
        assert!(!text.contains("method=\"send\""), "send was never called");
    }

    #[test]
    fn buckets_end_at_the_backend_timeout() {
        assert_eq!(buckets_up_to(Duration::from_secs(300)).last(), Some(&300.0));
        let b = buckets_up_to(Duration::from_secs(45));
        assert_eq!(&b[b.len() - 2..], &[30.0, 45.0]);
        let m = Metrics::with_timeout(Duration::from_secs(7));
        m.a2a_request(Some(Method::Send), Duration::from_secs(7), Outcome::Ok);
        let text = m.render(&Sampled::default());
        assert!(text.contains("method=\"send\",le=\"7\"} 1"), "{text}");
    }

    #[test]
    fn registration_once_accepted_is_remembered() {
        let m = Metrics::new();
        assert!(!m.ever_registered());
        m.set_registration(RegState::Registered);
        m.set_registration(RegState::Pending);
        assert!(m.ever_registered());
    }

    #[test]
    fn truncate_respects_char_boundaries() {
        assert_eq!(truncate("ééé", 3), "é…");
    }
}
