//! The agent card, rendered once per protocol generation and kept as bytes.
//!
//! 0.3 clients need `url`, `protocolVersion` and `preferredTransport` at the
//! top level; strict 1.0 validators reject exactly those. So the card is
//! served per the request's `A2A-Version` header: absent → the 0.3 card
//! (which also lists `supportedInterfaces`, so 1.0 clients that fetch it
//! without the header still find the 1.0 interface), `1.0` → the 1.0 card.

use crate::config::Config;
use serde_json::{json, Value};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

pub const CARD_PATH: &str = "/.well-known/agent-card.json";
pub const LEGACY_CARD_PATH: &str = "/.well-known/agent.json";

/// One rendering of the card, ready to send.
#[derive(Debug, Clone)]
pub struct CardBytes {
    pub body: Vec<u8>,
    pub etag: String,
}

#[derive(Debug, Clone)]
pub struct Cards {
    pub v03: CardBytes,
    pub v10: CardBytes,
    /// the 0.3 card as JSON, sent to the platform at registration
    pub registration: Value,
    pub last_modified: String,
}

/// What the card advertises; only what actually works.
#[derive(Debug, Clone, Copy)]
pub struct Capabilities {
    pub streaming: bool,
    pub push_notifications: bool,
}

impl Capabilities {
    /// What this agent does: streams, and no push notifications.
    pub const AGENT: Capabilities = Capabilities {
        streaming: true,
        push_notifications: false,
    };
}

/// The one copy of the cards being served: the server reads it for every
/// card request, the platform thread for every registration, and a reload
/// swaps it whole.
#[derive(Clone)]
pub struct SharedCards(Arc<RwLock<Arc<Cards>>>);

impl SharedCards {
    pub fn new(cards: Cards) -> SharedCards {
        SharedCards(Arc::new(RwLock::new(Arc::new(cards))))
    }

    pub fn get(&self) -> Arc<Cards> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub fn set(&self, cards: Cards) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(cards);
    }
}

fn skills(cfg: &Config) -> Value {
    Value::Array(
        cfg.card
            .skills
            .iter()
            .map(|s| {
                json!({
                    "id": s.id,
                    "name": s.name,
                    "description": s.description,
                    "tags": s.tags,
                    "examples": s.examples,
                })
            })
            .collect(),
    )
}

fn interfaces(cfg: &Config) -> Value {
    json!([
        {"url": cfg.agent_url, "protocolBinding": "JSONRPC", "protocolVersion": "1.0"},
        {"url": cfg.agent_url, "protocolBinding": "JSONRPC", "protocolVersion": "0.3"},
    ])
}

pub fn render_v03(cfg: &Config, caps: Capabilities) -> Value {
    let mut card = json!({
        "name": cfg.card.name,
        "description": cfg.card.description,
        "version": env!("CARGO_PKG_VERSION"),
        "url": cfg.agent_url,
        "protocolVersion": "0.3.0",
        "preferredTransport": "JSONRPC",
        "additionalInterfaces": [{"url": cfg.agent_url, "transport": "JSONRPC"}],
        "supportedInterfaces": interfaces(cfg),
        "capabilities": {
            "streaming": caps.streaming,
            "pushNotifications": caps.push_notifications,
            "stateTransitionHistory": false,
        },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": skills(cfg),
        "supportsAuthenticatedExtendedCard": false,
        "runtime": {
            "name": "workspace-agent",
            "version": env!("CARGO_PKG_VERSION"),
            "language": "rust",
            "backend": cfg.backend.name(),
        },
    });
    if cfg.auth_token.is_some() {
        card["securitySchemes"] = json!({"bearer": {"type": "http", "scheme": "bearer",
            "description": "Authorization: Bearer <A2A_AUTH_TOKEN>"}});
        card["security"] = json!([{"bearer": []}]);
    }
    card
}

pub fn render_v10(cfg: &Config, caps: Capabilities) -> Value {
    let mut card = json!({
        "name": cfg.card.name,
        "description": cfg.card.description,
        "version": env!("CARGO_PKG_VERSION"),
        "supportedInterfaces": interfaces(cfg),
        "capabilities": {
            "streaming": caps.streaming,
            "pushNotifications": caps.push_notifications,
            "extendedAgentCard": false,
        },
        "defaultInputModes": ["text/plain"],
        "defaultOutputModes": ["text/plain"],
        "skills": skills(cfg),
    });
    if cfg.auth_token.is_some() {
        card["securitySchemes"] = json!({"bearer": {"httpAuthSecurityScheme": {"scheme": "Bearer",
            "description": "Authorization: Bearer <A2A_AUTH_TOKEN>"}}});
        card["securityRequirements"] = json!([{"schemes": {"bearer": {"list": []}}}]);
    }
    card
}

/// FNV-1a: the ETag only has to change when the bytes do.
fn etag(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}\"")
}

fn to_bytes(v: &Value) -> CardBytes {
    let body = serde_json::to_vec(v).unwrap_or_default();
    CardBytes {
        etag: etag(&body),
        body,
    }
}

impl Cards {
    pub fn build(cfg: &Config, caps: Capabilities) -> Cards {
        let v03 = render_v03(cfg, caps);
        Cards {
            v03: to_bytes(&v03),
            v10: to_bytes(&render_v10(cfg, caps)),
            registration: v03,
            last_modified: crate::time::http_date(SystemTime::now()),
        }
    }
}

/// What a card lacks to be valid, per protocol generation.
#[derive(Debug, Default)]
pub struct Problems {
    pub v03: Vec<String>,
    pub v10: Vec<String>,
}

