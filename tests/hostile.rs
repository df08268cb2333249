//! Hostile clients against the real binary. After each attack the agent
//! still answers its card and a message/send correctly, and its memory
//! stays bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends `head` at once, then `tail` one byte per `gap`, stopping at the
/// first answer (or a refused write). Returns the time taken and the answer.
fn trickle(port: u16, head: &[u8], tail: &[u8], gap: Duration) -> (Duration, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    s.write_all(head).unwrap();
    let start = Instant::now();
    let mut out = Vec::new();
    for b in tail {
        if s.write_all(&[*b]).is_err() {
            break;
        }
        let mut buf = [0u8; 256];
        if let Ok(n) = s.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
            break;
        }
        std::thread::sleep(gap);
    }
    (start.elapsed(), String::from_utf8_lossy(&out).to_string())
}

fn agent() -> Agent {
    Agent::start(&[
        ("HEADER_TIMEOUT_SECS", "2"),
        ("BODY_TIMEOUT_SECS", "2"),
        ("IDLE_TIMEOUT_SECS", "2"),
        ("MAX_CONNECTIONS", "256"),
    ])
}

#[test]
fn malformed_bodies() {
    let a = agent();
    let ct = [("Content-Type", "application/json")];
    let cases: &[(&[u8], i64)] = &[
        (b"\xff\xfe\x00{\"jsonrpc\"", -32700),
        (br#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"parts":[{"text":"#, -32700),
        (br#"{"jsonrpc":"2.0","id":1e999999,"method":"x"}"#, -32700),
        (br#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"x","historyLength":99999999999999999999}}"#, -32602),
        (br#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"x","historyLength":-5}}"#, -32602),
        (br#"{"jsonrpc":"2.0","id":{"a":1},"method":"x"}"#, -32600),
        (b"null", -32600),
        (b"", -32700),
    ];
    for (body, code) in cases {
        let (s, _, out) = http(a.port, "POST", "/", &ct, body).unwrap();
        assert_eq!(s, 200);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(
            v["error"]["code"],
            *code,
            "{}: {v}",
            String::from_utf8_lossy(body)
        );
    }
    let deep = "[".repeat(200_000);
    let t = Instant::now();
    let (_, _, out) = http(a.port, "POST", "/", &ct, deep.as_bytes()).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("-32700"));
    assert!(t.elapsed() < Duration::from_secs(5));
    let many_parts = serde_json::json!({"jsonrpc":"2.0","id":1,"method":"message/send",
        "params":{"message":{"parts": vec![serde_json::json!({"text":"x"}); 1000]}}});
    let (_, _, out) = http(a.port, "POST", "/", &ct, many_parts.to_string().as_bytes()).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("-32602"));
    still_fine(&a);
}

#[test]
fn header_attacks() {
    let a = agent();
    let huge = format!(
        "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(64 * 1024)
    );
    assert!(raw(a.port, huge.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 431"));
    let mut many = String::from("GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n");
    for i in 0..500 {
        many.push_str(&format!("X-{i}: y\r\n"));
    }
    many.push_str("\r\n");
    assert!(raw(a.port, many.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 431"));
    // two Hosts could be read differently by a proxy and by us: RFC 9112 3.2
    let dup_host = "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n";
    assert!(raw(a.port, dup_host.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 400"));
    let no_host = "GET /.well-known/agent-card.json HTTP/1.1\r\n\r\n";
    assert!(raw(a.port, no_host.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 400"));
    let dup = "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nA2A-Version: 1.0\r\nA2A-Version: 0.3\r\nConnection: close\r\n\r\n";
    assert!(raw(a.port, dup.as_bytes(), Duration::from_secs(5)).starts_with("HTTP/1.1 200"));
    let conflicting = "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 500\r\nConnection: close\r\n\r\n{\"a\":";
    let out = raw(a.port, conflicting.as_bytes(), Duration::from_secs(4));
    assert!(out.starts_with("HTTP/1.1 400"), "{out}");
    // a TLS hello on the plain port: answered 400 or closed, never a hang
    let tls = raw(
        a.port,
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03garbage-tls-hello\r\n\r\n",
        Duration::from_secs(5),
    );
    assert!(tls.is_empty() || tls.starts_with("HTTP/1.1 400"), "{tls}");
    still_fine(&a);
}

#[test]
fn methods_and_path_traversal() {
    let a = agent();
    let (s, h, body) = http(a.port, "HEAD", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(s, 200);
    assert!(body.is_empty());
    assert!(header(&h, "etag").is_some());
    let (s, h, _) = http(a.port, "OPTIONS", "/", &[], b"").unwrap();
    assert_eq!(s, 204);
    assert!(header(&h, "allow").unwrap().contains("POST"));
    assert_eq!(http(a.port, "TRACE", "/", &[], b"").unwrap().0, 405);
    for path in [
        "/../../etc/passwd",
        "/.well-known/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/.well-known/agent-card.json/../../../../etc/shadow",
        "/a2a/../../etc/passwd",
        "//etc/passwd",
        "/.well-known/%2e%2e%2fagent-card.json",
    ] {
        for method in ["GET", "POST"] {
            let (s, _, body) = http(
                a.port,
                method,
                path,
                &[("Content-Type", "application/json")],
                b"{}",
            )
            .unwrap();
            assert_eq!(s, 404, "{method} {path}");
            assert!(!String::from_utf8_lossy(&body).contains("root:"), "{path}");
        }
    }
    still_fine(&a);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let a = agent();
    let body = serde_json::json!({"jsonrpc":"2.0","id":7,"method":"message/send","params":send_params("piped")}).to_string();
    let req = format!(
        "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n\r\nPOST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let out = raw(a.port, req.as_bytes(), Duration::from_secs(10));
    let statuses: Vec<&str> = out
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &out[i + 9..i + 12])
        .collect();
    assert_eq!(statuses, ["200", "200", "404"], "{out}");
    assert!(out.contains("\"piped\""));
    still_fine(&a);
}

#[test]
fn slowloris_and_stalled_bodies_time_out_while_others_are_served() {
    let a = agent();
    let port = a.port;
    // one byte every 300 ms: under the idle timeout, over the header deadline
    let slow = std::thread::spawn(move || {
        let req = b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        trickle(port, b"", req, Duration::from_millis(300))
    });
    // a chunked body that never ends
    let stalled = std::thread::spawn(move || {
        raw(
            port,
            b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"a\":",
            Duration::from_secs(10),
        )
    });
    for _ in 0..5 {
        still_fine(&a);
        std::thread::sleep(Duration::from_millis(200));
    }
    let (took, out) = slow.join().unwrap();
    assert!(
        out.starts_with("HTTP/1.1 408"),
        "slowloris gets 408: {out:?}"
    );
    assert!(took < Duration::from_secs(6), "{took:?}");
    let out = stalled.join().unwrap();
    assert!(out.starts_with("HTTP/1.1 408") || out.is_empty(), "{out}");
    still_fine(&a);
}

#[test]
fn a_thousand_connections_at_once() {
    let a = agent();
    let mut conns = Vec::new();
    for _ in 0..1000 {
        if let Ok(s) = TcpStream::connect(("127.0.0.1", a.port)) {
            conns.push(s);
        }
    }
    // over the cap the agent answers 503 at once instead of holding a
    // thread; look for those answers for a while (the machine may be busy)
    let mut refused = 0;
    let deadline = Instant::now() + Duration::from_secs(15);
    for s in &conns {
        s.set_read_timeout(Some(Duration::from_millis(5))).unwrap();
    }
    while refused == 0 && Instant::now() < deadline {
        for s in conns.iter_mut().rev() {
            let mut buf = [0u8; 64];
            if let Ok(n) = s.read(&mut buf) {
                if String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 503") {
                    refused += 1;
                }
            }
        }
    }
    assert!(refused > 0, "connections over MAX_CONNECTIONS get 503");
    drop(conns);
    // idle connections are dropped after IDLE_TIMEOUT_SECS; then all is well
    assert!(eventually(Duration::from_secs(10), || http(
        a.port,
        "GET",
        "/.well-known/agent-card.json",
        &[],
        b""
    )
    .map(|r| r.0)
    .ok()
        == Some(200)));
    still_fine(&a);
}

#[test]
fn a_body_dripping_in_byte_by_byte_gets_408() {
    let a = agent();
    let port = a.port;
    let drip = std::thread::spawn(move || {
        // over 1 KiB so the worker (not the connection thread) reads it
        let body = format!("{{\"pad\":\"{}\"}}", "x".repeat(4000));
        let head = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        trickle(
            port,
            head.as_bytes(),
            body.as_bytes(),
            Duration::from_millis(200),
        )
    });
    still_fine(&a);
    let (took, out) = drip.join().unwrap();
    assert!(out.starts_with("HTTP/1.1 408"), "{out:?}");
    assert!(took < Duration::from_secs(8), "{took:?}");
    still_fine(&a);
}
