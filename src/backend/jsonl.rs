//! The `jsonl` backend protocol: the message and the task's history go to a
//! program as one JSON line (A2A 0.3 shapes), and events come back as JSON
//! lines shaped like A2A's own `status-update`, `artifact-update` and
//! `message`, minus the ids the agent already knows.
//!
//! Every line is hostile: bounded in length, nesting and parts, and a line
//! that is not an event is an error for a person, never a panic.

use super::events::{ArtifactChunk, BackendEvent, BackendState};
use super::BackendRequest;
use crate::protocol::common::{decode_part, parse_state};
use crate::protocol::model::{Message, Part};
use crate::protocol::wire::wire;
use crate::protocol::{DecodeLimits, Version};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::{Map, Value};

/// How much of the program's output is accepted.
#[derive(Debug, Clone, Copy)]
pub struct EventLimits {
    /// bytes in one line
    pub max_line: usize,
    /// lines in one run
    pub max_events: usize,
    pub decode: DecodeLimits,
}

impl Default for EventLimits {
    fn default() -> Self {
        EventLimits {
            max_line: 4 << 20,
            max_events: 10_000,
            decode: DecodeLimits {
                max_parts: 64,
                max_part_bytes: 4 << 20,
                ..DecodeLimits::default()
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventError {
    TooLong(usize),
    TooMany(usize),
    NotJson(String),
    /// JSON, but not an event: what is wrong, for a person
    NotAnEvent(String),
}

impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EventError::TooLong(n) => write!(f, "a line is longer than {n} bytes"),
            EventError::TooMany(n) => write!(f, "more than {n} lines"),
            EventError::NotJson(e) => write!(f, "not JSON ({e})"),
            EventError::NotAnEvent(e) => write!(f, "not an event: {e}"),
        }
    }
}

fn bad(msg: impl Into<String>) -> EventError {
    EventError::NotAnEvent(msg.into())
}

/// Decodes one line of a program's output. Pure and total: any bytes in,
/// an event or an error out (the fuzz-friendly entry point).
pub fn decode_event(
    line: &[u8],
    limits: &EventLimits,
) -> Result<BackendEvent<'static>, EventError> {
    if line.len() > limits.max_line {
        return Err(EventError::TooLong(limits.max_line));
    }
    if let Some(depth) = crate::protocol::nesting_exceeds(line, limits.decode.max_depth) {
        return Err(bad(format!("nested deeper than {depth} levels")));
    }
    let v: Value = serde_json::from_slice(line).map_err(|e| EventError::NotJson(e.to_string()))?;
    decode_event_value(&v, &limits.decode)
}

/// One event from its JSON (a line, or an element of a webhook's `events`).
pub fn decode_event_value(
    v: &Value,
    limits: &DecodeLimits,
) -> Result<BackendEvent<'static>, EventError> {
    let obj = v.as_object().ok_or_else(|| bad("expected a JSON object"))?;
    match obj.get("kind").and_then(Value::as_str) {
        Some("status-update") => decode_status(obj, limits),
        Some("artifact-update") => decode_artifact(obj, limits).map(BackendEvent::Artifact),
        Some("message") => Ok(BackendEvent::Message(parts_of(obj, "message", limits)?)),
        Some(k) => Err(bad(format!(
            "unknown kind {k:?} (expected status-update, artifact-update or message)"
        ))),
        None => Err(bad("\"kind\" is missing or not a string")),
    }
}

fn decode_status(
    obj: &Map<String, Value>,
    limits: &DecodeLimits,
) -> Result<BackendEvent<'static>, EventError> {
    let status = obj
        .get("status")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("status-update needs a \"status\" object"))?;
    let name = status
        .get("state")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("status.state is missing or not a string"))?;
    let state = parse_state(name)
        .and_then(BackendState::from_task_state)
        .ok_or_else(|| {
            bad(format!(
                "status.state {name:?} is not one a backend may set \
                 (working, input-required, auth-required, completed, failed, rejected)"
            ))
        })?;
    let message = match status.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(vec![Part::text(s.as_str())]),
        Some(Value::Object(m)) => Some(parts_of(m, "status.message", limits)?),
        Some(_) => return Err(bad("status.message must be a message object or a string")),
    };
    Ok(BackendEvent::Status { state, message })
}

fn decode_artifact(
    obj: &Map<String, Value>,
    limits: &DecodeLimits,
) -> Result<ArtifactChunk, EventError> {
    let a = obj
        .get("artifact")
        .and_then(Value::as_object)
        .ok_or_else(|| bad("artifact-update needs an \"artifact\" object"))?;
    let metadata = match a.get("metadata") {
        None | Some(Value::Null) => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return Err(bad("artifact.metadata must be an object")),
    };
    Ok(ArtifactChunk {
        artifact_id: opt_string(a, "artifactId")?,
        name: opt_string(a, "name")?,
        description: opt_string(a, "description")?,
        parts: parts_of(a, "artifact", limits)?,
        metadata,
        append: opt_flag(obj, "append", false)?,
        last_chunk: opt_flag(obj, "lastChunk", true)?,
    })
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Result<Option<String>, EventError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad(format!("{key} must be a string"))),
    }
}

