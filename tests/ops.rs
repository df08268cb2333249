//! What an operator sees: health and readiness routes, the access log, JSON
//! log lines, `/metrics` behind the token, `diagnose` checking the backend
//! and honouring REGISTER=false, the start-up line naming the backend.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::platform::MockPlatform;
use common::*;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const SECS: Duration = Duration::from_secs(15);

fn get(a: &Agent, path: &str, headers: &[(&str, &str)]) -> (u16, String) {
    let (status, _, body) = http(a.port, "GET", path, headers, b"").unwrap();
    (status, String::from_utf8_lossy(&body).to_string())
}

/// A model server on `listener` that lists one model.
fn serve_models(listener: TcpListener) {
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let body = r#"{"object":"list","data":[{"id":"llama3.2","object":"model"}]}"#;
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
}

#[test]
fn healthz_serves_and_readyz_follows_the_backend() {
    let model_port = free_port();
    let base = format!("http://127.0.0.1:{model_port}/v1");
    let a = Agent::start(&[("AGENT_BACKEND", "openai"), ("OPENAI_BASE_URL", &base)]);
    assert_eq!(get(&a, "/healthz", &[]), (200, "ok\n".to_string()));
    let (status, body) = get(&a, "/readyz", &[]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("backend: not ready"), "{body}");
    assert!(
        body.contains(&format!("127.0.0.1:{model_port}/v1/models")),
        "{body}"
    );
    assert!(body.contains("platform: ok"), "{body}");
    assert_eq!(body.lines().count(), 2, "one line per check: {body}");

    serve_models(TcpListener::bind(("127.0.0.1", model_port)).unwrap());
    let mut last = String::new();
    let ready = eventually(SECS, || {
        let (status, body) = get(&a, "/readyz", &[]);
        last = body;
        status == 200
    });
    assert!(ready, "{last}");
    assert!(last.contains("lists model llama3.2"), "{last}");
}

#[test]
fn readyz_answers_fast_when_the_backend_hangs() {
    let hung = common::peers::silent_peer();
    let a = Agent::start(&[
        ("AGENT_BACKEND", "openai"),
        ("OPENAI_BASE_URL", &hung.url()),
    ]);
    for _ in 0..3 {
        let started = Instant::now();
        let (status, body) = get(&a, "/readyz", &[]);
        assert_eq!(status, 503, "{body}");
        assert!(
            started.elapsed() < Duration::from_millis(2500),
            "{:?}",
            started.elapsed()
        );
    }
    assert_eq!(get(&a, "/healthz", &[]).0, 200);
}

#[test]
fn readyz_waits_until_the_platform_accepted_us() {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let a = Agent::start(&[("REGISTER", "true"), ("PLATFORM_URL", &closed)]);
    let (status, body) = get(&a, "/readyz", &[]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("backend: ok"), "{body}");
    assert!(body.contains("platform: not ready"), "{body}");

    let p = MockPlatform::start();
    let b = Agent::start(&[("REGISTER", "true"), ("PLATFORM_URL", &p.url())]);
    assert!(eventually(SECS, || get(&b, "/readyz", &[]).0 == 200));
}

#[test]
fn a_command_that_cannot_run_is_not_ready() {
    // a program that cannot run stops the start (tests/cli_tasks.rs); one
    // that loses its execute bit later makes the agent not ready
    let script = temp_dir("readyz-cmd").join("answer.sh");
    std::fs::write(&script, "#!/bin/sh\ncat\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", script.to_str().unwrap()),
    ]);
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (status, body) = get(&a, "/readyz", &[]);
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("answer.sh is not executable"), "{body}");
}

fn send(a: &Agent, text: &str) -> Value {
    a.rpc("message/send", send_params(text), &[])
}

#[test]
fn one_access_line_per_request_unless_switched_off() {
    let a = Agent::start(&[]);
    let r = send(&a, "hi");
    let task = r["result"]["id"].as_str().unwrap().to_string();
    get(&a, "/nope?token=secret-in-query", &[]);
    let logs = a.logs();
    let line = logs
        .lines()
        .find(|l| l.contains(" access POST / "))
        .unwrap_or_else(|| panic!("{logs}"));
    assert!(line.contains(" INFO "), "{line}");
    assert!(line.contains("status=200"), "{line}");
    assert!(line.contains("a2a_method=send"), "{line}");
    assert!(line.contains(&format!("task_id={task}")), "{line}");
    assert!(line.contains("duration_ms="), "{line}");
    assert!(line.contains("bytes_out="), "{line}");
    assert!(logs.contains("access GET /nope status=404"), "{logs}");
    assert!(!logs.contains("secret-in-query"), "{logs}");

    let quiet = Agent::start(&[("ACCESS_LOG", "false")]);
    send(&quiet, "hi");
    get(&quiet, "/healthz", &[]);
    assert!(!quiet.logs().contains(" access "), "{}", quiet.logs());
}

