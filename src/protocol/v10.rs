//! A2A 1.0 wire format: the protobuf JSON mapping. Wrapped results
//! (`{"task": ..}`), `ROLE_*` and `TASK_STATE_*` enums, parts as
//! `{"text"}` / `{"raw"}` / `{"url"}` / `{"data"}`, no `kind`.

use super::common::{
    encode_artifact_with, encode_message_with, opt_bool, opt_count, opt_str, params_object,
    parse_state, role_name, state_name,
};
use super::model::*;
use super::{ListParams, RpcError, Version};
use serde_json::{json, Map, Value};

pub fn role_str(r: Role) -> &'static str {
    role_name(r, Version::V10)
}

pub fn state_str(s: TaskState) -> &'static str {
    state_name(s, Version::V10)
}

// ---- decoding --------------------------------------------------------------
// Parts, messages and sends are decoded by `common`, for both generations.

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
        let l = decode_list(&json!({"status": "working"})).unwrap();
        assert_eq!(l.status, Some(TaskState::Working), "0.3 names are read too");
    }
}
