//! A2A 0.3 wire format: `kind` discriminators, lower-case roles and states,
//! results returned bare. What the Molecule platform and most deployed
//! clients speak.

use super::model::*;
use super::{
    as_object, field, opt_bool, opt_count, opt_metadata, opt_str, opt_str_list, params_object,
    req_str, DecodeLimits, RpcError, SendParams, TaskRef,
};
use serde_json::{json, Map, Value};

pub fn role_str(r: Role) -> &'static str {
    match r {
        Role::User => "user",
        Role::Agent => "agent",
    }
}

pub fn state_str(s: TaskState) -> &'static str {
    match s {
        TaskState::Submitted => "submitted",
        TaskState::Working => "working",
        TaskState::InputRequired => "input-required",
        TaskState::AuthRequired => "auth-required",
        TaskState::Completed => "completed",
        TaskState::Canceled => "canceled",
        TaskState::Failed => "failed",
        TaskState::Rejected => "rejected",
    }
}

// ---- decoding --------------------------------------------------------------

/// Decodes a part. The platform sends text as `{"kind":"text"}`,
/// `{"type":"text"}` or a bare `{"text"}`: all are accepted. Parts shaped the
/// 1.0 way are accepted too, since clients mix them up.
pub fn decode_part(v: &Value, path: &str, limits: &DecodeLimits) -> Result<Part, RpcError> {
    let obj = as_object(v, path)?;
    let metadata = opt_metadata(obj, path)?;
    let kind = match obj.get("kind").or_else(|| obj.get("type")) {
        None | Some(Value::Null) => None,
        Some(Value::String(k)) => Some(k.as_str()),
        Some(_) => {
            return Err(RpcError::invalid_params(format!(
                "{path}.kind must be a string"
            )))
        }
    };
    let kind = match kind {
        Some(k) => k,
        None if obj.contains_key("text") => "text",
        None if obj.contains_key("file") => "file",
        None if obj.contains_key("raw") || obj.contains_key("url") || obj.contains_key("data") => {
            return super::v10::decode_part(v, path, limits)
        }
        None => {
            return Err(RpcError::invalid_params(format!(
                "{path} has no \"kind\" and no \"text\", \"file\" or \"data\" field"
            )))
        }
    };
    let content = match kind {
        "text" => match obj.get("text") {
            Some(Value::String(t)) => PartContent::Text(t.clone()),
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.text is required (a string)"
                )))
            }
        },
        "file" => {
            let f = as_object(
                obj.get("file")
                    .ok_or_else(|| RpcError::invalid_params(format!("{path}.file is required")))?,
                &format!("{path}.file"),
            )?;
            let fpath = format!("{path}.file");
            let content = match (opt_str(f, "bytes", &fpath)?, opt_str(f, "uri", &fpath)?) {
                (Some(b), None) => FileContent::Bytes(b),
                (None, Some(u)) => FileContent::Uri(u),
                _ => {
                    return Err(RpcError::invalid_params(format!(
                        "{fpath} needs exactly one of \"bytes\" or \"uri\""
                    )))
                }
            };
            PartContent::File {
                content,
                name: opt_str(f, "name", &fpath)?,
                media_type: opt_str(f, "mimeType", &fpath)?,
            }
        }
        "data" => match obj.get("data") {
            Some(d @ Value::Object(_)) => PartContent::Data(d.clone()),
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.data is required (an object)"
                )))
            }
        },
        other => {
            return Err(RpcError::invalid_params(format!(
                "{path}.kind {other:?} is not a known part kind (text, file, data)"
            )))
        }
    };
    let part = Part { content, metadata };
    check_part_size(&part, path, limits)?;
    Ok(part)
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
        PartContent::Data(d) => d.to_string().len(),
    };
    if size > limits.max_part_bytes {
        return Err(RpcError::invalid_params(format!(
            "{path} is {size} bytes; the limit per part is {}",
            limits.max_part_bytes
        )));
    }
    Ok(())
}

