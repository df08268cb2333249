//! A finished task as one run of bytes, and back.
//!
//! The store keeps its finished tasks packed: one run of bytes each, in
//! `archive` chunks, instead of a dozen small allocations per task scattered
//! over the allocator's pages among every request's freed garbage.
//!
//! Invariants a caller may rely on: `unpack(&pack(t)?) == Some(t)` for every
//! task `pack` takes; `unpack` and `header` never panic on any bytes and
//! never allocate more than the bytes could describe; the header (state,
//! context id) reads without unpacking.
//!
//! The format (integers are LEB128; a string is its length and UTF-8 bytes):
//! state, context id, id, status timestamp, status message (optional),
//! history, artifacts, metadata (optional). An optional id that repeats the
//! task's id or context id (every message in a task does) is one byte.
//! JSON values (data parts, metadata) are stored as JSON text.

use crate::protocol::model::*;
use serde_json::{Map, Value};

/// Deepest JSON value `pack` takes: serde_json reads back at most 128
/// levels. Values from clients are far shallower (the decoder's limit).
const MAX_JSON_DEPTH: usize = 100;

/// The task as bytes; `None` when it holds a JSON value too deep to read
/// back (the store then keeps it as it is).
pub fn pack(t: &Task) -> Option<Vec<u8>> {
    let mut w = Writer {
        out: Vec::with_capacity(t.approx_bytes() / 2),
        id: &t.id,
        context_id: &t.context_id,
    };
    w.out.push(state_code(t.status.state));
    w.str(&t.context_id);
    w.str(&t.id);
    w.str(&t.status.timestamp);
    match &t.status.message {
        None => w.out.push(0),
        Some(m) => {
            w.out.push(1);
            w.message(m)?;
        }
    }
    w.len(t.history.len());
    for m in &t.history {
        w.message(m)?;
    }
    w.len(t.artifacts.len());
    for a in &t.artifacts {
        w.artifact(a)?;
    }
    w.opt_map(&t.metadata)?;
    Some(w.out)
}

/// The task the bytes describe; `None` for bytes `pack` did not make.
pub fn unpack(bytes: &[u8]) -> Option<Task> {
    let mut r = Reader { b: bytes };
    let state = state_of(r.byte()?)?;
    let context_id = r.string()?;
    let id = r.string()?;
    let timestamp = r.string()?;
    let ids = Ids {
        id: &id,
        context_id: &context_id,
    };
    let message = match r.byte()? {
        0 => None,
        1 => Some(r.message(&ids)?),
        _ => return None,
    };
    let history = r.list(|r| r.message(&ids))?;
    let artifacts = r.list(Reader::artifact)?;
    let metadata = r.opt_map()?;
    if !r.b.is_empty() {
        return None;
    }
    Some(Task {
        status: TaskStatus {
            state,
            message,
            timestamp,
        },
        history,
        artifacts,
        metadata,
        id,
        context_id,
    })
}

/// The state and context id of packed bytes, read without unpacking.
pub fn header(bytes: &[u8]) -> Option<(TaskState, &str)> {
    let mut r = Reader { b: bytes };
    let state = state_of(r.byte()?)?;
    Some((state, r.str()?))
}

fn state_code(s: TaskState) -> u8 {
    TaskState::ALL.iter().position(|x| *x == s).unwrap_or(0) as u8
}

fn state_of(code: u8) -> Option<TaskState> {
    TaskState::ALL.get(usize::from(code)).copied()
}

// Tags of an optional id.
const NONE: u8 = 0;
const TASK_ID: u8 = 1;
const CONTEXT_ID: u8 = 2;
const OTHER: u8 = 3;

struct Writer<'t> {
    out: Vec<u8>,
    id: &'t str,
    context_id: &'t str,
}

