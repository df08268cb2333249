//! The task store's byte bound holds against what clients put in any field,
//! measured on the real binary's resident memory.

mod common;

use common::*;
use serde_json::{json, Value};
use std::time::Duration;

const STORE_BYTES: usize = 4 << 20;
const MIB: u64 = 1024;

/// `VmRSS` or `VmHWM` of `pid`, in KiB.
fn store_bytes(a: &Agent) -> usize {
    let (_, _, body) = http(a.port, "GET", "/metrics", &[], b"").unwrap();
    String::from_utf8_lossy(&body)
        .lines()
        .find_map(|l| l.strip_prefix("workspace_agent_task_store_bytes "))
        .and_then(|n| n.trim().parse().ok())
        .expect("the store's bytes in /metrics")
}

/// A small text message whose only big field is `field`, holding `big`.
fn message_with(field: &str, big: &str, i: usize) -> Value {
    let mut m = json!({"role": "user", "messageId": format!("m-{i}"),
        "parts": [{"kind": "text", "text": "hi"}]});
    m[field] = match field {
        "metadata" => json!({"blob": big}),
        _ => json!([big]),
    };
    json!({ "message": m })
}

#[test]
fn megabyte_fields_stay_within_the_store_bound() {
    let a = Agent::start(&[("MAX_TASK_STORE_BYTES", &STORE_BYTES.to_string())]);
    let pid = a.child.id();
    let big = "e".repeat(1_000_000);
    let fields = ["extensions", "metadata", "referenceTaskIds"];
    for i in 0..150 {
        let field = fields[i % fields.len()];
        let r = a.rpc("message/send", message_with(field, &big, i), &[]);
        // the reply echoes the megabyte: show only what matters
        assert_eq!(
            r["result"]["status"]["state"], "completed",
            "send {i} ({field}): {}",
            r["error"]
        );
    }
    let stored = store_bytes(&a);
    assert!(
        (1_000_000..=STORE_BYTES).contains(&stored),
        "the store counts the megabytes and keeps to its bound: {stored}"
    );
    // freed memory goes back to the kernel at the next periodic trim
    let bounded = eventually(Duration::from_secs(15), || {
        status_kib(pid, "VmRSS:") < 32 * MIB
    });
    assert!(
        bounded,
        "RSS {} KiB (peak {} KiB) with {stored} bytes stored",
        status_kib(pid, "VmRSS:"),
        status_kib(pid, "VmHWM:")
    );
    still_fine(&a);
}
