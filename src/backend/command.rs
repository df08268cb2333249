//! Runs a local program per message: the message text on stdin, its stdout
//! streamed back as the answer.
//!
//! No shell is involved unless the user writes one (`AGENT_COMMAND="sh -c
//! '...'"`). The child runs in its own process group with the environment
//! `config::child_env` decided (no secrets, no `CONFIGS_DIR`), optionally as
//! another user, and the whole group is killed on cancel, on timeout and on
//! shutdown (which cancels every task).

use super::jsonl::{EventLimits, Lines, RequestJson};
use super::pipes::{Flow, Pipes};
use super::watchdog::Watchdog;
use super::{Backend, BackendError, BackendEvent, BackendRequest, Turn};
use crate::children::Owned;
use crate::config::{CommandConfig, CommandFormat};
use std::borrow::Cow;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};

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

    fn spawn(
        &self,
        program: &str,
        req: &BackendRequest<'_>,
    ) -> Result<(Child, Owned), BackendError> {
        let mut cmd = Command::new(program);
        cmd.args(&self.cfg.argv[1..])
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
        // `Owned` keeps the reaper off this pid until `child.wait()`
        crate::children::spawn_owned(&mut cmd)
            .map_err(|e| BackendError::Failed(format!("could not start {program:?}: {e}")))
    }

    /// What the program reads on stdin.
    fn input<'a>(&self, req: &'a BackendRequest<'a>) -> Cow<'a, [u8]> {
        match self.cfg.format {
            CommandFormat::Text => Cow::Borrowed(req.text.as_bytes()),
            CommandFormat::Jsonl => {
                let mut line = serde_json::to_vec(&RequestJson(req)).unwrap_or_default();
                line.push(b'\n');
                Cow::Owned(line)
            }
        }
    }
}

fn kill_group(pid: u32) {
    // SAFETY: kill(2) with a negative pid signals the process group we
    // created for the child (process_group(0) makes pgid == pid).
    unsafe {
        libc::kill(-(pid as i32), libc::SIGKILL);
    }
}

/// The program's stdout turned into events, within `MAX_OUTPUT`.
struct Output {
    format: CommandFormat,
    /// text mode: bytes of a UTF-8 character split between reads
    pending: Vec<u8>,
    lines: Lines,
    total: usize,
    /// why reading stopped early, for a person
    error: Option<String>,
    /// a final event came: the program has said all it may
    ended: bool,
}

impl Output {
    fn new(format: CommandFormat) -> Output {
        Output {
            format,
            pending: Vec::new(),
            lines: Lines::new(EventLimits::default()),
            total: 0,
            error: None,
            ended: false,
        }
    }

    fn feed(&mut self, bytes: &[u8], emit: &mut dyn FnMut(BackendEvent<'_>)) -> Flow {
        self.total += bytes.len();
        if self.total > MAX_OUTPUT {
            self.error = Some(format!("wrote more than {MAX_OUTPUT} bytes"));
            return Flow::Stop;
        }
        match self.format {
            CommandFormat::Text => {
                self.pending.extend_from_slice(bytes);
                // emit only whole UTF-8 characters; keep a split one for later
                let valid = match std::str::from_utf8(&self.pending) {
                    Ok(_) => self.pending.len(),
                    Err(e) if e.error_len().is_none() => e.valid_up_to(),
                    Err(_) => self.pending.len(),
                };
                if valid > 0 {
                    let chunk: Vec<u8> = self.pending.drain(..valid).collect();
                    emit(BackendEvent::Text(&String::from_utf8_lossy(&chunk)));
                }
                Flow::More
            }
            CommandFormat::Jsonl => {
                let ended = &mut self.ended;
                let fed = self.lines.feed(bytes, &mut |e| {
                    *ended |= e.is_final();
                    emit(e)
                });
                match fed {
                    Ok(()) if self.ended => Flow::Stop,
                    Ok(()) => Flow::More,
                    Err(e) => {
                        self.error = Some(format!("wrote an invalid event on {e}"));
                        Flow::Stop
                    }
                }
            }
        }
    }

    /// What is left once stdout is closed.
    fn finish(&mut self, emit: &mut dyn FnMut(BackendEvent<'_>)) {
        if self.error.is_some() || self.ended {
            return;
        }
        if !self.pending.is_empty() {
            emit(BackendEvent::Text(&String::from_utf8_lossy(&self.pending)));
        }
        let ended = &mut self.ended;
        let fed = self.lines.finish(&mut |e| {
            *ended |= e.is_final();
            emit(e)
        });
        if let Err(e) = fed {
            self.error = Some(format!("wrote an invalid event on {e}"));
        }
    }
}

impl Backend for CommandBackend {
    fn name(&self) -> &'static str {
        "command"
    }

    fn wants_history(&self) -> bool {
        self.cfg.format == CommandFormat::Jsonl
    }

    fn run(&self, req: &BackendRequest<'_>, turn: &mut Turn<'_>) -> Result<(), BackendError> {
        let Some(program) = self.cfg.argv.first() else {
            return Err(BackendError::Failed("AGENT_COMMAND is empty".into()));
        };
        let (mut child, _owned) = self.spawn(program, req)?;
        let pid = child.id();
        // The watchdog kills the group on cancel or timeout; the pipes then
        // close and pumping ends.
        let watchdog =
            match Watchdog::spawn("cmd-watchdog", turn.cancel, turn.deadline, move || {
                kill_group(pid)
            }) {
                Ok(w) => w,
                Err(e) => {
                    kill_group(pid);
                    let _ = child.wait();
                    return Err(BackendError::Failed(format!(
                        "could not watch the command: {e}"
                    )));
                }
            };
        let pipes = Pipes {
            stdin: child.stdin.take(),
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
        };
        let mut out = Output::new(self.cfg.format);
        let emit = &mut *turn.emit;
        let pumped = pipes.pump(&self.input(req), turn.deadline, &mut |b| out.feed(b, emit));
        if pumped.stopped || pumped.timed_out {
            kill_group(pid);
        }
        out.finish(emit);
        let status = child.wait();
        let fired = watchdog.finish();
        if out.ended {
            // the answer is complete; how the program ended (maybe killed
            // by us for lingering) no longer matters
            return Ok(());
        }
        if fired || pumped.timed_out {
            return Err(turn.interrupted());
        }
        if let Some(e) = out.error {
            return Err(BackendError::Failed(format!("{program:?} {e}")));
        }
        exit_result(program, status, &pumped.stderr_tail)
    }
}

fn exit_result(
    program: &str,
    status: std::io::Result<ExitStatus>,
    stderr_tail: &str,
) -> Result<(), BackendError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CancelToken;
    use std::time::{Duration, Instant};

