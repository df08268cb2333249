//! The JSON-RPC client of `send`, `get`, `cancel` and `list`: the target
//! URL (without a scheme it is `http://`), the bearer token and where it
//! came from, and errors that name the URL once and never the token.

use super::args::Args;
use crate::http_client::{self, Timeouts};
use serde_json::{json, Value};
use std::io::Read;
use std::sync::Arc;
use ureq::rustls::ClientConfig;

/// Where the bearer token came from, for the 401 message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    Flag,
    FlagFile,
    Env,
    EnvFile,
}

impl TokenSource {
    fn name(self) -> &'static str {
        match self {
            TokenSource::Flag => "--token",
            TokenSource::FlagFile => "--token-file",
            TokenSource::Env => "A2A_AUTH_TOKEN",
            TokenSource::EnvFile => "A2A_AUTH_TOKEN_FILE",
        }
    }
}

/// An agent to call.
pub struct Target {
    pub url: String,
    token: Option<(String, TokenSource)>,
    pub v10: bool,
    /// the agent's TLS configuration, `AGENT_CA_FILE` included
    tls: Arc<ClientConfig>,
}

/// How long a call may take and how its answer comes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// answered at once: get, cancel, list
    Quick,
    /// answered when the backend is done: a blocking send
    Answer,
    /// events as they come: a streamed send
    Stream,
}

/// Why a call gave no JSON-RPC answer, phrased for the person who ran it.
#[derive(Debug)]
pub enum CallError {
    Unauthorized { sent: Option<TokenSource> },
    Status(u16, String),
    Unreachable(String),
    Read(String),
    NotJsonRpc { content_type: String },
}

impl Target {
    /// `url` as typed, the token from `--token`, `--token-file`,
    /// `A2A_AUTH_TOKEN` or `A2A_AUTH_TOKEN_FILE` (first found), the
    /// generation from `--protocol` (`default_v10` without it).
    pub fn from_args(url: &str, args: &Args, default_v10: bool) -> Result<Target, String> {
        let url = crate::http_url::with_default_scheme(url);
        crate::http_url::parse(&url)
            .map_err(|why| format!("{:?} is not a valid URL: {why}", crate::redact::url(&url)))?;
        let v10 = match args.opt("protocol") {
            None => default_v10,
            Some("0.3") => false,
            Some("1.0" | "1") => true,
            Some(other) => return Err(format!("--protocol {other:?} is not 0.3 or 1.0")),
        };
        Ok(Target {
            url,
            token: token(args, |name| std::env::var(name).ok())?,
            v10,
            tls: crate::config::client_tls(&crate::config::ProcessEnv)
                .map_err(|e| e.to_string())?,
        })
    }

    /// The URL fit for a message (credentials and query hidden).
    pub fn shown(&self) -> String {
        crate::redact::url(&self.url)
    }

