//! The A2A service: one decoded JSON-RPC request in, one reply out.
//!
//! Invariant: no sockets and no HTTP here (the reply says whether it is a
//! JSON body or a stream, and `server` writes it). Wire formats stay in
//! `protocol`; this module works on the internal model, the task store and
//! the backend.

use crate::backend::Backend;
use crate::metrics::{Metrics, Outcome};
use crate::protocol::model::*;
use crate::protocol::wire::{to_bytes, to_value, wire, Success, TaskList};
use crate::protocol::{
    self, codes, common, v10, Call, DecodeLimits, Method, RpcError, SendParams, Version,
};
use crate::run_pool::RunPool;
use crate::slots::{Permit, Slots};
use crate::store::{
    new_task, CancelToken, Full, LiveTask, ResumeError, StoreLimits, StoreStats, Subscription,
    TaskStore,
};
use crate::task_run::Runner;
use serde_json::Value;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What to send back.
pub enum Reply {
    /// a complete JSON-RPC response, HTTP 200, already serialized
    Json(Vec<u8>),
    /// every task slot is busy: HTTP 503 with `Retry-After`, JSON-RPC error body
    Busy(Vec<u8>),
    /// server-sent events: `first` is the first result, then each event
    Stream {
        id: Value,
        version: Version,
        first: Value,
        events: Receiver<TaskEvent>,
    },
}

pub struct ServiceConfig {
    pub task_timeout: Duration,
    pub queue_wait: Duration,
    pub max_concurrent_tasks: usize,
    pub decode: DecodeLimits,
    pub store: StoreLimits,
}

impl ServiceConfig {
    pub fn from_config(cfg: &crate::config::Config) -> ServiceConfig {
        let l = &cfg.limits;
        ServiceConfig {
            task_timeout: cfg.task_timeout,
            queue_wait: l.queue_wait,
            max_concurrent_tasks: l.max_concurrent_tasks,
            decode: l.decode,
            store: l.store,
        }
    }
}

pub struct Service {
    store: TaskStore,
    backend: Box<dyn Backend>,
    cfg: ServiceConfig,
    /// backend runs in flight, bounded by MAX_CONCURRENT_TASKS
    slots: Arc<Slots>,
    /// threads for runs off the request's thread, kept for reuse
    runs: RunPool,
    metrics: Arc<Metrics>,
}

fn err(e: RpcError) -> Result<Reply, RpcError> {
    Err(e)
}

impl Service {
    pub fn new(backend: Box<dyn Backend>, cfg: ServiceConfig, metrics: Arc<Metrics>) -> Service {
        Service {
            store: TaskStore::new(cfg.store),
            backend,
            slots: Slots::new(cfg.max_concurrent_tasks),
            runs: RunPool::default(),
            cfg,
            metrics,
        }
    }

