//! Helpers shared by the integration tests: start the real binary, wait for
//! it, talk HTTP to it, and a mock platform. Everything is on 127.0.0.1.
#![allow(dead_code)]

pub mod peers;
#[path = "../support/mock_platform.rs"]
pub mod platform;

use serde_json::Value;
use std::fs::File;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// (status, lower-cased headers, body)
pub type HttpReply = (u16, Vec<(String, String)>, Vec<u8>);

pub const BIN: &str = env!("CARGO_BIN_EXE_workspace-agent");

/// Runs the binary to completion with only `env` (and PATH) set.
pub fn run_bin(env: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().unwrap()
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "wa-test-{tag}-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A temporary directory owned by `uid`, for an agent started with
/// `Agent::start_as`.
pub fn temp_dir_for(tag: &str, uid: u32) -> PathBuf {
    let d = temp_dir(tag);
    std::os::unix::fs::chown(&d, Some(uid), Some(uid)).unwrap();
    d
}

/// The uid tests run an unprivileged agent as.
pub const NOBODY: u32 = 65534;

pub struct Agent {
    pub child: Child,
    pub port: u16,
    pub configs: PathBuf,
    log: PathBuf,
}

impl Agent {
    /// Starts the agent with test defaults (loopback, no platform, a temp
    /// CONFIGS_DIR), overridden by `env`, and waits until it serves.
    pub fn start(env: &[(&str, &str)]) -> Agent {
        Agent::start_inner(env, None, &[])
    }

    pub fn spawn(env: &[(&str, &str)]) -> Agent {
        Agent::spawn_inner(env, None, None, &[])
    }

    /// Like `start`, with the binary started through `wrapper` (e.g.
    /// `unshare ...`): `child` is then the wrapper's process.
    pub fn start_wrapped(env: &[(&str, &str)], wrapper: &[&str]) -> Agent {
        Agent::start_inner(env, None, wrapper)
    }

    /// Like `start`, with the agent running as `uid` (gid the same), as the
    /// image runs it; the test itself runs as root. CONFIGS_DIR must be one
    /// that uid can use (see `temp_dir_for`).
    pub fn start_as(env: &[(&str, &str)], uid: u32) -> Agent {
        let a = Agent::spawn_inner(env, None, Some(uid), &[]);
        a.wait_ready();
        a
    }

    /// `start_as` through `wrapper` (e.g. `prlimit ...`), which runs as
    /// `uid` too.
    pub fn start_wrapped_as(env: &[(&str, &str)], uid: u32, wrapper: &[&str]) -> Agent {
        Agent::start_inner(env, Some(uid), wrapper)
    }

    /// Spawns and waits until ready, on a fresh port again when another
    /// test's agent took the one `free_port` found meanwhile (tests run in
    /// parallel): then the card answering would be that other agent's.
    fn start_inner(env: &[(&str, &str)], uid: Option<u32>, wrapper: &[&str]) -> Agent {
        for _ in 0..5 {
            let a = Agent::spawn_inner(env, None, uid, wrapper);
            if a.ready() {
                return a;
            }
        }
        panic!("no free port in 5 tries");
    }

    /// Like `spawn`, with the log kept in `log_dir` (for a CONFIGS_DIR the
    /// test makes unwritable).
    pub fn spawn_logging_to(env: &[(&str, &str)], log_dir: &std::path::Path) -> Agent {
        Agent::spawn_inner(env, Some(log_dir), None, &[])
    }

    fn spawn_inner(
        env: &[(&str, &str)],
        log_dir: Option<&std::path::Path>,
        uid: Option<u32>,
        wrapper: &[&str],
    ) -> Agent {
        let port = env
            .iter()
            .find(|(k, _)| *k == "PORT")
            .map(|(_, v)| v.parse().unwrap())
            .unwrap_or_else(free_port);
        let configs = env
            .iter()
            .find(|(k, _)| *k == "CONFIGS_DIR")
            .map(|(_, v)| PathBuf::from(v))
            .unwrap_or_else(|| temp_dir("cfg"));
        let log = log_dir
            .unwrap_or(&configs)
            .join(format!("agent-{port}.log"));
        let mut cmd = match wrapper.split_first() {
            Some((prog, args)) => {
                let mut c = Command::new(prog);
                c.args(args).arg(BIN);
                c
            }
            None => Command::new(BIN),
        };
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("WORKSPACE_ID", "ws-test")
            .env("PORT", port.to_string())
            .env("BIND_ADDR", "127.0.0.1")
            .env("AGENT_URL", format!("http://127.0.0.1:{port}"))
            .env("CONFIGS_DIR", &configs)
            .env("REGISTER", "false")
            .env("RUST_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        if let Some(uid) = uid {
            use std::os::unix::process::CommandExt;
            cmd.uid(uid).gid(uid);
        }
        let out = File::create(&log).unwrap();
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out.try_clone().unwrap())
            .stderr(out)
            .spawn()
            .unwrap();
        Agent {
            child,
            port,
            configs,
            log,
        }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn wait_ready(&self) {
        assert!(
            self.ready(),
            "another program took port {}; logs:\n{}",
            self.port,
            self.logs()
        );
    }

    /// True once this agent serves its card; false if its port was taken.
    /// Its own log says which, before a card answer is believed: the port
    /// may be another agent's.
    fn ready(&self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            let logs = self.logs();
            if logs.contains("cannot listen on") && logs.contains("Address already in use") {
                return false;
            }
            let card = || http(self.port, "GET", "/.well-known/agent-card.json", &[], b"");
            if logs.contains("serving the agent card") && matches!(card(), Ok((200, _, _))) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("agent did not become ready; logs:\n{}", self.logs());
    }

    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: i32) {
        unsafe {
            libc::kill(self.child.id() as i32, sig);
        }
    }

    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        None
    }

    /// Waits until `n` tasks are working (a backend run is in flight), so a
    /// test acts on a state rather than after a guessed delay.
    pub fn wait_working(&self, n: usize) {
        let working = || {
            let r = self.rpc(
                "ListTasks",
                serde_json::json!({"status": "TASK_STATE_WORKING"}),
                &[],
            );
            r["result"]["tasks"].as_array().map_or(0, |t| t.len()) >= n
        };
        assert!(
            eventually(Duration::from_secs(10), working),
            "{n} task(s) never working; logs:\n{}",
            self.logs()
        );
    }

    /// Waits until the agent has taken a stop signal (its log says so).
    pub fn wait_stopping(&self) {
        self.wait_log("stop signal received", Duration::from_secs(10));
    }

    /// Waits up to `within` for `needle` in the log; fails showing the log.
    pub fn wait_log(&self, needle: &str, within: Duration) {
        assert!(
            eventually(within, || self.logs().contains(needle)),
            "{needle:?} not in the logs after {within:?}:\n{}",
            self.logs()
        );
    }

    /// Blocking JSON-RPC call on `/`; returns the response JSON.
    pub fn rpc(&self, method: &str, params: Value, headers: &[(&str, &str)]) -> Value {
        rpc(self.port, "/", method, params, headers)
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// POSTs one JSON-RPC request (`id` 1, JSON content type) and returns the
/// raw reply: for status codes and event streams. `rpc` parses it.
pub fn post_rpc(
    port: u16,
    path: &str,
    method: &str,
    params: Value,
    headers: &[(&str, &str)],
) -> std::io::Result<HttpReply> {
    let body = serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
        .to_string();
    let mut h = vec![("Content-Type", "application/json")];
    h.extend_from_slice(headers);
    http(port, "POST", path, &h, body.as_bytes())
}

pub fn rpc(port: u16, path: &str, method: &str, params: Value, headers: &[(&str, &str)]) -> Value {
    let (status, _, body) = post_rpc(port, path, method, params, headers).expect("agent answers");
    assert!(
        status == 200 || status == 503,
        "status {status}: {}",
        String::from_utf8_lossy(&body)
    );
    serde_json::from_slice(&body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&body)))
}

