//! Tasks shaped like the store's, built from fuzz bytes: the structure-aware
//! half of the `task_pack` fuzz target. Random bytes alone would almost
//! never describe a task the packer accepts; these start from one.
//!
//! Every choice reads the next input byte (zero once they run out), so the
//! same bytes always build the same task. Sizes and JSON nesting are bounded
//! by constants here, not by the input.

use crate::protocol::model::*;
use serde_json::{Map, Value};

/// JSON nesting the generator builds at most: past the agent's decode limit
/// (32), short of the packer's (100), and the recursion below is this deep.
const MAX_DEPTH: usize = 40;
const MAX_ITEMS: u8 = 4;

pub struct Gen<'a> {
    b: &'a [u8],
}

impl<'a> Gen<'a> {
    pub fn new(b: &'a [u8]) -> Gen<'a> {
        Gen { b }
    }

    fn byte(&mut self) -> u8 {
        match self.b.split_first() {
            Some((&x, rest)) => {
                self.b = rest;
                x
            }
            None => 0,
        }
    }

    fn below(&mut self, n: u8) -> u8 {
        self.byte() % n.max(1)
    }

    /// Text of a few kinds: empty, ASCII, multi-byte, control characters,
    /// a long run, or a slice of the input itself (lossy).
    fn text(&mut self) -> String {
        match self.below(6) {
            0 => String::new(),
            1 => "hello from the benchmark".into(),
            2 => "é漢🦀\u{0}\u{7f}\n\"\\".into(),
            3 => "x".repeat(usize::from(self.byte()) * 64),
            4 => {
                let n = usize::from(self.below(32)).min(self.b.len());
                let (s, rest) = self.b.split_at(n);
                self.b = rest;
                String::from_utf8_lossy(s).into_owned()
            }
            _ => self.uuid(),
        }
    }

    /// An id as this agent issues them, from the next 16 bytes.
    fn uuid(&mut self) -> String {
        crate::ids::uuid_text(&std::array::from_fn(|_| self.byte()))
    }

    fn opt_text(&mut self) -> Option<String> {
        (self.below(2) == 1).then(|| self.text())
    }

    /// An optional id that is often the task's own, as in real tasks.
    fn opt_id(&mut self, t: &Task) -> Option<String> {
        match self.below(4) {
            0 => None,
            1 => Some(t.id.clone()),
            2 => Some(t.context_id.clone()),
            _ => Some(self.text()),
        }
    }

    fn texts(&mut self) -> Vec<String> {
        (0..self.below(MAX_ITEMS)).map(|_| self.text()).collect()
    }

    fn value(&mut self, depth: usize) -> Value {
        let kind = if depth >= MAX_DEPTH {
            self.below(5)
        } else {
            self.below(7)
        };
        match kind {
            0 => Value::Null,
            1 => Value::Bool(self.byte() & 1 == 1),
            2 => Value::from(i64::from(self.byte() as i8) * 1_000_003),
            3 => {
                let bits = u64::from_le_bytes(std::array::from_fn(|_| self.byte()));
                serde_json::Number::from_f64(f64::from_bits(bits))
                    .map_or(Value::Null, Value::Number)
            }
            4 => Value::String(self.text()),
            5 => Value::Array(
                (0..self.below(MAX_ITEMS))
                    .map(|_| self.value(depth + 1))
                    .collect(),
            ),
            _ => Value::Object(self.map(depth + 1)),
        }
    }

    /// A chain of single-element arrays now and then, to reach the depth.
    fn deep_value(&mut self) -> Value {
        if self.below(8) != 0 {
            return self.value(1);
        }
        let n = usize::from(self.below(MAX_DEPTH as u8));
        (0..n).fold(self.value(MAX_DEPTH), |v, _| Value::Array(vec![v]))
    }

    fn map(&mut self, depth: usize) -> Map<String, Value> {
        (0..self.below(MAX_ITEMS))
            .map(|_| (self.text(), self.value(depth)))
            .collect()
    }

    fn metadata(&mut self) -> Option<Map<String, Value>> {
        (self.below(3) == 0).then(|| self.map(1))
    }

    fn part(&mut self) -> Part {
        let content = match self.below(4) {
            0 | 1 => PartContent::Text(self.text()),
            2 => PartContent::File {
                content: if self.byte() & 1 == 0 {
                    FileContent::Bytes(self.text())
                } else {
                    FileContent::Uri(self.text())
                },
                name: self.opt_text(),
                media_type: self.opt_text(),
            },
            _ => PartContent::Data(self.deep_value()),
        };
        Part {
            content,
            metadata: self.metadata(),
        }
    }

    fn parts(&mut self) -> Vec<Part> {
        (0..self.below(MAX_ITEMS)).map(|_| self.part()).collect()
    }

    fn message(&mut self, t: &Task) -> Message {
        Message {
            message_id: self.text(),
            role: if self.byte() & 1 == 0 {
                Role::User
            } else {
                Role::Agent
            },
            parts: self.parts(),
            context_id: self.opt_id(t),
            task_id: self.opt_id(t),
            reference_task_ids: self.texts(),
            extensions: self.texts(),
            metadata: self.metadata(),
        }
    }

    fn artifact(&mut self) -> Artifact {
        Artifact {
            artifact_id: self.text(),
            name: self.opt_text(),
            description: self.opt_text(),
            parts: self.parts(),
            metadata: self.metadata(),
        }
    }

    pub fn task(&mut self) -> Task {
        let state = TaskState::ALL[usize::from(self.below(TaskState::ALL.len() as u8))];
        let mut t = Task {
            id: if self.below(4) == 0 {
                self.text()
            } else {
                self.uuid()
            },
            context_id: self.text(),
            status: TaskStatus {
                state,
                message: None,
                timestamp: format!("2026-11-30T12:{:02}:00.000Z", self.below(60)),
            },
            history: Vec::new(),
            artifacts: Vec::new(),
            metadata: None,
        };
        if self.byte() & 1 == 1 {
            t.status.message = Some(self.message(&t));
        }
        t.history = (0..self.below(MAX_ITEMS))
            .map(|_| self.message(&t))
            .collect();
        t.artifacts = (0..self.below(MAX_ITEMS))
            .map(|_| self.artifact())
            .collect();
        t.metadata = self.metadata();
        t
    }
}