    /// POSTs one JSON-RPC request; `Ok` is the response, any status 2xx.
    pub fn post(
        &self,
        method: &str,
        params: Value,
        wait: Wait,
    ) -> Result<ureq::Response, CallError> {
        let timeouts = match wait {
            Wait::Quick => Timeouts::CLI,
            Wait::Answer | Wait::Stream => Timeouts::CLI_SEND,
        };
        let body = json!({"jsonrpc": "2.0", "id": crate::ids::new_id(), "method": method,
                          "params": params});
        let mut req = http_client::agent(&timeouts, Some(Arc::clone(&self.tls)))
            .post(&self.url)
            .set("Content-Type", "application/json");
        if self.v10 {
            req = req.set("A2A-Version", "1.0");
        }
        if wait == Wait::Stream {
            req = req.set("Accept", "text/event-stream");
        }
        if let Some((t, _)) = &self.token {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        match req.send_string(&body.to_string()) {
            Ok(r) => Ok(r),
            Err(ureq::Error::Status(401, _)) => Err(CallError::Unauthorized {
                sent: self.token.as_ref().map(|(_, s)| *s),
            }),
            Err(ureq::Error::Status(code, r)) => {
                let mut text = String::new();
                let _ = r.into_reader().take(4096).read_to_string(&mut text);
                Err(CallError::Status(code, text))
            }
            Err(ureq::Error::Transport(t)) => {
                Err(CallError::Unreachable(http_client::transport_error(&t)))
            }
        }
    }

    /// One JSON-RPC call answered with JSON.
    pub fn call(&self, method: &str, params: Value, wait: Wait) -> Result<Value, CallError> {
        read_json(self.post(method, params, wait)?)
    }

    /// The one-line message for `e`, naming this target's URL once.
    pub fn explain(&self, e: &CallError) -> String {
        let url = self.shown();
        match e {
            CallError::Unauthorized { sent: None } => format!(
                "{url} needs a token (HTTP 401): set A2A_AUTH_TOKEN, or pass --token-file FILE \
                 (--token TOKEN works too, but shows in ps)"
            ),
            CallError::Unauthorized { sent: Some(s) } => format!(
                "{url} refused the token from {} (HTTP 401): check it against the agent's \
                 A2A_AUTH_TOKEN (set with A2A_AUTH_TOKEN, --token-file or --token)",
                s.name()
            ),
            CallError::Status(code, body) => format!(
                "{url} answered HTTP {code}: {}",
                crate::metrics::truncate(&crate::redact::text(body.trim()), 300)
            ),
            CallError::Unreachable(why) => format!("cannot reach {url}: {why}"),
            CallError::Read(why) => format!("reading the answer from {url}: {why}"),
            CallError::NotJsonRpc { content_type } => format!(
                "{url} did not answer with JSON-RPC (Content-Type {content_type:?}): is it an \
                 A2A agent's endpoint? Try the URL from its card"
            ),
        }
    }
}

/// The token and its source; `env` reads a variable (a parameter so tests
/// need not change the process environment).
fn token(
    args: &Args,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<(String, TokenSource)>, String> {
    let from_file = |path: &str, source: TokenSource| {
        // a token is short: a file that is not one (`/dev/zero`, a log) is
        // refused, not read whole
        let t = crate::fsutil::read_small(std::path::Path::new(path), 64 << 10)
            .map_err(|e| format!("{} {path:?} cannot be read: {e}", source.name()))?;
        match t.trim() {
            "" => Err(format!("{} {path:?} is empty", source.name())),
            t if t.chars().any(|c| c.is_control() || c.is_whitespace()) => Err(format!(
                "{} {path:?} holds more than one token (whitespace or control characters inside)",
                source.name()
            )),
            t => Ok(Some((t.to_string(), source))),
        }
    };
    if let Some(t) = args.opt("token").filter(|t| !t.is_empty()) {
        return Ok(Some((t.to_string(), TokenSource::Flag)));
    }
    if let Some(path) = args.opt("token-file") {
        return from_file(path, TokenSource::FlagFile);
    }
    if let Some(t) = env("A2A_AUTH_TOKEN").filter(|t| !t.trim().is_empty()) {
        return Ok(Some((t.trim().to_string(), TokenSource::Env)));
    }
    match env("A2A_AUTH_TOKEN_FILE").filter(|p| !p.trim().is_empty()) {
        Some(path) => from_file(path.trim(), TokenSource::EnvFile),
        None => Ok(None),
    }
}

/// The body of a JSON answer (16 MiB at most).
pub fn read_json(resp: ureq::Response) -> Result<Value, CallError> {
    let content_type = resp.content_type().to_string();
    let mut body = String::new();
    resp.into_reader()
        .take(16 << 20)
        .read_to_string(&mut body)
        .map_err(|e| CallError::Read(e.to_string()))?;
    match serde_json::from_str::<Value>(&body) {
        Ok(v) if v.get("result").is_some() || v.get("error").is_some() => Ok(v),
        _ => Err(CallError::NotJsonRpc { content_type }),
    }
}

/// The JSON-RPC error in `v`, as a line.
pub fn rpc_error(v: &Value) -> Option<String> {
    let e = v.get("error")?;
    Some(format!(
        "the agent answered JSON-RPC error {}: {}",
        e.get("code").unwrap_or(&Value::Null),
        e.get("message")
            .and_then(Value::as_str)
            .unwrap_or("(no message)")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Args {
        let raw: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        Args::parse(&raw, &[], &["token", "token-file"]).unwrap()
    }

    #[test]
    fn the_token_comes_from_flags_then_the_environment() {
        let env = |n: &str| (n == "A2A_AUTH_TOKEN").then(|| " s3cret ".to_string());
        let none = |_: &str| None;
        assert_eq!(
            token(&args(&["--token", "t"]), env).unwrap().unwrap().1,
            TokenSource::Flag
        );
        assert_eq!(
            token(&args(&[]), env).unwrap(),
            Some(("s3cret".into(), TokenSource::Env))
        );
        assert_eq!(token(&args(&[]), none).unwrap(), None);
        let e = token(&args(&["--token-file", "/nonexistent/t"]), none).unwrap_err();
        assert!(
            e.starts_with("--token-file \"/nonexistent/t\" cannot be read"),
            "{e}"
        );
    }

    #[test]
    fn messages_name_the_url_once_and_say_where_a_token_goes() {
        let t = Target {
            url: "http://u:pw@h:1/a2a?k=v".into(),
            token: None,
            v10: false,
            tls: crate::tls::client_config(&[]).unwrap(),
        };
        let m = t.explain(&CallError::Unauthorized { sent: None });
        assert!(m.contains("A2A_AUTH_TOKEN") && m.contains("--token"), "{m}");
        assert!(!m.contains("pw") && !m.contains("k=v"), "{m}");
        let m = t.explain(&CallError::Unreachable("Connection Failed: refused".into()));
        assert_eq!(m.matches("h:1").count(), 1, "{m}");
        let m = t.explain(&CallError::Unauthorized {
            sent: Some(TokenSource::Env),
        });
        assert!(m.contains("refused the token from A2A_AUTH_TOKEN"), "{m}");
    }
}