/// A minimal HTTP/1.1 client over a raw socket (Connection: close), so tests
/// see exactly what the server sends. Returns (status, headers, body).
pub fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<HttpReply> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    parse_response(&raw)
}

pub fn parse_response(raw: &[u8]) -> std::io::Result<HttpReply> {
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "bad response");
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    }
    Ok((status, headers, body))
}

pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(nl) = b.windows(2).position(|w| w == b"\r\n") {
        let len = usize::from_str_radix(String::from_utf8_lossy(&b[..nl]).trim(), 16).unwrap_or(0);
        if len == 0 {
            break;
        }
        let start = nl + 2;
        if b.len() < start + len {
            out.extend_from_slice(&b[start..]);
            break;
        }
        out.extend_from_slice(&b[start..start + len]);
        b = &b[(start + len + 2).min(b.len())..];
    }
    out
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The `data:` payloads of an SSE body, parsed.
pub fn sse_events(body: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(body)
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect()
}

pub fn send_params(text: &str) -> Value {
    serde_json::json!({"message": {"role": "user", "messageId": "m-1", "parts": [{"kind": "text", "text": text}]}})
}

/// One unlabelled sample from `/metrics`, if the agent exports it.
pub fn metric(port: u16, name: &str) -> Option<f64> {
    let (_, _, body) = http(port, "GET", "/metrics", &[], b"").ok()?;
    let text = String::from_utf8_lossy(&body).into_owned();
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
        .find_map(|v| v.trim().parse().ok())
}

