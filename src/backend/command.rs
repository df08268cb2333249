//! Runs a local program per message: the message text on stdin, its stdout
//! streamed back as the answer.
//!
//! No shell is involved unless the user writes one (`AGENT_COMMAND="sh -c
//! '...'"`). The child runs in its own process group with the environment
//! `config::child_env` decided (no secrets, no `CONFIGS_DIR`), optionally as
//! another user, and the whole group is killed on cancel, on timeout and on
//! shutdown (which cancels every task).

use super::watchdog::Watchdog;
use super::{Backend, BackendError, BackendRequest};
use crate::config::CommandConfig;
use crate::store::CancelToken;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::Instant;

/// How much of stderr is kept to explain a failure.
const STDERR_TAIL: usize = 2048;
/// Largest answer read from the program.
const MAX_OUTPUT: usize = 8 << 20;

pub struct CommandBackend {
    cfg: CommandConfig,
}

impl CommandBackend {
    pub fn new(cfg: CommandConfig) -> CommandBackend {
        if !cfg.env.withheld.is_empty() {
            log::info!(
                "command backend: withheld from the program's environment (secret-looking or the agent's paths): {}; \
                 hand one on with AGENT_COMMAND_ENV=NAME,NAME",
                cfg.env.withheld.join(", ")
            );
        }
        // SAFETY: geteuid has no preconditions.
        if cfg.user.is_none() && unsafe { libc::geteuid() } == 0 {
            log::warn!(
                "command backend: the agent runs as root, so the program does too and can read the agent's files \
                 and memory; set AGENT_COMMAND_USER=uid:gid to run it as another user"
            );
        }
        CommandBackend { cfg }
    }
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we
    // created for the child (process_group(0) makes pgid == pid).
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

impl Backend for CommandBackend {
    fn name(&self) -> &'static str {
        "command"
    }