impl Writer<'_> {
    fn len(&mut self, mut n: usize) {
        while n >= 0x80 {
            self.out.push((n as u8) | 0x80);
            n >>= 7;
        }
        self.out.push(n as u8);
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.out.extend_from_slice(s.as_bytes());
    }

    fn opt_str(&mut self, s: &Option<String>) {
        match s {
            None => self.out.push(0),
            Some(s) => {
                self.out.push(1);
                self.str(s);
            }
        }
    }

    fn opt_id(&mut self, s: &Option<String>) {
        match s.as_deref() {
            None => self.out.push(NONE),
            Some(s) if s == self.id => self.out.push(TASK_ID),
            Some(s) if s == self.context_id => self.out.push(CONTEXT_ID),
            Some(s) => {
                self.out.push(OTHER);
                self.str(s);
            }
        }
    }

    fn strs(&mut self, l: &[String]) {
        self.len(l.len());
        for s in l {
            self.str(s);
        }
    }

    fn json<T: serde::Serialize>(&mut self, v: &T) -> Option<()> {
        let text = serde_json::to_vec(v).ok()?;
        self.len(text.len());
        self.out.extend_from_slice(&text);
        Some(())
    }

    fn opt_map(&mut self, m: &Option<Map<String, Value>>) -> Option<()> {
        match m {
            None => self.out.push(0),
            Some(m) => {
                // the map itself is one level
                if m.values().map(value_depth).max().unwrap_or(0) >= MAX_JSON_DEPTH {
                    return None;
                }
                self.out.push(1);
                self.json(m)?;
            }
        }
        Some(())
    }

    fn message(&mut self, m: &Message) -> Option<()> {
        self.str(&m.message_id);
        self.out.push(match m.role {
            Role::User => 0,
            Role::Agent => 1,
        });
        self.parts(&m.parts)?;
        self.opt_id(&m.context_id);
        self.opt_id(&m.task_id);
        self.strs(&m.reference_task_ids);
        self.strs(&m.extensions);
        self.opt_map(&m.metadata)
    }

    fn artifact(&mut self, a: &Artifact) -> Option<()> {
        self.str(&a.artifact_id);
        self.opt_str(&a.name);
        self.opt_str(&a.description);
        self.parts(&a.parts)?;
        self.opt_map(&a.metadata)
    }

    fn parts(&mut self, parts: &[Part]) -> Option<()> {
        self.len(parts.len());
        for p in parts {
            match &p.content {
                PartContent::Text(t) => {
                    self.out.push(0);
                    self.str(t);
                }
                PartContent::File {
                    content,
                    name,
                    media_type,
                } => {
                    let (tag, c) = match content {
                        FileContent::Bytes(c) => (1, c),
                        FileContent::Uri(c) => (2, c),
                    };
                    self.out.push(tag);
                    self.str(c);
                    self.opt_str(name);
                    self.opt_str(media_type);
                }
                PartContent::Data(v) => {
                    if value_depth(v) > MAX_JSON_DEPTH {
                        return None;
                    }
                    self.out.push(3);
                    self.json(v)?;
                }
            }
            self.opt_map(&p.metadata)?;
        }
        Some(())
    }
}

/// The task's own ids, which its messages' optional ids may name by tag.
struct Ids<'a> {
    id: &'a str,
    context_id: &'a str,
}

struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn byte(&mut self) -> Option<u8> {
        let (&x, rest) = self.b.split_first()?;
        self.b = rest;
        Some(x)
    }

    fn len(&mut self) -> Option<usize> {
        let mut n: usize = 0;
        for shift in (0..usize::BITS).step_by(7) {
            let x = self.byte()?;
            n |= usize::from(x & 0x7f).checked_shl(shift)?;
            if x & 0x80 == 0 {
                return Some(n);
            }
        }
        None
    }

    /// An element count: each element takes at least a byte, so a count
    /// beyond what is left is a lie, refused before anything is reserved.
    fn count(&mut self) -> Option<usize> {
        self.len().filter(|n| *n <= self.b.len())
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let n = self.len()?;
        let (head, rest) = (self.b.get(..n)?, self.b.get(n..)?);
        self.b = rest;
        Some(head)
    }

    fn str(&mut self) -> Option<&'a str> {
        std::str::from_utf8(self.bytes()?).ok()
    }

    fn string(&mut self) -> Option<String> {
        self.str().map(str::to_string)
    }

    fn opt_string(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.string().map(Some),
            _ => None,
        }
    }

    fn opt_id(&mut self, ids: &Ids) -> Option<Option<String>> {
        match self.byte()? {
            NONE => Some(None),
            TASK_ID => Some(Some(ids.id.to_string())),
            CONTEXT_ID => Some(Some(ids.context_id.to_string())),
            OTHER => self.string().map(Some),
            _ => None,
        }
    }

    fn list<T>(&mut self, mut item: impl FnMut(&mut Self) -> Option<T>) -> Option<Vec<T>> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(item(self)?);
        }
        Some(out)
    }

    fn json<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        serde_json::from_slice(self.bytes()?).ok()
    }

    fn opt_map(&mut self) -> Option<Option<Map<String, Value>>> {
        match self.byte()? {
            0 => Some(None),
            1 => self.json().map(Some),
            _ => None,
        }
    }

    fn message(&mut self, ids: &Ids) -> Option<Message> {
        Some(Message {
            message_id: self.string()?,
            role: match self.byte()? {
                0 => Role::User,
                1 => Role::Agent,
                _ => return None,
            },
            parts: self.list(Reader::part)?,
            context_id: self.opt_id(ids)?,
            task_id: self.opt_id(ids)?,
            reference_task_ids: self.list(Reader::string)?,
            extensions: self.list(Reader::string)?,
            metadata: self.opt_map()?,
        })
    }

    fn artifact(&mut self) -> Option<Artifact> {
        Some(Artifact {
            artifact_id: self.string()?,
            name: self.opt_string()?,
            description: self.opt_string()?,
            parts: self.list(Reader::part)?,
            metadata: self.opt_map()?,
        })
    }

    fn part(&mut self) -> Option<Part> {
        let content = match self.byte()? {
            0 => PartContent::Text(self.string()?),
            tag @ (1 | 2) => {
                let c = self.string()?;
                PartContent::File {
                    content: if tag == 1 {
                        FileContent::Bytes(c)
                    } else {
                        FileContent::Uri(c)
                    },
                    name: self.opt_string()?,
                    media_type: self.opt_string()?,
                }
            }
            3 => PartContent::Data(self.json()?),
            _ => return None,
        };
        Some(Part {
            content,
            metadata: self.opt_map()?,
        })
    }
}

