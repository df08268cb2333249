//! Structure-aware input for the decoder targets: a JSON-RPC call of any A2A
//! method of either generation, its params shaped as that method expects
//! (messages, parts of both generations, configuration, task references),
//! then bent: any key of either generation (or an arbitrary one) set to
//! null, a wrong type, a valid value, a part, a message or a free tree, or
//! removed. Random bytes rarely get past the JSON parser into a part; these
//! trees start there.
//!
//! With `A2A_FUZZ_SHOW=1` in the environment the generated body is printed,
//! so a crash input can be saved as JSON under fuzz/regressions/.

use libfuzzer_sys::arbitrary::{self, Arbitrary, Result, Unstructured};
use workspace_agent::fuzz_checks::METHOD_NAMES;
use workspace_agent::protocol::Method;

/// A little past the agent's nesting limit (32), so that refusal is
/// exercised too; the generators and `write` recurse at most this deep.
const MAX_DEPTH: usize = 36;

/// A JSON tree; objects keep their order and may repeat keys.
enum J {
    Null,
    Bool(bool),
    Raw(&'static str),
    Num(i64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

impl J {
    fn obj(fields: Vec<(&str, J)>) -> J {
        J::Obj(
            fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn s(text: &str) -> J {
        J::Str(text.to_string())
    }

    /// Replaces (or with `None` removes) every field called `key`.
    fn set(&mut self, key: &str, value: Option<J>) {
        if let J::Obj(fields) = self {
            fields.retain(|(k, _)| k != key);
            fields.extend(value.map(|v| (key.to_string(), v)));
        }
    }

    fn write(&self, out: &mut String) {
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Raw(r) => out.push_str(r),
            J::Num(n) => out.push_str(&n.to_string()),
            J::Str(s) => write_str(s, out),
            J::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_str(k, out);
                    out.push(':');
                    v.write(out);
                }
                out.push('}');
            }
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The field names of both generations, snake_case spellings included.
#[rustfmt::skip]
#[derive(Arbitrary, Debug, Clone, Copy, PartialEq)]
enum Key {
    Kind, Type, Text, Raw, Url, Data, File, Bytes, Uri, MimeType, MimeTypeSnake,
    MediaType, MediaTypeSnake, Name, Filename, Parts, MessageId, MessageIdSnake,
    TaskId, TaskIdSnake, ContextId, ContextIdSnake, Role, Metadata, Extensions,
    ReferenceTaskIds, Message, Configuration, HistoryLength, HistoryLengthSnake,
    AcceptedOutputModes, Blocking, ReturnImmediately, ReturnImmediatelySnake,
    PushNotificationConfig, TaskPushNotificationConfig, Id, Jsonrpc, Method, Params,
    Tenant, PageSize, PageToken, Status, StatusTimestampAfter, IncludeArtifacts,
}

#[rustfmt::skip]
impl Key {
    fn name(self) -> &'static str {
        use Key::*;
        match self {
            Kind => "kind", Type => "type", Text => "text", Raw => "raw", Url => "url",
            Data => "data", File => "file", Bytes => "bytes", Uri => "uri",
            MimeType => "mimeType", MimeTypeSnake => "mime_type", MediaType => "mediaType",
            MediaTypeSnake => "media_type", Name => "name", Filename => "filename",
            Parts => "parts", MessageId => "messageId", MessageIdSnake => "message_id",
            TaskId => "taskId", TaskIdSnake => "task_id", ContextId => "contextId",
            ContextIdSnake => "context_id", Role => "role", Metadata => "metadata",
            Extensions => "extensions", ReferenceTaskIds => "referenceTaskIds",
            Message => "message", Configuration => "configuration",
            HistoryLength => "historyLength", HistoryLengthSnake => "history_length",
            AcceptedOutputModes => "acceptedOutputModes", Blocking => "blocking",
            ReturnImmediately => "returnImmediately",
            ReturnImmediatelySnake => "return_immediately",
            PushNotificationConfig => "pushNotificationConfig",
            TaskPushNotificationConfig => "taskPushNotificationConfig", Id => "id",
            Jsonrpc => "jsonrpc", Method => "method", Params => "params", Tenant => "tenant",
            PageSize => "pageSize", PageToken => "pageToken", Status => "status",
            StatusTimestampAfter => "statusTimestampAfter",
            IncludeArtifacts => "includeArtifacts",
        }
    }
}

#[rustfmt::skip]
const PART_KEYS: &[Key] = &[
    Key::Kind, Key::Type, Key::Text, Key::Raw, Key::Url, Key::Data, Key::File,
    Key::Filename, Key::MediaType, Key::Metadata,
];
#[rustfmt::skip]
const FILE_KEYS: &[Key] = &[Key::Bytes, Key::Uri, Key::Name, Key::MimeType, Key::MimeTypeSnake];
#[rustfmt::skip]
const MESSAGE_KEYS: &[Key] = &[
    Key::Kind, Key::MessageId, Key::Role, Key::Parts, Key::ContextId, Key::TaskId,
    Key::ReferenceTaskIds, Key::Extensions, Key::Metadata, Key::MessageIdSnake,
    Key::ContextIdSnake, Key::TaskIdSnake,
];
#[rustfmt::skip]
const CONFIG_KEYS: &[Key] = &[
    Key::Blocking, Key::ReturnImmediately, Key::ReturnImmediatelySnake, Key::HistoryLength,
    Key::HistoryLengthSnake, Key::AcceptedOutputModes, Key::PushNotificationConfig,
    Key::TaskPushNotificationConfig,
];
#[rustfmt::skip]
const SEND_KEYS: &[Key] = &[Key::Message, Key::Configuration, Key::Metadata, Key::Tenant];
#[rustfmt::skip]
const TASK_KEYS: &[Key] = &[Key::Id, Key::HistoryLength, Key::HistoryLengthSnake, Key::Tenant];
#[rustfmt::skip]
const LIST_KEYS: &[Key] = &[
    Key::ContextId, Key::Status, Key::PageSize, Key::PageToken, Key::HistoryLength,
    Key::StatusTimestampAfter, Key::IncludeArtifacts, Key::ContextIdSnake, Key::Tenant,
];
const ENVELOPE_KEYS: &[Key] = &[Key::Id, Key::Jsonrpc, Key::Method, Key::Params];

#[rustfmt::skip]
const WORDS: &[&str] = &[
    "", "text", "file", "data", "message", "task", "status-update", "user", "agent",
    "ROLE_USER", "ROLE_AGENT", "ROLE_UNSPECIFIED", "submitted", "working", "completed",
    "input-required", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED", "TASK_STATE_UNSPECIFIED",
    "text/plain", "application/json", "*/*", "aGk=", "https://example.com/f.png", "2.0",
    "0", "3", "-1", "4294967296", "2026-01-01T00:00:00Z", "9999-12-31T23:59:60.999Z", "t-1",
];
#[rustfmt::skip]
const NUMBERS: &[&str] = &["0", "1", "-1", "100", "101", "4294967295", "4294967296", "1.5", "-0", "1e400"];

/// What a mutation puts in a position.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Fill {
    Remove,
    Null,
    Valid,
    Bool(bool),
    Number,
    Word,
    Text,
    EmptyArray,
    EmptyObject,
    Part,
    Message,
    Tree,
}

/// The shapes a part of either generation starts from.
#[rustfmt::skip]
#[derive(Arbitrary, Debug, Clone, Copy)]
enum PartTemplate {
    Text03, TypeText, File03, Data03, BareText, BareFile, Raw10, Url10, Data10,
}

fn word(u: &mut Unstructured) -> Result<J> {
    Ok(if u.ratio(1, 4)? {
        J::Str(u.arbitrary()?)
    } else {
        J::s(u.choose(WORDS)?)
    })
}

fn number(u: &mut Unstructured) -> Result<J> {
    Ok(if u.ratio(1, 2)? {
        J::Num(u.arbitrary()?)
    } else {
        J::Raw(u.choose(NUMBERS)?)
    })
}

fn scalar(u: &mut Unstructured) -> Result<J> {
    Ok(match u.int_in_range(0..=3)? {
        0 => J::Null,
        1 => J::Bool(u.arbitrary()?),
        2 => number(u)?,
        _ => word(u)?,
    })
}

fn key(u: &mut Unstructured, relevant: &[Key]) -> Result<String> {
    Ok(match u.int_in_range(0..=7)? {
        0 => u.arbitrary()?,
        1 | 2 => u.arbitrary::<Key>()?.name().to_string(),
        _ => u.choose(relevant)?.name().to_string(),
    })
}

/// Any JSON, with A2A keys and shapes more likely than not.
fn tree(u: &mut Unstructured, d: usize) -> Result<J> {
    if d >= MAX_DEPTH {
        return scalar(u);
    }
    Ok(match u.int_in_range(0..=5)? {
        0 | 1 => scalar(u)?,
        2 => J::Arr(list(u, |u| tree(u, d + 1))?),
        3 => {
            let mut fields = Vec::new();
            for _ in 0..u.int_in_range(0..=4)? {
                fields.push((key(u, PART_KEYS)?, tree(u, d + 1)?));
            }
            J::Obj(fields)
        }
        4 => part(u, d + 1)?,
        _ => message(u, d + 1)?,
    })
}

fn list(
    u: &mut Unstructured,
    mut item: impl FnMut(&mut Unstructured) -> Result<J>,
) -> Result<Vec<J>> {
    (0..u.int_in_range(0..=3)?).map(|_| item(u)).collect()
}

/// The value a key normally holds, so that a mutation can also add a
/// well-formed member of another shape.
fn valid(u: &mut Unstructured, k: Key, d: usize) -> Result<J> {
    use Key::*;
    if d >= MAX_DEPTH {
        return scalar(u);
    }
    Ok(match k {
        Data | Metadata | PushNotificationConfig | TaskPushNotificationConfig => tree(u, d)?,
        File => file(u, d)?,
        Parts => J::Arr(list(u, |u| part(u, d + 1))?),
        Message => message(u, d)?,
        Configuration => configuration(u, d)?,
        Params => send_params(u, d)?,
        Extensions | ReferenceTaskIds | AcceptedOutputModes => J::Arr(list(u, word)?),
        HistoryLength | HistoryLengthSnake | PageSize => number(u)?,
        Blocking | ReturnImmediately | ReturnImmediatelySnake | IncludeArtifacts => {
            J::Bool(u.arbitrary()?)
        }
        Method => J::s(u.choose(&METHOD_NAMES)?),
        Jsonrpc => J::s("2.0"),
        _ => word(u)?,
    })
}

fn fill(u: &mut Unstructured, k: Key, d: usize) -> Result<Option<J>> {
    Ok(Some(match u.arbitrary::<Fill>()? {
        Fill::Remove => return Ok(None),
        Fill::Null => J::Null,
        Fill::Valid => valid(u, k, d)?,
        Fill::Bool(b) => J::Bool(b),
        Fill::Number => number(u)?,
        Fill::Word => word(u)?,
        Fill::Text => J::Str(u.arbitrary()?),
        Fill::EmptyArray => J::Arr(Vec::new()),
        Fill::EmptyObject => J::Obj(Vec::new()),
        Fill::Part if d < MAX_DEPTH => part(u, d + 1)?,
        Fill::Message if d < MAX_DEPTH => message(u, d + 1)?,
        Fill::Tree if d < MAX_DEPTH => tree(u, d + 1)?,
        _ => J::Null,
    }))
}

/// Sets up to three keys (most often the shape's own) to anything.
fn bend(u: &mut Unstructured, obj: &mut J, relevant: &[Key], d: usize) -> Result<()> {
    for _ in 0..u.int_in_range(0..=3)? {
        if u.ratio(1, 8)? {
            let name: String = u.arbitrary()?;
            let value = fill(u, Key::Data, d)?;
            obj.set(&name, value);
            continue;
        }
        let k = if u.ratio(3, 4)? {
            *u.choose(relevant)?
        } else {
            u.arbitrary()?
        };
        let value = fill(u, k, d)?;
        obj.set(k.name(), value);
    }
    Ok(())
}

fn part(u: &mut Unstructured, d: usize) -> Result<J> {
    use PartTemplate::*;
    let text = |u: &mut Unstructured| -> Result<J> { Ok(J::Str(u.arbitrary()?)) };
    let mut p = match u.arbitrary::<PartTemplate>()? {
        Text03 => J::obj(vec![("kind", J::s("text")), ("text", text(u)?)]),
        TypeText => J::obj(vec![("type", J::s("text")), ("text", text(u)?)]),
        File03 => J::obj(vec![("kind", J::s("file")), ("file", file(u, d + 1)?)]),
        Data03 => J::obj(vec![("kind", J::s("data")), ("data", tree(u, d + 1)?)]),
        BareText => J::obj(vec![("text", text(u)?)]),
        BareFile => J::obj(vec![("file", file(u, d + 1)?)]),
        Raw10 => J::obj(vec![("raw", J::s("aGk=")), ("mediaType", word(u)?)]),
        Url10 => J::obj(vec![("url", word(u)?), ("filename", word(u)?)]),
        Data10 => J::obj(vec![("data", tree(u, d + 1)?)]),
    };
    bend(u, &mut p, PART_KEYS, d)?;
    Ok(p)
}

fn file(u: &mut Unstructured, d: usize) -> Result<J> {
    let content = if u.arbitrary()? {
        ("bytes", J::s("aGk="))
    } else {
        ("uri", word(u)?)
    };
    let mut f = J::obj(vec![content, ("name", word(u)?), ("mimeType", word(u)?)]);
    bend(u, &mut f, FILE_KEYS, d)?;
    Ok(f)
}

fn message(u: &mut Unstructured, d: usize) -> Result<J> {
    let mut parts = vec![part(u, d + 2)?];
    parts.extend(list(u, |u| part(u, d + 2))?);
    let role = J::s(u.choose(&["user", "agent", "ROLE_USER", "ROLE_AGENT", "bot"])?);
    let mut m = J::obj(vec![
        ("messageId", word(u)?),
        ("role", role),
        ("parts", J::Arr(parts)),
    ]);
    bend(u, &mut m, MESSAGE_KEYS, d)?;
    Ok(m)
}

fn configuration(u: &mut Unstructured, d: usize) -> Result<J> {
    let mut c = J::obj(vec![("blocking", J::Bool(true))]);
    bend(u, &mut c, CONFIG_KEYS, d)?;
    Ok(c)
}

fn send_params(u: &mut Unstructured, d: usize) -> Result<J> {
    let mut p = J::obj(vec![("message", message(u, d + 1)?)]);
    if u.arbitrary()? {
        p.set("configuration", Some(configuration(u, d + 1)?));
    }
    bend(u, &mut p, SEND_KEYS, d)?;
    Ok(p)
}

/// The params the method expects, bent.
fn params(u: &mut Unstructured, method: Option<Method>) -> Result<J> {
    let (mut p, relevant) = match method {
        Some(Method::Send | Method::Stream) => return send_params(u, 1),
        Some(Method::GetTask | Method::Cancel | Method::Subscribe) => {
            (J::obj(vec![("id", word(u)?)]), TASK_KEYS)
        }
        Some(Method::ListTasks) => (J::obj(vec![]), LIST_KEYS),
        _ => return tree(u, 1),
    };
    bend(u, &mut p, relevant, 1)?;
    Ok(p)
}

/// A JSON-RPC request body for any A2A method (or, now and then, another
/// name), with its envelope bent now and then.
pub fn call(u: &mut Unstructured) -> Result<String> {
    let name: String = if u.ratio(1, 16)? {
        u.arbitrary()?
    } else {
        u.choose(&METHOD_NAMES)?.to_string()
    };
    let params = params(u, Method::from_name(&name).map(|(m, _)| m))?;
    let mut envelope = J::obj(vec![
        ("jsonrpc", J::s("2.0")),
        ("id", J::Num(1)),
        ("method", J::Str(name)),
        ("params", params),
    ]);
    if u.ratio(1, 8)? {
        bend(u, &mut envelope, ENVELOPE_KEYS, 0)?;
    }
    let mut out = String::new();
    envelope.write(&mut out);
    show(&out);
    Ok(out)
}

fn show(body: &str) {
    static SHOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *SHOW.get_or_init(|| std::env::var_os("A2A_FUZZ_SHOW").is_some()) {
        eprintln!("{body}");
    }
}