#[test]
fn streams_get_their_access_line_when_they_end() {
    let a = Agent::start(&[]);
    let body =
        json!({"jsonrpc": "2.0", "id": 1, "method": "message/stream", "params": send_params("hi")});
    let headers = [("Content-Type", "application/json")];
    let (status, _, _) = http(a.port, "POST", "/", &headers, body.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200);
    assert!(eventually(SECS, || a
        .logs()
        .lines()
        .any(|l| l.contains("access POST / status=200")
            && l.contains("a2a_method=stream")
            && !l.contains("bytes_out=0"))));
}

#[test]
fn json_logs_are_one_object_per_line() {
    let mut a = Agent::start(&[("LOG_FORMAT", "json")]);
    send(&a, "hi");
    a.signal(15);
    assert!(a.wait_exit(SECS).is_some());
    let logs = a.logs();
    let lines: Vec<Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() >= 3, "{logs}");
    for l in &lines {
        assert!(l["time"].is_string() && l["level"].is_string(), "{l}");
    }
    assert!(lines.iter().any(|l| l["message"]
        .as_str()
        .is_some_and(|m| m.contains("starting"))));
    let access = lines
        .iter()
        .find(|l| l["target"] == "access" && l["http_method"] == "POST")
        .expect("an access line");
    assert_eq!(access["a2a_method"], "send");
    assert!(access["task_id"].is_string(), "{access}");
    assert_eq!(access["status"], 200);
    assert!(access["duration_ms"].is_number());
}

#[test]
fn metrics_can_require_the_token() {
    let token = "metrics-token-0123456789";
    let a = Agent::start(&[("A2A_AUTH_TOKEN", token), ("METRICS_AUTH", "true")]);
    assert_eq!(get(&a, "/metrics", &[]).0, 401);
    let bearer = format!("Bearer {token}");
    let (status, text) = get(&a, "/metrics", &[("Authorization", &bearer)]);
    assert_eq!(status, 200);
    assert!(text.contains("workspace_agent_build_info"));
    // the card and health stay public
    assert_eq!(get(&a, "/healthz", &[]).0, 200);

    let open = Agent::start(&[("A2A_AUTH_TOKEN", token)]);
    assert_eq!(get(&open, "/metrics", &[]).0, 200, "public unless asked");

    let out = run_bin(&[("WORKSPACE_ID", "w"), ("METRICS_AUTH", "true")], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("METRICS_AUTH=true needs A2A_AUTH_TOKEN"));
}

fn diagnose(env: &[(&str, &str)]) -> (i32, String) {
    let out = run_bin(env, &["diagnose"]);
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn diagnose_honours_register_false_and_checks_the_backend() {
    let a = Agent::start(&[]);
    let port = a.port.to_string();
    let dir = a.configs.to_string_lossy().to_string();
    let base = [
        ("WORKSPACE_ID", "w"),
        ("REGISTER", "false"),
        ("PORT", &port),
        ("CONFIGS_DIR", &dir),
    ];
    let (code, text) = diagnose(&base);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("✓ platform: not contacted (REGISTER=false)"),
        "{text}"
    );
    assert!(text.contains("✓ backend echo"), "{text}");
    assert!(text.contains("✓ local agent"), "{text}");

    let dead = format!("http://127.0.0.1:{}/v1", free_port());
    let mut env = base.to_vec();
    env.extend([("AGENT_BACKEND", "openai"), ("OPENAI_BASE_URL", &dead)]);
    let (code, text) = diagnose(&env);
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("✗ backend openai"), "{text}");

    let mut env = base.to_vec();
    env.extend([
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", "nonexistent-prog"),
    ]);
    let (code, text) = diagnose(&env);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("✗ configuration: AGENT_COMMAND: program \"nonexistent-prog\" is not found"),
        "{text}"
    );
}

#[test]
fn the_start_up_line_names_the_backend_without_secrets() {
    let a = Agent::start(&[
        ("AGENT_BACKEND", "openai"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:9/v1"),
        ("OPENAI_MODEL", "qwen-test"),
        ("OPENAI_API_KEY", "sk-very-secret-key"),
    ]);
    // the card can answer before the start-up line is written: wait for it
    let line = "backend=openai (model qwen-test, base URL http://127.0.0.1:9/v1, API key set)";
    let logged = eventually(std::time::Duration::from_secs(5), || {
        a.logs().contains(line)
    });
    let logs = a.logs();
    assert!(logged, "{logs}");
    assert!(!logs.contains("sk-very-secret-key"));
}
