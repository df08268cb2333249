//! Any OpenAI-compatible chat-completions endpoint: Ollama, llama.cpp's
//! server, vLLM, LM Studio, OpenAI itself.
//!
//! Streams (`stream: true`) and parses server-sent events line by line, so
//! `message/stream` clients see tokens as the model produces them. Keeps a
//! bounded conversation per `contextId` so follow-ups have context.

use super::net::{Answered, Client, Post};
use super::{Backend, BackendError, BackendEvent, BackendRequest, Turn};
use crate::config::OpenAiConfig;
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read};
use std::sync::Mutex;

/// Conversations remembered at once; the least recently used goes first.
const MAX_CONTEXTS: usize = 256;
/// One SSE line longer than this is a broken peer, not a token.
const MAX_LINE: usize = 1 << 20;

pub struct OpenAiBackend {
    cfg: OpenAiConfig,
    http: Client,
    conversations: Mutex<Conversations>,
}

type Turns = VecDeque<(&'static str, String)>;

/// What one conversation may hold.
#[derive(Clone, Copy)]
struct Bounds {
    messages: usize,
    bytes: usize,
}

#[derive(Default)]
struct Conversations {
    clock: u64,
    /// context id → (last use, turns)
    map: HashMap<String, (u64, Turns)>,
    /// bytes held: context ids and turns' text
    bytes: usize,
}

fn size(context: &str, turns: &Turns) -> usize {
    context.len() + turns.iter().map(|(_, t)| t.len()).sum::<usize>()
}

impl Conversations {
    fn history(&mut self, context: &str) -> Vec<(&'static str, String)> {
        self.clock += 1;
        let clock = self.clock;
        match self.map.get_mut(context) {
            Some((used, turns)) => {
                *used = clock;
                turns.iter().cloned().collect()
            }
            None => Vec::new(),
        }
    }

    /// Adds an exchange; then the oldest turns of this conversation, and
    /// whole least recently used conversations, go until both bounds hold.
    fn record(&mut self, context: &str, user: &str, assistant: &str, b: Bounds) {
        self.clock += 1;
        let mut turns = match self.map.remove(context) {
            Some((_, t)) => {
                self.bytes -= size(context, &t);
                t
            }
            None => Turns::new(),
        };
        turns.push_back(("user", user.to_string()));
        turns.push_back(("assistant", assistant.to_string()));
        // whole exchanges go, so the history still starts with the user
        while turns.len() > b.messages || (!turns.is_empty() && size(context, &turns) > b.bytes) {
            turns.pop_front();
            if turns.front().is_some_and(|(role, _)| *role == "assistant") {
                turns.pop_front();
            }
        }
        if turns.is_empty() {
            return;
        }
        let needed = size(context, &turns);
        while self.map.len() >= MAX_CONTEXTS || self.bytes + needed > b.bytes {
            let Some(oldest) = self
                .map
                .iter()
                .min_by_key(|(_, (u, _))| *u)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((_, t)) = self.map.remove(&oldest) {
                self.bytes -= size(&oldest, &t);
            }
        }
        self.bytes += needed;
        self.map.insert(context.to_string(), (self.clock, turns));
    }
}

/// One line of an OpenAI streaming response.
#[derive(Debug, PartialEq)]
pub enum SseLine {
    /// a piece of the answer
    Delta(String),
    /// `data: [DONE]`
    Done,
    /// the server reported an error inside the stream
    Error(String),
    /// comments, keep-alives, role-only deltas, other fields
    Skip,
}

/// Parses one line of the event stream. Pure, so it can be fuzzed.
pub fn parse_sse_line(line: &str) -> SseLine {
    let line = line.trim_end_matches(['\r', '\n']);
    let Some(data) = line.strip_prefix("data:") else {
        return SseLine::Skip;
    };
    let data = data.trim_start();
    if data == "[DONE]" {
        return SseLine::Done;
    }
    let Ok(v) = serde_json::from_str::<Value>(data) else {
        return SseLine::Skip;
    };
    if let Some(err) = v.get("error") {
        let msg = err
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| err.to_string());
        return SseLine::Error(msg);
    }
    match v
        .pointer("/choices/0/delta/content")
        .and_then(Value::as_str)
    {
        Some(s) if !s.is_empty() => SseLine::Delta(s.to_string()),
        _ => SseLine::Skip,
    }
}

