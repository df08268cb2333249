//! `workspace-agent send URL TEXT`: send one A2A message to any agent and
//! print the reply (`--stream` prints it as it arrives, `--json` prints the
//! raw responses).

use super::args::Args;
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::time::Duration;

pub const USAGE: &str = "usage: workspace-agent send URL TEXT [--stream] [--json] [--context ID] [--task ID] [--protocol 0.3|1.0] [--token TOKEN]";

/// Every `text` of every part under `parts` arrays in `v`, in order.
pub fn collect_text(v: &Value, out: &mut String) {
    match v {
        Value::Object(m) => {
            if let Some(Value::Array(parts)) = m.get("parts") {
                for p in parts {
                    if let Some(t) = p.get("text").and_then(Value::as_str) {
                        out.push_str(t);
                    }
                }
            }
            for (k, v) in m {
                if k != "parts" && k != "history" {
                    collect_text(v, out);
                }
            }
        }
        Value::Array(a) => a.iter().for_each(|x| collect_text(x, out)),
        _ => {}
    }
}

/// The reply a person wants to read from a send result (either generation).
pub fn reply_text(result: &Value) -> (String, Option<String>) {
    let task = result.get("task").unwrap_or(result);
    let state = task
        .pointer("/status/state")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut text = String::new();
    if let Some(a) = task.get("artifacts") {
        collect_text(a, &mut text);
    }
    if text.is_empty() {
        if let Some(m) = task.pointer("/status/message") {
            collect_text(m, &mut text);
        }
    }
    if text.is_empty() {
        // a Message result
        collect_text(result.get("message").unwrap_or(result), &mut text);
    }
    (text, state)
}

fn is_failure(state: Option<&str>) -> bool {
    matches!(
        state,
        Some(
            "failed"
                | "rejected"
                | "canceled"
                | "TASK_STATE_FAILED"
                | "TASK_STATE_REJECTED"
                | "TASK_STATE_CANCELED"
        )
    )
}

pub fn run(raw: &[String]) -> i32 {
    let args = match Args::parse(
        raw,
        &["stream", "json"],
        &["context", "task", "protocol", "token"],
    ) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return 2;
        }
    };
    let [url, text] = args.positional.as_slice() else {
        eprintln!("error: send needs a URL and a TEXT\n{USAGE}");
        return 2;
    };
    let v10 = match args.opt("protocol").unwrap_or("0.3") {
        "0.3" => false,
        "1.0" | "1" => true,
        other => {
            eprintln!("error: --protocol {other:?} is not 0.3 or 1.0");
            return 2;
        }
    };
    let stream = args.flag("stream");
    let mut message = if v10 {
        json!({"messageId": crate::ids::new_id(), "role": "ROLE_USER", "parts": [{"text": text}]})
    } else {
        json!({"kind": "message", "messageId": crate::ids::new_id(), "role": "user", "parts": [{"kind": "text", "text": text}]})
    };
    if let Some(c) = args.opt("context") {
        message["contextId"] = json!(c);
    }
    if let Some(t) = args.opt("task") {
        message["taskId"] = json!(t);
    }
    let method = match (v10, stream) {
        (false, false) => "message/send",
        (false, true) => "message/stream",
        (true, false) => "SendMessage",
        (true, true) => "SendStreamingMessage",
    };
    let body = json!({"jsonrpc": "2.0", "id": crate::ids::new_id(), "method": method, "params": {"message": message}});

    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(10))
        .timeout_read(Duration::from_secs(600))
        .build();
    let mut req = agent.post(url).set("Content-Type", "application/json");
    if v10 {
        req = req.set("A2A-Version", "1.0");
    }
    if stream {
        req = req.set("Accept", "text/event-stream");
    }
    if let Some(t) = args.opt("token") {
        req = req.set("Authorization", &format!("Bearer {t}"));
    }
    let resp = match req.send_string(&body.to_string()) {
        Ok(r) => r,
        Err(ureq::Error::Status(code, r)) => {
            let body = r.into_string().unwrap_or_default();
            eprintln!(
                "error: {url} answered HTTP {code}: {}",
                crate::metrics::truncate(body.trim(), 300)
            );
            return 1;
        }
        Err(ureq::Error::Transport(t)) => {
            eprintln!("error: cannot reach {url}: {t}");
            return 1;
        }
    };
    let ctype = resp.content_type().to_string();
    if stream && ctype.contains("event-stream") {
        return print_stream(resp.into_reader(), args.flag("json"));
    }
    let mut raw_body = String::new();
    if let Err(e) = resp
        .into_reader()
        .take(16 << 20)
        .read_to_string(&mut raw_body)
    {
        eprintln!("error: reading the answer from {url}: {e}");
        return 1;
    }
    let v: Value = match serde_json::from_str(&raw_body) {
        Ok(v) => v,
        Err(_) => {
            eprintln!(
                "error: {url} did not answer with JSON-RPC (Content-Type {ctype:?}): is it an A2A agent's endpoint? Try the URL from its card"
            );
            return 1;
        }
    };
    if args.flag("json") {
        println!("{v}");
    }
    print_response(&v, args.flag("json"))
}

