//! What the two wire generations share: field helpers, the names of states
//! and roles in both spellings, the decoders of parts, messages and params,
//! and the encoding of messages and artifacts around their parts.
//!
//! Clients mix the generations' shapes (a 0.3 part in `SendMessage`, a 1.0
//! part in `message/send`), so there is one decoder for both: the method
//! only decides how the answer is encoded.
//!
//! Invariant: `v03` and `v10` use this module and never each other, and
//! nothing here recurses on client data. Each decoder walks a fixed number
//! of levels; the nesting of free-form values (`data`, `metadata`) is
//! bounded once, by `parse_request`.

use super::model::*;
use super::{DecodeLimits, RpcError, SendParams, TaskRef, Version};
use serde_json::{Map, Value};

// ---- names in both generations ---------------------------------------------

pub fn state_name(s: TaskState, v: Version) -> &'static str {
    let (v03, v10) = match s {
        TaskState::Submitted => ("submitted", "TASK_STATE_SUBMITTED"),
        TaskState::Working => ("working", "TASK_STATE_WORKING"),
        TaskState::InputRequired => ("input-required", "TASK_STATE_INPUT_REQUIRED"),
        TaskState::AuthRequired => ("auth-required", "TASK_STATE_AUTH_REQUIRED"),
        TaskState::Completed => ("completed", "TASK_STATE_COMPLETED"),
        TaskState::Canceled => ("canceled", "TASK_STATE_CANCELED"),
        TaskState::Failed => ("failed", "TASK_STATE_FAILED"),
        TaskState::Rejected => ("rejected", "TASK_STATE_REJECTED"),
    };
    match v {
        Version::V03 => v03,
        Version::V10 => v10,
    }
}

pub fn role_name(r: Role, v: Version) -> &'static str {
    match (r, v) {
        (Role::User, Version::V03) => "user",
        (Role::Agent, Version::V03) => "agent",
        (Role::User, Version::V10) => "ROLE_USER",
        (Role::Agent, Version::V10) => "ROLE_AGENT",
    }
}

/// Reads a state in either generation's spelling (clients mix them up).
pub fn parse_state(name: &str) -> Option<TaskState> {
    TaskState::ALL
        .into_iter()
        .find(|s| state_name(*s, Version::V03) == name || state_name(*s, Version::V10) == name)
}

fn parse_role(name: &str) -> Option<Role> {
    [Role::User, Role::Agent]
        .into_iter()
        .find(|r| role_name(*r, Version::V03) == name || role_name(*r, Version::V10) == name)
}

// ---- field helpers -----------------------------------------------------------

/// Looks a field up by its lowerCamelCase name, then its snake_case name
/// (protobuf JSON parsers accept both).
pub(crate) fn field<'a>(obj: &'a Map<String, Value>, camel: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(camel) {
        return Some(v);
    }
    let snake = to_snake(camel);
    if snake != camel {
        obj.get(&snake)
    } else {
        None
    }
}

fn to_snake(camel: &str) -> String {
    let mut s = String::with_capacity(camel.len() + 4);
    for c in camel.chars() {
        if c.is_ascii_uppercase() {
            s.push('_');
            s.push(c.to_ascii_lowercase());
        } else {
            s.push(c);
        }
    }
    s
}

pub(crate) fn as_object<'a>(v: &'a Value, path: &str) -> Result<&'a Map<String, Value>, RpcError> {
    v.as_object()
        .ok_or_else(|| RpcError::invalid_params(format!("{path} must be an object")))
}

pub(crate) fn params_object(params: &Value) -> Result<&Map<String, Value>, RpcError> {
    match params {
        Value::Object(m) => Ok(m),
        _ => Err(RpcError::invalid_params("params are required")),
    }
}

pub(crate) fn opt_str(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<String>, RpcError> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(RpcError::invalid_params(format!(
            "{path}.{name} must be a string"
        ))),
    }
}

