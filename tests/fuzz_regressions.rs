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
}
