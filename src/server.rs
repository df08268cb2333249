//! HTTP: the listener and the routes.
//!
//! Invariant: this is the only module that touches `tiny_http` (besides
//! `blocking`'s one call). It turns a request into bytes for `protocol`,
//! hands the decoded call to `service`, and writes back what it gets (JSON,
//! or server-sent events). Every request is answered exactly once, on the
//! thread that read it (`answer_inline`): one of tiny_http's loop threads,
//! which serve every ready connection in turn, or a thread that took over
//! a request that had to wait (`blocking`).

use crate::card::SharedCards;
use crate::config::Limits;
use crate::health::Readiness;
use crate::metrics::{Metrics, Sampled};
use crate::protocol::model::TaskEvent;
use crate::protocol::wire::{wire, Success};
use crate::protocol::{self, codes, Call, RpcError, RpcRequest, Version};
use crate::route::Route;
use crate::service::{Reply, Service};
use crate::shutdown::Stop;
use crate::slots::{Permit, Slots};
use serde_json::{json, Value};
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tiny_http::{Header, Method, Request, Response, StatusCode};

/// Between two events of a quiet stream, a comment line keeps proxies from
/// timing out and tells us when the client has gone.
const SSE_KEEPALIVE: Duration = Duration::from_secs(10);

/// Bodies decoded into JSON at once. A parsed body takes up to ~30 times
/// its size (a `serde_json::Value` per `0,`), and every connection reads
/// its own body, so without this bound MAX_CONNECTIONS bodies of
/// MAX_BODY_BYTES could be parsed at once (512 x 1 MiB: several GiB). The
/// read itself is not gated: a slow client holds no decoding slot.
const MAX_DECODING: usize = 4;

pub(crate) struct State {
    cards: SharedCards,
    service: Arc<Service>,
    metrics: Arc<Metrics>,
    stop: Stop,
    auth_token: Option<String>,
    metrics_auth: bool,
    readiness: Readiness,
    /// body size and time limits (the connection's own go to tiny_http)
    limits: Limits,
    /// requests being answered right now (shutdown waits for them)
    in_flight: AtomicUsize,
    /// bodies being decoded right now (`MAX_DECODING`)
    decoding: Arc<Slots>,
    http: Arc<tiny_http::Server>,
}

impl State {
    fn new(parts: ServerParts, http: Arc<tiny_http::Server>) -> State {
        State {
            cards: parts.cards,
            service: parts.service,
            metrics: parts.metrics,
            stop: parts.stop,
            auth_token: parts.auth_token,
            metrics_auth: parts.metrics_auth,
            readiness: parts.readiness,
            limits: parts.limits,
            in_flight: AtomicUsize::new(0),
            decoding: Slots::new(MAX_DECODING),
            http,
        }
    }

    fn open_connections(&self) -> usize {
        self.http.open_connections()
    }
}

pub(crate) struct HttpServer {
    state: Arc<State>,
    pub(crate) local_addr: SocketAddr,
}

/// What `HttpServer::start` needs besides the listener.
pub(crate) struct ServerParts {
    /// the cards served, swapped on reload by whoever holds the other handle
    pub(crate) cards: SharedCards,
    pub(crate) service: Arc<Service>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) stop: Stop,
    pub(crate) auth_token: Option<String>,
    /// `/metrics` requires `auth_token` too
    pub(crate) metrics_auth: bool,
    pub(crate) readiness: Readiness,
    pub(crate) limits: Limits,
}