/// Prints one JSON-RPC response; returns the exit code it implies.
fn print_response(v: &Value, json_mode: bool) -> i32 {
    if let Some(e) = v.get("error") {
        eprintln!(
            "error: the agent answered JSON-RPC error {}: {}",
            e.get("code").unwrap_or(&Value::Null),
            e.get("message")
                .and_then(Value::as_str)
                .unwrap_or("(no message)")
        );
        return 1;
    }
    let Some(result) = v.get("result") else {
        eprintln!("error: the answer is not a JSON-RPC response (no result, no error)");
        return 1;
    };
    let (text, state) = reply_text(result);
    if !json_mode {
        println!("{text}");
    }
    if is_failure(state.as_deref()) {
        eprintln!("task ended {}", state.unwrap_or_default());
        return 1;
    }
    0
}

fn print_stream(reader: impl Read, json_mode: bool) -> i32 {
    let mut code = 0;
    let mut out = std::io::stdout();
    for line in BufReader::new(reader).lines() {
        let Ok(line) = line else { break };
        let Some(data) = line.strip_prefix("data:") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
            eprintln!(
                "error: a stream event is not JSON: {}",
                crate::metrics::truncate(data, 200)
            );
            return 1;
        };
        if json_mode {
            let _ = writeln!(out, "{v}");
            continue;
        }
        if let Some(e) = v.get("error") {
            eprintln!(
                "error: the agent answered JSON-RPC error {}: {}",
                e["code"], e["message"]
            );
            return 1;
        }
        let r = &v["result"];
        let artifact = r
            .get("artifact")
            .or_else(|| r.pointer("/artifactUpdate/artifact"));
        let status = r
            .get("status")
            .or_else(|| r.pointer("/statusUpdate/status"));
        if let Some(a) = artifact {
            let mut t = String::new();
            collect_text(a, &mut t);
            let _ = write!(out, "{t}");
            let _ = out.flush();
        } else if let Some(s) = status {
            let state = s.get("state").and_then(Value::as_str);
            if is_failure(state) {
                let mut why = String::new();
                collect_text(s, &mut why);
                eprintln!("\ntask ended {}: {why}", state.unwrap_or_default());
                code = 1;
            }
        }
    }
    if !json_mode {
        println!();
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_in_both_generations() {
        let v03 = json!({"kind":"task","status":{"state":"completed"},"history":[{"parts":[{"kind":"text","text":"q"}]}],
            "artifacts":[{"parts":[{"kind":"text","text":"a"}]}]});
        assert_eq!(reply_text(&v03), ("a".into(), Some("completed".into())));
        let v10 = json!({"task":{"status":{"state":"TASK_STATE_FAILED","message":{"parts":[{"text":"why"}]}}}});
        assert_eq!(reply_text(&v10).0, "why");
        let msg = json!({"message":{"parts":[{"text":"m"}]}});
        assert_eq!(reply_text(&msg).0, "m");
    }
}
