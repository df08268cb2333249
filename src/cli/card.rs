//! `workspace-agent card URL`: fetch an agent's card (as a 0.3 and as a 1.0
//! client), check the required fields, print a readable summary.

use super::args::Args;
use serde_json::Value;
use std::io::Read;
use std::time::Duration;

pub const USAGE: &str = "usage: workspace-agent card URL [--json]";

fn card_url(url: &str) -> String {
    if url.ends_with(".json") {
        url.to_string()
    } else {
        format!("{}{}", url.trim_end_matches('/'), crate::card::CARD_PATH)
    }
}

fn fetch(url: &str, version: Option<&str>) -> Result<Value, String> {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(10))
        .build();
    let mut req = agent.get(url);
    if let Some(v) = version {
        req = req.set("A2A-Version", v);
    }
    let resp = match req.call() {
        Ok(r) => r,
        Err(ureq::Error::Status(code, _)) => return Err(format!("{url} answered HTTP {code}")),
        Err(ureq::Error::Transport(t)) => return Err(format!("cannot reach {url}: {t}")),
    };
    let mut body = String::new();
    resp.into_reader()
        .take(4 << 20)
        .read_to_string(&mut body)
        .map_err(|e| format!("reading {url}: {e}"))?;
    serde_json::from_str(&body).map_err(|e| format!("{url} is not a JSON agent card: {e}"))
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("?")
}

pub fn run(raw: &[String]) -> i32 {
    let args = match Args::parse(raw, &["json"], &[]) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return 2;
        }
    };
    let [url] = args.positional.as_slice() else {
        eprintln!("error: card needs a URL\n{USAGE}");
        return 2;
    };
    let url = card_url(url);
    let v03 = match fetch(&url, None) {
        Ok(v) => v,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    let v10 = fetch(&url, Some("1.0")).unwrap_or_else(|_| v03.clone());
    if args.flag("json") {
        println!("{}", serde_json::to_string_pretty(&v03).unwrap_or_default());
        return 0;
    }
    if !v03.is_object() {
        eprintln!("error: {url} is JSON but not an object: not an agent card");
        return 1;
    }
    let (p03, _) = crate::card::validate(&v03);
    let (_, p10) = crate::card::validate(&v10);
    println!(
        "{} {} — {}",
        s(&v03, "name"),
        s(&v03, "version"),
        s(&v03, "description")
    );
    if let Some(u) = v03.get("url").and_then(Value::as_str) {
        println!(
            "  url: {u} ({} {})",
            s(&v03, "preferredTransport"),
            s(&v03, "protocolVersion")
        );
    }
    if let Some(ifaces) = v10.get("supportedInterfaces").and_then(Value::as_array) {
        for i in ifaces {
            println!(
                "  interface: {} {} {}",
                s(i, "url"),
                s(i, "protocolBinding"),
                s(i, "protocolVersion")
            );
        }
    }
    if let Some(c) = v03.get("capabilities").and_then(Value::as_object) {
        let on: Vec<&str> = c
            .iter()
            .filter(|(_, v)| v.as_bool() == Some(true))
            .map(|(k, _)| k.as_str())
            .collect();
        println!(
            "  capabilities: {}",
            if on.is_empty() {
                "none".into()
            } else {
                on.join(", ")
            }
        );
    }
    for sk in v03
        .get("skills")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!(
            "  skill {}: {} — {}",
            s(sk, "id"),
            s(sk, "name"),
            s(sk, "description")
        );
    }
    let report = |gen: &str, problems: &[String]| {
        if problems.is_empty() {
            println!("✓ valid A2A {gen} card");
        } else {
            println!("✗ not a valid A2A {gen} card: {}", problems.join("; "));
        }
    };
    report("0.3", &p03);
    report("1.0", &p10);
    if p03.is_empty() || p10.is_empty() {
        0
    } else {
        1
    }
}
