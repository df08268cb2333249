//! A2A 0.3 wire format: `kind` discriminators, lower-case roles and states,
//! results returned bare. What the Molecule platform and most deployed
//! clients speak.

use super::model::*;
use super::wire::{to_value, wire};
use super::Version;
use serde_json::Value;

// ---- encoding: the views in `wire`, as `Value`s ------------------------------

pub fn encode_message(m: &Message) -> Value {
    to_value(&wire(m, Version::V03))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::common::decode_message;
    use crate::protocol::DecodeLimits;
    use serde_json::json;

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
        let v = to_value(&wire(&t, Version::V03));
        assert_eq!(v["kind"], "task");
        assert_eq!(v["status"]["state"], "input-required");
    }
}
