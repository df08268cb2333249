//! The in-memory task store: bounded by count and bytes, thread-safe, and the
//! hub that wakes subscribers.
//!
//! Invariants: it never grows past its bounds. Terminal tasks are evicted
//! oldest-first; live tasks idle past their TTL are failed (and their
//! subscribers told); when the store is full of live tasks a new task is
//! refused. Subscribers are bounded channels: one that falls behind is
//! dropped rather than buffered without limit. Finished tasks beyond the
//! newest few are packed (`pack`, `archive`) and read back unchanged.

mod archive;
mod entry;
mod key;
pub(crate) mod pack;

use crate::protocol::model::*;
use crate::shutdown::Stop;
use crate::time::now_rfc3339;
use archive::Archive;
use entry::{Body, Entry, Held};
use key::TaskKey;
use std::collections::{HashMap, VecDeque};
use std::sync::mpsc::{sync_channel, Receiver, TrySendError};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A task's cancel signal: backends check it between chunks, and watchers
/// wait on it.
pub type CancelToken = Stop;

/// Events a subscriber may fall behind by before it is dropped.
const SUBSCRIBER_BUFFER: usize = 1024;

/// Finished tasks kept held, newest, before they are packed: a send reads
/// its task for the reply right after it finishes, and unpacking it there
/// would cost the hot path what packing saves.
const HELD_FINISHED: u64 = 64;

#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    pub max_tasks: usize,
    pub max_bytes: usize,
    /// A task that is not terminal and has not changed for this long is failed.
    pub idle_ttl: Duration,
}

impl Default for StoreLimits {
    fn default() -> Self {
        StoreLimits {
            max_tasks: 1000,
            max_bytes: 16 << 20,
            idle_ttl: Duration::from_secs(3600),
        }
    }
}

/// Why a follow-up cannot resume a task.
#[derive(Debug, PartialEq, Eq)]
pub enum ResumeError {
    NotFound,
    /// the message names another context than the task's
    OtherContext {
        given: String,
        task: String,
    },
    Finished {
        state: TaskState,
        context_id: String,
    },
    /// still running: not waiting for anything
    NotWaiting(TaskState),
    /// the message does not fit the store's bounds
    Full,
}

/// The task named is not in the store (never was, or evicted).
#[derive(Debug, PartialEq, Eq)]
pub struct NotFound;

/// `insert` refused: the store is full of live tasks, nothing may be evicted.
#[derive(Debug, PartialEq, Eq)]
pub struct Full;

/// A task not yet finished, as the heartbeat and the snapshot report it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveTask {
    pub id: String,
    pub state: TaskState,
    /// text preview of the request that started it
    pub preview: String,
}

#[derive(Default)]
struct Inner {
    tasks: HashMap<TaskKey, Entry>,
    /// finished tasks in the order they finished: (`terminal_seq`, id)
    terminal: VecDeque<(u64, TaskKey)>,
    archive: Archive,
    /// every finished task up to this `terminal_seq` is packed (or gone)
    packed_upto: u64,
    bytes: usize,
    seq: u64,
    last_sweep: Option<Instant>,
    evicted: u64,
    expired: u64,
}

impl Inner {
    /// Takes the task out of the store, with its place in the finished
    /// queue and what it holds in the archive.
    fn forget(&mut self, id: &str) -> bool {
        match self.tasks.remove(id) {
            Some(e) => {
                self.release(e);
                true
            }
            None => false,
        }
    }

    /// What `e`, already out of the map, held: its bytes, its place in the
    /// finished queue and its archive slot.
    fn release(&mut self, e: Entry) {
        self.bytes -= e.bytes;
        if let Some(seq) = e.terminal_seq {
            if let Ok(i) = self.terminal.binary_search_by_key(&seq, |(s, _)| *s) {
                self.terminal.remove(i);
            }
        }
        e.release(&mut self.archive);
    }

    /// Packs finished tasks, oldest first, until only the newest
    /// `HELD_FINISHED` are held.
    fn pack_old(&mut self) {
        let Inner {
            tasks,
            terminal,
            archive,
            packed_upto,
            seq,
            ..
        } = self;
        while *seq - *packed_upto > HELD_FINISHED {
            let i = terminal.partition_point(|(s, _)| *s <= *packed_upto);
            let Some((s, id)) = terminal.get(i) else {
                *packed_upto = *seq;
                return;
            };
            *packed_upto = *s;
            if let Some(e) = tasks.get_mut(id) {
                e.pack(archive);
            }
        }
    }

    /// Notes that `id` just finished.
    fn finished(&mut self, id: &str) {
        self.seq += 1;
        let s = self.seq;
        if let Some(e) = self.tasks.get_mut(id) {
            e.terminal_seq = Some(s);
            if let Some(h) = e.held_mut() {
                // a finished task is kept for reads only: what served it
                // live goes
                h.preview = String::new();
                h.subscribers = Vec::new();
            }
        }
        self.terminal.push_back((s, TaskKey::new(id)));
    }
}

pub struct TaskStore {
    inner: Mutex<Inner>,
    limits: StoreLimits,
}

fn wall_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Counts for `/metrics`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreStats {
    pub tasks: usize,
    pub bytes: usize,
    /// what the packed finished tasks' chunks hold
    pub archive_bytes: usize,
    pub live: usize,
    pub evicted: u64,
    pub expired: u64,
}

/// A subscription: what the subscriber made of the task as it was, then
/// every later event.
pub struct Subscription<R> {
    pub first: R,
    pub events: Receiver<TaskEvent>,
}

/// One page of `ListTasks`.
pub struct Page {
    pub tasks: Vec<Task>,
    pub next_page_token: String,
    pub total_size: usize,
    /// what the store counts for these tasks whole (an upper bound of the
    /// page's copies), e.g. to size a reply
    pub bytes: usize,
}

