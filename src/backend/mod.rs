//! Backends: what actually answers a message.
//!
//! Invariant: a backend knows nothing of HTTP routing. It gets one message
//! (all its parts and ids) and, if it asks, the task's history; it pushes
//! events out through `emit` as they happen (text chunks, status changes,
//! artifacts, or a direct reply), checks the cancel token, and respects the
//! deadline. The `jsonl` mode's programs see the model as A2A 0.3 JSON, so
//! that one module uses `protocol`'s encoder and part decoder.

mod command;
mod echo;
pub mod events;
mod jsonl;
mod net;
mod openai;
mod pipes;
pub mod probe;
mod watchdog;
mod webhook;

pub use command::CommandBackend;
pub use echo::EchoBackend;
pub use events::{BackendEvent, BackendState};
pub use jsonl::{decode_event, EventLimits, Lines};
pub use openai::{parse_sse_line, OpenAiBackend};
pub use webhook::WebhookBackend;

use crate::config::BackendConfig;
use crate::protocol::model::Message;
use crate::store::CancelToken;
use net::Client;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One message to answer.
pub struct BackendRequest<'a> {
    pub task_id: &'a str,
    pub context_id: &'a str,
    /// the message's text parts joined by newlines
    pub text: &'a str,
    /// the whole message: every part, its ids and metadata
    pub message: &'a Message,
    /// the task's history before `message`, oldest first; empty unless the
    /// backend `wants_history`
    pub history: &'a [Message],
}

#[derive(Debug, Clone, PartialEq)]
pub enum BackendError {
    Canceled,
    /// The deadline passed; the caller knows the configured timeout.
    TimedOut,
    /// A message for a person: it becomes the failed task's status text.
    Failed(String),
}

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BackendError::Canceled => write!(f, "canceled"),
            BackendError::TimedOut => write!(f, "no answer in time (AGENT_TIMEOUT_SECS)"),
            BackendError::Failed(m) => write!(f, "{m}"),
        }
    }
}

pub trait Backend: Send + Sync {
    /// Short name for logs and the card (`echo`, `openai`, ...).
    fn name(&self) -> &'static str;

    /// Whether `run` needs the task's history (it is copied for it).
    fn wants_history(&self) -> bool {
        false
    }

    /// True when a run never waits (no I/O, no timer): it then runs on the
    /// request's own thread, streams too, and keeps the HTTP loop's thread
    /// (`blocking`); any other backend's run first hands the loop on.
    fn never_waits(&self) -> bool {
        false
    }

    /// Answers one message. Events go out through `turn.emit` as they
    /// happen; returning `Ok` without a final status means the answer is
    /// complete.
    fn run(&self, req: &BackendRequest<'_>, turn: &mut Turn<'_>) -> Result<(), BackendError>;
}

/// What a run gets besides the message: when to stop and where events go.
pub struct Turn<'a> {
    pub cancel: &'a CancelToken,
    pub deadline: Instant,
    pub emit: &'a mut dyn FnMut(BackendEvent<'_>),
}

impl Turn<'_> {
    /// Time left before the deadline, or the timeout error if none is.
    pub(crate) fn remaining(&self) -> Result<Duration, BackendError> {
        let now = Instant::now();
        if now >= self.deadline {
            Err(BackendError::TimedOut)
        } else {
            Ok(self.deadline - now)
        }
    }

    /// Why a run was cut short by its watchdog.
    pub(crate) fn interrupted(&self) -> BackendError {
        if self.cancel.is_set() {
            BackendError::Canceled
        } else {
            BackendError::TimedOut
        }
    }
}

pub fn build(cfg: &BackendConfig) -> Box<dyn Backend> {
    match cfg {
        BackendConfig::Echo { delay } => Box::new(EchoBackend::new(*delay)),
        BackendConfig::OpenAi(c) => Box::new(OpenAiBackend::new(
            c.clone(),
            Client::new(Arc::clone(&c.tls)),
        )),
        BackendConfig::Command(c) => Box::new(CommandBackend::new(c.clone())),
        BackendConfig::Webhook { url, tls } => Box::new(WebhookBackend::new(
            url.clone(),
            Client::new(Arc::clone(tls)),
        )),
    }
}

/// A test's run of a backend on a message with `text`.
#[cfg(test)]
pub(crate) struct TestRun {
    pub result: Result<(), BackendError>,
    /// the text chunks emitted
    pub texts: Vec<String>,
    /// every event emitted, as `{:?}`
    pub events: Vec<String>,
}

#[cfg(test)]
pub(crate) fn test_run(
    backend: &dyn Backend,
    text: &str,
    history: &[Message],
    cancel: &CancelToken,
    budget: Duration,
) -> TestRun {
    let message = Message::agent_text(text, "t", "c");
    let req = BackendRequest {
        task_id: "t",
        context_id: "c",
        text,
        message: &message,
        history,
    };
    let (mut texts, mut events) = (Vec::new(), Vec::new());
    let mut emit = |e: BackendEvent<'_>| {
        if let BackendEvent::Text(t) = &e {
            texts.push(t.to_string());
        }
        events.push(format!("{e:?}"));
    };
    let mut turn = Turn {
        cancel,
        deadline: Instant::now() + budget,
        emit: &mut emit,
    };
    let result = backend.run(&req, &mut turn);
    TestRun {
        result,
        texts,
        events,
    }
}

/// A redirect is not followed (a POST would turn into a GET); say where to.
pub(crate) fn refuse_redirect(what: &str, resp: &ureq::Response) -> Result<(), BackendError> {
    if (300..400).contains(&resp.status()) {
        let to = crate::redact::url(resp.header("Location").unwrap_or("?"));
        return Err(BackendError::Failed(format!(
            "{what} answered HTTP {} (a redirect to {to}); configure the final URL",
            resp.status()
        )));
    }
    Ok(())
}

/// Turns a ureq error into words a person can act on.
pub(crate) fn describe_http_error(what: &str, e: ureq::Error) -> BackendError {
    match e {
        ureq::Error::Status(code, resp) => {
            let body = resp.into_string().unwrap_or_default();
            let body: String = body.chars().take(300).collect();
            let body = crate::redact::text(body.trim());
            BackendError::Failed(format!("{what} answered HTTP {code}: {body}"))
        }
        ureq::Error::Transport(t) => {
            let text = crate::http_client::transport_error(&t);
            if text.contains("timed out") || text.contains("Timeout") || text.contains("WouldBlock")
            {
                BackendError::TimedOut
            } else {
                BackendError::Failed(format!("could not reach {what}: {text}"))
            }
        }
    }
}
