//! The JSON-RPC envelope decoder, on the raw input and on an A2A call built
//! from the same bytes (see `a2a_json`).
#![no_main]
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use workspace_agent::fuzz_checks;

mod a2a_json;

fuzz_target!(|data: &[u8]| {
    fuzz_checks::jsonrpc_request(data);
    if let Ok(body) = a2a_json::call(&mut Unstructured::new(data)) {
        fuzz_checks::jsonrpc_request(body.as_bytes());
    }
});
