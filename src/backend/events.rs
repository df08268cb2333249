//! What a backend run produces: the task model's events, without ids (the
//! service knows the task and context).

use crate::protocol::model::{Artifact, Part, TaskState};
use serde_json::{Map, Value};

/// The states a backend may move its task to. `submitted` is the agent's
/// own, and `canceled` the client's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendState {
    Working,
    InputRequired,
    AuthRequired,
    Completed,
    Failed,
    Rejected,
}

impl BackendState {
    pub fn task_state(self) -> TaskState {
        match self {
            BackendState::Working => TaskState::Working,
            BackendState::InputRequired => TaskState::InputRequired,
            BackendState::AuthRequired => TaskState::AuthRequired,
            BackendState::Completed => TaskState::Completed,
            BackendState::Failed => TaskState::Failed,
            BackendState::Rejected => TaskState::Rejected,
        }
    }

    pub fn from_task_state(s: TaskState) -> Option<BackendState> {
        Some(match s {
            TaskState::Working => BackendState::Working,
            TaskState::InputRequired => BackendState::InputRequired,
            TaskState::AuthRequired => BackendState::AuthRequired,
            TaskState::Completed => BackendState::Completed,
            TaskState::Failed => BackendState::Failed,
            TaskState::Rejected => BackendState::Rejected,
            TaskState::Submitted | TaskState::Canceled => return None,
        })
    }

    /// The run is over once its task reaches one of these.
    pub fn ends_run(self) -> bool {
        self != BackendState::Working
    }
}

/// One piece of an artifact. Without an id it continues the run's previous
/// artifact when `append` is set, and starts a new one otherwise.
#[derive(Debug, Clone, PartialEq)]
pub struct ArtifactChunk {
    pub artifact_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parts: Vec<Part>,
    pub metadata: Option<Map<String, Value>>,
    pub append: bool,
    pub last_chunk: bool,
}

impl ArtifactChunk {
    /// The chunk as the artifact the store keeps, under `id`.
    pub fn into_artifact(self, id: String) -> Artifact {
        Artifact {
            artifact_id: id,
            name: self.name,
            description: self.description,
            parts: self.parts,
            metadata: self.metadata,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum BackendEvent<'a> {
    /// A chunk of a plain-text answer: it joins the run's `response`
    /// artifact, which is closed (`lastChunk`) when the run ends.
    Text(&'a str),
    /// The task moves on; `message` is the agent's words (the question
    /// for `input-required`, the reason for `failed` or `rejected`).
    Status {
        state: BackendState,
        message: Option<Vec<Part>>,
    },
    Artifact(ArtifactChunk),
    /// A direct reply instead of a task (a blocking send answers with this
    /// message; a stream, a non-blocking send or a follow-up completes its
    /// task with it).
    Message(Vec<Part>),
}

impl BackendEvent<'_> {
    /// Whether the run is over with this event (nothing after it counts).
    pub fn is_final(&self) -> bool {
        match self {
            BackendEvent::Status { state, .. } => state.ends_run(),
            BackendEvent::Message(_) => true,
            BackendEvent::Text(_) | BackendEvent::Artifact(_) => false,
        }
    }
}
