#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| workspace_agent::fuzz_checks::task_pack(data));
