//! Issue 13: no single request stops or stalls the agent. Each test is one
//! attack found against the release binary, sent over a raw socket; each
//! asserts the answer, then that the agent still serves its card and a
//! correct message/send with its memory bounded.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Every status line in what came back, in order.
fn statuses(out: &str) -> Vec<String> {
    out.match_indices("HTTP/1.1 ")
        .map(|(i, _)| out[i + 9..i + 12].to_string())
        .collect()
}

fn has_close(out: &str) -> bool {
    out.to_ascii_lowercase()
        .contains("\r\nconnection: close\r\n")
}

#[test]
fn a_huge_declared_length_on_a_get_is_not_drained() {
    let a = agent_with_short_timeouts(&[]);
    let req = "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000000000000\r\n\r\n";
    let t = Instant::now();
    let out = raw(a.port, req.as_bytes(), Duration::from_secs(5));
    assert_eq!(statuses(&out), ["200"], "{out}");
    assert!(has_close(&out), "{out}");
    // just over MAX_BODY_BYTES and never sent: answered at once, not after
    // a drain that waits for the idle timeout
    let req =
        "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nContent-Length: 1048577\r\n\r\n";
    let out = raw(a.port, req.as_bytes(), Duration::from_secs(5));
    assert_eq!(statuses(&out), ["200"], "{out}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    survives(&a);
}

#[test]
fn nan_q_values_in_te_do_not_kill_workers() {
    let a = agent_with_short_timeouts(&[]);
    // 40 % q=nan among random q-values: the pattern that made the sort
    // panic (a regular pattern does not)
    let mut seed: u64 = 12345;
    let te: Vec<String> = (0..60)
        .map(|i| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            match (seed >> 33) % 100 {
                r if r < 40 => format!("x{i};q=nan"),
                r => format!("x{i};q=0.{r:02}"),
            }
        })
        .collect();
    let req = format!(
        "GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nTE: {}\r\nConnection: close\r\n\r\n",
        te.join(", ")
    );
    for _ in 0..30 {
        let out = raw(a.port, req.as_bytes(), Duration::from_secs(5));
        assert_eq!(statuses(&out), ["200"], "{out}");
    }
    survives(&a);
}

#[test]
fn an_endless_chunk_size_line_is_refused_with_bounded_memory() {
    let a = agent_with_short_timeouts(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let digits = vec![b'1'; 1024 * 1024];
    let mut sent = 0;
    for _ in 0..64 {
        if s.write_all(&digits).is_err() {
            break;
        }
        sent += digits.len();
    }
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let out = String::from_utf8_lossy(&out);
    assert_eq!(statuses(&out), ["400"], "sent {sent}: {out}");
    assert!(sent < 64 * 1024 * 1024, "the agent read all {sent} bytes");
    survives(&a);
}

#[test]
fn a_pipelining_client_that_never_reads_stalls_only_itself() {
    let a = agent_with_short_timeouts(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let one = b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n\r\n";
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1000).collect();
    // write until the socket pushes back (the agent reads one request at a
    // time), bounded in count
    for _ in 0..50 {
        if s.write_all(&batch).is_err() {
            break;
        }
    }
    for _ in 0..5 {
        survives(&a);
    }
    drop(s);
}

/// A chunked POST that the agent answers before reading its body; the
/// chunk data holds a whole second request. Exactly one answer may come
/// back, and it must close the connection.
fn smuggle(a: &Agent, headers: &str) -> String {
    // padded past MAX_BODY_BYTES (1024 here), so the 413 case applies too
    let inner = format!(
        "GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(1100)
    );
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\n{headers}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{inner}\r\n0\r\n\r\n",
        inner.len()
    );
    raw(a.port, req.as_bytes(), Duration::from_secs(5))
}

#[test]
fn early_answers_close_the_connection_instead_of_reading_chunk_data_as_a_request() {
    let a = agent_with_short_timeouts(&[("MAX_BODY_BYTES", "1024")]);
    for headers in [
        "Content-Type: text/plain\r\n",
        "Content-Type: application/json\r\nA2A-Version: 9.9\r\n",
        "Content-Type: application/json\r\n", // 413: the chunk is over 1024 bytes
    ] {
        let out = smuggle(&a, headers);
        assert_eq!(statuses(&out).len(), 1, "{headers}: {out}");
        assert!(!out.contains("/smuggled"), "{out}");
        assert!(has_close(&out), "{headers}: {out}");
    }
    let authed = agent_with_short_timeouts(&[("A2A_AUTH_TOKEN", "sekrit-token-0123456789")]);
    let out = smuggle(&authed, "Content-Type: application/json\r\n");
    assert_eq!(statuses(&out), ["401"], "{out}");
    assert!(has_close(&out), "{out}");
    survives(&a);
}

