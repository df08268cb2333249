//! JSON-RPC 2.0 and the two A2A wire generations.
//!
//! Invariant: no I/O and no sockets here. Bytes in, typed requests out;
//! model values in, `serde_json::Value` out. `common`, `v03` and `v10` are
//! the only places that know what the wire looks like; `v03` and `v10`
//! share through `common` and never import each other.

pub(crate) mod common;
pub(crate) mod model;
pub(crate) mod v03;
pub(crate) mod v10;
pub(crate) mod wire;

use serde_json::{json, Map, Value};

/// The protocol generation a request speaks, which decides the shape of the
/// answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V03,
    V10,
}

impl Version {
    /// Reads the `A2A-Version` header: absent or empty means 0.3.
    pub fn from_header(h: Option<&str>) -> Result<Option<Version>, RpcError> {
        match h.map(str::trim) {
            None | Some("") => Ok(None),
            Some("0.3") | Some("0.3.0") => Ok(Some(Version::V03)),
            Some("1") | Some("1.0") | Some("1.0.0") => Ok(Some(Version::V10)),
            Some(other) => Err(RpcError::new(
                codes::VERSION_NOT_SUPPORTED,
                format!("A2A protocol version {other:?} is not supported (supported: 0.3, 1.0)"),
            )),
        }
    }
}

pub mod codes {
    pub const PARSE_ERROR: i64 = -32700;
    pub const INVALID_REQUEST: i64 = -32600;
    pub const METHOD_NOT_FOUND: i64 = -32601;
    pub const INVALID_PARAMS: i64 = -32602;
    pub const INTERNAL: i64 = -32603;
    pub const TASK_NOT_FOUND: i64 = -32001;
    pub const TASK_NOT_CANCELABLE: i64 = -32002;
    pub const PUSH_NOT_SUPPORTED: i64 = -32003;
    pub const UNSUPPORTED_OPERATION: i64 = -32004;
    pub const CONTENT_TYPE_NOT_SUPPORTED: i64 = -32005;
    pub const INVALID_AGENT_RESPONSE: i64 = -32006;
    pub const EXTENDED_CARD_NOT_CONFIGURED: i64 = -32007;
    pub const VERSION_NOT_SUPPORTED: i64 = -32009;
}

/// A JSON-RPC error as the agent answers it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>) -> RpcError {
        RpcError {
            code,
            message: message.into(),
        }
    }

    pub fn invalid_params(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INVALID_PARAMS, message)
    }

    pub fn internal(message: impl Into<String>) -> RpcError {
        RpcError::new(codes::INTERNAL, message)
    }

    pub fn task_not_found(id: &str) -> RpcError {
        RpcError::new(codes::TASK_NOT_FOUND, format!("task {id:?} not found"))
    }

    /// The `google.rpc.ErrorInfo` reason 1.0 clients switch on.
    pub fn reason(&self) -> &'static str {
        match self.code {
            codes::PARSE_ERROR => "PARSE_ERROR",
            codes::INVALID_REQUEST => "INVALID_REQUEST",
            codes::METHOD_NOT_FOUND => "METHOD_NOT_FOUND",
            codes::INVALID_PARAMS => "INVALID_PARAMS",
            codes::TASK_NOT_FOUND => "TASK_NOT_FOUND",
            codes::TASK_NOT_CANCELABLE => "TASK_NOT_CANCELABLE",
            codes::PUSH_NOT_SUPPORTED => "PUSH_NOTIFICATION_NOT_SUPPORTED",
            codes::UNSUPPORTED_OPERATION => "UNSUPPORTED_OPERATION",
            codes::CONTENT_TYPE_NOT_SUPPORTED => "CONTENT_TYPE_NOT_SUPPORTED",
            codes::INVALID_AGENT_RESPONSE => "INVALID_AGENT_RESPONSE",
            codes::EXTENDED_CARD_NOT_CONFIGURED => "EXTENDED_AGENT_CARD_NOT_CONFIGURED",
            codes::VERSION_NOT_SUPPORTED => "VERSION_NOT_SUPPORTED",
            _ => "INTERNAL_ERROR",
        }
    }
}

