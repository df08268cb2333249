//! The heartbeat's body: real figures, not the reference runtime's zeros.

use crate::metrics::{truncate, Metrics};
use serde_json::{json, Value};
use std::time::Duration;

/// The agent's load as the heartbeat reports it, sampled by the caller.
#[derive(Debug, Clone, Default)]
pub struct Load {
    pub active_tasks: usize,
    /// preview of the newest running task's text, or empty
    pub current_task: String,
    pub open_connections: usize,
    pub backend: &'static str,
}

pub fn heartbeat_body(
    workspace_id: &str,
    load: &Load,
    uptime: Duration,
    metrics: &Metrics,
) -> Value {
    json!({
        "workspace_id": workspace_id,
        "error_rate": metrics.error_rate(),
        "sample_error": metrics.sample_error(),
        "active_tasks": load.active_tasks,
        "uptime_seconds": uptime.as_secs(),
        "current_task": truncate(&load.current_task, 120),
        "runtime_metadata": {
            "runtime": "workspace-agent",
            "version": env!("CARGO_PKG_VERSION"),
            "backend": load.backend,
            "open_connections": load.open_connections,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_every_field_with_the_right_type() {
        let m = Metrics::new();
        let load = Load {
            active_tasks: 2,
            current_task: "x".repeat(500),
            ..Default::default()
        };
        let b = heartbeat_body("ws", &load, Duration::from_secs(5), &m);
        assert_eq!(b["workspace_id"], "ws");
        assert!(b["error_rate"].is_f64());
        assert!(b["sample_error"].is_string());
        assert_eq!(b["active_tasks"], 2);
        assert_eq!(b["uptime_seconds"], 5);
        assert!(b["current_task"].as_str().unwrap().len() < 200);
    }
}
