//! The HTTP loop on one core: idle connections cost no thread, and a
//! request that waits (a slow client, a slow backend, a quiet stream)
//! hands the loop to another thread instead of holding every other
//! connection up. Pinned to one CPU, the agent runs a single loop thread,
//! so without the hand-over each of these would stall the card.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The agent pinned to CPU 0: one loop thread.
fn one_core_agent(env: &[(&str, &str)]) -> Agent {
    Agent::start_wrapped(env, &["taskset", "-c", "0"])
}

fn threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task")).map_or(0, |d| d.count())
}

/// A card GET on a fresh connection, timed.
fn card_took(port: u16) -> Duration {
    let t = Instant::now();
    let (status, _, _) = http(port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(status, 200);
    t.elapsed()
}

fn open_with(port: u16, bytes: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(bytes).unwrap();
    s
}

#[test]
fn requests_that_wait_leave_the_loop_to_the_others() {
    let a = one_core_agent(&[
        ("ECHO_DELAY_MS", "3000"),
        ("HEADER_TIMEOUT_SECS", "20"),
        ("BODY_TIMEOUT_SECS", "20"),
        ("IDLE_TIMEOUT_SECS", "20"),
    ]);
    let port = a.port;
    // a head that never ends, and a body that stops after 10 of 200 bytes
    let _head = open_with(
        port,
        b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n",
    );
    let body = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"jsonrpc\"";
    let _body = open_with(port, body.as_bytes());
    // a backend that takes 3 s, blocking and streaming
    let send =
        std::thread::spawn(move || rpc(port, "/", "message/send", send_params("a b c"), &[]));
    let stream = std::thread::spawn(move || {
        let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "message/stream",
            "params": send_params("d e f")});
        let headers = [("Accept", "text/event-stream")];
        http(port, "POST", "/", &headers, body.to_string().as_bytes()).unwrap()
    });
    a.wait_working(2);
    for _ in 0..10 {
        let took = card_took(port);
        assert!(took < Duration::from_millis(500), "card took {took:?}");
    }
    let sent = send.join().unwrap();
    assert_eq!(sent["result"]["status"]["state"], "completed", "{sent}");
    let (status, _, streamed) = stream.join().unwrap();
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&streamed).contains("d e f"));
    assert!(card_took(port) < Duration::from_millis(500));
}

#[test]
fn idle_connections_cost_no_thread() {
    let a = one_core_agent(&[("IDLE_TIMEOUT_SECS", "30")]);
    let before = threads(a.child.id());
    let mut conns = Vec::new();
    for _ in 0..200 {
        let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        conns.push(s);
    }
    assert_eq!(
        metric(a.port, "workspace_agent_open_connections"),
        Some(201.0)
    );
    // pool threads that served the burst may linger a second; never 200
    let now = threads(a.child.id());
    assert!(
        now < before + 16,
        "{before} threads before, {now} with 200 idle connections"
    );
    // and each is still served, on its own connection
    for s in conns.iter_mut().step_by(20) {
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let mut buf = [0u8; 512];
        let n = s.read(&mut buf).unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
    }
}

/// When the loop role is handed on but no thread can be started for it
/// (the process is at its thread limit: a pids cgroup, RLIMIT_NPROC; here
/// reached by slow clients, each holding a thread), the loop gets a thread
/// again once threads free up. Before, the role stayed counted with no
/// thread behind it: no connection was ever served again.
#[test]
fn a_loop_thread_that_could_not_start_is_started_later() {
    let dir = temp_dir_for("nproc", NOBODY);
    let dir = dir.to_str().unwrap();
    let env = [
        ("CONFIGS_DIR", dir),
        ("HEADER_TIMEOUT_SECS", "20"),
        ("IDLE_TIMEOUT_SECS", "20"),
    ];
    let limit = ["prlimit", "--nproc=14", "taskset", "-c", "0"];
    let a = Agent::start_wrapped_as(&env, NOBODY, &limit);
    // heads that never end, each on a thread of its own, past the limit
    let mut slow = Vec::new();
    for _ in 0..16 {
        slow.push(open_with(a.port, b"GET /healthz HTTP/1.1\r\nHo"));
        std::thread::sleep(Duration::from_millis(30));
    }
    // the thread limit is reached
    a.wait_log("cannot start a connection thread", Duration::from_secs(5));
    drop(slow);
    let answered = eventually(Duration::from_secs(5), || {
        raw(
            a.port,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            Duration::from_secs(1),
        )
        .starts_with("HTTP/1.1 200")
    });
    assert!(answered, "the loop never served again:\n{}", a.logs());
}

/// A request that waited (here its head came in two pieces) is answered
/// on a thread that gave the loop up; its connection's pipelined requests
/// are answered there too, all of them. Before, that thread queued the
/// connection for the loop after 16 answers, while the loop thread slept
/// in its wait for socket events: the rest came up to 0.5 s later.
#[test]
fn pipelined_requests_after_a_wait_are_not_held_back() {
    let a = one_core_agent(&[]);
    let one = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    for _ in 0..3 {
        let mut s = open_with(a.port, &one[..10]);
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let t = Instant::now();
        let mut rest = one[10..].to_vec();
        rest.extend_from_slice(&one.repeat(39));
        s.write_all(&rest).unwrap();
        let (mut got, mut buf) = (Vec::new(), [0u8; 65536]);
        while got.windows(12).filter(|w| w == b"HTTP/1.1 200").count() < 40 {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed after {:?}", t.elapsed());
            got.extend_from_slice(&buf[..n]);
        }
        let took = t.elapsed();
        assert!(
            took < Duration::from_millis(250),
            "40 answers took {took:?}"
        );
    }
}
