//! The operator toolbox (`diagnose`, `send`, `card`) against real local
//! peers: our agent, a mock platform, a server that is not an A2A agent.

mod common;

use common::platform::MockPlatform;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::process::Output;

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const TOKEN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

/// A healthy setup: agent running, platform up, writable CONFIGS_DIR with a
/// 0600 token. Returns the env diagnose should see.
struct Setup {
    _p: MockPlatform,
    a: Agent,
    env: Vec<(String, String)>,
}

fn healthy_setup() -> Setup {
    let p = MockPlatform::start();
    let configs = temp_dir("diag");
    let tok = configs.join(".auth_token");
    std::fs::write(&tok, TOKEN).unwrap();
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();
    let a = Agent::start(&[("CONFIGS_DIR", configs.to_str().unwrap())]);
    let env = vec![
        ("WORKSPACE_ID".to_string(), "ws-diag".to_string()),
        ("PLATFORM_URL".to_string(), p.url()),
        ("PORT".to_string(), a.port.to_string()),
        (
            "AGENT_URL".to_string(),
            "http://agent.example.com:8000".to_string(),
        ),
        (
            "CONFIGS_DIR".to_string(),
            configs.to_str().unwrap().to_string(),
        ),
    ];
    Setup { _p: p, a, env }
}

fn diagnose(s: &Setup, overrides: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut env: Vec<(&str, &str)> = s
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    for (k, v) in overrides {
        env.retain(|(ek, _)| ek != k);
        env.push((k, v));
    }
    let o = run_bin(&env, &["diagnose"]);
    let t = text(&o);
    assert!(!t.contains(TOKEN), "the token is never printed: {t}");
    (o.status.code(), t)
}

#[test]
fn diagnose_all_good_then_each_failure() {
    let s = healthy_setup();
    let (code, out) = diagnose(&s, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("✓ auth token") && out.contains("43 characters, sha256 "),
        "{out}"
    );
    assert!(!out.contains('✗'), "{out}");

    let down = format!("http://127.0.0.1:{}", free_port());
    let (code, out) = diagnose(&s, &[("PLATFORM_URL", &down)]);
    assert_eq!(code, Some(1));
    assert!(out.contains("✗ platform connection"), "{out}");

    let (code, out) = diagnose(&s, &[("PLATFORM_URL", "http://host.docker.internal:8080")]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("✗ platform address")
            && out.contains("--add-host host.docker.internal:host-gateway"),
        "{out}"
    );

    let (code, out) = diagnose(&s, &[("AGENT_URL", "http://127.0.0.1:8000")]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("✗ advertised URL") && out.contains("loopback"),
        "{out}"
    );

    let cfg = s
        .env
        .iter()
        .find(|(k, _)| k == "CONFIGS_DIR")
        .unwrap()
        .1
        .clone();
    let tok = std::path::Path::new(&cfg).join(".auth_token");
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o644)).unwrap();
    let (code, out) = diagnose(&s, &[]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("✗ auth token") && out.contains("0644") && out.contains("chmod 600"),
        "{out}"
    );
    std::fs::set_permissions(&tok, std::fs::Permissions::from_mode(0o600)).unwrap();

    let (code, out) = diagnose(&s, &[("CONFIGS_DIR", "/proc/self")]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("✗ CONFIGS_DIR") && out.contains("not writable"),
        "{out}"
    );

    let (code, out) = diagnose(&s, &[("WORKSPACE_ID", "")]);
    assert_eq!(code, Some(1));
    assert!(
        out.contains("✗ configuration") && out.contains("WORKSPACE_ID"),
        "{out}"
    );

    let closed = free_port().to_string();
    let (code, out) = diagnose(&s, &[("PORT", &closed)]);
    assert_eq!(code, Some(1));
    assert!(out.contains("✗ local agent"), "{out}");
    drop(s.a);
}

#[test]
fn send_to_our_agent_in_both_generations_plain_and_streamed() {
    let a = Agent::start(&[("ECHO_DELAY_MS", "200")]);
    let url = a.base();
    for proto in ["0.3", "1.0"] {
        let o = run_bin(&[], &["send", &url, "hello there", "--protocol", proto]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "hello there");
        let o = run_bin(
            &[],
            &[
                "send",
                &url,
                "streamed words",
                "--stream",
                "--protocol",
                proto,
            ],
        );
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "streamed words");
        let o = run_bin(
            &[],
            &[
                "send",
                &format!("{url}/a2a"),
                "raw",
                "--json",
                "--protocol",
                proto,
            ],
        );
        let v: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).lines().next().unwrap())
                .unwrap();
        assert_eq!(v["jsonrpc"], "2.0");
    }
    let o = run_bin(&[], &["send", &url, "x", "--task", "no-such-task"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("JSON-RPC error -32001"), "{}", text(&o));
}

#[test]
fn send_explains_unreachable_and_non_a2a_peers() {
    let o = run_bin(
        &[],
        &["send", &format!("http://127.0.0.1:{}", free_port()), "x"],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("cannot reach"), "{}", text(&o));
    // a plain web server that is not an agent
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    std::thread::spawn(move || {
        for rq in server.incoming_requests().take(2) {
            let h = tiny_http::Header::from_bytes("Content-Type", "text/html").unwrap();
            let _ = rq.respond(tiny_http::Response::from_string("<html>hi</html>").with_header(h));
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let o = run_bin(&[], &["send", &url, "x"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("did not answer with JSON-RPC"),
        "{}",
        text(&o)
    );
    let o = run_bin(&[], &["card", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).contains("not a JSON agent card"), "{}", text(&o));
}

#[test]
fn card_summarises_and_validates() {
    let a = Agent::start(&[("AGENT_NAME", "Card Tester")]);
    let o = run_bin(&[], &["card", &a.base()]);
    let out = text(&o);
    assert!(o.status.success(), "{out}");
    assert!(
        out.contains("Card Tester") && out.contains("skill echo") && out.contains("streaming"),
        "{out}"
    );
    assert!(
        out.contains("✓ valid A2A 0.3 card") && out.contains("✓ valid A2A 1.0 card"),
        "{out}"
    );
    // a malformed card: JSON, but missing what clients need
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let port = server.server_addr().to_ip().unwrap().port();
    std::thread::spawn(move || {
        for rq in server.incoming_requests().take(2) {
            let _ = rq.respond(tiny_http::Response::from_string(
                r#"{"name":"half a card"}"#,
            ));
        }
    });
    let o = run_bin(&[], &["card", &format!("http://127.0.0.1:{port}")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o).contains("✗ not a valid A2A 0.3 card") && text(&o).contains("missing \"url\""),
        "{}",
        text(&o)
    );
}
