//! The agent's core as a user meets it: configuration errors, the card,
//! routing, the health check, and shutdown by signal.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn bad_configuration_exits_before_listening_and_names_the_variable() {
    let port = free_port();
    let p = port.to_string();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("PORT", &p)], "WORKSPACE_ID"),
        (vec![("WORKSPACE_ID", ""), ("PORT", &p)], "WORKSPACE_ID"),
        (vec![("WORKSPACE_ID", "w"), ("PORT", "99999")], "PORT"),
        (
            vec![
                ("WORKSPACE_ID", "w"),
                ("PORT", &p),
                ("PLATFORM_URL", "not a url"),
            ],
            "PLATFORM_URL",
        ),
        (
            vec![
                ("WORKSPACE_ID", "w"),
                ("PORT", &p),
                ("HEARTBEAT_INTERVAL_SECS", "soon"),
            ],
            "HEARTBEAT_INTERVAL_SECS",
        ),
    ];
    for (env, name) in cases {
        let out = run_bin(&env, &[]);
        assert!(!out.status.success(), "{env:?} should fail");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(name),
            "{env:?}: stderr should name {name}: {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
        assert!(
            TcpStream::connect(("127.0.0.1", port)).is_err(),
            "nothing may listen"
        );
    }
}

#[test]
fn help_lists_every_variable_and_version_prints() {
    let out = run_bin(&[], &["--help"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for v in [
        "WORKSPACE_ID",
        "PLATFORM_URL",
        "PORT",
        "AGENT_URL",
        "CONFIGS_DIR",
        "HEARTBEAT_INTERVAL_SECS",
        "SHUTDOWN_GRACE_SECS",
        "RUST_LOG",
        "AGENT_BACKEND",
    ] {
        assert!(text.contains(v), "--help lacks {v}");
    }
    let out = run_bin(&[], &["--version"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("workspace-agent "));
    let out = run_bin(&[], &["frobnicate"]);
    assert!(!out.status.success());
}

#[test]
fn card_on_both_paths_with_required_fields_and_caching() {
    let a = Agent::start(&[("AGENT_NAME", "Tester")]);
    for path in ["/.well-known/agent-card.json", "/.well-known/agent.json"] {
        let (status, headers, body) = http(a.port, "GET", path, &[], b"").unwrap();
        assert_eq!(status, 200);
        assert!(header(&headers, "content-type")
            .unwrap()
            .starts_with("application/json"));
        let card: serde_json::Value = serde_json::from_slice(&body).unwrap();
        for f in [
            "name",
            "description",
            "version",
            "url",
            "protocolVersion",
            "capabilities",
            "defaultInputModes",
            "defaultOutputModes",
            "skills",
            "preferredTransport",
            "runtime",
        ] {
            assert!(card.get(f).is_some(), "{path} lacks {f}");
        }
        assert_eq!(card["name"], "Tester");
        assert_eq!(card["url"], a.base());
        for f in ["id", "name", "description", "tags", "examples"] {
            assert!(card["skills"][0].get(f).is_some(), "skill lacks {f}");
        }
        let etag = header(&headers, "etag").unwrap().to_string();
        assert!(header(&headers, "cache-control")
            .unwrap()
            .contains("max-age"));
        assert!(header(&headers, "last-modified").is_some());
        let (status, _, _) = http(a.port, "GET", path, &[("If-None-Match", &etag)], b"").unwrap();
        assert_eq!(status, 304);
    }
    let (_, _, body) = http(
        a.port,
        "GET",
        "/.well-known/agent-card.json",
        &[("A2A-Version", "1.0")],
        b"",
    )
    .unwrap();
    let card: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(card.get("url").is_none() && card.get("protocolVersion").is_none());
    assert_eq!(card["supportedInterfaces"][0]["protocolBinding"], "JSONRPC");
}

#[test]
fn not_found_wrong_method_and_too_large() {
    let a = Agent::start(&[]);
    let (s, h, body) = http(a.port, "GET", "/nope", &[], b"").unwrap();
    assert_eq!(s, 404);
    assert!(header(&h, "content-type").unwrap().contains("json"));
    assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    let (s, h, _) = http(a.port, "DELETE", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(s, 405);
    assert!(header(&h, "allow").is_some());
    assert_eq!(http(a.port, "GET", "/a2a", &[], b"").unwrap().0, 405);

    // 1 MiB + 1 declared: refused from the header alone; the client may
    // still be writing when the answer comes
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        (1 << 20) + 1
    );
    s.write_all(head.as_bytes()).unwrap();
    let _ = s.write_all(&vec![b' '; 64 * 1024]);
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).unwrap();
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 413"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    drop(s);
    // and the server is fine
    let r = a.rpc("message/send", send_params("still here"), &[]);
    assert_eq!(r["result"]["status"]["state"], "completed");
}

#[test]
fn unknown_routes_before_the_protocol_still_get_json_rpc_errors() {
    let a = Agent::start(&[]);
    for path in ["/", "/a2a", "/a2a/"] {
        let (s, _, body) = http(
            a.port,
            "POST",
            path,
            &[("Content-Type", "application/json")],
            b"{oops",
        )
        .unwrap();
        assert_eq!(s, 200);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["error"]["code"], -32700);
        assert_eq!(v["id"], serde_json::Value::Null);
    }
}

#[test]
fn healthcheck_subcommand() {
    let a = Agent::start(&[]);
    let p = a.port.to_string();
    let ok = run_bin(&[("PORT", &p)], &["healthcheck"]);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let closed = free_port().to_string();
    let bad = run_bin(&[("PORT", &closed)], &["healthcheck"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("unhealthy"));
}

#[test]
fn sigterm_when_idle_exits_zero_quickly() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut a = Agent::start(&[]);
        let t = Instant::now();
        a.signal(sig);
        let status = a.wait_exit(Duration::from_secs(5)).expect("exits");
        assert_eq!(status.code(), Some(0), "signal {sig}: {}", a.logs());
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "idle shutdown took {:?}",
            t.elapsed()
        );
        assert!(a.logs().contains("stopped cleanly"));
        let snap: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(a.configs.join(".agent_snapshot.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(snap["workspace_id"], "ws-test");
    }
}

#[test]
fn sigterm_lets_an_in_flight_request_finish() {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        let mut a = Agent::start(&[("ECHO_DELAY_MS", "1500"), ("SHUTDOWN_GRACE_SECS", "8")]);
        let port = a.port;
        let slow = std::thread::spawn(move || {
            rpc(
                port,
                "/",
                "message/send",
                send_params("slow answer here"),
                &[],
            )
        });
        a.wait_working(1);
        a.signal(sig);
        let r = slow.join().unwrap();
        assert_eq!(r["result"]["status"]["state"], "completed", "{r}");
        assert_eq!(
            r["result"]["artifacts"][0]["parts"][0]["text"],
            "slow answer here"
        );
        let status = a.wait_exit(Duration::from_secs(10)).expect("exits");
        assert_eq!(status.code(), Some(0), "{}", a.logs());
    }
}

