//! The simplest way to put any service behind the agent: POST
//! `{text, task_id, context_id}` (plus the whole `message` and `history`,
//! as the jsonl protocol has them) to a URL and answer with its `text`, or
//! with its `events` (the jsonl protocol's events as a JSON list).

use super::jsonl::{decode_event_value, EventLimits, RequestJson};
use super::net::{Answered, Client, Post};
use super::{Backend, BackendError, BackendEvent, BackendRequest, Turn};
use serde_json::{json, Value};
use std::io::Read;

/// Largest answer read from the webhook (the platform's proxy caps at 10 MiB).
const MAX_ANSWER: u64 = 8 << 20;

pub struct WebhookBackend {
    url: String,
    http: Client,
}

impl WebhookBackend {
    pub fn new(url: String, http: Client) -> WebhookBackend {
        WebhookBackend { url, http }
    }
}

impl Backend for WebhookBackend {
    fn name(&self) -> &'static str {
        "http"
    }

    fn wants_history(&self) -> bool {
        true
    }

    fn run(&self, req: &BackendRequest<'_>, turn: &mut Turn<'_>) -> Result<(), BackendError> {
        let what = format!("the webhook at {}", crate::redact::url(&self.url));
        let mut body = serde_json::to_value(RequestJson(req)).unwrap_or(Value::Null);
        body["task_id"] = json!(req.task_id);
        body["context_id"] = json!(req.context_id);
        let post = Post {
            url: &self.url,
            what: &what,
            headers: &[],
            body: &body.to_string(),
        };
        let Answered { call, resp } = self.http.post_json(turn, &post)?;
        let is_json = resp.content_type().contains("json");
        let mut raw = String::new();
        let read = resp.into_reader().take(MAX_ANSWER).read_to_string(&mut raw);
        if call.interrupted() || turn.cancel.is_set() {
            return Err(turn.interrupted());
        }
        read.map_err(|e| BackendError::Failed(format!("{what} sent an unreadable answer: {e}")))?;
        if !is_json {
            (turn.emit)(BackendEvent::Text(&raw));
            return Ok(());
        }
        answer(&what, &raw, turn.emit)
    }
}

/// A JSON answer: `events` if it has them, else its `text`.
fn answer(
    what: &str,
    raw: &str,
    emit: &mut dyn FnMut(BackendEvent<'_>),
) -> Result<(), BackendError> {
    let limits = EventLimits::default();
    let failed = |why: String| BackendError::Failed(format!("{what} {why}"));
    if let Some(depth) =
        crate::protocol::nesting_exceeds(raw.as_bytes(), limits.decode.max_depth + 2)
    {
        return Err(failed(format!(
            "sent JSON nested deeper than {depth} levels"
        )));
    }
    let v: Value =
        serde_json::from_str(raw).map_err(|e| failed(format!("sent invalid JSON: {e}")))?;
    match (v.get("events"), v.get("text")) {
        (Some(Value::Array(events)), _) => {
            if events.len() > limits.max_events {
                return Err(failed(format!(
                    "sent more than {} events",
                    limits.max_events
                )));
            }
            for (i, e) in events.iter().enumerate() {
                let event = decode_event_value(e, &limits.decode)
                    .map_err(|e| failed(format!("sent an invalid event at events[{i}]: {e}")))?;
                emit(event);
            }
            Ok(())
        }
        (Some(_), _) => Err(failed("answered with \"events\" that is not a list".into())),
        (None, Some(Value::String(s))) => {
            emit(BackendEvent::Text(s));
            Ok(())
        }
        _ => Err(failed(
            "answered without a \"text\" string or an \"events\" list".into(),
        )),
    }
}
