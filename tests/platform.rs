//! The agent against a mock Molecule platform: registration, the token that
//! must never be lost, heartbeats with real figures, the snapshot.

mod common;

use common::platform::{MockPlatform, Mode};
use common::*;
use serde_json::{json, Value};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn agent_for(p: &MockPlatform, extra: &[(&str, &str)]) -> Agent {
    let url = p.url();
    let mut env: Vec<(&str, &str)> = vec![
        ("REGISTER", "true"),
        ("PLATFORM_URL", &url),
        ("HEARTBEAT_INTERVAL_SECS", "1"),
    ];
    env.extend_from_slice(extra);
    Agent::start(&env)
}

const SECS: Duration = Duration::from_secs(15);

#[test]
fn first_registration_persists_the_token_and_a_restart_reuses_it() {
    let p = MockPlatform::start();
    let configs = temp_dir("reg");
    let cfg = configs.to_str().unwrap().to_string();
    let mut a = agent_for(&p, &[("CONFIGS_DIR", &cfg)]);
    assert!(
        eventually(SECS, || !p.calls("/registry/heartbeat").is_empty()),
        "{}",
        a.logs()
    );
    let reg = &p.calls("/registry/register")[0];
    assert_eq!(reg.body["id"], "ws-test");
    assert_eq!(reg.body["url"], a.base());
    assert_eq!(reg.body["agent_card"]["name"], "workspace-agent");
    assert!(
        reg.auth.is_none(),
        "first registration has no token to send"
    );
    let token = p.token().unwrap();
    let path = configs.join(".auth_token");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        token,
        "exact content"
    );
    assert_eq!(
        std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let hb = &p.calls("/registry/heartbeat")[0];
    assert_eq!(hb.auth.as_deref(), Some(token.as_str()));
    assert!(
        !a.logs().contains(&token),
        "the token never appears in logs"
    );
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit(SECS).unwrap().code(), Some(0));

    // restart on the same CONFIGS_DIR: the token is reused, none is issued
    let before = p.calls("/registry/register").len();
    let a2 = agent_for(&p, &[("CONFIGS_DIR", &cfg)]);
    assert!(eventually(SECS, || p.calls("/registry/register").len() > before));
    assert!(eventually(SECS, || p.calls("/registry/heartbeat").len() >= 2));
    assert_eq!(
        p.calls("/registry/register")[before].auth.as_deref(),
        Some(token.as_str())
    );
    assert_eq!(p.issued(), 1);
    drop(a2);
}

#[test]
fn a_pre_written_token_is_used_on_the_first_call() {
    let p = MockPlatform::start();
    p.set_token("PREWRITTENtokenPREWRITTENtokenPREWRITTENtok");
    let configs = temp_dir("pre");
    std::fs::write(
        configs.join(".auth_token"),
        "PREWRITTENtokenPREWRITTENtokenPREWRITTENtok\n",
    )
    .unwrap();
    let cfg = configs.to_str().unwrap().to_string();
    let a = agent_for(&p, &[("CONFIGS_DIR", &cfg)]);
    assert!(
        eventually(SECS, || !p.calls("/registry/heartbeat").is_empty()),
        "{}",
        a.logs()
    );
    assert_eq!(
        p.calls("/registry/register")[0].auth.as_deref(),
        Some("PREWRITTENtokenPREWRITTENtokenPREWRITTENtok")
    );
    assert_eq!(p.issued(), 0);
}

