//! The store's packed finished tasks, end to end in large chunks.
//!
//! Tasks are packed in the order they finished and evicted oldest first, so
//! a chunk empties as a whole and goes back to the allocator as one block
//! (a chunk is larger than mimalloc's medium objects, so it is a page of its
//! own). A thousand finished tasks then sit in a few chunks rather than
//! keeping a few hundred allocator pages resident.
//!
//! Invariant: a chunk is freed as soon as none of its tasks is left, so the
//! memory held beyond the tasks' own bytes is what their chunks' freed
//! neighbours and the open chunk's unwritten end leave: about one chunk when
//! removal is oldest first.

use std::collections::VecDeque;

/// A shared chunk's size; a task packed larger than a quarter of it gets a
/// chunk of its own, exactly its size.
pub const CHUNK: usize = 128 << 10;

/// Where one packed task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    chunk: u64,
    start: usize,
    len: usize,
}

struct Chunk {
    bytes: Vec<u8>,
    /// tasks in this chunk not yet freed
    live: usize,
}

#[derive(Default)]
pub struct Archive {
    chunks: VecDeque<Chunk>,
    /// the number of `chunks[0]`; chunk numbers only grow
    first: u64,
    /// the shared chunk new small tasks go to, if it has room
    open: Option<u64>,
}

impl Archive {
    /// Keeps `packed`; small tasks are copied into the open chunk, a large
    /// one becomes its own chunk without a copy.
    pub fn put(&mut self, packed: Vec<u8>) -> Slot {
        let len = packed.len();
        if len > CHUNK / 4 {
            return Slot {
                chunk: self.push(packed, 1),
                start: 0,
                len,
            };
        }
        let open = self.open.and_then(|n| {
            let c = self.chunk_mut(n)?;
            (c.bytes.len() + len <= c.bytes.capacity()).then_some(n)
        });
        let n = match open {
            Some(n) => n,
            None => {
                let n = self.push(Vec::with_capacity(CHUNK), 0);
                self.open = Some(n);
                n
            }
        };
        let Some(c) = self.chunk_mut(n) else {
            // unreachable: `n` was just found or pushed
            return Slot {
                chunk: self.push(packed, 1),
                start: 0,
                len,
            };
        };
        let start = c.bytes.len();
        c.bytes.extend_from_slice(&packed);
        c.live += 1;
        Slot {
            chunk: n,
            start,
            len,
        }
    }

    /// The bytes `put` was given for `slot`, until `free(slot)`.
    pub fn get(&self, slot: Slot) -> Option<&[u8]> {
        let i = usize::try_from(slot.chunk.checked_sub(self.first)?).ok()?;
        let end = slot.start.checked_add(slot.len)?;
        self.chunks.get(i)?.bytes.get(slot.start..end)
    }

    /// Forgets `slot`; its chunk goes once it holds no task.
    pub fn free(&mut self, slot: Slot) {
        let Some(c) = self.chunk_mut(slot.chunk) else {
            return;
        };
        c.live = c.live.saturating_sub(1);
        if c.live == 0 {
            c.bytes = Vec::new();
            if self.open == Some(slot.chunk) {
                self.open = None;
            }
        }
        while self.chunks.front().is_some_and(|c| c.live == 0) {
            self.chunks.pop_front();
            self.first += 1;
        }
    }

    /// Bytes held by chunks, written or not: what the archive costs.
    pub fn capacity(&self) -> usize {
        self.chunks.iter().map(|c| c.bytes.capacity()).sum()
    }

    fn push(&mut self, bytes: Vec<u8>, live: usize) -> u64 {
        self.chunks.push_back(Chunk { bytes, live });
        self.first + self.chunks.len() as u64 - 1
    }

    fn chunk_mut(&mut self, n: u64) -> Option<&mut Chunk> {
        let i = usize::try_from(n.checked_sub(self.first)?).ok()?;
        self.chunks.get_mut(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_tasks_share_a_chunk_and_come_back_intact() {
        let mut a = Archive::default();
        let slots: Vec<Slot> = (0..100u8).map(|i| a.put(vec![i; 300])).collect();
        assert_eq!(a.chunks.len(), 1);
        assert_eq!(a.capacity(), CHUNK);
        for (i, s) in slots.iter().enumerate() {
            assert_eq!(a.get(*s).unwrap(), vec![i as u8; 300]);
        }
    }

    #[test]
    fn a_chunk_goes_when_its_last_task_does() {
        let mut a = Archive::default();
        let per_chunk = CHUNK / 1000;
        let slots: Vec<Slot> = (0..per_chunk * 3).map(|_| a.put(vec![7; 1000])).collect();
        assert_eq!(a.chunks.len(), 3);
        // oldest first, as the store evicts
        for s in &slots[..per_chunk - 1] {
            a.free(*s);
        }
        assert_eq!(a.chunks.len(), 3, "one task still holds the first chunk");
        a.free(slots[per_chunk - 1]);
        assert_eq!(a.chunks.len(), 2);
        assert!(a.get(slots[0]).is_none());
        // out of order: a middle chunk's memory goes at once
        for s in &slots[per_chunk * 2..] {
            a.free(*s);
        }
        assert_eq!(a.capacity(), CHUNK);
        for s in &slots[per_chunk..per_chunk * 2] {
            a.free(*s);
        }
        assert_eq!((a.chunks.len(), a.capacity()), (0, 0));
        // and it starts again
        let s = a.put(vec![1, 2, 3]);
        assert_eq!(a.get(s).unwrap(), [1, 2, 3]);
    }

    #[test]
    fn a_large_task_is_its_own_chunk_and_small_ones_keep_filling_theirs() {
        let mut a = Archive::default();
        let small = a.put(vec![1; 10]);
        let big = a.put(vec![2; CHUNK]);
        let small2 = a.put(vec![3; 10]);
        assert_eq!(a.chunks.len(), 2);
        assert_eq!(a.get(big).unwrap().len(), CHUNK);
        assert_eq!(a.get(small2).unwrap(), [3; 10]);
        a.free(big);
        assert_eq!(a.capacity(), CHUNK, "the big chunk went");
        a.free(small);
        a.free(small2);
        assert_eq!(a.capacity(), 0);
    }

    #[test]
    fn stale_and_forged_slots_find_nothing() {
        let mut a = Archive::default();
        let s = a.put(vec![1; 10]);
        let forged = Slot {
            chunk: s.chunk,
            start: usize::MAX,
            len: 2,
        };
        assert!(a.get(forged).is_none());
        a.free(s);
        assert!(a.get(s).is_none());
        a.free(s);
        assert_eq!(a.capacity(), 0);
    }
}