impl HttpServer {
    /// Binds first so a busy port is reported before anything else starts.
    pub(crate) fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
        TcpListener::bind(addr).map_err(|e| {
            let hint = match e.kind() {
                std::io::ErrorKind::AddrInUse => {
                    " (another program uses this port: set PORT to a free one)"
                }
                std::io::ErrorKind::PermissionDenied => {
                    " (ports below 1024 need privileges: use PORT=8000)"
                }
                _ => "",
            };
            format!("cannot listen on {addr}: {e}{hint}")
        })
    }

    pub(crate) fn start(listener: TcpListener, parts: ServerParts) -> Result<HttpServer, String> {
        let local_addr = listener
            .local_addr()
            .map_err(|e| format!("listener has no address: {e}"))?;
        let http = tiny_http::Server::from_listener_with_limits(
            listener,
            None,
            connection_limits(&parts.limits),
        )
        .map_err(|e| format!("cannot start the HTTP server: {e}"))?;
        let state = Arc::new(State::new(parts, Arc::new(http)));
        // Weak: the server holds the handler, which must not keep the
        // state (and with it the server) alive
        let weak = Arc::downgrade(&state);
        let inline: tiny_http::InlineHandler = Box::new(move |rq| answer_inline(&weak, rq));
        if state.http.answer_inline(inline).is_err() {
            return Err("the HTTP server already had an inline handler".into());
        }
        // after a burst, each loop thread gives back what its allocator
        // keeps for it (main's trim reaches only main's own heap)
        if state.http.on_idle(Box::new(crate::memory::trim)).is_err() {
            return Err("the HTTP server already had an idle hook".into());
        }
        Ok(HttpServer { state, local_addr })
    }

    /// Counts the HTTP connections open at each call (the heartbeat's figure).
    pub(crate) fn open_connections(&self) -> usize {
        self.state.open_connections()
    }

    pub(crate) fn connection_counter(&self) -> impl Fn() -> usize + Send + 'static {
        let state = Arc::clone(&self.state);
        move || state.open_connections()
    }

    /// Stops accepting connections at once; queued requests are still
    /// answered.
    pub(crate) fn stop_accepting(&self) {
        self.state.http.stop_accepting();
    }

    /// Waits until no request is being answered, up to `deadline`.
    /// Returns how many still were at the deadline (writing to clients too
    /// slow to finish; the process exits without them).
    pub(crate) fn join(&mut self, deadline: Instant) -> usize {
        loop {
            let busy = self.state.in_flight.load(Ordering::SeqCst);
            if busy == 0 || Instant::now() >= deadline {
                return busy;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Decrements a count when dropped, also while unwinding.
struct CountGuard<'a>(&'a AtomicUsize);

impl Drop for CountGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What a connection thread was doing, for the log line of a panic: the method and
/// the route's label, never the client's path or headers.
struct Answering(Method, Route);

impl std::fmt::Display for Answering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "answering {} {}", self.0, self.1.label())
    }
}

/// One request, isolated: if answering it panics, the request is dropped
/// unanswered, which makes tiny_http send it a 500; the connection goes on
/// with the next.
fn handle_isolated(state: &Arc<State>, rq: Request) {
    state.in_flight.fetch_add(1, Ordering::SeqCst);
    let _done = CountGuard(&state.in_flight);
    crate::logging::begin_request();
    let r = Route::of(path_of(&rq));
    let doing = Answering(rq.method().clone(), r);
    if crate::panics::isolate(&doing, || handle(state, rq, r)).is_none() {
        state.metrics.http_request(r, 500);
        crate::logging::access(doing.0.as_str(), r.label(), 500, None);
    }
}

/// Every request is answered on the thread where tiny_http read it: no
/// queue, no wake-up of another thread and back. A connection has one
/// request at a time, and a request that waits (a slow client, a backend)
/// first hands the loop to another thread, so it holds only its own
/// connection; MAX_CONNECTIONS bounds the threads, MAX_CONCURRENT_TASKS the
/// backend runs.
fn answer_inline(state: &std::sync::Weak<State>, rq: Request) -> Option<Request> {
    // no state: the agent is gone; dropping the request answers 500
    if let Some(state) = state.upgrade() {
        handle_isolated(&state, rq);
    }
    None
}

