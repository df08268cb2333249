//! What counts as a secret, and hiding it: environment variable names that
//! hold one, URLs that carry credentials, and the one scrubber every URL
//! goes through before it reaches a log, a caller, a heartbeat or
//! `diagnose`.
//!
//! Invariant: pure functions on strings; no I/O.

/// Whether a variable's name says it holds a secret. Deliberately broad: a
/// variable the program needs can be handed on by name (`AGENT_COMMAND_ENV`).
pub fn is_secret_name(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    // GIT_AUTHOR_NAME and friends are not credentials
    let n = n.replace("AUTHOR", "");
    const INSIDE: [&str; 8] = [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "CREDENTIAL",
        "AUTH",
        "API_KEY",
        "APIKEY",
    ];
    INSIDE.iter().any(|s| n.contains(s))
        || n.ends_with("_KEY")
        || n == "KEY"
        || n.ends_with("_PASS")
        || n.contains("PRIVATE_KEY")
}

/// The authority part of `scheme://authority/...`, if `s` has one.
fn authority(s: &str) -> Option<(usize, &str)> {
    let start = s.find("://")? + 3;
    let rest = &s[start..];
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    Some((start, &rest[..end]))
}

/// Whether a value is a URL with `user:password@` (a `DATABASE_URL`, a
/// proxy with credentials), whatever the variable is called.
pub fn has_credentials(value: &str) -> bool {
    authority(value.trim()).is_some_and(|(_, a)| a.contains('@'))
}

/// A URL fit to show: userinfo and query string become `***`.
/// `https://u:p@host/v1?key=k` → `https://***@host/v1?***`.
pub fn url(u: &str) -> String {
    let Some((start, auth)) = authority(u) else {
        return u.to_string();
    };
    let mut out = String::with_capacity(u.len());
    out.push_str(&u[..start]);
    match auth.rsplit_once('@') {
        Some((_, host)) => {
            out.push_str("***@");
            out.push_str(host);
        }
        None => out.push_str(auth),
    }
    let rest = &u[start + auth.len()..];
    let (before_frag, frag) = match rest.find('#') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match before_frag.split_once('?') {
        Some((path, _)) => {
            out.push_str(path);
            out.push_str("?***");
        }
        None => out.push_str(before_frag),
    }
    out.push_str(frag);
    out
}

/// How ureq quotes a header it refuses to send (a value with a line
/// break): `invalid header 'Authorization: Bearer <key>'`.
const REFUSED_HEADER: &str = "invalid header '";

/// Scrubs every `http://` / `https://` URL found in free text (an error
/// message from an HTTP library quotes the URL it failed on), and the
/// header an HTTP library refused, which is the bearer key or token
/// whenever a secret with a line break was configured.
pub fn text(s: &str) -> String {
    let (s, refused) = match s.find(REFUSED_HEADER) {
        Some(i) => (&s[..i], true),
        None => (s, false),
    };
    let mut out = urls(s);
    if refused {
        out.push_str("invalid header (withheld: it may hold a secret; check the configured keys and tokens for line breaks)");
    }
    out
}

fn urls(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = find_url(rest) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>' | '`'))
            .unwrap_or(tail.len());
        // a URL quoted at the end of a sentence keeps its full stop
        let end = tail[..end]
            .trim_end_matches([')', ',', ';', ':', '.'])
            .len();
        out.push_str(&url(&tail[..end]));
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

fn find_url(s: &str) -> Option<usize> {
    let lower = s.to_ascii_lowercase();
    [lower.find("http://"), lower.find("https://")]
        .into_iter()
        .flatten()
        .min()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_header_is_withheld() {
        let e =
            "Bad Header: invalid header 'Authorization: Bearer sk-1\r\nX: y' at https://u:p@h/x";
        let t = text(e);
        assert!(!t.contains("sk-1") && !t.contains("u:p"), "{t}");
        assert!(t.starts_with("Bad Header: invalid header (withheld"), "{t}");
    }

    #[test]
    fn secret_names() {
        for n in [
            "OPENAI_API_KEY",
            "A2A_AUTH_TOKEN",
            "HF_TOKEN",
            "MY_API_KEY",
            "AWS_SECRET_ACCESS_KEY",
            "DB_PASSWD",
            "PGPASSWORD",
            "SSH_PRIVATE_KEY",
            "GOOGLE_APPLICATION_CREDENTIALS",
            "STRIPE_KEY",
            "SMTP_PASS",
            "BASIC_AUTH",
            "OAUTH_CLIENT",
        ] {
            assert!(is_secret_name(n), "{n}");
        }
        for n in [
            "PATH",
            "HOME",
            "LANG",
            "GIT_AUTHOR_NAME",
            "KEYBOARD",
            "PORT",
        ] {
            assert!(!is_secret_name(n), "{n}");
        }
    }

    #[test]
    fn credentials_in_values() {
        assert!(has_credentials("postgres://app:s3cret@db:5432/app"));
        assert!(has_credentials("http://user@proxy:3128"));
        assert!(!has_credentials("http://host/path@x"));
        assert!(!has_credentials("plain value"));
    }

    #[test]
    fn urls_lose_userinfo_and_query() {
        assert_eq!(
            url("https://u:p@host:8/v1?key=k#frag"),
            "https://***@host:8/v1?***#frag"
        );
        assert_eq!(url("http://host/v1"), "http://host/v1");
        assert_eq!(url("http://a:b@[::1]:9"), "http://***@[::1]:9");
        assert_eq!(url("not a url"), "not a url");
    }

    #[test]
    fn urls_inside_text() {
        assert_eq!(
            text("could not reach http://u:pw@h:1/x?token=t: refused (https://k@h2?q)."),
            "could not reach http://***@h:1/x?***: refused (https://***@h2?***)."
        );
        assert_eq!(text("no url here"), "no url here");
        assert_eq!(
            text("\"HTTP://a:b@c\""),
            "\"HTTP://***@c\"",
            "scheme case does not matter"
        );
    }
}
