//! One line per event, to stderr (where `docker logs` and journald look):
//! `<RFC 3339 time> <LEVEL> <message>`, or with `LOG_FORMAT=json` one JSON
//! object per line (`time`, `level`, `target`, `message`; access lines carry
//! their fields instead of a message). `RUST_LOG` filters (default `info`).
//!
//! The access log: one line per answered request, at `info` under the
//! target `access`, off with `ACCESS_LOG=false`. What the server does not
//! know itself (the A2A method, the task id) the service notes on the
//! request's thread, and the line takes it. Never a header, a body or a
//! query string: nothing in it can be a secret.

use serde_json::json;
use std::borrow::Cow;
use std::cell::RefCell;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant};

static JSON: AtomicBool = AtomicBool::new(false);
static ACCESS: AtomicBool = AtomicBool::new(true);

/// Installs the logger (text until `configure` says otherwise).
pub fn init() {
    let env = env_logger::Env::default().filter_or("RUST_LOG", "info");
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, record| {
            let time = crate::time::now_rfc3339();
            if JSON.load(Relaxed) {
                let line = json!({
                    "time": time,
                    "level": record.level().as_str(),
                    "target": record.target(),
                    "message": record.args().to_string(),
                });
                writeln!(buf, "{line}")
            } else {
                let message = record.args().to_string();
                writeln!(buf, "{time} {:<5} {}", record.level(), one_line(&message))
            }
        })
        .try_init();
}

/// A message as one text line: messages carry text from outside (a
/// backend program's stderr, a webhook's error), whose line breaks and
/// terminal escapes would otherwise forge lines or rewrite the operator's
/// screen. Control characters and Unicode line breaks become escapes.
fn one_line(s: &str) -> Cow<'_, str> {
    let unsafe_char =
        |c: char| c != '\t' && (c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'));
    if !s.contains(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if unsafe_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// What the configuration says about logs (`LOG_FORMAT`, `ACCESS_LOG`).
pub fn configure(json_lines: bool, access_log: bool) {
    JSON.store(json_lines, Relaxed);
    ACCESS.store(access_log, Relaxed);
}

/// What the access line of the request on this thread will say besides
/// what the server knows.
#[derive(Debug, Default)]
pub struct Note {
    started: Option<Instant>,
    a2a_method: Option<&'static str>,
    task_id: Option<String>,
}

thread_local! {
    static NOTE: RefCell<Note> = RefCell::new(Note::default());
}

/// A request begins on this thread: its clock starts, earlier notes go.
pub fn begin_request() {
    NOTE.with(|n| {
        *n.borrow_mut() = Note {
            started: Some(Instant::now()),
            ..Note::default()
        }
    });
}

/// The A2A method (a fixed label) the request called.
pub fn note_a2a_method(label: &'static str) {
    NOTE.with(|n| n.borrow_mut().a2a_method = Some(label));
}

/// The task the request is about (client-supplied ids are cleaned).
pub fn note_task(id: &str) {
    NOTE.with(|n| n.borrow_mut().task_id = Some(clean(id, 80)));
}

/// Takes the request's note, leaving an empty one for the next request.
fn take_note() -> Note {
    NOTE.with(|n| std::mem::take(&mut *n.borrow_mut()))
}

/// The access line for the request answered on this thread.
pub fn access(http_method: &str, path: &str, status: u16, bytes_out: Option<usize>) {
    let note = take_note();
    if !ACCESS.load(Relaxed) || !log::log_enabled!(target: "access", log::Level::Info) {
        return;
    }
    let duration = note.started.map(|s| s.elapsed()).unwrap_or_default();
    let line = Access {
        http_method,
        path: &clean(path, 200),
        status,
        duration,
        bytes_out,
        a2a_method: note.a2a_method,
        task_id: note.task_id.as_deref(),
    }
    .line(JSON.load(Relaxed));
    // one write of the whole line, under stderr's lock: lines never mix
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

struct Access<'a> {
    http_method: &'a str,
    path: &'a str,
    status: u16,
    duration: Duration,
    bytes_out: Option<usize>,
    a2a_method: Option<&'a str>,
    task_id: Option<&'a str>,
}

impl Access<'_> {
    fn line(&self, json_lines: bool) -> String {
        let time = crate::time::now_rfc3339();
        let ms = (self.duration.as_secs_f64() * 1e6).round() / 1e3;
        if json_lines {
            let mut v = json!({
                "time": time, "level": "INFO", "target": "access",
                "http_method": self.http_method, "path": self.path,
                "status": self.status, "duration_ms": ms,
            });
            v["bytes_out"] = json!(self.bytes_out);
            v["a2a_method"] = json!(self.a2a_method);
            v["task_id"] = json!(self.task_id);
            return format!("{v}\n");
        }
        let mut s = format!(
            "{time} INFO  access {} {} status={} duration_ms={ms}",
            self.http_method, self.path, self.status
        );
        if let Some(b) = self.bytes_out {
            s.push_str(&format!(" bytes_out={b}"));
        }
        if let Some(m) = self.a2a_method {
            s.push_str(&format!(" a2a_method={m}"));
        }
        if let Some(t) = self.task_id {
            s.push_str(&format!(" task_id={t}"));
        }
        s.push('\n');
        s
    }
}

/// Client text made safe for one log line: printable ASCII but spaces and
/// quotes, the rest percent-encoded; at most `max` bytes.
fn clean(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    for b in s.bytes() {
        if out.len() >= max {
            out.push('…');
            break;
        }
        if b.is_ascii_graphic() && b != b'"' && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_text_cannot_break_a_line() {
        assert_eq!(clean("/a b\n\"x\"", 100), "/a%20b%0A%22x%22");
        assert!(clean(&"x".repeat(1000), 200).len() <= 204);
    }

    #[test]
    fn a_message_stays_one_line() {
        assert_eq!(one_line("plain ✓\ttab"), "plain ✓\ttab");
        assert!(matches!(one_line("plain"), Cow::Borrowed(_)));
        let forged = one_line("a\nX ERROR b\r\u{1b}[2K\u{85}\u{2028}");
        assert_eq!(forged, "a\\nX ERROR b\\r\\u{1b}[2K\\u{85}\\u{2028}");
    }

    #[test]
    fn access_lines_in_both_formats() {
        let a = Access {
            http_method: "POST",
            path: "/",
            status: 200,
            duration: Duration::from_micros(1500),
            bytes_out: Some(42),
            a2a_method: Some("send"),
            task_id: Some("t-1"),
        };
        let text = a.line(false);
        assert!(text.ends_with(
            "INFO  access POST / status=200 duration_ms=1.5 bytes_out=42 a2a_method=send task_id=t-1\n"
        ));
        let v: serde_json::Value = serde_json::from_str(&a.line(true)).unwrap();
        assert_eq!(v["a2a_method"], "send");
        assert_eq!(v["status"], 200);
        assert_eq!(v["task_id"], "t-1");
    }

    #[test]
    fn the_note_is_taken_once() {
        begin_request();
        note_a2a_method("get_task");
        note_task("abc");
        let n = take_note();
        assert_eq!(n.a2a_method, Some("get_task"));
        assert!(take_note().task_id.is_none());
    }
}