impl OpenAiBackend {
    pub fn new(cfg: OpenAiConfig, http: Client) -> OpenAiBackend {
        OpenAiBackend {
            cfg,
            http,
            conversations: Mutex::new(Conversations::default()),
        }
    }

    fn endpoint(&self) -> String {
        format!(
            "{}/chat/completions",
            self.cfg.base_url.trim_end_matches('/')
        )
    }

    fn what(&self) -> String {
        format!(
            "the model server at {}",
            crate::redact::url(&self.cfg.base_url)
        )
    }
}

impl Backend for OpenAiBackend {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn run(&self, req: &BackendRequest<'_>, turn: &mut Turn<'_>) -> Result<(), BackendError> {
        let history = self
            .conversations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .history(req.context_id);
        let mut messages = Vec::with_capacity(history.len() + 2);
        if let Some(sp) = &self.cfg.system_prompt {
            messages.push(json!({"role": "system", "content": sp}));
        }
        for (role, content) in &history {
            messages.push(json!({"role": role, "content": content}));
        }
        messages.push(json!({"role": "user", "content": req.text}));
        let body = json!({"model": self.cfg.model, "messages": messages, "stream": true});

        let bearer = self.cfg.api_key.as_ref().map(|key| format!("Bearer {key}"));
        let mut headers = vec![("Accept", "text/event-stream")];
        headers.extend(bearer.as_deref().map(|b| ("Authorization", b)));
        let post = Post {
            url: &self.endpoint(),
            what: &self.what(),
            headers: &headers,
            body: &body.to_string(),
        };
        let Answered { call, resp } = self.http.post_json(turn, &post)?;
        let emit = &mut *turn.emit;
        let read = if resp.content_type().contains("event-stream") {
            self.read_stream(resp, &mut |t| emit(BackendEvent::Text(t)))
        } else {
            self.read_whole(resp, &mut |t| emit(BackendEvent::Text(t)))
        };
        // a closed connection reads like the end of the answer: ask the
        // watchdog whether it was one
        if call.interrupted() || turn.cancel.is_set() {
            return Err(turn.interrupted());
        }
        let answer = read.map_err(|e| match e {
            ReadError::Io(e) => io_error(e, &self.what()),
            ReadError::Failed(m) => BackendError::Failed(m),
        })?;
        self.conversations
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .record(
                req.context_id,
                req.text,
                &answer,
                Bounds {
                    messages: self.cfg.max_history_messages,
                    bytes: self.cfg.max_history_bytes,
                },
            );
        Ok(())
    }
}

/// How reading an answer went wrong.
enum ReadError {
    Io(std::io::Error),
    Failed(String),
}

