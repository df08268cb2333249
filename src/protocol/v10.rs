//! A2A 1.0 wire format: the protobuf JSON mapping. Wrapped results
//! (`{"task": ..}`), `ROLE_*` and `TASK_STATE_*` enums, parts as
//! `{"text"}` / `{"raw"}` / `{"url"}` / `{"data"}`, no `kind`.

use super::model::*;
use super::v03::{
    check_part_size, decode_message_with, decode_send_with, encode_artifact_with,
    encode_message_with,
};
use super::{
    as_object, opt_bool, opt_count, opt_metadata, opt_str, params_object, DecodeLimits, ListParams,
    RpcError, SendParams,
};
use serde_json::{json, Map, Value};

pub fn role_str(r: Role) -> &'static str {
    match r {
        Role::User => "ROLE_USER",
        Role::Agent => "ROLE_AGENT",
    }
}

pub fn state_str(s: TaskState) -> &'static str {
    match s {
        TaskState::Submitted => "TASK_STATE_SUBMITTED",
        TaskState::Working => "TASK_STATE_WORKING",
        TaskState::InputRequired => "TASK_STATE_INPUT_REQUIRED",
        TaskState::AuthRequired => "TASK_STATE_AUTH_REQUIRED",
        TaskState::Completed => "TASK_STATE_COMPLETED",
        TaskState::Canceled => "TASK_STATE_CANCELED",
        TaskState::Failed => "TASK_STATE_FAILED",
        TaskState::Rejected => "TASK_STATE_REJECTED",
    }
}

pub fn parse_state(s: &str) -> Option<TaskState> {
    TaskState::ALL
        .into_iter()
        .find(|st| state_str(*st) == s || super::v03::state_str(*st) == s)
}

// ---- decoding --------------------------------------------------------------

pub fn decode_part(v: &Value, path: &str, limits: &DecodeLimits) -> Result<Part, RpcError> {
    let obj = as_object(v, path)?;
    if obj.contains_key("kind") || obj.contains_key("type") || obj.contains_key("file") {
        // a 0.3-shaped part sent to a 1.0 method: accept it rather than guess
        return super::v03::decode_part(v, path, limits);
    }
    let metadata = opt_metadata(obj, path)?;
    let name = opt_str(obj, "filename", path)?;
    let media_type = opt_str(obj, "mediaType", path)?;
    let present: Vec<&str> = ["text", "raw", "url", "data"]
        .into_iter()
        .filter(|k| obj.get(*k).is_some_and(|v| !v.is_null()))
        .collect();
    let content = match present.as_slice() {
        ["text"] => match obj.get("text") {
            Some(Value::String(t)) => PartContent::Text(t.clone()),
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.text must be a string"
                )))
            }
        },
        ["raw"] => match obj.get("raw") {
            Some(Value::String(b)) => PartContent::File {
                content: FileContent::Bytes(b.clone()),
                name,
                media_type,
            },
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.raw must be base64 text"
                )))
            }
        },
        ["url"] => match obj.get("url") {
            Some(Value::String(u)) => PartContent::File {
                content: FileContent::Uri(u.clone()),
                name,
                media_type,
            },
            _ => {
                return Err(RpcError::invalid_params(format!(
                    "{path}.url must be a string"
                )))
            }
        },
        ["data"] => PartContent::Data(obj.get("data").cloned().unwrap_or(Value::Null)),
        [] => {
            return Err(RpcError::invalid_params(format!(
                "{path} has none of \"text\", \"raw\", \"url\", \"data\": not a known part kind"
            )))
        }
        many => {
            return Err(RpcError::invalid_params(format!(
                "{path} has several contents ({}); a part holds exactly one",
                many.join(", ")
            )))
        }
    };
    let part = Part { content, metadata };
    check_part_size(&part, path, limits)?;
    Ok(part)
}

