//! The shutdown snapshot at `$CONFIGS_DIR/.agent_snapshot.json`, written
//! atomically like the token. No secrets.

use crate::fsutil::write_atomic;
use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;

pub const SNAPSHOT_FILE: &str = ".agent_snapshot.json";

pub struct Snapshot<'a> {
    pub workspace_id: &'a str,
    pub session_id: &'a str,
    pub uptime: Duration,
    pub active_tasks: usize,
    pub current_task: &'a str,
    /// (id, state) of tasks not finished
    pub unfinished: Vec<(String, &'static str)>,
}

impl Snapshot<'_> {
    pub fn to_json(&self) -> Value {
        json!({
            "workspace_id": self.workspace_id,
            "timestamp": crate::time::now_rfc3339(),
            "current_task": self.current_task,
            "active_tasks": self.active_tasks,
            "uptime_seconds": self.uptime.as_secs(),
            "session_id": self.session_id,
            "unfinished_tasks": self.unfinished.iter()
                .map(|(id, state)| json!({"id": id, "state": state}))
                .collect::<Vec<_>>(),
        })
    }

    pub fn write(&self, configs_dir: &Path) -> Result<(), String> {
        let path = configs_dir.join(SNAPSHOT_FILE);
        let mut bytes = serde_json::to_vec_pretty(&self.to_json()).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes, 0o600)
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}