impl TaskStore {
    pub fn new(limits: StoreLimits) -> TaskStore {
        TaskStore {
            inner: Mutex::new(Inner::default()),
            limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the map half-written
        // in a way later readers could not cope with; keep serving.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a new task, making room by evicting terminal tasks if needed.
    pub fn insert(&self, task: Task, cancel: CancelToken, preview: String) -> Result<(), Full> {
        let bytes = task.approx_bytes();
        let mut g = self.lock();
        self.make_room(&mut g, 1, bytes)?;
        let id = TaskKey::new(&task.id);
        g.bytes += bytes;
        let terminal = task.status.state.is_terminal();
        let entry = Entry {
            body: Body::Held(Box::new(Held {
                task,
                cancel,
                subscribers: Vec::new(),
                preview,
            })),
            bytes,
            updated: Instant::now(),
            updated_wall: wall_nanos(),
            terminal_seq: None,
        };
        if let Some(replaced) = g.tasks.insert(id.clone(), entry) {
            // ids are fresh; a repeated one replaces its task whole
            g.release(replaced);
        }
        if terminal {
            g.finished(id.as_str());
            g.pack_old();
        }
        Ok(())
    }

    /// Evicts finished tasks (oldest first) until `tasks` more tasks and
    /// `bytes` more bytes fit; `Full` when only live tasks are left.
    fn make_room(&self, g: &mut Inner, tasks: usize, bytes: usize) -> Result<(), Full> {
        self.sweep_expired(g, false);
        let mut swept = false;
        while g.tasks.len() + tasks > self.limits.max_tasks
            || g.bytes + bytes > self.limits.max_bytes
        {
            if g.terminal.is_empty() && !swept {
                // full of live tasks: expire the idle ones now, not in a second
                swept = true;
                self.sweep_expired(g, true);
            }
            let Some((_, id)) = g.terminal.front() else {
                return Err(Full);
            };
            let id = id.clone();
            if g.forget(id.as_str()) {
                g.evicted += 1;
            } else {
                g.terminal.pop_front();
            }
        }
        Ok(())
    }

    /// Fails live tasks that have been idle past the TTL. Runs at most once a
    /// second, from `insert`, so it costs nothing on the hot path.
    fn sweep_expired(&self, g: &mut Inner, force: bool) {
        let now = Instant::now();
        if !force
            && g.last_sweep
                .is_some_and(|t| now.duration_since(t) < Duration::from_secs(1))
        {
            return;
        }
        g.last_sweep = Some(now);
        let ttl = self.limits.idle_ttl;
        let expired: Vec<String> = g
            .tasks
            .iter()
            .filter(|(_, e)| !e.state().is_terminal() && now.duration_since(e.updated) > ttl)
            .map(|(id, _)| id.as_str().to_string())
            .collect();
        for id in expired {
            let msg = format!("task expired after {} s without progress", ttl.as_secs());
            log::warn!("task {id}: {msg}");
            if let Some(h) = g.tasks.get(id.as_str()).and_then(Entry::held) {
                h.cancel.trigger();
            }
            let _ = Self::set_status_locked(
                g,
                &id,
                TaskState::Failed,
                Some(vec![Part::text(msg)]),
                true,
            );
            g.expired += 1;
        }
    }

    /// `read_sized` without the bytes.
    #[cfg(test)]
    pub fn read<R>(
        &self,
        id: &str,
        history_length: Option<usize>,
        f: impl FnOnce(&Task) -> R,
    ) -> Option<R> {
        self.read_sized(id, history_length, |t, _| f(t))
    }

    /// Runs `f` on the task as a reply shows it (at most `history_length`
    /// recent messages) and the bytes the store counts for the whole task
    /// (an upper bound of what it shows, e.g. to size a reply). Under the
    /// lock and without copying a held task: a reply encoded straight from
    /// here spares a full copy of a task that may hold megabytes. Keep `f`
    /// short; every request waits on this lock.
    pub fn read_sized<R>(
        &self,
        id: &str,
        history_length: Option<usize>,
        f: impl FnOnce(&Task, usize) -> R,
    ) -> Option<R> {
        let mut g = self.lock();
        let Inner { tasks, archive, .. } = &mut *g;
        let entry = tasks.get_mut(id)?;
        let bytes = entry.bytes;
        if let Some(h) = entry.held_mut() {
            let cut = h.task.older_than(history_length);
            let view = HistoryCut::new(&mut h.task, cut);
            return Some(f(&*view.task, bytes));
        }
        let t = entry.task(archive)?.into_owned();
        Some(f(&t.trimmed(history_length, true), bytes))
    }

    /// The task's state, without reading the rest of it.
    pub fn state(&self, id: &str) -> Option<TaskState> {
        self.lock().tasks.get(id).map(Entry::state)
    }

    /// The cancel token of a task still held (a packed one is finished).
    pub fn cancel_token(&self, id: &str) -> Option<CancelToken> {
        let g = self.lock();
        Some(g.tasks.get(id)?.held()?.cancel.clone())
    }

    /// `f` of the task (its first event, encoded without a copy) and a
    /// channel of every later event, under one lock so no event falls
    /// between them. A terminal task gets a channel that stays empty.
    pub fn subscribe<R>(&self, id: &str, f: impl FnOnce(&Task) -> R) -> Option<Subscription<R>> {
        let mut g = self.lock();
        let Inner { tasks, archive, .. } = &mut *g;
        let e = tasks.get_mut(id)?;
        let (tx, events) = sync_channel(SUBSCRIBER_BUFFER);
        let first = match e.held_mut() {
            Some(h) => {
                if !h.task.status.state.is_terminal() {
                    h.subscribers.push(tx);
                }
                f(&h.task)
            }
            None => f(&*e.task(archive)?),
        };
        Some(Subscription { first, events })
    }

    /// A follow-up to a task waiting for input: checked and added to its
    /// history, and the task moved to `working`, under one lock, so two
    /// follow-ups cannot both resume it. Returns the task's cancel token.
    pub fn resume(&self, id: &str, mut m: Message) -> Result<CancelToken, ResumeError> {
        let mut g = self.lock();
        let state = Self::resumable(&g, id, &mut m)?;
        if !matches!(state, TaskState::InputRequired | TaskState::AuthRequired) {
            return Err(ResumeError::NotWaiting(state));
        }
        let added = m.approx_bytes();
        // the message must fit the store's bound like a new task's: a task
        // waiting for input could otherwise grow by a message per turn
        self.make_room(&mut g, 0, added)
            .map_err(|Full| ResumeError::Full)?;
        // making room may have expired this very task (idle past the TTL)
        Self::resumable(&g, id, &mut m)?;
        let Some(h) = g.tasks.get_mut(id).and_then(Entry::held_mut) else {
            return Err(ResumeError::NotFound);
        };
        let cancel = h.cancel.clone();
        h.task.history.push(m);
        Self::touch(&mut g, id, added, 0);
        let _ = Self::set_status_locked(&mut g, id, TaskState::Working, None, false);
        Ok(cancel)
    }

    /// The state of a task a follow-up `m` may resume: found, not finished,
    /// in the message's context (which `m` is given, with the task's id).
    fn resumable(g: &Inner, id: &str, m: &mut Message) -> Result<TaskState, ResumeError> {
        let e = g.tasks.get(id).ok_or(ResumeError::NotFound)?;
        let state = e.state();
        let context_id = e
            .context_id(&g.archive)
            .ok_or(ResumeError::NotFound)?
            .to_string();
        if let Some(given) = m.context_id.as_ref().filter(|c| **c != context_id) {
            return Err(ResumeError::OtherContext {
                given: given.clone(),
                task: context_id,
            });
        }
        if state.is_terminal() {
            return Err(ResumeError::Finished { state, context_id });
        }
        m.context_id = Some(context_id);
        m.task_id = Some(id.to_string());
        Ok(state)
    }

    /// Appends a message to a task's history.
    #[cfg(test)]
    pub fn push_history(&self, id: &str, m: Message) -> Result<(), NotFound> {
        let added = m.approx_bytes();
        let mut g = self.lock();
        let h = g
            .tasks
            .get_mut(id)
            .and_then(Entry::held_mut)
            .ok_or(NotFound)?;
        h.task.history.push(m);
        Self::touch(&mut g, id, added, 0);
        Ok(())
    }

    /// Moves a task to `state`, with an optional agent message (kept in the
    /// status and in history), and tells its subscribers.
    pub fn set_status(
        &self,
        id: &str,
        state: TaskState,
        text: Option<String>,
    ) -> Result<(), NotFound> {
        self.set_status_parts(id, state, text.map(|t| vec![Part::text(t)]))
    }

    /// Like `set_status`, with the agent's message as any parts (a question,
    /// a file): the message gets the task's ids here.
    pub fn set_status_parts(
        &self,
        id: &str,
        state: TaskState,
        parts: Option<Vec<Part>>,
    ) -> Result<(), NotFound> {
        let mut g = self.lock();
        Self::set_status_locked(&mut g, id, state, parts, state.is_settled())
    }

    fn set_status_locked(
        g: &mut Inner,
        id: &str,
        state: TaskState,
        parts: Option<Vec<Part>>,
        is_final: bool,
    ) -> Result<(), NotFound> {
        let e = g.tasks.get_mut(id).ok_or(NotFound)?;
        // terminal is forever: a late backend result after a cancel or an
        // expiry must not resurrect the task (and a packed task is terminal)
        let Some(h) = e.live_mut() else {
            return Ok(());
        };
        if h.task.status.state == state && parts.is_none() {
            // nothing new to tell (a resumed task is already working)
            return Ok(());
        }
        let message = parts.map(|p| Message::agent(p, Some(&h.task.id), &h.task.context_id));
        let mut added = 0;
        if let Some(m) = &message {
            added += m.approx_bytes();
            h.task.history.push(m.clone());
        }
        let status = TaskStatus {
            state,
            message,
            timestamp: now_rfc3339(),
        };
        added += status.approx_bytes();
        let removed = std::mem::replace(&mut h.task.status, status).approx_bytes();
        if !h.subscribers.is_empty() {
            let event = TaskEvent::Status {
                task_id: h.task.id.clone(),
                context_id: h.task.context_id.clone(),
                status: h.task.status.clone(),
                is_final,
            };
            Self::notify(h, &event);
            if is_final {
                h.subscribers.clear();
            }
        }
        Self::touch(g, id, added, removed);
        if state.is_terminal() {
            g.finished(id);
            g.pack_old();
        }
        Ok(())
    }

    /// What a backend run answers: the task's last message (the one that
    /// started this run), and the history before it if `with_history`.
    pub fn turn(&self, id: &str, with_history: bool) -> Option<Turn> {
        let g = self.lock();
        let t = g.tasks.get(id)?.task(&g.archive)?;
        let (message, before) = t.history.split_last()?;
        Some(Turn {
            context_id: t.context_id.clone(),
            message: message.clone(),
            history: if with_history {
                before.to_vec()
            } else {
                Vec::new()
            },
        })
    }

    /// Forgets a task (one answered with a direct message instead: to the
    /// client it never existed). Its subscribers' channels close.
    pub fn remove(&self, id: &str) {
        self.lock().forget(id);
    }

    /// Adds text to one of the task's artifacts (created on first use, with
    /// `name`) and tells subscribers about the chunk.
    pub fn append_text(
        &self,
        id: &str,
        artifact_id: &str,
        name: &str,
        chunk: &str,
        last_chunk: bool,
    ) -> Result<(), NotFound> {
        let artifact = Artifact {
            artifact_id: artifact_id.to_string(),
            name: Some(name.to_string()),
            description: None,
            parts: vec![Part::text(chunk)],
            metadata: None,
        };
        self.add_artifact(id, artifact, true, last_chunk)
    }

    /// Adds a chunk of an artifact: with `append`, its parts join the
    /// artifact of that id (text onto text, so a streamed answer stays one
    /// part), otherwise it replaces it. Subscribers get the chunk, with
    /// `append` as it happened (false when the artifact is new).
    pub fn add_artifact(
        &self,
        id: &str,
        chunk: Artifact,
        append: bool,
        last_chunk: bool,
    ) -> Result<(), NotFound> {
        let mut g = self.lock();
        let e = g.tasks.get_mut(id).ok_or(NotFound)?;
        let Some(h) = e.live_mut() else {
            return Ok(());
        };
        let event_chunk = (!h.subscribers.is_empty()).then(|| chunk.clone());
        let existing = h
            .task
            .artifacts
            .iter_mut()
            .find(|a| a.artifact_id == chunk.artifact_id);
        let (appended, added, removed) = match existing {
            Some(a) if append => (true, append_parts(a, chunk.parts), 0),
            Some(a) => {
                let added = chunk.approx_bytes();
                (false, added, std::mem::replace(a, chunk).approx_bytes())
            }
            None => {
                let added = chunk.approx_bytes();
                h.task.artifacts.push(chunk);
                (false, added, 0)
            }
        };
        if let Some(artifact) = event_chunk {
            let event = TaskEvent::Artifact {
                task_id: h.task.id.clone(),
                context_id: h.task.context_id.clone(),
                artifact,
                append: appended,
                last_chunk,
            };
            Self::notify(h, &event);
        }
        Self::touch(&mut g, id, added, removed);
        Ok(())
    }

    fn notify(h: &mut Held, event: &TaskEvent) {
        h.subscribers.retain(|s| match s.try_send(event.clone()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                log::warn!(
                    "task {}: dropping a subscriber that fell {SUBSCRIBER_BUFFER} events behind",
                    h.task.id
                );
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// Refreshes size accounting and timestamps after a change that
    /// `added` and `removed` bytes (by `approx_bytes`). Counting only the
    /// changed piece keeps a stream of small chunks from re-walking a task
    /// whose metadata holds a megabyte of tiny values at every chunk.
    fn touch(g: &mut Inner, id: &str, added: usize, removed: usize) {
        if let Some(e) = g.tasks.get_mut(id) {
            e.bytes = e.bytes + added - removed;
            e.updated = Instant::now();
            e.updated_wall = wall_nanos();
            g.bytes = g.bytes + added - removed;
        }
    }

    /// Counts for `/metrics`.
    pub fn stats(&self) -> StoreStats {
        let g = self.lock();
        StoreStats {
            tasks: g.tasks.len(),
            bytes: g.bytes,
            archive_bytes: g.archive.capacity(),
            live: g.tasks.len().saturating_sub(g.terminal.len()),
            evicted: g.evicted,
            expired: g.expired,
        }
    }

    /// Held tasks not yet terminal (every live task is held).
    fn live(g: &Inner) -> impl Iterator<Item = (&Entry, &Held)> {
        g.tasks.values().filter_map(|e| e.live().map(|h| (e, h)))
    }

    /// Tasks not yet terminal, most recently changed first.
    pub fn live_tasks(&self) -> Vec<LiveTask> {
        let g = self.lock();
        let mut live: Vec<_> = Self::live(&g).collect();
        live.sort_by_key(|(e, _)| std::cmp::Reverse(e.updated_wall));
        live.iter()
            .map(|(_, h)| LiveTask {
                id: h.task.id.clone(),
                state: h.task.status.state,
                preview: h.preview.clone(),
            })
            .collect()
    }

    /// The preview of the most recently changed live task, or empty.
    pub fn newest_live_preview(&self) -> String {
        let g = self.lock();
        Self::live(&g)
            .max_by_key(|(e, _)| e.updated_wall)
            .map(|(_, h)| h.preview.clone())
            .unwrap_or_default()
    }

    /// Signals every live task's cancel token (shutdown after the grace).
    pub fn cancel_all(&self) -> usize {
        let g = self.lock();
        let mut n = 0;
        for (_, h) in Self::live(&g) {
            h.cancel.trigger();
            n += 1;
        }
        n
    }

    /// Ends every subscription (shutdown): a stream on a task that waits
    /// for input has no run to cancel and would otherwise stay open until
    /// the process exits. Events already sent are still delivered; the
    /// tasks keep their states. Returns how many subscriptions ended.
    pub fn close_subscriptions(&self) -> usize {
        let mut g = self.lock();
        g.tasks
            .values_mut()
            .filter_map(Entry::held_mut)
            .map(|h| std::mem::take(&mut h.subscribers).len())
            .sum()
    }

    /// `ListTasks`: newest status change first, cursor paging.
    pub fn list(&self, p: &crate::protocol::ListParams) -> Result<Page, String> {
        let after = p.status_timestamp_after.map(|t| {
            t.duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0)
        });
        let cursor = match &p.page_token {
            None => None,
            Some(t) => Some(
                decode_token(t)
                    .ok_or_else(|| format!("pageToken {t:?} is not a token this server issued"))?,
            ),
        };
        let g = self.lock();
        let archive = &g.archive;
        let mut hits: Vec<(u128, &str, &Entry)> = g
            .tasks
            .iter()
            .filter(|(_, e)| {
                p.context_id
                    .as_ref()
                    .is_none_or(|c| e.context_id(archive) == Some(c.as_str()))
            })
            .filter(|(_, e)| p.status.is_none_or(|s| s == e.state()))
            .filter(|(_, e)| after.is_none_or(|a| e.updated_wall > a))
            .map(|(id, e)| (e.updated_wall, id.as_str(), e))
            .collect();
        let total_size = hits.len();
        hits.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(b.1)));
        let start = match &cursor {
            None => 0,
            Some((ts, id)) => hits
                .iter()
                .position(|(t, i, _)| *t < *ts || (*t == *ts && *i > id.as_str()))
                .unwrap_or(hits.len()),
        };
        let size = p
            .page_size
            .unwrap_or(crate::protocol::v10::DEFAULT_PAGE_SIZE);
        let page: Vec<_> = hits.iter().skip(start).take(size).collect();
        let next_page_token = if start + page.len() < hits.len() {
            page.last()
                .map(|(t, id, _)| encode_token(*t, id))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let tasks = page
            .iter()
            .filter_map(|(_, _, e)| match e.task(archive)? {
                std::borrow::Cow::Borrowed(t) => {
                    Some(t.copy_with(p.history_length, p.include_artifacts))
                }
                std::borrow::Cow::Owned(t) => {
                    Some(t.trimmed(p.history_length, p.include_artifacts))
                }
            })
            .collect();
        Ok(Page {
            tasks,
            next_page_token,
            total_size,
            bytes: page.iter().map(|(_, _, e)| e.bytes).sum(),
        })
    }
}

/// Hides a task's oldest `cut` history messages while it lives, moving them
/// aside rather than copying them, and puts them back when dropped (also
/// when the reader panics), so the stored task is never left short.
struct HistoryCut<'a> {
    task: &'a mut Task,
    older: Vec<Message>,
}

impl<'a> HistoryCut<'a> {
    fn new(task: &'a mut Task, cut: usize) -> HistoryCut<'a> {
        let older = task.history.drain(..cut).collect();
        HistoryCut { task, older }
    }
}

impl Drop for HistoryCut<'_> {
    fn drop(&mut self) {
        if self.older.is_empty() {
            return;
        }
        let newer = std::mem::replace(&mut self.task.history, std::mem::take(&mut self.older));
        self.task.history.extend(newer);
    }
}

fn encode_token(ts: u128, id: &str) -> String {
    format!(
        "{ts:x}.{}",
        id.bytes().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn decode_token(t: &str) -> Option<(u128, String)> {
    let (ts, id) = t.split_once('.')?;
    let ts = u128::from_str_radix(ts, 16).ok()?;
    if id.len() % 2 != 0 || id.is_empty() {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..id.len())
        .step_by(2)
        .map(|i| {
            id.get(i..i + 2)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        })
        .collect();
    String::from_utf8(bytes?).ok().map(|id| (ts, id))
}

/// One backend run's input, copied out of the store.
pub struct Turn {
    pub context_id: String,
    pub message: Message,
    /// the task's history before `message`, oldest first
    pub history: Vec<Message>,
}

/// Adds `parts` to `a`, text onto a trailing text part; returns the bytes
/// added.
fn append_parts(a: &mut Artifact, parts: Vec<Part>) -> usize {
    let mut added = 0;
    for part in parts {
        match (a.parts.last_mut(), &part.content) {
            (
                Some(Part {
                    content: PartContent::Text(t),
                    ..
                }),
                PartContent::Text(more),
            ) if part.metadata.is_none() => {
                t.push_str(more);
                added += more.len();
            }
            _ => {
                added += part.approx_bytes();
                a.parts.push(part);
            }
        }
    }
    added
}

/// A fresh task for `message`, in `submitted`. Takes the message so its
/// parts move into the task rather than being copied.
pub fn new_task(mut message: Message) -> Task {
    let id = crate::ids::new_id();
    let context_id = message
        .context_id
        .clone()
        .unwrap_or_else(crate::ids::new_id);
    message.task_id = Some(id.clone());
    message.context_id = Some(context_id.clone());
    Task {
        id,
        context_id,
        status: TaskStatus {
            state: TaskState::Submitted,
            message: None,
            timestamp: now_rfc3339(),
        },
        history: vec![message],
        artifacts: Vec::new(),
        metadata: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ListParams;

    impl TaskStore {
        /// A copy of the task with at most `history_length` messages.
        fn get(&self, id: &str, history_length: Option<usize>) -> Option<Task> {
            self.read(id, history_length, Task::clone)
        }
    }

    fn msg(text: &str) -> Message {
        Message {
            message_id: crate::ids::new_id(),
            role: Role::User,
            parts: vec![Part::text(text)],
            context_id: None,
            task_id: None,
            reference_task_ids: vec![],
            extensions: vec![],
            metadata: None,
        }
    }

    fn add(store: &TaskStore, text: &str) -> Result<String, Full> {
        let t = new_task(msg(text));
        let id = t.id.clone();
        store.insert(t, CancelToken::new(), text.into())?;
        Ok(id)
    }

    #[test]
    fn a_finished_task_keeps_no_preview_or_subscriber_list() {
        let store = TaskStore::new(StoreLimits::default());
        let id = add(&store, "a preview of the request").unwrap();
        let sub = store.subscribe(&id, |_| ()).unwrap();
        store.set_status(&id, TaskState::Completed, None).unwrap();
        drop(sub);
        let g = store.lock();
        let h = g.tasks[id.as_str()].held().unwrap();
        assert_eq!(h.preview.capacity(), 0);
        assert_eq!(h.subscribers.capacity(), 0);
    }

    /// Finishes `n` new small tasks, so older finished ones get packed.
    fn finish_more(store: &TaskStore, n: u64) {
        for _ in 0..n {
            let id = add(store, "filler").unwrap();
            store.set_status(&id, TaskState::Completed, None).unwrap();
        }
    }

    fn is_packed(store: &TaskStore, id: &str) -> bool {
        matches!(store.lock().tasks[id].body, Body::Packed { .. })
    }

    #[test]
    fn a_finished_task_is_packed_later_and_reads_back_the_same_everywhere() {
        let store = TaskStore::new(StoreLimits::default());
        let t = pack::rich_task();
        let (id, ctx) = (t.id.clone(), t.context_id.clone());
        store.insert(t, CancelToken::new(), "p".into()).unwrap();
        let list = |store: &TaskStore| {
            let p = ListParams {
                context_id: Some(ctx.clone()),
                status: Some(TaskState::Failed),
                history_length: Some(1),
                include_artifacts: false,
                ..Default::default()
            };
            store.list(&p).unwrap().tasks
        };
        let (whole, cut, listed) = (store.get(&id, None), store.get(&id, Some(1)), list(&store));
        finish_more(&store, HELD_FINISHED - 1);
        assert!(
            !is_packed(&store, &id),
            "the newest finished tasks stay held"
        );
        finish_more(&store, 1);
        assert!(is_packed(&store, &id));
        assert_eq!(store.get(&id, None), whole);
        assert_eq!(store.get(&id, Some(1)), cut);
        assert_eq!(cut.unwrap().history.len(), 1);
        assert_eq!(list(&store), listed);
        assert_eq!(listed.len(), 1);
        assert_eq!(store.state(&id), Some(TaskState::Failed));
        assert!(store.cancel_token(&id).is_none());
        let sub = store.subscribe(&id, |t| t.clone()).unwrap();
        assert_eq!(Some(sub.first), whole);
        assert!(sub.events.try_recv().is_err());
        assert_eq!(
            store.resume(&id, msg("more")).err(),
            Some(ResumeError::Finished {
                state: TaskState::Failed,
                context_id: ctx.clone()
            })
        );
        // writes to a finished task change nothing, packed or not
        store
            .set_status(&id, TaskState::Completed, Some("late".into()))
            .unwrap();
        store
            .append_text(&id, "r", "response", "late", true)
            .unwrap();
        assert_eq!(store.get(&id, None), whole);
        assert!(store.stats().archive_bytes >= archive::CHUNK);
        store.remove(&id);
        assert!(store.get(&id, None).is_none());
        assert_eq!(store.stats().tasks, HELD_FINISHED as usize);
        assert_eq!(store.stats().live, 0);
    }

    #[test]
    fn a_repeated_id_replaces_its_task_whole() {
        let store = TaskStore::new(StoreLimits::default());
        let first = new_task(msg("first"));
        let mut second = new_task(msg(&"second".repeat(100)));
        second.id = first.id.clone();
        let (id, bytes) = (first.id.clone(), second.approx_bytes());
        store
            .insert(first, CancelToken::new(), String::new())
            .unwrap();
        store.set_status(&id, TaskState::Completed, None).unwrap();
        store
            .insert(second, CancelToken::new(), String::new())
            .unwrap();
        let st = store.stats();
        assert_eq!((st.tasks, st.bytes, st.live), (1, bytes, 1));
        assert!(store.lock().terminal.is_empty());
    }

    #[test]
    fn packed_tasks_evicted_give_their_chunks_back() {
        let store = TaskStore::new(StoreLimits {
            max_tasks: 100,
            ..Default::default()
        });
        let mut most = 0;
        for i in 0..20_000 {
            let text = if i % 1000 == 0 {
                "x".repeat(archive::CHUNK)
            } else {
                i.to_string()
            };
            let id = add(&store, &text).unwrap();
            store.set_status(&id, TaskState::Completed, None).unwrap();
            most = most.max(store.stats().archive_bytes);
        }
        // 36 packed tasks of ~200 bytes: one shared chunk, at times a second
        // while the first empties, and a large task's own chunk
        assert!(most <= 4 * archive::CHUNK, "{most}");
        assert_eq!(store.stats().evicted, 19_900);
        let g = store.lock();
        assert_eq!(g.terminal.len(), 100);
        assert!(g
            .terminal
            .iter()
            .all(|(s, id)| g.tasks[id.as_str()].terminal_seq == Some(*s)));
    }

    /// Found attacking the binary: 166 finished tasks whose metadata held
    /// 100,000 U+0001 each counted 16 MiB against the store's bound, but
    /// their packed JSON text (`\u0001`, 6 bytes each) held 122 MB of chunks.
    #[test]
    fn a_task_packing_larger_than_it_counts_stays_held() {
        let store = TaskStore::new(StoreLimits::default());
        let mut ids = vec![];
        for _ in 0..HELD_FINISHED + 20 {
            let mut t = new_task(msg("escapes"));
            t.metadata = Some(serde_json::Map::from_iter([(
                "k".to_string(),
                serde_json::Value::String("\u{1}".repeat(10_000)),
            )]));
            ids.push(t.id.clone());
            store.insert(t, CancelToken::new(), String::new()).unwrap();
            store
                .set_status(ids.last().unwrap(), TaskState::Completed, None)
                .unwrap();
        }
        let st = store.stats();
        assert!(
            st.archive_bytes <= st.bytes,
            "{} > {}",
            st.archive_bytes,
            st.bytes
        );
        assert!(!is_packed(&store, &ids[0]));
        assert_eq!(
            store.get(&ids[0], None).unwrap().history[0].parts[0],
            Part::text("escapes")
        );
        // a task that packs smaller still is packed
        let id = add(&store, "plain").unwrap();
        store.set_status(&id, TaskState::Completed, None).unwrap();
        finish_more(&store, HELD_FINISHED);
        assert!(is_packed(&store, &id));
    }

    #[test]
    fn a_task_too_deep_to_pack_stays_held_and_still_goes() {
        let store = TaskStore::new(StoreLimits {
            max_tasks: HELD_FINISHED as usize + 10,
            ..Default::default()
        });
        let deep = (0..110).fold(serde_json::json!(0), |v, _| serde_json::json!([v]));
        let mut t = new_task(msg("deep"));
        t.metadata = Some(serde_json::Map::from_iter([("d".to_string(), deep)]));
        let id = t.id.clone();
        store.insert(t, CancelToken::new(), String::new()).unwrap();
        store.set_status(&id, TaskState::Completed, None).unwrap();
        finish_more(&store, HELD_FINISHED + 5);
        assert!(!is_packed(&store, &id));
        assert!(store.get(&id, None).unwrap().metadata.is_some());
        finish_more(&store, 10);
        assert!(store.get(&id, None).is_none(), "evicted oldest first");
    }

    #[test]
    fn evicts_oldest_terminal_first_and_refuses_when_all_live() {
        let store = TaskStore::new(StoreLimits {
            max_tasks: 3,
            ..Default::default()
        });
        let a = add(&store, "a").unwrap();
        let b = add(&store, "b").unwrap();
        let c = add(&store, "c").unwrap();
        assert_eq!(
            add(&store, "d"),
            Err(Full),
            "all live: refuse rather than grow"
        );
        store.set_status(&b, TaskState::Completed, None).unwrap();
        store.set_status(&a, TaskState::Completed, None).unwrap();
        let d = add(&store, "d").unwrap();
        assert!(
            store.get(&b, None).is_none(),
            "b finished first, so it goes first"
        );
        assert!(store.get(&a, None).is_some());
        assert!(store.get(&c, None).is_some() && store.get(&d, None).is_some());
        assert_eq!(store.stats().tasks, 3);
    }

    #[test]
    fn a_follow_up_must_fit_the_byte_bound() {
        let store = TaskStore::new(StoreLimits {
            max_bytes: 8192,
            ..Default::default()
        });
        let done = add(&store, "done").unwrap();
        store.set_status(&done, TaskState::Completed, None).unwrap();
        let id = add(&store, "ask").unwrap();
        store
            .set_status(&id, TaskState::InputRequired, None)
            .unwrap();
        // room is made by evicting finished tasks, as for a new task
        assert!(store.resume(&id, msg(&"x".repeat(7000))).is_ok());
        assert!(store.get(&done, None).is_none());
        store
            .set_status(&id, TaskState::InputRequired, None)
            .unwrap();
        let too_big = msg(&"x".repeat(8192));
        assert!(matches!(store.resume(&id, too_big), Err(ResumeError::Full)));
        assert!(store.stats().bytes <= 8192);
        assert_eq!(store.get(&id, None).unwrap().history.len(), 2);
    }

    #[test]
    fn bounded_by_bytes() {
        let store = TaskStore::new(StoreLimits {
            max_bytes: 4096,
            ..Default::default()
        });
        for i in 0..100 {
            let id = add(&store, &"x".repeat(1000)).unwrap_or_else(|e| panic!("{i}: {e:?}"));
            store.set_status(&id, TaskState::Completed, None).unwrap();
            assert!(store.stats().bytes <= 4096);
        }
        assert!(store.stats().evicted > 90);
    }

    fn msg_with(f: impl FnOnce(&mut Message)) -> Message {
        let mut m = msg("small text");
        f(&mut m);
        m
    }

    const MB: usize = 1_000_000;

    /// Fields the byte bound once missed: each alone holds a megabyte.
    fn one_big_field() -> Vec<(&'static str, Message)> {
        let big = || "x".repeat(MB);
        vec![
            ("extensions", msg_with(|m| m.extensions = vec![big()])),
            (
                "referenceTaskIds",
                msg_with(|m| m.reference_task_ids = vec![big()]),
            ),
            ("contextId", msg_with(|m| m.context_id = Some(big()))),
            (
                "metadata",
                // a megabyte in memory from 64 KB of JSON
                msg_with(|m| {
                    let n = MB / std::mem::size_of::<serde_json::Value>();
                    let tiny: Vec<serde_json::Value> = (0..n).map(|i| (i % 10).into()).collect();
                    let mut md = serde_json::Map::new();
                    md.insert("tiny values".into(), tiny.into());
                    m.metadata = Some(md);
                }),
            ),
        ]
    }

    #[test]
    fn a_megabyte_anywhere_in_a_message_is_evicted_under_the_byte_bound() {
        for (field, m) in one_big_field() {
            let limit = 4 * MB;
            let store = TaskStore::new(StoreLimits {
                max_bytes: limit,
                ..Default::default()
            });
            for i in 0..10 {
                let t = new_task(m.clone());
                let id = t.id.clone();
                store
                    .insert(t, CancelToken::new(), String::new())
                    .unwrap_or_else(|e| panic!("{field} {i}: {e:?}"));
                store.set_status(&id, TaskState::Completed, None).unwrap();
                assert!(store.stats().bytes <= limit, "{field}: {:?}", store.stats());
            }
            let st = store.stats();
            assert!(
                st.bytes >= MB,
                "{field}: a stored task counts its megabyte: {st:?}"
            );
            assert!(st.evicted >= 6, "{field}: {st:?}");
        }
    }

    #[test]
    fn a_megabyte_anywhere_in_a_message_is_refused_by_a_smaller_bound() {
        for (field, m) in one_big_field() {
            let store = TaskStore::new(StoreLimits {
                max_bytes: MB / 2,
                ..Default::default()
            });
            let r = store.insert(new_task(m), CancelToken::new(), String::new());
            assert_eq!(r, Err(Full), "{field}");
            assert_eq!(store.stats().bytes, 0);
        }
    }

    #[test]
    fn counted_bytes_follow_every_update() {
        let store = TaskStore::new(StoreLimits::default());
        let a = add(&store, "a").unwrap();
        let b = add(&store, "b").unwrap();
        let counted = |s: &TaskStore| {
            [&a, &b]
                .iter()
                .map(|id| s.get(id, None).map_or(0, |t| t.approx_bytes()))
                .sum::<usize>()
        };
        store.set_status(&a, TaskState::Working, None).unwrap();
        store
            .append_text(&a, "r", "response", "hel", false)
            .unwrap();
        store.append_text(&a, "r", "response", "lo", false).unwrap();
        store.append_text(&a, "e", "error", "oops", true).unwrap();
        assert_eq!(store.stats().bytes, counted(&store));
        store
            .set_status(&a, TaskState::InputRequired, Some("more?".into()))
            .unwrap();
        store
            .push_history(&a, msg_with(|m| m.extensions = vec!["e".repeat(500)]))
            .unwrap();
        store
            .set_status(&a, TaskState::Failed, Some("no".into()))
            .unwrap();
        assert_eq!(store.stats().bytes, counted(&store));
        store.set_status(&b, TaskState::Completed, None).unwrap();
        assert_eq!(store.stats().bytes, counted(&store));
    }

    #[test]
    fn read_shows_recent_history_and_keeps_all_of_it() {
        let store = TaskStore::new(StoreLimits::default());
        let a = add(&store, "first").unwrap();
        store.push_history(&a, msg("second")).unwrap();
        store.push_history(&a, msg("third")).unwrap();
        let texts = |t: &Task| t.history.iter().map(Message::text).collect::<Vec<_>>();
        assert_eq!(store.read(&a, Some(1), texts).unwrap(), ["third"]);
        assert_eq!(store.read(&a, Some(9), texts).unwrap().len(), 3);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.read(&a, Some(0), |_| panic!("a reader that fails"))
        }));
        assert!(panicked.is_err());
        assert_eq!(
            store.read(&a, None, texts).unwrap(),
            ["first", "second", "third"],
            "the cut history is back, in order, even after a panic"
        );
        assert!(store.read("nope", None, texts).is_none());
    }

    #[test]
    fn idle_live_tasks_expire_and_subscribers_hear_it() {
        let store = TaskStore::new(StoreLimits {
            max_tasks: 1,
            idle_ttl: Duration::from_millis(1),
            ..Default::default()
        });
        let a = add(&store, "a").unwrap();
        let rx = store.subscribe(&a, |_| ()).unwrap().events;
        std::thread::sleep(Duration::from_millis(5));
        add(&store, "b").expect("the expired task makes room");
        match rx.recv_timeout(Duration::from_secs(1)).unwrap() {
            TaskEvent::Status {
                status, is_final, ..
            } => {
                assert_eq!(status.state, TaskState::Failed);
                assert!(is_final);
            }
            e => panic!("{e:?}"),
        }
        assert_eq!(store.stats().expired, 1);
    }

    #[test]
    fn terminal_is_forever() {
        let store = TaskStore::new(StoreLimits::default());
        let a = add(&store, "a").unwrap();
        store.set_status(&a, TaskState::Canceled, None).unwrap();
        store
            .set_status(&a, TaskState::Completed, Some("late".into()))
            .unwrap();
        assert_eq!(
            store.get(&a, None).unwrap().status.state,
            TaskState::Canceled
        );
    }

    #[test]
    fn a_waiting_task_is_resumed_once() {
        let store = TaskStore::new(StoreLimits::default());
        let a = add(&store, "a").unwrap();
        let ctx = store.read(&a, None, |t| t.context_id.clone()).unwrap();
        assert_eq!(
            store.resume(&a, msg("early")).err().unwrap(),
            ResumeError::NotWaiting(TaskState::Submitted)
        );
        store
            .set_status(&a, TaskState::InputRequired, Some("which?".into()))
            .unwrap();
        let mut other = msg("x");
        other.context_id = Some("elsewhere".into());
        assert!(matches!(
            store.resume(&a, other),
            Err(ResumeError::OtherContext { .. })
        ));
        assert!(store.resume(&a, msg("this one")).is_ok());
        assert_eq!(
            store.resume(&a, msg("twice")).err().unwrap(),
            ResumeError::NotWaiting(TaskState::Working)
        );
        let t = store.get(&a, None).unwrap();
        let texts: Vec<String> = t.history.iter().map(Message::text).collect();
        assert_eq!(texts, ["a", "which?", "this one"]);
        assert_eq!(t.history[2].task_id.as_deref(), Some(a.as_str()));
        store.set_status(&a, TaskState::Completed, None).unwrap();
        assert_eq!(
            store.resume(&a, msg("late")).err().unwrap(),
            ResumeError::Finished {
                state: TaskState::Completed,
                context_id: ctx
            }
        );
        assert_eq!(
            store.resume("nope", msg("x")).err().unwrap(),
            ResumeError::NotFound
        );
    }

    #[test]
    fn artifacts_append_chunks_and_notify() {
        let store = TaskStore::new(StoreLimits::default());
        let a = add(&store, "a").unwrap();
        let rx = store.subscribe(&a, |_| ()).unwrap().events;
        store
            .append_text(&a, "r", "response", "hel", false)
            .unwrap();
        store.append_text(&a, "r", "response", "lo", true).unwrap();
        let t = store.get(&a, Some(0)).unwrap();
        assert!(t.history.is_empty());
        assert_eq!(
            t.artifacts[0].parts[0].content,
            PartContent::Text("hello".into())
        );
        let events: Vec<_> = rx.try_iter().collect();
        assert!(matches!(
            events[1],
            TaskEvent::Artifact {
                append: true,
                last_chunk: true,
                ..
            }
        ));
    }

    #[test]
    fn list_pages_newest_first() {
        let store = TaskStore::new(StoreLimits::default());
        let ids: Vec<String> = (0..5)
            .map(|i| add(&store, &i.to_string()).unwrap())
            .collect();
        let mut seen = Vec::new();
        let mut token = None;
        for _ in 0..5 {
            let p = store
                .list(&ListParams {
                    page_size: Some(2),
                    page_token: token.clone(),
                    ..Default::default()
                })
                .unwrap();
            assert_eq!(p.total_size, 5);
            seen.extend(p.tasks.iter().map(|t| t.id.clone()));
            if p.next_page_token.is_empty() {
                break;
            }
            token = Some(p.next_page_token);
        }
        let mut expected = ids.clone();
        expected.reverse();
        assert_eq!(seen, expected);
        assert!(store
            .list(&ListParams {
                page_token: Some("zz".into()),
                ..Default::default()
            })
            .is_err());
    }
}
