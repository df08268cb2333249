#![no_main]
use libfuzzer_sys::fuzz_target;

// Raw bytes of one connection; fuzz/http_connection.dict and the seeds in
// fuzz/regressions/http_connection/ give libFuzzer the shape of real
// requests (heads, framing headers, chunked bodies, JSON-RPC calls).
fuzz_target!(|data: &[u8]| workspace_agent::fuzz_checks::http_connection(data));
