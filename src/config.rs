//! Configuration: read once from the environment (and the optional card
//! file), validated, then passed down. Nothing deeper in the program reads
//! the environment.
//!
//! Every variable is one row of [`VARS`] (name, default, secret or not,
//! meaning): `--help`, the README's table (`make readme-config`, checked by
//! `tests/readme_config.rs`) and the defaults the parse calls use all come
//! from it. A new variable is one row plus one parse line.

mod card_file;
mod command;

pub use command::{find_program, split_command};

use crate::protocol::DecodeLimits;
use crate::store::StoreLimits;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use ureq::rustls::ClientConfig;

/// A variable's default, as the parse calls use it and `--help` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Given {
    /// must be set
    Required,
    /// unset: the feature it configures is off
    Unset,
    /// this value
    Text(&'static str),
    /// worked out at start; shown as written
    Derived(&'static str),
    Flag(bool),
    /// a whole number: default, smallest, largest
    Number(u64, u64, u64),
    /// a byte count: default, smallest, largest (shown with its KiB/MiB)
    Bytes(u64, u64, u64),
}

/// Whether a variable's value may be shown (secrets never are, and the
/// command backend's program does not get them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secrecy {
    Plain,
    Secret,
}

/// One configuration variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Var {
    pub name: &'static str,
    pub given: Given,
    pub secrecy: Secrecy,
    pub about: &'static str,
}

impl std::fmt::Display for Given {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Given::Required => f.write_str("(required)"),
            Given::Unset => f.write_str("(none)"),
            Given::Text(t) | Given::Derived(t) => f.write_str(t),
            Given::Flag(b) => write!(f, "{b}"),
            Given::Number(n, _, _) => write!(f, "{n}"),
            Given::Bytes(n, _, _) => match n {
                n if n >= 1 << 20 && n % (1 << 20) == 0 => write!(f, "{n} ({} MiB)", n >> 20),
                n if n >= 1 << 10 && n % (1 << 10) == 0 => write!(f, "{n} ({} KiB)", n >> 10),
                n => write!(f, "{n}"),
            },
        }
    }
}

/// `NAME, default, Plain | Secret, "meaning";` for every row.
macro_rules! table {
    ($($name:ident, $given:expr, $secrecy:ident, $about:expr;)*) => {
        /// Each variable as a constant, for the parse calls.
        pub mod var {
            use super::Given::*;
            use super::Secrecy::*;
            use super::Var;
            $(pub const $name: Var = Var {
                name: stringify!($name),
                given: $given,
                secrecy: $secrecy,
                about: $about,
            };)*
        }
        /// Every variable the agent reads, in the order `--help` and the
        /// README list them.
        pub const VARS: &[Var] = &[$(var::$name),*];
    };
}

