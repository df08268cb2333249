//! The CLI as a Unix citizen (issue 18, item 5) and the configuration
//! checks an operator meets at start (items 1 and 6), against the real
//! binary: help for every command, closed pipes, scheme-less URLs, the
//! token from the environment, get/cancel/list, one failure line.

mod common;

use common::*;
use serde_json::json;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const TOKEN: &str = "cli-test-token-0123456789";

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn err(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn every_command_answers_help_without_running() {
    for cmd in [
        "run",
        "healthcheck",
        "diagnose",
        "send",
        "get",
        "cancel",
        "list",
        "card",
    ] {
        for flag in ["--help", "-h"] {
            // no WORKSPACE_ID: running diagnose or run would fail loudly
            let o = run_bin(&[], &[cmd, flag]);
            assert_eq!(o.status.code(), Some(0), "{cmd} {flag}: {}", err(&o));
            assert!(
                out(&o).starts_with(&format!("workspace-agent {cmd}")),
                "{}",
                out(&o)
            );
            assert!(
                !out(&o).contains('✗') && err(&o).is_empty(),
                "{cmd}: {}",
                err(&o)
            );
        }
    }
    let o = run_bin(&[], &["help", "list"]);
    assert!(out(&o).contains("--state STATE"), "{}", out(&o));
    let o = run_bin(&[], &["--help"]);
    assert!(o.status.success());
    for line in out(&o).lines() {
        assert!(
            line.chars().count() <= 80,
            "help wider than 80 columns: {line:?}"
        );
    }
    let o = run_bin(&[], &["send", "x", "--bogus"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("unknown option --bogus") && err(&o).contains("usage:"));
}

/// `card URL | head -1`: the reader goes away early (or at once); the
/// command ends quietly, never with a panic.
#[test]
fn a_closed_pipe_is_no_panic() {
    let a = Agent::start(&[]);
    for i in 0..30 {
        let mut child = Command::new(BIN)
            .args(["card", &a.base()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        if i % 2 == 0 {
            let mut first = [0u8; 1];
            let _ = stdout.read(&mut first);
        }
        drop(stdout);
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!stderr.contains("panicked"), "run {i}: {stderr}");
        assert_eq!(status.code(), Some(0), "run {i}: {stderr}");
    }
}

#[test]
fn a_url_without_scheme_is_http() {
    let a = Agent::start(&[("AGENT_NAME", "No Scheme")]);
    let target = format!("127.0.0.1:{}", a.port);
    let o = run_bin(&[], &["card", &target]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("No Scheme"), "{}", out(&o));
    let o = run_bin(&[], &["send", &target, "plain words"]);
    assert_eq!(out(&o).trim(), "plain words", "{}", err(&o));
}

#[test]
fn the_token_comes_from_the_environment_and_a_401_says_where() {
    let a = Agent::start(&[("A2A_AUTH_TOKEN", TOKEN)]);
    let url = a.base();
    let o = run_bin(&[], &["send", &url, "hi"]);
    assert_eq!(o.status.code(), Some(1));
    let e = err(&o);
    assert!(
        e.contains("401") && e.contains("A2A_AUTH_TOKEN") && e.contains("--token"),
        "{e}"
    );
    assert_eq!(e.matches(&url).count(), 1, "the URL once: {e}");
    let o = run_bin(&[("A2A_AUTH_TOKEN", "wrong-token")], &["list", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        err(&o).contains("refused the token from A2A_AUTH_TOKEN"),
        "{}",
        err(&o)
    );
    assert!(!err(&o).contains("wrong-token"), "{}", err(&o));
    let o = run_bin(&[("A2A_AUTH_TOKEN", TOKEN)], &["send", &url, "with env"]);
    assert_eq!(out(&o).trim(), "with env", "{}", err(&o));
    let file = a.configs.join("cli-token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let o = run_bin(
        &[],
        &[
            "send",
            &url,
            "with file",
            "--token-file",
            file.to_str().unwrap(),
        ],
    );
    assert_eq!(out(&o).trim(), "with file", "{}", err(&o));
    assert!(!out(&o).contains(TOKEN) && !err(&o).contains(TOKEN));
}

#[test]
fn get_cancel_and_list_tasks() {
    let a = Agent::start(&[("ECHO_DELAY_MS", "20000")]);
    let url = a.base();
    let r = a.rpc(
        "message/send",
        json!({"message": {"role": "user", "messageId": "m1", "contextId": "ctx-cli",
                           "parts": [{"kind": "text", "text": "slow words"}]},
               "configuration": {"blocking": false}}),
        &[],
    );
    let id = r["result"]["id"].as_str().expect("a task id").to_string();
    // a non-blocking send answers `submitted`; the run starts a moment later
    a.wait_working(1);

    let o = run_bin(&[], &["list", &url, "--context", "ctx-cli"]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).contains(&id) && out(&o).contains("working"),
        "{}",
        out(&o)
    );

    let o = run_bin(&[], &["get", &url, &id]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(
        out(&o).starts_with(&format!("task {id}: working")),
        "{}",
        out(&o)
    );

    let o = run_bin(&[], &["cancel", &url, &id]);
    assert!(o.status.success(), "{}", err(&o));
    assert!(out(&o).contains("canceled"), "{}", out(&o));
    for proto in ["0.3", "1.0"] {
        let o = run_bin(&[], &["get", &url, &id, "--protocol", proto]);
        assert!(
            out(&o).contains(&format!("task {id}: canceled")),
            "{proto}: {}",
            out(&o)
        );
    }
    let o = run_bin(&[], &["list", &url, "--state", "canceled", "--json"]);
    let v: serde_json::Value = serde_json::from_str(out(&o).trim()).unwrap();
    assert_eq!(v["result"]["tasks"][0]["id"], id.as_str());

    let o = run_bin(&[], &["get", &url, "no-such-task"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(err(&o).contains("-32001"), "{}", err(&o));
    let o = run_bin(&[], &["cancel", &url, &id]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "a canceled task cannot be canceled again"
    );
}

#[test]
fn a_streamed_failure_is_reported_once() {
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", "sh -c 'echo model exploded >&2; exit 7'"),
    ]);
    for proto in ["0.3", "1.0"] {
        let o = run_bin(
            &[],
            &["send", &a.base(), "x", "--stream", "--protocol", proto],
        );
        assert_eq!(o.status.code(), Some(1));
        let all = format!("{}{}", out(&o), err(&o));
        assert_eq!(all.matches("model exploded").count(), 1, "{proto}: {all}");
        assert_eq!(
            err(&o).matches("task ended failed").count(),
            1,
            "{proto}: {all}"
        );
    }
}

#[test]
fn a_command_that_cannot_run_stops_the_start_with_one_line() {
    let script = temp_dir("noexec").join("answer.sh");
    std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
    let cases = [
        (
            "nonexistent-prog --x",
            "program \"nonexistent-prog\" is not found in PATH",
        ),
        (script.to_str().unwrap(), "is not executable (chmod +x it"),
    ];
    for (command, why) in cases {
        let mut a = Agent::spawn(&[("AGENT_BACKEND", "command"), ("AGENT_COMMAND", command)]);
        let status = a
            .wait_exit(Duration::from_secs(10))
            .expect("the agent exits");
        assert_eq!(status.code(), Some(2));
        let logs = a.logs();
        assert_eq!(logs.trim().lines().count(), 1, "{logs}");
        assert!(
            logs.starts_with("error: AGENT_COMMAND: ") && logs.contains(why),
            "{logs}"
        );
    }
}

#[test]
fn unknown_card_file_keys_are_warned_about_at_start_and_on_reload() {
    let configs = temp_dir("cardkeys");
    std::fs::write(
        configs.join("agent-card.json"),
        r#"{"name":"K","skils":[]}"#,
    )
    .unwrap();
    let a = Agent::start(&[("CONFIGS_DIR", configs.to_str().unwrap())]);
    let warned = |n: usize| a.logs().matches("unknown key \"skils\"").count() == n;
    assert!(
        eventually(Duration::from_secs(5), || warned(1)),
        "{}",
        a.logs()
    );
    std::fs::write(
        configs.join("agent-card.json"),
        r#"{"name":"K2","skils":[],"tgas":1}"#,
    )
    .unwrap();
    a.signal(libc::SIGHUP);
    assert!(
        eventually(Duration::from_secs(5), || warned(2)
            && a.logs().contains("\"tgas\"")),
        "{}",
        a.logs()
    );
}

/// An agent that answers every request with `body` (JSON), once per
/// connection, for as long as the test runs.
fn fake_agent(body: &'static str) -> String {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let mut buf = [0u8; 65536];
            let _ = c.read(&mut buf);
            let _ = write!(
                c,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

#[test]
fn an_agents_control_characters_never_reach_the_terminal() {
    let url = fake_agent(
        r#"{"jsonrpc":"2.0","id":1,"result":{"kind":"task","id":"t\u001b]0;owned\u0007","contextId":"c","status":{"state":"completed","timestamp":"2026-01-01T00:00:00Z"},"artifacts":[{"artifactId":"a","parts":[{"kind":"text","text":"red \u001b[31m\u009b2J"}]}]}}"#,
    );
    let o = run_bin(&[], &["get", &url, "t1"]);
    let shown = out(&o) + &err(&o);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{9b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(shown.contains("\\x1b[31m"), "{shown:?}");
}

#[test]
fn a_token_file_that_is_no_token_is_refused_not_read_whole() {
    let o = run_bin(
        &[("A2A_AUTH_TOKEN_FILE", "/dev/zero")],
        &["get", "http://127.0.0.1:9", "t1"],
    );
    assert!(!o.status.success());
    assert!(err(&o).contains("/dev/zero"), "{}", err(&o));
}
