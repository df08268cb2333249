//! Round two of hostile clients and backends, against what changed when
//! every request came to be answered on its connection's own thread.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A JSON-RPC body of about `size` bytes whose params parse into one
/// `Value` per two bytes (`0,0,0,...`): the worst case for memory per byte.
fn numbers_body(size: usize) -> Vec<u8> {
    let inner = vec!["0"; (size - 100) / 2].join(",");
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"message/send","params":{{"x":[{inner}]}}}}"#)
        .into_bytes()
}

/// Many connections send a large body each, all but its last byte, then
/// finish together: every connection thread reads its own body, so they
/// are parsed at once unless decoding is bounded. Parsed JSON costs ~30x
/// its bytes; 200 x 256 KiB made ~1.5 GiB peak at 1 MiB each before.
#[test]
fn many_large_bodies_finishing_together_do_not_multiply_memory() {
    let a = Agent::start(&[("MAX_BODY_BYTES", "262144")]);
    let body = numbers_body(250_000);
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body[..body.len() - 1]).unwrap();
            s
        })
        .collect();
    // every body is in the agent, waiting for its last byte
    let pid = a.child.id();
    let mut last = 0;
    assert!(eventually(Duration::from_secs(20), || {
        let now = rss_kib(pid);
        let settled = now > 200 * 200 && now.abs_diff(last) < 1024;
        last = now;
        settled
    }));
    let held = status_kib(pid, "VmHWM:");
    for s in &mut conns {
        s.write_all(&body[body.len() - 1..]).unwrap();
    }
    for s in &mut conns {
        let mut b = [0u8; 12];
        let _ = s.read_exact(&mut b);
        assert!(
            b.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&b)
        );
    }
    let peak = status_kib(pid, "VmHWM:");
    assert!(
        peak - held < 100 * 1024,
        "decoding 200 bodies took {} MiB on top of the {} MiB holding them",
        (peak - held) / 1024,
        held / 1024
    );
    drop(conns);
    still_fine(&a);
}

/// An agent whose command backend is a jsonl program (`sh -c script`).
fn jsonl_agent(script: &str, extra: &[(&str, &str)]) -> Agent {
    let command = format!("sh -c '{script}'");
    let mut env = vec![
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND_FORMAT", "jsonl"),
        ("AGENT_COMMAND", command.as_str()),
    ];
    env.extend_from_slice(extra);
    Agent::start(&env)
}

/// A stream open on a task that waits for input (no backend run in
/// flight) held every shutdown for the whole grace and half a second more,
/// and its client never heard that the agent went: the grace's cancel only
/// reaches runs. The stream now ends as the agent stops.
#[test]
fn a_stream_on_a_task_waiting_for_input_does_not_hold_up_shutdown() {
    let question =
        r#"{"kind":"status-update","status":{"state":"input-required","message":"which?"}}"#;
    let mut a = jsonl_agent(
        &format!("cat >/dev/null; echo '\\''{question}'\\''"),
        &[("SHUTDOWN_GRACE_SECS", "5")],
    );
    let r = a.rpc("message/send", send_params("start"), &[]);
    assert_eq!(r["result"]["status"]["state"], "input-required", "{r}");
    let id = r["result"]["id"].as_str().unwrap().to_string();
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tasks/resubscribe","params":{{"id":"{id}"}}}}"#
    );
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut first = [0u8; 64];
    let n = s.read(&mut first).unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    let t = std::time::Instant::now();
    a.signal(libc::SIGTERM);
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest);
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "the stream stayed open {:?} into the shutdown",
        t.elapsed()
    );
    assert!(
        rest.ends_with(b"0\r\n\r\n"),
        "{:?}",
        String::from_utf8_lossy(&rest)
    );
    assert!(a
        .wait_exit(Duration::from_secs(3))
        .is_some_and(|s| s.success()));
}

/// A backend program's stderr (which may echo what a client sent it) goes
/// into the operator's log when the program fails: with text logs, its
/// newlines and escape sequences forged whole log lines.
#[test]
fn a_programs_stderr_cannot_forge_log_lines() {
    let script = r#"printf "oops\n2026-01-01T00:00:00Z ERROR forged line\r\033[2K\n" >&2; exit 1"#;
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", &format!("sh -c '{script}'")),
    ]);
    let r = a.rpc("message/send", send_params("x"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed", "{r}");
    a.wait_log("forged line", Duration::from_secs(5));
    let logs = a.logs();
    for line in logs.lines() {
        assert!(!line.starts_with("2026-01-01"), "a forged line: {line:?}");
        assert!(!line.contains('\r') && !line.contains('\u{1b}'), "{line:?}");
    }
}

/// A key with a line break in it (a key file pasted with one, a hostile
/// environment) makes the HTTP client refuse the header, and its error
/// quoted the header whole: the key went into the task's failure text,
/// which the client reads, and into the log.
#[test]
fn a_key_the_http_client_refuses_is_not_quoted_to_the_client() {
    let closed = free_port();
    let base = format!("http://127.0.0.1:{closed}/v1");
    let a = Agent::start(&[
        ("AGENT_BACKEND", "openai"),
        ("OPENAI_BASE_URL", &base),
        ("OPENAI_API_KEY", "sk-SECRET123\r\nX-Injected: 1"),
    ]);
    let r = a.rpc("message/send", send_params("x"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed", "{r}");
    assert!(!r.to_string().contains("SECRET123"), "{r}");
    assert!(!a.logs().contains("SECRET123"), "{}", a.logs());
}

/// Each follow-up to a task waiting for input joined its history without
/// the store's byte bound (only a new task was checked), so one client
/// grew one live task without end: a follow-up that does not fit is now
/// refused, as a new task would be.
#[test]
fn follow_ups_cannot_grow_a_task_past_the_store_bound() {
    let question = r#"{"kind":"status-update","status":{"state":"input-required"}}"#;
    let a = jsonl_agent(
        &format!("cat >/dev/null; echo '\\''{question}'\\''"),
        &[("MAX_TASK_STORE_BYTES", "65536")],
    );
    let r = a.rpc("message/send", send_params("start"), &[]);
    let id = r["result"]["id"].as_str().unwrap().to_string();
    let big = "x".repeat(10_000);
    let mut refused = None;
    for turn in 0..20 {
        let p = serde_json::json!({"message": {"role": "user", "messageId": format!("m{turn}"),
            "taskId": id, "parts": [{"kind": "text", "text": big}]}});
        let r = a.rpc("message/send", p, &[]);
        if r.get("error").is_some() {
            refused = Some(r);
            break;
        }
        assert_eq!(r["result"]["status"]["state"], "input-required", "{r}");
    }
    let r = refused.expect("20 follow-ups of 10 kB fit a 64 KiB store");
    assert!(
        r["error"]["message"].as_str().unwrap().contains("full"),
        "{r}"
    );
    let bytes = metric(a.port, "workspace_agent_task_store_bytes").unwrap();
    assert!(bytes <= 65536.0, "the store holds {bytes} bytes");
    let r = a.rpc("message/send", send_params("a new task"), &[]);
    assert_eq!(r["result"]["status"]["state"], "input-required", "{r}");
}