table! {
    WORKSPACE_ID, Required, Plain,
        "the workspace this agent is; the platform shows it on the workspace's page";
    PLATFORM_URL, Text("http://localhost:8080"), Plain,
        "base URL of the Molecule platform API (in Docker: http://host.docker.internal:8080)";
    PORT, Number(8000, 1, 65535), Plain, "port the A2A server listens on";
    BIND_ADDR, Text("0.0.0.0"), Plain, "address the A2A server binds (all interfaces by default)";
    AGENT_URL, Derived("http://<hostname>:<PORT>"), Plain,
        "URL advertised to the platform and in the card; must be reachable by the platform";
    CONFIGS_DIR, Text("/configs"), Plain,
        "where the auth token, the snapshot and agent-card.json live (a volume)";
    AGENT_CARD_FILE, Derived("$CONFIGS_DIR/agent-card.json"), Plain,
        "JSON file with name, description, skills (and per-backend overrides); \
         re-read on SIGHUP";
    AGENT_NAME, Text("workspace-agent"), Plain, "the card's name (overrides the card file)";
    AGENT_DESCRIPTION, Derived("(per backend)"), Plain,
        "the card's description (overrides the card file)";
    HEARTBEAT_INTERVAL_SECS, Number(30, 1, 3600), Plain,
        "seconds between heartbeats (the platform marks an agent offline after ~90 s)";
    REGISTER, Flag(true), Plain, "set to false to serve without ever contacting the platform";
    SHUTDOWN_GRACE_SECS, Number(8, 0, 86_400), Plain,
        "time in-flight tasks get after SIGTERM; keep it below `docker stop`'s 10 s, \
         raise it with terminationGracePeriodSeconds";
    AGENT_BACKEND, Text("echo"), Plain, "echo / openai / command / http";
    AGENT_TIMEOUT_SECS, Number(300, 1, 86_400), Plain,
        "longest a backend may take for one message";
    MAX_CONCURRENT_TASKS, Number(8, 1, 10_000), Plain,
        "backend runs at once; more wait up to QUEUE_WAIT_MS, then get a busy error";
    QUEUE_WAIT_MS, Number(2000, 0, 600_000), Plain,
        "how long a message waits for a free backend slot";
    ECHO_DELAY_MS, Number(0, 0, 3_600_000), Plain,
        "echo backend: spread the answer over this time, word by word (demos, tests)";
    OPENAI_BASE_URL, Text("http://localhost:11434/v1"), Plain,
        "openai backend: base URL of a chat-completions API (Ollama, vLLM, llama.cpp, OpenAI)";
    OPENAI_API_KEY, Unset, Secret, "openai backend: bearer key";
    OPENAI_MODEL, Text("llama3.2"), Plain, "openai backend: model name";
    OPENAI_SYSTEM_PROMPT, Unset, Plain, "openai backend: system prompt";
    OPENAI_HISTORY_MESSAGES, Number(20, 0, 1000), Plain,
        "openai backend: messages of a context's conversation kept";
    OPENAI_HISTORY_BYTES, Bytes(4 << 20, 0, 1 << 30), Plain,
        "openai backend: bytes of all remembered conversations together; \
         the least recently used go first";
    OPENAI_MAX_ANSWER_BYTES, Bytes(1 << 20, 1024, 64 << 20), Plain,
        "openai backend: longest answer read from the model (the task fails beyond)";
    AGENT_COMMAND, Unset, Plain,
        "command backend: program and arguments, split like a shell would but run without one; \
         the agent refuses to start when the program is not found or not executable";
    AGENT_COMMAND_ENV, Unset, Plain,
        "command backend: comma-separated variable names handed to the program even though \
         they look secret (e.g. HF_TOKEN,MY_API_KEY)";
    AGENT_COMMAND_FORMAT, Text("text"), Plain,
        "command backend: text (stdin is the message's text, stdout the answer) or jsonl \
         (message and history as one JSON line in, events as JSON lines out; see Backends)";
    AGENT_COMMAND_USER, Unset, Plain,
        "command backend: uid[:gid] the program runs as when the agent starts as root, \
         so it cannot read the agent's files";
    AGENT_WEBHOOK_URL, Unset, Plain,
        "http backend: URL that gets {text, task_id, context_id} and answers {text}";
    AGENT_CA_FILE, Unset, Plain,
        "PEM bundle of private CA certificates trusted for HTTPS (platform, backends, the CLI) \
         besides the built-in roots; SSL_CERT_FILE is used when it is unset";
    SSL_CERT_FILE, Unset, Plain,
        "like AGENT_CA_FILE (the usual name for a CA bundle); added to the built-in roots, \
         not replacing them";
    A2A_AUTH_TOKEN, Unset, Secret,
        "when set, A2A routes require `Authorization: Bearer <token>` (standalone use: the \
         platform proxy forwards no auth); the CLI's send/get/cancel/list send it too";
    A2A_AUTH_TOKEN_FILE, Unset, Plain, "file holding A2A_AUTH_TOKEN";
    MAX_CONNECTIONS, Number(512, 8, 1_000_000), Plain,
        "open connections at once; more get 503 + Retry-After";
    MAX_BODY_BYTES, Bytes(1 << 20, 1024, 64 << 20), Plain, "largest request body (413 beyond)";
    MAX_HEADER_BYTES, Bytes(16 << 10, 1024, 1 << 20), Plain,
        "request line plus headers (431 beyond)";
    MAX_HEADERS, Number(100, 8, 10_000), Plain, "header lines per request (431 beyond)";
    JSON_MAX_DEPTH, Number(32, 4, 128), Plain,
        "deepest JSON nesting accepted in a request (-32700 beyond)";
    MAX_PARTS, Number(64, 1, 10_000), Plain, "parts in one message (-32602 beyond)";
    MAX_PART_BYTES, Bytes(1 << 20, 1, 64 << 20), Plain, "bytes of one part (-32602 beyond)";
    BODY_TIMEOUT_SECS, Number(30, 1, 3600), Plain,
        "time to send a request body once it has started (408 beyond)";
    HEADER_TIMEOUT_SECS, Number(10, 1, 3600), Plain,
        "time to send request line and headers (408 beyond)";
    IDLE_TIMEOUT_SECS, Number(30, 1, 3600), Plain,
        "idle keep-alive time, and the longest pause inside a request";
    MAX_TASKS, Number(1000, 1, 10_000_000), Plain,
        "tasks kept in memory (oldest finished ones are evicted)";
    MAX_TASK_STORE_BYTES, Bytes(16 << 20, 64 << 10, 1 << 40), Plain,
        "bytes of tasks kept in memory";
    TASK_IDLE_TTL_SECS, Number(3600, 1, 30 * 86_400), Plain,
        "an unfinished task idle this long is failed";
    RUST_LOG, Text("info"), Plain, "log filter (error, warn, info, debug, trace)";
    LOG_FORMAT, Text("text"), Plain, "text / json (one JSON object per line, for log shippers)";
    ACCESS_LOG, Flag(true), Plain,
        "one info line per answered request (method, path, status, duration, bytes, A2A method, \
         task id); false turns it off";
    METRICS_AUTH, Flag(false), Plain,
        "true puts /metrics behind A2A_AUTH_TOKEN too (it is public otherwise)";
}