/// What tiny_http bounds per connection, from the configured limits.
fn connection_limits(l: &Limits) -> tiny_http::Limits {
    tiny_http::Limits {
        max_connections: l.max_connections,
        read_timeout: Some(l.idle_timeout),
        write_timeout: Some(l.idle_timeout),
        header_timeout: Some(l.header_timeout),
        body_timeout: Some(l.body_timeout),
        max_header_bytes: l.max_header_bytes,
        max_headers: l.max_headers,
        inline_only: true,
    }
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn with_headers<R: Read>(mut r: Response<R>, headers: &[(&str, &str)]) -> Response<R> {
    for (n, v) in headers {
        if let Some(h) = header(n, v) {
            r.add_header(h);
        }
    }
    r
}

fn request_header<'a>(rq: &'a Request, name: &'static str) -> Option<&'a str> {
    rq.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

const JSON: &str = "application/json";

/// Every answer but a stream: a body in memory (none for 204 and 304), so
/// one type serves every route without boxing the reader.
type Answer = Response<std::io::Cursor<Vec<u8>>>;

/// An answer without a body, as `Response::empty` makes it.
fn no_body(status: u16) -> Answer {
    let empty = std::io::Cursor::new(Vec::new());
    Response::new(StatusCode(status), Vec::new(), empty, Some(0), None)
}

fn json_bytes(status: u16, body: Vec<u8>, extra: &[(&str, &str)]) -> Answer {
    let mut headers = vec![("Content-Type", JSON)];
    headers.extend_from_slice(extra);
    with_headers(
        Response::from_data(body).with_status_code(StatusCode(status)),
        &headers,
    )
}

fn plain_error(status: u16, message: &str, extra: &[(&str, &str)]) -> Answer {
    let body = json!({"error": message}).to_string().into_bytes();
    json_bytes(status, body, extra)
}

fn respond<R: Read>(state: &State, rq: Request, r: Route, resp: Response<R>) {
    let status = resp.status_code().0;
    state.metrics.http_request(r, status);
    let method = rq.method().clone();
    crate::logging::access(method.as_str(), path_of(&rq), status, resp.data_length());
    if let Err(e) = rq.respond(resp) {
        log::debug!("client went away before the answer was sent: {e}");
    }
}

/// The path of the request target, also in absolute form
/// (`http://host/path`), which RFC 9112 3.2.2 says a server must accept.
fn path_of(rq: &Request) -> &str {
    let target = rq.url();
    let target = match target.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest.find('/').map_or("/", |i| &rest[i..])
        }
        _ => target,
    };
    target.split(['?', '#']).next().unwrap_or("")
}

/// Answers one request on route `r` (`Route::of(path_of(&rq))`). An A2A
/// call answers itself (it may stream);
/// every other answer is built whole here and leaves through `respond`.
fn handle(state: &Arc<State>, rq: Request, r: Route) {
    let resp = match (r, rq.method()) {
        (Route::A2a, Method::Post) => return serve_a2a(state, rq),
        (Route::Card, Method::Get | Method::Head) => card_answer(state, &rq),
        (Route::Healthz | Route::Readyz, Method::Get | Method::Head) => health_answer(state, r),
        (Route::Metrics, Method::Get | Method::Head) => metrics_answer(state, &rq),
        (Route::NotFound, _) => plain_error(404, &format!("no route for {}", path_of(&rq)), &[]),
        (_, Method::Options) => with_headers(no_body(204), &[("Allow", allow(r))]),
        (_, m) => {
            let (path, allow) = (path_of(&rq), allow(r));
            let msg = format!("method {m} is not allowed on {path} (allowed: {allow})");
            plain_error(405, &msg, &[("Allow", allow)])
        }
    };
    respond(state, rq, r, resp);
}

/// The methods a route answers (`Allow`).
fn allow(r: Route) -> &'static str {
    match r {
        Route::A2a => "POST, OPTIONS",
        _ => "GET, HEAD, OPTIONS",
    }
}

