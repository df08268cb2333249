//! The simplest way to put any service behind the agent: POST
//! `{text, task_id, context_id}` (plus the whole `message` and `history`,
//! as the jsonl protocol has them) to a URL and answer with its `text`, or
//! with its `events` (the jsonl protocol's events as a JSON list).

use super::jsonl::{decode_event_value, EventLimits, RequestJson};
use super::net::Client;
use super::{
    describe_http_error, interrupted, refuse_redirect, remaining, Backend, BackendError,
    BackendEvent, BackendRequest,
};
use crate::store::CancelToken;
use serde_json::{json, Value};
use std::io::Read;
use std::time::{Duration, Instant};

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

    fn run(
        &self,
        req: &BackendRequest<'_>,
        cancel: &CancelToken,
        deadline: Instant,
        emit: &mut dyn FnMut(BackendEvent<'_>),
    ) -> Result<(), BackendError> {
        let what = format!("the webhook at {}", crate::redact::url(&self.url));
        let total = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let mut body = serde_json::to_value(RequestJson(req)).unwrap_or(Value::Null);
        body["task_id"] = json!(req.task_id);
        body["context_id"] = json!(req.context_id);
        let call = self
            .http
            .guard(cancel, deadline)
            .map_err(BackendError::Failed)?;
        let sent = call
            .post(&self.url)
            .timeout(remaining(deadline, total)?)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string());
        let resp = match sent {
            Err(_) if call.interrupted() => return Err(interrupted(cancel, total)),
            r => r.map_err(|e| describe_http_error(&what, e, total))?,
        };
        refuse_redirect(&what, &resp)?;
        let is_json = resp.content_type().contains("json");
        let mut raw = String::new();
        let read = resp.into_reader().take(MAX_ANSWER).read_to_string(&mut raw);
        if call.interrupted() || cancel.is_set() {
            return Err(interrupted(cancel, total));
        }
        read.map_err(|e| BackendError::Failed(format!("{what} sent an unreadable answer: {e}")))?;
        if !is_json {
            emit(BackendEvent::Text(&raw));
            return Ok(());
        }
        answer(&what, &raw, emit)
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
