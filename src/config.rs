//! Configuration: read once from the environment (and the optional card
//! file), validated, then passed down. Nothing deeper in the program reads
//! the environment.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Every variable the agent reads: name, default, meaning. `--help` and the
/// README's table come from this list.
pub const VARS: &[(&str, &str, &str)] = &[
    ("WORKSPACE_ID", "(required)", "the workspace this agent is; the platform shows it on the workspace's page"),
    ("PLATFORM_URL", "http://localhost:8080", "base URL of the Molecule platform API (in Docker: http://host.docker.internal:8080)"),
    ("PORT", "8000", "port the A2A server listens on"),
    ("BIND_ADDR", "0.0.0.0", "address the A2A server binds (all interfaces by default)"),
    ("AGENT_URL", "http://<hostname>:<PORT>", "URL advertised to the platform and in the card; must be reachable by the platform"),
    ("CONFIGS_DIR", "/configs", "where the auth token, the snapshot and agent-card.json live (a volume)"),
    ("AGENT_CARD_FILE", "$CONFIGS_DIR/agent-card.json", "JSON file with name, description, skills (and per-backend overrides)"),
    ("AGENT_NAME", "workspace-agent", "the card's name (overrides the card file)"),
    ("AGENT_DESCRIPTION", "(per backend)", "the card's description (overrides the card file)"),
    ("HEARTBEAT_INTERVAL_SECS", "30", "seconds between heartbeats (the platform marks an agent offline after ~90 s)"),
    ("REGISTER", "true", "set to false to serve without ever contacting the platform"),
    ("SHUTDOWN_GRACE_SECS", "8", "time in-flight tasks get after SIGTERM; keep it below `docker stop`'s 10 s, raise it with terminationGracePeriodSeconds"),
    ("WORKERS", "16", "HTTP worker threads (streams and blocking sends each hold one)"),
    ("AGENT_BACKEND", "echo", "echo | openai | command | http"),
    ("AGENT_TIMEOUT_SECS", "300", "longest a backend may take for one message"),
    ("MAX_CONCURRENT_TASKS", "8", "backend runs at once; more wait up to QUEUE_WAIT_MS, then get a busy error"),
    ("QUEUE_WAIT_MS", "2000", "how long a message waits for a free backend slot"),
    ("ECHO_DELAY_MS", "0", "echo backend: spread the answer over this time, word by word (demos, tests)"),
    ("OPENAI_BASE_URL", "http://localhost:11434/v1", "openai backend: base URL of a chat-completions API (Ollama, vLLM, llama.cpp, OpenAI)"),
    ("OPENAI_API_KEY", "(none)", "openai backend: bearer key, never logged"),
    ("OPENAI_MODEL", "llama3.2", "openai backend: model name"),
    ("OPENAI_SYSTEM_PROMPT", "(none)", "openai backend: system prompt"),
    ("OPENAI_HISTORY_MESSAGES", "20", "openai backend: messages of a context's conversation kept"),
    ("OPENAI_HISTORY_BYTES", "4194304", "openai backend: bytes of all remembered conversations together; the least recently used go first"),
    ("OPENAI_MAX_ANSWER_BYTES", "1048576", "openai backend: longest answer read from the model (the task fails beyond)"),
    ("AGENT_COMMAND", "(none)", "command backend: program and arguments, split like a shell would but run without one"),
    ("AGENT_COMMAND_ENV", "(none)", "command backend: comma-separated variable names handed to the program even though they look secret (e.g. HF_TOKEN,MY_API_KEY)"),
    ("AGENT_COMMAND_FORMAT", "text", "command backend: text (stdin is the message's text, stdout the answer) or jsonl (message and history as one JSON line in, events as JSON lines out; see Backends)"),
    ("AGENT_COMMAND_USER", "(none)", "command backend: uid[:gid] the program runs as when the agent starts as root, so it cannot read the agent's files"),
    ("AGENT_WEBHOOK_URL", "(none)", "http backend: URL that gets {text, task_id, context_id} and answers {text}"),
    ("AGENT_CA_FILE", "(none)", "PEM bundle of private CA certificates trusted for HTTPS (platform, backends) besides the built-in roots; SSL_CERT_FILE is used when it is unset"),
    ("SSL_CERT_FILE", "(none)", "like AGENT_CA_FILE (the usual name for a CA bundle); added to the built-in roots, not replacing them"),
    ("A2A_AUTH_TOKEN", "(none)", "when set, A2A routes require `Authorization: Bearer <token>` (standalone use: the platform proxy forwards no auth)"),
    ("A2A_AUTH_TOKEN_FILE", "(none)", "file holding A2A_AUTH_TOKEN"),
    ("MAX_CONNECTIONS", "512", "open connections at once; more get 503 + Retry-After"),
    ("MAX_BODY_BYTES", "1048576", "largest request body (413 beyond)"),
    ("MAX_HEADER_BYTES", "16384", "request line plus headers (431 beyond)"),
    ("MAX_HEADERS", "100", "header lines per request (431 beyond)"),
    ("JSON_MAX_DEPTH", "32", "deepest JSON nesting accepted in a request (-32700 beyond)"),
    ("MAX_PARTS", "64", "parts in one message (-32602 beyond)"),
    ("MAX_PART_BYTES", "1048576", "bytes of one part (-32602 beyond)"),
    ("BODY_TIMEOUT_SECS", "30", "time to send a request body once it has started (408 beyond)"),
    ("HEADER_TIMEOUT_SECS", "10", "time to send request line and headers (408 beyond)"),
    ("IDLE_TIMEOUT_SECS", "30", "idle keep-alive time, and the longest pause inside a request"),
    ("MAX_TASKS", "1000", "tasks kept in memory (oldest finished ones are evicted)"),
    ("MAX_TASK_STORE_BYTES", "16777216", "bytes of tasks kept in memory"),
    ("TASK_IDLE_TTL_SECS", "3600", "an unfinished task idle this long is failed"),
    ("RUST_LOG", "info", "log filter (error, warn, info, debug, trace)"),
    ("LOG_FORMAT", "text", "text | json (one JSON object per line, for log shippers)"),
    ("ACCESS_LOG", "true", "one info line per answered request (method, path, status, duration, bytes, A2A method, task id); false turns it off"),
    ("METRICS_AUTH", "false", "true puts /metrics behind A2A_AUTH_TOKEN too (it is public otherwise)"),
];

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub tls: std::sync::Arc<ureq::rustls::ClientConfig>,
    pub base_url: String,
    pub api_key: Option<String>,
    pub model: String,
    pub system_prompt: Option<String>,
    pub max_history_messages: usize,
    /// bytes of all remembered conversations together
    pub max_history_bytes: usize,
    /// longest answer read from the model
    pub max_answer_bytes: usize,
}

