//! The command backend's program, as configured: `AGENT_COMMAND` split into
//! words like a shell would (without running one), and the program looked
//! up like `execvp` does, so a wrong name fails at start, not at the first
//! message.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where `execvp` looks when the environment has no `PATH` (glibc's
/// `confstr(_CS_PATH)`).
pub const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Why the program cannot be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProgramError {
    /// no executable of that name in any `PATH` directory
    NotInPath { program: String, path: String },
    /// a path that names nothing
    Missing(PathBuf),
    /// a directory or a device, not a program
    NotAFile(PathBuf),
    /// a file without the execute permission
    NotExecutable(PathBuf),
}

impl std::fmt::Display for ProgramError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProgramError::NotInPath { program, path } => {
                write!(f, "program {program:?} is not found in PATH ({path})")
            }
            ProgramError::Missing(p) => write!(f, "program {} does not exist", p.display()),
            ProgramError::NotAFile(p) => write!(f, "{} is not a program file", p.display()),
            ProgramError::NotExecutable(p) => write!(
                f,
                "{} is not executable (chmod +x it, or name its interpreter first, \
                 e.g. \"sh {}\")",
                p.display(),
                p.display()
            ),
        }
    }
}

impl std::error::Error for ProgramError {}

/// Finds `program` the way `execvp` would: a name with a `/` is taken as a
/// path, any other is searched in `path` (`PATH`, or [`DEFAULT_PATH`]).
pub fn find_program(program: &str, path: Option<&str>) -> Result<PathBuf, ProgramError> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return check_executable(&p).map(|()| p);
    }
    let path = path.unwrap_or(DEFAULT_PATH);
    let mut refused = None;
    // an empty PATH entry means the current directory, as for execvp
    for dir in path.split(':') {
        let candidate = Path::new(if dir.is_empty() { "." } else { dir }).join(program);
        match check_executable(&candidate) {
            Ok(()) => return Ok(candidate),
            Err(ProgramError::Missing(_)) => {}
            Err(e) => refused = refused.or(Some(e)),
        }
    }
    Err(refused.unwrap_or_else(|| ProgramError::NotInPath {
        program: program.to_string(),
        path: path.to_string(),
    }))
}

fn check_executable(p: &Path) -> Result<(), ProgramError> {
    let meta = std::fs::metadata(p).map_err(|_| ProgramError::Missing(p.to_path_buf()))?;
    if !meta.is_file() {
        return Err(ProgramError::NotAFile(p.to_path_buf()));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(ProgramError::NotExecutable(p.to_path_buf()));
    }
    Ok(())
}

/// Why a command line cannot be split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    SingleQuote,
    DoubleQuote,
    TrailingBackslash,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitError::SingleQuote => "unterminated single quote",
            SplitError::DoubleQuote => "unterminated double quote",
            SplitError::TrailingBackslash => "trailing backslash",
        })
    }
}

/// Splits a command line the way a POSIX shell splits words (quotes and
/// backslashes), without running a shell: no variables, globs or `#`
/// comments. Ours rather than a crate's: 50 lines, tested below.
pub fn split_command(s: &str) -> Result<Vec<String>, SplitError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(SplitError::SingleQuote),
                    }
                }
            }
            '"' => {
                in_word = true;
                double_quoted(&mut chars, &mut cur)?;
            }
            '\\' => {
                in_word = true;
                cur.push(chars.next().ok_or(SplitError::TrailingBackslash)?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// The rest of a `"..."` word: a backslash escapes only `" \ $ backquote`.
fn double_quoted(chars: &mut std::str::Chars<'_>, cur: &mut String) -> Result<(), SplitError> {
    loop {
        match chars.next() {
            Some('"') => return Ok(()),
            Some('\\') => match chars.next() {
                Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                Some(c) => {
                    cur.push('\\');
                    cur.push(c);
                }
                None => return Err(SplitError::DoubleQuote),
            },
            Some(c) => cur.push(c),
            None => return Err(SplitError::DoubleQuote),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitting() {
        assert_eq!(
            split_command(r#"sh -c 'echo "hi" there'"#).unwrap(),
            vec!["sh", "-c", "echo \"hi\" there"]
        );
        assert_eq!(
            split_command(r#"a\ b "c d" ''"#).unwrap(),
            vec!["a b", "c d", ""]
        );
        assert_eq!(split_command(r#""a\$b\x""#).unwrap(), vec!["a$b\\x"]);
        assert_eq!(split_command("  a\t b\n").unwrap(), vec!["a", "b"]);
        assert_eq!(split_command("a'b'c").unwrap(), vec!["abc"]);
        assert_eq!(split_command("").unwrap(), Vec::<String>::new());
        assert_eq!(split_command("'open"), Err(SplitError::SingleQuote));
        assert_eq!(split_command("\"open"), Err(SplitError::DoubleQuote));
        assert_eq!(split_command("\"a\\"), Err(SplitError::DoubleQuote));
        assert_eq!(split_command("a\\"), Err(SplitError::TrailingBackslash));
    }

    #[test]
    fn programs_are_looked_up_like_execvp() {
        assert!(find_program("sh", None).is_ok());
        assert!(find_program("sh", Some("/nonexistent:/bin:/usr/bin")).is_ok());
        assert!(matches!(
            find_program("no-such-program-x", Some("/bin")),
            Err(ProgramError::NotInPath { .. })
        ));
        assert!(matches!(
            find_program("/no/such", None),
            Err(ProgramError::Missing(_))
        ));
        assert!(matches!(
            find_program("/tmp/", None),
            Err(ProgramError::NotAFile(_))
        ));
        let dir = std::env::temp_dir().join(format!("wa-prog-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("answer.sh");
        std::fs::write(&script, "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = find_program(script.to_str().unwrap(), None).unwrap_err();
        assert_eq!(e, ProgramError::NotExecutable(script.clone()));
        assert!(e.to_string().contains("chmod +x"), "{e}");
        let in_path = find_program("answer.sh", dir.to_str());
        assert_eq!(in_path, Err(ProgramError::NotExecutable(script.clone())));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_program("answer.sh", dir.to_str()), Ok(script));
        let _ = std::fs::remove_dir_all(dir);
    }
}
