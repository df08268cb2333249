//! Backends that speak the whole task model through the real binary: a
//! webhook answering with `events` (multi-turn, data artifact, direct
//! reply, invalid event) and jsonl programs that misbehave.

mod common;

use common::peers::mock_events_webhook;
use common::*;
use serde_json::json;

#[test]
fn webhook_events_hold_a_conversation() {
    let peer = mock_events_webhook();
    let url = format!("{}/hook", peer.url());
    let a = Agent::start(&[("AGENT_BACKEND", "http"), ("AGENT_WEBHOOK_URL", &url)]);
    let r = a.rpc("message/send", send_params("weather?"), &[]);
    let t = &r["result"];
    assert_eq!(t["status"]["state"], "input-required", "{r}");
    assert_eq!(t["status"]["message"]["parts"][0]["text"], "Which city?");
    let follow = json!({"message": {"parts": [{"text": "Oslo"}], "taskId": t["id"], "contextId": t["contextId"]}});
    let r = a.rpc("message/send", follow, &[]);
    let done = &r["result"];
    assert_eq!(done["status"]["state"], "completed", "{r}");
    assert_eq!(done["artifacts"][0]["name"], "weather");
    assert_eq!(
        done["artifacts"][0]["parts"][0],
        json!({"kind": "data", "data": {"city": "Oslo", "turns": 2}})
    );
    // the webhook saw the whole message and, the second time, the history
    let bodies = peer.bodies();
    assert_eq!(bodies[1]["message"]["parts"][0]["text"], "Oslo");
    assert_eq!(bodies[1]["history"][1]["parts"][0]["text"], "Which city?");

    let r = a.rpc("message/send", send_params("message"), &[]);
    assert_eq!(r["result"]["kind"], "message", "{r}");
    assert_eq!(r["result"]["parts"][0]["text"], "just this");

    // a direct reply to a follow-up completes the task it continues
    let r = a.rpc("message/send", send_params("weather?"), &[]);
    let t = &r["result"];
    let follow = json!({"message": {"parts": [{"text": "message"}], "taskId": t["id"]}});
    let r = a.rpc("message/send", follow, &[]);
    assert_eq!(r["result"]["kind"], "task", "{r}");
    assert_eq!(r["result"]["id"], t["id"]);
    assert_eq!(r["result"]["status"]["state"], "completed");
    assert_eq!(
        r["result"]["status"]["message"]["parts"][0]["text"],
        "just this"
    );
    assert_eq!(r["result"]["history"].as_array().unwrap().len(), 4);

    let r = a.rpc("message/send", send_params("bad"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed");
    assert!(status_text(&r).contains("events[0]"), "{r}");
}

fn jsonl_agent(script: &str) -> Agent {
    Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND_FORMAT", "jsonl"),
        ("AGENT_COMMAND", &format!("sh -c '{script}'")),
    ])
}

#[test]
fn hostile_jsonl_output_fails_the_task_and_the_agent_lives_on() {
    for (script, says) in [
        ("echo not-json", "invalid event on line 1: not JSON"),
        ("head -c 6000000 /dev/zero | tr \"\\0\" x", "longer than"),
        (
            "echo \"{\\\"kind\\\":\\\"status-update\\\",\\\"status\\\":{\\\"state\\\":\\\"submitted\\\"}}\"",
            "not one a backend may set",
        ),
    ] {
        let a = jsonl_agent(script);
        let r = a.rpc("message/send", send_params("x"), &[]);
        assert_eq!(r["result"]["status"]["state"], "failed", "{script}: {r}");
        assert!(status_text(&r).contains(says), "{script}: {r}");
        // still answering, and the same way
        let again = a.rpc("message/send", send_params("y"), &[]);
        assert_eq!(again["result"]["status"]["state"], "failed", "{again}");
    }
}

#[test]
fn a_jsonl_program_that_says_nothing_completes_like_a_silent_text_one() {
    let a = jsonl_agent("cat >/dev/null");
    let r = a.rpc("message/send", send_params("x"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
    assert_eq!(r["result"]["artifacts"][0]["parts"][0]["text"], "");
}

/// The README's code block that starts with `fence` in the jsonl section.
fn readme_example(fence: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let section = &readme[readme.find("### The jsonl backend protocol").unwrap()..];
    let start = section.find(fence).unwrap() + fence.len();
    let end = start + section[start..].find("\n```\n").unwrap();
    section[start..end].to_string()
}

fn example_agent(program: &str, file: &str, code: &str) -> Agent {
    let dir = temp_dir("readme-example");
    let path = dir.join(file);
    std::fs::write(&path, code).unwrap();
    Agent::start(&[
        ("AGENT_BACKEND", "command"),
        ("AGENT_COMMAND_FORMAT", "jsonl"),
        ("AGENT_COMMAND", &format!("{program} {}", path.display())),
    ])
}

#[test]
fn the_readme_examples_work_as_documented() {
    let py = example_agent("python3", "ask.py", &readme_example("```python\n"));
    let t = py.rpc("message/send", send_params("weather?"), &[])["result"].clone();
    assert_eq!(t["status"]["state"], "input-required", "{t}");
    let follow = json!({"message": {"parts": [{"text": "Oslo"}], "taskId": t["id"]}});
    let r = py.rpc("message/send", follow, &[]);
    assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
    assert_eq!(
        r["result"]["artifacts"][0]["parts"][0]["data"]["city"],
        "Oslo"
    );

    let sh = example_agent("sh", "ping.sh", &readme_example("```sh\n"));
    let r = sh.rpc("message/send", send_params("ping"), &[]);
    assert_eq!(r["result"]["kind"], "message", "{r}");
    assert_eq!(r["result"]["parts"][0]["text"], "pong");
    let r = sh.rpc("message/send", send_params("other"), &[]);
    assert_eq!(r["result"]["status"]["state"], "rejected", "{r}");
}