fn metrics_answer(state: &State, rq: &Request) -> Answer {
    if state.metrics_auth && !authorized(state, rq) {
        return unauthorized();
    }
    let svc = &state.service;
    let st = svc.store_stats();
    let body = state.metrics.render(&Sampled {
        active_tasks: svc.active_tasks(),
        tasks_stored: st.tasks,
        tasks_live: st.live,
        task_store_bytes: st.bytes,
        task_archive_bytes: st.archive_bytes,
        tasks_evicted: st.evicted,
        tasks_expired: st.expired,
        open_connections: state.open_connections(),
    });
    let resp = Response::from_data(body.into_bytes());
    let headers = [("Content-Type", "text/plain; version=0.0.4; charset=utf-8")];
    with_headers(resp, &headers)
}

/// `/healthz`: the process serves. `/readyz`: see `health`.
fn health_answer(state: &State, r: Route) -> Answer {
    let (status, body) = match r {
        Route::Readyz => {
            let v = state.readiness.check();
            (if v.ready { 200 } else { 503 }, v.body)
        }
        _ => (200, "ok\n".to_string()),
    };
    let resp = Response::from_data(body.into_bytes()).with_status_code(StatusCode(status));
    let headers = [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Cache-Control", "no-store"),
    ];
    with_headers(resp, &headers)
}

/// The card for the request's `A2A-Version`, or 304 when the client's copy
/// is current.
fn card_answer(state: &State, rq: &Request) -> Answer {
    let cards = state.cards.get();
    let card = match Version::from_header(request_header(rq, "A2A-Version")) {
        Ok(Some(Version::V10)) => &cards.v10,
        _ => &cards.v03,
    };
    let common = [
        ("Cache-Control", "public, max-age=300"),
        ("ETag", card.etag.as_str()),
        ("Last-Modified", cards.last_modified.as_str()),
        ("Vary", "A2A-Version"),
    ];
    let matches = request_header(rq, "If-None-Match").is_some_and(|v| {
        v.split(',')
            .any(|t| t.trim() == card.etag || t.trim() == "*")
    });
    if matches {
        return with_headers(no_body(304), &common);
    }
    with_headers(json_bytes(200, card.body.clone(), &[]), &common)
}

/// Constant-time comparison, so the token cannot be guessed byte by byte.
fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

enum BodyError {
    TooLarge,
    TimedOut,
    Broken(String),
}

/// Reads the body under `MAX_BODY_BYTES` and `BODY_TIMEOUT_SECS`. The idle
/// timeout is the socket's read timeout: a read that fails after waiting
/// that long is a timeout even when a decoder (chunked) hides the error's
/// kind.
fn read_body(rq: &mut Request, limits: &Limits) -> Result<Vec<u8>, BodyError> {
    let (max, stall, whole) = (
        limits.max_body_bytes,
        limits.idle_timeout,
        limits.body_timeout,
    );
    let started = Instant::now();
    if rq.body_length().is_some_and(|len| len > max) {
        return Err(BodyError::TooLarge);
    }
    let mut buf = Vec::with_capacity(rq.body_length().unwrap_or(4096).min(max));
    let reader = rq.as_reader();
    let mut chunk = [0u8; 8192];
    loop {
        match reader.read(&mut chunk) {
            Ok(0) => return Ok(buf),
            Ok(n) => {
                if buf.len() + n > max {
                    return Err(BodyError::TooLarge);
                }
                buf.extend_from_slice(&chunk[..n]);
                // each read may be quick while the whole drips in (a byte a
                // second): the body as a whole has a deadline too
                if started.elapsed() > whole {
                    return Err(BodyError::TimedOut);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                ) || started.elapsed() >= stall =>
            {
                return Err(BodyError::TimedOut)
            }
            Err(e) => return Err(BodyError::Broken(e.to_string())),
        }
    }
}

/// A JSON-RPC error answer (HTTP 200, as JSON-RPC over HTTP wants).
fn rpc_error(id: &Value, e: &RpcError, v: Version) -> Answer {
    json_bytes(200, protocol::error_bytes(id, e, v), &[])
}

/// Whether the request carries the inbound token (or none is configured).
fn authorized(state: &State, rq: &Request) -> bool {
    let Some(expected) = &state.auth_token else {
        return true;
    };
    let given = request_header(rq, "Authorization").and_then(bearer_token);
    given.is_some_and(|g| token_matches(g, expected))
}

/// The token of a `Bearer` credential; the scheme's name is
/// case-insensitive (RFC 9110 11.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized() -> Answer {
    plain_error(
        401,
        "this agent requires Authorization: Bearer <token> (see the card's securitySchemes)",
        &[("WWW-Authenticate", "Bearer")],
    )
}

