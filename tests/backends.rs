//! Each backend against a real local peer: a mock OpenAI-compatible server,
//! real child processes, a mock webhook.

mod common;

use common::peers::{mock_openai, mock_webhook, silent_peer};
use common::*;
use serde_json::{json, Value};
use std::time::Duration;

fn openai_agent(peer_url: &str, extra: &[(&str, &str)]) -> Agent {
    let base = format!("{peer_url}/v1");
    let mut env = vec![
        ("AGENT_BACKEND", "openai"),
        ("OPENAI_BASE_URL", base.as_str()),
        ("OPENAI_MODEL", "test-model"),
        ("OPENAI_API_KEY", "sk-test-secret-key"),
        ("OPENAI_SYSTEM_PROMPT", "Be brief."),
    ];
    env.extend_from_slice(extra);
    Agent::start(&env)
}

fn send_ctx(text: &str, ctx: &str) -> Value {
    json!({"message": {"role": "user", "messageId": text, "contextId": ctx, "parts": [{"kind": "text", "text": text}]}})
}

#[test]
fn openai_streams_tokens_and_keeps_the_conversation() {
    let peer = mock_openai();
    let a = openai_agent(&peer.url(), &[]);
    for (i, q) in ["first question", "second question", "third question"]
        .iter()
        .enumerate()
    {
        let r = a.rpc("message/send", send_ctx(q, "ctx-1"), &[]);
        assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
        assert_eq!(reply_text(&r), format!("echo: {q}"), "turn {i}");
    }
    let bodies = peer.bodies();
    let third = &bodies[2];
    assert_eq!(third["model"], "test-model");
    assert_eq!(third["stream"], true);
    let roles: Vec<&str> = third["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        ["system", "user", "assistant", "user", "assistant", "user"]
    );
    assert_eq!(third["messages"][2]["content"], "echo: first question");
    assert_eq!(
        peer.seen.lock().unwrap().auth[0].as_deref(),
        Some("Bearer sk-test-secret-key")
    );
    assert!(
        !a.logs().contains("sk-test-secret-key"),
        "the API key is never logged"
    );

    // streaming: several artifact chunks reach the client
    let (_, _, raw) = post_rpc(
        a.port,
        "/",
        "message/stream",
        send_ctx("a b c d", "ctx-2"),
        &[],
    )
    .unwrap();
    let events = sse_events(&raw);
    let chunks: Vec<&str> = events
        .iter()
        .filter(|e| e["result"]["kind"] == "artifact-update")
        .filter_map(|e| e["result"]["artifact"]["parts"][0]["text"].as_str())
        .filter(|t| !t.is_empty())
        .collect();
    assert!(chunks.len() >= 4, "{chunks:?}");
    assert_eq!(chunks.concat(), "echo: a b c d");
}

