//! `workspace-agent diagnose`: a checklist for an operator who has only
//! `docker exec`. Reads the same environment as the agent, changes nothing,
//! never registers, never prints the token.

use crate::config::{BackendConfig, Config, ConfigError};
use crate::http_client::{self, Timeouts};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, TcpStream, ToSocketAddrs};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

struct Report {
    failed: usize,
    warned: usize,
    out: Box<dyn Write>,
}

impl Report {
    fn pass(&mut self, what: &str, detail: &str) {
        let _ = writeln!(self.out, "✓ {what}: {detail}");
    }

    /// Something the agent accepts but an operator should fix; it does not
    /// fail the check. `warning` names its subject itself.
    fn warn(&mut self, warning: &str) {
        self.warned += 1;
        let _ = writeln!(self.out, "! {warning}");
    }

    fn fail(&mut self, what: &str, detail: &str, fix: &str) {
        self.failed += 1;
        let _ = writeln!(self.out, "✗ {what}: {detail}\n    fix: {fix}");
    }
}

/// Host and port of an http(s) URL (already validated by `Config`).
pub fn host_port(url: &str) -> Option<(String, u16)> {
    crate::http_url::parse(url).ok().map(|u| (u.host, u.port))
}

/// Why the platform would refuse this IP as an advertised address, if it
/// would (its rules: loopback, link-local, TEST-NET, CGNAT, multicast,
/// unspecified).
pub fn refused_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            if v4.is_loopback() {
                Some("a loopback address")
            } else if v4.is_link_local() {
                Some("a link-local address")
            } else if v4.is_unspecified() {
                Some("the unspecified address")
            } else if v4.is_multicast() {
                Some("a multicast address")
            } else if (o[0], o[1], o[2]) == (192, 0, 2)
                || (o[0], o[1], o[2]) == (198, 51, 100)
                || (o[0], o[1], o[2]) == (203, 0, 113)
            {
                Some("a TEST-NET documentation address")
            } else if o[0] == 100 && (64..128).contains(&o[1]) {
                Some("a CGNAT address")
            } else {
                None
            }
        }
        IpAddr::V6(v6) => {
            let seg = v6.segments();
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else if seg[0] & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if let Some(v4) = v6.to_ipv4_mapped() {
                refused_ip(IpAddr::V4(v4))
            } else {
                None
            }
        }
    }
}

/// 12 hex characters of the token's SHA-256: enough to compare two tokens,
/// useless to an attacker.
pub fn fingerprint(token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, token.as_bytes());
    d.as_ref()[..6].iter().map(|b| format!("{b:02x}")).collect()
}

fn plausible_token(t: &str) -> bool {
    t.len() >= 20
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'=')
}

pub fn run() -> i32 {
    let mut r = Report {
        failed: 0,
        warned: 0,
        out: Box::new(std::io::stdout()),
    };
    // not `from_env`: its warnings go to the log, which the CLI does not write
    let cfg = match Config::load(&crate::config::ProcessEnv) {
        Ok(c) => {
            r.pass("configuration", &format!("valid ({})", c.summary()));
            for w in &c.warnings {
                r.warn(w);
            }
            c
        }
        Err(ConfigError(e)) => {
            r.fail(
                "configuration",
                &e,
                "set the variable as described; `workspace-agent --help` lists them all",
            );
            let _ = writeln!(
                r.out,
                "\n1 problem found (the other checks need a valid configuration)"
            );
            return 1;
        }
    };
    check_backend(&mut r, &cfg);
    if cfg.register {
        check_platform(&mut r, &cfg);
        check_advertised(&mut r, &cfg);
        check_configs_dir(&mut r, &cfg.configs_dir);
        check_token(&mut r, &cfg.configs_dir);
    } else {
        r.pass("platform", "not contacted (REGISTER=false)");
        if cfg.configs_dir.exists() {
            check_configs_dir(&mut r, &cfg.configs_dir);
        }
    }
    check_local_agent(&mut r, &cfg);
    if r.failed == 0 {
        let warned = match r.warned {
            0 => String::new(),
            n => format!(" ({n} warning(s) above)"),
        };
        let _ = writeln!(r.out, "\nall checks passed{warned}");
        0
    } else {
        let _ = writeln!(r.out, "\n{} problem(s) found", r.failed);
        1
    }
}

