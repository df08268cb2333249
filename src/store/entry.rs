//! One task in the store: held as a `Task` while it may change (and for a
//! short while after), packed into the archive once finished.
//!
//! Invariant: a packed task is terminal, so nothing writes to it again;
//! every write goes through `held_mut`, which a packed task refuses.

use super::archive::{Archive, Slot};
use super::pack;
use super::CancelToken;
use crate::protocol::model::{Task, TaskEvent, TaskState};
use std::borrow::Cow;
use std::sync::mpsc::SyncSender;
use std::time::Instant;

pub(super) struct Entry {
    pub body: Body,
    /// what the task counts against the store's byte bound (`approx_bytes`)
    pub bytes: usize,
    pub updated: Instant,
    /// for "newest first" ordering and `statusTimestampAfter`
    pub updated_wall: u128,
    /// its place in the store's finished queue once terminal
    pub terminal_seq: Option<u64>,
}

pub(super) enum Body {
    Held(Box<Held>),
    Packed { slot: Slot, state: TaskState },
}

/// A task as it is while it may change.
pub(super) struct Held {
    pub task: Task,
    pub cancel: CancelToken,
    pub subscribers: Vec<SyncSender<TaskEvent>>,
    /// text preview of the request, for the heartbeat's `current_task`
    pub preview: String,
}

impl Entry {
    pub fn state(&self) -> TaskState {
        match &self.body {
            Body::Held(h) => h.task.status.state,
            Body::Packed { state, .. } => *state,
        }
    }

    /// The task to change, unless it is packed (finished for good).
    pub fn held_mut(&mut self) -> Option<&mut Held> {
        match &mut self.body {
            Body::Held(h) => Some(h),
            Body::Packed { .. } => None,
        }
    }

    pub fn held(&self) -> Option<&Held> {
        match &self.body {
            Body::Held(h) => Some(h),
            Body::Packed { .. } => None,
        }
    }

    /// The task while it may still change: held and not yet terminal.
    pub fn live(&self) -> Option<&Held> {
        self.held().filter(|h| !h.task.status.state.is_terminal())
    }

    /// `live`, to change it.
    pub fn live_mut(&mut self) -> Option<&mut Held> {
        self.held_mut()
            .filter(|h| !h.task.status.state.is_terminal())
    }

    /// The task, borrowed if held, unpacked if not; `None` only if packed
    /// bytes do not read back (a bug, logged).
    pub fn task<'a>(&'a self, archive: &Archive) -> Option<Cow<'a, Task>> {
        match &self.body {
            Body::Held(h) => Some(Cow::Borrowed(&h.task)),
            Body::Packed { slot, .. } => {
                let t = archive.get(*slot).and_then(pack::unpack);
                if t.is_none() {
                    log::error!(
                        "a finished task's packed copy does not read back; it reads as gone"
                    );
                }
                t.map(Cow::Owned)
            }
        }
    }

    pub fn context_id<'a>(&'a self, archive: &'a Archive) -> Option<&'a str> {
        match &self.body {
            Body::Held(h) => Some(&h.task.context_id),
            Body::Packed { slot, .. } => Some(pack::header(archive.get(*slot)?)?.1),
        }
    }

    /// Packs a finished held task into `archive`. One holding a JSON value
    /// too deep to read back stays held, and so does one whose bytes would
    /// outgrow what it counts against the store's bound (JSON text escapes
    /// a control character in 6 bytes: a string of them packs 6 times the
    /// size it holds), so packing never takes the store past its bound.
    pub fn pack(&mut self, archive: &mut Archive) {
        let Body::Held(h) = &self.body else {
            return;
        };
        let state = h.task.status.state;
        if !state.is_terminal() {
            return;
        }
        if let Some(bytes) = pack::pack(&h.task).filter(|b| b.len() <= self.bytes) {
            self.body = Body::Packed {
                slot: archive.put(bytes),
                state,
            };
        }
    }

    /// Gives back what the entry holds in `archive`, as it leaves the store.
    pub fn release(self, archive: &mut Archive) {
        if let Body::Packed { slot, .. } = self.body {
            archive.free(slot);
        }
    }
}
