//! HTTPS to a backend behind a private CA: trusted once the CA's PEM is
//! named by AGENT_CA_FILE, refused (with a certificate error) without it.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use ureq::rustls;
use ureq::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A private CA and a server certificate for `localhost` it signed.
fn private_ca() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "Edge Site Test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &ca_cert, &ca_key)
        .unwrap();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    (ca_cert.pem(), leaf.der().clone(), key)
}

/// An HTTPS webhook on localhost answering `{"text": "tls: <text>"}`.
fn tls_webhook(cert: CertificateDer<'static>, key: PrivateKeyDer<'static>) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let Some(body) = read_request(&mut tls) else {
                    return; // the client refused our certificate
                };
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                let answer = serde_json::json!({"text": format!("tls: {}", v["text"].as_str().unwrap_or(""))}).to_string();
                let _ = write!(
                    tls,
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.flush();
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

fn read_request(s: &mut impl Read) -> Option<Vec<u8>> {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        raw.extend_from_slice(&buf[..n]);
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
        let len: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        if raw.len() >= end + 4 + len {
            return Some(raw[end + 4..end + 4 + len].to_vec());
        }
    }
}

#[test]
fn a_private_ca_makes_an_https_backend_trusted() {
    let (ca_pem, cert, key) = private_ca();
    let port = tls_webhook(cert, key);
    let dir = temp_dir("ca");
    let ca_file = dir.join("edge-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = format!("https://localhost:{port}/hook");

    let untrusting = Agent::start(&[("AGENT_BACKEND", "http"), ("AGENT_WEBHOOK_URL", &url)]);
    let r = untrusting.rpc("message/send", send_params("hi"), &[]);
    assert_eq!(r["result"]["status"]["state"], "failed", "{r}");
    assert!(
        status_text(&r).to_lowercase().contains("certificate"),
        "a certificate error, said plainly: {r}"
    );

    let a = Agent::start(&[
        ("AGENT_BACKEND", "http"),
        ("AGENT_WEBHOOK_URL", &url),
        ("AGENT_CA_FILE", ca_file.to_str().unwrap()),
    ]);
    let r = a.rpc("message/send", send_params("hi"), &[]);
    assert_eq!(
        r["result"]["artifacts"][0]["parts"][0]["text"], "tls: hi",
        "{r}"
    );
}

#[test]
fn a_broken_ca_file_is_a_configuration_error() {
    let dir = temp_dir("badca");
    let bad = dir.join("not-pem.pem");
    std::fs::write(&bad, "hello").unwrap();
    let out = run_bin(
        &[
            ("WORKSPACE_ID", "w"),
            ("AGENT_CA_FILE", bad.to_str().unwrap()),
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("AGENT_CA_FILE") && err.contains("PEM"),
        "{err}"
    );
}

#[test]
fn the_cli_trusts_the_private_ca_the_agent_trusts() {
    let (ca_pem, cert, key) = private_ca();
    let port = tls_webhook(cert, key);
    let dir = temp_dir("cli-ca");
    let ca_file = dir.join("edge-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let url = format!("https://localhost:{port}/card.json");
    let text = |o: std::process::Output| {
        let s = String::from_utf8_lossy(&o.stdout).to_string();
        s + &String::from_utf8_lossy(&o.stderr)
    };

    let untrusting = text(run_bin(&[], &["card", &url]));
    assert!(
        untrusting.contains("cannot reach") && untrusting.to_lowercase().contains("certificate"),
        "{untrusting}"
    );
    let ca = [("AGENT_CA_FILE", ca_file.to_str().unwrap())];
    // the peer answers `{"text": ...}`: an object, but no valid card
    let card = text(run_bin(&ca, &["card", &url]));
    assert!(
        !card.contains("cannot reach") && card.contains("missing \"name\""),
        "{card}"
    );
    let send = text(run_bin(&ca, &["send", &url, "hi"]));
    assert!(!send.contains("cannot reach"), "{send}");

    let bad = dir.join("not-pem.pem");
    std::fs::write(&bad, "hello").unwrap();
    let broken = run_bin(&[("AGENT_CA_FILE", bad.to_str().unwrap())], &["card", &url]);
    assert_eq!(broken.status.code(), Some(2));
    assert!(text(broken).contains("AGENT_CA_FILE"));
}
