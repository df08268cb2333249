//! Is the backend there? One check per backend kind, for `/readyz` and
//! `diagnose`, that never makes the backend do a message's work:
//!
//! * openai: `GET {base}/models` (no tokens spent); the model should be
//!   listed, but servers that answer any model name (llama.cpp) or have no
//!   list (404) still count as reachable.
//! * http: a TCP connect to the webhook's host and port. Any HTTP request,
//!   even HEAD or OPTIONS, reaches application code in many webhook stacks
//!   (serverless functions run, and bill, on every method); a connect
//!   proves the listener is up and runs nothing.
//! * command: the program exists, is a file and has an execute bit.
//! * echo: always there.
//!
//! Every message names the thing and never a secret (URLs are redacted,
//! the API key is sent but never shown).

use crate::config::{BackendConfig, CommandConfig, OpenAiConfig};
use std::io::Read;
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// The longest models list read; the ids sit at the start of each entry.
const MAX_LIST_BYTES: u64 = 1 << 20;

/// `Ok` says what answered; `Err` says what did not, for a person.
pub fn check(cfg: &BackendConfig, timeout: Duration) -> Result<String, String> {
    match cfg {
        BackendConfig::Echo { .. } => Ok("echo backend: always ready".into()),
        BackendConfig::OpenAi(o) => check_openai(o, timeout),
        BackendConfig::Webhook { url, .. } => check_webhook(url, timeout),
        BackendConfig::Command(c) => check_command(c),
    }
}

/// The backend for the start-up line: what it talks to, never a secret.
pub fn describe(cfg: &BackendConfig) -> String {
    match cfg {
        BackendConfig::Echo { .. } => "echo".into(),
        BackendConfig::OpenAi(o) => format!(
            "openai (model {}, base URL {}, API key {})",
            o.model,
            crate::redact::url(&o.base_url),
            if o.api_key.is_some() { "set" } else { "unset" }
        ),
        BackendConfig::Command(c) => format!(
            "command (program {})",
            c.argv.first().map_or("", String::as_str)
        ),
        BackendConfig::Webhook { url, .. } => format!("http (webhook {})", webhook_shown(url)),
    }
}

fn check_openai(o: &OpenAiConfig, timeout: Duration) -> Result<String, String> {
    let base = o.base_url.trim_end_matches('/');
    let url = format!("{base}/models");
    let shown = crate::redact::url(&url);
    let timeouts = crate::http_client::Timeouts {
        connect: timeout,
        total: Some(timeout),
        read: None,
    };
    let agent = crate::http_client::agent(&timeouts, Some(std::sync::Arc::clone(&o.tls)));
    let mut req = agent.get(&url);
    if let Some(key) = &o.api_key {
        req = req.set("Authorization", &format!("Bearer {key}"));
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(404, _)) => {
            return Ok(format!(
            "{shown} answers 404 (no model list here): the server is up, the model was not checked"
        ))
        }
        Err(ureq::Error::Status(code @ (401 | 403), _)) => {
            return Err(format!(
                "{shown} refused the API key (HTTP {code}): check OPENAI_API_KEY"
            ))
        }
        Err(ureq::Error::Status(code, _)) => return Err(format!("{shown} answers HTTP {code}")),
        Err(ureq::Error::Transport(t)) => {
            // the error's own text repeats the URL: say it once
            let why = match t.message() {
                Some(m) => format!("{}: {}", t.kind(), crate::redact::text(m)),
                None => t.kind().to_string(),
            };
            return Err(format!("no answer from {shown}: {why}"));
        }
    };
    let mut body = Vec::new();
    let _ = resp
        .into_reader()
        .take(MAX_LIST_BYTES)
        .read_to_end(&mut body);
    Ok(model_verdict(&body, &o.model, &shown))
}

/// What the models list says about `model`: listed or not, both ready.
fn model_verdict(body: &[u8], model: &str, shown: &str) -> String {
    let ids: Option<Vec<String>> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let data = v.get("data")?.as_array()?.iter();
            Some(
                data.filter_map(|m| Some(m.get("id")?.as_str()?.to_string()))
                    .collect(),
            )
        });
    match ids {
        Some(ids) if ids.iter().any(|id| id == model) => {
            format!("{shown} lists model {model}")
        }
        Some(ids) => format!(
            "{shown} answers, but model {model} is not among its {} listed models (servers that take any name still work)",
            ids.len()
        ),
        None => format!("{shown} answers (not a model list; the model was not checked)"),
    }
}