/// Waits until the agent holds no connection but the one asking.
pub fn wait_connections_closed(port: u16) -> bool {
    eventually(Duration::from_secs(15), || {
        metric(port, "workspace_agent_open_connections").is_some_and(|n| n <= 1.0)
    })
}

/// Polls `f` until it is true or the time is up.
pub fn eventually(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    f()
}

/// (state, parent pid) of a process, from /proc/<pid>/stat.
pub fn proc_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let mut f = after.split_whitespace();
    Some((f.next()?.chars().next()?, f.next()?.parse().ok()?))
}

/// Every process whose parent is `ppid`, with its state.
pub fn children_of(ppid: u32) -> Vec<(u32, char)> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| match proc_state(pid) {
            Some((state, p)) if p == ppid => Some((pid, state)),
            _ => None,
        })
        .collect()
}

/// A signal mask from /proc/<pid>/status: `SigBlk` (blocked by the main
/// thread), `SigCgt` (has a handler), ...
pub fn signal_mask(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        .unwrap_or(0)
}

/// Resident memory of a process, from /proc.
pub fn rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

/// A memory field of /proc/<pid>/status (`VmRSS:`, `VmHWM:`), in KiB.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// The agent still serves its card and a correct message/send.
pub fn still_fine(a: &Agent) {
    let (s, _, _) = http(a.port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(s, 200);
    let r = a.rpc("message/send", send_params("still fine"), &[]);
    assert_eq!(
        r["result"]["artifacts"][0]["parts"][0]["text"], "still fine",
        "{r}"
    );
}

/// Sends raw bytes, returns whatever comes back before the server closes or
/// `wait` passes.
pub fn raw(port: u16, bytes: &[u8], wait: Duration) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(wait)).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

/// An agent with short HTTP timeouts (2 s), for attacks that wait them out.
pub fn agent_with_short_timeouts(env: &[(&str, &str)]) -> Agent {
    let mut all = vec![
        ("HEADER_TIMEOUT_SECS", "2"),
        ("BODY_TIMEOUT_SECS", "2"),
        ("IDLE_TIMEOUT_SECS", "2"),
    ];
    all.extend_from_slice(env);
    Agent::start(&all)
}

/// After an attack: the card and a correct message/send, both within a
/// second, and RSS under 32 MiB.
pub fn survives(a: &Agent) {
    let t = Instant::now();
    still_fine(a);
    assert!(
        t.elapsed() < Duration::from_secs(1),
        "took {:?}",
        t.elapsed()
    );
    let rss = rss_kib(a.child.id());
    assert!(rss < 32 * 1024, "RSS {rss} KiB");
}

/// The text of a task's status message (a failed task says why there).
pub fn status_text(r: &Value) -> String {
    r["result"]["status"]["message"]["parts"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

/// The text of a task's first artifact (what the backend answered).
pub fn reply_text(r: &Value) -> String {
    r["result"]["artifacts"][0]["parts"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string()
}
