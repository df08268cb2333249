//! `workspace-agent healthcheck`: for `HEALTHCHECK CMD` in an image with no
//! curl. Exit 0 iff the local agent answers `/healthz` within 2 s
//! (liveness: the process serves; readiness is `/readyz`'s business, and
//! restarting an agent whose backend is down would not bring it back).

use super::output::{out, say};
use crate::http_client::{self, Timeouts};
use std::io::Write;

pub fn run() -> i32 {
    let port = match std::env::var("PORT") {
        Ok(p) if !p.trim().is_empty() => match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                say(&format!("unhealthy: PORT={p:?} is not a valid port"));
                return 1;
            }
        },
        _ => 8000,
    };
    match check_local(port) {
        Ok(s) => {
            // a closed stdout is no reason to fail (or panic)
            let _ = writeln!(out(), "healthy: {s}");
            0
        }
        Err(e) => {
            say(&format!("unhealthy: {e}"));
            1
        }
    }
}

/// Whether the agent on 127.0.0.1:`port` serves (`diagnose` asks too).
pub fn check_local(port: u16) -> Result<String, String> {
    let url = format!("http://127.0.0.1:{port}/healthz");
    let agent = http_client::agent(&Timeouts::PROBE, None);
    match agent.get(&url).call() {
        Ok(r) if r.status() == 200 => Ok(format!("{url} answered 200")),
        Ok(r) => Err(format!("{url} answered HTTP {}", r.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("{url} answered HTTP {code}")),
        Err(ureq::Error::Transport(t)) => Err(format!("no answer from {url}: {}", t.kind())),
    }
}