impl Var {
    /// The default of a variable with a text default; `""` for the others.
    pub fn default_text(&self) -> &'static str {
        match self.given {
            Given::Text(t) => t,
            _ => "",
        }
    }
}

/// The README's configuration table (between its `config-table` markers).
pub fn markdown_table() -> String {
    let mut s = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for v in VARS {
        let secret = match v.secrecy {
            Secrecy::Secret => " (secret: never shown)",
            Secrecy::Plain => "",
        };
        s.push_str(&format!(
            "| `{}` | `{}` | {}{secret} |\n",
            v.name, v.given, v.about
        ));
    }
    s
}

#[derive(Debug, Clone)]
pub struct OpenAiConfig {
    pub tls: Arc<ClientConfig>,
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
    Echo { delay: Duration },
    OpenAi(OpenAiConfig),
    Command(CommandConfig),
    Webhook { url: String, tls: Arc<ClientConfig> },
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

/// Every bound the configuration sets, as one value; the parts other
/// modules take whole are their own types.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_connections: usize,
    pub max_body_bytes: usize,
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// nesting, parts and part sizes of a decoded request
    pub decode: DecodeLimits,
    /// tasks and bytes kept in memory
    pub store: StoreLimits,
    pub max_concurrent_tasks: usize,
    pub queue_wait: Duration,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub workspace_id: String,
    /// TLS for every HTTPS call: the web roots plus the private CA, if any
    pub tls: Arc<ClientConfig>,
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
    pub task_timeout: Duration,
    pub backend: BackendConfig,
    pub card: CardConfig,
    pub limits: Limits,
    /// inbound bearer token for the A2A routes
    pub auth_token: Option<String>,
    pub ops: OpsConfig,
    /// problems that do not stop the agent (unknown keys in the card file)
    pub warnings: Vec<String>,
}

