//! HTTP for the backends that a cancel or a deadline can interrupt at any
//! point: while connecting, while waiting for the answer's head, while
//! reading its body.
//!
//! ureq 2 blocks in socket reads and offers a hook into its connections for
//! TLS only. Every backend connection therefore goes through that hook (a
//! plain `http://` URL is sent as `https://host:port` with the TLS layer
//! left out), where a clone of the socket is kept; a `Watchdog` shuts the
//! sockets down on cancel or at the deadline, and the blocked read returns
//! at once. No connection pooling, so every request has its own socket.

use super::watchdog::Watchdog;
use super::{describe_http_error, refuse_redirect, BackendError, Turn};
use crate::store::CancelToken;
use std::cell::RefCell;
use std::net::{Shutdown, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;
use ureq::rustls;

/// The sockets of one guarded call.
#[derive(Default)]
struct Sockets {
    /// (closed, open sockets)
    inner: Mutex<(bool, Vec<TcpStream>)>,
}

impl Sockets {
    fn add(&self, s: TcpStream) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if g.0 {
            let _ = s.shutdown(Shutdown::Both);
        }
        g.1.push(s);
    }

    fn close_all(&self) {
        let mut g = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        g.0 = true;
        for s in &g.1 {
            let _ = s.shutdown(Shutdown::Both);
        }
    }
}

struct Current {
    sockets: Arc<Sockets>,
    /// the caller's URL was plain http: no TLS on this connection
    plain: bool,
}

thread_local! {
    // ureq connects on the calling thread, inside the guarded call
    static CURRENT: RefCell<Option<Current>> = const { RefCell::new(None) };
}

struct Connector {
    tls: Arc<rustls::ClientConfig>,
}

impl ureq::TlsConnector for Connector {
    fn connect(
        &self,
        dns_name: &str,
        io: Box<dyn ureq::ReadWrite>,
    ) -> Result<Box<dyn ureq::ReadWrite>, ureq::Error> {
        let plain = CURRENT.with(|c| {
            let c = c.borrow();
            let current = c.as_ref()?;
            if let Some(clone) = io.socket().and_then(|s| s.try_clone().ok()) {
                current.sockets.add(clone);
            }
            Some(current.plain)
        });
        match plain {
            Some(true) => Ok(io),
            _ => ureq::TlsConnector::connect(&self.tls, dns_name, io),
        }
    }
}

/// The backends' HTTP client.
pub struct Client {
    agent: ureq::Agent,
}

impl Client {
    pub fn new(tls: Arc<rustls::ClientConfig>) -> Client {
        let agent = crate::http_client::builder(&crate::http_client::Timeouts::BACKEND)
            .tls_connector(Arc::new(Connector { tls }))
            .max_idle_connections(0)
            .redirects(0)
            .build();
        Client { agent }
    }

    /// Starts a call that `cancel` or `deadline` interrupts; requests made
    /// through the guard on this thread belong to it.
    pub fn guard(&self, cancel: &CancelToken, deadline: Instant) -> Result<Guard<'_>, String> {
        let sockets = Arc::new(Sockets::default());
        let watchdog = {
            let sockets = Arc::clone(&sockets);
            Watchdog::spawn("http-watchdog", cancel, deadline, move || {
                sockets.close_all()
            })
            .map_err(|e| format!("could not watch the call: {e}"))?
        };
        Ok(Guard {
            client: self,
            sockets,
            watchdog,
        })
    }
}

/// A JSON POST to send within a turn.
pub struct Post<'a> {
    pub url: &'a str,
    /// names the peer in errors (`the webhook at ...`), URL redacted
    pub what: &'a str,
    /// headers besides `Content-Type: application/json`
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a str,
}

/// An answer's head; its body is still to read while `call` can interrupt it.
pub struct Answered<'a> {
    pub call: Guard<'a>,
    pub resp: ureq::Response,
}

impl Client {
    /// Sends `post` so the turn's cancel or deadline can cut it short; an
    /// error status, a redirect or a transport failure is an error here.
    pub fn post_json(
        &self,
        turn: &Turn<'_>,
        post: &Post<'_>,
    ) -> Result<Answered<'_>, BackendError> {
        let call = self
            .guard(turn.cancel, turn.deadline)
            .map_err(BackendError::Failed)?;
        let mut request = call
            .post(post.url)
            .timeout(turn.remaining()?)
            .set("Content-Type", "application/json");
        for (name, value) in post.headers {
            request = request.set(name, value);
        }
        let resp = match request.send_string(post.body) {
            Err(_) if call.interrupted() => return Err(turn.interrupted()),
            r => r.map_err(|e| describe_http_error(post.what, e))?,
        };
        refuse_redirect(post.what, &resp)?;
        Ok(Answered { call, resp })
    }
}

pub struct Guard<'a> {
    client: &'a Client,
    sockets: Arc<Sockets>,
    watchdog: Watchdog,
}

impl Guard<'_> {
    /// A POST whose connection this guard can close.
    pub fn post(&self, url: &str) -> ureq::Request {
        let plain = through_connector(url);
        CURRENT.with(|c| {
            *c.borrow_mut() = Some(Current {
                sockets: Arc::clone(&self.sockets),
                plain: plain.is_some(),
            })
        });
        self.client.agent.post(plain.as_deref().unwrap_or(url))
    }

    /// Whether the call was interrupted (canceled or out of time).
    pub fn interrupted(&self) -> bool {
        self.watchdog.fired()
    }
}

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| *c.borrow_mut() = None);
    }
}

/// For a plain `http` URL, the one ureq is given: `https` (so the
/// connection passes the connector, which leaves TLS out) with the port
/// written out. `None` for any other URL, which goes to ureq as it is.
fn through_connector(url: &str) -> Option<String> {
    let plain = crate::http_url::parse(url).is_ok_and(|u| !u.https);
    let with_port = crate::http_url::with_port(url).ok().filter(|_| plain)?;
    Some(with_port.replacen("http://", "https://", 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_urls_get_their_port_written_out() {
        let t = |u: &str| through_connector(u);
        assert_eq!(t("http://h/v1").as_deref(), Some("https://h:80/v1"));
        assert_eq!(t("http://h:8/v1?q").as_deref(), Some("https://h:8/v1?q"));
        assert_eq!(t("http://u:p@h?x").as_deref(), Some("https://u:p@h:80?x"));
        assert_eq!(t("http://[::1]/").as_deref(), Some("https://[::1]:80/"));
        assert_eq!(t("http://[::1]:9").as_deref(), Some("https://[::1]:9"));
        assert_eq!(t("https://h/x"), None);
    }
}
