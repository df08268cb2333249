//! The params decoders of every A2A method, on the raw input and on a
//! JSON-RPC call built from the same bytes (see `a2a_json`); the properties
//! are in `workspace_agent::fuzz_checks`.
#![no_main]
use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;
use workspace_agent::fuzz_checks;

mod a2a_json;

fuzz_target!(|data: &[u8]| {
    fuzz_checks::message_decoders(data);
    if let Ok(body) = a2a_json::call(&mut Unstructured::new(data)) {
        fuzz_checks::message_decoders(body.as_bytes());
    }
});