pub(crate) fn req_str(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<String, RpcError> {
    match opt_str(obj, name, path)? {
        Some(s) if !s.is_empty() => Ok(s),
        _ => Err(RpcError::invalid_params(format!(
            "{path}.{name} is required (a non-empty string)"
        ))),
    }
}

pub(crate) fn opt_bool(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<bool>, RpcError> {
    match field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(RpcError::invalid_params(format!(
            "{path}.{name} must be a boolean"
        ))),
    }
}

/// A non-negative integer that fits `u32` (protobuf int32 fields may arrive
/// as strings in JSON).
pub(crate) fn opt_count(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Option<usize>, RpcError> {
    let bad = || RpcError::invalid_params(format!("{path}.{name} must be a non-negative integer"));
    match field(obj, name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let v = n.as_u64().ok_or_else(bad)?;
            if v > u64::from(u32::MAX) {
                return Err(bad());
            }
            Ok(Some(v as usize))
        }
        Some(Value::String(s)) => s
            .parse::<u32>()
            .map(|v| Some(v as usize))
            .map_err(|_| bad()),
        Some(_) => Err(bad()),
    }
}

pub(crate) fn opt_metadata(
    obj: &Map<String, Value>,
    path: &str,
) -> Result<Option<Map<String, Value>>, RpcError> {
    match field(obj, "metadata") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m.clone())),
        Some(_) => Err(RpcError::invalid_params(format!(
            "{path}.metadata must be an object"
        ))),
    }
}

pub(crate) fn opt_str_list(
    obj: &Map<String, Value>,
    name: &str,
    path: &str,
) -> Result<Vec<String>, RpcError> {
    let bad = || RpcError::invalid_params(format!("{path}.{name} must be a list of strings"));
    match field(obj, name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Some(_) => Err(bad()),
    }
}

// ---- parts -------------------------------------------------------------------

/// What a part holds, decided once from its keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    Text,
    /// 0.3: `{"file": {"bytes" | "uri", "name", "mimeType"}}`
    File,
    Data,
    /// 1.0: `{"raw", "filename", "mediaType"}`
    Raw,
    /// 1.0: `{"url", "filename", "mediaType"}`
    Url,
}

/// The members that hold a part's content, in either generation.
const MEMBERS: [(&str, Shape); 5] = [
    ("text", Shape::Text),
    ("file", Shape::File),
    ("data", Shape::Data),
    ("raw", Shape::Raw),
    ("url", Shape::Url),
];

/// Decides the shape: a 0.3 `kind` (or the platform's `type`) names it;
/// otherwise exactly one content member must be there, as in 1.0 and in
/// the platform's bare `{"text"}` and `{"file"}`. A null counts as absent.
fn part_shape(obj: &Map<String, Value>, path: &str) -> Result<Shape, RpcError> {
    if let Some(kind) = discriminator(obj, path)? {
        return match kind {
            "text" => Ok(Shape::Text),
            "file" => Ok(Shape::File),
            "data" => Ok(Shape::Data),
            other => Err(RpcError::invalid_params(format!(
                "{path}.kind {other:?} is not a known part kind (text, file, data)"
            ))),
        };
    }
    let present: Vec<(&str, Shape)> = MEMBERS
        .into_iter()
        .filter(|(k, _)| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    // A null `kind` has always meant a 0.3 part without one, which the
    // platform sends for text and files only; `raw`, `url` and `data` are
    // 1.0 members, and a 1.0 part has no `kind` at all.
    let tagged = obj.contains_key("kind") || obj.contains_key("type");
    match present.as_slice() {
        [(_, s @ (Shape::Text | Shape::File))] => Ok(*s),
        [(name, _)] if tagged => Err(RpcError::invalid_params(format!(
            "{path} has a null \"kind\" and a 1.0 {name:?} member: name the kind, or drop it"
        ))),
        [(_, s)] => Ok(*s),
        [] => Err(RpcError::invalid_params(format!(
            "{path} has no \"kind\" and none of \"text\", \"file\", \"raw\", \"url\", \"data\""
        ))),
        many => Err(RpcError::invalid_params(format!(
            "{path} has several contents ({}); a part holds exactly one",
            many.iter().map(|(k, _)| *k).collect::<Vec<_>>().join(", ")
        ))),
    }
}

/// The 0.3 discriminator: `kind`, or `type` as the platform spells it.
fn discriminator<'a>(obj: &'a Map<String, Value>, path: &str) -> Result<Option<&'a str>, RpcError> {
    for key in ["kind", "type"] {
        match obj.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(k)) => return Ok(Some(k)),
            Some(_) => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.{key} must be a string"
                )))
            }
        }
    }
    Ok(None)
}

