//! A child's three pipes driven from the calling thread with poll(2): the
//! input is written as the child reads it, stdout goes to a callback as it
//! arrives, and stderr's tail is kept to explain a failure. No thread per
//! pipe, and no deadlock against a child that writes before it reads.

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;
use std::process::{ChildStderr, ChildStdin, ChildStdout};
use std::time::Instant;

/// How much of stderr is kept.
const STDERR_TAIL: usize = 2048;

pub struct Pipes {
    pub stdin: Option<ChildStdin>,
    pub stdout: Option<ChildStdout>,
    pub stderr: Option<ChildStderr>,
}

/// Whether the reader wants more of stdout.
#[derive(PartialEq, Eq)]
pub enum Flow {
    More,
    Stop,
}

/// How pumping ended.
pub struct Pumped {
    pub stderr_tail: String,
    /// the deadline passed first
    pub timed_out: bool,
    /// the callback asked to stop
    pub stopped: bool,
}

fn set_nonblocking(fd: i32) {
    // SAFETY: fcntl on a pipe end this process owns; failure leaves it
    // blocking, which poll(2) readiness still keeps correct for reads.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK);
        }
    }
}

/// Milliseconds to `deadline` for poll(2), at least 1 while any is left.
fn poll_timeout(deadline: Instant) -> Option<i32> {
    let left = deadline.checked_duration_since(Instant::now())?;
    if left.is_zero() {
        return None;
    }
    Some(left.as_millis().clamp(1, i32::MAX as u128) as i32)
}

impl Pipes {
    /// Runs until stdout and stderr are closed, the deadline passes, or
    /// `on_out` says stop. The input is written whole, then stdin closed.
    pub fn pump(
        mut self,
        input: &[u8],
        deadline: Instant,
        on_out: &mut dyn FnMut(&[u8]) -> Flow,
    ) -> Pumped {
        for fd in [
            self.stdin.as_ref().map(AsRawFd::as_raw_fd),
            self.stdout.as_ref().map(AsRawFd::as_raw_fd),
            self.stderr.as_ref().map(AsRawFd::as_raw_fd),
        ]
        .into_iter()
        .flatten()
        {
            set_nonblocking(fd);
        }
        let mut written = 0;
        if input.is_empty() {
            self.stdin = None;
        }
        let mut tail = Vec::new();
        let mut done = Pumped {
            stderr_tail: String::new(),
            timed_out: false,
            stopped: false,
        };
        while self.stdout.is_some() || self.stderr.is_some() {
            let Some(timeout) = poll_timeout(deadline) else {
                done.timed_out = true;
                break;
            };
            let ready = self.wait(timeout);
            if ready[0] {
                written += self.write_some(&input[written..]);
                if written >= input.len() {
                    self.stdin = None;
                }
            }
            if ready[1] && self.read_stdout(on_out) == Flow::Stop {
                done.stopped = true;
                break;
            }
            if ready[2] {
                self.read_stderr(&mut tail);
            }
        }
        done.stderr_tail = String::from_utf8_lossy(&tail).trim().to_string();
        done
    }

    /// Which of stdin, stdout, stderr is ready (or closed, or in error).
    fn wait(&self, timeout: i32) -> [bool; 3] {
        let fds = [
            (self.stdin.as_ref().map(AsRawFd::as_raw_fd), libc::POLLOUT),
            (self.stdout.as_ref().map(AsRawFd::as_raw_fd), libc::POLLIN),
            (self.stderr.as_ref().map(AsRawFd::as_raw_fd), libc::POLLIN),
        ];
        let mut polled: Vec<libc::pollfd> = fds
            .iter()
            .map(|(fd, events)| libc::pollfd {
                fd: fd.unwrap_or(-1), // poll(2) skips negative fds
                events: *events,
                revents: 0,
            })
            .collect();
        // SAFETY: `polled` is a valid array of 3 pollfd for the call.
        let n = unsafe { libc::poll(polled.as_mut_ptr(), 3, timeout) };
        if n <= 0 {
            // timeout or EINTR: the caller's loop checks the deadline
            return [false; 3];
        }
        let mut ready = [false; 3];
        for (r, p) in ready.iter_mut().zip(&polled) {
            *r = p.fd >= 0 && p.revents != 0;
        }
        ready
    }

    fn write_some(&mut self, rest: &[u8]) -> usize {
        let Some(s) = self.stdin.as_mut() else {
            return rest.len();
        };
        match s.write(rest) {
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => 0,
            // the child closed its stdin (EPIPE): it has read all it wants
            Err(_) => rest.len(),
        }
    }

    fn read_stdout(&mut self, on_out: &mut dyn FnMut(&[u8]) -> Flow) -> Flow {
        let mut buf = [0u8; 8192];
        let Some(s) = self.stdout.as_mut() else {
            return Flow::More;
        };
        match s.read(&mut buf) {
            Ok(0) => {
                self.stdout = None;
                Flow::More
            }
            Ok(n) => on_out(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {
                Flow::More
            }
            Err(_) => {
                self.stdout = None;
                Flow::More
            }
        }
    }

    fn read_stderr(&mut self, tail: &mut Vec<u8>) {
        let mut buf = [0u8; 4096];
        let Some(s) = self.stderr.as_mut() else {
            return;
        };
        match s.read(&mut buf) {
            Ok(0) => self.stderr = None,
            Ok(n) => {
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > STDERR_TAIL {
                    tail.drain(..tail.len() - STDERR_TAIL);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::Interrupted => {}
            Err(_) => self.stderr = None,
        }
    }
}
