//! A2A 1.0 wire format: the protobuf JSON mapping. Wrapped results
//! (`{"task": ..}`), `ROLE_*` and `TASK_STATE_*` enums, parts as
//! `{"text"}` / `{"raw"}` / `{"url"}` / `{"data"}`, no `kind`.

use super::common::{opt_bool, opt_count, opt_str, params_object, parse_state};
use super::model::*;
use super::wire::{to_value, wire};
use super::{ListParams, RpcError, Version};
use serde_json::{Map, Value};

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

// ---- encoding: the views in `wire`, as `Value`s ------------------------------

pub fn encode_message(m: &Message) -> Value {
    to_value(&wire(m, Version::V10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