    fn backend(argv: &[&str], format: CommandFormat) -> CommandBackend {
        CommandBackend::new(CommandConfig {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: crate::config::child_env(&crate::config::ProcessEnv),
            user: None,
            format,
        })
    }

    /// Runs in jsonl mode; returns the result and every event.
    fn run_jsonl(script: &str, budget: Duration) -> (Result<(), BackendError>, Vec<String>) {
        let b = backend(&["sh", "-c", script], CommandFormat::Jsonl);
        let history = [crate::protocol::model::Message::agent_text(
            "earlier", "t", "c",
        )];
        let run = crate::backend::test_run(&b, "hi", &history, &CancelToken::new(), budget);
        (run.result, run.events)
    }

    #[test]
    fn jsonl_reads_the_request_and_streams_events() {
        let script = r#"read -r line
case "$line" in *'"history":[{'*'earlier'*) ;; *) echo "no history: $line" >&2; exit 9;; esac
echo '{"kind":"status-update","status":{"state":"working"}}'
printf '%s' '{"kind":"artifact-update","artifact":{"parts":[{"kind":"text","text":"x"}]}}'"#;
        let (r, events) = run_jsonl(script, Duration::from_secs(10));
        assert_eq!(r, Ok(()));
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].contains("Working") && events[1].contains("Artifact"));
    }

    #[test]
    fn an_invalid_jsonl_line_fails_the_run_and_stops_the_program() {
        let start = Instant::now();
        let script =
            r#"echo '{"kind":"artifact-update","artifact":{"parts":[]}}'; echo 'oops'; sleep 30"#;
        let (r, events) = run_jsonl(script, Duration::from_secs(20));
        match r {
            Err(BackendError::Failed(m)) => {
                assert!(m.contains("invalid event on line 2: not JSON"), "{m}")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(events.len(), 1);
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "killed, not waited for"
        );
    }

    #[test]
    fn the_run_ends_at_the_final_event_even_if_the_program_lingers() {
        let start = Instant::now();
        let script =
            r#"echo '{"kind":"status-update","status":{"state":"completed"}}'; sleep 30; exit 3"#;
        let (r, events) = run_jsonl(script, Duration::from_secs(20));
        assert_eq!(r, Ok(()));
        assert_eq!(events.len(), 1);
        assert!(start.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn a_program_that_writes_before_it_reads_does_not_deadlock() {
        // 1 MiB out before reading 1 MiB in: both pipes fill unless pumped together
        let big = "y".repeat(1 << 20);
        let (r, out) = run(
            &[
                "sh",
                "-c",
                "head -c 1048576 /dev/zero | tr '\\0' x; cat >/dev/null",
            ],
            &big,
            &CancelToken::new(),
            Duration::from_secs(20),
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out.len(), 1 << 20);
        // and one that reads nothing at all just ends
        let (r, _) = run(
            &["true"],
            &big,
            &CancelToken::new(),
            Duration::from_secs(20),
        );
        assert_eq!(r, Ok(()));
    }

    #[test]
    fn cancel_kills_at_once() {
        let cancel = CancelToken::new();
        let c = cancel.clone();
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            c.trigger();
        });
        let start = Instant::now();
        let (r, _) = run(&["sleep", "30"], "", &cancel, Duration::from_secs(30));
        assert_eq!(r, Err(BackendError::Canceled));
        assert!(start.elapsed() < Duration::from_secs(5));
        t.join().unwrap();
    }

    fn run(
        argv: &[&str],
        text: &str,
        cancel: &CancelToken,
        budget: Duration,
    ) -> (Result<(), BackendError>, String) {
        let b = backend(argv, CommandFormat::Text);
        let run = crate::backend::test_run(&b, text, &[], cancel, budget);
        (run.result, run.texts.concat())
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
        assert!(matches!(r, Err(BackendError::TimedOut)), "{r:?}");
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