/// The same probe `/readyz` uses.
fn check_backend(r: &mut Report, cfg: &Config) {
    let what = format!("backend {}", cfg.backend.name());
    match crate::backend::probe::check(&cfg.backend, Duration::from_secs(5)) {
        Ok(detail) => r.pass(&what, &detail),
        Err(e) => {
            let fix = match &cfg.backend {
                BackendConfig::OpenAi(_) => "start the model server, or set OPENAI_BASE_URL (and OPENAI_API_KEY) to one that answers",
                BackendConfig::Webhook { .. } => "start the webhook's service, or fix AGENT_WEBHOOK_URL",
                BackendConfig::Command(_) => "install the program or fix AGENT_COMMAND; the program needs its execute bit",
                BackendConfig::Echo { .. } => "none needed",
            };
            r.fail(&what, &e, fix)
        }
    }
}

fn check_platform(r: &mut Report, cfg: &Config) {
    let url = &crate::redact::url(&cfg.platform_url);
    let Some((host, port)) = host_port(url) else {
        r.fail(
            "PLATFORM_URL",
            &format!("{url} has no host"),
            "set PLATFORM_URL=http://<host>:<port>",
        );
        return;
    };
    let addrs: Vec<SocketAddr> = match (host.as_str(), port).to_socket_addrs() {
        Ok(a) => a.collect(),
        Err(e) => {
            let fix = if host == "host.docker.internal" {
                "on Linux, start the container with --add-host host.docker.internal:host-gateway"
                    .to_string()
            } else {
                format!("check the name {host:?}, or use the platform's IP address in PLATFORM_URL")
            };
            r.fail(
                "platform address",
                &format!("{host} does not resolve: {e}"),
                &fix,
            );
            return;
        }
    };
    let list: Vec<String> = addrs.iter().map(|a| a.ip().to_string()).collect();
    r.pass(
        "platform address",
        &format!("{host} resolves to {}", list.join(", ")),
    );
    let Some(first) = addrs.first() else { return };
    match TcpStream::connect_timeout(first, Duration::from_secs(3)) {
        Ok(_) => r.pass(
            "platform connection",
            &format!("TCP connect to {first} works"),
        ),
        Err(e) => {
            r.fail(
                "platform connection",
                &format!("cannot connect to {first}: {e}"),
                "is the platform running and is the port right? From a container, the host is not 127.0.0.1",
            );
            return;
        }
    }
    let agent = http_client::agent(&Timeouts::CHECK, Some(std::sync::Arc::clone(&cfg.tls)));
    match agent.get(&cfg.platform_url).call() {
        Ok(resp) => r.pass(
            "platform HTTP",
            &format!("{url} answers HTTP {}", resp.status()),
        ),
        Err(ureq::Error::Status(code, _)) => {
            r.pass("platform HTTP", &format!("{url} answers HTTP {code}"))
        }
        Err(e) => r.fail(
            "platform HTTP",
            &format!(
                "no HTTP answer from {url}: {}",
                crate::redact::text(&e.to_string())
            ),
            "check PLATFORM_URL's scheme and port",
        ),
    }
}

fn check_advertised(r: &mut Report, cfg: &Config) {
    let url = &crate::redact::url(&cfg.agent_url);
    let Some((host, _)) = host_port(url) else {
        r.fail(
            "advertised URL",
            &format!("{url} has no host"),
            "set AGENT_URL=http://<reachable host>:<port>",
        );
        return;
    };
    match host.parse::<IpAddr>() {
        Ok(ip) => match refused_ip(ip) {
            Some(why) => r.fail(
                "advertised URL",
                &format!("{url} is {why}; the platform refuses it"),
                "set AGENT_URL to an address the platform can reach (e.g. http://host.docker.internal:8000 or the host's LAN address)",
            ),
            None => {
                let note = if ip.is_ipv4() && matches!(ip, IpAddr::V4(v4) if v4.is_private()) {
                    " (a private address: fine for a self-hosted platform, refused by the SaaS one)"
                } else {
                    ""
                };
                r.pass("advertised URL", &format!("{url}{note}"))
            }
        },
        Err(_) => r.pass("advertised URL", &format!("{url} (the platform must be able to resolve {host:?})")),
    }
}

