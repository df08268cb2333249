//! A task id as the store's maps hold it: inline when it is as short as
//! the ids this agent issues (UUIDs, 36 bytes), so a kept task costs its
//! maps no allocation of its own.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::hash::{Hash, Hasher};

const INLINE: usize = 38;

#[derive(Clone)]
pub enum TaskKey {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<str>),
}

impl TaskKey {
    pub fn new(id: &str) -> TaskKey {
        match u8::try_from(id.len()) {
            Ok(len) if id.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..id.len()].copy_from_slice(id.as_bytes());
                TaskKey::Inline { len, bytes }
            }
            _ => TaskKey::Heap(id.into()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaskKey::Inline { len, bytes } => bytes
                .get(..usize::from(*len))
                .and_then(|b| std::str::from_utf8(b).ok())
                .unwrap_or(""),
            TaskKey::Heap(s) => s,
        }
    }
}

// Maps look keys up by `&str`: hashing, equality and order are the text's,
// as `Borrow` requires, whichever form holds it.
impl Borrow<str> for TaskKey {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl Hash for TaskKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.as_str().hash(h)
    }
}

impl PartialEq for TaskKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for TaskKey {}

impl Ord for TaskKey {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl PartialOrd for TaskKey {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl std::fmt::Debug for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn short_ids_are_inline_long_ones_on_the_heap_and_both_are_found_by_text() {
        let uuid = crate::ids::new_id();
        let long = "x".repeat(INLINE + 1);
        assert!(matches!(TaskKey::new(&uuid), TaskKey::Inline { .. }));
        assert!(matches!(TaskKey::new(&long), TaskKey::Heap(_)));
        let mut m = HashMap::new();
        for id in [uuid.as_str(), long.as_str(), "", "é"] {
            m.insert(TaskKey::new(id), id.len());
        }
        for id in [uuid.as_str(), long.as_str(), "", "é"] {
            assert_eq!(m.get(id), Some(&id.len()), "{id:?}");
            assert_eq!(TaskKey::new(id).as_str(), id);
        }
        assert!(!m.contains_key("other"));
        assert!(TaskKey::new("a") < TaskKey::new(&long) && TaskKey::new(&long) < TaskKey::new("y"));
    }
}