/// The request's `A2A-Version`: absent (`None`), or one this agent speaks;
/// an unsupported one is answered once the body is read, with the
/// request's id.
type HeaderVersion = Result<Option<Version>, RpcError>;

/// The generation of an answer sent before the call is decoded.
fn reply_version(header: &HeaderVersion) -> Version {
    match header {
        Ok(v) => v.unwrap_or(Version::V03),
        Err(_) => Version::V10,
    }
}

/// An A2A call: headers checked, then the body read and the call answered.
fn serve_a2a(state: &Arc<State>, rq: Request) {
    match check_headers(state, &rq) {
        Ok(header) => answer_rpc(state, rq, header),
        Err(resp) => respond(state, rq, Route::A2a, resp),
    }
}

/// What is checked before the body is read: the bearer token and the
/// `Content-Type`. Returns the `A2A-Version` header, read.
fn check_headers(state: &State, rq: &Request) -> Result<HeaderVersion, Answer> {
    if !authorized(state, rq) {
        return Err(unauthorized());
    }
    let header = Version::from_header(request_header(rq, "A2A-Version"));
    if let Some(ct) = request_header(rq, "Content-Type") {
        let ct = ct.to_ascii_lowercase();
        let media = ct.split(';').next().unwrap_or("").trim();
        if !(media == JSON || media.ends_with("+json") || media.is_empty()) {
            let e = RpcError::new(
                codes::CONTENT_TYPE_NOT_SUPPORTED,
                format!("Content-Type {media:?} is not supported; send application/json"),
            );
            return Err(rpc_error(&Value::Null, &e, reply_version(&header)));
        }
    }
    Ok(header)
}

/// Reads and decodes the call, then answers it.
fn answer_rpc(state: &State, mut rq: Request, header: HeaderVersion) {
    let version = reply_version(&header);
    // the decoding slot is held until the call goes to the service, which
    // decodes its params at once (no wait before the parsed JSON is gone)
    let (req, decoding) = match read_rpc(state, &mut rq, version) {
        Ok(Decoded { req, permit }) => (req, permit),
        Err(resp) => return respond(state, rq, Route::A2a, resp),
    };
    let header = match header {
        Ok(h) => h,
        Err(e) => {
            let resp = rpc_error(&req.id, &e, version);
            drop((req, decoding)); // before a write that may be slow
            return respond(state, rq, Route::A2a, resp);
        }
    };
    let call = req.into_call(header);
    let method = call.as_ref().ok().map(|c| c.method);
    if state.stop.is_set() && !method.is_some_and(protocol::Method::serves_while_stopping) {
        let id = match &call {
            Ok(c) => &c.id,
            Err(r) => &r.id,
        };
        let resp = stopping(id, version);
        drop((call, decoding));
        return respond(state, rq, Route::A2a, resp);
    }
    drop(decoding);
    match call {
        Ok(call) => answer(state, rq, call),
        Err(r) => {
            let body = state.service.unknown_method(&r.id, &r.error, version);
            respond(state, rq, Route::A2a, json_bytes(200, body, &[]));
        }
    }
}

/// A decoded envelope and the decoding slot its parsed JSON holds.
struct Decoded {
    req: RpcRequest,
    permit: Permit,
}