    fn run(
        &self,
        req: &BackendRequest<'_>,
        cancel: &CancelToken,
        deadline: Instant,
        emit: &mut dyn FnMut(&str),
    ) -> Result<(), BackendError> {
        let total = deadline.saturating_duration_since(Instant::now());
        let Some((program, args)) = self.cfg.argv.split_first() else {
            return Err(BackendError::Failed("AGENT_COMMAND is empty".into()));
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .env_clear()
            .envs(self.cfg.env.vars.iter().map(|(k, v)| (k, v)))
            .env("A2A_TASK_ID", req.task_id)
            .env("A2A_CONTEXT_ID", req.context_id);
        if let Some((uid, gid)) = self.cfg.user {
            cmd.uid(uid).gid(gid);
        }
        // `_owned` keeps the reaper off this pid until `child.wait()` below
        let (mut child, _owned) = crate::children::spawn_owned(&mut cmd)
            .map_err(|e| BackendError::Failed(format!("could not start {program:?}: {e}")))?;
        let pid = child.id();

        // stdin on its own thread: a program that writes before it reads
        // must not deadlock against us
        let input = req.text.as_bytes().to_vec();
        let stdin = child.stdin.take();
        let writer = std::thread::Builder::new()
            .name("cmd-stdin".into())
            .spawn(move || {
                if let Some(mut s) = stdin {
                    let _ = s.write_all(&input);
                }
            });
        let stderr = child.stderr.take();
        let err_reader = std::thread::Builder::new()
            .name("cmd-stderr".into())
            .spawn(move || {
                let mut tail = Vec::new();
                if let Some(mut s) = stderr {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        tail.extend_from_slice(&buf[..n]);
                        if tail.len() > STDERR_TAIL {
                            tail.drain(..tail.len() - STDERR_TAIL);
                        }
                    }
                }
                String::from_utf8_lossy(&tail).trim().to_string()
            });

        // The watchdog kills the group on cancel or timeout; reading stdout
        // below then ends because the pipe closes.
        let watchdog =
            match Watchdog::spawn("cmd-watchdog", cancel, deadline, move || kill_group(pid)) {
                Ok(w) => w,
                Err(e) => {
                    kill_group(pid);
                    let _ = child.wait();
                    return Err(BackendError::Failed(format!(
                        "could not watch the command: {e}"
                    )));
                }
            };

        let mut out = child.stdout.take();
        let mut pending: Vec<u8> = Vec::new();
        let mut total_out = 0usize;
        let mut buf = [0u8; 4096];
        while let Some(s) = out.as_mut() {
            let n = match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            total_out += n;
            if total_out > MAX_OUTPUT {
                kill_group(pid);
                break;
            }
            pending.extend_from_slice(&buf[..n]);
            // emit only whole UTF-8 characters; keep a split one for later
            let valid = match std::str::from_utf8(&pending) {
                Ok(_) => pending.len(),
                Err(e) if e.error_len().is_none() => e.valid_up_to(),
                Err(_) => pending.len(),
            };
            if valid > 0 {
                let chunk: Vec<u8> = pending.drain(..valid).collect();
                emit(&String::from_utf8_lossy(&chunk));
            }
        }
        if !pending.is_empty() {
            emit(&String::from_utf8_lossy(&pending));
        }
        drop(out);
        let status = child.wait();
        let killed = watchdog.finish();
        if let Ok(w) = writer {
            let _ = w.join();
        }
        let stderr_tail = err_reader
            .ok()
            .and_then(|r| r.join().ok())
            .unwrap_or_default();

        if killed {
            return Err(if cancel.is_set() {
                BackendError::Canceled
            } else {
                BackendError::TimedOut(total)
            });
        }
        if total_out > MAX_OUTPUT {
            return Err(BackendError::Failed(format!(
                "{program:?} wrote more than {MAX_OUTPUT} bytes"
            )));
        }
        match status {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => {
                let why = match s.code() {
                    Some(c) => format!("exited with status {c}"),
                    None => "was killed by a signal".to_string(),
                };
                let detail = if stderr_tail.is_empty() {
                    String::new()
                } else {
                    format!(": {stderr_tail}")
                };
                Err(BackendError::Failed(format!(
                    "the command {program:?} {why}{detail}"
                )))
            }
            Err(e) => Err(BackendError::Failed(format!(
                "could not wait for {program:?}: {e}"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn run(
        argv: &[&str],
        text: &str,
        cancel: &CancelToken,
        budget: Duration,
    ) -> (Result<(), BackendError>, String) {
        let b = CommandBackend::new(CommandConfig {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: crate::config::child_env(&crate::config::ProcessEnv),
            user: None,
        });
        let mut out = String::new();
        let req = BackendRequest {
            task_id: "t",
            context_id: "c",
            text,
        };
        let r = b.run(&req, cancel, Instant::now() + budget, &mut |c| {
            out.push_str(c)
        });
        (r, out)
    }

    #[test]
    fn cat_echoes_stdin() {
        let (r, out) = run(
            &["cat"],
            "hello ✓",
            &CancelToken::new(),
            Duration::from_secs(10),
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out, "hello ✓");
    }

    #[test]
    fn failure_explains_itself() {
        let (r, _) = run(
            &["sh", "-c", "echo broken >&2; exit 3"],
            "",
            &CancelToken::new(),
            Duration::from_secs(10),
        );
        match r {
            Err(BackendError::Failed(m)) => {
                assert!(m.contains("status 3") && m.contains("broken"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        let (r, _) = run(
            &["/nonexistent/prog"],
            "",
            &CancelToken::new(),
            Duration::from_secs(10),
        );
        assert!(matches!(r, Err(BackendError::Failed(m)) if m.contains("could not start")));
    }

    #[test]
    fn timeout_kills_the_group() {
        let start = Instant::now();
        let (r, _) = run(
            &["sh", "-c", "sleep 30 & sleep 30"],
            "",
            &CancelToken::new(),
            Duration::from_millis(200),
        );
        assert!(matches!(r, Err(BackendError::TimedOut(_))), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