/// A task using every field and every form of the model, for tests.
#[cfg(test)]
pub(super) fn rich_task() -> Task {
    use serde_json::json;
    let map = |v: Value| match v {
        Value::Object(m) => Some(m),
        _ => None,
    };
    let part = |content| Part {
        content,
        metadata: map(json!({"p": [1, 2.5, null, true, "é"]})),
    };
    let file = |content, name: Option<&str>| PartContent::File {
        content,
        name: name.map(str::to_string),
        media_type: Some("image/png".into()),
    };
    let mut user = Message::agent(vec![Part::text("hi")], Some("t-1"), "c-1");
    user.role = Role::User;
    user.reference_task_ids = vec!["t-0".into(), String::new()];
    user.extensions = vec!["https://x.example/ext".into()];
    user.metadata = map(json!({"m": {"deep": [[[]]]}}));
    let mut other = Message::agent(
        vec![
            part(PartContent::Data(json!({"a": [1, {"b": "c"}]}))),
            part(file(FileContent::Bytes("aGk=".into()), Some("f.png"))),
            part(file(FileContent::Uri("https://x.example/f".into()), None)),
        ],
        None,
        "elsewhere",
    );
    other.task_id = Some("c-1".into());
    Task {
        id: "t-1".into(),
        context_id: "c-1".into(),
        status: TaskStatus {
            state: TaskState::Failed,
            message: Some(Message::agent_text("no", "t-1", "c-1")),
            timestamp: "2026-11-30T12:00:00.000Z".into(),
        },
        history: vec![user, other],
        artifacts: vec![
            Artifact {
                artifact_id: "a-1".into(),
                name: Some("response".into()),
                description: Some("the answer".into()),
                parts: vec![Part::text("hello"), part(PartContent::Text("".into()))],
                metadata: map(json!({})),
            },
            Artifact {
                artifact_id: "a-2".into(),
                name: None,
                description: None,
                parts: vec![],
                metadata: None,
            },
        ],
        metadata: map(json!({"k": "v", "n": -1})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_field_reads_back_and_the_header_reads_alone() {
        let t = rich_task();
        let bytes = pack(&t).unwrap();
        assert_eq!(unpack(&bytes), Some(t.clone()));
        assert_eq!(header(&bytes), Some((TaskState::Failed, "c-1")));
        for state in TaskState::ALL {
            let t = Task {
                status: TaskStatus {
                    state,
                    ..t.status.clone()
                },
                ..t.clone()
            };
            assert_eq!(unpack(&pack(&t).unwrap()).unwrap().status.state, state);
        }
    }

    #[test]
    fn ids_a_message_repeats_from_its_task_cost_a_byte() {
        let mut t = rich_task();
        t.id = crate::ids::new_id();
        t.context_id = crate::ids::new_id();
        let m = Message::agent_text("x", &t.id, &t.context_id);
        let one = pack(&t).unwrap().len();
        t.history.push(m.clone());
        let two = pack(&t).unwrap().len();
        // spelled out, the two ids would add 74 bytes
        assert!(two - one < m.message_id.len() + 16, "{one} -> {two}");
    }

    #[test]
    fn broken_bytes_are_refused_without_a_panic() {
        let bytes = pack(&rich_task()).unwrap();
        for n in 0..bytes.len() {
            assert!(unpack(&bytes[..n]).is_none(), "prefix of {n} bytes");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(unpack(&longer).is_none(), "trailing bytes");
        for i in 0..bytes.len() {
            for x in [0, 1, 0x7f, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[i] = x;
                // anything it reads back is a task that packs again
                if let Some(t) = unpack(&b) {
                    assert_eq!(unpack(&pack(&t).unwrap()), Some(t));
                }
                let _ = header(&b);
            }
        }
        // a count or a length far past the end reserves nothing
        assert!(unpack(&[0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).is_none());
        assert!(unpack(&[0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x7f]).is_none());
    }

    #[test]
    fn json_too_deep_to_read_back_is_not_packed() {
        let deep = |n| (0..n).fold(json!(0), |v, _| json!([v]));
        let mut t = rich_task();
        t.history[0].parts = vec![Part {
            content: PartContent::Data(deep(MAX_JSON_DEPTH)),
            metadata: None,
        }];
        assert_eq!(unpack(&pack(&t).unwrap()), Some(t.clone()));
        t.history[0].parts[0].content = PartContent::Data(deep(MAX_JSON_DEPTH + 1));
        assert!(pack(&t).is_none());
        let mut m = Map::new();
        m.insert("k".into(), deep(MAX_JSON_DEPTH));
        t.history[0].parts.clear();
        t.metadata = Some(m);
        assert!(pack(&t).is_none(), "the map is a level too");
    }
}
