//! `workspace-agent healthcheck`: for `HEALTHCHECK CMD` in an image with no
//! curl. Exit 0 iff the local agent answers its card within 2 s.

use std::time::Duration;

pub fn run() -> i32 {
    let port = match std::env::var("PORT") {
        Ok(p) if !p.trim().is_empty() => match p.trim().parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => {
                eprintln!("unhealthy: PORT={p:?} is not a valid port");
                return 1;
            }
        },
        _ => 8000,
    };
    let url = format!("http://127.0.0.1:{port}{}", crate::card::CARD_PATH);
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(2))
        .build();
    match agent.get(&url).call() {
        Ok(r) if r.status() == 200 => {
            println!("healthy: {url} answered 200");
            0
        }
        Ok(r) => {
            eprintln!("unhealthy: {url} answered HTTP {}", r.status());
            1
        }
        Err(ureq::Error::Status(code, _)) => {
            eprintln!("unhealthy: {url} answered HTTP {code}");
            1
        }
        Err(e) => {
            eprintln!("unhealthy: no answer from {url}: {e}");
            1
        }
    }
}