fn opt_flag(obj: &Map<String, Value>, key: &str, default: bool) -> Result<bool, EventError> {
    match obj.get(key) {
        None | Some(Value::Null) => Ok(default),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad(format!("{key} must be true or false"))),
    }
}

/// `obj.parts`, each decoded like a client's part (either generation's
/// shape), within the same limits.
fn parts_of(
    obj: &Map<String, Value>,
    path: &str,
    limits: &DecodeLimits,
) -> Result<Vec<Part>, EventError> {
    let parts = obj
        .get("parts")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(format!("{path}.parts must be a list")))?;
    if parts.len() > limits.max_parts {
        return Err(bad(format!(
            "{path}.parts has more than {} parts",
            limits.max_parts
        )));
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            decode_part(p, &format!("{path}.parts[{i}]"), limits).map_err(|e| bad(e.message))
        })
        .collect()
}

/// What a program gets on stdin (and a webhook in its POST): one JSON
/// object, the message and history in A2A 0.3 shapes.
pub struct RequestJson<'a>(pub &'a BackendRequest<'a>);

impl Serialize for RequestJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(Some(5))?;
        m.serialize_entry("taskId", r.task_id)?;
        m.serialize_entry("contextId", r.context_id)?;
        m.serialize_entry("text", r.text)?;
        m.serialize_entry("message", &wire(r.message, Version::V03))?;
        m.serialize_entry("history", &History(r.history))?;
        m.end()
    }
}

struct History<'a>(&'a [Message]);

impl Serialize for History<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for m in self.0 {
            seq.serialize_element(&wire(m, Version::V03))?;
        }
        seq.end()
    }
}

/// Cuts a byte stream into lines, each bounded, and counts them.
pub struct Lines {
    pending: Vec<u8>,
    seen: usize,
    limits: EventLimits,
}

impl Lines {
    pub fn new(limits: EventLimits) -> Lines {
        Lines {
            pending: Vec::new(),
            seen: 0,
            limits,
        }
    }