/// Reads the body and decodes the JSON-RPC envelope.
fn read_rpc(state: &State, rq: &mut Request, version: Version) -> Result<Decoded, Answer> {
    let body = read_body(rq, &state.limits).map_err(|e| body_error(&state.limits, e))?;
    let Some(permit) = state.decoding.acquire(state.limits.body_timeout) else {
        let e = RpcError::internal("agent busy decoding other requests; retry shortly");
        let body = protocol::error_bytes(&Value::Null, &e, version);
        return Err(json_bytes(503, body, &[("Retry-After", "1")]));
    };
    let parsed = protocol::parse_request(&body, state.service.decode_limits());
    // the raw body is not needed past parsing: free it before the backend
    // runs, so a large request is held once, not twice
    drop(body);
    match parsed {
        Ok(req) => Ok(Decoded { req, permit }),
        Err(r) => Err(rpc_error(&r.id, &r.error, version)),
    }
}

/// The answer to a call that arrives once the agent is stopping.
fn stopping(id: &Value, v: Version) -> Answer {
    let e = RpcError::internal("the agent is shutting down; retry against its replacement");
    let body = protocol::error_bytes(id, &e, v);
    json_bytes(503, body, &[("Retry-After", "5"), ("Connection", "close")])
}

/// The answer to a body that could not be read; each closes the connection
/// (what is left of the body is unread).
fn body_error(limits: &Limits, e: BodyError) -> Answer {
    let close = [("Connection", "close")];
    match e {
        BodyError::TooLarge => {
            let msg = format!(
                "request body is larger than {} bytes",
                limits.max_body_bytes
            );
            plain_error(413, &msg, &close)
        }
        BodyError::TimedOut => plain_error(408, "request body not received in time", &close),
        BodyError::Broken(e) => plain_error(400, &format!("request body unreadable: {e}"), &close),
    }
}

/// Runs a decoded A2A call and writes its reply.
fn answer(state: &State, rq: Request, call: Call) {
    match state.service.handle(call) {
        Reply::Json(bytes) => respond(state, rq, Route::A2a, json_bytes(200, bytes, &[])),
        Reply::Busy(bytes) => {
            let resp = json_bytes(503, bytes, &[("Retry-After", "1")]);
            respond(state, rq, Route::A2a, resp)
        }
        Reply::Stream {
            id,
            version,
            first,
            events,
        } => {
            state.metrics.http_request(Route::A2a, 200);
            let path = path_of(&rq).to_string();
            let bytes = stream(rq, &id, version, first, events);
            crate::logging::access("POST", &path, 200, Some(bytes));
        }
    }
}

fn sse_event(id: &Value, result: impl serde::Serialize) -> Vec<u8> {
    let mut out = b"data: ".to_vec();
    // a Vec cannot fail to take bytes, and the results have no failing fields
    let _ = serde_json::to_writer(&mut out, &Success { id, result });
    out.extend_from_slice(b"\n\n");
    out
}

/// The head of an event stream, besides what tiny_http adds (the framing,
/// and `Connection: close` when the connection cannot live on).
const SSE_HEADERS: [(&str, &str); 3] = [
    ("Content-Type", "text/event-stream"),
    ("Cache-Control", "no-cache"),
    ("X-Accel-Buffering", "no"),
];

/// Writes a stream: `first`, then each event until the final one, with a
/// keep-alive comment whenever the task is quiet. Returns the body bytes
/// sent (for the access log).
fn stream(
    rq: Request,
    id: &Value,
    version: Version,
    first: Value,
    events: Receiver<TaskEvent>,
) -> usize {
    let Ok(mut w) = rq.into_event_stream(&SSE_HEADERS) else {
        return 0;
    };
    // Events already waiting go out together, in one chunk and one write:
    // a fast backend's whole stream costs a write or two, not one per event.
    let mut batch = sse_event(id, first);
    let mut is_final = false;
    let mut sent = 0;
    loop {
        if !is_final {
            is_final = take_ready(&events, id, version, &mut batch);
        }
        sent += batch.len();
        if is_final {
            let _ = w.finish(&batch);
            return sent;
        }
        if w.send(&batch).is_err() {
            log::debug!("stream client went away");
            return sent;
        }
        batch.clear();
        crate::blocking::about_to_wait();
        match events.recv_timeout(SSE_KEEPALIVE) {
            Ok(ev) => is_final = push_event(&mut batch, &ev, id, version),
            Err(RecvTimeoutError::Timeout) => batch.extend_from_slice(b": keep-alive\n\n"),
            // the task ended (or was evicted) without a final event for us:
            // the body ends cleanly; the connection may take the next request
            Err(RecvTimeoutError::Disconnected) => {
                let _ = w.finish(b"");
                return sent;
            }
        }
    }
}

