//! Replays every saved fuzz input (seeds and crashes found, in
//! fuzz/regressions/<target>/) through the same checks the fuzzers run, so a
//! fixed crash stays fixed on stable Rust without a fuzzer.

use std::path::Path;
use workspace_agent::fuzz_checks;

fn replay(target: &str, check: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/regressions")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        let result = std::panic::catch_unwind(|| check(&data));
        assert!(result.is_ok(), "{target}: {} panics", path.display());
        n += 1;
    }
    n
}

#[test]
fn saved_inputs_still_pass() {
    assert!(replay("jsonrpc_request", fuzz_checks::jsonrpc_request) > 0);
    assert!(replay("message_decoders", fuzz_checks::message_decoders) > 0);
    assert!(replay("sse_line", fuzz_checks::sse_line) > 0);
    assert!(replay("http_connection", fuzz_checks::http_connection) > 0);
    assert!(replay("backend_events", fuzz_checks::backend_events) > 0);
    assert!(replay("task_pack", fuzz_checks::task_pack) > 0);
}

/// The HTTP harness is the real thing: a saved send is echoed, a chunked
/// send is followed by the next request on the same connection, and a
/// smuggling attempt gets one answer that closes.
#[test]
fn the_http_harness_serves_real_requests() {
    let seed = |name: &str| {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/http_connection");
        let out = workspace_agent::server::fuzz_connection(&std::fs::read(dir.join(name)).unwrap());
        String::from_utf8_lossy(&out).to_string()
    };
    let out = seed("send-length");
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    assert!(out.contains(r#""text":"hi""#), "{out}");
    let out = seed("send-chunked-then-metrics");
    assert_eq!(out.matches("HTTP/1.1 200").count(), 2, "{out}");
    assert!(out.contains("workspace_agent_"), "{out}");
    let out = seed("smuggle-early-answer");
    assert_eq!(out.matches("HTTP/1.1 ").count(), 1, "{out}");
    assert!(out.contains("Connection: close"), "{out}");
    assert!(seed("stream-v10").contains("text/event-stream"));
}