/// The environment the command backend's program gets: the agent's own
/// minus anything secret, decided once here.
#[derive(Clone, Default, PartialEq)]
pub struct ChildEnv {
    pub vars: Vec<(String, String)>,
    /// names only, for the start-up log
    pub withheld: Vec<String>,
}

impl std::fmt::Debug for ChildEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.vars.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("ChildEnv")
            .field("vars", &names)
            .field("withheld", &self.withheld)
            .finish()
    }
}

#[derive(Debug, Clone)]
pub struct CommandConfig {
    pub argv: Vec<String>,
    pub env: ChildEnv,
    /// (uid, gid) to run the program as; needs the agent to start as root
    pub user: Option<(u32, u32)>,
    pub format: CommandFormat,
}

/// What the program reads and writes (`AGENT_COMMAND_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandFormat {
    /// the message's text in, the answer's text out
    Text,
    /// the message and history as one JSON line in, events as JSON lines out
    Jsonl,
}

#[derive(Debug, Clone)]
pub enum BackendConfig {
    Echo {
        delay: Duration,
    },
    OpenAi(OpenAiConfig),
    Command(CommandConfig),
    Webhook {
        url: String,
        tls: std::sync::Arc<ureq::rustls::ClientConfig>,
    },
}

impl BackendConfig {
    pub fn name(&self) -> &'static str {
        match self {
            BackendConfig::Echo { .. } => "echo",
            BackendConfig::OpenAi(_) => "openai",
            BackendConfig::Command(_) => "command",
            BackendConfig::Webhook { .. } => "http",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Skill {
    pub id: String,
    pub name: String,
    pub description: String,
    pub tags: Vec<String>,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct CardConfig {
    pub name: String,
    pub description: String,
    pub skills: Vec<Skill>,
}

#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub json_max_depth: usize,
    pub max_parts: usize,
    pub max_part_bytes: usize,
    pub max_tasks: usize,
    pub max_task_store_bytes: usize,
    pub task_idle_ttl: Duration,
    pub max_concurrent_tasks: usize,
    pub queue_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub workspace_id: String,
    /// TLS for every HTTPS call: the web roots plus the private CA, if any
    pub tls: std::sync::Arc<ureq::rustls::ClientConfig>,
    /// where the private CA came from
    pub ca_file: Option<String>,
    pub platform_url: String,
    pub register: bool,
    pub port: u16,
    pub bind_addr: IpAddr,
    pub agent_url: String,
    pub configs_dir: PathBuf,
    pub heartbeat_interval: Duration,
    pub shutdown_grace: Duration,
    pub workers: usize,
    pub task_timeout: Duration,
    pub backend: BackendConfig,
    pub card: CardConfig,
    pub limits: Limits,
    /// inbound bearer token for the A2A routes
    pub auth_token: Option<String>,
    pub ops: OpsConfig,
}

/// Logs and the metrics route.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    pub json_logs: bool,
    pub access_log: bool,
    /// `/metrics` requires the inbound token too
    pub metrics_auth: bool,
}

fn ops_config(env: &dyn Env, has_token: bool) -> Result<OpsConfig, ConfigError> {
    let json_logs = match var(env, "LOG_FORMAT").as_deref() {
        None | Some("text") => false,
        Some("json") => true,
        Some(v) => {
            return Err(ConfigError(format!(
                "LOG_FORMAT={v:?} is not valid: expected text or json"
            )))
        }
    };
    let metrics_auth = boolean(env, "METRICS_AUTH", false)?;
    if metrics_auth && !has_token {
        return Err(ConfigError(
            "METRICS_AUTH=true needs A2A_AUTH_TOKEN (or A2A_AUTH_TOKEN_FILE): the token /metrics then requires".into(),
        ));
    }
    Ok(OpsConfig {
        json_logs,
        access_log: boolean(env, "ACCESS_LOG", true)?,
        metrics_auth,
    })
}

/// A configuration problem, phrased so the user knows what to change.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where values come from: the process environment, or a map in tests.
pub trait Env {
    fn get(&self, name: &str) -> Option<String>;
    /// every variable; names or values that are not UTF-8 are left out
    fn all(&self) -> Vec<(String, String)>;
}

pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }

    fn all(&self) -> Vec<(String, String)> {
        std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect()
    }
}

