//! The one internal model of A2A: tasks, messages, parts, artifacts.
//!
//! Invariant: nothing here knows a wire format. `v03` and `v10` translate
//! to and from these types at the edge.

use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Agent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    Submitted,
    Working,
    InputRequired,
    AuthRequired,
    Completed,
    Canceled,
    Failed,
    Rejected,
}

impl TaskState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Canceled | TaskState::Failed | TaskState::Rejected
        )
    }

    /// States in which a send must stop waiting and answer (terminal, or the
    /// agent needs something from the client).
    pub fn is_settled(self) -> bool {
        self.is_terminal() || matches!(self, TaskState::InputRequired | TaskState::AuthRequired)
    }

    pub const ALL: [TaskState; 8] = [
        TaskState::Submitted,
        TaskState::Working,
        TaskState::InputRequired,
        TaskState::AuthRequired,
        TaskState::Completed,
        TaskState::Canceled,
        TaskState::Failed,
        TaskState::Rejected,
    ];
}

#[derive(Debug, Clone, PartialEq)]
pub enum FileContent {
    /// base64 text, exactly as received (the agent never needs the bytes)
    Bytes(String),
    Uri(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum PartContent {
    Text(String),
    File {
        content: FileContent,
        name: Option<String>,
        media_type: Option<String>,
    },
    Data(Value),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Part {
    pub content: PartContent,
    pub metadata: Option<Map<String, Value>>,
}

impl Part {
    pub fn text(s: impl Into<String>) -> Part {
        Part {
            content: PartContent::Text(s.into()),
            metadata: None,
        }
    }

    fn approx_bytes(&self) -> usize {
        let content = match &self.content {
            PartContent::Text(t) => t.len(),
            PartContent::File {
                content,
                name,
                media_type,
            } => {
                let c = match content {
                    FileContent::Bytes(b) | FileContent::Uri(b) => b.len(),
                };
                c + name.as_ref().map_or(0, String::len)
                    + media_type.as_ref().map_or(0, String::len)
            }
            PartContent::Data(v) => approx_value_bytes(v),
        };
        64 + content + self.metadata.as_ref().map_or(0, approx_map_bytes)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub message_id: String,
    pub role: Role,
    pub parts: Vec<Part>,
    pub context_id: Option<String>,
    pub task_id: Option<String>,
    pub reference_task_ids: Vec<String>,
    pub extensions: Vec<String>,
    pub metadata: Option<Map<String, Value>>,
}

impl Message {
    pub fn agent_text(text: impl Into<String>, task_id: &str, context_id: &str) -> Message {
        Message {
            message_id: crate::ids::new_id(),
            role: Role::Agent,
            parts: vec![Part::text(text)],
            context_id: Some(context_id.to_string()),
            task_id: Some(task_id.to_string()),
            reference_task_ids: Vec::new(),
            extensions: Vec::new(),
            metadata: None,
        }
    }

    /// All text parts joined by newlines: what a text backend is given.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for p in &self.parts {
            if let PartContent::Text(t) = &p.content {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(t);
            }
        }
        out
    }

    pub fn approx_bytes(&self) -> usize {
        128 + self.message_id.len()
            + self.parts.iter().map(Part::approx_bytes).sum::<usize>()
            + self.metadata.as_ref().map_or(0, approx_map_bytes)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskStatus {
    pub state: TaskState,
    pub message: Option<Message>,
    /// RFC 3339, UTC, `Z`
    pub timestamp: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Artifact {
    pub artifact_id: String,
    pub name: Option<String>,
    pub description: Option<String>,
    pub parts: Vec<Part>,
    pub metadata: Option<Map<String, Value>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Task {
    pub id: String,
    pub context_id: String,
    pub status: TaskStatus,
    pub history: Vec<Message>,
    pub artifacts: Vec<Artifact>,
    pub metadata: Option<Map<String, Value>>,
}

impl Task {
    pub fn approx_bytes(&self) -> usize {
        256 + self
            .history
            .iter()
            .map(Message::approx_bytes)
            .sum::<usize>()
            + self
                .artifacts
                .iter()
                .map(|a| 64 + a.parts.iter().map(Part::approx_bytes).sum::<usize>())
                .sum::<usize>()
            + self
                .status
                .message
                .as_ref()
                .map_or(0, Message::approx_bytes)
    }

    /// A copy with at most the `n` most recent history messages
    /// (`historyLength`); `None` keeps everything.
    pub fn with_history_limit(&self, n: Option<usize>) -> Task {
        let mut t = self.clone();
        if let Some(n) = n {
            let len = t.history.len();
            if len > n {
                t.history.drain(..len - n);
            }
        }
        t
    }
}

/// An update pushed to a task's subscribers (streams and resubscribers).
#[derive(Debug, Clone)]
pub enum TaskEvent {
    Status {
        task_id: String,
        context_id: String,
        status: TaskStatus,
        is_final: bool,
    },
    Artifact {
        task_id: String,
        context_id: String,
        artifact: Artifact,
        append: bool,
        last_chunk: bool,
    },
}

/// What a send answers with.
#[derive(Debug, Clone)]
pub enum SendResult {
    Task(Task),
    Message(Message),
}

/// Walks the value with a stack of its own, so client data cannot decide
/// how deep this recurses.
fn approx_value_bytes(v: &Value) -> usize {
    let mut total = 0;
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        total += match v {
            Value::String(s) => s.len() + 8,
            Value::Array(a) => {
                stack.extend(a);
                8
            }
            Value::Object(m) => {
                stack.extend(m.values());
                8 + m.keys().map(String::len).sum::<usize>()
            }
            _ => 8,
        };
    }
    total
}

fn approx_map_bytes(m: &Map<String, Value>) -> usize {
    8 + m
        .iter()
        .map(|(k, v)| k.len() + approx_value_bytes(v))
        .sum::<usize>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn value_bytes_without_recursion() {
        // 8 + "a" + [8 + 8 + ("xy" + 8) + (8 + "b" + 8)]
        assert_eq!(
            approx_value_bytes(&json!({"a": [1, "xy", {"b": null}]})),
            52
        );
        let mut deep = json!(null);
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        assert_eq!(approx_value_bytes(&deep), 8 * 100_001);
        // dropping it recurses inside serde_json; unwind it by hand
        while let Value::Array(mut a) = deep {
            deep = a.pop().unwrap_or(Value::Null);
        }
    }
}
