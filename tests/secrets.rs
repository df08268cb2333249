//! Secrets stay secret: a program run by the command backend cannot read
//! them, URLs with credentials are scrubbed wherever they are shown, and the
//! token file is read with suspicion.

mod common;

use common::platform::MockPlatform;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

/// What a curious program does: read its parent's environment from /proc
/// and the token file from the volume it is told about.
const CURIOUS: &str = r#"echo "environ:"; tr '\0' '\n' < /proc/$PPID/environ
echo "token:"; cat "$CONFIGS_DIR/.auth_token"
echo "env:"; env
"#;

#[test]
fn a_command_cannot_read_the_agents_secrets() {
    let dir = temp_dir_for("curious", NOBODY);
    let script = dir.join("curious.sh");
    std::fs::write(&script, CURIOUS).unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let token = dir.join(".auth_token");
    std::fs::write(&token, "platform-token-secret-0000000000000000000").unwrap();
    std::os::unix::fs::chown(&token, Some(NOBODY), Some(NOBODY)).unwrap();
    std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o600)).unwrap();
    let command = format!("sh {}", script.display());
    let a = Agent::start_as(
        &[
            ("AGENT_BACKEND", "command"),
            ("AGENT_COMMAND", &command),
            ("CONFIGS_DIR", dir.to_str().unwrap()),
            ("A2A_AUTH_TOKEN", "inbound-secret-1"),
            ("OPENAI_API_KEY", "sk-secret-2"),
            ("DATABASE_URL", "postgres://app:db-secret-3@db:5432/app"),
            ("SMTP_PASSWD", "smtp-secret-4"),
            ("STRIPE_KEY", "stripe-secret-5"),
            ("HF_TOKEN", "hf-handed-on"),
            ("AGENT_COMMAND_ENV", "HF_TOKEN"),
        ],
        NOBODY,
    );
    let r = a.rpc(
        "message/send",
        send_params("x"),
        &[("Authorization", "Bearer inbound-secret-1")],
    );
    let out = reply_text(&r);
    assert!(out.contains("A2A_TASK_ID="), "the program ran: {r}");
    for secret in [
        "inbound-secret-1",
        "sk-secret-2",
        "db-secret-3",
        "smtp-secret-4",
        "stripe-secret-5",
        "platform-token-secret",
    ] {
        assert!(
            !out.contains(secret),
            "{secret} reached the program:\n{out}"
        );
    }
    assert!(!out.contains("CONFIGS_DIR="), "{out}");
    assert!(
        out.contains("HF_TOKEN=hf-handed-on"),
        "AGENT_COMMAND_ENV hands a variable on: {out}"
    );
    let logs = a.logs();
    assert!(
        logs.contains("withheld") && logs.contains("DATABASE_URL") && logs.contains("STRIPE_KEY"),
        "the withheld names are logged once: {logs}"
    );
    assert!(!logs.contains("db-secret-3") && !logs.contains("stripe-secret-5"));
}

#[test]
fn a_root_agent_runs_its_command_as_another_user() {
    let dir = temp_dir("as-user");
    let script = dir.join("curious.sh");
    std::fs::write(&script, format!("echo uid=$(id -u)\n{CURIOUS}")).unwrap();
    std::fs::write(
        dir.join(".auth_token"),
        "platform-token-secret-1111111111111111111",
    )
    .unwrap();
    std::fs::set_permissions(
        dir.join(".auth_token"),
        std::fs::Permissions::from_mode(0o600),
    )
    .unwrap();
    let command = format!("sh {}", script.display());
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND", &command),
        ("AGENT_COMMAND_USER", "65534:65534"),
        ("AGENT_COMMAND_ENV", "CONFIGS_DIR"),
        ("CONFIGS_DIR", dir.to_str().unwrap()),
        ("OPENAI_API_KEY", "sk-root-secret"),
    ]);
    let out = reply_text(&a.rpc("message/send", send_params("x"), &[]));
    assert!(out.contains("uid=65534"), "{out}");
    assert!(
        out.contains(&format!("CONFIGS_DIR={}", dir.display())),
        "told where the volume is: {out}"
    );
    assert!(!out.contains("platform-token-secret"), "{out}");
    assert!(!out.contains("sk-root-secret"), "{out}");
}

#[test]
fn urls_with_credentials_are_scrubbed_for_callers_heartbeats_and_logs() {
    let p = MockPlatform::start();
    let hook = format!(
        "http://hookuser:hook-pass-1@127.0.0.1:{}/hook?token=hook-query-2",
        free_port()
    );
    let platform = p.url();
    let a = Agent::start(&[
        ("AGENT_BACKEND", "http"),
        ("AGENT_WEBHOOK_URL", &hook),
        ("REGISTER", "true"),
        ("PLATFORM_URL", &platform),
        ("HEARTBEAT_INTERVAL_SECS", "1"),
    ]);
    let r = a.rpc("message/send", send_params("x"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed", "{r}");
    let text = r.to_string();
    assert!(status_text(&r).contains("http://***@127.0.0.1:"), "{r}");
    assert!(status_text(&r).contains("/hook?***"), "{r}");
    let heartbeat_with_error = || {
        p.calls("/registry/heartbeat")
            .iter()
            .map(|c| c.body["sample_error"].as_str().unwrap_or("").to_string())
            .find(|e| !e.is_empty())
    };
    assert!(eventually(Duration::from_secs(10), || {
        heartbeat_with_error().is_some()
    }));
    let sample = heartbeat_with_error().unwrap();
    for (what, seen) in [
        ("the caller", &text),
        ("the heartbeat", &sample),
        ("the log", &a.logs()),
    ] {
        for secret in ["hook-pass-1", "hook-query-2", "hookuser"] {
            assert!(!seen.contains(secret), "{secret} reached {what}: {seen}");
        }
    }
}

#[test]
fn a_platform_url_with_credentials_is_scrubbed_in_logs_and_diagnose() {
    let platform = format!(
        "https://pu:platform-pass-3@127.0.0.1:{}/api?key=platform-key-4",
        free_port()
    );
    let a = Agent::start(&[("REGISTER", "true"), ("PLATFORM_URL", &platform)]);
    assert!(eventually(Duration::from_secs(10), || a
        .logs()
        .contains("waiting for the platform")));
    let port = a.port.to_string();
    let out = run_bin(
        &[
            ("WORKSPACE_ID", "ws"),
            ("PLATFORM_URL", &platform),
            ("PORT", &port),
            ("CONFIGS_DIR", a.configs.to_str().unwrap()),
        ],
        &["diagnose"],
    );
    let diagnose = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(diagnose.contains("https://***@127.0.0.1:"), "{diagnose}");
    for (what, seen) in [("the log", &a.logs()), ("diagnose", &diagnose)] {
        for secret in ["platform-pass-3", "platform-key-4"] {
            assert!(!seen.contains(secret), "{secret} reached {what}: {seen}");
        }
    }
}