impl Env for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }

    fn all(&self) -> Vec<(String, String)> {
        let mut v: Vec<_> = self.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        v.sort();
        v
    }
}

/// Variables that point the program at the agent's volume (the token lives
/// there): withheld like secrets.
const AGENT_PATHS: [&str; 2] = ["CONFIGS_DIR", "AGENT_CARD_FILE"];

/// The program's environment: everything but secret-looking names, values
/// that are URLs with credentials and the agent's paths, except the names
/// the operator hands on explicitly.
pub fn child_env(env: &dyn Env) -> ChildEnv {
    let pass: Vec<String> = var(env, "AGENT_COMMAND_ENV")
        .map(|v| {
            v.split(',')
                .map(|n| n.trim().to_string())
                .filter(|n| !n.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let mut out = ChildEnv::default();
    for (k, v) in env.all() {
        let secret = AGENT_PATHS.contains(&k.as_str())
            || crate::redact::is_secret_name(&k)
            || crate::redact::has_credentials(&v);
        if secret && !pass.contains(&k) {
            out.withheld.push(k);
        } else {
            out.vars.push((k, v));
        }
    }
    out.withheld.sort();
    out
}

/// The TLS client configuration, with the private CA bundle named by
/// `AGENT_CA_FILE` (or `SSL_CERT_FILE`) added to the built-in roots.
type Tls = (Option<String>, std::sync::Arc<ureq::rustls::ClientConfig>);

fn tls_config(env: &dyn Env) -> Result<Tls, ConfigError> {
    let named = ["AGENT_CA_FILE", "SSL_CERT_FILE"]
        .into_iter()
        .find_map(|n| var(env, n).map(|v| (n, v)));
    let certs = match &named {
        Some((name, path)) => crate::tls::read_pem_bundle(path)
            .map_err(|why| ConfigError(format!("{name}={path:?} {why}")))?,
        None => Vec::new(),
    };
    let tls = crate::tls::client_config(&certs).map_err(|why| {
        let (name, path) = named.clone().unwrap_or_default();
        ConfigError(format!("{name}={path:?} {why}"))
    })?;
    Ok((named.map(|(_, p)| p), tls))
}

/// `AGENT_COMMAND_USER=uid[:gid]`, numeric (a scratch image has no user
/// database to look names up in).
fn command_user(env: &dyn Env) -> Result<Option<(u32, u32)>, ConfigError> {
    let Some(v) = var(env, "AGENT_COMMAND_USER") else {
        return Ok(None);
    };
    let bad = |why: &str| ConfigError(format!("AGENT_COMMAND_USER={v:?} is not valid: {why}"));
    let (u, g) = v.split_once(':').unwrap_or((v.as_str(), v.as_str()));
    let (uid, gid) = match (u.parse::<u32>(), g.parse::<u32>()) {
        (Ok(u), Ok(g)) => (u, g),
        _ => return Err(bad("expected a numeric uid or uid:gid, e.g. 10002:10002")),
    };
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(bad(
            "running the program as another user needs the agent to start as root",
        ));
    }
    Ok(Some((uid, gid)))
}

fn var(env: &dyn Env, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

fn number<T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy>(
    env: &dyn Env,
    name: &str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError> {
    match var(env, name) {
        None => Ok(default),
        Some(v) => match v.parse::<T>() {
            Ok(n) if n >= min && n <= max => Ok(n),
            _ => Err(ConfigError(format!(
                "{name}={v:?} is not valid: expected a whole number from {min} to {max}"
            ))),
        },
    }
}

fn secs(
    env: &dyn Env,
    name: &str,
    default: u64,
    min: u64,
    max: u64,
) -> Result<Duration, ConfigError> {
    number(env, name, default, min, max).map(Duration::from_secs)
}

fn millis(env: &dyn Env, name: &str, default: u64, max: u64) -> Result<Duration, ConfigError> {
    number(env, name, default, 0, max).map(Duration::from_millis)
}

fn boolean(env: &dyn Env, name: &str, default: bool) -> Result<bool, ConfigError> {
    match var(env, name).map(|v| v.to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if ["1", "true", "yes", "on"].contains(&v.as_str()) => Ok(true),
        Some(v) if ["0", "false", "no", "off"].contains(&v.as_str()) => Ok(false),
        Some(v) => Err(ConfigError(format!(
            "{name}={v:?} is not valid: expected true or false"
        ))),
    }
}

/// Checks that `url` is an absolute http(s) URL with a host; returns it
/// without a trailing slash.
pub fn check_http_url(name: &str, url: &str) -> Result<String, ConfigError> {
    let bad = |why: &str| {
        let shown = crate::redact::url(url);
        ConfigError(format!("{name}={shown:?} is not valid: {why}"))
    };
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("it must start with http:// or https://"))?;
    let host_port = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    if host.is_empty() || host.starts_with(':') {
        return Err(bad("it has no host name"));
    }
    if host.chars().any(|c| c.is_whitespace()) {
        return Err(bad("it contains spaces"));
    }
    let port = if let Some(v6) = host.strip_prefix('[') {
        let (_, after) = v6
            .split_once(']')
            .ok_or_else(|| bad("its IPv6 address has no closing ]"))?;
        after.strip_prefix(':')
    } else {
        host.split_once(':').map(|(_, p)| p)
    };
    if let Some(p) = port {
        if !matches!(p.parse::<u16>(), Ok(n) if n > 0) {
            return Err(bad("its port is not a number from 1 to 65535"));
        }
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// Splits a command line the way a POSIX shell would split words (quotes
/// and backslashes), without running a shell.
pub fn split_command(s: &str) -> Result<Vec<String>, String> {
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
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err("unterminated double quote".into()),
                        },
                        Some(c) => cur.push(c),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => cur.push(c),
                    None => return Err("trailing backslash".into()),
                }
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

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most buf.len() bytes into buf.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc == 0 {
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        if let Ok(s) = std::str::from_utf8(&buf[..end]) {
            if !s.is_empty() {
                return s.to_string();
            }
        }
    }
    "localhost".to_string()
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::load(&ProcessEnv)
    }

    pub fn load(env: &dyn Env) -> Result<Config, ConfigError> {
        let workspace_id = var(env, "WORKSPACE_ID").ok_or_else(|| {
            ConfigError(
                "WORKSPACE_ID is not set (it names the workspace this agent serves; the platform shows it on the workspace's page)"
                    .into(),
            )
        })?;
        let platform_url = check_http_url(
            "PLATFORM_URL",
            &var(env, "PLATFORM_URL").unwrap_or_else(|| "http://localhost:8080".into()),
        )?;
        let port: u16 = number(env, "PORT", 8000, 1, 65535)?;
        let bind_addr = match var(env, "BIND_ADDR") {
            None => IpAddr::from([0, 0, 0, 0]),
            Some(v) => v.parse().map_err(|_| {
                ConfigError(format!(
                    "BIND_ADDR={v:?} is not valid: expected an IP address such as 0.0.0.0"
                ))
            })?,
        };
        let agent_url = match var(env, "AGENT_URL") {
            Some(u) => check_http_url("AGENT_URL", &u)?,
            None => format!("http://{}:{port}", hostname()),
        };
        let configs_dir =
            PathBuf::from(var(env, "CONFIGS_DIR").unwrap_or_else(|| "/configs".into()));

        let (ca_file, tls) = tls_config(env)?;
        let backend = match var(env, "AGENT_BACKEND").as_deref().unwrap_or("echo") {
            "echo" => BackendConfig::Echo { delay: millis(env, "ECHO_DELAY_MS", 0, 3_600_000)? },
            "openai" => BackendConfig::OpenAi(OpenAiConfig {
                tls: tls.clone(),
                base_url: check_http_url(
                    "OPENAI_BASE_URL",
                    &var(env, "OPENAI_BASE_URL").unwrap_or_else(|| "http://localhost:11434/v1".into()),
                )?,
                api_key: var(env, "OPENAI_API_KEY"),
                model: var(env, "OPENAI_MODEL").unwrap_or_else(|| "llama3.2".into()),
                system_prompt: var(env, "OPENAI_SYSTEM_PROMPT"),
                max_history_messages: number(env, "OPENAI_HISTORY_MESSAGES", 20, 0, 1000)?,
                max_history_bytes: number(env, "OPENAI_HISTORY_BYTES", 4 << 20, 0, 1 << 30)?,
                max_answer_bytes: number(env, "OPENAI_MAX_ANSWER_BYTES", 1 << 20, 1024, 64 << 20)?,
            }),
            "command" => {
                let raw = var(env, "AGENT_COMMAND").ok_or_else(|| {
                    ConfigError("AGENT_BACKEND=command needs AGENT_COMMAND (the program to run, e.g. \"python3 /app/answer.py\")".into())
                })?;
                let argv = split_command(&raw).map_err(|e| ConfigError(format!("AGENT_COMMAND is not valid: {e}")))?;
                if argv.is_empty() {
                    return Err(ConfigError("AGENT_COMMAND is empty".into()));
                }
                BackendConfig::Command(CommandConfig {
                    argv,
                    env: child_env(env),
                    user: command_user(env)?,
                    format: match var(env, "AGENT_COMMAND_FORMAT").as_deref() {
                        None | Some("text") => CommandFormat::Text,
                        Some("jsonl") => CommandFormat::Jsonl,
                        Some(other) => {
                            return Err(ConfigError(format!("AGENT_COMMAND_FORMAT={other:?} is not valid: use text or jsonl")))
                        }
                    },
                })
            }
            "http" | "webhook" => BackendConfig::Webhook {
                tls: tls.clone(),
                url: check_http_url(
                    "AGENT_WEBHOOK_URL",
                    &var(env, "AGENT_WEBHOOK_URL").ok_or_else(|| {
                        ConfigError("AGENT_BACKEND=http needs AGENT_WEBHOOK_URL (where to POST each message)".into())
                    })?,
                )?,
            },
            other => {
                return Err(ConfigError(format!(
                    "AGENT_BACKEND={other:?} is not valid: expected echo, openai, command or http"
                )))
            }
        };

        let auth_token = match (var(env, "A2A_AUTH_TOKEN"), var(env, "A2A_AUTH_TOKEN_FILE")) {
            (Some(t), _) => Some(t),
            (None, Some(path)) => {
                let t = std::fs::read_to_string(&path).map_err(|e| {
                    ConfigError(format!("A2A_AUTH_TOKEN_FILE={path:?} cannot be read: {e}"))
                })?;
                let t = t.trim().to_string();
                if t.is_empty() {
                    return Err(ConfigError(format!(
                        "A2A_AUTH_TOKEN_FILE={path:?} is empty"
                    )));
                }
                Some(t)
            }
            (None, None) => None,
        };

        let card_file = var(env, "AGENT_CARD_FILE").map(PathBuf::from);
        let card = load_card(env, card_file.as_deref(), &configs_dir, backend.name())?;

        let limits = Limits {
            max_connections: number(env, "MAX_CONNECTIONS", 512, 8, 1_000_000)?,
            max_body_bytes: number(env, "MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20)?,
            header_timeout: secs(env, "HEADER_TIMEOUT_SECS", 10, 1, 3600)?,
            body_timeout: secs(env, "BODY_TIMEOUT_SECS", 30, 1, 3600)?,
            idle_timeout: secs(env, "IDLE_TIMEOUT_SECS", 30, 1, 3600)?,
            max_header_bytes: number(env, "MAX_HEADER_BYTES", 16 * 1024, 1024, 1 << 20)?,
            max_headers: number(env, "MAX_HEADERS", 100, 8, 10_000)?,
            json_max_depth: number(env, "JSON_MAX_DEPTH", 32, 4, 128)?,
            max_parts: number(env, "MAX_PARTS", 64, 1, 10_000)?,
            max_part_bytes: number(env, "MAX_PART_BYTES", 1 << 20, 1, 64 << 20)?,
            max_tasks: number(env, "MAX_TASKS", 1000, 1, 10_000_000)?,
            max_task_store_bytes: number(env, "MAX_TASK_STORE_BYTES", 16 << 20, 64 << 10, 1 << 40)?,
            task_idle_ttl: secs(env, "TASK_IDLE_TTL_SECS", 3600, 1, 30 * 86_400)?,
            max_concurrent_tasks: number(env, "MAX_CONCURRENT_TASKS", 8, 1, 10_000)?,
            queue_wait: millis(env, "QUEUE_WAIT_MS", 2000, 600_000)?,
        };

        Ok(Config {
            tls,
            ca_file,
            workspace_id,
            platform_url,
            register: boolean(env, "REGISTER", true)?,
            port,
            bind_addr,
            agent_url,
            configs_dir,
            heartbeat_interval: secs(env, "HEARTBEAT_INTERVAL_SECS", 30, 1, 3600)?,
            shutdown_grace: secs(env, "SHUTDOWN_GRACE_SECS", 8, 0, 86_400)?,
            workers: number(env, "WORKERS", 16, 2, 1024)?,
            task_timeout: secs(env, "AGENT_TIMEOUT_SECS", 300, 1, 86_400)?,
            backend,
            card,
            limits,
            ops: ops_config(env, auth_token.is_some())?,
            auth_token,
        })
    }

    /// One line for the start-up log: everything useful, no secret.
    pub fn summary(&self) -> String {
        format!(
            "workspace={} platform={} advertised={} listen={}:{} backend={} workers={} max_tasks_running={} heartbeat={}s grace={}s configs={} inbound_auth={} private_ca={}",
            self.workspace_id,
            crate::redact::url(&self.platform_url),
            crate::redact::url(&self.agent_url),
            self.bind_addr,
            self.port,
            crate::backend::probe::describe(&self.backend),
            self.workers,
            self.limits.max_concurrent_tasks,
            self.heartbeat_interval.as_secs(),
            self.shutdown_grace.as_secs(),
            self.configs_dir.display(),
            if self.auth_token.is_some() { "on" } else { "off" },
            self.ca_file.as_deref().unwrap_or("none"),
        )
    }
}

fn default_description(backend: &str) -> &'static str {
    match backend {
        "echo" => "Echoes each message back: a tiny A2A agent ready for a real backend.",
        "openai" => "Answers with a language model behind an OpenAI-compatible API.",
        "command" => "Answers by running a local program on each message.",
        _ => "Answers by forwarding each message to a web service.",
    }
}

fn default_skill(backend: &str) -> Skill {
    let (id, name, examples) = match backend {
        "echo" => ("echo", "Echo", vec!["Hello!".to_string()]),
        "openai" => (
            "chat",
            "Chat",
            vec!["Summarise this paragraph for me.".to_string()],
        ),
        "command" => ("run", "Run", vec![]),
        _ => ("forward", "Forward", vec![]),
    };
    Skill {
        id: id.into(),
        name: name.into(),
        description: default_description(backend).into(),
        tags: vec![backend.to_string()],
        examples,
    }
}

/// Reads the card file (explicit path must exist; the default one may not),
/// applies its per-backend section, then env overrides.
fn load_card(
    env: &dyn Env,
    explicit: Option<&std::path::Path>,
    configs_dir: &std::path::Path,
    backend: &str,
) -> Result<CardConfig, ConfigError> {
    let mut card = CardConfig {
        name: "workspace-agent".into(),
        description: default_description(backend).into(),
        skills: vec![default_skill(backend)],
    };
    let default_path = configs_dir.join("agent-card.json");
    let path = explicit.unwrap_or(&default_path);
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
                ConfigError(format!(
                    "card file {} is not valid JSON: {e}",
                    path.display()
                ))
            })?;
            apply_card_json(&mut card, &v, &path.display().to_string())?;
            if let Some(section) = v.get("backends").and_then(|b| b.get(backend)) {
                apply_card_json(
                    &mut card,
                    section,
                    &format!("{} (backends.{backend})", path.display()),
                )?;
            }
        }
        // the default file is optional: no file (or no directory) is fine
        Err(e)
            if explicit.is_none()
                && (e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR)) => {}
        Err(e) => {
            return Err(ConfigError(format!(
                "card file {} cannot be read: {e}",
                path.display()
            )))
        }
    }
    if let Some(n) = var(env, "AGENT_NAME") {
        card.name = n;
    }
    if let Some(d) = var(env, "AGENT_DESCRIPTION") {
        card.description = d;
    }
    Ok(card)
}

