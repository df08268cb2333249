//! The platform's bearer token: read from `$CONFIGS_DIR/.auth_token` at
//! start, persisted the moment one is issued, shared by every registry call.
//!
//! Invariant: the token is never formatted into a log line or an error.
//! `Debug` is implemented by hand for that reason.

use crate::fsutil::{write_atomic, WriteError};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::RwLock;

pub const TOKEN_FILE: &str = ".auth_token";
/// A platform token is 43 characters; anything past this is not one.
pub const MAX_TOKEN_FILE: u64 = 4096;

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

/// Whether `t` can be a bearer token: RFC 7235's token68 characters only,
/// so nothing else can ride into the Authorization header.
pub fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// Reads a token file; `Ok(None)` if there is none. Whitespace is trimmed
/// (hand-written files end in a newline). Trusted only as far as it looks
/// like a token: a symbolic link is not followed (it could point at another
/// secret, or at `/dev/zero`), and only a small regular file of token
/// characters is accepted. The text of an error never quotes the file.
pub fn read_token_file(path: &Path) -> Result<Option<String>, String> {
    let refuse = |why: String| Err(format!("{} is not used: {why}", path.display()));
    let file = std::fs::OpenOptions::new()
        .read(true)
        // a FIFO must not block the open
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return refuse("it is a symbolic link; write the token into a regular file".into())
        }
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = if kind.is_fifo() {
            "a FIFO"
        } else {
            "not a regular file"
        };
        return refuse(format!("it is {what}"));
    }
    if meta.len() > MAX_TOKEN_FILE {
        return refuse(format!(
            "it holds {} bytes, more than a token's {MAX_TOKEN_FILE}",
            meta.len()
        ));
    }
    let mut raw = Vec::new();
    file.take(MAX_TOKEN_FILE + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if raw.len() as u64 > MAX_TOKEN_FILE {
        return refuse(format!("it holds more than {MAX_TOKEN_FILE} bytes"));
    }
    let text = String::from_utf8_lossy(&raw);
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    if !is_token68(t) {
        return refuse(
            "it holds characters a token cannot have (one line of letters, digits and -._~+/=)"
                .into(),
        );
    }
    Ok(Some(t.to_string()))
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
        let temp_of = |file: &str| name.starts_with(&format!(".{file}.tmp-"));
        if temp_of(TOKEN_FILE) || temp_of(super::snapshot::SNAPSHOT_FILE) {
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
    /// memory. If the disk refuses, the token is kept in memory, the failure
    /// is logged loudly (losing it locks the workspace out) and
    /// `retry_persist` tries again.
    pub fn store_new(&self, token: &str) {
        let saved = self.save(token);
        self.persisted.store(saved, Ordering::SeqCst);
        if saved {
            log::info!(
                "platform issued an auth token; saved to {} (mode 0600)",
                self.path.display()
            );
        }
        *self.token.write().unwrap_or_else(|e| e.into_inner()) = Some(token.to_string());
    }

    /// Writes `token` to the file; true once it is there.
    fn save(&self, token: &str) -> bool {
        match write_atomic(&self.path, token.as_bytes(), 0o600) {
            Ok(()) => true,
            Err(WriteError::NotDurable(e)) => {
                log::warn!(
                    "the auth token is saved to {}, but its directory could not be synced ({e}): \
                     a power cut before the next sync could lose it",
                    self.path.display()
                );
                true
            }
            Err(WriteError::NotWritten(e)) => {
                log::error!(
                    "the platform's auth token could NOT be saved to {}: {e}. It is kept in memory only: \
                     if this process stops, the workspace is locked out until the token is revoked. \
                     Make CONFIGS_DIR a writable volume; saving is retried meanwhile.",
                    self.path.display()
                );
                false
            }
        }
    }

    /// Tries again to save a token held only in memory. Returns whether
    /// the token is now on disk (true when there was nothing to do).
    pub fn retry_persist(&self) -> bool {
        if self.is_persisted() {
            return true;
        }
        let Some(token) = self.get() else {
            return true;
        };
        if self.save(&token) {
            self.persisted.store(true, Ordering::SeqCst);
            log::info!(
                "the auth token held in memory is now saved to {} (mode 0600)",
                self.path.display()
            );
            return true;
        }
        false
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
        // not hex, so the random directory name in the Debug text cannot hold it
        s.store_new("secret-token");
        assert_eq!(
            std::fs::read_to_string(dir.join(TOKEN_FILE)).unwrap(),
            "secret-token"
        );
        let mode = std::fs::metadata(dir.join(TOKEN_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(!format!("{s:?}").contains("secret-token"));
        std::fs::write(dir.join(TOKEN_FILE), "rotated\n").unwrap();
        assert!(s.reload());
        assert_eq!(s.get().as_deref(), Some("rotated"));
        assert!(!s.reload());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn the_token_file_is_trusted_only_as_far_as_it_looks_like_one() {
        let dir = std::env::temp_dir().join(format!("wa-tok-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(TOKEN_FILE);
        let other = dir.join("other-secret");
        std::fs::write(&other, "another-files-secret-0000000000").unwrap();
        std::os::unix::fs::symlink(&other, &p).unwrap();
        let e = read_token_file(&p).unwrap_err();
        assert!(e.contains("symbolic link") && !e.contains("another"), "{e}");
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "a".repeat(5000)).unwrap();
        assert!(read_token_file(&p).unwrap_err().contains("bytes"));
        std::fs::write(&p, "tok en\r\nX-Injected: 1").unwrap();
        assert!(read_token_file(&p).unwrap_err().contains("characters"));
        std::fs::write(&p, "abc-DEF_123.~+/==\n").unwrap();
        assert_eq!(
            read_token_file(&p).unwrap().as_deref(),
            Some("abc-DEF_123.~+/==")
        );
        std::fs::remove_file(&p).unwrap();
        std::fs::create_dir(&p).unwrap();
        assert!(read_token_file(&p).unwrap_err().contains("regular file"));
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
