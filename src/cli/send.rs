//! `workspace-agent send URL TEXT`: send one A2A message to any agent and
//! print the reply (`--stream` prints it as it arrives, `--json` prints the
//! raw responses).

use super::args::Args;
use super::output::{self, out, say, Stop};
use super::rpc::{self, Target, Wait};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};

pub const FLAGS: &[&str] = &["stream", "json"];
pub const OPTIONS: &[&str] = &["context", "task", "protocol", "token", "token-file"];

/// The longest line of a stream read (one event's `data:`).
const MAX_EVENT_LINE: u64 = 16 << 20;

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

/// The reply a person wants to read from a task or message (either
/// generation) and the task's state.
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

pub fn is_failure(state: Option<&str>) -> bool {
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

/// `state` as a person reads it: `TASK_STATE_INPUT_REQUIRED` is
/// `input-required`, like 0.3's spelling.
pub fn short_state(state: &str) -> String {
    match state.strip_prefix("TASK_STATE_") {
        Some(s) => s.to_ascii_lowercase().replace('_', "-"),
        None => state.to_string(),
    }
}

pub fn run(raw: &[String]) -> i32 {
    output::exit_code(send(raw))
}

fn message(target: &Target, text: &str, args: &Args) -> Value {
    let mut m = if target.v10 {
        json!({"messageId": crate::ids::new_id(), "role": "ROLE_USER", "parts": [{"text": text}]})
    } else {
        json!({"kind": "message", "messageId": crate::ids::new_id(), "role": "user",
               "parts": [{"kind": "text", "text": text}]})
    };
    if let Some(c) = args.opt("context") {
        m["contextId"] = json!(c);
    }
    if let Some(t) = args.opt("task") {
        m["taskId"] = json!(t);
    }
    m
}

fn send(raw: &[String]) -> Result<i32, Stop> {
    let usage = |e: &str| {
        say(&format!("error: {e}\n{}", super::usage("send")));
        Ok(2)
    };
    let args = match Args::parse(raw, FLAGS, OPTIONS) {
        Ok(a) => a,
        Err(e) => return usage(&e),
    };
    let [url, text] = args.positional.as_slice() else {
        return usage("send needs a URL and a TEXT");
    };
    let target = match Target::from_args(url, &args, false) {
        Ok(t) => t,
        Err(e) => return usage(&e),
    };
    let stream = args.flag("stream");
    let method = match (target.v10, stream) {
        (false, false) => "message/send",
        (false, true) => "message/stream",
        (true, false) => "SendMessage",
        (true, true) => "SendStreamingMessage",
    };
    let wait = if stream { Wait::Stream } else { Wait::Answer };
    let params = json!({"message": message(&target, text, &args)});
    let answer = target.post(method, params, wait).and_then(|resp| {
        if stream && resp.content_type().contains("event-stream") {
            Ok(Err(resp))
        } else {
            rpc::read_json(resp).map(Ok)
        }
    });
    let mut out = out();
    match answer {
        Err(e) => {
            say(&format!("error: {}", target.explain(&e)));
            Ok(1)
        }
        Ok(Err(events)) => print_stream(&mut out, events.into_reader(), args.flag("json")),
        Ok(Ok(v)) => {
            if args.flag("json") {
                writeln!(out, "{v}")?;
            }
            print_response(&mut out, &v, args.flag("json"))
        }
    }
}

/// Prints one JSON-RPC response; returns the exit code it implies.
fn print_response(out: &mut impl Write, v: &Value, json_mode: bool) -> Result<i32, Stop> {
    if let Some(e) = rpc::rpc_error(v) {
        say(&format!("error: {e}"));
        return Ok(1);
    }
    let (text, state) = reply_text(&v["result"]);
    if !json_mode {
        writeln!(out, "{text}")?;
    }
    if is_failure(state.as_deref()) {
        say(&format!(
            "task ended {}",
            short_state(&state.unwrap_or_default())
        ));
        return Ok(1);
    }
    Ok(0)
}

/// What one stream event says.
enum Event {
    Text(String),
    /// an artifact named "error": the failure's text, shown with it
    ErrorText(String),
    Failed(String),
    Other,
}

fn event(v: &Value) -> Event {
    let r = &v["result"];
    let artifact = r
        .get("artifact")
        .or_else(|| r.pointer("/artifactUpdate/artifact"));
    if let Some(a) = artifact {
        let mut t = String::new();
        collect_text(a, &mut t);
        if a.get("name").and_then(Value::as_str) == Some("error") {
            return Event::ErrorText(t);
        }
        return Event::Text(t);
    }
    let status = r
        .get("status")
        .or_else(|| r.pointer("/statusUpdate/status"))
        .or_else(|| r.pointer("/task/status"));
    match status {
        Some(s) if is_failure(s.get("state").and_then(Value::as_str)) => {
            let mut why = String::new();
            collect_text(s, &mut why);
            let state = s.get("state").and_then(Value::as_str).unwrap_or_default();
            Event::Failed(format!("task ended {}: {why}", short_state(state)))
        }
        _ => Event::Other,
    }
}

/// Prints a stream's text as it comes; a failure is reported once, on
/// stderr, at the end (a stream carries its text in an "error" artifact,
/// in the failed status, and maybe in a final task).
fn print_stream(out: &mut impl Write, events: impl Read, json_mode: bool) -> Result<i32, Stop> {
    let mut reader = BufReader::new(events);
    let mut failure = None;
    let mut error_text = None;
    loop {
        let mut line = Vec::new();
        match (&mut reader)
            .take(MAX_EVENT_LINE)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&line);
        let Some(data) = line.trim_end().strip_prefix("data:") else {
            continue;
        };
        let Ok(v) = serde_json::from_str::<Value>(data.trim()) else {
            say(&format!(
                "error: a stream event is not JSON: {}",
                crate::metrics::truncate(data, 200)
            ));
            return Ok(1);
        };
        if json_mode {
            writeln!(out, "{v}")?;
            continue;
        }
        if let Some(e) = rpc::rpc_error(&v) {
            say(&format!("error: {e}"));
            return Ok(1);
        }
        match event(&v) {
            Event::Text(t) => {
                write!(out, "{t}")?;
                out.flush()?;
            }
            Event::ErrorText(t) => error_text = Some(t),
            Event::Failed(f) => failure = Some(f),
            Event::Other => {}
        }
    }
    if let (Some(t), None) = (&error_text, &failure) {
        write!(out, "{t}")?;
    }
    if !json_mode {
        writeln!(out)?;
    }
    match failure {
        Some(f) => {
            say(&f);
            Ok(1)
        }
        None => Ok(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reply_text_in_both_generations() {
        let v03 = json!({"kind":"task","status":{"state":"completed"},
            "history":[{"parts":[{"kind":"text","text":"q"}]}],
            "artifacts":[{"parts":[{"kind":"text","text":"a"}]}]});
        assert_eq!(reply_text(&v03), ("a".into(), Some("completed".into())));
        let v10 = json!({"task":{"status":{"state":"TASK_STATE_FAILED",
            "message":{"parts":[{"text":"why"}]}}}});
        assert_eq!(reply_text(&v10).0, "why");
        let msg = json!({"message":{"parts":[{"text":"m"}]}});
        assert_eq!(reply_text(&msg).0, "m");
    }

    #[test]
    fn states_read_the_same_in_both_generations() {
        assert_eq!(short_state("TASK_STATE_INPUT_REQUIRED"), "input-required");
        assert_eq!(short_state("completed"), "completed");
    }

    #[test]
    fn a_streamed_failure_is_reported_once() {
        let failed = r#"{"state":"failed","message":{"parts":[{"kind":"text","text":"boom"}]}}"#;
        let error = r#"{"name":"error","parts":[{"kind":"text","text":"boom"}]}"#;
        let body = format!(
            "data: {{\"result\":{{\"kind\":\"artifact-update\",\"artifact\":{error}}}}}\n\n\
             data: {{\"result\":{{\"kind\":\"status-update\",\"status\":{failed}}}}}\n\n\
             data: {{\"result\":{{\"kind\":\"task\",\"status\":{failed}}}}}\n\n"
        );
        let mut out = Vec::new();
        let code = print_stream(&mut out, body.as_bytes(), false).unwrap();
        assert_eq!(code, 1);
        assert_eq!(String::from_utf8_lossy(&out), "\n");
    }
}