fn decode_role(r: &str) -> Option<Role> {
    match r {
        "ROLE_USER" | "user" => Some(Role::User),
        "ROLE_AGENT" | "agent" => Some(Role::Agent),
        _ => None,
    }
}

pub fn decode_message(v: &Value, path: &str, limits: &DecodeLimits) -> Result<Message, RpcError> {
    decode_message_with(v, path, limits, decode_part, decode_role)
}

pub fn decode_send(params: &Value, limits: &DecodeLimits) -> Result<SendParams, RpcError> {
    decode_send_with(params, limits, decode_message)
}

pub const MAX_PAGE_SIZE: usize = 100;
pub const DEFAULT_PAGE_SIZE: usize = 50;

pub fn decode_list(params: &Value) -> Result<ListParams, RpcError> {
    let empty = Map::new();
    let p = match params {
        Value::Null => &empty,
        other => params_object(other)?,
    };
    let path = "params";
    let page_size = opt_count(p, "pageSize", path)?;
    if let Some(n) = page_size {
        if n > MAX_PAGE_SIZE {
            return Err(RpcError::invalid_params(format!(
                "params.pageSize must be between 1 and {MAX_PAGE_SIZE} (got {n})"
            )));
        }
    }
    let status = match opt_str(p, "status", path)?.filter(|s| !s.is_empty()) {
        None => None,
        Some(s) if s == "TASK_STATE_UNSPECIFIED" => None,
        Some(s) => Some(parse_state(&s).ok_or_else(|| {
            RpcError::invalid_params(format!("params.status {s:?} is not a task state"))
        })?),
    };
    let after = match opt_str(p, "statusTimestampAfter", path)? {
        None => None,
        Some(s) => Some(crate::time::parse_rfc3339(&s).ok_or_else(|| {
            RpcError::invalid_params(format!(
                "params.statusTimestampAfter {s:?} is not an RFC 3339 timestamp"
            ))
        })?),
    };
    Ok(ListParams {
        context_id: opt_str(p, "contextId", path)?.filter(|s| !s.is_empty()),
        status,
        page_size: page_size.filter(|n| *n > 0),
        page_token: opt_str(p, "pageToken", path)?.filter(|s| !s.is_empty()),
        history_length: opt_count(p, "historyLength", path)?,
        status_timestamp_after: after,
        include_artifacts: opt_bool(p, "includeArtifacts", path)?.unwrap_or(false),
    })
}

// ---- encoding --------------------------------------------------------------

pub fn encode_part(p: &Part) -> Value {
    let mut o = Map::new();
    match &p.content {
        PartContent::Text(t) => {
            o.insert("text".into(), json!(t));
        }
        PartContent::File {
            content,
            name,
            media_type,
        } => {
            match content {
                FileContent::Bytes(b) => o.insert("raw".into(), json!(b)),
                FileContent::Uri(u) => o.insert("url".into(), json!(u)),
            };
            if let Some(n) = name {
                o.insert("filename".into(), json!(n));
            }
            if let Some(m) = media_type {
                o.insert("mediaType".into(), json!(m));
            }
        }
        PartContent::Data(d) => {
            o.insert("data".into(), d.clone());
        }
    }
    if let Some(m) = &p.metadata {
        o.insert("metadata".into(), Value::Object(m.clone()));
    }
    Value::Object(o)
}

pub fn encode_message(m: &Message) -> Value {
    encode_message_with(m, None, role_str(m.role), encode_part)
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

pub fn encode_task(t: &Task) -> Value {
    let mut o = Map::new();
    o.insert("id".into(), json!(t.id));
    o.insert("contextId".into(), json!(t.context_id));
    o.insert("status".into(), encode_status(&t.status));
    if !t.artifacts.is_empty() {
        o.insert(
            "artifacts".into(),
            Value::Array(
                t.artifacts
                    .iter()
                    .map(|a| encode_artifact_with(a, encode_part))
                    .collect(),
            ),
        );
    }
    if !t.history.is_empty() {
        o.insert(
            "history".into(),
            Value::Array(t.history.iter().map(encode_message).collect()),
        );
    }
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
            ..
        } => json!({"statusUpdate": {
            "taskId": task_id,
            "contextId": context_id,
            "status": encode_status(status),
        }}),
        TaskEvent::Artifact {
            task_id,
            context_id,
            artifact,
            append,
            last_chunk,
        } => json!({"artifactUpdate": {
            "taskId": task_id,
            "contextId": context_id,
            "artifact": encode_artifact_with(artifact, encode_part),
            "append": append,
            "lastChunk": last_chunk,
        }}),
    }
}

