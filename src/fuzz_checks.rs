//! The properties the fuzz targets check, kept in the library so that
//! `tests/fuzz_regressions.rs` replays every saved input on each `make test`
//! (stable Rust, no fuzzer needed) and `fuzz/` drives them with libFuzzer.
//!
//! Each function must never panic on any input; the assertions inside are
//! the properties (a params error is `invalid params` naming the path; a
//! decoded message re-encodes in either generation and decodes to itself).

use crate::backend::parse_sse_line;
use crate::protocol::model::Message;
use crate::protocol::{codes, common, parse_request, v03, v10, DecodeLimits, Method, RpcError};
use serde_json::Value;

/// Every A2A method name of both generations, as the fuzzers call them.
pub const METHOD_NAMES: [&str; 21] = [
    "message/send",
    "message/stream",
    "tasks/get",
    "tasks/cancel",
    "tasks/resubscribe",
    "tasks/pushNotificationConfig/set",
    "tasks/pushNotificationConfig/get",
    "tasks/pushNotificationConfig/list",
    "tasks/pushNotificationConfig/delete",
    "agent/getAuthenticatedExtendedCard",
    "SendMessage",
    "SendStreamingMessage",
    "GetTask",
    "ListTasks",
    "CancelTask",
    "SubscribeToTask",
    "CreateTaskPushNotificationConfig",
    "GetTaskPushNotificationConfig",
    "ListTaskPushNotificationConfigs",
    "DeleteTaskPushNotificationConfig",
    "GetExtendedAgentCard",
];

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

/// The params decoders on arbitrary bytes. A JSON-RPC request of a known
/// method is decoded as the server decodes it; any other JSON value is tried
/// as the params of every method and as a bare message.
pub fn message_decoders(data: &[u8]) {
    let limits = DecodeLimits::default();
    if let Ok(req) = parse_request(data, &limits) {
        if let Some((method, _)) = Method::from_name(&req.method) {
            return a2a_params(method, &req.params);
        }
    }
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for name in METHOD_NAMES {
        if let Some((method, _)) = Method::from_name(name) {
            a2a_params(method, &v);
        }
    }
    match common::decode_message(&v, "m", &limits) {
        Ok(m) => round_trips(&m),
        Err(e) => assert_invalid_params(&e, "m"),
    }
}

/// One call's params through the decoder `service::dispatch` picks for its
/// method.
pub fn a2a_params(method: Method, params: &Value) {
    let limits = DecodeLimits::default();
    let checked = match method {
        Method::Send | Method::Stream => {
            common::decode_send(params, &limits).map(|p| round_trips(&p.message))
        }
        Method::GetTask | Method::Cancel | Method::Subscribe => {
            common::decode_task_ref(params).map(|r| assert!(!r.id.is_empty()))
        }
        Method::ListTasks => v10::decode_list(params).map(|l| {
            assert!(l
                .page_size
                .is_none_or(|n| (1..=v10::MAX_PAGE_SIZE).contains(&n)));
        }),
        // answered without reading params
        Method::PushSet
        | Method::PushGet
        | Method::PushList
        | Method::PushDelete
        | Method::ExtendedCard => Ok(()),
    };
    if let Err(e) = checked {
        assert_invalid_params(&e, "params");
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

fn assert_invalid_params(e: &RpcError, path: &str) {
    assert_eq!(e.code, codes::INVALID_PARAMS, "{e}");
    assert!(e.message.starts_with(path), "the error names the path: {e}");
}

/// A decoded message encodes in both generations and decodes to itself.
fn round_trips(m: &Message) {
    let limits = DecodeLimits::default();
    let back =
        common::decode_message(&v10::encode_message(m), "m", &limits).expect("1.0 re-decode");
    assert_eq!(&back, m);
    let back =
        common::decode_message(&v03::encode_message(m), "m", &limits).expect("0.3 re-decode");
    assert_eq!(&back, m);
}

/// The OpenAI backend's server-sent-event line parser.
pub fn sse_line(data: &[u8]) {
    let _ = parse_sse_line(&String::from_utf8_lossy(data));
}

/// A jsonl backend's output on arbitrary bytes: each line decodes to an
/// event or an error, never a panic, and how the bytes are split into reads
/// does not change what is decoded.
pub fn backend_events(data: &[u8]) {
    use crate::backend::{decode_event, EventLimits, Lines};
    let limits = EventLimits {
        max_line: 4096,
        max_events: 64,
        ..EventLimits::default()
    };
    let _ = decode_event(data, &limits);
    let collect = |split: usize| {
        let mut lines = Lines::new(limits);
        let mut seen = Vec::new();
        let (a, b) = data.split_at(split.min(data.len()));
        let r = lines
            .feed(a, &mut |e| seen.push(e))
            .and_then(|()| lines.feed(b, &mut |e| seen.push(e)))
            .and_then(|()| lines.finish(&mut |e| seen.push(e)));
        (r, seen)
    };
    let whole = collect(data.len());
    let halves = collect(data.len() / 2);
    assert_eq!(whole, halves, "the split changed what was decoded");
}

/// The store's task packer: any bytes unpack without a panic (and what
/// they unpack to packs again to the same task); a task built from the
/// bytes (`fuzz_task`) packs and reads back unchanged, header included.
pub fn task_pack(data: &[u8]) {
    use crate::store::pack::{header, pack, unpack};
    if let Some(t) = unpack(data) {
        assert_eq!(header(data), Some((t.status.state, t.context_id.as_str())));
        let again = pack(&t).expect("an unpacked task packs");
        assert_eq!(unpack(&again).as_ref(), Some(&t));
    }
    let t = crate::fuzz_task::Gen::new(data).task();
    let bytes = pack(&t).expect("the generator stays within the packer's depth");
    assert_eq!(
        header(&bytes),
        Some((t.status.state, t.context_id.as_str()))
    );
    assert_eq!(unpack(&bytes).as_ref(), Some(&t));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn method_names_are_all_known() {
        for name in METHOD_NAMES {
            assert!(Method::from_name(name).is_some(), "{name}");
        }
    }
}