fn check_configs_dir(r: &mut Report, dir: &Path) {
    if !dir.is_dir() {
        r.fail(
            "CONFIGS_DIR",
            &format!("{} does not exist", dir.display()),
            "mount a volume there (docker run -v agent-configs:/configs) or set CONFIGS_DIR",
        );
        return;
    }
    let probe = dir.join(format!(".diagnose-{}", crate::ids::new_id()));
    match std::fs::write(&probe, b"x") {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            r.pass("CONFIGS_DIR", &format!("{} is writable", dir.display()));
        }
        Err(e) => r.fail(
            "CONFIGS_DIR",
            &format!("{} is not writable: {e}", dir.display()),
            "the platform token must be saved there: mount a writable volume owned by the agent's user (uid 10001 in the image)",
        ),
    }
}

fn check_token(r: &mut Report, dir: &Path) {
    let path = dir.join(crate::platform::token::TOKEN_FILE);
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            r.pass(
                "auth token",
                &format!(
                    "no {} yet (the platform issues one at first registration)",
                    path.display()
                ),
            );
            return;
        }
        Err(e) => {
            r.fail(
                "auth token",
                &format!("cannot read {}: {e}", path.display()),
                "fix the file's ownership",
            );
            return;
        }
    };
    let token = match crate::platform::token::read_token_file(&path) {
        Ok(Some(t)) => t,
        Ok(None) => {
            r.fail(
                "auth token",
                &format!("{} is empty", path.display()),
                "delete it, or write the workspace's token into it",
            );
            return;
        }
        Err(e) => {
            r.fail("auth token", &e, "fix the file's ownership");
            return;
        }
    };
    let id = format!("{} characters, sha256 {}", token.len(), fingerprint(&token));
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        r.fail(
            "auth token",
            &format!(
                "{} has mode {mode:04o} ({id}): others can read it",
                path.display()
            ),
            &format!("chmod 600 {}", path.display()),
        );
    } else if !plausible_token(&token) {
        r.fail(
            "auth token",
            &format!(
                "{} does not look like a platform token ({id})",
                path.display()
            ),
            "the platform issues 43 base64url characters; write the token alone, no quotes",
        );
    } else {
        r.pass(
            "auth token",
            &format!("{} present, mode {mode:04o}, {id}", path.display()),
        );
    }
}

/// Whether an agent runs here (what `healthcheck` checks), then what it
/// knows that this process cannot: whether its token reached the disk.
fn check_local_agent(r: &mut Report, cfg: &Config) {
    match super::healthcheck::check_local(cfg.port) {
        Ok(detail) => {
            r.pass("local agent", &detail);
            check_token_saved(r, cfg);
        }
        Err(e) => r.fail(
            "local agent",
            &e,
            "is the agent running in this container/host, on PORT?",
        ),
    }
}

/// The running agent knows whether the token it holds reached the disk;
/// it says so in `/metrics`.
fn check_token_saved(r: &mut Report, cfg: &Config) {
    let url = format!("http://127.0.0.1:{}/metrics", cfg.port);
    let agent = http_client::agent(&Timeouts::PROBE, None);
    let mut req = agent.get(&url);
    if let (true, Some(t)) = (cfg.ops.metrics_auth, &cfg.auth_token) {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let Some(text) = req.call().ok().and_then(|resp| resp.into_string().ok()) else {
        return;
    };
    if text
        .lines()
        .any(|l| l == "workspace_agent_token_persisted 0")
    {
        r.fail(
            "token saved",
            "the agent holds a platform token it could not save to CONFIGS_DIR (it retries on every heartbeat)",
            "make CONFIGS_DIR a writable volume owned by the agent's user; if the agent stops first, the workspace is locked out",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_addresses() {
        for bad in [
            "127.0.0.1",
            "169.254.1.1",
            "0.0.0.0",
            "224.0.0.1",
            "192.0.2.5",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(refused_ip(bad.parse().unwrap()).is_some(), "{bad}");
        }
        for ok in ["10.0.0.5", "192.168.1.2", "8.8.8.8", "2001:db8::1"] {
            assert!(refused_ip(ok.parse().unwrap()).is_none(), "{ok}");
        }
    }

    #[test]
    fn host_ports() {
        assert_eq!(host_port("http://a:8080/x"), Some(("a".into(), 8080)));
        assert_eq!(host_port("https://a"), Some(("a".into(), 443)));
        assert_eq!(host_port("http://[::1]:9/"), Some(("::1".into(), 9)));
    }

    #[test]
    fn fingerprints_are_short_and_stable() {
        assert_eq!(fingerprint("abc"), "ba7816bf8f01");
    }
}