#[test]
fn past_the_grace_period_tasks_are_canceled_and_the_agent_still_exits_zero() {
    let mut a = Agent::start(&[("ECHO_DELAY_MS", "30000"), ("SHUTDOWN_GRACE_SECS", "1")]);
    let port = a.port;
    let slow = std::thread::spawn(move || {
        rpc(
            port,
            "/",
            "message/send",
            send_params("never finishes in time"),
            &[],
        )
    });
    a.wait_working(1);
    let t = Instant::now();
    a.signal(libc::SIGTERM);
    let r = slow.join().unwrap();
    assert_eq!(
        r["result"]["status"]["state"], "canceled",
        "the client gets a final state, not a dropped connection: {r}"
    );
    let status = a.wait_exit(Duration::from_secs(10)).expect("exits");
    assert_eq!(status.code(), Some(0));
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
}

#[test]
fn idle_connections_do_not_starve_a_fresh_client() {
    let a = Agent::start(&[]);
    let idle: Vec<TcpStream> = (0..64)
        .map(|_| TcpStream::connect(("127.0.0.1", a.port)).unwrap())
        .collect();
    let t = Instant::now();
    let (s, _, _) = http(a.port, "GET", "/.well-known/agent-card.json", &[], b"").unwrap();
    assert_eq!(s, 200);
    assert!(t.elapsed() < Duration::from_secs(5));
    drop(idle);
}

#[test]
fn a_second_signal_exits_at_once() {
    let mut a = Agent::start(&[("ECHO_DELAY_MS", "30000"), ("SHUTDOWN_GRACE_SECS", "60")]);
    let port = a.port;
    let _slow =
        std::thread::spawn(move || post_rpc(port, "/", "message/send", send_params("x"), &[]));
    a.wait_working(1);
    a.signal(libc::SIGTERM);
    a.wait_stopping();
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "still in its grace period"
    );
    a.signal(libc::SIGTERM);
    let status = a
        .wait_exit(Duration::from_secs(3))
        .expect("second signal exits at once");
    assert_ne!(status.code(), Some(0));
}

#[test]
fn the_readme_documents_every_variable() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let help = String::from_utf8(run_bin(&[], &["--help"]).stdout).unwrap();
    let vars: Vec<&str> = help
        .lines()
        .filter_map(|l| l.strip_prefix("    "))
        // a name starts at column 4; deeper lines continue a meaning
        .filter(|l| !l.starts_with(' '))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| {
            w.len() > 2
                && w.chars()
                    .all(|c| c.is_ascii_uppercase() || c == '_' || c.is_ascii_digit())
        })
        .collect();
    assert!(vars.len() > 30, "{vars:?}");
    for v in vars {
        assert!(
            readme.contains(&format!("| `{v}` |")),
            "README's configuration table lacks {v}"
        );
    }
}

#[test]
fn sighup_never_stops_the_agent_not_even_while_it_starts() {
    let mut a = Agent::spawn(&[]);
    let pid = a.child.id();
    // From the moment the agent's code first does anything with SIGHUP
    // (blocks it, or catches it), a burst while it binds, loads the card and
    // starts its threads. Before that moment no program can help it: the
    // default action of SIGHUP is to terminate.
    let hup = 1u64 << (libc::SIGHUP - 1);
    let touched = || (signal_mask(pid, "SigBlk") | signal_mask(pid, "SigCgt")) & hup != 0;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !touched() && std::time::Instant::now() < deadline {
        std::hint::spin_loop();
    }
    for _ in 0..200 {
        a.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_micros(100));
    }
    // a HUP's default action would have ended it at delivery: a process
    // that answers its card after the burst was not stopped by it
    a.wait_ready();
    assert!(
        a.child.try_wait().unwrap().is_none(),
        "SIGHUP during start-up stopped the agent: {}",
        a.logs()
    );
    for _ in 0..5 {
        a.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(20));
    }
    still_fine(&a);
    assert!(a.child.try_wait().unwrap().is_none(), "{}", a.logs());
    a.signal(libc::SIGTERM);
    let status = a
        .wait_exit(Duration::from_secs(5))
        .expect("SIGTERM stops it");
    assert_eq!(status.code(), Some(0), "{}", a.logs());
}