/// Decodes a part of either generation.
pub fn decode_part(v: &Value, path: &str, limits: &DecodeLimits) -> Result<Part, RpcError> {
    let obj = as_object(v, path)?;
    let metadata = opt_metadata(obj, path)?;
    let content = match part_shape(obj, path)? {
        Shape::Text => PartContent::Text(member_str(obj, "text", path)?),
        Shape::File => file_content(obj, path)?,
        Shape::Data => match obj.get("data") {
            Some(d) if !d.is_null() => PartContent::Data(d.clone()),
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.data is required (a JSON value, not null)"
                )))
            }
        },
        Shape::Raw => member_file(obj, FileContent::Bytes(member_str(obj, "raw", path)?), path)?,
        Shape::Url => member_file(obj, FileContent::Uri(member_str(obj, "url", path)?), path)?,
    };
    let part = Part { content, metadata };
    check_part_size(&part, path, limits)?;
    Ok(part)
}

fn member_str(obj: &Map<String, Value>, name: &str, path: &str) -> Result<String, RpcError> {
    match obj.get(name) {
        Some(Value::String(s)) => Ok(s.clone()),
        _ => Err(RpcError::invalid_params(format!(
            "{path}.{name} is required (a string)"
        ))),
    }
}

/// 1.0 keeps a file's name and media type next to its `raw` or `url`.
fn member_file(
    obj: &Map<String, Value>,
    content: FileContent,
    path: &str,
) -> Result<PartContent, RpcError> {
    Ok(PartContent::File {
        content,
        name: opt_str(obj, "filename", path)?,
        media_type: opt_str(obj, "mediaType", path)?,
    })
}

/// 0.3 wraps a file in an object of its own.
fn file_content(obj: &Map<String, Value>, path: &str) -> Result<PartContent, RpcError> {
    let fpath = format!("{path}.file");
    let f = match obj.get("file") {
        Some(f) => as_object(f, &fpath)?,
        None => return Err(RpcError::invalid_params(format!("{fpath} is required"))),
    };
    let content = match (opt_str(f, "bytes", &fpath)?, opt_str(f, "uri", &fpath)?) {
        (Some(b), None) => FileContent::Bytes(b),
        (None, Some(u)) => FileContent::Uri(u),
        _ => {
            return Err(RpcError::invalid_params(format!(
                "{fpath} needs exactly one of \"bytes\" or \"uri\""
            )))
        }
    };
    Ok(PartContent::File {
        content,
        name: opt_str(f, "name", &fpath)?,
        media_type: opt_str(f, "mimeType", &fpath)?,
    })
}

pub(crate) fn check_part_size(
    part: &Part,
    path: &str,
    limits: &DecodeLimits,
) -> Result<(), RpcError> {
    let size = match &part.content {
        PartContent::Text(t) => t.len(),
        PartContent::File {
            content: FileContent::Bytes(b) | FileContent::Uri(b),
            ..
        } => b.len(),
        PartContent::Data(d) => json_len(d),
    };
    if size > limits.max_part_bytes {
        return Err(RpcError::invalid_params(format!(
            "{path} is {size} bytes; the limit per part is {}",
            limits.max_part_bytes
        )));
    }
    Ok(())
}

/// The length of a value's compact JSON, counted without building the text
/// (a data part may be as large as the body).
fn json_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    // writing a `Value` to a sink that never fails cannot fail
    let _ = serde_json::to_writer(&mut n, v);
    n.0
}

// ---- messages and params -----------------------------------------------------