impl std::fmt::Display for RpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.code)
    }
}

/// The A2A operations, whatever they are called on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Send,
    Stream,
    GetTask,
    ListTasks,
    Cancel,
    Subscribe,
    PushSet,
    PushGet,
    PushList,
    PushDelete,
    ExtendedCard,
}

impl Method {
    /// Every operation, in `index` order: metrics keep one slot per entry.
    pub const ALL: [Method; 11] = [
        Method::Send,
        Method::Stream,
        Method::GetTask,
        Method::ListTasks,
        Method::Cancel,
        Method::Subscribe,
        Method::PushSet,
        Method::PushGet,
        Method::PushList,
        Method::PushDelete,
        Method::ExtendedCard,
    ];
    pub const COUNT: usize = Method::ALL.len();

    /// The position in `ALL` (a test checks the two agree).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Maps a wire name to an operation and the generation that name belongs to.
    pub fn from_name(name: &str) -> Option<(Method, Version)> {
        use Method::*;
        use Version::*;
        Some(match name {
            "message/send" => (Send, V03),
            "message/stream" => (Stream, V03),
            "tasks/get" => (GetTask, V03),
            "tasks/cancel" => (Cancel, V03),
            "tasks/resubscribe" => (Subscribe, V03),
            "tasks/pushNotificationConfig/set" => (PushSet, V03),
            "tasks/pushNotificationConfig/get" => (PushGet, V03),
            "tasks/pushNotificationConfig/list" => (PushList, V03),
            "tasks/pushNotificationConfig/delete" => (PushDelete, V03),
            "agent/getAuthenticatedExtendedCard" => (ExtendedCard, V03),
            "SendMessage" => (Send, V10),
            "SendStreamingMessage" => (Stream, V10),
            "GetTask" => (GetTask, V10),
            "ListTasks" => (ListTasks, V10),
            "CancelTask" => (Cancel, V10),
            "SubscribeToTask" => (Subscribe, V10),
            "CreateTaskPushNotificationConfig" => (PushSet, V10),
            "GetTaskPushNotificationConfig" => (PushGet, V10),
            "ListTaskPushNotificationConfigs" => (PushList, V10),
            "DeleteTaskPushNotificationConfig" => (PushDelete, V10),
            "GetExtendedAgentCard" => (ExtendedCard, V10),
            _ => return None,
        })
    }

    /// Whether the call may hold its worker past reading the request: a
    /// send runs the backend, a stream or a subscription writes events
    /// until the task ends. The rest answer from the store at once.
    pub fn is_long(self) -> bool {
        matches!(self, Method::Send | Method::Stream | Method::Subscribe)
    }

    /// Whether the call is still answered while the agent stops: reading a
    /// task lets a client collect a result; anything else is refused.
    pub fn serves_while_stopping(self) -> bool {
        self == Method::GetTask
    }

    /// The label used in logs and metrics (fixed set: no user data).
    pub fn label(self) -> &'static str {
        use Method::*;
        match self {
            Send => "send",
            Stream => "stream",
            GetTask => "get_task",
            ListTasks => "list_tasks",
            Cancel => "cancel",
            Subscribe => "subscribe",
            PushSet => "push_config_set",
            PushGet => "push_config_get",
            PushList => "push_config_list",
            PushDelete => "push_config_delete",
            ExtendedCard => "extended_card",
        }
    }
}

/// A decoded JSON-RPC request envelope.
#[derive(Debug, Clone)]
pub struct RpcRequest {
    pub id: Value,
    pub method: String,
    pub params: Value,
}

impl RpcRequest {
    /// Resolves the method name, once for the whole request: `header` is
    /// the request's `A2A-Version`; without it the generation follows the
    /// name. An unknown name is refused with `METHOD_NOT_FOUND`.
    pub fn into_call(self, header: Option<Version>) -> Result<Call, Refused> {
        let Some((method, named)) = Method::from_name(&self.method) else {
            let e = RpcError::new(
                codes::METHOD_NOT_FOUND,
                format!("method {:?} is not supported", self.method),
            );
            return Err(Refused::new(self.id, e));
        };
        Ok(Call {
            id: self.id,
            method,
            version: header.unwrap_or(named),
            params: self.params,
        })
    }
}