#[test]
fn ambiguous_framing_is_a_400_and_a_close() {
    let a = agent_with_short_timeouts(&[]);
    let body = r#"{"a":1}"#;
    for (framing, note) in [
        (
            "Content-Length: 7\r\nContent-Length: 70\r\n",
            "conflicting lengths",
        ),
        ("Content-Length: +7\r\n", "a signed length"),
        ("Content-Length: 7x\r\n", "junk in the length"),
        (
            "Content-Length: 7\r\nTransfer-Encoding: chunked\r\n",
            "length and chunked",
        ),
        ("Transfer-Encoding: gzip\r\n", "a coding we cannot frame"),
        ("Transfer-Encoding: chunked, gzip\r\n", "chunked not alone"),
        (
            "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
            "chunked twice",
        ),
        (
            "X-Folded: a\r\n  folded\r\nContent-Length: 7\r\n",
            "obs-fold",
        ),
        (
            "X-Bad: caf\u{e9}\r\nContent-Length: 7\r\n",
            "non-ASCII in a value",
        ),
        (
            "X-Bad : x\r\nContent-Length: 7\r\n",
            "space before the colon",
        ),
        ("X-Bad: a\rb\r\nContent-Length: 7\r\n", "a bare CR"),
    ] {
        let req = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n{body}GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        );
        let out = raw(a.port, req.as_bytes(), Duration::from_secs(5));
        assert_eq!(statuses(&out), ["400"], "{note}: {out}");
        assert!(has_close(&out), "{note}: {out}");
    }
    survives(&a);
}

#[test]
fn invalid_utf8_in_a_header_gets_an_answer() {
    let a = agent_with_short_timeouts(&[]);
    let mut req =
        b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\nX-Junk: \xff\xfe\xc3\x28\r\n\r\n"
            .to_vec();
    let out = raw(a.port, &req, Duration::from_secs(5));
    assert_eq!(statuses(&out), ["400"], "{out}");
    req.clear();
    survives(&a);
}

#[test]
fn only_http_1_is_spoken() {
    let a = agent_with_short_timeouts(&[]);
    let out = raw(
        a.port,
        b"GET /.well-known/agent-card.json HTTP/2.0\r\nHost: x\r\n\r\n",
        Duration::from_secs(5),
    );
    assert_eq!(statuses(&out), ["505"], "{out}");
    assert!(has_close(&out));
    survives(&a);
}

#[test]
fn slow_bodies_do_not_starve_the_health_checks() {
    let a = agent_with_short_timeouts(&[("BODY_TIMEOUT_SECS", "10")]);
    // many slow bodies at once: each is read on its own connection's
    // thread, so the card and health checks still answer
    let mut drips: Vec<TcpStream> = (0..8)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
            s.write_all(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
                .unwrap();
            s
        })
        .collect();
    for _ in 0..4 {
        for s in &mut drips {
            let _ = s.write_all(b" ");
        }
        survives(&a);
    }
}

#[test]
fn small_protocol_edges() {
    let a = agent_with_short_timeouts(&[]);
    // HTTP/1.0: no 100 Continue (a 1.0 client would take it as the answer),
    // and keep-alive is said out loud
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tasks/get","params":{"id":"x"}}"#;
    let req = format!(
        "POST / HTTP/1.0\r\nExpect: 100-continue\r\nConnection: keep-alive\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let out = raw(a.port, req.as_bytes(), Duration::from_secs(3));
    assert!(out.starts_with("HTTP/1.0 200"), "{out}");
    assert!(!out.contains(" 100 "), "{out}");
    assert!(
        out.to_ascii_lowercase().contains("connection: keep-alive"),
        "{out}"
    );
    // no Content-Length on 204 and 304
    let out = raw(
        a.port,
        b"OPTIONS / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    );
    assert!(out.starts_with("HTTP/1.1 204"), "{out}");
    assert!(
        !out.to_ascii_lowercase().contains("content-length"),
        "{out}"
    );
    // absolute-form targets are routed by their path
    let out = raw(
        a.port,
        b"GET http://agent.local/.well-known/agent-card.json HTTP/1.1\r\nHost: agent.local\r\nConnection: close\r\n\r\n",
        Duration::from_secs(3),
    );
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    survives(&a);
}

#[test]
fn silent_connections_give_their_place_back_after_the_header_timeout() {
    let a = agent_with_short_timeouts(&[
        ("MAX_CONNECTIONS", "8"),
        ("HEADER_TIMEOUT_SECS", "1"),
        ("IDLE_TIMEOUT_SECS", "10"),
    ]);
    let silent: Vec<TcpStream> = (0..8)
        .map(|_| TcpStream::connect(("127.0.0.1", a.port)).unwrap())
        .collect();
    // the cap is reached: new clients get 503 until the silent ones are
    // dropped after the header timeout, not after the idle timeout
    let served = eventually(Duration::from_secs(4), || {
        matches!(
            http(a.port, "GET", "/.well-known/agent-card.json", &[], b""),
            Ok((200, _, _))
        )
    });
    assert!(served, "still refused after 4 s");
    drop(silent);
    // the last silent ones may still be on their way out
    assert!(eventually(Duration::from_secs(2), || matches!(
        http(a.port, "GET", "/.well-known/agent-card.json", &[], b""),
        Ok((200, _, _))
    )));
    survives(&a);
}