/// Decodes a message of either generation.
pub fn decode_message(v: &Value, path: &str, limits: &DecodeLimits) -> Result<Message, RpcError> {
    let obj = as_object(v, path)?;
    let parts = decode_parts(obj, path, limits)?;
    let role = match field(obj, "role") {
        None | Some(Value::Null) => Role::User,
        Some(Value::String(r)) => parse_role(r).ok_or_else(|| {
            RpcError::invalid_params(format!("{path}.role {r:?} is not a known role"))
        })?,
        Some(_) => {
            return Err(RpcError::invalid_params(format!(
                "{path}.role must be a string"
            )))
        }
    };
    let non_empty = |s: Option<String>| s.filter(|s| !s.is_empty());
    Ok(Message {
        message_id: non_empty(opt_str(obj, "messageId", path)?).unwrap_or_else(crate::ids::new_id),
        role,
        parts,
        context_id: non_empty(opt_str(obj, "contextId", path)?),
        task_id: non_empty(opt_str(obj, "taskId", path)?),
        reference_task_ids: opt_str_list(obj, "referenceTaskIds", path)?,
        extensions: opt_str_list(obj, "extensions", path)?,
        metadata: opt_metadata(obj, path)?,
    })
}

fn decode_parts(
    obj: &Map<String, Value>,
    path: &str,
    limits: &DecodeLimits,
) -> Result<Vec<Part>, RpcError> {
    let parts = match field(obj, "parts") {
        Some(Value::Array(a)) if !a.is_empty() => a,
        Some(Value::Array(_)) => {
            return Err(RpcError::invalid_params(format!(
                "{path}.parts must not be empty"
            )))
        }
        Some(_) => {
            return Err(RpcError::invalid_params(format!(
                "{path}.parts must be a list"
            )))
        }
        None => {
            return Err(RpcError::invalid_params(format!(
                "{path}.parts is required"
            )))
        }
    };
    if parts.len() > limits.max_parts {
        return Err(RpcError::invalid_params(format!(
            "{path}.parts has {} parts; the limit is {}",
            parts.len(),
            limits.max_parts
        )));
    }
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| decode_part(p, &format!("{path}.parts[{i}]"), limits))
        .collect()
}

/// The params of a send in either generation: the message and the
/// configuration around it.
pub fn decode_send(params: &Value, limits: &DecodeLimits) -> Result<SendParams, RpcError> {
    let p = params_object(params)?;
    let message = decode_message(
        field(p, "message")
            .ok_or_else(|| RpcError::invalid_params("params.message is required"))?,
        "params.message",
        limits,
    )?;
    let (mut blocking, mut history_length, mut modes, mut push) = (true, None, Vec::new(), false);
    if let Some(c) = field(p, "configuration").filter(|c| !c.is_null()) {
        let path = "params.configuration";
        let c = as_object(c, path)?;
        if let Some(b) = opt_bool(c, "blocking", path)? {
            blocking = b;
        }
        if let Some(r) = opt_bool(c, "returnImmediately", path)? {
            blocking = !r;
        }
        history_length = opt_count(c, "historyLength", path)?;
        modes = opt_str_list(c, "acceptedOutputModes", path)?;
        push = ["pushNotificationConfig", "taskPushNotificationConfig"]
            .iter()
            .any(|k| field(c, k).is_some_and(|v| !v.is_null()));
    }
    // the send's own metadata is not used, but a malformed one is still
    // an invalid request
    opt_metadata(p, "params")?;
    Ok(SendParams {
        message,
        blocking,
        history_length,
        accepted_output_modes: modes,
        has_push_config: push,
    })
}