    pub fn backend_name(&self) -> &'static str {
        self.backend.name()
    }

    /// Backend runs in flight right now (the heartbeat's `active_tasks`).
    pub fn active_tasks(&self) -> usize {
        self.slots.in_use()
    }

    pub fn decode_limits(&self) -> &DecodeLimits {
        &self.cfg.decode
    }

    /// Waits for in-flight runs to finish, up to `deadline`.
    pub fn wait_idle(&self, deadline: Instant) -> bool {
        self.slots.wait_idle(deadline)
    }

    /// Counts for `/metrics`.
    pub fn store_stats(&self) -> StoreStats {
        self.store.stats()
    }

    /// Tasks not yet finished, most recently changed first (the snapshot).
    pub fn live_tasks(&self) -> Vec<LiveTask> {
        self.store.live_tasks()
    }

    /// What the newest unfinished task was asked (the heartbeat's
    /// `current_task`), or empty.
    pub fn current_task(&self) -> String {
        self.store.newest_live_preview()
    }

    /// Cancels every unfinished task (shutdown, once the grace is over);
    /// returns how many there were.
    pub fn cancel_all(&self) -> usize {
        self.store.cancel_all()
    }

    /// Ends every open stream (shutdown, once runs are over or canceled);
    /// returns how many.
    pub fn close_streams(&self) -> usize {
        self.store.close_subscriptions()
    }

    /// The answer to a method this agent does not know, counted as such.
    pub fn unknown_method(&self, id: &Value, e: &RpcError, version: Version) -> Vec<u8> {
        crate::logging::note_a2a_method("invalid");
        self.metrics
            .a2a_request(None, Duration::ZERO, Outcome::ClientError);
        protocol::error_bytes(id, e, version)
    }

    /// Handles one call (its method already resolved by `RpcRequest::into_call`).
    pub fn handle(self: &Arc<Self>, mut call: Call) -> Reply {
        let started = Instant::now();
        let (method, version) = (call.method, call.version);
        crate::logging::note_a2a_method(method.label());
        let result = self.dispatch(&mut call);
        match result {
            Ok(reply) => {
                let outcome = match &reply {
                    Reply::Busy(_) => Outcome::AgentError("busy: every task slot was taken"),
                    _ => Outcome::Ok,
                };
                self.metrics
                    .a2a_request(Some(method), started.elapsed(), outcome);
                reply
            }
            Err(e) => {
                let outcome = match e.code {
                    codes::INTERNAL => Outcome::AgentError(&e.message),
                    _ => Outcome::ClientError,
                };
                self.metrics
                    .a2a_request(Some(method), started.elapsed(), outcome);
                Reply::Json(protocol::error_bytes(&call.id, &e, version))
            }
        }
    }

    fn dispatch(self: &Arc<Self>, req: &mut Call) -> Result<Reply, RpcError> {
        let (method, version) = (req.method, req.version);
        let task_reply = |t: &Task, bytes| success_bytes(&req.id, wire(t, version), bytes);
        match method {
            Method::Send | Method::Stream => {
                let p = self.decode_send(std::mem::take(&mut req.params))?;
                self.send(method == Method::Stream, p, version, &req.id)
            }
            Method::GetTask => {
                let r = common::decode_task_ref(&req.params)?;
                crate::logging::note_task(&r.id);
                let t = self.store.read_sized(&r.id, r.history_length, task_reply);
                Ok(Reply::Json(
                    t.ok_or_else(|| RpcError::task_not_found(&r.id))?,
                ))
            }
            Method::ListTasks => {
                let p = v10::decode_list(&req.params)?;
                let page = self.store.list(&p).map_err(RpcError::invalid_params)?;
                let list = TaskList {
                    tasks: &page.tasks,
                    next_page_token: &page.next_page_token,
                    page_size: p.page_size.unwrap_or(v10::DEFAULT_PAGE_SIZE),
                    total_size: page.total_size,
                    v: version,
                };
                Ok(Reply::Json(success_bytes(&req.id, list, page.bytes)))
            }
            Method::Cancel => {
                let r = common::decode_task_ref(&req.params)?;
                crate::logging::note_task(&r.id);
                self.cancel(&r.id)?;
                let t = self.store.read_sized(&r.id, r.history_length, task_reply);
                Ok(Reply::Json(
                    t.ok_or_else(|| RpcError::task_not_found(&r.id))?,
                ))
            }
            Method::Subscribe => {
                let r = common::decode_task_ref(&req.params)?;
                crate::logging::note_task(&r.id);
                self.subscribe(&r.id, version, &req.id)
            }
            Method::PushSet | Method::PushGet | Method::PushList | Method::PushDelete => {
                err(RpcError::new(
                    codes::PUSH_NOT_SUPPORTED,
                    "push notifications are not supported by this agent; \
                     use streaming or poll the task",
                ))
            }
            Method::ExtendedCard => err(RpcError::new(
                codes::EXTENDED_CARD_NOT_CONFIGURED,
                "this agent has no authenticated extended card",
            )),
        }
    }

    /// The task's stream from now on, first event encoded straight from the store.
    fn subscribe(&self, task_id: &str, version: Version, id: &Value) -> Result<Reply, RpcError> {
        let live = |t: &Task| match t.status.state {
            s if s.is_terminal() => Err(s),
            _ => Ok(encode_stream_task(t, version)),
        };
        let Subscription { first, events } = self
            .store
            .subscribe(task_id, live)
            .ok_or_else(|| RpcError::task_not_found(task_id))?;
        let first = first.map_err(|state| {
            RpcError::new(
                codes::UNSUPPORTED_OPERATION,
                format!(
                    "task {task_id:?} is already {}; there is nothing left to subscribe to",
                    state.name()
                ),
            )
        })?;
        Ok(Reply::Stream {
            id: id.clone(),
            version,
            first,
            events,
        })
    }

    /// Takes `params` by value and drops it once decoded, so the parsed
    /// request and the decoded message are not both held while the task runs.
    /// Takes the params by value so they are freed once decoded.
    fn decode_send(&self, params: Value) -> Result<SendParams, RpcError> {
        common::decode_send(&params, &self.cfg.decode)
    }

    fn cancel(&self, id: &str) -> Result<(), RpcError> {
        let state = self
            .store
            .state(id)
            .ok_or_else(|| RpcError::task_not_found(id))?;
        if state.is_terminal() {
            return Err(RpcError::new(
                codes::TASK_NOT_CANCELABLE,
                format!(
                    "task {id:?} is already {} and cannot be canceled",
                    state.name()
                ),
            ));
        }
        if let Some(c) = self.store.cancel_token(id) {
            c.trigger();
        }
        self.store
            .set_status(
                id,
                TaskState::Canceled,
                Some("Canceled at the client's request.".into()),
            )
            .map_err(|_| RpcError::task_not_found(id))
    }

    fn send(
        self: &Arc<Self>,
        streaming: bool,
        p: SendParams,
        version: Version,
        id: &Value,
    ) -> Result<Reply, RpcError> {
        check_send_config(&p)?;
        // A slot first, so a refused request leaves no task behind.
        let Some(permit) = self.slots.acquire(self.cfg.queue_wait) else {
            self.metrics.busy_refusals.fetch_add(1, Ordering::Relaxed);
            let e = RpcError::internal(format!(
                "agent busy: {} tasks already running (MAX_CONCURRENT_TASKS); retry shortly",
                self.slots.max()
            ));
            return Ok(Reply::Busy(protocol::error_bytes(id, &e, version)));
        };
        let answer_message = |m: &Message| {
            let bytes = success_bytes(id, wire(&SendResult::Message(m), version), 0);
            Ok(Reply::Json(bytes))
        };
        let follow_up = FollowUp { version, streaming };
        let (task_id, cancel, resumed) = match self.start_task(p.message, follow_up)? {
            Started::Task {
                id,
                cancel,
                resumed,
            } => (id, cancel, resumed),
            Started::Answered(m) => return answer_message(&m),
        };
        crate::logging::note_task(&task_id);
        let encode = |t: &Task, bytes| {
            let result = SendResult::Task(t);
            success_bytes(id, wire(&result, version), bytes)
        };

        if streaming {
            return self.stream_run(permit, task_id, cancel, version, id);
        }
        if !p.blocking {
            let result = self
                .store
                .read_sized(&task_id, p.history_length, encode)
                .ok_or_else(|| RpcError::internal("task vanished"))?;
            self.spawn_run(permit, task_id, cancel)?;
            return Ok(Reply::Json(result));
        }
        // Blocking: run right here on the request's thread; no thread
        // spawned. A direct reply replaces a new task; a resumed one is
        // completed by it.
        if !self.backend.never_waits() {
            crate::blocking::about_to_wait();
        }
        let direct = self.runner().run(&task_id, &cancel, !resumed);
        drop(permit);
        match direct {
            Some(m) => answer_message(&m),
            None => self
                .store
                .read_sized(&task_id, p.history_length, encode)
                .map(Reply::Json)
                .ok_or_else(|| RpcError::internal("task was evicted")),
        }
    }

    /// Subscribes to the task, then runs it: on a pooled thread, or right
    /// here when the backend never waits (its events are then queued for
    /// the stream before it is written).
    fn stream_run(
        self: &Arc<Self>,
        permit: Permit,
        task_id: String,
        cancel: CancelToken,
        version: Version,
        id: &Value,
    ) -> Result<Reply, RpcError> {
        let Subscription { first, events } = self
            .store
            .subscribe(&task_id, |t| encode_stream_task(t, version))
            .ok_or_else(|| RpcError::internal("task vanished"))?;
        if self.backend.never_waits() {
            self.runner().run(&task_id, &cancel, false);
            drop(permit);
        } else {
            self.spawn_run(permit, task_id, cancel)?;
        }
        Ok(Reply::Stream {
            id: id.clone(),
            version,
            first,
            events,
        })
    }

    /// Creates a task, or continues the one the message names.
    fn start_task(&self, m: Message, follow_up: FollowUp) -> Result<Started, RpcError> {
        if let Some(tid) = m.task_id.clone() {
            return self.continue_task(tid, m, follow_up);
        }
        let preview = crate::metrics::truncate(&m.text_ref(), 120);
        let task = new_task(m);
        let id = task.id.clone();
        let cancel = CancelToken::new();
        match self.store.insert(task, cancel.clone(), preview) {
            Ok(()) => Ok(Started::Task {
                id,
                cancel,
                resumed: false,
            }),
            Err(Full) => Err(store_full()),
        }
    }

    /// A follow-up to a task waiting for input: `m` joins its history. A
    /// 0.3 `message/send` to a finished task is answered with a message in
    /// its context (0.3 clients expect a success); the task stays finished.
    fn continue_task(
        &self,
        tid: String,
        m: Message,
        follow_up: FollowUp,
    ) -> Result<Started, RpcError> {
        let refused = match self.store.resume(&tid, m) {
            Ok(cancel) => {
                return Ok(Started::Task {
                    id: tid,
                    cancel,
                    resumed: true,
                })
            }
            Err(e) => e,
        };
        match refused {
            ResumeError::NotFound => Err(RpcError::task_not_found(&tid)),
            ResumeError::OtherContext { given, task } => Err(RpcError::invalid_params(format!(
                "params.message.contextId {given:?} does not match task {tid:?}'s context {task:?}"
            ))),
            ResumeError::Finished { state, context_id } => {
                let why = format!(
                    "task {tid:?} is already {}; send the message without taskId to start a new task",
                    state.name()
                );
                if follow_up.version == Version::V03 && !follow_up.streaming {
                    let parts = vec![Part::text(format!("Not added: {why}."))];
                    let m = Message::agent(parts, Some(&tid), &context_id);
                    return Ok(Started::Answered(m));
                }
                Err(RpcError::new(codes::UNSUPPORTED_OPERATION, why))
            }
            ResumeError::Full => Err(store_full()),
            ResumeError::NotWaiting(state) => Err(RpcError::new(
                codes::UNSUPPORTED_OPERATION,
                format!(
                    "task {tid:?} is still {}; wait for it or cancel it",
                    state.name()
                ),
            )),
        }
    }

    /// Runs the backend on a pooled thread, which takes over the permit:
    /// the slot is freed when the run ends, or at once if no thread can
    /// start (the closure holding the permit is dropped). A direct reply
    /// completes the task, since the client already holds it.
    fn spawn_run(
        self: &Arc<Self>,
        permit: Permit,
        task_id: String,
        cancel: CancelToken,
    ) -> Result<(), RpcError> {
        let me = Arc::clone(self);
        let run = Box::new(move || {
            let _permit = permit;
            me.runner().run(&task_id, &cancel, false);
        });
        self.runs
            .run(run)
            .map_err(|e| RpcError::internal(format!("could not start a task thread: {e}")))
    }

    fn runner(&self) -> Runner<'_> {
        Runner {
            store: &self.store,
            backend: self.backend.as_ref(),
            metrics: &self.metrics,
            timeout: self.cfg.task_timeout,
        }
    }
}

