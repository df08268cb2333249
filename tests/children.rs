//! Children stay contained: orphans of a backend's program come back to the
//! agent and are reaped, and canceled or timed-out programs leave neither
//! zombies nor stray processes, also when the agent is PID 1.

mod common;

use common::*;
use serde_json::json;
use std::time::Duration;

#[test]
fn orphans_come_back_to_the_agent_and_are_reaped() {
    let a = Agent::start(&[
        ("AGENT_BACKEND", "command"),
        (
            "AGENT_COMMAND",
            "sh -c '(sleep 1 >/dev/null 2>&1 & echo $!)'",
        ),
    ]);
    let r = a.rpc("message/send", send_params("x"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
    let orphan: u32 = reply_text(&r).trim().parse().unwrap();
    let (_, parent) = proc_state(orphan).expect("the orphan still sleeps");
    assert_eq!(
        parent,
        a.child.id(),
        "the orphan is re-parented to the agent (a child subreaper)"
    );
    assert!(
        eventually(Duration::from_secs(5), || proc_state(orphan).is_none()),
        "the orphan is reaped once it exits: {:?}",
        proc_state(orphan)
    );
}

/// The agent's pid as seen from here, when `wrapper` started it.
fn agent_pid_under(wrapper: u32) -> u32 {
    let mut pid = None;
    assert!(eventually(Duration::from_secs(5), || {
        pid = children_of(wrapper).first().map(|c| c.0);
        pid.is_some()
    }));
    pid.unwrap()
}

#[test]
fn as_pid_1_cancel_and_timeout_leave_no_zombie_and_no_stray_process() {
    let probe = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child", "true"])
        .status();
    if !matches!(probe, Ok(s) if s.success()) {
        eprintln!("skipped: cannot start a PID namespace here (unshare --pid needs root)");
        return;
    }
    let a = Agent::start_wrapped(
        &[
            ("AGENT_BACKEND", "command"),
            (
                "AGENT_COMMAND",
                "sh -c 'sleep 30 & sleep 30 & echo $!; wait'",
            ),
            ("AGENT_TIMEOUT_SECS", "2"),
        ],
        &["unshare", "--pid", "--fork", "--mount-proc", "--kill-child"],
    );
    let agent = agent_pid_under(a.child.id());
    let r = a.rpc(
        "message/send",
        json!({"message": {"parts": [{"text": "x"}]}, "configuration": {"blocking": false}}),
        &[],
    );
    let id = r["result"]["id"].as_str().unwrap().to_string();
    assert!(eventually(Duration::from_secs(10), || {
        !reply_text(&a.rpc("tasks/get", json!({"id": id}), &[])).is_empty()
    }));
    assert!(!children_of(agent).is_empty(), "the program runs");
    let c = a.rpc("tasks/cancel", json!({"id": id}), &[]);
    assert_eq!(c["result"]["status"]["state"], "canceled");
    assert!(
        eventually(Duration::from_secs(5), || children_of(agent).is_empty()),
        "after cancel the agent (PID 1) has no children left, zombie or not: {:?}",
        children_of(agent)
    );

    let r = a.rpc("message/send", send_params("y"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed", "{r}");
    assert!(
        eventually(Duration::from_secs(5), || children_of(agent).is_empty()),
        "after a timeout too: {:?}",
        children_of(agent)
    );
}
