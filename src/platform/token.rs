//! The platform's bearer token: read from `$CONFIGS_DIR/.auth_token` at
//! start, persisted the moment one is issued, shared by every registry call.
//!
//! Invariant: the token is never formatted into a log line or an error.
//! `Debug` is implemented by hand for that reason.

use crate::fsutil::write_atomic;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

pub const TOKEN_FILE: &str = ".auth_token";

pub struct TokenStore {
    path: PathBuf,
    token: RwLock<Option<String>>,
    persisted: AtomicBool,
}

impl std::fmt::Debug for TokenStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("path", &self.path)
            .field("has_token", &self.get().is_some())
            .finish()
    }
}

/// Reads a token file; `Ok(None)` if there is none. Whitespace is trimmed
/// (hand-written files end in a newline).
pub fn read_token_file(path: &Path) -> Result<Option<String>, String> {
    match std::fs::read_to_string(path) {
        Ok(s) => {
            let t = s.trim();
            Ok((!t.is_empty()).then(|| t.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// A crash between creating a temp file and renaming it leaves the temp
/// file behind (never a torn token); clear those at start.
fn remove_stale_temp_files(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        // write_atomic names them ".<file>.tmp-<id>"
        if name.starts_with("..auth_token.tmp-") || name.starts_with("..agent_snapshot.json.tmp-") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

impl TokenStore {
    /// Loads the token file if present. An unreadable file is reported and
    /// treated as absent.
    pub fn load(configs_dir: &Path) -> TokenStore {
        let path = configs_dir.join(TOKEN_FILE);
        remove_stale_temp_files(configs_dir);
        let token = match read_token_file(&path) {
            Ok(t) => {
                if t.is_some() {
                    log::info!("using the platform token from {}", path.display());
                }
                t
            }
            Err(e) => {
                log::error!("{e}; continuing without a token");
                None
            }
        };
        TokenStore {
            path,
            token: RwLock::new(token),
            persisted: AtomicBool::new(true),
        }
    }

    pub fn get(&self) -> Option<String> {
        self.token.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the current token is safely on disk.
    pub fn is_persisted(&self) -> bool {
        self.persisted.load(Ordering::SeqCst)
    }

    /// Stores a newly issued token: disk first (atomically, 0600), then
    /// memory. If the disk refuses, the token is kept in memory and the
    /// failure is logged loudly, since losing it locks the workspace out.
    pub fn store_new(&self, token: &str) {
        match write_atomic(&self.path, token.as_bytes(), 0o600) {
            Ok(()) => {
                self.persisted.store(true, Ordering::SeqCst);
                log::info!(
                    "platform issued an auth token; saved to {} (mode 0600)",
                    self.path.display()
                );
            }
            Err(e) => {
                self.persisted.store(false, Ordering::SeqCst);
                log::error!(
                    "platform issued an auth token but it could NOT be saved to {}: {e}. It is kept in memory only: \
                     if this process stops, the workspace is locked out until the token is revoked. \
                     Make CONFIGS_DIR a writable volume.",
                    self.path.display()
                );
            }
        }
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = Some(token.to_string());
    }

    /// Re-reads the file (it may have been rotated on disk). Returns true if
    /// it holds a token different from the one in memory.
    pub fn reload(&self) -> bool {
        match read_token_file(&self.path) {
            Ok(Some(t)) => {
                let mut cur = self.token.write().unwrap_or_else(|e| e.into_inner());
                if cur.as_deref() != Some(t.as_str()) {
                    *cur = Some(t);
                    true
                } else {
                    false
                }
            }
            Ok(None) => false,
            Err(e) => {
                log::warn!("{e}");
                false
            }
        }
    }

    /// Forgets the in-memory token so the next registration goes without
    /// one (a platform that revoked it can then issue a new one).
    pub fn forget(&self) {
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn persists_and_reloads() {
        let dir = std::env::temp_dir().join(format!("wa-tok-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = TokenStore::load(&dir);
        assert!(s.get().is_none());
        s.store_new("abc");
        assert_eq!(
            std::fs::read_to_string(dir.join(TOKEN_FILE)).unwrap(),
            "abc"
        );
        let mode = std::fs::metadata(dir.join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{s:?}").contains("abc"));
        std::fs::write(dir.join(TOKEN_FILE), "rotated\n").unwrap();
        assert!(s.reload());
        assert_eq!(s.get().as_deref(), Some("rotated"));
        assert!(!s.reload());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn unwritable_dir_keeps_token_in_memory() {
        let s = TokenStore::load(Path::new("/nonexistent-wa-dir"));
        s.store_new("mem");
        assert_eq!(s.get().as_deref(), Some("mem"));
        assert!(!s.is_persisted());
    }
}
