//! The one encoder of the model into either generation's JSON, as serde
//! `Serialize` views. Replies are written straight to bytes from the stored
//! task: no intermediate `Value`, no copy of a task that may hold megabytes.
//! `v03`/`v10`'s `encode_*` functions are these views turned into a `Value`
//! for the callers that need one.
//!
//! Invariant: nothing here allocates per field; strings are borrowed from
//! the model.

use super::common::{role_name, state_name};
use super::model::*;
use super::Version;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::Serialize;
use serde_json::Value;

/// `item` as generation `v` writes it.
pub struct Wire<'a, T: ?Sized> {
    pub item: &'a T,
    pub v: Version,
}

pub fn wire<T: ?Sized>(item: &T, v: Version) -> Wire<'_, T> {
    Wire { item, v }
}

/// A slice of model items, each as generation `v` writes it.
struct Seq<'a, T>(&'a [T], Version);

impl<T> Serialize for Seq<'_, T>
where
    for<'b> Wire<'b, T>: Serialize,
{
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len()))?;
        for item in self.0 {
            seq.serialize_element(&wire(item, self.1))?;
        }
        seq.end()
    }
}

impl Serialize for Wire<'_, Part> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let p = self.item;
        let mut m = s.serialize_map(None)?;
        match (&p.content, self.v) {
            (PartContent::Text(t), Version::V03) => {
                m.serialize_entry("kind", "text")?;
                m.serialize_entry("text", t)?;
            }
            (PartContent::Text(t), Version::V10) => m.serialize_entry("text", t)?,
            (PartContent::Data(d), Version::V03) => {
                m.serialize_entry("kind", "data")?;
                m.serialize_entry("data", d)?;
            }
            (PartContent::Data(d), Version::V10) => m.serialize_entry("data", d)?,
            (file @ PartContent::File { .. }, Version::V03) => {
                m.serialize_entry("kind", "file")?;
                m.serialize_entry("file", &FileV03(file))?;
            }
            (
                PartContent::File {
                    content,
                    name,
                    media_type,
                },
                Version::V10,
            ) => {
                match content {
                    FileContent::Bytes(b) => m.serialize_entry("raw", b)?,
                    FileContent::Uri(u) => m.serialize_entry("url", u)?,
                }
                if let Some(n) = name {
                    m.serialize_entry("filename", n)?;
                }
                if let Some(t) = media_type {
                    m.serialize_entry("mediaType", t)?;
                }
            }
        }
        if let Some(md) = &p.metadata {
            m.serialize_entry("metadata", md)?;
        }
        m.end()
    }
}

/// 0.3's inner `file` object.
struct FileV03<'a>(&'a PartContent);

impl Serialize for FileV03<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        if let PartContent::File {
            content,
            name,
            media_type,
        } = self.0
        {
            match content {
                FileContent::Bytes(b) => m.serialize_entry("bytes", b)?,
                FileContent::Uri(u) => m.serialize_entry("uri", u)?,
            }
            if let Some(n) = name {
                m.serialize_entry("name", n)?;
            }
            if let Some(t) = media_type {
                m.serialize_entry("mimeType", t)?;
            }
        }
        m.end()
    }
}

impl Serialize for Wire<'_, Message> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let msg = self.item;
        let mut m = s.serialize_map(None)?;
        if self.v == Version::V03 {
            m.serialize_entry("kind", "message")?;
        }
        m.serialize_entry("messageId", &msg.message_id)?;
        m.serialize_entry("role", role_name(msg.role, self.v))?;
        m.serialize_entry("parts", &Seq(&msg.parts, self.v))?;
        if let Some(c) = &msg.context_id {
            m.serialize_entry("contextId", c)?;
        }
        if let Some(t) = &msg.task_id {
            m.serialize_entry("taskId", t)?;
        }
        if !msg.reference_task_ids.is_empty() {
            m.serialize_entry("referenceTaskIds", &msg.reference_task_ids)?;
        }
        if !msg.extensions.is_empty() {
            m.serialize_entry("extensions", &msg.extensions)?;
        }
        if let Some(md) = &msg.metadata {
            m.serialize_entry("metadata", md)?;
        }
        m.end()
    }
}

impl Serialize for Wire<'_, Artifact> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let a = self.item;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("artifactId", &a.artifact_id)?;
        if let Some(n) = &a.name {
            m.serialize_entry("name", n)?;
        }
        if let Some(d) = &a.description {
            m.serialize_entry("description", d)?;
        }
        m.serialize_entry("parts", &Seq(&a.parts, self.v))?;
        if let Some(md) = &a.metadata {
            m.serialize_entry("metadata", md)?;
        }
        m.end()
    }
}

impl Serialize for Wire<'_, TaskStatus> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let st = self.item;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("state", state_name(st.state, self.v))?;
        if let Some(msg) = &st.message {
            m.serialize_entry("message", &wire(msg, self.v))?;
        }
        m.serialize_entry("timestamp", &st.timestamp)?;
        m.end()
    }
}

