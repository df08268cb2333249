//! One backend run applied to a task: each event the backend emits becomes
//! a store update (and so a stream event), and the run's end settles the
//! task. `service` decides when and on which thread a run happens.

use crate::backend::{Backend, BackendError, BackendEvent, BackendState};
use crate::metrics::Metrics;
use crate::protocol::model::{Message, Part, PartContent, TaskState};
use crate::store::{CancelToken, TaskStore};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub struct Runner<'a> {
    pub store: &'a TaskStore,
    pub backend: &'a dyn Backend,
    pub metrics: &'a Metrics,
    pub timeout: Duration,
}

/// What one run has done so far.
struct RunLog {
    /// the plain-text answer's artifact
    response_id: String,
    text_open: bool,
    structured: bool,
    /// the artifact an id-less `append` chunk continues
    last_artifact: Option<String>,
    /// the run is over (input-required or terminal); later events are ignored
    ended: bool,
    /// a direct reply, kept for the send when it may answer with one
    reply: Option<Vec<Part>>,
}

impl Runner<'_> {
    /// Runs the backend on the task's last message and settles the task.
    /// With `direct`, a direct reply is returned (and the task forgotten)
    /// instead of completing the task with it.
    pub fn run(&self, task_id: &str, cancel: &CancelToken, direct: bool) -> Option<Message> {
        let turn = self.store.turn(task_id, self.backend.wants_history())?;
        self.store
            .set_status(task_id, TaskState::Working, None)
            .ok()?;
        let text = turn.message.text_ref();
        let req = crate::backend::BackendRequest {
            task_id,
            context_id: &turn.context_id,
            text: &text,
            message: &turn.message,
            history: &turn.history,
        };
        let deadline = Instant::now() + self.timeout;
        let mut log = RunLog {
            response_id: crate::ids::new_id(),
            text_open: false,
            structured: false,
            last_artifact: None,
            ended: false,
            reply: None,
        };
        let run = || {
            let mut turn = crate::backend::Turn {
                cancel,
                deadline,
                emit: &mut |e| self.apply(task_id, &mut log, e, direct),
            };
            self.backend.run(&req, &mut turn)
        };
        // a backend that panics fails its task; the thread and slot live on
        let result = crate::panics::isolate(&"running the backend", run).unwrap_or_else(|| {
            Err(BackendError::Failed(
                "Sorry, the agent's backend crashed on this message.".into(),
            ))
        });
        match result {
            Ok(()) => self.finish(task_id, &turn.context_id, log),
            Err(e) if log.ended => {
                // the task has its answer (and may already be running its
                // next turn): a late error must not touch it
                log::warn!("task {task_id}: the backend failed after its final event: {e}");
                None
            }
            Err(e) => {
                self.fail(task_id, e);
                None
            }
        }
    }

    fn apply(&self, task_id: &str, log: &mut RunLog, event: BackendEvent<'_>, direct: bool) {
        if log.ended {
            return;
        }
        match event {
            BackendEvent::Text(t) => {
                if !t.is_empty() {
                    log.text_open = true;
                    let _ = self
                        .store
                        .append_text(task_id, &log.response_id, "response", t, false);
                }
            }
            BackendEvent::Status { state, message } => self.status(task_id, log, state, message),
            BackendEvent::Artifact(chunk) => {
                log.structured = true;
                let id = match (&chunk.artifact_id, chunk.append, &log.last_artifact) {
                    (Some(id), _, _) => id.clone(),
                    (None, true, Some(last)) => last.clone(),
                    _ => crate::ids::new_id(),
                };
                log.last_artifact = Some(id.clone());
                let (append, last) = (chunk.append, chunk.last_chunk);
                let _ = self
                    .store
                    .add_artifact(task_id, chunk.into_artifact(id), append, last);
            }
            BackendEvent::Message(parts) if direct => {
                log.ended = true;
                log.reply = Some(parts);
            }
            BackendEvent::Message(parts) => {
                self.status(task_id, log, BackendState::Completed, Some(parts))
            }
        }
    }

    fn status(
        &self,
        task_id: &str,
        log: &mut RunLog,
        state: BackendState,
        message: Option<Vec<Part>>,
    ) {
        if state == BackendState::Working && message.is_none() {
            // the run already said so when it started
            return;
        }
        if state.ends_run() {
            self.close_response(task_id, log);
            log.ended = true;
        }
        if state == BackendState::Failed {
            self.metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
            let why = message.as_ref().map(|m| text_of(m));
            self.metrics.record_outcome(Some(
                why.as_deref().unwrap_or("the backend failed the task"),
            ));
        }
        let _ = self
            .store
            .set_status_parts(task_id, state.task_state(), message);
    }

    /// An empty last chunk tells streaming clients the text answer is whole.
    fn close_response(&self, task_id: &str, log: &mut RunLog) {
        if log.text_open {
            log.text_open = false;
            let _ = self
                .store
                .append_text(task_id, &log.response_id, "response", "", true);
        }
    }

    fn finish(&self, task_id: &str, context_id: &str, mut log: RunLog) -> Option<Message> {
        if let Some(parts) = log.reply.take() {
            self.store.remove(task_id);
            self.metrics.record_outcome(None);
            return Some(Message::agent(parts, None, context_id));
        }
        if log.ended {
            return None;
        }
        // a plain-text run always has its (maybe empty) response artifact
        if !log.structured {
            log.text_open = true;
        }
        self.close_response(task_id, &mut log);
        let _ = self.store.set_status(task_id, TaskState::Completed, None);
        self.metrics.record_outcome(None);
        None
    }

    fn fail(&self, task_id: &str, e: BackendError) {
        let (backend, secs) = (self.backend.name(), self.timeout.as_secs());
        // the task's text speaks to the person who asked; the log and the
        // heartbeat's sample error to the operator
        let (msg, operator) = match &e {
            BackendError::Canceled => {
                let _ =
                    self.store
                        .set_status(task_id, TaskState::Canceled, Some("Canceled.".into()));
                return;
            }
            BackendError::TimedOut => (
                format!("Sorry, the agent's backend ({backend}) did not answer within {secs} s."),
                format!("{backend} backend timed out after {secs} s (AGENT_TIMEOUT_SECS)"),
            ),
            other => (
                format!("Sorry, the agent's backend ({backend}) failed: {other}"),
                format!("{backend} backend failed: {other}"),
            ),
        };
        log::warn!("task {task_id}: {operator}");
        self.metrics.backend_errors.fetch_add(1, Ordering::Relaxed);
        self.metrics.record_outcome(Some(&operator));
        // The canvas shows a person only artifact and message text:
        // say what went wrong there too, not just in the status.
        let error_id = crate::ids::new_id();
        let _ = self
            .store
            .append_text(task_id, &error_id, "error", &msg, true);
        let _ = self.store.set_status(task_id, TaskState::Failed, Some(msg));
    }
}

fn text_of(parts: &[Part]) -> String {
    let texts: Vec<&str> = parts
        .iter()
        .filter_map(|p| match &p.content {
            PartContent::Text(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    texts.join("\n")
}