fn apply_card_json(
    card: &mut CardConfig,
    v: &serde_json::Value,
    origin: &str,
) -> Result<(), ConfigError> {
    use serde_json::Value;
    let obj = v
        .as_object()
        .ok_or_else(|| ConfigError(format!("card file {origin}: expected a JSON object")))?;
    let text = |k: &str| -> Result<Option<String>, ConfigError> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ConfigError(format!(
                "card file {origin}: \"{k}\" must be a string"
            ))),
        }
    };
    if let Some(n) = text("name")? {
        card.name = n;
    }
    if let Some(d) = text("description")? {
        card.description = d;
    }
    if let Some(skills) = obj.get("skills") {
        let arr = skills
            .as_array()
            .ok_or_else(|| ConfigError(format!("card file {origin}: \"skills\" must be a list")))?;
        card.skills = arr
            .iter()
            .enumerate()
            .map(|(i, s)| {
                parse_skill(s)
                    .map_err(|why| ConfigError(format!("card file {origin}: skills[{i}] {why}")))
            })
            .collect::<Result<_, _>>()?;
    }
    Ok(())
}

fn parse_skill(v: &serde_json::Value) -> Result<Skill, String> {
    let o = v.as_object().ok_or("must be an object")?;
    let s = |k: &str| -> Result<Option<String>, String> {
        match o.get(k) {
            None => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("\"{k}\" must be a string")),
        }
    };
    let list = |k: &str| -> Result<Vec<String>, String> {
        match o.get(k) {
            None => Ok(Vec::new()),
            Some(serde_json::Value::Array(a)) => a
                .iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .ok_or(format!("\"{k}\" must be a list of strings"))
                })
                .collect(),
            Some(_) => Err(format!("\"{k}\" must be a list of strings")),
        }
    };
    let id = s("id")?
        .filter(|x| !x.is_empty())
        .ok_or("needs an \"id\"")?;
    Ok(Skill {
        name: s("name")?.unwrap_or_else(|| id.clone()),
        description: s("description")?.unwrap_or_default(),
        tags: list("tags")?,
        examples: list("examples")?,
        id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        let mut m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        m.entry("CONFIGS_DIR".into())
            .or_insert_with(|| "/nonexistent-configs".into());
        m
    }

    #[test]
    fn defaults() {
        let c = Config::load(&env(&[("WORKSPACE_ID", "ws-1")])).unwrap();
        assert_eq!(c.port, 8000);
        assert_eq!(c.platform_url, "http://localhost:8080");
        assert_eq!(c.heartbeat_interval, Duration::from_secs(30));
        assert_eq!(c.shutdown_grace, Duration::from_secs(8));
        assert!(c.agent_url.ends_with(":8000"));
        assert_eq!(c.backend.name(), "echo");
        assert!(!c.summary().is_empty());
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "WORKSPACE_ID"),
            (&[("WORKSPACE_ID", "  ")], "WORKSPACE_ID"),
            (&[("WORKSPACE_ID", "w"), ("PORT", "0")], "PORT"),
            (&[("WORKSPACE_ID", "w"), ("PORT", "70000")], "PORT"),
            (&[("WORKSPACE_ID", "w"), ("PORT", "abc")], "PORT"),
            (
                &[("WORKSPACE_ID", "w"), ("PLATFORM_URL", "ftp://x")],
                "PLATFORM_URL",
            ),
            (
                &[("WORKSPACE_ID", "w"), ("PLATFORM_URL", "http://")],
                "PLATFORM_URL",
            ),
            (
                &[("WORKSPACE_ID", "w"), ("AGENT_BACKEND", "gpt")],
                "AGENT_BACKEND",
            ),
            (
                &[("WORKSPACE_ID", "w"), ("AGENT_BACKEND", "command")],
                "AGENT_COMMAND",
            ),
            (
                &[
                    ("WORKSPACE_ID", "w"),
                    ("AGENT_BACKEND", "command"),
                    ("AGENT_COMMAND", "sh -c 'x"),
                ],
                "AGENT_COMMAND",
            ),
            (
                &[("WORKSPACE_ID", "w"), ("SHUTDOWN_GRACE_SECS", "-1")],
                "SHUTDOWN_GRACE_SECS",
            ),
            (&[("WORKSPACE_ID", "w"), ("REGISTER", "maybe")], "REGISTER"),
        ];
        for (pairs, name) in cases {
            let e = Config::load(&env(pairs)).unwrap_err();
            assert!(e.0.contains(name), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn the_child_env_withholds_secrets_unless_handed_on() {
        let e = env(&[
            ("PATH", "/bin"),
            ("OPENAI_API_KEY", "k"),
            ("HF_TOKEN", "h"),
            ("DATABASE_URL", "postgres://u:p@db/x"),
            ("AGENT_COMMAND_ENV", " HF_TOKEN ,"),
        ]);
        let c = child_env(&e);
        let names: Vec<&str> = c.vars.iter().map(|(k, _)| k.as_str()).collect();
        assert!(
            names.contains(&"PATH") && names.contains(&"HF_TOKEN"),
            "{c:?}"
        );
        assert_eq!(
            c.withheld,
            ["CONFIGS_DIR", "DATABASE_URL", "OPENAI_API_KEY"]
        );
        assert!(!format!("{c:?}").contains("/bin"), "Debug shows names only");
    }

    #[test]
    fn command_splitting() {
        assert_eq!(
            split_command(r#"sh -c 'echo "hi" there'"#).unwrap(),
            vec!["sh", "-c", "echo \"hi\" there"]
        );
        assert_eq!(
            split_command(r#"a\ b "c d" ''"#).unwrap(),
            vec!["a b", "c d", ""]
        );
        assert!(split_command("'open").is_err());
    }

    #[test]
    fn card_file_with_backend_section() {
        let dir = std::env::temp_dir().join(format!("wa-card-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("agent-card.json"),
            r#"{"name":"Helper","skills":[{"id":"a","tags":["x"]}],
               "backends":{"echo":{"description":"Echo desc"}}}"#,
        )
        .unwrap();
        let c = Config::load(&env(&[
            ("WORKSPACE_ID", "w"),
            ("CONFIGS_DIR", dir.to_str().unwrap()),
        ]))
        .unwrap();
        assert_eq!(c.card.name, "Helper");
        assert_eq!(c.card.description, "Echo desc");
        assert_eq!(c.card.skills[0].name, "a");
        std::fs::write(dir.join("agent-card.json"), "{broken").unwrap();
        let e = Config::load(&env(&[
            ("WORKSPACE_ID", "w"),
            ("CONFIGS_DIR", dir.to_str().unwrap()),
        ]))
        .unwrap_err();
        assert!(e.0.contains("not valid JSON"), "{e}");
        std::fs::write(
            dir.join("agent-card.json"),
            r#"{"skills":[{"name":"no id"}]}"#,
        )
        .unwrap();
        let e = Config::load(&env(&[
            ("WORKSPACE_ID", "w"),
            ("CONFIGS_DIR", dir.to_str().unwrap()),
        ]))
        .unwrap_err();
        assert!(e.0.contains("skills[0]"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }
}