/// Checks a card fetched from any agent. Used by the `card` subcommand.
pub fn validate(card: &Value) -> Problems {
    let mut v03 = Vec::new();
    let mut v10 = Vec::new();
    let has_str = |k: &str| {
        card.get(k)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    for k in ["name", "description", "version"] {
        if !has_str(k) {
            v03.push(format!("missing \"{k}\""));
            v10.push(format!("missing \"{k}\""));
        }
    }
    for k in ["url", "protocolVersion"] {
        if !has_str(k) {
            v03.push(format!("missing \"{k}\""));
        }
    }
    if !card.get("capabilities").is_some_and(Value::is_object) {
        v03.push("missing \"capabilities\" object".into());
        v10.push("missing \"capabilities\" object".into());
    }
    for k in ["defaultInputModes", "defaultOutputModes", "skills"] {
        if !card.get(k).is_some_and(Value::is_array) {
            v03.push(format!("missing \"{k}\" list"));
            v10.push(format!("missing \"{k}\" list"));
        }
    }
    if let Some(skills) = card.get("skills").and_then(Value::as_array) {
        for (i, s) in skills.iter().enumerate() {
            for k in ["id", "name", "description"] {
                if s.get(k).and_then(Value::as_str).is_none() {
                    let p = format!("skills[{i}] has no \"{k}\"");
                    v03.push(p.clone());
                    v10.push(p);
                }
            }
            if !s.get("tags").is_some_and(Value::is_array) {
                let p = format!("skills[{i}] has no \"tags\" list");
                v03.push(p.clone());
                v10.push(p);
            }
        }
    }
    match card.get("supportedInterfaces").and_then(Value::as_array) {
        Some(a) if !a.is_empty() => {
            for (i, it) in a.iter().enumerate() {
                for k in ["url", "protocolBinding", "protocolVersion"] {
                    if it.get(k).and_then(Value::as_str).is_none() {
                        v10.push(format!("supportedInterfaces[{i}] has no \"{k}\""));
                    }
                }
            }
        }
        _ => v10.push("missing \"supportedInterfaces\" list".into()),
    }
    Problems { v03, v10 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg() -> Config {
        let env: HashMap<String, String> = [
            ("WORKSPACE_ID", "w"),
            ("AGENT_URL", "http://agent.example:8000"),
            ("CONFIGS_DIR", "/nonexistent"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        Config::load(&env).unwrap()
    }

    const CAPS: Capabilities = Capabilities {
        streaming: true,
        push_notifications: false,
    };

    #[test]
    fn v03_card_is_complete() {
        let c = render_v03(&cfg(), CAPS);
        let Problems { v03: p03, v10: p10 } = validate(&c);
        assert!(p03.is_empty(), "{p03:?}");
        assert!(p10.is_empty(), "{p10:?}");
        assert_eq!(c["preferredTransport"], "JSONRPC");
        assert_eq!(c["url"], "http://agent.example:8000");
        assert_eq!(c["runtime"]["name"], "workspace-agent");
        assert!(c["skills"][0]["examples"].is_array());
    }

    #[test]
    fn v10_card_has_no_03_only_fields() {
        let c = render_v10(&cfg(), CAPS);
        for k in ["url", "protocolVersion", "preferredTransport"] {
            assert!(c.get(k).is_none(), "{k}");
        }
        assert_eq!(c["supportedInterfaces"][0]["protocolVersion"], "1.0");
        assert!(validate(&c).v10.is_empty());
    }

    /// The 1.0 `AgentCard` message's fields (a2a.proto), and its
    /// `AgentCapabilities`': a strict parser refuses anything else. The
    /// Python tests parse the served card with the official types too.
    #[test]
    fn v10_card_holds_only_1_0_agent_card_fields() {
        const CARD: [&str; 14] = [
            "name",
            "description",
            "supportedInterfaces",
            "provider",
            "version",
            "documentationUrl",
            "capabilities",
            "securitySchemes",
            "securityRequirements",
            "defaultInputModes",
            "defaultOutputModes",
            "skills",
            "signatures",
            "iconUrl",
        ];
        const CAPABILITIES: [&str; 4] = [
            "streaming",
            "pushNotifications",
            "extensions",
            "extendedAgentCard",
        ];
        let mut c = cfg();
        c.auth_token = Some("t".into());
        let v = render_v10(&c, CAPS);
        for k in v.as_object().unwrap().keys() {
            assert!(
                CARD.contains(&k.as_str()),
                "{k} is not a 1.0 AgentCard field"
            );
        }
        for k in v["capabilities"].as_object().unwrap().keys() {
            assert!(CAPABILITIES.contains(&k.as_str()), "capabilities.{k}");
        }
    }

    #[test]
    fn etags_follow_bytes() {
        let cards = Cards::build(&cfg(), CAPS);
        assert_ne!(cards.v03.etag, cards.v10.etag);
        assert_eq!(cards.v03.etag, Cards::build(&cfg(), CAPS).v03.etag);
    }

    #[test]
    fn auth_is_advertised() {
        let mut c = cfg();
        c.auth_token = Some("s3cret".into());
        let v = render_v03(&c, CAPS);
        assert_eq!(v["security"][0]["bearer"], json!([]));
        assert!(!v.to_string().contains("s3cret"));
        let v = render_v10(&c, CAPS);
        assert!(v["securitySchemes"]["bearer"]["httpAuthSecurityScheme"].is_object());
    }
}
