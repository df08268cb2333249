//! The simplest way to put any service behind the agent: POST
//! `{text, task_id, context_id}` to a URL and answer with its `text`.

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
        let body = json!({"text": req.text, "task_id": req.task_id, "context_id": req.context_id});
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
        let text = if is_json {
            let v: Value = serde_json::from_str(&raw)
                .map_err(|e| BackendError::Failed(format!("{what} sent invalid JSON: {e}")))?;
            match v.get("text") {
                Some(Value::String(s)) => s.clone(),
                _ => {
                    return Err(BackendError::Failed(format!(
                        "{what} answered without a \"text\" string"
                    )))
                }
            }
        } else {
            raw
        };
        emit(BackendEvent::Text(&text));
        Ok(())
    }
}