impl OpenAiBackend {
    /// Server-sent events, line by line; each delta goes out at once.
    fn read_stream(
        &self,
        resp: ureq::Response,
        emit: &mut dyn FnMut(&str),
    ) -> Result<String, ReadError> {
        let mut answer = String::new();
        let mut reader = BufReader::new(resp.into_reader());
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(MAX_LINE as u64)
                .read_until(b'\n', &mut line)
                .map_err(ReadError::Io)?;
            if n == 0 {
                return Ok(answer);
            }
            match parse_sse_line(&String::from_utf8_lossy(&line)) {
                SseLine::Delta(d) => {
                    if answer.len() + d.len() > self.cfg.max_answer_bytes {
                        return Err(self.too_long());
                    }
                    answer.push_str(&d);
                    emit(&d);
                }
                SseLine::Done => return Ok(answer),
                SseLine::Error(m) => {
                    let m = crate::redact::text(&m);
                    return Err(ReadError::Failed(format!("{} reported: {m}", self.what())));
                }
                SseLine::Skip => {}
            }
        }
    }

    /// A server that ignores `stream: true` answers with one JSON body.
    fn read_whole(
        &self,
        resp: ureq::Response,
        emit: &mut dyn FnMut(&str),
    ) -> Result<String, ReadError> {
        let unreadable = |e: &dyn std::fmt::Display| {
            ReadError::Failed(format!("{} sent an unreadable answer: {e}", self.what()))
        };
        // the answer's text plus room for the JSON around it
        let cap = self.cfg.max_answer_bytes as u64 * 2 + 64 * 1024;
        let mut raw = String::new();
        resp.into_reader()
            .take(cap)
            .read_to_string(&mut raw)
            .map_err(|e| unreadable(&e))?;
        let v: Value = serde_json::from_str(&raw).map_err(|e| unreadable(&e))?;
        let text = v
            .pointer("/choices/0/message/content")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                ReadError::Failed(format!(
                    "{} sent no choices[0].message.content",
                    self.what()
                ))
            })?;
        if text.len() > self.cfg.max_answer_bytes {
            return Err(self.too_long());
        }
        emit(text);
        Ok(text.to_string())
    }

    fn too_long(&self) -> ReadError {
        ReadError::Failed(format!(
            "{} sent an answer longer than {} bytes (OPENAI_MAX_ANSWER_BYTES)",
            self.what(),
            self.cfg.max_answer_bytes
        ))
    }
}

fn io_error(e: std::io::Error, what: &str) -> BackendError {
    use std::io::ErrorKind::*;
    match e.kind() {
        TimedOut | WouldBlock => BackendError::TimedOut,
        _ => BackendError::Failed(format!("lost the connection to {what}: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sse_lines() {
        assert_eq!(
            parse_sse_line(r#"data: {"choices":[{"delta":{"content":"Hi"}}]}"#),
            SseLine::Delta("Hi".into())
        );
        assert_eq!(parse_sse_line("data: [DONE]\r\n"), SseLine::Done);
        assert_eq!(parse_sse_line(": keep-alive"), SseLine::Skip);
        assert_eq!(
            parse_sse_line(r#"data: {"choices":[{"delta":{"role":"assistant"}}]}"#),
            SseLine::Skip
        );
        assert_eq!(
            parse_sse_line(r#"data: {"error":{"message":"overloaded"}}"#),
            SseLine::Error("overloaded".into())
        );
        assert_eq!(parse_sse_line("data: {not json"), SseLine::Skip);
    }

    #[test]
    fn conversations_are_bounded() {
        let mut c = Conversations::default();
        let b = Bounds {
            messages: 4,
            bytes: 1 << 20,
        };
        for i in 0..10 {
            c.record("ctx", &format!("q{i}"), &format!("a{i}"), b);
        }
        let h = c.history("ctx");
        assert_eq!(h.len(), 4);
        assert_eq!(h[0], ("user", "q8".to_string()));
        for i in 0..(MAX_CONTEXTS + 10) {
            c.record(&i.to_string(), "q", "a", b);
        }
        assert!(c.map.len() <= MAX_CONTEXTS);
    }

    #[test]
    fn conversations_are_bounded_in_bytes_least_recently_used_first() {
        let mut c = Conversations::default();
        let b = Bounds {
            messages: 100,
            bytes: 1000,
        };
        c.record("a", &"x".repeat(400), "y", b);
        c.record("b", &"x".repeat(400), "y", b);
        let _ = c.history("a");
        c.record("c", &"x".repeat(400), "y", b);
        assert!(c.bytes <= 1000, "{}", c.bytes);
        assert!(c.map.contains_key("a") && c.map.contains_key("c"));
        assert!(!c.map.contains_key("b"), "the least recently used went");
        c.record("big", &"x".repeat(2000), "y", b);
        assert!(
            c.history("big").is_empty(),
            "an exchange over the bound is not kept"
        );
        let held: usize = c.map.iter().map(|(k, (_, t))| size(k, t)).sum();
        assert_eq!(held, c.bytes);
    }
}
