//! The properties the fuzz targets check, kept in the library so that
//! `tests/fuzz_regressions.rs` replays every saved input on each `make test`
//! (stable Rust, no fuzzer needed) and `fuzz/` drives them with libFuzzer.
//!
//! Each function must never panic on any input; the assertions inside are
//! the properties (a decoded value re-encodes and decodes to itself).

use crate::backend::parse_sse_line;
use crate::protocol::{parse_request, v03, v10, DecodeLimits};
use serde_json::Value;

/// The JSON-RPC envelope decoder on arbitrary bytes.
pub fn jsonrpc_request(data: &[u8]) {
    let limits = DecodeLimits::default();
    if let Ok(req) = parse_request(data, &limits) {
        assert!(req.params.is_object() || req.params.is_null());
        assert!(matches!(
            req.id,
            Value::Null | Value::String(_) | Value::Number(_)
        ));
    }
}

/// Message, part, send and list decoders of both generations; whatever
/// decodes must survive a round trip through the other generation.
pub fn message_decoders(data: &[u8]) {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let limits = DecodeLimits::default();
    let _ = v03::decode_send(&v, &limits);
    let _ = v10::decode_send(&v, &limits);
    let _ = v10::decode_list(&v);
    let _ = v03::decode_task_ref(&v);
    if let Ok(m) = v03::decode_message(&v, "m", &limits) {
        let back =
            v10::decode_message(&v10::encode_message(&m), "m", &limits).expect("1.0 re-decode");
        assert_eq!(back, m);
        let again =
            v03::decode_message(&v03::encode_message(&m), "m", &limits).expect("0.3 re-decode");
        assert_eq!(again, m);
    }
    if let Ok(m) = v10::decode_message(&v, "m", &limits) {
        let back =
            v03::decode_message(&v03::encode_message(&m), "m", &limits).expect("0.3 re-decode");
        assert_eq!(back, m);
    }
}

/// The agent's HTTP layer on the bytes of one connection: tiny_http's
/// request reading and framing with the agent's limits, then the real
/// routes, body caps, JSON-RPC and the echo backend. Whatever comes back
/// starts as an HTTP answer (HTTP/1.0 ones to HTTP/1.0 requests); a panic
/// anywhere is a finding.
pub fn http_connection(data: &[u8]) {
    let out = crate::server::fuzz_connection(data);
    assert!(
        out.is_empty() || out.starts_with(b"HTTP/1.1 ") || out.starts_with(b"HTTP/1.0 "),
        "not an HTTP answer: {:?}",
        String::from_utf8_lossy(&out[..out.len().min(64)])
    );
}

/// The OpenAI backend's server-sent-event line parser.
pub fn sse_line(data: &[u8]) {
    let _ = parse_sse_line(&String::from_utf8_lossy(data));
}