pub fn encode_send_result(r: &SendResult) -> Value {
    // moved into a map: `json!` would serialize a deep copy of the task
    let (key, v) = match r {
        SendResult::Task(t) => ("task", encode_task(t)),
        SendResult::Message(m) => ("message", encode_message(m)),
    };
    let mut o = Map::new();
    o.insert(key.into(), v);
    Value::Object(o)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::v03;

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
        let v1 = encode_send_result(&SendResult::Task(&t));
        assert_eq!(v1["task"]["status"]["state"], "TASK_STATE_COMPLETED");
        assert_eq!(v1["task"]["history"][0]["role"], "ROLE_USER");
        assert_eq!(v1["task"]["history"][0]["parts"][0], json!({"text": "hi"}));
        assert!(v1["task"].get("kind").is_none());
        let v0 = v03::encode_send_result(&SendResult::Task(&t));
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
        let m = v03::decode_message(&wire03, "m", &DecodeLimits::default()).unwrap();
        let wire10 = encode_message(&m);
        assert_eq!(
            wire10["parts"][1],
            json!({"raw":"aGk=","filename":"f.txt","mediaType":"text/plain"})
        );
        let back = decode_message(&wire10, "m", &DecodeLimits::default()).unwrap();
        assert_eq!(back, m);
        assert_eq!(v03::encode_message(&back), wire03);
    }

    #[test]
    fn parts_with_two_contents_or_none_are_refused() {
        let l = DecodeLimits::default();
        assert!(decode_part(&json!({"text":"a","url":"b"}), "p", &l).is_err());
        assert!(decode_part(&json!({"metadata":{}}), "p", &l).is_err());
    }

    #[test]
    fn send_config_return_immediately_and_snake_case() {
        let p = json!({"message": {"message_id":"m","role":"ROLE_USER","parts":[{"text":"x"}], "context_id": "c"},
            "configuration": {"return_immediately": true, "history_length": "3"}});
        let s = decode_send(&p, &DecodeLimits::default()).unwrap();
        assert!(!s.blocking);
        assert_eq!(s.history_length, Some(3));
        assert_eq!(s.message.context_id.as_deref(), Some("c"));
        assert_eq!(s.message.message_id, "m");
    }

    #[test]
    fn list_params_validation() {
        assert!(decode_list(&json!({"pageSize": 1000})).is_err());
        assert!(decode_list(&json!({"pageSize": -1})).is_err());
        assert!(decode_list(&json!({"status": "TASK_STATE_BOGUS"})).is_err());
        assert!(decode_list(&json!({"statusTimestampAfter": "yesterday"})).is_err());
        let l =
            decode_list(&json!({"status": "TASK_STATE_WORKING", "pageSize": 5, "context_id": "c"}))
                .unwrap();
        assert_eq!(l.status, Some(TaskState::Working));
        assert_eq!(l.page_size, Some(5));
        assert_eq!(l.context_id.as_deref(), Some("c"));
        assert!(decode_list(&Value::Null).is_ok());
    }

    #[test]
    fn status_update_has_no_final_in_1_0() {
        let e = TaskEvent::Status {
            task_id: "t".into(),
            context_id: "c".into(),
            status: sample_task().status,
            is_final: true,
        };
        assert!(encode_event(&e)["statusUpdate"].get("final").is_none());
        assert_eq!(v03::encode_event(&e)["final"], true);
    }
}
