//! A mock Molecule platform: a tiny_http server that records every call,
//! issues tokens on first registration, enforces the bearer rule, and can be
//! switched to down (500), slow, "URL rejected" or "token revoked".
//!
//! Shared by the integration tests (`tests/common`) and the container tests
//! (`examples/mock_platform.rs`, run in a scratch container), which control
//! it over HTTP: `GET /_calls`, `POST /_mode`, `POST /_revoke`.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Call {
    pub path: String,
    pub auth: Option<String>,
    pub body: Value,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mode {
    Up,
    Error500,
    Slow(Duration),
    RejectUrl,
    /// registers fine, then refuses every heartbeat with 401
    HeartbeatUnauthorized,
}

pub struct State {
    pub calls: Vec<Call>,
    /// the workspace's live token, if any
    pub token: Option<String>,
    pub mode: Mode,
    pub issued: u32,
}

pub struct MockPlatform {
    pub port: u16,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn new_token(n: u32) -> String {
    // 43 characters of base64url, like the platform's
    let seed = format!("tok{n:05}-{}", std::process::id());
    let mut s: String = seed
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect();
    while s.len() < 43 {
        s.push('A');
    }
    s.truncate(43);
    s
}

impl MockPlatform {
    pub fn start() -> MockPlatform {
        MockPlatform::start_on(0)
    }

    pub fn start_on(port: u16) -> MockPlatform {
        MockPlatform::start_at(("127.0.0.1", port))
    }

    pub fn start_at(addr: impl std::net::ToSocketAddrs) -> MockPlatform {
        let server = Arc::new(tiny_http::Server::http(addr).unwrap());
        let port = server.server_addr().to_ip().unwrap().port();
        let state = Arc::new(Mutex::new(State {
            calls: Vec::new(),
            token: None,
            mode: Mode::Up,
            issued: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (server, state, stop) = (server.clone(), state.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    let Ok(Some(rq)) = server.recv_timeout(Duration::from_millis(50)) else {
                        continue;
                    };
                    let (state, _) = (state.clone(), ());
                    // one thread per request so a slow answer does not block others
                    std::thread::spawn(move || handle(rq, &state));
                }
            })
        };
        MockPlatform {
            port,
            state,
            stop,
            server,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn set_mode(&self, m: Mode) {
        self.state.lock().unwrap().mode = m;
    }

    pub fn revoke(&self) {
        self.state.lock().unwrap().token = None;
    }

    pub fn set_token(&self, t: &str) {
        self.state.lock().unwrap().token = Some(t.to_string());
    }

    pub fn token(&self) -> Option<String> {
        self.state.lock().unwrap().token.clone()
    }

    pub fn calls(&self, path: &str) -> Vec<Call> {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.path == path)
            .cloned()
            .collect()
    }

    pub fn issued(&self) -> u32 {
        self.state.lock().unwrap().issued
    }
}

impl Drop for MockPlatform {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn respond(rq: tiny_http::Request, status: u16, body: Value) {
    let h = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
    let _ = rq.respond(
        tiny_http::Response::from_string(body.to_string())
            .with_status_code(status)
            .with_header(h),
    );
}

fn handle(mut rq: tiny_http::Request, state: &Mutex<State>) {
    let mut raw = String::new();
    let _ = rq.as_reader().read_to_string(&mut raw);
    let path = rq.url().to_string();
    let auth = rq
        .headers()
        .iter()
        .find(|h| h.field.equiv("Authorization"))
        .map(|h| h.value.as_str().trim_start_matches("Bearer ").to_string());
    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
    let mode = {
        let mut s = state.lock().unwrap();
        s.calls.push(Call {
            path: path.clone(),
            auth: auth.clone(),
            body: body.clone(),
        });
        s.mode
    };
    // control endpoints always answer, whatever the mode
    let mode = if path.starts_with("/_") {
        Mode::Up
    } else {
        mode
    };
    match mode {
        Mode::Error500 => return respond(rq, 500, json!({"error": "registration failed"})),
        Mode::Slow(d) => std::thread::sleep(d),
        Mode::RejectUrl if path == "/registry/register" => {
            return respond(rq, 400, json!({"error": "invalid request body"}))
        }
        Mode::HeartbeatUnauthorized if path == "/registry/heartbeat" => {
            return respond(rq, 401, json!({"error": "invalid workspace auth token"}))
        }
        _ => {}
    }
    let mut s = state.lock().unwrap();
    let check = |s: &State| -> Result<(), &'static str> {
        match (&s.token, &auth) {
            (Some(live), Some(given)) if live == given => Ok(()),
            (Some(_), None) => Err("missing workspace auth token"),
            (Some(_), Some(_)) => Err("invalid workspace auth token"),
            (None, Some(_)) => Err("invalid workspace auth token"),
            (None, None) => Ok(()),
        }
    };
    match path.as_str() {
        "/registry/register" => {
            if body.get("id").and_then(Value::as_str).is_none()
                || body.get("url").and_then(Value::as_str).is_none()
            {
                drop(s);
                return respond(rq, 400, json!({"error": "invalid request body"}));
            }
            if let Err(e) = check(&s) {
                drop(s);
                return respond(rq, 401, json!({"error": e}));
            }
            if s.token.is_none() {
                s.issued += 1;
                let t = new_token(s.issued);
                s.token = Some(t.clone());
                drop(s);
                respond(rq, 200, json!({"status": "registered", "auth_token": t}))
            } else {
                drop(s);
                respond(rq, 200, json!({"status": "registered"}))
            }
        }
        "/registry/heartbeat" | "/registry/update-card" => {
            if s.token.is_none() || check(&s).is_err() {
                let e = check(&s).err().unwrap_or("missing workspace auth token");
                drop(s);
                return respond(rq, 401, json!({"error": e}));
            }
            drop(s);
            respond(rq, 200, json!({"status": "ok"}))
        }
        // control endpoints for tests that can only talk HTTP to the mock
        "/_calls" => {
            let calls: Vec<Value> = s
                .calls
                .iter()
                .filter(|c| !c.path.starts_with("/_"))
                .map(|c| json!({"path": c.path, "auth": c.auth, "body": c.body}))
                .collect();
            let v = json!({"calls": calls, "token": s.token, "issued": s.issued});
            drop(s);
            respond(rq, 200, v)
        }
        "/_revoke" => {
            s.token = None;
            drop(s);
            respond(rq, 200, json!({"status": "revoked"}))
        }
        "/_mode" => {
            s.mode = match body.get("mode").and_then(Value::as_str) {
                Some("500") => Mode::Error500,
                Some("reject") => Mode::RejectUrl,
                Some("slow") => Mode::Slow(Duration::from_secs(30)),
                Some("hb401") => Mode::HeartbeatUnauthorized,
                _ => Mode::Up,
            };
            drop(s);
            respond(rq, 200, json!({"status": "ok"}))
        }
        _ => {
            drop(s);
            respond(rq, 404, json!({"error": "not found"}))
        }
    }
}
