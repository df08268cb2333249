//! Local peers for the backends: a mock OpenAI-compatible server (streaming
//! and not, error, stall, slow stream that notices a closed connection) and
//! a mock webhook. Each records what it was sent.

use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
pub struct Seen {
    pub bodies: Vec<Value>,
    pub auth: Vec<Option<String>>,
    /// a slow stream's write failed: the agent closed the connection
    pub closed_early: bool,
}

pub struct Peer {
    pub port: u16,
    pub seen: Arc<Mutex<Seen>>,
    stop: Arc<AtomicBool>,
    server: Arc<tiny_http::Server>,
}

impl Peer {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn bodies(&self) -> Vec<Value> {
        self.seen.lock().unwrap().bodies.clone()
    }
    pub fn closed_early(&self) -> bool {
        self.seen.lock().unwrap().closed_early
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        self.server.unblock();
    }
}

fn serve(handler: fn(tiny_http::Request, Value, &Mutex<Seen>)) -> Peer {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let port = server.server_addr().to_ip().unwrap().port();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (server, seen, stop) = (server.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                let Ok(Some(mut rq)) = server.recv_timeout(Duration::from_millis(50)) else {
                    continue;
                };
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut raw = String::new();
                    let _ = rq.as_reader().read_to_string(&mut raw);
                    let body: Value = serde_json::from_str(&raw).unwrap_or(Value::Null);
                    let auth = rq
                        .headers()
                        .iter()
                        .find(|h| h.field.equiv("Authorization"))
                        .map(|h| h.value.to_string());
                    {
                        let mut s = seen.lock().unwrap();
                        s.bodies.push(body.clone());
                        s.auth.push(auth);
                    }
                    handler(rq, body, &seen);
                });
            }
        });
    }
    Peer {
        port,
        seen,
        stop,
        server,
    }
}

fn json_response(rq: tiny_http::Request, status: u16, v: Value) {
    let h = tiny_http::Header::from_bytes("Content-Type", "application/json").unwrap();
    let _ = rq.respond(
        tiny_http::Response::from_string(v.to_string())
            .with_status_code(status)
            .with_header(h),
    );
}

/// Writes an SSE response by hand, chunk by chunk; returns false once the
/// client has gone.
fn sse(rq: tiny_http::Request, chunks: &[String], gap: Duration) -> bool {
    let mut w = rq.into_writer();
    let head =
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";
    if w.write_all(head.as_bytes()).is_err() {
        return false;
    }
    for c in chunks {
        let data = format!(
            "data: {}\n\n",
            json!({"choices": [{"delta": {"content": c}}]})
        );
        let framed = format!("{:x}\r\n{data}\r\n", data.len());
        if w.write_all(framed.as_bytes())
            .and_then(|_| w.flush())
            .is_err()
        {
            return false;
        }
        std::thread::sleep(gap);
    }
    let done = "data: [DONE]\n\n";
    let _ = write!(w, "{:x}\r\n{done}\r\n0\r\n\r\n", done.len());
    let _ = w.flush();
    true
}

/// The model's behaviour is picked by the last user message:
/// `stall` never answers in time, `error` is a 500, `slowstream` streams 100
/// tokens 100 ms apart, `plain:...` answers without streaming; anything else
/// streams "echo: <text>" word by word.
pub fn mock_openai() -> Peer {
    serve(|rq, body, seen| {
        let last = body["messages"]
            .as_array()
            .and_then(|m| m.last())
            .and_then(|m| m["content"].as_str())
            .unwrap_or("")
            .to_string();
        match last.as_str() {
            "stall" => std::thread::sleep(Duration::from_secs(20)),
            "error" => json_response(rq, 500, json!({"error": {"message": "model overloaded"}})),
            "slowstream" => {
                let chunks: Vec<String> = (0..100).map(|i| format!("t{i} ")).collect();
                if !sse(rq, &chunks, Duration::from_millis(100)) {
                    seen.lock().unwrap().closed_early = true;
                }
            }
            s if s.starts_with("plain:") => json_response(
                rq,
                200,
                json!({"choices": [{"message": {"role": "assistant", "content": format!("echo: {}", &s[6..])}}]}),
            ),
            s => {
                let reply = format!("echo: {s}");
                let chunks: Vec<String> = reply.split_inclusive(' ').map(str::to_string).collect();
                sse(rq, &chunks, Duration::from_millis(5));
            }
        }
    })
}

pub fn mock_webhook() -> Peer {
    serve(|rq, body, _| {
        let text = body["text"].as_str().unwrap_or("");
        if text == "fail" {
            return json_response(rq, 502, json!({"error": "upstream down"}));
        }
        json_response(rq, 200, json!({"text": format!("hook: {text}")}))
    })
}

/// A webhook that answers with jsonl-protocol `events`: a question first,
/// then (once the history holds it) a data artifact; `message` gets a
/// direct reply, `bad` an event that is not one.
pub fn mock_events_webhook() -> Peer {
    serve(|rq, body, _| {
        let turns = body["history"].as_array().map_or(0, Vec::len);
        let events = match body["text"].as_str().unwrap_or("") {
            "message" => {
                json!([{"kind": "message", "parts": [{"kind": "text", "text": "just this"}]}])
            }
            "bad" => json!([{"kind": "status-update", "status": {"state": "canceled"}}]),
            _ if turns == 0 => json!([{"kind": "status-update",
                "status": {"state": "input-required", "message": "Which city?"}}]),
            _ => json!([
                {"kind": "artifact-update", "artifact": {"name": "weather",
                    "parts": [{"kind": "data", "data": {"city": body["text"], "turns": turns}}]}},
                {"kind": "status-update", "status": {"state": "completed"}}]),
        };
        json_response(rq, 200, json!({ "events": events }))
    })
}

/// A peer that accepts connections, reads whatever comes and never answers:
/// a hung model server or webhook. Records when each connection is closed
/// by the other side.
pub struct SilentPeer {
    pub port: u16,
    accepted: Arc<Mutex<u32>>,
    received: Arc<Mutex<usize>>,
    closed: Arc<Mutex<Vec<std::time::Instant>>>,
}

impl SilentPeer {
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    pub fn accepted(&self) -> u32 {
        *self.accepted.lock().unwrap()
    }
    /// Bytes of requests read so far, over every connection.
    pub fn received(&self) -> usize {
        *self.received.lock().unwrap()
    }
    pub fn closed(&self) -> Vec<std::time::Instant> {
        self.closed.lock().unwrap().clone()
    }
}

pub fn silent_peer() -> SilentPeer {
    use std::io::Read;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(Mutex::new(0));
    let received = Arc::new(Mutex::new(0));
    let closed = Arc::new(Mutex::new(Vec::new()));
    {
        let (accepted, received, closed) = (accepted.clone(), received.clone(), closed.clone());
        // lives as long as the test process; it only ever waits
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                *accepted.lock().unwrap() += 1;
                let (received, closed) = (received.clone(), closed.clone());
                std::thread::spawn(move || {
                    let mut conn = conn;
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = conn.read(&mut buf) {
                        *received.lock().unwrap() += n;
                    }
                    closed.lock().unwrap().push(std::time::Instant::now());
                });
            }
        });
    }
    SilentPeer {
        port,
        accepted,
        received,
        closed,
    }
}