#[test]
fn openai_non_streaming_server_and_errors() {
    let peer = mock_openai();
    let a = openai_agent(&peer.url(), &[("AGENT_TIMEOUT_SECS", "2")]);
    let r = a.rpc("message/send", send_params("plain:hi"), &[]);
    assert_eq!(reply_text(&r), "echo: hi");
    let r = a.rpc("message/send", send_params("error"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed");
    assert!(status_text(&r).contains("HTTP 500"), "{r}");
    // the canvas reads artifacts: the failure is there in plain words too
    let error = r["result"]["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "error")
        .unwrap();
    assert!(error["parts"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Sorry, the agent's backend (openai) failed"));
    let t = std::time::Instant::now();
    let r = a.rpc("message/send", send_params("stall"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed");
    assert!(status_text(&r).contains("did not answer within 2 s"), "{r}");
    assert!(t.elapsed() < Duration::from_secs(10));
}

#[test]
fn openai_unreachable_is_a_plain_words_failure() {
    let url = format!("http://127.0.0.1:{}", free_port());
    let a = openai_agent(&url, &[]);
    let r = a.rpc("message/send", send_params("hello"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed");
    assert!(
        status_text(&r).contains("could not reach the model server"),
        "{r}"
    );
}

#[test]
fn cancel_during_an_openai_stream_closes_the_peer_connection() {
    let peer = mock_openai();
    let a = openai_agent(&peer.url(), &[]);
    let r = a.rpc("message/send", json!({"message": {"parts": [{"text": "slowstream"}]}, "configuration": {"blocking": false}}), &[]);
    let id = r["result"]["id"].as_str().unwrap().to_string();
    assert!(eventually(Duration::from_secs(10), || {
        let t = a.rpc("tasks/get", json!({"id": id}), &[]);
        !reply_text(&t).is_empty()
    }));
    let c = a.rpc("tasks/cancel", json!({"id": id}), &[]);
    assert_eq!(c["result"]["status"]["state"], "canceled");
    assert!(
        eventually(Duration::from_secs(10), || peer.closed_early()),
        "the model server sees the connection closed"
    );
}

#[test]
fn command_backend_runs_a_real_program() {
    let a = Agent::start(&[("AGENT_BACKEND", "command"), ("AGENT_COMMAND", "cat")]);
    let r = a.rpc("message/send", send_params("through cat ✓"), &[]);
    assert_eq!(reply_text(&r), "through cat ✓");
    // the agent's secrets are not in the child's environment
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", "sh -c 'env'"),
        ("A2A_AUTH_TOKEN", "inbound-secret"),
        ("OPENAI_API_KEY", "sk-should-not-leak"),
    ]);
    let r = a.rpc(
        "message/send",
        send_params("x"),
        &[("Authorization", "Bearer inbound-secret")],
    );
    let env = reply_text(&r);
    assert!(env.contains("A2A_TASK_ID="), "{env}");
    assert!(
        !env.contains("inbound-secret") && !env.contains("sk-should-not-leak"),
        "{env}"
    );
}

#[test]
fn command_cancel_and_timeout_kill_the_process_group() {
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", "sh -c 'sleep 30 & echo $!; wait'"),
        ("AGENT_TIMEOUT_SECS", "3"),
    ]);
    let r = a.rpc(
        "message/send",
        json!({"message": {"parts": [{"text": "x"}]}, "configuration": {"blocking": false}}),
        &[],
    );
    let id = r["result"]["id"].as_str().unwrap().to_string();
    let mut pid = String::new();
    assert!(eventually(Duration::from_secs(10), || {
        pid = reply_text(&a.rpc("tasks/get", json!({"id": id}), &[]))
            .trim()
            .to_string();
        !pid.is_empty()
    }));
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    let c = a.rpc("tasks/cancel", json!({"id": id}), &[]);
    assert_eq!(c["result"]["status"]["state"], "canceled");
    assert!(
        eventually(Duration::from_secs(5), || !std::path::Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists()),
        "the grandchild `sleep` is gone with its group"
    );
    // and a timeout does the same
    let r = a.rpc("message/send", send_params("y"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed");
    assert!(status_text(&r).contains("did not answer within 3 s"), "{r}");
    let pid = reply_text(&r).trim().to_string();
    assert!(eventually(Duration::from_secs(5), || {
        !std::path::Path::new(&format!("/proc/{pid}")).exists()
    }));
}

#[test]
fn webhook_backend() {
    let peer = mock_webhook();
    let url = format!("{}/hook", peer.url());
    let a = Agent::start(&[("AGENT_BACKEND", "http"), ("AGENT_WEBHOOK_URL", &url)]);
    let r = a.rpc(
        "message/send",
        json!({"message": {"parts": [{"text": "ping"}], "contextId": "c-9"}}),
        &[],
    );
    assert_eq!(reply_text(&r), "hook: ping");
    let b = &peer.bodies()[0];
    assert_eq!(b["text"], "ping");
    assert_eq!(b["context_id"], "c-9");
    assert_eq!(b["task_id"], r["result"]["id"]);
    let r = a.rpc("message/send", send_params("fail"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed");
    assert!(status_text(&r).contains("HTTP 502"), "{r}");
}

#[test]
fn concurrency_is_limited_with_a_clear_busy_error() {
    let a = Agent::start(&[
        ("ECHO_DELAY_MS", "3000"),
        ("MAX_CONCURRENT_TASKS", "2"),
        ("QUEUE_WAIT_MS", "100"),
    ]);
    for _ in 0..2 {
        let r = a.rpc(
            "message/send",
            json!({"message": {"parts": [{"text": "hold"}]}, "configuration": {"blocking": false}}),
            &[],
        );
        assert_eq!(r["result"]["kind"], "task");
    }
    let (status, headers, raw) = post_rpc(
        a.port,
        "/",
        "message/send",
        send_params("one too many"),
        &[],
    )
    .unwrap();
    assert_eq!(status, 503);
    assert!(header(&headers, "retry-after").is_some());
    let v: Value = serde_json::from_slice(&raw).unwrap();
    assert!(
        v["error"]["message"].as_str().unwrap().contains("busy"),
        "{v}"
    );
}

fn hung_backend(backend: &str, url: &str, extra: &[(&str, &str)]) -> Agent {
    let v1 = format!("{url}/v1");
    let mut env = match backend {
        "openai" => vec![
            ("AGENT_BACKEND", "openai"),
            ("OPENAI_BASE_URL", v1.as_str()),
        ],
        _ => vec![("AGENT_BACKEND", "http"), ("AGENT_WEBHOOK_URL", url)],
    };
    env.extend_from_slice(extra);
    Agent::start(&env)
}

#[test]
fn cancel_reaches_a_blocked_http_backend_within_a_second() {
    for backend in ["http", "openai"] {
        let peer = silent_peer();
        let a = hung_backend(backend, &peer.url(), &[("MAX_CONCURRENT_TASKS", "1")]);
        let later =
            json!({"message": {"parts": [{"text": "x"}]}, "configuration": {"blocking": false}});
        let r = a.rpc("message/send", later.clone(), &[]);
        let id = r["result"]["id"].as_str().unwrap().to_string();
        // the request is out: the backend now blocks reading the answer
        assert!(eventually(Duration::from_secs(5), || peer.received() > 0));
        let asked = std::time::Instant::now();
        let c = a.rpc("tasks/cancel", json!({"id": id}), &[]);
        assert_eq!(c["result"]["status"]["state"], "canceled", "{backend}: {c}");
        assert!(
            eventually(Duration::from_secs(3), || !peer.closed().is_empty()),
            "{backend}: the blocked call's connection is closed"
        );
        let took = peer.closed()[0] - asked;
        assert!(
            took < Duration::from_secs(1),
            "{backend}: closed after {took:?}"
        );
        // the backend slot is free again at once
        let r = a.rpc("message/send", later, &[]);
        assert_eq!(r["result"]["kind"], "task", "{backend}: {r}");
    }
}

#[test]
fn shutdown_cancels_a_blocked_http_backend_and_the_stream_ends_canceled() {
    let peer = silent_peer();
    let mut a = hung_backend("http", &peer.url(), &[("SHUTDOWN_GRACE_SECS", "1")]);
    let port = a.port;
    let stream =
        std::thread::spawn(move || post_rpc(port, "/", "message/stream", send_params("x"), &[]));
    assert!(eventually(Duration::from_secs(5), || peer.accepted() == 1));
    a.signal(libc::SIGTERM);
    let status = a.wait_exit(Duration::from_secs(5)).expect("stops");
    assert_eq!(status.code(), Some(0), "{}", a.logs());
    let (_, _, body) = stream.join().unwrap().unwrap();
    let events = sse_events(&body);
    let last = events.last().expect("events");
    assert_eq!(last["result"]["status"]["state"], "canceled", "{events:?}");
    assert_eq!(last["result"]["final"], true, "{events:?}");
    let snap: Value = serde_json::from_str(
        &std::fs::read_to_string(a.configs.join(".agent_snapshot.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(snap["unfinished_tasks"], json!([]), "{snap}");
}

#[test]
fn openai_memory_and_answers_are_bounded_in_bytes() {
    let peer = mock_openai();
    let a = openai_agent(
        &peer.url(),
        &[
            ("OPENAI_HISTORY_BYTES", "2000"),
            ("OPENAI_MAX_ANSWER_BYTES", "1500"),
        ],
    );
    // an exchange of about 2.4 kB is over the 2000-byte bound: not kept
    let long = "word ".repeat(240);
    let r = a.rpc("message/send", send_ctx(&long, "ctx-big"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
    a.rpc("message/send", send_ctx("short", "ctx-big"), &[]);
    let last = peer.bodies().last().cloned().unwrap();
    let roles: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "user"], "{last}");
    // small exchanges are remembered as before
    a.rpc("message/send", send_ctx("again", "ctx-big"), &[]);
    let last = peer.bodies().last().cloned().unwrap();
    assert_eq!(last["messages"].as_array().unwrap().len(), 4, "{last}");

    // an answer over OPENAI_MAX_ANSWER_BYTES fails the task in plain words
    let r = a.rpc("message/send", send_ctx(&"word ".repeat(400), "ctx-2"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed", "{r}");
    assert!(status_text(&r).contains("OPENAI_MAX_ANSWER_BYTES"), "{r}");
}
