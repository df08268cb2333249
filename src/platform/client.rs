//! A small synchronous client for the platform's registry endpoints.

use super::TokenStore;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Debug, Clone, PartialEq)]
pub enum RegistryError {
    /// no answer: DNS, refused, timed out
    Unreachable(String),
    /// 401: the token is missing, wrong or revoked
    Unauthorized(String),
    /// 400: the platform refused what we sent (usually the advertised URL)
    Rejected(String),
    /// any other status
    Status(u16, String),
}

impl std::fmt::Display for RegistryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RegistryError::Unreachable(e) => write!(f, "platform unreachable: {e}"),
            RegistryError::Unauthorized(e) => {
                write!(f, "platform refused the auth token (401): {e}")
            }
            RegistryError::Rejected(e) => write!(f, "platform rejected the request (400): {e}"),
            RegistryError::Status(c, e) => write!(f, "platform answered HTTP {c}: {e}"),
        }
    }
}

pub struct PlatformClient {
    base: String,
    agent: ureq::Agent,
    pub tokens: Arc<TokenStore>,
}

/// The platform's own words from an error body (`{"error": "..."}`), bounded.
fn platform_message(body: &str) -> String {
    let msg = serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| body.trim().to_string());
    crate::metrics::truncate(&crate::redact::text(&msg), 300)
}

impl PlatformClient {
    /// `tls` is what HTTPS to the platform trusts (`Config::tls`).
    pub fn new(
        base: &str,
        tokens: Arc<TokenStore>,
        tls: Arc<ureq::rustls::ClientConfig>,
    ) -> PlatformClient {
        PlatformClient {
            base: base.trim_end_matches('/').to_string(),
            agent: crate::http_client::agent(&crate::http_client::Timeouts::PLATFORM, Some(tls)),
            tokens,
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The base URL fit for a log line (credentials and query hidden).
    pub fn shown(&self) -> String {
        crate::redact::url(&self.base)
    }

    fn post(&self, path: &str, body: &Value) -> Result<Value, RegistryError> {
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Content-Type", "application/json");
        if let Some(t) = self.tokens.get() {
            req = req.set("Authorization", &format!("Bearer {t}"));
        }
        match req.send_string(&body.to_string()) {
            Ok(resp) => {
                let text = resp.into_string().unwrap_or_default();
                Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
            }
            Err(ureq::Error::Status(code, resp)) => {
                let msg = platform_message(&resp.into_string().unwrap_or_default());
                Err(match code {
                    401 => RegistryError::Unauthorized(msg),
                    400 => RegistryError::Rejected(msg),
                    c => RegistryError::Status(c, msg),
                })
            }
            // the caller's message names the platform's URL: not twice
            Err(ureq::Error::Transport(t)) => Err(RegistryError::Unreachable(
                crate::http_client::transport_error(&t),
            )),
        }
    }

    /// `POST /registry/register`. A token in the answer is persisted before
    /// this returns. Returns whether a token was issued.
    pub fn register(
        &self,
        workspace_id: &str,
        url: &str,
        card: &Value,
    ) -> Result<bool, RegistryError> {
        let v = self.post(
            "/registry/register",
            &json!({"id": workspace_id, "url": url, "agent_card": card}),
        )?;
        match v.get("auth_token").and_then(Value::as_str) {
            Some(t) if !t.is_empty() => {
                self.tokens.store_new(t);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    pub fn heartbeat(&self, body: &Value) -> Result<(), RegistryError> {
        self.post("/registry/heartbeat", body).map(|_| ())
    }

    pub fn update_card(&self, workspace_id: &str, card: &Value) -> Result<(), RegistryError> {
        self.post(
            "/registry/update-card",
            &json!({"workspace_id": workspace_id, "agent_card": card}),
        )
        .map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn platform_messages() {
        assert_eq!(
            super::platform_message(r#"{"error":"invalid request body"}"#),
            "invalid request body"
        );
        assert_eq!(super::platform_message("oops\n"), "oops");
    }
}
