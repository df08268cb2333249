//! `workspace-agent card URL`: fetch an agent's card (as a 0.3 and as a 1.0
//! client), check the required fields, print a readable summary.

use super::args::Args;
use super::output::{self, out, say, Stop};
use crate::http_client::{self, Timeouts};
use serde_json::Value;
use std::io::{Read, Write};

pub const FLAGS: &[&str] = &["json"];

/// The card's URL for what was typed: a base URL gets the well-known path;
/// without a scheme it is `http://`.
fn card_url(typed: &str) -> String {
    let url = crate::http_url::with_default_scheme(typed);
    if url.ends_with(".json") {
        url
    } else {
        format!("{}{}", url.trim_end_matches('/'), crate::card::CARD_PATH)
    }
}

/// The card as `version` sees it. Errors name `shown` (the URL) once.
fn fetch(agent: &ureq::Agent, url: &str, version: Option<&str>) -> Result<Value, String> {
    let shown = crate::redact::url(url);
    let mut req = agent.get(url);
    if let Some(v) = version {
        req = req.set("A2A-Version", v);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, _)) => return Err(format!("{shown} answered HTTP {code}")),
        Err(ureq::Error::Transport(t)) => {
            return Err(format!(
                "cannot reach {shown}: {}",
                http_client::transport_error(&t)
            ))
        }
    };
    let mut body = String::new();
    resp.into_reader()
        .take(4 << 20)
        .read_to_string(&mut body)
        .map_err(|e| format!("reading {shown}: {e}"))?;
    serde_json::from_str(&body).map_err(|e| format!("{shown} is not a JSON agent card: {e}"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("?")
}

pub fn run(raw: &[String]) -> i32 {
    output::exit_code(card(raw))
}

fn card(raw: &[String]) -> Result<i32, Stop> {
    let args = match Args::parse(raw, FLAGS, &[]) {
        Ok(a) => a,
        Err(e) => {
            say(&format!("error: {e}\n{}", super::usage("card")));
            return Ok(2);
        }
    };
    let [typed] = args.positional.as_slice() else {
        say(&format!(
            "error: card needs a URL\n{}",
            super::usage("card")
        ));
        return Ok(2);
    };
    let url = card_url(typed);
    if let Err(why) = crate::http_url::parse(&url) {
        say(&format!(
            "error: {:?} is not a valid URL: {why}",
            crate::redact::url(&url)
        ));
        return Ok(2);
    }
    let tls = match crate::config::client_tls(&crate::config::ProcessEnv) {
        Ok(tls) => tls,
        Err(e) => {
            say(&format!("error: {e}"));
            return Ok(2);
        }
    };
    let agent = http_client::agent(&Timeouts::CLI, Some(tls));
    let v03 = match fetch(&agent, &url, None) {
        Ok(v) => v,
        Err(e) => {
            say(&format!("error: {e}"));
            return Ok(1);
        }
    };
    let mut out = out();
    if args.flag("json") {
        let pretty = serde_json::to_string_pretty(&v03).unwrap_or_default();
        writeln!(out, "{pretty}")?;
        return Ok(0);
    }
    if !v03.is_object() {
        say(&format!(
            "error: {} is JSON but not an object: not an agent card",
            crate::redact::url(&url)
        ));
        return Ok(1);
    }
    let v10 = fetch(&agent, &url, Some("1.0")).unwrap_or_else(|_| v03.clone());
    summary(&mut out, &v03, &v10)
}

/// The card in a few lines, then whether it is valid for each generation.
fn summary(out: &mut impl Write, v03: &Value, v10: &Value) -> Result<i32, Stop> {
    let p03 = crate::card::validate(v03).v03;
    let p10 = crate::card::validate(v10).v10;
    let (name, version) = (s(v03, "name"), s(v03, "version"));
    writeln!(out, "{name} {version} — {}", s(v03, "description"))?;
    if let Some(u) = v03.get("url").and_then(Value::as_str) {
        let (transport, proto) = (s(v03, "preferredTransport"), s(v03, "protocolVersion"));
        writeln!(out, "  url: {u} ({transport} {proto})")?;
    }
    for i in v10
        .get("supportedInterfaces")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (u, binding) = (s(i, "url"), s(i, "protocolBinding"));
        writeln!(
            out,
            "  interface: {u} {binding} {}",
            s(i, "protocolVersion")
        )?;
    }
    if let Some(c) = v03.get("capabilities").and_then(Value::as_object) {
        let on: Vec<&str> = c
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
            .collect();
        let on = if on.is_empty() {
            "none".into()
        } else {
            on.join(", ")
        };
        writeln!(out, "  capabilities: {on}")?;
    }
    for sk in v03
        .get("skills")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (id, name) = (s(sk, "id"), s(sk, "name"));
        writeln!(out, "  skill {id}: {name} — {}", s(sk, "description"))?;
    }
    for (gen, problems) in [("0.3", &p03), ("1.0", &p10)] {
        if problems.is_empty() {
            writeln!(out, "✓ valid A2A {gen} card")?;
        } else {
            writeln!(out, "✗ not a valid A2A {gen} card: {}", problems.join("; "))?;
        }
    }
    Ok(if p03.is_empty() || p10.is_empty() {
        0
    } else {
        1
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_urls() {
        assert_eq!(
            card_url("localhost:8000"),
            "http://localhost:8000/.well-known/agent-card.json"
        );
        assert_eq!(
            card_url("https://h/"),
            "https://h/.well-known/agent-card.json"
        );
        assert_eq!(card_url("http://h/c.json"), "http://h/c.json");
    }
}