/// Shared by both generations: everything in a message but its parts and
/// role, which each generation spells its own way.
pub(crate) fn decode_message_with(
    v: &Value,
    path: &str,
    limits: &DecodeLimits,
    decode_part: fn(&Value, &str, &DecodeLimits) -> Result<Part, RpcError>,
    decode_role: fn(&str) -> Option<Role>,
) -> Result<Message, RpcError> {
    let obj = as_object(v, path)?;
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
    let parts = parts
        .iter()
        .enumerate()
        .map(|(i, p)| decode_part(p, &format!("{path}.parts[{i}]"), limits))
        .collect::<Result<Vec<_>, _>>()?;
    let role = match field(obj, "role") {
        None | Some(Value::Null) => Role::User,
        Some(Value::String(r)) => decode_role(r).ok_or_else(|| {
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

fn decode_role(r: &str) -> Option<Role> {
    match r {
        "user" | "ROLE_USER" => Some(Role::User),
        "agent" | "ROLE_AGENT" => Some(Role::Agent),
        _ => None,
    }
}

pub fn decode_message(v: &Value, path: &str, limits: &DecodeLimits) -> Result<Message, RpcError> {
    decode_message_with(v, path, limits, decode_part, decode_role)
}

/// Shared by both generations: the send envelope around the message.
pub(crate) fn decode_send_with(
    params: &Value,
    limits: &DecodeLimits,
    decode_message: fn(&Value, &str, &DecodeLimits) -> Result<Message, RpcError>,
) -> Result<SendParams, RpcError> {
    let p = params_object(params)?;
    let message = decode_message(
        field(p, "message")
            .ok_or_else(|| RpcError::invalid_params("params.message is required"))?,
        "params.message",
        limits,
    )?;
    let (mut blocking, mut history_length, mut modes, mut push) = (true, None, Vec::new(), false);
    if let Some(c) = field(p, "configuration").filter(|c| !c.is_null()) {
        let c = as_object(c, "params.configuration")?;
        let path = "params.configuration";
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
    Ok(SendParams {
        message,
        blocking,
        history_length,
        accepted_output_modes: modes,
        has_push_config: push,
        metadata: opt_metadata(p, "params")?,
    })
}

pub fn decode_send(params: &Value, limits: &DecodeLimits) -> Result<SendParams, RpcError> {
    decode_send_with(params, limits, decode_message)
}

/// `{"id", "historyLength"}` of get, cancel and (re)subscribe, both generations.
pub fn decode_task_ref(params: &Value) -> Result<TaskRef, RpcError> {
    let p = params_object(params)?;
    Ok(TaskRef {
        id: req_str(p, "id", "params")?,
        history_length: opt_count(p, "historyLength", "params")?,
    })
}

// ---- encoding --------------------------------------------------------------

pub fn encode_part(p: &Part) -> Value {
    let mut o = Map::new();
    match &p.content {
        PartContent::Text(t) => {
            o.insert("kind".into(), json!("text"));
            o.insert("text".into(), json!(t));
        }
        PartContent::File {
            content,
            name,
            media_type,
        } => {
            o.insert("kind".into(), json!("file"));
            let mut f = Map::new();
            match content {
                FileContent::Bytes(b) => f.insert("bytes".into(), json!(b)),
                FileContent::Uri(u) => f.insert("uri".into(), json!(u)),
            };
            if let Some(n) = name {
                f.insert("name".into(), json!(n));
            }
            if let Some(m) = media_type {
                f.insert("mimeType".into(), json!(m));
            }
            o.insert("file".into(), Value::Object(f));
        }
        PartContent::Data(d) => {
            o.insert("kind".into(), json!("data"));
            o.insert("data".into(), d.clone());
        }
    }
    if let Some(m) = &p.metadata {
        o.insert("metadata".into(), Value::Object(m.clone()));
    }
    Value::Object(o)
}

/// Shared by both generations: `kind` is `Some("message")` for 0.3.
pub(crate) fn encode_message_with(
    m: &Message,
    kind: Option<&str>,
    role: &str,
    encode_part: fn(&Part) -> Value,
) -> Value {
    let mut o = Map::new();
    if let Some(k) = kind {
        o.insert("kind".into(), json!(k));
    }
    o.insert("messageId".into(), json!(m.message_id));
    o.insert("role".into(), json!(role));
    o.insert(
        "parts".into(),
        Value::Array(m.parts.iter().map(encode_part).collect()),
    );
    if let Some(c) = &m.context_id {
        o.insert("contextId".into(), json!(c));
    }
    if let Some(t) = &m.task_id {
        o.insert("taskId".into(), json!(t));
    }
    if !m.reference_task_ids.is_empty() {
        o.insert("referenceTaskIds".into(), json!(m.reference_task_ids));
    }
    if !m.extensions.is_empty() {
        o.insert("extensions".into(), json!(m.extensions));
    }
    if let Some(md) = &m.metadata {
        o.insert("metadata".into(), Value::Object(md.clone()));
    }
    Value::Object(o)
}

pub fn encode_message(m: &Message) -> Value {
    encode_message_with(m, Some("message"), role_str(m.role), encode_part)
}

pub fn encode_status(s: &TaskStatus) -> Value {
    let mut o = Map::new();
    o.insert("state".into(), json!(state_str(s.state)));
    if let Some(m) = &s.message {
        o.insert("message".into(), encode_message(m));
    }
    o.insert("timestamp".into(), json!(s.timestamp));
    Value::Object(o)
}

pub(crate) fn encode_artifact_with(a: &Artifact, encode_part: fn(&Part) -> Value) -> Value {
    let mut o = Map::new();
    o.insert("artifactId".into(), json!(a.artifact_id));
    if let Some(n) = &a.name {
        o.insert("name".into(), json!(n));
    }
    if let Some(d) = &a.description {
        o.insert("description".into(), json!(d));
    }
    o.insert(
        "parts".into(),
        Value::Array(a.parts.iter().map(encode_part).collect()),
    );
    if let Some(md) = &a.metadata {
        o.insert("metadata".into(), Value::Object(md.clone()));
    }
    Value::Object(o)
}

pub fn encode_task(t: &Task) -> Value {
    let mut o = Map::new();
    o.insert("kind".into(), json!("task"));
    o.insert("id".into(), json!(t.id));
    o.insert("contextId".into(), json!(t.context_id));
    o.insert("status".into(), encode_status(&t.status));
    o.insert(
        "history".into(),
        Value::Array(t.history.iter().map(encode_message).collect()),
    );
    o.insert(
        "artifacts".into(),
        Value::Array(
            t.artifacts
                .iter()
                .map(|a| encode_artifact_with(a, encode_part))
                .collect(),
        ),
    );
    if let Some(md) = &t.metadata {
        o.insert("metadata".into(), Value::Object(md.clone()));
    }
    Value::Object(o)
}

pub fn encode_event(e: &TaskEvent) -> Value {
    match e {
        TaskEvent::Status {
            task_id,
            context_id,
            status,
            is_final,
        } => json!({
            "kind": "status-update",
            "taskId": task_id,
            "contextId": context_id,
            "status": encode_status(status),
            "final": is_final,
        }),
        TaskEvent::Artifact {
            task_id,
            context_id,
            artifact,
            append,
            last_chunk,
        } => json!({
            "kind": "artifact-update",
            "taskId": task_id,
            "contextId": context_id,
            "artifact": encode_artifact_with(artifact, encode_part),
            "append": append,
            "lastChunk": last_chunk,
        }),
    }
}

pub fn encode_send_result(r: &SendResult) -> Value {
    match r {
        SendResult::Task(t) => encode_task(t),
        SendResult::Message(m) => encode_message(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> DecodeLimits {
        DecodeLimits::default()
    }

    #[test]
    fn accepts_the_three_text_part_shapes() {
        for p in [
            json!({"kind":"text","text":"hi"}),
            json!({"type":"text","text":"hi"}),
            json!({"text":"hi"}),
        ] {
            assert_eq!(
                decode_part(&p, "p", &limits()).unwrap().content,
                PartContent::Text("hi".into())
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
        ] {
            let e = decode_part(&p, "p", &limits()).unwrap_err();
            assert_eq!(e.code, super::super::codes::INVALID_PARAMS, "{p}");
        }
    }

    #[test]
    fn message_round_trip() {
        let wire = json!({
            "kind": "message", "messageId": "m1", "role": "user", "contextId": "c1",
            "parts": [
                {"kind":"text","text":"hello"},
                {"kind":"file","file":{"uri":"https://x/y.png","mimeType":"image/png","name":"y.png"}},
                {"kind":"data","data":{"a":1}}
            ],
            "metadata": {"k": "v"}
        });
        let m = decode_message(&wire, "m", &limits()).unwrap();
        assert_eq!(m.role, Role::User);
        assert_eq!(m.context_id.as_deref(), Some("c1"));
        assert_eq!(encode_message(&m), wire);
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
        let big = json!({"parts": [{"text":"abcdef"}]});
        assert!(decode_message(&big, "m", &l)
            .unwrap_err()
            .message
            .contains("limit"));
    }

    #[test]
    fn task_encoding_has_kind_and_states() {
        let t = Task {
            id: "t".into(),
            context_id: "c".into(),
            status: TaskStatus {
                state: TaskState::InputRequired,
                message: None,
                timestamp: "2026-01-01T00:00:00.000Z".into(),
            },
            history: vec![],
            artifacts: vec![],
            metadata: None,
        };
        let v = encode_task(&t);
        assert_eq!(v["kind"], "task");
        assert_eq!(v["status"]["state"], "input-required");
    }
}