/// `{"id", "historyLength"}` of get, cancel and (re)subscribe, both generations.
pub fn decode_task_ref(params: &Value) -> Result<TaskRef, RpcError> {
    let p = params_object(params)?;
    Ok(TaskRef {
        id: req_str(p, "id", "params")?,
        history_length: opt_count(p, "historyLength", "params")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::wire::{to_value, wire};
    use crate::protocol::{codes, v03, v10};
    use serde_json::json;

    fn limits() -> DecodeLimits {
        DecodeLimits::default()
    }

    fn assert_invalid(p: &Value) -> String {
        match decode_part(p, "p", &limits()) {
            Ok(part) => panic!("{p} decoded as {part:?}"),
            Err(e) => {
                assert_eq!(e.code, codes::INVALID_PARAMS, "{p}: {e}");
                assert!(e.message.starts_with('p'), "{p}: {e}");
                e.message
            }
        }
    }

    #[test]
    fn accepts_the_three_text_part_shapes() {
        for p in [
            json!({"kind":"text","text":"hi"}),
            json!({"type":"text","text":"hi"}),
            json!({"text":"hi"}),
            json!({"kind":null,"type":"text","text":"hi"}),
            json!({"kind":null,"text":"hi"}),
        ] {
            assert_eq!(
                decode_part(&p, "p", &limits()).unwrap().content,
                PartContent::Text("hi".into()),
                "{p}"
            );
        }
    }

    #[test]
    fn unknown_or_broken_parts_are_invalid_params() {
        for p in [
            json!({"kind":"video"}),
            json!({"kind":"text"}),
            json!({"kind":"file","file":{}}),
            json!(3),
            json!({}),
            json!({"metadata":{}}),
            json!({"text":"a","url":"b"}),
            json!({"text":"a","file":{"uri":"u"}}),
        ] {
            assert_invalid(&p);
        }
    }

    /// These sent `v03::decode_part` and `v10::decode_part` back and forth
    /// until the stack overflowed (issue 13, item 1).
    #[test]
    fn mixed_generation_parts_are_invalid_params_not_a_crash() {
        for p in [
            json!({"kind":null,"data":{}}),
            json!({"type":null,"url":"x"}),
            json!({"type":null,"data":{}}),
            json!({"kind":null,"url":"x"}),
            json!({"kind":null,"raw":"aGk="}),
            json!({"kind":null,"type":null,"data":{"a":1}}),
        ] {
            let e = assert_invalid(&p);
            assert!(e.contains("kind"), "{p}: {e}");
            for method in ["message/send", "SendMessage"] {
                let params = json!({"message": {"parts": [p]}});
                let e = decode_send(&params, &limits()).unwrap_err();
                assert_eq!(e.code, codes::INVALID_PARAMS, "{method} {p}");
                assert!(e.message.starts_with("params.message.parts[0]"), "{e}");
            }
        }
    }

    const WRONG: [&str; 6] = ["null", "1", "true", "[]", "{}", "\"s\""];

    /// Every position of a part of either generation (and of the 0.3 file
    /// object inside), set to null or to each wrong type: a part or an
    /// invalid-params error, never anything else. Some stay valid: a null
    /// optional member, `data` of another JSON type, a `kind` of a string.
    #[test]
    fn null_or_wrong_type_in_any_position_of_a_part_is_answered() {
        let parts = [
            json!({"kind":"text","text":"t","metadata":{}}),
            json!({"kind":"file","file":{"uri":"u","name":"n","mimeType":"m"}}),
            json!({"type":"file","file":{"bytes":"aGk="}}),
            json!({"kind":"data","data":{"a":1}}),
            json!({"raw":"aGk=","filename":"f","mediaType":"m"}),
            json!({"url":"u","filename":"f","mediaType":"m"}),
            json!({"data":{"a":1}}),
        ];
        let mut variants = Vec::new();
        for part in parts {
            for (key, value) in part.as_object().unwrap() {
                let inner: Vec<&String> = value.as_object().map_or(vec![], |o| o.keys().collect());
                for w in WRONG.map(|w| serde_json::from_str::<Value>(w).unwrap()) {
                    let mut p = part.clone();
                    p[key] = w.clone();
                    variants.push(p);
                    for k in &inner {
                        let mut p = part.clone();
                        p[key][k.as_str()] = w.clone();
                        variants.push(p);
                    }
                }
            }
        }
        for p in variants {
            if let Err(e) = decode_part(&p, "p", &limits()) {
                assert_eq!(e.code, codes::INVALID_PARAMS, "{p}: {e}");
                assert!(e.message.starts_with('p'), "{p}: {e}");
            }
        }
    }

    #[test]
    fn null_or_wrong_type_in_a_required_position_is_invalid_params() {
        for p in [
            json!({"kind":"text","text":null}),
            json!({"kind":"text","text":3}),
            json!({"kind":3,"text":"t"}),
            json!({"type":[],"text":"t"}),
            json!({"kind":"file","file":null}),
            json!({"kind":"file","file":{"uri":3}}),
            json!({"kind":"file","file":{"uri":"u","name":[]}}),
            json!({"kind":"data","data":null}),
            json!({"text":"t","metadata":3}),
            json!({"raw":3}),
            json!({"url":"u","filename":{}}),
            json!({"url":"u","mediaType":false}),
            json!({"data":null}),
            json!({"text":null}),
            json!([{"text":"t"}]),
            json!(null),
        ] {
            assert_invalid(&p);
        }
    }

    #[test]
    fn one_member_decides_a_kindless_part() {
        let l = limits();
        let url = decode_part(&json!({"text":null,"url":"u","filename":"f"}), "p", &l).unwrap();
        assert_eq!(
            url.content,
            PartContent::File {
                content: FileContent::Uri("u".into()),
                name: Some("f".into()),
                media_type: None
            }
        );
        let data = decode_part(&json!({"data":[1, 2]}), "p", &l).unwrap();
        assert_eq!(data.content, PartContent::Data(json!([1, 2])));
        let file = decode_part(&json!({"file":{"bytes":"aGk="}}), "p", &l).unwrap();
        assert!(matches!(file.content, PartContent::File { .. }));
    }

    #[test]
    fn send_params_configuration() {
        let p = json!({"message": {"role":"user","parts":[{"text":"x"}]},
            "configuration": {"blocking": false, "historyLength": 2, "acceptedOutputModes": ["text/plain"]}});
        let s = decode_send(&p, &limits()).unwrap();
        assert!(!s.blocking);
        assert_eq!(s.history_length, Some(2));
        assert!(
            !s.message.message_id.is_empty(),
            "a missing messageId is generated"
        );
        let e = decode_send(&json!({"message": {"parts": "x"}}), &limits()).unwrap_err();
        assert!(e.message.contains("params.message.parts"), "{}", e.message);
        let e = decode_send(&json!({}), &limits()).unwrap_err();
        assert!(e.message.contains("params.message"));
        let e = decode_send(
            &json!({"message": {"parts":[{"text":"x"}]}, "configuration": {"historyLength": -1}}),
            &limits(),
        )
        .unwrap_err();
        assert!(e.message.contains("historyLength"));
    }

    #[test]
    fn send_config_return_immediately_and_snake_case() {
        let p = json!({"message": {"message_id":"m","role":"ROLE_USER","parts":[{"text":"x"}], "context_id": "c"},
            "configuration": {"return_immediately": true, "history_length": "3"}});
        let s = decode_send(&p, &limits()).unwrap();
        assert!(!s.blocking);
        assert_eq!(s.history_length, Some(3));
        assert_eq!(s.message.context_id.as_deref(), Some("c"));
        assert_eq!(s.message.message_id, "m");
    }

    #[test]
    fn part_limits() {
        let l = DecodeLimits {
            max_parts: 2,
            max_part_bytes: 4,
            ..limits()
        };
        let many = json!({"parts": [{"text":"a"},{"text":"b"},{"text":"c"}]});
        assert!(decode_message(&many, "m", &l)
            .unwrap_err()
            .message
            .contains("limit"));
        for big in [json!({"text":"abcdef"}), json!({"data":{"a":"b"}})] {
            let m = json!({ "parts": [big] });
            let e = decode_message(&m, "m", &l).unwrap_err();
            assert!(e.message.contains("limit"), "{e}");
        }
        assert!(decode_message(&json!({"parts": [{"data":[1]}]}), "m", &l).is_ok());
    }

    #[test]
    fn names_in_both_generations() {
        for s in TaskState::ALL {
            assert_eq!(parse_state(state_name(s, Version::V03)), Some(s));
            assert_eq!(parse_state(state_name(s, Version::V10)), Some(s));
        }
        assert_eq!(
            state_name(TaskState::InputRequired, Version::V03),
            "input-required"
        );
        assert_eq!(parse_role("ROLE_AGENT"), Some(Role::Agent));
        assert_eq!(parse_role("agent"), Some(Role::Agent));
        assert_eq!(parse_state("TASK_STATE_UNSPECIFIED"), None);
    }

    #[test]
    fn snake_case_aliases() {
        let m = json!({"context_id": "c"});
        assert_eq!(
            field(m.as_object().unwrap(), "contextId"),
            Some(&json!("c"))
        );
    }

    fn sample_task() -> Task {
        Task {
            id: "t1".into(),
            context_id: "c1".into(),
            status: TaskStatus {
                state: TaskState::Completed,
                message: None,
                timestamp: "2026-11-29T16:40:43.123Z".into(),
            },
            history: vec![Message {
                message_id: "m1".into(),
                role: Role::User,
                parts: vec![Part::text("hi")],
                context_id: Some("c1".into()),
                task_id: Some("t1".into()),
                reference_task_ids: vec![],
                extensions: vec![],
                metadata: None,
            }],
            artifacts: vec![Artifact {
                artifact_id: "a1".into(),
                name: Some("response".into()),
                description: None,
                parts: vec![Part::text("hi")],
                metadata: None,
            }],
            metadata: None,
        }
    }

    #[test]
    fn task_in_both_generations() {
        let t = sample_task();
        let v1 = to_value(&wire(&SendResult::Task(&t), Version::V10));
        assert_eq!(v1["task"]["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(v1["task"]["history"][0]["role"], "ROLE_USER");
        assert_eq!(v1["task"]["history"][0]["parts"][0], json!({"text": "hi"}));
        assert!(v1["task"].get("kind").is_none());
        let v0 = to_value(&wire(&SendResult::Task(&t), Version::V03));
        assert_eq!(v0["status"]["state"], "completed");
        assert_eq!(
            v0["history"][0]["parts"][0],
            json!({"kind": "text", "text": "hi"})
        );
    }

    #[test]
    fn message_round_trips_through_the_model() {
        // 0.3 wire → model → 1.0 wire → model: the model is the same
        let wire03 = json!({"kind":"message","messageId":"m","role":"agent","parts":[
            {"kind":"text","text":"a"},
            {"kind":"file","file":{"bytes":"aGk=","mimeType":"text/plain","name":"f.txt"}},
            {"kind":"data","data":{"x":[1,2]}}]});
        let m = decode_message(&wire03, "m", &limits()).unwrap();
        let wire10 = v10::encode_message(&m);
        assert_eq!(
            wire10["parts"][1],
            json!({"raw":"aGk=","filename":"f.txt","mediaType":"text/plain"})
        );
        let back = decode_message(&wire10, "m", &limits()).unwrap();
        assert_eq!(back, m);
        assert_eq!(v03::encode_message(&back), wire03);
    }

    /// 1.0 `data` is any JSON value; the 0.3 answer carrying it must read
    /// back.
    #[test]
    fn non_object_data_round_trips_through_0_3() {
        let m = decode_message(&json!({"parts":[{"data":3}]}), "m", &limits()).unwrap();
        let back = decode_message(&v03::encode_message(&m), "m", &limits()).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn status_update_has_no_final_in_1_0() {
        let e = TaskEvent::Status {
            task_id: "t".into(),
            context_id: "c".into(),
            status: sample_task().status,
            is_final: true,
        };
        assert!(to_value(&wire(&e, Version::V10))["statusUpdate"]
            .get("final")
            .is_none());
        assert_eq!(to_value(&wire(&e, Version::V03))["final"], true);
    }
}