/// Appends the events that are already waiting to `batch`; true when the
/// final one is among them (`batch` ends there).
fn take_ready(events: &Receiver<TaskEvent>, id: &Value, v: Version, batch: &mut Vec<u8>) -> bool {
    while let Ok(ev) = events.try_recv() {
        if push_event(batch, &ev, id, v) {
            return true;
        }
    }
    false
}

/// Appends one event; true if it is the task's final one.
fn push_event(batch: &mut Vec<u8>, ev: &TaskEvent, id: &Value, v: Version) -> bool {
    batch.extend_from_slice(&sse_event(id, wire(ev, v)));
    matches!(ev, TaskEvent::Status { is_final: true, .. })
}

/// For fuzzing: the agent's real request handling (tiny_http's connection
/// code with the default limits, the routes, body caps, JSON-RPC, the echo
/// backend) over one in-memory connection whose client sends `input`.
/// Returns what the agent wrote. Panics are not isolated here: a panic is a
/// finding.
#[doc(hidden)]
pub fn fuzz_connection(input: &[u8]) -> Vec<u8> {
    type Fixture = (Arc<State>, tiny_http::Limits);
    static FIXTURE: std::sync::OnceLock<Option<Fixture>> = std::sync::OnceLock::new();
    let fixture = || in_memory_fixture(None);
    let Some((state, limits)) = FIXTURE.get_or_init(fixture) else {
        return Vec::new();
    };
    tiny_http::serve_bytes(input, limits, &mut |rq| {
        let r = Route::of(path_of(&rq));
        handle(state, rq, r)
    })
}

