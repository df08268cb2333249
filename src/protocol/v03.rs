//! A2A 0.3 wire format: `kind` discriminators, lower-case roles and states,
//! results returned bare. What the Molecule platform and most deployed
//! clients speak.

use super::common::{encode_artifact_with, encode_message_with, role_name, state_name};
use super::model::*;
use super::Version;
use serde_json::{json, Map, Value};

pub fn role_str(r: Role) -> &'static str {
    role_name(r, Version::V03)
}

pub fn state_str(s: TaskState) -> &'static str {
    state_name(s, Version::V03)
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
    use crate::protocol::common::decode_message;
    use crate::protocol::DecodeLimits;

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
        let m = decode_message(&wire, "m", &DecodeLimits::default()).unwrap();
        assert_eq!(m.role, Role::User);
        assert_eq!(m.context_id.as_deref(), Some("c1"));
        assert_eq!(encode_message(&m), wire);
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