/// Where a send's message goes.
enum Started {
    Task {
        id: String,
        cancel: CancelToken,
        /// a follow-up to a task that waited for input
        resumed: bool,
    },
    /// answered at once, without running the backend
    Answered(Message),
}

/// What a follow-up to a finished task is answered with depends on these.
#[derive(Clone, Copy)]
struct FollowUp {
    version: Version,
    streaming: bool,
}

fn store_full() -> RpcError {
    RpcError::internal(
        "the task store is full of unfinished tasks \
         (MAX_TASKS / MAX_TASK_STORE_BYTES); retry later",
    )
}

/// What a send may ask for that this agent cannot do.
fn check_send_config(p: &SendParams) -> Result<(), RpcError> {
    if p.has_push_config {
        return Err(RpcError::new(
            codes::PUSH_NOT_SUPPORTED,
            "push notifications are not supported by this agent; omit pushNotificationConfig",
        ));
    }
    if !accepts_text(&p.accepted_output_modes) {
        return Err(RpcError::new(
            codes::CONTENT_TYPE_NOT_SUPPORTED,
            format!(
                "this agent answers in text/plain, which acceptedOutputModes {:?} does not include",
                p.accepted_output_modes
            ),
        ));
    }
    Ok(())
}

fn accepts_text(modes: &[String]) -> bool {
    modes.is_empty()
        || modes.iter().any(|m| {
            let m = m.trim().to_ascii_lowercase();
            m == "text"
                || m == "text/plain"
                || m == "text/*"
                || m == "*/*"
                || m.starts_with("text/plain;")
        })
}