    /// Feeds bytes; every complete non-blank line is decoded and handed to
    /// `on_event`. An error names the line it is about.
    pub fn feed(
        &mut self,
        mut bytes: &[u8],
        on_event: &mut dyn FnMut(BackendEvent<'static>),
    ) -> Result<(), String> {
        while let Some(nl) = bytes.iter().position(|b| *b == b'\n') {
            self.push(&bytes[..nl])?;
            let line = std::mem::take(&mut self.pending);
            self.decode(&line, on_event)?;
            bytes = &bytes[nl + 1..];
        }
        self.push(bytes)
    }

    /// The last line, if the output did not end with a newline.
    pub fn finish(
        &mut self,
        on_event: &mut dyn FnMut(BackendEvent<'static>),
    ) -> Result<(), String> {
        let line = std::mem::take(&mut self.pending);
        self.decode(&line, on_event)
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), String> {
        if self.pending.len() + bytes.len() > self.limits.max_line {
            return Err(format!(
                "line {}: {}",
                self.seen + 1,
                EventError::TooLong(self.limits.max_line)
            ));
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    fn decode(
        &mut self,
        line: &[u8],
        on_event: &mut dyn FnMut(BackendEvent<'static>),
    ) -> Result<(), String> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        self.seen += 1;
        if self.seen > self.limits.max_events {
            return Err(EventError::TooMany(self.limits.max_events).to_string());
        }
        let event =
            decode_event(line, &self.limits).map_err(|e| format!("line {}: {e}", self.seen))?;
        on_event(event);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::model::{FileContent, PartContent};

    fn decode(line: &str) -> Result<BackendEvent<'static>, EventError> {
        decode_event(line.as_bytes(), &EventLimits::default())
    }

    fn reason(line: &str) -> String {
        match decode(line) {
            Err(e) => e.to_string(),
            Ok(e) => panic!("{line} decoded to {e:?}"),
        }
    }

    #[test]
    fn decodes_each_kind_in_a2a_shapes() {
        let e = decode(
            r#"{"kind":"status-update","status":{"state":"input-required","message":{"parts":[{"kind":"text","text":"Which one?"}]}}}"#,
        );
        assert_eq!(
            e,
            Ok(BackendEvent::Status {
                state: BackendState::InputRequired,
                message: Some(vec![Part::text("Which one?")])
            })
        );
        let e = decode(
            r#"{"kind":"status-update","status":{"state":"TASK_STATE_REJECTED","message":"no"}}"#,
        );
        assert!(matches!(
            e,
            Ok(BackendEvent::Status {
                state: BackendState::Rejected,
                ..
            })
        ));
        let e = decode(r#"{"kind":"artifact-update","artifact":{"name":"output.txt","parts":[{"kind":"file","file":{"uri":"https://example.com/o.txt","mimeType":"text/plain"}}]}}"#).unwrap();
        let BackendEvent::Artifact(a) = e else {
            panic!()
        };
        assert_eq!(
            (a.append, a.last_chunk, a.name.as_deref()),
            (false, true, Some("output.txt"))
        );
        assert_eq!(
            a.parts[0].content,
            PartContent::File {
                content: FileContent::Uri("https://example.com/o.txt".into()),
                name: None,
                media_type: Some("text/plain".into())
            }
        );
        let e = decode(r#"{"kind":"artifact-update","append":true,"lastChunk":false,"artifact":{"artifactId":"a","parts":[{"data":{"k":1}}]}}"#).unwrap();
        assert!(matches!(
            e,
            BackendEvent::Artifact(ArtifactChunk {
                append: true,
                last_chunk: false,
                ..
            })
        ));
        let e = decode(r#"{"kind":"message","parts":[{"text":"hi"}]}"#);
        assert_eq!(e, Ok(BackendEvent::Message(vec![Part::text("hi")])));
    }

    #[test]
    fn hostile_lines_are_errors_for_a_person() {
        for (line, says) in [
            ("", "not JSON"),
            ("{", "not JSON"),
            ("\u{0}\u{ff}", "not JSON"),
            ("[]", "expected a JSON object"),
            ("42", "expected a JSON object"),
            (r#"{"kind":7}"#, "\"kind\" is missing"),
            (r#"{"kind":"task"}"#, "unknown kind"),
            (r#"{"kind":"status-update"}"#, "\"status\" object"),
            (
                r#"{"kind":"status-update","status":{"state":"canceled"}}"#,
                "not one a backend may set",
            ),
            (
                r#"{"kind":"status-update","status":{"state":"done"}}"#,
                "not one a backend may set",
            ),
            (
                r#"{"kind":"status-update","status":{"state":"completed","message":7}}"#,
                "status.message",
            ),
            (
                r#"{"kind":"artifact-update","artifact":{"parts":{}}}"#,
                "parts must be a list",
            ),
            (
                r#"{"kind":"artifact-update","artifact":{"parts":[{"kind":"nope"}]}}"#,
                "parts[0]",
            ),
            (
                r#"{"kind":"artifact-update","append":"yes","artifact":{"parts":[]}}"#,
                "append must be",
            ),
            (
                r#"{"kind":"artifact-update","artifact":{"name":1,"parts":[]}}"#,
                "name must be",
            ),
            (r#"{"kind":"message","parts":[null]}"#, "parts[0]"),
        ] {
            let r = reason(line);
            assert!(r.contains(says), "{line:?}: {r}");
        }
        let deep = format!(
            r#"{{"kind":"message","parts":[{{"data":{}1{}}}]}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(reason(&deep).contains("nested deeper"));
        let limits = EventLimits {
            max_line: 10,
            ..EventLimits::default()
        };
        assert_eq!(
            decode_event(&[b' '; 11], &limits),
            Err(EventError::TooLong(10))
        );
        let many = format!(
            r#"{{"kind":"message","parts":[{}]}}"#,
            vec![r#"{"text":"x"}"#; 65].join(",")
        );
        assert!(reason(&many).contains("more than 64 parts"));
    }

    #[test]
    fn lines_are_cut_bounded_and_counted() {
        let limits = EventLimits {
            max_line: 64,
            max_events: 2,
            ..EventLimits::default()
        };
        let mut got = Vec::new();
        let mut lines = Lines::new(limits);
        let msg = br#"{"kind":"message","parts":[{"text":"a"}]}"#;
        // a line split across reads, blank lines skipped, no final newline
        lines.feed(&msg[..10], &mut |e| got.push(e)).unwrap();
        lines.feed(&msg[10..], &mut |e| got.push(e)).unwrap();
        lines.feed(b"\n\n  \n", &mut |e| got.push(e)).unwrap();
        lines.feed(msg, &mut |e| got.push(e)).unwrap();
        assert_eq!(got.len(), 1);
        lines.finish(&mut |e| got.push(e)).unwrap();
        assert_eq!(got.len(), 2);
        let err = lines.feed(b"x\n", &mut |e| got.push(e)).unwrap_err();
        assert!(err.contains("more than 2 lines"), "{err}");

        let mut lines = Lines::new(limits);
        let err = lines.feed(&[b'x'; 65], &mut |_| ()).unwrap_err();
        assert!(err.starts_with("line 1: a line is longer than 64"), "{err}");
        let mut lines = Lines::new(limits);
        let err = lines.feed(b"{}\n", &mut |_| ()).unwrap_err();
        assert!(err.starts_with("line 1: not an event"), "{err}");
    }

    #[test]
    fn the_request_line_carries_message_and_history_in_0_3_shapes() {
        let m = Message::agent_text("hi", "t", "c");
        let h = vec![Message::agent_text("before", "t", "c")];
        let req = BackendRequest {
            task_id: "t",
            context_id: "c",
            text: "hi",
            message: &m,
            history: &h,
        };
        let v = serde_json::to_value(RequestJson(&req)).unwrap();
        assert_eq!(v["taskId"], "t");
        assert_eq!(v["message"]["kind"], "message");
        assert_eq!(
            v["message"]["parts"][0],
            serde_json::json!({"kind":"text","text":"hi"})
        );
        assert_eq!(v["history"][0]["parts"][0]["text"], "before");
    }
}
