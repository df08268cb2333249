//! Crash-safe file writes: temp file in the same directory (mode set at
//! creation), write, fsync, rename, fsync the directory. A crash at any
//! point leaves the old file or the new one, never a torn or empty one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Why a write is not (fully) done; the two cases mean different things to
/// whoever holds the data.
#[derive(Debug)]
pub enum WriteError {
    /// the file was not replaced: the old one (or none) is in place
    NotWritten(io::Error),
    /// the new file is in place, but syncing its directory failed, so a
    /// power cut could still bring the old one back
    NotDurable(io::Error),
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::NotWritten(e) => write!(f, "{e}"),
            WriteError::NotDurable(e) => write!(
                f,
                "the file is in place but its directory could not be synced ({e})"
            ),
        }
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

pub fn write_atomic(path: &Path, data: &[u8], mode: u32) -> Result<(), WriteError> {
    write_atomic_with(path, data, mode, sync_dir)
}

fn write_atomic_with(
    path: &Path,
    data: &[u8],
    mode: u32,
    sync_dir: fn(&Path) -> io::Result<()>,
) -> Result<(), WriteError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().ok_or_else(|| {
        WriteError::NotWritten(io::Error::new(
            io::ErrorKind::InvalidInput,
            "path has no file name",
        ))
    })?;
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        crate::ids::new_id()
    ));
    let result = (|| {
        let mut f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(data)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(WriteError::NotWritten(e));
    }
    // the rename itself is durable only once the directory is synced
    sync_dir(dir).map_err(WriteError::NotDurable)
}

/// A small text file (a token, a key) read whole, refusing one over `max`
/// bytes: a path that names `/dev/zero` or a log file must not fill memory.
pub fn read_small(path: &Path, max: usize) -> io::Result<String> {
    let mut text = String::new();
    File::open(path)?
        .take(max as u64 + 1)
        .read_to_string(&mut text)?;
    if text.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("larger than {max} bytes"),
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_with_mode() {
        let dir = std::env::temp_dir().join(format!("wa-fs-{}", crate::ids::new_id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        write_atomic(&p, b"one", 0o600).unwrap();
        write_atomic(&p, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(
            fs::metadata(&p).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(fs::read_dir(&dir).unwrap().count(), 1, "no temp files left");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn a_failed_directory_sync_after_the_rename_says_the_file_is_in_place() {
        let dir = std::env::temp_dir().join(format!("wa-fs-{}", crate::ids::new_id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("f");
        let r = write_atomic_with(&p, b"new", 0o600, |_| Err(io::Error::other("EIO")));
        assert!(matches!(r, Err(WriteError::NotDurable(_))), "{r:?}");
        assert_eq!(fs::read(&p).unwrap(), b"new");
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn missing_dir_is_an_error_not_a_panic() {
        assert!(write_atomic(Path::new("/nonexistent-dir/x/f"), b"x", 0o600).is_err());
    }
}