/// A JSON-RPC success written straight from the model to bytes.
fn success_bytes<R: serde::Serialize>(id: &Value, result: R, size_hint: usize) -> Vec<u8> {
    to_bytes(&Success { id, result }, size_hint)
}

/// The first event of a stream: the task itself.
fn encode_stream_task(t: &Task, v: Version) -> Value {
    to_value(&wire(&SendResult::Task(t), v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::EchoBackend;
    use crate::protocol::RpcRequest;
    use serde_json::json;

    fn service(delay_ms: u64) -> Arc<Service> {
        Arc::new(Service::new(
            Box::new(EchoBackend::new(Duration::from_millis(delay_ms))),
            ServiceConfig {
                task_timeout: Duration::from_secs(5),
                queue_wait: Duration::from_millis(10),
                max_concurrent_tasks: 2,
                decode: DecodeLimits::default(),
                store: StoreLimits::default(),
            },
            Arc::new(Metrics::new()),
        ))
    }

    fn reply(s: &Arc<Service>, method: &str, params: Value) -> Reply {
        let req = RpcRequest {
            id: json!(1),
            method: method.into(),
            params,
        };
        match req.into_call(None) {
            Ok(call) => s.handle(call),
            Err(r) => Reply::Json(s.unknown_method(&r.id, &r.error, Version::V03)),
        }
    }

    fn call(s: &Arc<Service>, method: &str, params: Value) -> Value {
        match reply(s, method, params) {
            Reply::Json(b) | Reply::Busy(b) => serde_json::from_slice(&b).unwrap(),
            Reply::Stream { first, .. } => first,
        }
    }

    #[test]
    fn blocking_send_completes_with_an_artifact() {
        let s = service(0);
        let r = call(
            &s,
            "message/send",
            json!({"message": {
                "role": "user", "parts": [{"kind": "text", "text": "hi"}], "messageId": "m"
            }}),
        );
        let t = &r["result"];
        assert_eq!(t["status"]["state"], "completed", "{r}");
        assert_eq!(t["artifacts"][0]["parts"][0]["text"], "hi");
        assert_eq!(t["history"][0]["parts"][0]["text"], "hi");
        let id = t["id"].as_str().unwrap();
        let g = call(&s, "GetTask", json!({"id": id, "historyLength": 0}));
        assert_eq!(g["result"]["status"]["state"], "TASK_STATE_COMPLETED");
        assert!(g["result"].get("history").is_none());
        let c = call(&s, "tasks/cancel", json!({"id": id}));
        assert_eq!(c["error"]["code"], codes::TASK_NOT_CANCELABLE);
        // 1.0 refuses a message to a finished task; 0.3 answers it with a
        // message in the task's context and leaves the task as it was
        let f = call(
            &s,
            "SendMessage",
            json!({"message": {"parts":[{"text":"again"}],"taskId": id}}),
        );
        assert_eq!(f["error"]["code"], codes::UNSUPPORTED_OPERATION);
        let f = call(
            &s,
            "message/send",
            json!({"message": {"parts":[{"text":"again"}],"taskId": id}}),
        );
        assert_eq!(f["result"]["kind"], "message", "{f}");
        assert_eq!(f["result"]["taskId"], id);
        assert_eq!(f["result"]["contextId"], t["contextId"]);
        let g = call(&s, "tasks/get", json!({"id": id}));
        assert_eq!(g["result"]["status"]["state"], "completed");
        assert_eq!(g["result"]["history"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn errors() {
        let s = service(0);
        assert_eq!(
            call(&s, "nope", json!({}))["error"]["code"],
            codes::METHOD_NOT_FOUND
        );
        assert_eq!(
            call(&s, "tasks/get", json!({"id": "x"}))["error"]["code"],
            codes::TASK_NOT_FOUND
        );
        assert_eq!(
            call(&s, "tasks/get", json!({}))["error"]["code"],
            codes::INVALID_PARAMS
        );
        assert_eq!(
            call(
                &s,
                "message/send",
                json!({"message": {"parts":[{"text":"x"}],"taskId":"nope"}})
            )["error"]["code"],
            codes::TASK_NOT_FOUND
        );
        assert_eq!(
            call(&s, "tasks/pushNotificationConfig/set", json!({}))["error"]["code"],
            codes::PUSH_NOT_SUPPORTED
        );
        assert_eq!(
            call(&s, "GetExtendedAgentCard", json!({}))["error"]["code"],
            codes::EXTENDED_CARD_NOT_CONFIGURED
        );
        let e = call(
            &s,
            "SendMessage",
            json!({
                "message": {"parts": [{"text": "x"}]},
                "configuration": {"acceptedOutputModes": ["image/png"]}
            }),
        );
        assert_eq!(e["error"]["code"], codes::CONTENT_TYPE_NOT_SUPPORTED);
        assert_eq!(
            e["error"]["data"][0]["reason"],
            "CONTENT_TYPE_NOT_SUPPORTED"
        );
    }

    #[test]
    fn non_blocking_send_can_be_canceled() {
        let s = service(2000);
        let r = call(
            &s,
            "message/send",
            json!({"message": {"parts":[{"text":"a b c"}]}, "configuration": {"blocking": false}}),
        );
        let t = &r["result"];
        assert!(
            matches!(t["status"]["state"].as_str(), Some("submitted" | "working")),
            "{r}"
        );
        let id = t["id"].as_str().unwrap();
        let c = call(&s, "tasks/cancel", json!({"id": id}));
        assert_eq!(c["result"]["status"]["state"], "canceled");
        assert!(
            s.wait_idle(Instant::now() + Duration::from_secs(5)),
            "the run ends once canceled"
        );
    }

    #[test]
    fn busy_when_all_slots_are_taken() {
        let s = service(1000);
        for _ in 0..2 {
            call(
                &s,
                "message/send",
                json!({"message": {"parts":[{"text":"x"}]}, "configuration": {"blocking": false}}),
            );
        }
        let params = json!({"message": {"parts":[{"text":"x"}]}});
        assert!(matches!(reply(&s, "message/send", params), Reply::Busy(_)));
        assert_eq!(s.active_tasks(), 2);
        s.store.cancel_all();
        assert!(s.wait_idle(Instant::now() + Duration::from_secs(5)));
    }

    #[test]
    fn list_tasks() {
        let s = service(0);
        for _ in 0..3 {
            call(
                &s,
                "message/send",
                json!({"message": {"parts":[{"text":"x"}], "contextId": "ctx"}}),
            );
        }
        let r = call(&s, "ListTasks", json!({"contextId": "ctx", "pageSize": 2}));
        assert_eq!(r["result"]["tasks"].as_array().unwrap().len(), 2);
        assert_eq!(r["result"]["totalSize"], 3);
        assert!(r["result"]["tasks"][0].get("artifacts").is_none());
        let next = r["result"]["nextPageToken"].as_str().unwrap();
        let r2 = call(
            &s,
            "ListTasks",
            json!({"contextId": "ctx", "pageSize": 2, "pageToken": next}),
        );
        assert_eq!(r2["result"]["tasks"].as_array().unwrap().len(), 1);
        assert_eq!(r2["result"]["nextPageToken"], "");
        assert_eq!(
            call(&s, "ListTasks", json!({"pageToken": "bogus"}))["error"]["code"],
            codes::INVALID_PARAMS
        );
    }
}
