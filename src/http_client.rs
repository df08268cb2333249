//! The one way an outgoing HTTP client is made: named timeouts and the
//! agent's user agent. Callers add what is theirs (TLS, a connector).

use std::sync::Arc;
use std::time::Duration;

/// How long a client waits: to connect, for the whole call, between reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    /// the whole call, answer included; `None`: no overall bound here
    pub total: Option<Duration>,
    /// longest silence while reading; `None`: no bound here
    pub read: Option<Duration>,
}

const fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

impl Timeouts {
    /// Registration, heartbeats, card updates: a slow platform must not
    /// hold up the heartbeat rhythm.
    pub const PLATFORM: Timeouts = Timeouts {
        connect: secs(5),
        total: Some(secs(15)),
        read: None,
    };
    /// Backend calls: their deadline is the task's (AGENT_TIMEOUT_SECS),
    /// enforced by the backend's watchdog, not here.
    pub const BACKEND: Timeouts = Timeouts {
        connect: secs(10),
        total: None,
        read: None,
    };
    /// Local probes (`healthcheck`, `diagnose`'s local agent): a healthy
    /// agent answers in milliseconds.
    pub const PROBE: Timeouts = Timeouts {
        connect: secs(2),
        total: Some(secs(2)),
        read: None,
    };
    /// `diagnose` reaching the platform or a backend.
    pub const CHECK: Timeouts = Timeouts {
        connect: secs(5),
        total: Some(secs(5)),
        read: None,
    };
    /// CLI calls that answer at once: a card, a task, a list, a cancel.
    pub const CLI: Timeouts = Timeouts {
        connect: secs(10),
        total: Some(secs(30)),
        read: None,
    };
    /// `send`: a backend may take AGENT_TIMEOUT_SECS (300 s by default).
    pub const CLI_SEND: Timeouts = Timeouts {
        connect: secs(10),
        total: None,
        read: Some(secs(600)),
    };
}

/// A builder with `t` and the user agent set.
pub fn builder(t: &Timeouts) -> ureq::AgentBuilder {
    let mut b = ureq::AgentBuilder::new()
        .timeout_connect(t.connect)
        .user_agent(concat!("workspace-agent/", env!("CARGO_PKG_VERSION")));
    if let Some(total) = t.total {
        b = b.timeout(total);
    }
    if let Some(read) = t.read {
        b = b.timeout_read(read);
    }
    b
}

/// A client with `t`, trusting `tls` (ureq's built-in roots when `None`).
pub fn agent(t: &Timeouts, tls: Option<Arc<ureq::rustls::ClientConfig>>) -> ureq::Agent {
    match tls {
        Some(tls) => builder(t).tls_config(tls).build(),
        None => builder(t).build(),
    }
}

/// A transport error without the URL ureq puts in front of it, for
/// messages that name the URL once themselves.
pub fn transport_error(t: &ureq::Transport) -> String {
    let mut s = t.kind().to_string();
    if let Some(m) = t.message() {
        s.push_str(": ");
        s.push_str(m);
    }
    if let Some(src) = std::error::Error::source(t) {
        s.push_str(": ");
        s.push_str(&src.to_string());
    }
    crate::redact::text(&s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_errors_do_not_repeat_the_url() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap();
        let url = format!("http://127.0.0.1:{port}/x");
        let Err(ureq::Error::Transport(t)) = agent(&Timeouts::PROBE, None).get(&url).call() else {
            panic!("a closed port answered");
        };
        let s = transport_error(&t);
        assert!(
            !s.contains("127.0.0.1") && s.contains("Connection Failed"),
            "{s}"
        );
    }
}
