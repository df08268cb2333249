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

    /// The state's name in logs, errors and the shutdown snapshot: the 0.3
    /// spelling the platform reads.
    pub fn name(self) -> &'static str {
        super::common::state_name(self, super::Version::V03)
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

    /// What the part holds in memory, roughly; see `approx_value_bytes`.
    pub fn approx_bytes(&self) -> usize {
        let content = match &self.content {
            PartContent::Text(t) => t.len(),
            PartContent::File {
                content: FileContent::Bytes(c) | FileContent::Uri(c),
                name,
                media_type,
            } => c.len() + opt_str_bytes(name) + opt_str_bytes(media_type),
            PartContent::Data(v) => approx_value_bytes(v),
        };
        PART_OVERHEAD + content + opt_map_bytes(&self.metadata)
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
    #[cfg(test)]
    pub fn agent_text(text: impl Into<String>, task_id: &str, context_id: &str) -> Message {
        Message::agent(vec![Part::text(text)], Some(task_id), context_id)
    }

    /// The agent's words in a context, in a task when there is one.
    pub fn agent(parts: Vec<Part>, task_id: Option<&str>, context_id: &str) -> Message {
        Message {
            message_id: crate::ids::new_id(),
            role: Role::Agent,
            parts,
            context_id: Some(context_id.to_string()),
            task_id: task_id.map(str::to_string),
            reference_task_ids: Vec::new(),
            extensions: Vec::new(),
            metadata: None,
        }
    }

    /// Like `text`, borrowed when there is one text part (the usual case),
    /// so a backend run holds no second copy of a large message.
    pub fn text_ref(&self) -> std::borrow::Cow<'_, str> {
        let mut texts = self.parts.iter().filter_map(|p| match &p.content {
            PartContent::Text(t) => Some(t.as_str()),
            _ => None,
        });
        match (texts.next(), texts.next()) {
            (None, _) => std::borrow::Cow::Borrowed(""),
            (Some(one), None) => std::borrow::Cow::Borrowed(one),
            _ => std::borrow::Cow::Owned(self.text()),
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

    /// Every field counts: a client can put a megabyte in any of them.
    pub fn approx_bytes(&self) -> usize {
        MESSAGE_OVERHEAD
            + self.message_id.len()
            + self.parts.iter().map(Part::approx_bytes).sum::<usize>()
            + opt_str_bytes(&self.context_id)
            + opt_str_bytes(&self.task_id)
            + str_list_bytes(&self.reference_task_ids)
            + str_list_bytes(&self.extensions)
            + opt_map_bytes(&self.metadata)
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

impl Artifact {
    pub fn approx_bytes(&self) -> usize {
        ARTIFACT_OVERHEAD
            + self.artifact_id.len()
            + opt_str_bytes(&self.name)
            + opt_str_bytes(&self.description)
            + self.parts.iter().map(Part::approx_bytes).sum::<usize>()
            + opt_map_bytes(&self.metadata)
    }
}

impl TaskStatus {
    pub fn approx_bytes(&self) -> usize {
        self.timestamp.len() + self.message.as_ref().map_or(0, Message::approx_bytes)
    }
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
    /// Runs on every insert into the store; the store keeps the sum up to
    /// date after that by adding what each update adds.
    pub fn approx_bytes(&self) -> usize {
        TASK_OVERHEAD
            + self.id.len()
            + self.context_id.len()
            + self.status.approx_bytes()
            + self
                .history
                .iter()
                .map(Message::approx_bytes)
                .sum::<usize>()
            + self
                .artifacts
                .iter()
                .map(Artifact::approx_bytes)
                .sum::<usize>()
            + opt_map_bytes(&self.metadata)
    }

    /// A copy of only what a reply shows: the history cut to `n` messages,
    /// the artifacts if asked for. What is left out is never copied.
    pub fn copy_with(&self, n: Option<usize>, artifacts: bool) -> Task {
        let skip = self.older_than(n);
        Task {
            id: self.id.clone(),
            context_id: self.context_id.clone(),
            status: self.status.clone(),
            history: self.history[skip..].to_vec(),
            artifacts: if artifacts {
                self.artifacts.clone()
            } else {
                Vec::new()
            },
            metadata: self.metadata.clone(),
        }
    }

    /// `copy_with` for a task already owned: what is left out is dropped,
    /// the rest moved.
    pub fn trimmed(mut self, n: Option<usize>, artifacts: bool) -> Task {
        self.history.drain(..self.older_than(n));
        if !artifacts {
            self.artifacts = Vec::new();
        }
        self
    }

    /// How many of the oldest history messages a reply showing at most
    /// `n` leaves out.
    pub fn older_than(&self, n: Option<usize>) -> usize {
        n.map_or(0, |n| self.history.len().saturating_sub(n))
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

/// What a send answers with, borrowed: replies are encoded straight from the
/// store, without a copy of a task that may hold megabytes.
#[derive(Debug, Clone, Copy)]
pub enum SendResult<'a> {
    Task(&'a Task),
    Message(&'a Message),
}

// Fixed costs of the structs themselves (and their allocator headers): small
// next to what clients send, but they keep a flood of tiny tasks honest too.
const PART_OVERHEAD: usize = 64;
const MESSAGE_OVERHEAD: usize = 128;
const ARTIFACT_OVERHEAD: usize = 64;
const TASK_OVERHEAD: usize = 256;
/// A `Value` node, whatever its kind (strings add their bytes).
const VALUE_NODE: usize = std::mem::size_of::<Value>();
/// An object entry besides its value: the key `String` and the map's
/// per-entry share of its nodes.
const MAP_ENTRY: usize = std::mem::size_of::<String>() + 16;

fn opt_str_bytes(s: &Option<String>) -> usize {
    s.as_ref().map_or(0, String::len)
}

fn str_list_bytes(l: &[String]) -> usize {
    l.iter()
        .map(|s| std::mem::size_of::<String>() + s.len())
        .sum()
}

fn opt_map_bytes(m: &Option<Map<String, Value>>) -> usize {
    m.as_ref().map_or(0, approx_map_bytes)
}

fn approx_map_bytes(m: &Map<String, Value>) -> usize {
    approx_iter_bytes(Frame::Object(m.iter()))
}

/// What a JSON value holds in memory, roughly: every node plus its string
/// bytes. Memory rather than serialized size, because `[0,0,0,...]` is two
/// bytes an element on the wire and a whole `Value` each in the store.
pub fn approx_value_bytes(v: &Value) -> usize {
    approx_iter_bytes(Frame::Array(std::slice::from_ref(v).iter()))
}

/// How many arrays and objects nest on the deepest path of `v` (a scalar
/// is 0), walked without recursion like `approx_value_bytes`.
pub fn value_depth(v: &Value) -> usize {
    let mut deepest = 0;
    walk(
        Frame::Array(std::slice::from_ref(v).iter()),
        |_, v, frames| {
            // the root's frame is not a level of `v`; a container is one more
            let own = usize::from(matches!(v, Value::Array(_) | Value::Object(_)));
            deepest = deepest.max(frames - 1 + own);
        },
    );
    deepest
}

enum Frame<'a> {
    Array(std::slice::Iter<'a, Value>),
    Object(serde_json::map::Iter<'a>),
}

fn approx_iter_bytes(root: Frame<'_>) -> usize {
    let mut total = 0;
    walk(root, |key, v, _| {
        total += key.map_or(0, |k| MAP_ENTRY + k.len()) + VALUE_NODE;
        if let Value::String(s) = v {
            total += s.len();
        }
    });
    total
}

/// Visits every value under `root` with its key (in an object) and the
/// number of frames open above it. Walks with a stack of iterators on the
/// heap, not recursion: the values come from clients. The stack is as deep
/// as the nesting, not as long as the value.
fn walk<'a>(root: Frame<'a>, mut visit: impl FnMut(Option<&'a str>, &'a Value, usize)) {
    let mut stack = vec![root];
    while let Some(top) = stack.last_mut() {
        let next = match top {
            Frame::Array(it) => it.next().map(|v| (None, v)),
            Frame::Object(it) => it.next().map(|(k, v)| (Some(k.as_str()), v)),
        };
        let Some((key, v)) = next else {
            stack.pop();
            continue;
        };
        visit(key, v, stack.len());
        match v {
            Value::Array(a) => stack.push(Frame::Array(a.iter())),
            Value::Object(m) => stack.push(Frame::Object(m.iter())),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MB: usize = 1_000_000;

    fn big() -> String {
        "x".repeat(MB)
    }

    fn message() -> Message {
        Message::agent_text("hi", "t", "c")
    }

    fn with_metadata(big: String) -> Option<Map<String, Value>> {
        let mut m = Map::new();
        m.insert("k".into(), Value::String(big));
        Some(m)
    }

    /// The test message changed by `f`.
    fn message_with(f: impl FnOnce(&mut Message)) -> Message {
        let mut m = message();
        f(&mut m);
        m
    }

    /// One message per field, each holding a megabyte there and nowhere else.
    fn messages_with_one_big_field() -> Vec<(&'static str, Message)> {
        let part = |content| Part {
            content,
            metadata: None,
        };
        let file = PartContent::File {
            content: FileContent::Uri("u".into()),
            name: Some(big()),
            media_type: None,
        };
        let part_metadata = Part {
            metadata: with_metadata(big()),
            ..Part::text("")
        };
        vec![
            ("messageId", message_with(|m| m.message_id = big())),
            ("contextId", message_with(|m| m.context_id = Some(big()))),
            ("taskId", message_with(|m| m.task_id = Some(big()))),
            (
                "referenceTaskIds",
                message_with(|m| m.reference_task_ids = vec![big()]),
            ),
            ("extensions", message_with(|m| m.extensions = vec![big()])),
            (
                "metadata",
                message_with(|m| m.metadata = with_metadata(big())),
            ),
            (
                "text part",
                message_with(|m| m.parts = vec![Part::text(big())]),
            ),
            (
                "part metadata",
                message_with(|m| m.parts = vec![part_metadata]),
            ),
            ("file name", message_with(|m| m.parts = vec![part(file)])),
            (
                "data part",
                message_with(|m| m.parts = vec![part(PartContent::Data(json!({"a": [big()]})))]),
            ),
        ]
    }

    fn empty_task() -> Task {
        Task {
            id: "t".into(),
            context_id: "c".into(),
            status: TaskStatus {
                state: TaskState::Working,
                message: None,
                timestamp: "2026-01-01T00:00:00.000Z".into(),
            },
            history: vec![],
            artifacts: vec![],
            metadata: None,
        }
    }

    #[test]
    fn every_field_of_a_message_counts_wherever_it_sits_in_a_task() {
        for (field, m) in messages_with_one_big_field() {
            assert!(m.approx_bytes() >= MB, "{field}: {}", m.approx_bytes());
            let in_history = Task {
                history: vec![m.clone()],
                ..empty_task()
            };
            assert!(in_history.approx_bytes() >= MB, "{field} in history");
            let mut in_status = empty_task();
            in_status.status.message = Some(m);
            assert!(
                in_status.approx_bytes() >= MB,
                "{field} in the status message"
            );
        }
    }

    #[test]
    fn task_and_artifact_fields_count() {
        let artifact = Artifact {
            artifact_id: "a".into(),
            name: None,
            description: None,
            parts: vec![],
            metadata: None,
        };
        let tasks = [
            (
                "id",
                Task {
                    id: big(),
                    ..empty_task()
                },
            ),
            (
                "contextId",
                Task {
                    context_id: big(),
                    ..empty_task()
                },
            ),
            (
                "metadata",
                Task {
                    metadata: with_metadata(big()),
                    ..empty_task()
                },
            ),
            (
                "artifact id",
                Task {
                    artifacts: vec![Artifact {
                        artifact_id: big(),
                        ..artifact.clone()
                    }],
                    ..empty_task()
                },
            ),
            (
                "artifact description",
                Task {
                    artifacts: vec![Artifact {
                        description: Some(big()),
                        ..artifact.clone()
                    }],
                    ..empty_task()
                },
            ),
            (
                "artifact metadata",
                Task {
                    artifacts: vec![Artifact {
                        metadata: with_metadata(big()),
                        ..artifact.clone()
                    }],
                    ..empty_task()
                },
            ),
            (
                "artifact part",
                Task {
                    artifacts: vec![Artifact {
                        parts: vec![Part::text(big())],
                        ..artifact
                    }],
                    ..empty_task()
                },
            ),
        ];
        for (field, t) in tasks {
            assert!(t.approx_bytes() >= MB, "{field}: {}", t.approx_bytes());
        }
    }

    #[test]
    fn text_ref_borrows_one_part_and_joins_several() {
        let mut m = message();
        assert!(matches!(m.text_ref(), std::borrow::Cow::Borrowed("hi")));
        m.parts.push(Part {
            content: PartContent::Data(json!({})),
            metadata: None,
        });
        m.parts.push(Part::text("there"));
        assert_eq!(m.text_ref(), "hi\nthere");
        m.parts.clear();
        assert_eq!(m.text_ref(), "");
    }

    #[test]
    fn values_count_what_they_hold_in_memory() {
        // 100k zeros are 200 KB of JSON and 3.2 MB of `Value`s
        let zeros = Value::Array(vec![json!(0); 100_000]);
        assert!(approx_value_bytes(&zeros) >= 100_000 * VALUE_NODE);
        let keys: Map<String, Value> = (0..1000)
            .map(|i| (format!("k{i:04}"), Value::Null))
            .collect();
        assert!(approx_value_bytes(&Value::Object(keys)) >= 1000 * (5 + VALUE_NODE));
    }

    #[test]
    fn depth_counts_nested_arrays_and_objects() {
        assert_eq!(value_depth(&json!(1)), 0);
        assert_eq!(value_depth(&json!([])), 1);
        assert_eq!(value_depth(&json!({"a": [1, {"b": []}], "c": 2})), 4);
    }

    #[test]
    fn deep_values_are_walked_without_recursion() {
        let mut v = json!("leaf");
        for _ in 0..200_000 {
            v = Value::Array(vec![v]);
        }
        assert_eq!(approx_value_bytes(&v), 200_001 * VALUE_NODE + 4);
        assert_eq!(value_depth(&v), 200_000);
        // dropping a `Value` recurses; the parser never builds one this deep
        std::mem::forget(v);
    }
}
