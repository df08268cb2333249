//! The simplest way to put any service behind the agent: POST
//! `{text, task_id, context_id}` to a URL and answer with its `text`.

use super::{describe_http_error, http_agent, remaining, Backend, BackendError, BackendRequest};
use crate::store::CancelToken;
use serde_json::{json, Value};
use std::io::Read;
use std::time::{Duration, Instant};

/// Largest answer read from the webhook (the platform's proxy caps at 10 MiB).
const MAX_ANSWER: u64 = 8 << 20;

pub struct WebhookBackend {
    url: String,
    agent: ureq::Agent,
}

impl WebhookBackend {
    pub fn new(url: String) -> WebhookBackend {
        WebhookBackend {
            url,
            agent: http_agent(),
        }
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
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), BackendError> {
        let what = format!("the webhook at {}", crate::redact::url(&self.url));
        let total = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        let body = json!({"text": req.text, "task_id": req.task_id, "context_id": req.context_id});
        let resp = self
            .agent
            .post(&self.url)
            .timeout(remaining(deadline, total)?)
            .set("Content-Type", "application/json")
            .send_string(&body.to_string())
            .map_err(|e| describe_http_error(&what, e, total))?;
        let is_json = resp.content_type().contains("json");
        let mut raw = String::new();
        resp.into_reader()
            .take(MAX_ANSWER)
            .read_to_string(&mut raw)
            .map_err(|e| BackendError::Failed(format!("{what} sent an unreadable answer: {e}")))?;
        if cancel.is_set() {
            return Err(BackendError::Canceled);
        }
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
        emit(&text);
        Ok(())
    }
}