/// Logs and the metrics route.
#[derive(Debug, Clone)]
pub struct OpsConfig {
    pub json_logs: bool,
    pub access_log: bool,
    /// `/metrics` requires the inbound token too
    pub metrics_auth: bool,
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
const AGENT_PATHS: [&str; 2] = [var::CONFIGS_DIR.name, var::AGENT_CARD_FILE.name];

/// The program's environment: everything but secret-looking names, values
/// that are URLs with credentials and the agent's paths, except the names
/// the operator hands on explicitly.
pub fn child_env(env: &dyn Env) -> ChildEnv {
    let pass: Vec<String> = opt(env, &var::AGENT_COMMAND_ENV)
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
struct Tls {
    ca_file: Option<String>,
    config: Arc<ClientConfig>,
}

fn tls_config(env: &dyn Env) -> Result<Tls, ConfigError> {
    let named = [var::AGENT_CA_FILE, var::SSL_CERT_FILE]
        .into_iter()
        .find_map(|v| opt(env, &v).map(|path| (v.name, path)));
    let certs = match &named {
        Some((name, path)) => crate::tls::read_pem_bundle(path)
            .map_err(|why| ConfigError(format!("{name}={path:?} {why}")))?,
        None => Vec::new(),
    };
    let config = crate::tls::client_config(&certs).map_err(|why| {
        let (name, path) = named.clone().unwrap_or_default();
        ConfigError(format!("{name}={path:?} {why}"))
    })?;
    Ok(Tls {
        ca_file: named.map(|(_, p)| p),
        config,
    })
}

/// The agent's TLS client configuration (built-in roots plus `AGENT_CA_FILE`
/// or `SSL_CERT_FILE`) for the CLI, which loads no whole `Config`.
pub fn client_tls(env: &dyn Env) -> Result<Arc<ClientConfig>, ConfigError> {
    tls_config(env).map(|t| t.config)
}

/// `AGENT_COMMAND_USER=uid[:gid]`, numeric (a scratch image has no user
/// database to look names up in).
fn command_user(env: &dyn Env) -> Result<Option<(u32, u32)>, ConfigError> {
    let Some(v) = opt(env, &var::AGENT_COMMAND_USER) else {
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

/// `AGENT_COMMAND`, split into words, its program found like `execvp` would
/// (in the `PATH` the program itself gets).
fn command_config(env: &dyn Env) -> Result<CommandConfig, ConfigError> {
    let raw = opt(env, &var::AGENT_COMMAND).ok_or_else(|| {
        ConfigError(
            "AGENT_BACKEND=command needs AGENT_COMMAND (the program to run, \
             e.g. \"python3 /app/answer.py\")"
                .into(),
        )
    })?;
    let argv =
        split_command(&raw).map_err(|e| ConfigError(format!("AGENT_COMMAND is not valid: {e}")))?;
    let Some(program) = argv.first() else {
        return Err(ConfigError("AGENT_COMMAND is empty".into()));
    };
    let child = child_env(env);
    let path = child
        .vars
        .iter()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    find_program(program, path).map_err(|e| ConfigError(format!("AGENT_COMMAND: {e}")))?;
    let format = match text(env, &var::AGENT_COMMAND_FORMAT).as_str() {
        "text" => CommandFormat::Text,
        "jsonl" => CommandFormat::Jsonl,
        other => {
            return Err(ConfigError(format!(
                "AGENT_COMMAND_FORMAT={other:?} is not valid: use text or jsonl"
            )))
        }
    };
    Ok(CommandConfig {
        argv,
        env: child,
        user: command_user(env)?,
        format,
    })
}

fn backend_config(env: &dyn Env, tls: &Arc<ClientConfig>) -> Result<BackendConfig, ConfigError> {
    Ok(match text(env, &var::AGENT_BACKEND).as_str() {
        "echo" => BackendConfig::Echo {
            delay: Duration::from_millis(number(env, &var::ECHO_DELAY_MS)?),
        },
        "openai" => BackendConfig::OpenAi(OpenAiConfig {
            tls: Arc::clone(tls),
            base_url: url(env, &var::OPENAI_BASE_URL)?,
            api_key: opt(env, &var::OPENAI_API_KEY),
            model: text(env, &var::OPENAI_MODEL),
            system_prompt: opt(env, &var::OPENAI_SYSTEM_PROMPT),
            max_history_messages: number(env, &var::OPENAI_HISTORY_MESSAGES)?,
            max_history_bytes: number(env, &var::OPENAI_HISTORY_BYTES)?,
            max_answer_bytes: number(env, &var::OPENAI_MAX_ANSWER_BYTES)?,
        }),
        "command" => BackendConfig::Command(command_config(env)?),
        "http" | "webhook" => {
            if opt(env, &var::AGENT_WEBHOOK_URL).is_none() {
                return Err(ConfigError(
                    "AGENT_BACKEND=http needs AGENT_WEBHOOK_URL (where to POST each message)"
                        .into(),
                ));
            }
            BackendConfig::Webhook {
                tls: Arc::clone(tls),
                url: url(env, &var::AGENT_WEBHOOK_URL)?,
            }
        }
        other => {
            return Err(ConfigError(format!(
                "AGENT_BACKEND={other:?} is not valid: expected echo, openai, command or http"
            )))
        }
    })
}

/// A token file holds one token; anything larger is a wrong path.
const MAX_TOKEN_FILE: usize = 64 << 10;

fn auth_token(env: &dyn Env) -> Result<Option<String>, ConfigError> {
    if let Some(t) = opt(env, &var::A2A_AUTH_TOKEN) {
        return Ok(Some(t));
    }
    let Some(path) = opt(env, &var::A2A_AUTH_TOKEN_FILE) else {
        return Ok(None);
    };
    let t = crate::fsutil::read_small(Path::new(&path), MAX_TOKEN_FILE)
        .map_err(|e| ConfigError(format!("A2A_AUTH_TOKEN_FILE={path:?} cannot be read: {e}")))?;
    let t = t.trim();
    if t.is_empty() {
        return Err(ConfigError(format!(
            "A2A_AUTH_TOKEN_FILE={path:?} is empty"
        )));
    }
    Ok(Some(t.to_string()))
}

fn ops_config(env: &dyn Env, has_token: bool) -> Result<OpsConfig, ConfigError> {
    let json_logs = match text(env, &var::LOG_FORMAT).as_str() {
        "text" => false,
        "json" => true,
        v => {
            return Err(ConfigError(format!(
                "LOG_FORMAT={v:?} is not valid: expected text or json"
            )))
        }
    };
    let metrics_auth = flag(env, &var::METRICS_AUTH)?;
    if metrics_auth && !has_token {
        return Err(ConfigError(
            "METRICS_AUTH=true needs A2A_AUTH_TOKEN (or A2A_AUTH_TOKEN_FILE): \
             the token /metrics then requires"
                .into(),
        ));
    }
    Ok(OpsConfig {
        json_logs,
        access_log: flag(env, &var::ACCESS_LOG)?,
        metrics_auth,
    })
}

impl Limits {
    fn load(env: &dyn Env) -> Result<Limits, ConfigError> {
        let secs = |v: &Var| number(env, v).map(Duration::from_secs);
        Ok(Limits {
            max_connections: number(env, &var::MAX_CONNECTIONS)?,
            max_body_bytes: number(env, &var::MAX_BODY_BYTES)?,
            header_timeout: secs(&var::HEADER_TIMEOUT_SECS)?,
            body_timeout: secs(&var::BODY_TIMEOUT_SECS)?,
            idle_timeout: secs(&var::IDLE_TIMEOUT_SECS)?,
            max_header_bytes: number(env, &var::MAX_HEADER_BYTES)?,
            max_headers: number(env, &var::MAX_HEADERS)?,
            decode: DecodeLimits {
                max_depth: number(env, &var::JSON_MAX_DEPTH)?,
                max_parts: number(env, &var::MAX_PARTS)?,
                max_part_bytes: number(env, &var::MAX_PART_BYTES)?,
            },
            store: StoreLimits {
                max_tasks: number(env, &var::MAX_TASKS)?,
                max_bytes: number(env, &var::MAX_TASK_STORE_BYTES)?,
                idle_ttl: secs(&var::TASK_IDLE_TTL_SECS)?,
            },
            max_concurrent_tasks: number(env, &var::MAX_CONCURRENT_TASKS)?,
            queue_wait: Duration::from_millis(number(env, &var::QUEUE_WAIT_MS)?),
        })
    }
}

/// The value of `name`, trimmed; empty counts as unset.
fn value(env: &dyn Env, name: &str) -> Option<String> {
    env.get(name)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// An optional variable (no default).
fn opt(env: &dyn Env, v: &Var) -> Option<String> {
    value(env, v.name)
}

/// A variable with a text default.
fn text(env: &dyn Env, v: &Var) -> String {
    value(env, v.name).unwrap_or_else(|| v.default_text().to_string())
}

/// A whole number within the row's bounds, or its default.
fn number<T: TryFrom<u64>>(env: &dyn Env, v: &Var) -> Result<T, ConfigError> {
    let (default, min, max) = match v.given {
        Given::Number(d, lo, hi) | Given::Bytes(d, lo, hi) => (d, lo, hi),
        _ => {
            return Err(ConfigError(format!(
                "{} is not a number in the table",
                v.name
            )))
        }
    };
    let n = match value(env, v.name) {
        None => default,
        Some(s) => match s.parse::<u64>() {
            Ok(n) if (min..=max).contains(&n) => n,
            _ => {
                return Err(ConfigError(format!(
                    "{}={s:?} is not valid: expected a whole number from {min} to {max}",
                    v.name
                )))
            }
        },
    };
    T::try_from(n).map_err(|_| ConfigError(format!("{}={n} is too large here", v.name)))
}

fn flag(env: &dyn Env, v: &Var) -> Result<bool, ConfigError> {
    let default = matches!(v.given, Given::Flag(true));
    match value(env, v.name).map(|s| s.to_ascii_lowercase()) {
        None => Ok(default),
        Some(s) if ["1", "true", "yes", "on"].contains(&s.as_str()) => Ok(true),
        Some(s) if ["0", "false", "no", "off"].contains(&s.as_str()) => Ok(false),
        Some(s) => Err(ConfigError(format!(
            "{}={s:?} is not valid: expected true or false",
            v.name
        ))),
    }
}

/// An http(s) URL variable (or its default), checked.
fn url(env: &dyn Env, v: &Var) -> Result<String, ConfigError> {
    check_http_url(v.name, &text(env, v))
}

/// Checks that `url` is an absolute http(s) URL with a host; returns it
/// without a trailing slash.
pub fn check_http_url(name: &str, url: &str) -> Result<String, ConfigError> {
    crate::http_url::parse(url).map_err(|why| {
        ConfigError(format!(
            "{name}={:?} is not valid: {why}",
            crate::redact::url(url)
        ))
    })?;
    Ok(url.trim_end_matches('/').to_string())
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

/// Where the agent listens and what it advertises.
struct Listen {
    port: u16,
    bind_addr: IpAddr,
    agent_url: String,
}

fn listen(env: &dyn Env) -> Result<Listen, ConfigError> {
    let port: u16 = number(env, &var::PORT)?;
    let bind = text(env, &var::BIND_ADDR);
    let bind_addr = bind.parse().map_err(|_| {
        ConfigError(format!(
            "BIND_ADDR={bind:?} is not valid: expected an IP address such as 0.0.0.0"
        ))
    })?;
    let agent_url = match opt(env, &var::AGENT_URL) {
        Some(u) => check_http_url(var::AGENT_URL.name, &u)?,
        None => format!("http://{}:{port}", hostname()),
    };
    Ok(Listen {
        port,
        bind_addr,
        agent_url,
    })
}

fn card(
    env: &dyn Env,
    configs_dir: &std::path::Path,
    backend: &str,
) -> Result<card_file::Loaded, ConfigError> {
    let explicit = opt(env, &var::AGENT_CARD_FILE).map(PathBuf::from);
    let default_name = var::AGENT_NAME.default_text();
    let mut loaded = card_file::load(explicit.as_deref(), configs_dir, default_name, backend)?;
    if let Some(n) = opt(env, &var::AGENT_NAME) {
        loaded.card.name = n;
    }
    if let Some(d) = opt(env, &var::AGENT_DESCRIPTION) {
        loaded.card.description = d;
    }
    Ok(loaded)
}

impl Config {
    /// The process's configuration; warnings are logged here, so they show
    /// at start and on every SIGHUP reload.
    pub fn from_env() -> Result<Config, ConfigError> {
        let cfg = Config::load(&ProcessEnv)?;
        for w in &cfg.warnings {
            log::warn!("{w}");
        }
        Ok(cfg)
    }

    pub fn load(env: &dyn Env) -> Result<Config, ConfigError> {
        let workspace_id = opt(env, &var::WORKSPACE_ID).ok_or_else(|| {
            ConfigError(
                "WORKSPACE_ID is not set (it names the workspace this agent serves; \
                 the platform shows it on the workspace's page)"
                    .into(),
            )
        })?;
        let platform_url = url(env, &var::PLATFORM_URL)?;
        let listen = listen(env)?;
        let configs_dir = PathBuf::from(text(env, &var::CONFIGS_DIR));
        let tls = tls_config(env)?;
        let backend = backend_config(env, &tls.config)?;
        let auth_token = auth_token(env)?;
        let card = card(env, &configs_dir, backend.name())?;
        Ok(Config {
            tls: tls.config,
            ca_file: tls.ca_file,
            workspace_id,
            platform_url,
            register: flag(env, &var::REGISTER)?,
            port: listen.port,
            bind_addr: listen.bind_addr,
            agent_url: listen.agent_url,
            configs_dir,
            heartbeat_interval: Duration::from_secs(number(env, &var::HEARTBEAT_INTERVAL_SECS)?),
            shutdown_grace: Duration::from_secs(number(env, &var::SHUTDOWN_GRACE_SECS)?),
            task_timeout: Duration::from_secs(number(env, &var::AGENT_TIMEOUT_SECS)?),
            backend,
            card: card.card,
            limits: Limits::load(env)?,
            ops: ops_config(env, auth_token.is_some())?,
            auth_token,
            warnings: card.warnings,
        })
    }

    /// One line for the start-up log: everything useful, no secret.
    pub fn summary(&self) -> String {
        format!(
            "workspace={} platform={} advertised={} listen={}:{} backend={} \
             max_tasks_running={} heartbeat={}s grace={}s configs={} inbound_auth={} \
             private_ca={}",
            self.workspace_id,
            crate::redact::url(&self.platform_url),
            crate::redact::url(&self.agent_url),
            self.bind_addr,
            self.port,
            crate::backend::probe::describe(&self.backend),
            self.limits.max_concurrent_tasks,
            self.heartbeat_interval.as_secs(),
            self.shutdown_grace.as_secs(),
            self.configs_dir.display(),
            if self.auth_token.is_some() {
                "on"
            } else {
                "off"
            },
            self.ca_file.as_deref().unwrap_or("none"),
        )
    }
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
        assert_eq!(c.limits.store.max_bytes, 16 << 20);
        assert!(!c.summary().is_empty());
    }

    /// Setting every variable to the default the table shows changes
    /// nothing: the table and the parse calls agree.
    #[test]
    fn the_table_shows_the_defaults_in_use() {
        let base = [("WORKSPACE_ID", "w"), ("AGENT_URL", "http://a:1")];
        let mut explicit = env(&base);
        for v in VARS {
            let shown = match v.given {
                Given::Text(t) => t.to_string(),
                Given::Flag(b) => b.to_string(),
                Given::Number(n, ..) | Given::Bytes(n, ..) => n.to_string(),
                Given::Required | Given::Unset | Given::Derived(_) => continue,
            };
            explicit.entry(v.name.to_string()).or_insert(shown);
        }
        let implicit = Config::load(&env(&base)).unwrap();
        let explicit = Config::load(&explicit).unwrap();
        assert_eq!(
            format!("{:?}", implicit.limits),
            format!("{:?}", explicit.limits)
        );
        assert_eq!(implicit.summary(), explicit.summary());
        assert_eq!(implicit.card.name, explicit.card.name);
        assert_eq!(implicit.task_timeout, explicit.task_timeout);
    }

    #[test]
    fn default_impls_agree_with_the_table() {
        let c = Config::load(&env(&[("WORKSPACE_ID", "w")])).unwrap();
        assert_eq!(
            format!("{:?}", StoreLimits::default()),
            format!("{:?}", c.limits.store)
        );
        assert_eq!(
            format!("{:?}", DecodeLimits::default()),
            format!("{:?}", c.limits.decode)
        );
    }

    #[test]
    fn the_table_is_well_formed() {
        for (i, v) in VARS.iter().enumerate() {
            assert!(
                !VARS[..i].iter().any(|o| o.name == v.name),
                "{} twice",
                v.name
            );
            if let Given::Number(d, lo, hi) | Given::Bytes(d, lo, hi) = v.given {
                assert!(lo <= d && d <= hi, "{}: default out of its range", v.name);
            }
            if v.secrecy == Secrecy::Secret {
                assert!(
                    crate::redact::is_secret_name(v.name),
                    "{} reaches children",
                    v.name
                );
            }
            assert!(
                !v.about.contains("  ") && !v.about.contains('|'),
                "{}",
                v.name
            );
        }
        assert!(markdown_table().contains("| `MAX_TASK_STORE_BYTES` | `16777216 (16 MiB)` |"));
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
            (&[("WORKSPACE_ID", "w"), ("BIND_ADDR", "any")], "BIND_ADDR"),
            (
                &[("WORKSPACE_ID", "w"), ("AGENT_BACKEND", "gpt")],
                "AGENT_BACKEND",
            ),
            (
                &[("WORKSPACE_ID", "w"), ("AGENT_BACKEND", "command")],
                "AGENT_COMMAND",
            ),
            (
                &[("WORKSPACE_ID", "w"), ("AGENT_BACKEND", "http")],
                "AGENT_WEBHOOK_URL",
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
            (
                &[("WORKSPACE_ID", "w"), ("MAX_TASK_STORE_BYTES", "1")],
                "MAX_TASK_STORE_BYTES",
            ),
            (&[("WORKSPACE_ID", "w"), ("REGISTER", "maybe")], "REGISTER"),
        ];
        for (pairs, name) in cases {
            let e = Config::load(&env(pairs)).unwrap_err();
            assert!(e.0.contains(name), "{pairs:?}: {e}");
        }
    }

    #[test]
    fn a_token_file_that_is_no_token_is_refused_not_read_whole() {
        // a wrong path (a log, a device such as /dev/zero) must not fill memory
        let path = std::env::temp_dir().join(format!("big-token-{}", crate::ids::new_id()));
        std::fs::write(&path, "x".repeat(100_000)).unwrap();
        let p = path.to_string_lossy().to_string();
        let e = Config::load(&env(&[("WORKSPACE_ID", "w"), ("A2A_AUTH_TOKEN_FILE", &p)]));
        let _ = std::fs::remove_file(&path);
        let e = e.unwrap_err();
        assert!(e.0.contains("larger than 65536 bytes"), "{e}");
    }

    #[test]
    fn a_command_that_cannot_run_is_refused_at_start() {
        let cmd = |c: &str, path: &str| {
            Config::load(&env(&[
                ("WORKSPACE_ID", "w"),
                ("AGENT_BACKEND", "command"),
                ("AGENT_COMMAND", c),
                ("PATH", path),
            ]))
        };
        assert!(cmd("sh -c 'echo hi'", "/usr/bin:/bin").is_ok());
        let e = cmd("nonexistent-prog --flag", "/usr/bin:/bin")
            .unwrap_err()
            .0;
        assert!(
            e.starts_with("AGENT_COMMAND: program \"nonexistent-prog\" is not found"),
            "{e}"
        );
        assert!(!e.contains("--flag") && !e.contains('\n'), "{e}");
        let e = cmd("sh", "/nonexistent").unwrap_err().0;
        assert!(e.contains("PATH (/nonexistent)"), "{e}");
        let file = std::env::temp_dir().join(format!("wa-noexec-{}", crate::ids::new_id()));
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        let e = cmd(file.to_str().unwrap(), "/bin").unwrap_err().0;
        assert!(e.contains("is not executable (chmod +x it"), "{e}");
        let _ = std::fs::remove_file(file);
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
    fn card_file_and_env_overrides() {
        let dir = std::env::temp_dir().join(format!("wa-card-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("agent-card.json"),
            r#"{"name":"Helper","skils":[],"backends":{"echo":{"description":"Echo desc"}}}"#,
        )
        .unwrap();
        let load = |extra: &[(&str, &str)]| {
            let mut e = env(&[
                ("WORKSPACE_ID", "w"),
                ("CONFIGS_DIR", dir.to_str().unwrap()),
            ]);
            e.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
            Config::load(&e)
        };
        let c = load(&[]).unwrap();
        assert_eq!(
            (c.card.name.as_str(), c.card.description.as_str()),
            ("Helper", "Echo desc")
        );
        assert_eq!(c.warnings.len(), 1);
        assert!(c.warnings[0].contains("\"skils\""), "{:?}", c.warnings);
        let c = load(&[("AGENT_NAME", "Env"), ("AGENT_DESCRIPTION", "D")]).unwrap();
        assert_eq!(
            (c.card.name.as_str(), c.card.description.as_str()),
            ("Env", "D")
        );
        std::fs::write(dir.join("agent-card.json"), "{broken").unwrap();
        assert!(load(&[]).unwrap_err().0.contains("is not valid"));
        let _ = std::fs::remove_dir_all(dir);
    }
}