/// A request refused before its method ran: the error, and the request's
/// id to echo (null when it could not be read).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    pub id: Value,
    pub error: RpcError,
}

impl Refused {
    fn new(id: Value, error: RpcError) -> Refused {
        Refused { id, error }
    }
}

/// A request of a known method, and the generation to answer in.
#[derive(Debug, Clone)]
pub struct Call {
    pub id: Value,
    pub method: Method,
    pub version: Version,
    pub params: Value,
}

/// Limits applied while decoding, so hostile input is refused before it is
/// stored.
#[derive(Debug, Clone, Copy)]
pub struct DecodeLimits {
    pub max_depth: usize,
    pub max_parts: usize,
    pub max_part_bytes: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_depth: 32,
            max_parts: 64,
            max_part_bytes: 1 << 20,
        }
    }
}

/// Decodes a request body.
pub fn parse_request(body: &[u8], limits: &DecodeLimits) -> Result<RpcRequest, Refused> {
    if let Some(depth) = nesting_exceeds(body, limits.max_depth) {
        return Err(Refused::new(
            Value::Null,
            RpcError::new(
                codes::PARSE_ERROR,
                format!("JSON nested deeper than {depth} levels is not accepted"),
            ),
        ));
    }
    let v: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => {
            return Err(Refused::new(
                Value::Null,
                RpcError::new(codes::PARSE_ERROR, format!("body is not valid JSON: {e}")),
            ))
        }
    };
    let Value::Object(mut obj) = v else {
        let what = if v.is_array() {
            "batch requests are not supported; send one JSON-RPC request object"
        } else {
            "body is not a JSON-RPC request object"
        };
        return Err(Refused::new(
            Value::Null,
            RpcError::new(codes::INVALID_REQUEST, what),
        ));
    };
    let id = match obj.remove("id") {
        None => Value::Null,
        Some(id @ (Value::String(_) | Value::Number(_) | Value::Null)) => id,
        Some(_) => {
            return Err(Refused::new(
                Value::Null,
                RpcError::new(
                    codes::INVALID_REQUEST,
                    "\"id\" must be a string, a number or null",
                ),
            ))
        }
    };
    if obj.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
        return Err(Refused::new(
            id,
            RpcError::new(codes::INVALID_REQUEST, "\"jsonrpc\" must be \"2.0\""),
        ));
    }
    let method = match obj.remove("method") {
        Some(Value::String(m)) => m,
        _ => {
            return Err(Refused::new(
                id,
                RpcError::new(codes::INVALID_REQUEST, "\"method\" must be a string"),
            ))
        }
    };
    let params = obj.remove("params").unwrap_or(Value::Null);
    if !matches!(params, Value::Object(_) | Value::Null) {
        return Err(Refused::new(
            id,
            RpcError::invalid_params("\"params\" must be an object"),
        ));
    }
    Ok(RpcRequest { id, method, params })
}