/// A state as `main` builds it (default limits, echo backend unless one is
/// given) around a server that never serves: for in-memory connections.
fn in_memory_fixture(
    backend: Option<Box<dyn crate::backend::Backend>>,
) -> Option<(Arc<State>, tiny_http::Limits)> {
    use crate::card::{Capabilities, Cards};
    use crate::service::ServiceConfig;
    let env: std::collections::HashMap<String, String> = [
        ("WORKSPACE_ID", "fuzz"),
        ("REGISTER", "false"),
        ("BODY_TIMEOUT_SECS", "2"),
        ("IDLE_TIMEOUT_SECS", "2"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let cfg = crate::config::Config::load(&env).ok()?;
    let metrics = Arc::new(Metrics::new());
    let service = Arc::new(Service::new(
        backend.unwrap_or_else(|| crate::backend::build(&cfg.backend)),
        ServiceConfig::from_config(&cfg),
        Arc::clone(&metrics),
    ));
    // a real server (the state needs one) that never serves
    let listener = TcpListener::bind(("127.0.0.1", 0)).ok()?;
    let http = tiny_http::Server::from_listener(listener, None).ok()?;
    let parts = ServerParts {
        cards: SharedCards::new(Cards::build(&cfg, Capabilities::AGENT)),
        service,
        readiness: Readiness::new(cfg.backend.clone(), false, Arc::clone(&metrics)),
        metrics,
        stop: Stop::new(),
        auth_token: None,
        metrics_auth: false,
        limits: cfg.limits,
    };
    let limits = connection_limits(&parts.limits);
    Some((Arc::new(State::new(parts, Arc::new(http))), limits))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_scheme_is_case_insensitive() {
        for v in ["Bearer t", "bearer t", "BEARER t", "  BeArEr   t "] {
            assert_eq!(bearer_token(v), Some("t"), "{v:?}");
        }
        for v in ["Basic t", "Bearert", "Bearer", ""] {
            assert_eq!(bearer_token(v), None, "{v:?}");
        }
    }

    #[test]
    fn constant_time_compare_is_correct() {
        assert!(token_matches("abc", "abc"));
        assert!(!token_matches("abd", "abc"));
        assert!(!token_matches("ab", "abc"));
        assert!(!token_matches("", "abc"));
    }

    use crate::backend::{Backend, BackendError, BackendRequest, Turn};

    /// A backend with a bug: it panics in `run`, or in `name` (which the
    /// service calls outside the backend run, to word a timeout).
    struct Buggy {
        in_name: bool,
    }

    impl Backend for Buggy {
        fn name(&self) -> &'static str {
            if self.in_name {
                panic!("bug in name");
            }
            "buggy"
        }

        fn run(&self, _: &BackendRequest<'_>, _: &mut Turn<'_>) -> Result<(), BackendError> {
            if self.in_name {
                return Err(BackendError::TimedOut);
            }
            panic!("bug in run");
        }
    }

    /// Sends each request on a connection of its own to a state with this
    /// backend, through the real isolation a connection thread uses; returns the raw
    /// answers.
    fn serve(backend: Buggy, requests: &[Vec<u8>]) -> Vec<String> {
        crate::panics::install_hook();
        let (state, limits) = in_memory_fixture(Some(Box::new(backend))).unwrap();
        requests
            .iter()
            .map(|r| {
                let out = tiny_http::serve_bytes(r, &limits, &mut |rq| handle_isolated(&state, rq));
                String::from_utf8_lossy(&out).to_string()
            })
            .collect()
    }

    fn send() -> Vec<u8> {
        let body = r#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","messageId":"m","parts":[{"text":"x"}]}}}"#;
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    const CARD: &[u8] = b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n\r\n";

    #[test]
    fn a_backend_that_panics_fails_its_task_and_frees_its_slot() {
        // more sends than MAX_CONCURRENT_TASKS: a leaked slot would show
        let answers = serve(Buggy { in_name: false }, &vec![send(); 40]);
        for a in answers {
            assert!(a.starts_with("HTTP/1.1 200"), "{a}");
            assert!(a.contains(r#""state":"failed""#), "{a}");
            assert!(a.contains("crashed"), "{a}");
        }
    }

    fn post(body: &str) -> Vec<u8> {
        format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn once_stopping_only_get_task_is_answered() {
        let (state, limits) = in_memory_fixture(None).unwrap();
        state.stop.trigger();
        let answer = |method: &str| {
            let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{}}}}"#);
            let out = tiny_http::serve_bytes(&post(&body), &limits, &mut |rq| {
                handle_isolated(&state, rq)
            });
            String::from_utf8_lossy(&out).to_string()
        };
        for method in [
            "message/send",
            "SendStreamingMessage",
            "tasks/cancel",
            "nope",
        ] {
            let a = answer(method);
            assert!(a.starts_with("HTTP/1.1 503"), "{method}: {a}");
            assert!(a.contains("shutting down"), "{method}: {a}");
        }
        for method in ["tasks/get", "GetTask"] {
            let a = answer(method);
            assert!(a.starts_with("HTTP/1.1 200"), "{method}: {a}");
            assert!(
                a.contains(&codes::INVALID_PARAMS.to_string()),
                "{method}: {a}"
            );
        }
    }

    #[test]
    fn a_panic_in_a_worker_costs_one_request() {
        let card = CARD.to_vec();
        let answers = serve(Buggy { in_name: true }, &[send(), send(), send(), card]);
        for a in &answers[..3] {
            assert!(a.starts_with("HTTP/1.1 500"), "{a}");
        }
        assert!(answers[3].starts_with("HTTP/1.1 200"), "{}", answers[3]);
    }
}