impl Serialize for Wire<'_, Task> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (t, v) = (self.item, self.v);
        let mut m = s.serialize_map(None)?;
        if v == Version::V03 {
            m.serialize_entry("kind", "task")?;
        }
        m.serialize_entry("id", &t.id)?;
        m.serialize_entry("contextId", &t.context_id)?;
        m.serialize_entry("status", &wire(&t.status, v))?;
        // 0.3 always lists both; 1.0 omits empty repeated fields
        if v == Version::V03 || !t.history.is_empty() {
            m.serialize_entry("history", &Seq(&t.history, v))?;
        }
        if v == Version::V03 || !t.artifacts.is_empty() {
            m.serialize_entry("artifacts", &Seq(&t.artifacts, v))?;
        }
        if let Some(md) = &t.metadata {
            m.serialize_entry("metadata", md)?;
        }
        m.end()
    }
}

impl Serialize for Wire<'_, TaskEvent> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.v;
        let mut m = s.serialize_map(None)?;
        match (self.item, v) {
            (e, Version::V10) => {
                let key = match e {
                    TaskEvent::Status { .. } => "statusUpdate",
                    TaskEvent::Artifact { .. } => "artifactUpdate",
                };
                m.serialize_entry(key, &EventBody(e, v))?;
            }
            (e, Version::V03) => EventBody(e, v).entries(&mut m)?,
        }
        m.end()
    }
}

/// An event's fields; 0.3 writes them bare with a `kind`, 1.0 inside a
/// one-key object.
struct EventBody<'a>(&'a TaskEvent, Version);

impl EventBody<'_> {
    fn entries<M: SerializeMap>(&self, m: &mut M) -> Result<(), M::Error> {
        let v03 = self.1 == Version::V03;
        match self.0 {
            TaskEvent::Status {
                task_id,
                context_id,
                status,
                is_final,
            } => {
                if v03 {
                    m.serialize_entry("kind", "status-update")?;
                }
                m.serialize_entry("taskId", task_id)?;
                m.serialize_entry("contextId", context_id)?;
                m.serialize_entry("status", &wire(status, self.1))?;
                if v03 {
                    m.serialize_entry("final", is_final)?;
                }
            }
            TaskEvent::Artifact {
                task_id,
                context_id,
                artifact,
                append,
                last_chunk,
            } => {
                if v03 {
                    m.serialize_entry("kind", "artifact-update")?;
                }
                m.serialize_entry("taskId", task_id)?;
                m.serialize_entry("contextId", context_id)?;
                m.serialize_entry("artifact", &wire(artifact, self.1))?;
                m.serialize_entry("append", append)?;
                m.serialize_entry("lastChunk", last_chunk)?;
            }
        }
        Ok(())
    }
}

impl Serialize for EventBody<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        self.entries(&mut m)?;
        m.end()
    }
}

impl Serialize for Wire<'_, SendResult<'_>> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match (self.item, self.v) {
            (SendResult::Task(t), Version::V03) => wire(*t, self.v).serialize(s),
            (SendResult::Message(msg), Version::V03) => wire(*msg, self.v).serialize(s),
            (SendResult::Task(t), Version::V10) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("task", &wire(*t, self.v))?;
                m.end()
            }
            (SendResult::Message(msg), Version::V10) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("message", &wire(*msg, self.v))?;
                m.end()
            }
        }
    }
}

/// A `ListTasks` result: a page of tasks and where the next one starts.
pub struct TaskList<'a> {
    pub tasks: &'a [Task],
    pub next_page_token: &'a str,
    pub page_size: usize,
    pub total_size: usize,
    pub v: Version,
}

impl Serialize for TaskList<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(4))?;
        m.serialize_entry("tasks", &Seq(self.tasks, self.v))?;
        m.serialize_entry("nextPageToken", self.next_page_token)?;
        m.serialize_entry("pageSize", &self.page_size)?;
        m.serialize_entry("totalSize", &self.total_size)?;
        m.end()
    }
}

/// A JSON-RPC success around any result.
pub struct Success<'a, R> {
    pub id: &'a Value,
    pub result: R,
}

impl<R: Serialize> Serialize for Success<'_, R> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(3))?;
        m.serialize_entry("jsonrpc", "2.0")?;
        m.serialize_entry("id", self.id)?;
        m.serialize_entry("result", &self.result)?;
        m.end()
    }
}

/// Counts bytes instead of keeping them.
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Replies larger than this are measured first, so their buffer is
/// allocated once at its exact size instead of doubling (which holds up to
/// twice the reply while it grows).
const MEASURE_FROM: usize = 64 * 1024;

/// Serializes straight to bytes. `size_hint` is what the caller knows of
/// the size (0 if nothing).
pub fn to_bytes<T: Serialize + ?Sized>(value: &T, size_hint: usize) -> Vec<u8> {
    let capacity = if size_hint >= MEASURE_FROM {
        let mut c = Counter(0);
        // our views never fail; a failure leaves the count where it stopped
        let _ = serde_json::to_writer(&mut c, value);
        c.0
    } else {
        size_hint.max(256)
    };
    let mut out = Vec::with_capacity(capacity);
    // writing to a Vec cannot fail, and the views have no failing fields
    let _ = serde_json::to_writer(&mut out, value);
    out
}

/// The view as a `Value`, for callers that need to inspect or combine it.
pub fn to_value<T: Serialize + ?Sized>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}
