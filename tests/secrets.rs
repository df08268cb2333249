//! Secrets stay secret: a program run by the command backend cannot read
//! them, URLs with credentials are scrubbed wherever they are shown, and the
//! token file is read with suspicion.

mod common;

use common::*;
use std::os::unix::fs::PermissionsExt;

fn reply_text(r: &serde_json::Value) -> String {
    r["result"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

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
