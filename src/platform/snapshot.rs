//! The shutdown snapshot at `$CONFIGS_DIR/.agent_snapshot.json`, written
//! atomically like the token. No secrets.

use crate::fsutil::write_atomic;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const SNAPSHOT_FILE: &str = ".agent_snapshot.json";

/// A task the agent stopped before it finished.
pub struct Unfinished {
    pub id: String,
    /// the state's name as the platform reads it (`working`, ...)
    pub state: &'static str,
}

pub struct Snapshot<'a> {
    pub workspace_id: &'a str,
    pub session_id: &'a str,
    pub uptime: Duration,
    pub active_tasks: usize,
    pub current_task: &'a str,
    pub unfinished: Vec<Unfinished>,
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
                .map(|t| json!({"id": t.id, "state": t.state}))
                .collect::<Vec<_>>(),
        })
    }

    /// Writes `configs_dir/SNAPSHOT_FILE`; returns the path written, or
    /// what went wrong for the log.
    pub fn write(&self, configs_dir: &Path) -> Result<PathBuf, String> {
        let path = configs_dir.join(SNAPSHOT_FILE);
        let mut bytes = serde_json::to_vec_pretty(&self.to_json()).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        match write_atomic(&path, &bytes, 0o600) {
            Ok(()) => Ok(path),
            Err(e) => Err(format!("cannot write {}: {e}", path.display())),
        }
    }
}