#[test]
fn platform_down_at_start_then_up_registers_while_the_card_was_served() {
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let a = Agent::start(&[
        ("REGISTER", "true"),
        ("PLATFORM_URL", &url),
        ("HEARTBEAT_INTERVAL_SECS", "1"),
    ]);
    // the card is served while the platform is down
    for _ in 0..3 {
        assert_eq!(
            http(a.port, "GET", "/.well-known/agent-card.json", &[], b"")
                .unwrap()
                .0,
            200
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    assert!(
        a.logs().contains("waiting for the platform"),
        "{}",
        a.logs()
    );
    let p = MockPlatform::start_on(port);
    assert!(
        eventually(Duration::from_secs(30), || !p
            .calls("/registry/heartbeat")
            .is_empty()),
        "{}",
        a.logs()
    );
    assert!(a.logs().contains("registered with the platform"));
}

#[test]
fn platform_errors_500_are_retried() {
    let p = MockPlatform::start();
    p.set_mode(Mode::Error500);
    let a = agent_for(&p, &[]);
    assert!(
        eventually(SECS, || p.calls("/registry/register").len() >= 2),
        "{}",
        a.logs()
    );
    p.set_mode(Mode::Up);
    assert!(
        eventually(Duration::from_secs(30), || !p
            .calls("/registry/heartbeat")
            .is_empty()),
        "{}",
        a.logs()
    );
}

#[test]
fn a_rejected_url_is_explained_and_the_agent_keeps_serving() {
    let p = MockPlatform::start();
    p.set_mode(Mode::RejectUrl);
    let a = agent_for(&p, &[]);
    assert!(eventually(SECS, || a
        .logs()
        .contains("platform rejected the registration")));
    assert!(
        a.logs().contains("AGENT_URL"),
        "the hint names the fix: {}",
        a.logs()
    );
    assert_eq!(
        http(a.port, "GET", "/.well-known/agent-card.json", &[], b"")
            .unwrap()
            .0,
        200
    );
}

#[test]
fn revoked_token_is_replaced_and_heartbeats_resume() {
    let p = MockPlatform::start();
    let configs = temp_dir("revoke");
    let cfg = configs.to_str().unwrap().to_string();
    let a = agent_for(&p, &[("CONFIGS_DIR", &cfg)]);
    assert!(eventually(SECS, || !p
        .calls("/registry/heartbeat")
        .is_empty()));
    let old = p.token().unwrap();
    p.revoke();
    assert!(
        eventually(Duration::from_secs(20), || p.issued() == 2),
        "{}",
        a.logs()
    );
    let new = p.token().unwrap();
    assert_ne!(old, new);
    assert!(eventually(SECS, || std::fs::read_to_string(
        configs.join(".auth_token")
    )
    .ok()
    .as_deref()
        == Some(new.as_str())));
    assert!(eventually(SECS, || p
        .calls("/registry/heartbeat")
        .iter()
        .any(|c| c.auth.as_deref() == Some(new.as_str()))));
    assert!(!a.logs().contains(&new) && !a.logs().contains(&old));
}

#[test]
fn heartbeats_carry_real_figures() {
    let p = MockPlatform::start();
    let a = agent_for(&p, &[("ECHO_DELAY_MS", "2500"), ("AGENT_BACKEND", "echo")]);
    assert!(eventually(SECS, || !p
        .calls("/registry/heartbeat")
        .is_empty()));
    let hb = p.calls("/registry/heartbeat")[0].body.clone();
    assert_eq!(hb["workspace_id"], "ws-test");
    assert!(hb["error_rate"].is_number());
    assert!(hb["sample_error"].is_string());
    assert!(hb["active_tasks"].is_u64());
    assert!(hb["uptime_seconds"].is_u64());
    assert!(hb["current_task"].is_string());
    // a slow request in flight shows up
    let port = a.port;
    let slow = std::thread::spawn(move || {
        rpc(
            port,
            "/",
            "message/send",
            send_params("counting sheep slowly"),
            &[],
        )
    });
    assert!(
        eventually(SECS, || p.calls("/registry/heartbeat").iter().any(|c| c
            .body["active_tasks"]
            .as_u64()
            >= Some(1)
            && c.body["current_task"]
                .as_str()
                .is_some_and(|s| s.contains("counting sheep")))),
        "{:?}",
        p.calls("/registry/heartbeat").last()
    );
    slow.join().unwrap();
}

#[test]
fn error_rate_rises_after_failing_requests() {
    let p = MockPlatform::start();
    let a = agent_for(
        &p,
        &[
            ("AGENT_BACKEND", "command"),
            ("AGENT_COMMAND", "sh -c 'echo model exploded >&2; exit 7'"),
        ],
    );
    for _ in 0..3 {
        let r = a.rpc("message/send", send_params("x"), &[]);
        assert_eq!(r["result"]["status"]["state"], "failed");
        let why = r["result"]["status"]["message"]["parts"][0]["text"]
            .as_str()
            .unwrap();
        assert!(why.contains("model exploded"), "{why}");
    }
    assert!(
        eventually(SECS, || p.calls("/registry/heartbeat").iter().any(|c| c
            .body["error_rate"]
            .as_f64()
            > Some(0.0)
            && c.body["sample_error"]
                .as_str()
                .is_some_and(|s| s.contains("model exploded")))),
        "{:?}",
        p.calls("/registry/heartbeat").last()
    );
}

#[test]
fn no_heartbeat_after_sigterm_and_the_snapshot_is_valid() {
    let p = MockPlatform::start();
    // a task in flight keeps the agent in its grace period for three
    // heartbeat intervals after the signal: long enough to see one
    let mut a = agent_for(
        &p,
        &[("ECHO_DELAY_MS", "3000"), ("SHUTDOWN_GRACE_SECS", "10")],
    );
    assert!(eventually(SECS, || !p
        .calls("/registry/heartbeat")
        .is_empty()));
    let port = a.port;
    let slow = std::thread::spawn(move || rpc(port, "/", "message/send", send_params("x"), &[]));
    a.wait_working(1);
    a.signal(libc::SIGTERM);
    a.wait_stopping();
    // one heartbeat may already be on the wire when the signal comes
    let n = p.calls("/registry/heartbeat").len() + 1;
    assert_eq!(a.wait_exit(SECS).unwrap().code(), Some(0));
    assert_eq!(
        slow.join().unwrap()["result"]["status"]["state"],
        "completed",
        "the grace period was used"
    );
    let after = p.calls("/registry/heartbeat").len();
    assert!(
        after <= n,
        "{} heartbeat(s) during the grace period",
        after + 1 - n
    );
    let snap: Value = serde_json::from_str(
        &std::fs::read_to_string(a.configs.join(".agent_snapshot.json")).unwrap(),
    )
    .unwrap();
    for (k, check) in [
        ("workspace_id", snap["workspace_id"] == json!("ws-test")),
        (
            "timestamp",
            snap["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        ),
        ("current_task", snap["current_task"].is_string()),
        ("active_tasks", snap["active_tasks"].is_u64()),
        ("uptime_seconds", snap["uptime_seconds"].is_u64()),
        (
            "session_id",
            snap["session_id"].as_str().is_some_and(|s| s.len() == 36),
        ),
    ] {
        assert!(check, "snapshot field {k}: {snap}");
    }
    let token = p.token().unwrap();
    assert!(
        !snap.to_string().contains(&token),
        "no secret in the snapshot"
    );
}

#[test]
fn slow_platform_does_not_slow_the_agent_or_its_shutdown() {
    let p = MockPlatform::start();
    p.set_mode(Mode::Slow(Duration::from_secs(30)));
    let mut a = agent_for(&p, &[("SHUTDOWN_GRACE_SECS", "2")]);
    assert!(eventually(SECS, || !p
        .calls("/registry/register")
        .is_empty()));
    let r = a.rpc("message/send", send_params("fast anyway"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed");
    let t = std::time::Instant::now();
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit(SECS).unwrap().code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn sigkill_during_token_persistence_never_leaves_a_torn_file() {
    // Kill the agent at varying moments around its first registration; the
    // token file is always absent or a whole token, never empty or partial.
    for i in 0..12u64 {
        let p = MockPlatform::start();
        let configs = temp_dir(&format!("kill{i}"));
        let cfg = configs.to_str().unwrap().to_string();
        let mut a = Agent::spawn(&[
            ("REGISTER", "true"),
            ("PLATFORM_URL", &p.url()),
            ("CONFIGS_DIR", &cfg),
        ]);
        std::thread::sleep(Duration::from_millis(3 * i));
        a.signal(libc::SIGKILL);
        let _ = a.wait_exit(SECS);
        let path = configs.join(".auth_token");
        if let Ok(t) = std::fs::read_to_string(&path) {
            assert_eq!(
                Some(t.clone()),
                p.token(),
                "iteration {i}: file holds exactly the issued token"
            );
            assert_eq!(t.len(), 43);
        }
        for e in std::fs::read_dir(&configs).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(
                !name.starts_with(".auth_token") || name == ".auth_token" || name.contains(".tmp-"),
                "{name}"
            );
        }
    }
}

#[test]
fn unwritable_configs_dir_keeps_the_token_in_memory_and_says_so() {
    let p = MockPlatform::start();
    // a file, not a directory: nothing can be written "inside" it
    let not_a_dir = temp_dir("ro").join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let cfg = not_a_dir.to_str().unwrap().to_string();
    let log_dir = temp_dir("ro-logs");
    let mut env = vec![("CONFIGS_DIR", cfg.as_str())];
    env.push(("REGISTER", "true"));
    let url = p.url();
    env.push(("PLATFORM_URL", &url));
    env.push(("HEARTBEAT_INTERVAL_SECS", "1"));
    let mut a = Agent::spawn_logging_to(&env, &log_dir);
    a.wait_ready();
    assert!(
        eventually(SECS, || p.calls("/registry/heartbeat").len() >= 2),
        "{}",
        a.logs()
    );
    let token = p.token().unwrap();
    assert!(p
        .calls("/registry/heartbeat")
        .iter()
        .all(|c| c.auth.as_deref() == Some(token.as_str())));
    assert!(a.logs().contains("could NOT be saved"), "{}", a.logs());
    let (_, _, metrics) = http(a.port, "GET", "/metrics", &[], b"").unwrap();
    assert!(String::from_utf8_lossy(&metrics).contains("workspace_agent_token_persisted 0"));
    a.signal(libc::SIGTERM);
    assert_eq!(
        a.wait_exit(SECS).unwrap().code(),
        Some(0),
        "a failed snapshot is not a failed shutdown"
    );
}

#[test]
fn a_flapping_platform_is_ridden_out() {
    let p = MockPlatform::start();
    let mut a = agent_for(&p, &[]);
    for i in 0..10 {
        p.set_mode(if i % 2 == 0 { Mode::Error500 } else { Mode::Up });
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(
            http(a.port, "GET", "/.well-known/agent-card.json", &[], b"")
                .unwrap()
                .0,
            200
        );
    }
    p.set_mode(Mode::Up);
    let n = p.calls("/registry/heartbeat").len();
    assert!(
        eventually(Duration::from_secs(30), || p
            .calls("/registry/heartbeat")
            .len()
            > n + 1),
        "{}",
        a.logs()
    );
    assert!(!a.logs().contains("panicked"));
    a.signal(libc::SIGTERM);
    assert_eq!(a.wait_exit(SECS).unwrap().code(), Some(0));
}

#[test]
fn sighup_reloads_the_card_and_tells_the_platform() {
    let p = MockPlatform::start();
    let configs = temp_dir("hup");
    std::fs::write(configs.join("agent-card.json"), r#"{"name": "Before"}"#).unwrap();
    let cfg = configs.to_str().unwrap().to_string();
    let a = agent_for(&p, &[("CONFIGS_DIR", &cfg)]);
    assert!(eventually(SECS, || !p
        .calls("/registry/heartbeat")
        .is_empty()));
    std::fs::write(
        configs.join("agent-card.json"),
        r#"{"name": "After", "skills": [{"id": "new", "name": "New skill", "tags": ["x"]}]}"#,
    )
    .unwrap();
    a.signal(libc::SIGHUP);
    assert!(
        eventually(SECS, || !p.calls("/registry/update-card").is_empty()),
        "{}",
        a.logs()
    );
    let upd = &p.calls("/registry/update-card")[0];
    assert_eq!(upd.body["workspace_id"], "ws-test");
    assert_eq!(upd.body["agent_card"]["name"], "After");
    assert_eq!(upd.auth, p.token());
    let (_, _, body) = http(a.port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
    let card: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(card["name"], "After");
    assert_eq!(card["skills"][0]["id"], "new");
    // a broken file keeps the current card
    std::fs::write(configs.join("agent-card.json"), "{broken").unwrap();
    a.signal(libc::SIGHUP);
    assert!(eventually(SECS, || a.logs().contains("card not reloaded")));
    let (_, _, body) = http(a.port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap()["name"],
        "After"
    );
}

#[test]
fn the_token_file_is_not_trusted_too_far() {
    let other = temp_dir("other").join("someone-elses-secret");
    std::fs::write(&other, "someone-elses-secret-value-0000000000000").unwrap();
    let huge = "a".repeat(5000);
    type Make<'a> = &'a dyn Fn(&std::path::Path);
    let cases: [(&str, Make); 3] = [
        ("symbolic link", &|p| {
            std::os::unix::fs::symlink(&other, p).unwrap()
        }),
        ("bytes", &|p| std::fs::write(p, &huge).unwrap()),
        ("characters", &|p| {
            std::fs::write(p, "tok\r\nX-Injected: yes").unwrap()
        }),
    ];
    for (why, make) in cases {
        let p = MockPlatform::start();
        let configs = temp_dir("tokfile");
        make(&configs.join(".auth_token"));
        let a = agent_for(&p, &[("CONFIGS_DIR", configs.to_str().unwrap())]);
        assert!(eventually(SECS, || !p
            .calls("/registry/register")
            .is_empty()));
        let first = &p.calls("/registry/register")[0];
        assert_eq!(first.auth, None, "{why}: the file's contents were sent");
        let logs = a.logs();
        assert!(logs.contains(why), "{why}: {logs}");
        assert!(!logs.contains("someone-elses") && !logs.contains("Injected"));
    }
}

#[test]
fn a_token_that_could_not_be_saved_is_saved_once_it_can_be() {
    let p = MockPlatform::start();
    // a file where the directory should be: nothing can be saved yet
    let configs = temp_dir("later").join("configs");
    std::fs::write(&configs, "x").unwrap();
    let cfg = configs.to_str().unwrap().to_string();
    let log_dir = temp_dir("later-logs");
    let env = [
        ("CONFIGS_DIR", cfg.as_str()),
        ("REGISTER", "true"),
        ("PLATFORM_URL", &p.url()),
        ("HEARTBEAT_INTERVAL_SECS", "1"),
    ];
    let a = Agent::spawn_logging_to(&env, &log_dir);
    a.wait_ready();
    assert!(eventually(SECS, || p.token().is_some()), "{}", a.logs());
    let metric = |v: &str| {
        let (_, _, m) = http(a.port, "GET", "/metrics", &[], b"").unwrap();
        String::from_utf8_lossy(&m).contains(&format!("workspace_agent_token_persisted {v}"))
    };
    assert!(eventually(SECS, || metric("0")));
    let port = a.port.to_string();
    let diagnose = || {
        let out = run_bin(
            &[
                ("WORKSPACE_ID", "ws"),
                ("CONFIGS_DIR", &cfg),
                ("PORT", &port),
            ],
            &["diagnose"],
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    };
    assert!(diagnose().contains("✗ token saved"), "{}", diagnose());

    std::fs::remove_file(&configs).unwrap();
    std::fs::create_dir(&configs).unwrap();
    let saved = configs.join(".auth_token");
    assert!(
        eventually(SECS, || std::fs::read_to_string(&saved).ok() == p.token()),
        "the token is saved without a restart: {}",
        a.logs()
    );
    assert!(eventually(SECS, || metric("1")));
    assert!(!diagnose().contains("token saved"), "{}", diagnose());
}

#[test]
fn heartbeats_refused_after_a_good_registration_back_off() {
    let p = MockPlatform::start();
    p.set_mode(Mode::HeartbeatUnauthorized);
    let a = agent_for(&p, &[]);
    assert!(eventually(SECS, || !p
        .calls("/registry/heartbeat")
        .is_empty()));
    std::thread::sleep(Duration::from_secs(4));
    let (registers, heartbeats) = (
        p.calls("/registry/register").len(),
        p.calls("/registry/heartbeat").len(),
    );
    assert!(
        registers <= 5 && heartbeats <= 5,
        "{registers} registrations and {heartbeats} heartbeats in about 4 s:\n{}",
        a.logs()
    );
    let lines = a.logs().lines().count();
    assert!(lines < 30, "{lines} log lines");
    // and once the platform takes heartbeats again, they flow
    p.set_mode(Mode::Up);
    let before = p.calls("/registry/heartbeat").len();
    assert!(eventually(Duration::from_secs(20), || p
        .calls("/registry/heartbeat")
        .len()
        > before));
}