/// A webhook URL fit to show: its path may be the secret (chat services
/// put the key there), so only scheme and authority are kept.
fn webhook_shown(url: &str) -> String {
    let r = crate::redact::url(url);
    let Some(i) = r.find("://") else { return r };
    match r[i + 3..].find('/') {
        Some(j) if r.len() > i + 3 + j + 1 => format!("{}/…", &r[..i + 3 + j]),
        _ => r,
    }
}

fn check_webhook(url: &str, timeout: Duration) -> Result<String, String> {
    let shown = webhook_shown(url);
    let Some((host, port)) = crate::cli::diagnose::host_port(url) else {
        return Err(format!("{shown} has no host"));
    };
    let addr = (host.as_str(), port)
        .to_socket_addrs()
        .map_err(|e| format!("{host} does not resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("{host} resolves to no address"))?;
    match TcpStream::connect_timeout(&addr, timeout) {
        Ok(_) => Ok(format!(
            "{host}:{port} accepts connections (webhook {shown})"
        )),
        Err(e) => Err(format!(
            "cannot connect to {host}:{port} (webhook {shown}): {e}"
        )),
    }
}

fn check_command(c: &CommandConfig) -> Result<String, String> {
    let Some(program) = c.argv.first() else {
        return Err("AGENT_COMMAND is empty".into());
    };
    // the PATH the child gets, which is where `Command` looks the program up
    let path = c
        .env
        .vars
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let found = crate::config::find_program(program, path).map_err(|e| e.to_string())?;
    Ok(format!("program {} is executable", found.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ChildEnv;

    fn command(argv: &[&str], path: &str) -> BackendConfig {
        BackendConfig::Command(CommandConfig {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: ChildEnv {
                vars: vec![("PATH".into(), path.into())],
                withheld: vec![],
            },
            user: None,
            format: crate::config::CommandFormat::Text,
        })
    }

    #[test]
    fn commands() {
        let t = Duration::from_secs(1);
        assert!(check(&command(&["sh", "-c", "x"], "/usr/bin:/bin"), t).is_ok());
        let missing = check(&command(&["nonexistent-prog"], "/usr/bin:/bin"), t);
        assert!(missing.unwrap_err().contains("not found"));
        let dir = std::env::temp_dir().join(format!("probe-{}", crate::ids::new_id()));
        std::fs::write(&dir, "#!/bin/sh\n").unwrap();
        let p = dir.to_string_lossy().to_string();
        let no_x = check(&command(&[&p], "/bin"), t).unwrap_err();
        assert!(no_x.contains("not executable"), "{no_x}");
        let _ = std::fs::remove_file(&dir);
        assert!(check(&command(&["/"], "/bin"), t).is_err());
    }

    #[test]
    fn model_lists() {
        let body = br#"{"data":[{"id":"llama3.2"},{"id":"qwen"}]}"#;
        assert!(model_verdict(body, "llama3.2", "u").contains("lists model"));
        assert!(model_verdict(body, "gpt", "u").contains("not among its 2"));
        assert!(model_verdict(b"<html>", "gpt", "u").contains("not a model list"));
    }

    #[test]
    fn webhook_on_a_closed_port() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let url = format!("http://127.0.0.1:{port}/hook");
        assert!(check_webhook(&url, Duration::from_secs(1)).is_ok());
        drop(l);
        let e = check_webhook(&url, Duration::from_secs(1)).unwrap_err();
        assert!(e.contains("cannot connect"), "{e}");
    }

    #[test]
    fn descriptions_hold_no_secret() {
        let d = describe(&BackendConfig::Webhook {
            url: "https://user:pw@example.com/hooks/T0/XSECRET?key=s3cret".into(),
            tls: crate::tls::client_config(&[]).unwrap(),
        });
        assert_eq!(d, "http (webhook https://***@example.com/…)");
    }
}
