//! `workspace-agent healthcheck`: for `HEALTHCHECK CMD` in an image with no
//! curl. Exit 0 iff the local agent answers its card within 2 s.

use std::io::Write;

pub fn run() -> i32 {
    let port = match std::env::var("PORT") {
        Ok(p) if !p.trim().is_empty() => match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                super::output::say(&format!("unhealthy: PORT={p:?} is not a valid port"));
                return 1;
            }
        },
        _ => 8000,
    };
    let url = format!("http://127.0.0.1:{port}{}", crate::card::CARD_PATH);
    let agent = crate::http_client::agent(&crate::http_client::Timeouts::PROBE, None);
    match agent.get(&url).call() {
        Ok(r) if r.status() == 200 => {
            let _ = writeln!(super::output::out(), "healthy: {url} answered 200");
            0
        }
        Ok(r) => {
            super::output::say(&format!("unhealthy: {url} answered HTTP {}", r.status()));
            1
        }
        Err(ureq::Error::Status(code, _)) => {
            super::output::say(&format!("unhealthy: {url} answered HTTP {code}"));
            1
        }
        Err(ureq::Error::Transport(t)) => {
            let why = crate::http_client::transport_error(&t);
            super::output::say(&format!("unhealthy: no answer from {url}: {why}"));
            1
        }
    }
}