/// Scans for nesting deeper than `max` without building anything, so a body
/// of 100k `[` is refused in linear time and constant memory.
pub(crate) fn nesting_exceeds(body: &[u8], max: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    for &b in body {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return Some(max);
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

/// `error` serialized: the body of every JSON-RPC error answer.
pub fn error_bytes(id: &Value, err: &RpcError, version: Version) -> Vec<u8> {
    wire::to_bytes(&error(id, err, version), 0)
}

/// Encodes an error: 1.0 carries `data` as an array holding a
/// `google.rpc.ErrorInfo`; 0.3 clients get the plain object.
pub fn error(id: &Value, err: &RpcError, version: Version) -> Value {
    let mut e = Map::new();
    e.insert("code".into(), json!(err.code));
    e.insert("message".into(), json!(err.message));
    if version == Version::V10 {
        e.insert(
            "data".into(),
            json!([{
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": err.reason(),
                "domain": "a2a-protocol.org",
            }]),
        );
    }
    json!({"jsonrpc": "2.0", "id": id, "error": Value::Object(e)})
}

/// Parameters of a send, in either generation.
#[derive(Debug, Clone)]
pub struct SendParams {
    pub message: model::Message,
    pub blocking: bool,
    pub history_length: Option<usize>,
    pub accepted_output_modes: Vec<String>,
    pub has_push_config: bool,
}

/// Parameters of `ListTasks` (1.0).
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    pub context_id: Option<String>,
    pub status: Option<model::TaskState>,
    pub page_size: Option<usize>,
    pub page_token: Option<String>,
    pub history_length: Option<usize>,
    pub status_timestamp_after: Option<std::time::SystemTime>,
    pub include_artifacts: bool,
}

/// Parameters of get/cancel/subscribe.
#[derive(Debug, Clone)]
pub struct TaskRef {
    pub id: String,
    pub history_length: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn methods_are_listed_in_index_order_with_distinct_labels() {
        let mut labels = std::collections::HashSet::new();
        for (i, m) in Method::ALL.iter().enumerate() {
            assert_eq!(m.index(), i, "{m:?}");
            assert!(labels.insert(m.label()), "{m:?}");
        }
    }

    #[test]
    fn envelope_errors_have_the_right_codes() {
        let l = DecodeLimits::default();
        assert_eq!(
            parse_request(b"{nope", &l).unwrap_err().error.code,
            codes::PARSE_ERROR
        );
        assert_eq!(
            parse_request(b"[]", &l).unwrap_err().error.code,
            codes::INVALID_REQUEST
        );
        assert_eq!(
            parse_request(b"42", &l).unwrap_err().error.code,
            codes::INVALID_REQUEST
        );
        let Refused { id, error: e } = parse_request(br#"{"id":7,"method":"x"}"#, &l).unwrap_err();
        assert_eq!((id, e.code), (json!(7), codes::INVALID_REQUEST));
        let Refused { id, error: e } = parse_request(
            br#"{"jsonrpc":"2.0","id":"a","method":"m","params":[1]}"#,
            &l,
        )
        .unwrap_err();
        assert_eq!((id, e.code), (json!("a"), codes::INVALID_PARAMS));
        let r = parse_request(br#"{"jsonrpc":"2.0","id":"a","method":"m"}"#, &l).unwrap();
        assert_eq!(r.method, "m");
    }

    #[test]
    fn deep_nesting_is_refused_without_parsing() {
        let l = DecodeLimits::default();
        let deep = "[".repeat(100_000);
        assert_eq!(
            parse_request(deep.as_bytes(), &l).unwrap_err().error.code,
            codes::PARSE_ERROR
        );
        // brackets inside strings do not count
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":1,"method":"{}"}}"#,
            "[".repeat(100)
        );
        assert!(parse_request(body.as_bytes(), &l).is_ok());
    }

    #[test]
    fn versions_from_header() {
        assert_eq!(Version::from_header(None).unwrap(), None);
        assert_eq!(Version::from_header(Some("")).unwrap(), None);
        assert_eq!(
            Version::from_header(Some("1.0")).unwrap(),
            Some(Version::V10)
        );
        assert_eq!(
            Version::from_header(Some("0.3")).unwrap(),
            Some(Version::V03)
        );
        assert_eq!(
            Version::from_header(Some("99.0")).unwrap_err().code,
            codes::VERSION_NOT_SUPPORTED
        );
    }

    #[test]
    fn v10_errors_carry_error_info() {
        let e = error(&json!(1), &RpcError::task_not_found("x"), Version::V10);
        assert_eq!(e["error"]["data"][0]["reason"], "TASK_NOT_FOUND");
        assert_eq!(
            e["error"]["data"][0]["@type"],
            "type.googleapis.com/google.rpc.ErrorInfo"
        );
        let e = error(&json!(1), &RpcError::task_not_found("x"), Version::V03);
        assert!(e["error"].get("data").is_none());
    }
}
