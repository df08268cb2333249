//! The card file (`$CONFIGS_DIR/agent-card.json` or `AGENT_CARD_FILE`):
//! name, description, skills, and per-backend sections that override them.
//! Read with serde; keys it does not know are reported, not fatal, so a
//! misspelling (`"skils"`) is seen in the log instead of silently ignored.

use super::{CardConfig, ConfigError, Skill};
use serde::de::IgnoredAny;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What the file may say, at the top level and in each `backends` section.
#[derive(Deserialize, Default)]
struct Section {
    name: Option<String>,
    description: Option<String>,
    /// decoded one by one, so an error names the skill's index
    skills: Option<Vec<Value>>,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
struct CardFile {
    #[serde(flatten)]
    top: Section,
    #[serde(default)]
    backends: BTreeMap<String, Section>,
}

#[derive(Deserialize)]
struct SkillFile {
    id: String,
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(flatten)]
    unknown: BTreeMap<String, IgnoredAny>,
}

/// The card the file describes for `backend`, and a warning per unknown key.
pub struct Loaded {
    pub card: CardConfig,
    pub warnings: Vec<String>,
}

pub fn default_description(backend: &str) -> &'static str {
    match backend {
        "echo" => "Echoes each message back: a tiny A2A agent ready for a real backend.",
        "openai" => "Answers with a language model behind an OpenAI-compatible API.",
        "command" => "Answers by running a local program on each message.",
        _ => "Answers by forwarding each message to a web service.",
    }
}

fn default_skill(backend: &str) -> Skill {
    let (id, name, example) = match backend {
        "echo" => ("echo", "Echo", Some("Hello!")),
        "openai" => ("chat", "Chat", Some("Summarise this paragraph for me.")),
        "command" => ("run", "Run", None),
        _ => ("forward", "Forward", None),
    };
    Skill {
        id: id.into(),
        name: name.into(),
        description: default_description(backend).into(),
        tags: vec![backend.to_string()],
        examples: example.into_iter().map(str::to_string).collect(),
    }
}

/// Reads the card file (an `explicit` one must exist; the default one may
/// not) and applies its section for `backend`.
pub fn load(
    explicit: Option<&Path>,
    configs_dir: &Path,
    name: &str,
    backend: &str,
) -> Result<Loaded, ConfigError> {
    let mut loaded = Loaded {
        card: CardConfig {
            name: name.to_string(),
            description: default_description(backend).into(),
            skills: vec![default_skill(backend)],
        },
        warnings: Vec::new(),
    };
    let default_path = configs_dir.join("agent-card.json");
    let path = explicit.unwrap_or(&default_path);
    let shown = path.display().to_string();
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        // the default file is optional: no file (or no directory) is fine
        Err(e)
            if explicit.is_none()
                && (e.kind() == std::io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::ENOTDIR)) =>
        {
            return Ok(loaded)
        }
        Err(e) => {
            return Err(ConfigError(format!(
                "card file {shown} cannot be read: {e}"
            )))
        }
    };
    let file: CardFile = serde_json::from_str(&text)
        .map_err(|e| ConfigError(format!("card file {shown} is not valid: {e}")))?;
    loaded.apply(file.top, &shown, "")?;
    for (name, section) in file.backends {
        if name == backend {
            loaded.apply(section, &shown, &format!("backends.{name}."))?;
        } else {
            loaded.note_unknown(&section.unknown, &shown, &format!("backends.{name}."));
        }
    }
    Ok(loaded)
}

impl Loaded {
    fn apply(&mut self, s: Section, file: &str, at: &str) -> Result<(), ConfigError> {
        self.note_unknown(&s.unknown, file, at);
        if let Some(n) = s.name {
            self.card.name = n;
        }
        if let Some(d) = s.description {
            self.card.description = d;
        }
        if let Some(skills) = s.skills {
            let mut out = Vec::with_capacity(skills.len());
            for (i, v) in skills.into_iter().enumerate() {
                let skill = SkillFile::deserialize(v)
                    .map_err(|e| ConfigError(format!("card file {file}: {at}skills[{i}] {e}")))?;
                if skill.id.is_empty() {
                    return Err(ConfigError(format!(
                        "card file {file}: {at}skills[{i}] needs a non-empty \"id\""
                    )));
                }
                self.note_unknown(&skill.unknown, file, &format!("{at}skills[{i}]."));
                out.push(Skill {
                    name: skill.name.unwrap_or_else(|| skill.id.clone()),
                    id: skill.id,
                    description: skill.description,
                    tags: skill.tags,
                    examples: skill.examples,
                });
            }
            self.card.skills = out;
        }
        Ok(())
    }

    fn note_unknown(&mut self, unknown: &BTreeMap<String, IgnoredAny>, file: &str, at: &str) {
        for key in unknown.keys() {
            self.warnings.push(format!(
                "card file {file}: unknown key \"{at}{}\" ignored (known: name, description, \
                 skills, backends; a skill has id, name, description, tags, examples)",
                key.escape_debug()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_text(text: &str, backend: &str) -> Result<Loaded, ConfigError> {
        let dir = std::env::temp_dir().join(format!("wa-cardfile-{}", crate::ids::new_id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("agent-card.json"), text).unwrap();
        let r = load(None, &dir, "workspace-agent", backend);
        let _ = std::fs::remove_dir_all(dir);
        r
    }

    #[test]
    fn sections_apply_per_backend() {
        let l = load_text(
            r#"{"name":"Helper","skills":[{"id":"a","tags":["x"]}],
               "backends":{"echo":{"description":"Echo desc"},"openai":{"name":"LLM"}}}"#,
            "echo",
        )
        .unwrap();
        assert_eq!(l.card.name, "Helper");
        assert_eq!(l.card.description, "Echo desc");
        assert_eq!(l.card.skills[0].name, "a");
        assert_eq!(l.card.skills[0].tags, ["x"]);
        assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    }

    #[test]
    fn unknown_keys_are_warnings_naming_the_key() {
        let l = load_text(
            r#"{"skils":[],"skills":[{"id":"a","tgas":[]}],
               "backends":{"echo":{"nmae":"x"},"http":{"descripton":"y"}}}"#,
            "echo",
        )
        .unwrap();
        let all = l.warnings.join("\n");
        assert_eq!(l.warnings.len(), 4, "{all}");
        for key in ["\"skils\"", "\"skills[0].tgas\"", "\"backends.echo.nmae\""] {
            assert!(all.contains(key), "{key} in {all}");
        }
        assert!(all.contains("\"backends.http.descripton\""), "{all}");
    }

    #[test]
    fn errors_say_where() {
        let e = |t: &str| load_text(t, "echo").err().unwrap().0;
        assert!(e("{broken").contains("is not valid"));
        assert!(e(r#"{"skills":[{"name":"no id"}]}"#).contains("skills[0]"));
        assert!(e(r#"{"skills":[{"id":""}]}"#).contains("skills[0] needs"));
        assert!(e(r#"{"name":5}"#).contains("expected a string"));
        assert!(e(r#"{"backends":{"echo":{"skills":[1]}}}"#).contains("backends.echo.skills[0]"));
        assert!(e("[]").contains("is not valid"));
        let missing = load(
            Some(Path::new("/nonexistent/c.json")),
            Path::new("/x"),
            "n",
            "echo",
        );
        assert!(missing.err().unwrap().0.contains("cannot be read"));
        assert!(load(None, Path::new("/nonexistent"), "n", "echo").is_ok());
    }
}
