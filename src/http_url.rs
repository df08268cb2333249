//! The one parser for the http(s) URLs the agent is given: configuration
//! (`PLATFORM_URL`, `AGENT_URL`, ...), `diagnose`, and the CLI's targets.
//! Checks the shape a client needs (scheme, host, port); never panics.

use std::fmt;

/// What a valid http(s) URL is made of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub https: bool,
    /// the host without IPv6 brackets
    pub host: String,
    /// the explicit port, or the scheme's (80, 443)
    pub port: u16,
}

/// Why a URL is refused, phrased to follow "it ...".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlError {
    Scheme,
    NoHost,
    Spaces,
    Ipv6Bracket,
    Port,
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "it must start with http:// or https://",
            UrlError::NoHost => "it has no host name",
            UrlError::Spaces => "it contains spaces",
            UrlError::Ipv6Bracket => "its IPv6 address has no closing ]",
            UrlError::Port => "its port is not a number from 1 to 65535",
        })
    }
}

impl std::error::Error for UrlError {}

/// A URL cut into scheme, user info, `host[:port]` and the rest.
struct Pieces<'a> {
    https: bool,
    userinfo: Option<&'a str>,
    host_port: &'a str,
    /// path, query and fragment as given
    tail: &'a str,
}

fn pieces(url: &str) -> Result<Pieces<'_>, UrlError> {
    let (https, rest) = match url.strip_prefix("http://") {
        Some(rest) => (false, rest),
        None => (true, url.strip_prefix("https://").ok_or(UrlError::Scheme)?),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    Ok(Pieces {
        https,
        userinfo,
        host_port,
        tail,
    })
}

/// Parses an absolute `http://` or `https://` URL.
pub fn parse(url: &str) -> Result<HttpUrl, UrlError> {
    let Pieces {
        https, host_port, ..
    } = pieces(url)?;
    if host_port.is_empty() || host_port.starts_with(':') {
        return Err(UrlError::NoHost);
    }
    if host_port.chars().any(char::is_whitespace) {
        return Err(UrlError::Spaces);
    }
    let (host, port) = match host_port.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']').ok_or(UrlError::Ipv6Bracket)?;
            (h, after.strip_prefix(':'))
        }
        None => match host_port.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (host_port, None),
        },
    };
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    let port = match port {
        None => {
            if https {
                443
            } else {
                80
            }
        }
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => n,
            _ => return Err(UrlError::Port),
        },
    };
    Ok(HttpUrl {
        https,
        host: host.to_string(),
        port,
    })
}

/// The same URL with its port written out (`http://h/x` -> `http://h:80/x`).
pub fn with_port(url: &str) -> Result<String, UrlError> {
    let u = parse(url)?;
    let p = pieces(url)?;
    let scheme = if u.https { "https" } else { "http" };
    let userinfo = p.userinfo.map(|i| format!("{i}@")).unwrap_or_default();
    let host = if u.host.contains(':') {
        format!("[{}]", u.host)
    } else {
        u.host
    };
    Ok(format!("{scheme}://{userinfo}{host}:{}{}", u.port, p.tail))
}

/// What a person typed as a target, as curl reads it: without a scheme it
/// means `http://` (`localhost:8000`).
pub fn with_default_scheme(target: &str) -> String {
    if target.contains("://") {
        target.to_string()
    } else {
        format!("http://{target}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hp(u: &str) -> Option<(String, u16)> {
        parse(u).ok().map(|p| (p.host, p.port))
    }

    #[test]
    fn hosts_and_ports() {
        assert_eq!(hp("http://a:8080/x"), Some(("a".into(), 8080)));
        assert_eq!(hp("https://a"), Some(("a".into(), 443)));
        assert_eq!(hp("http://u:p@a?q=1"), Some(("a".into(), 80)));
        assert_eq!(hp("http://[::1]:9/"), Some(("::1".into(), 9)));
        assert_eq!(hp("https://[::1]"), Some(("::1".into(), 443)));
    }

    #[test]
    fn ports_written_out() {
        let w = |u: &str| with_port(u).unwrap();
        assert_eq!(w("http://h/v1"), "http://h:80/v1");
        assert_eq!(w("https://h"), "https://h:443");
        assert_eq!(w("http://h:8/v1?q"), "http://h:8/v1?q");
        assert_eq!(w("http://u:p@h?x"), "http://u:p@h:80?x");
        assert_eq!(w("http://[::1]/"), "http://[::1]:80/");
        assert_eq!(w("http://[::1]:9#f"), "http://[::1]:9#f");
        assert_eq!(with_port("http://:9/"), Err(UrlError::NoHost));
    }

    #[test]
    fn refusals() {
        let e = |u: &str| parse(u).unwrap_err();
        assert_eq!(e("ftp://x"), UrlError::Scheme);
        assert_eq!(e("localhost:8000"), UrlError::Scheme);
        assert_eq!(e("http://"), UrlError::NoHost);
        assert_eq!(e("http://:80"), UrlError::NoHost);
        assert_eq!(e("http://u@/x"), UrlError::NoHost);
        assert_eq!(e("http://a b"), UrlError::Spaces);
        assert_eq!(e("http://[::1"), UrlError::Ipv6Bracket);
        assert_eq!(e("http://a:0"), UrlError::Port);
        assert_eq!(e("http://a:99999"), UrlError::Port);
        assert_eq!(e("http://a:x"), UrlError::Port);
    }

    #[test]
    fn a_target_without_scheme_is_http() {
        assert_eq!(
            with_default_scheme("localhost:8000"),
            "http://localhost:8000"
        );
        assert_eq!(with_default_scheme("https://h"), "https://h");
        assert_eq!(parse(&with_default_scheme("h:1")).unwrap().port, 1);
    }
}
