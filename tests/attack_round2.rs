//! Round two of hostile clients and backends, against what changed when
//! every request came to be answered on its connection's own thread.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A JSON-RPC body of about `size` bytes whose params parse into one
/// `Value` per two bytes (`0,0,0,...`): the worst case for memory per byte.
fn numbers_body(size: usize) -> Vec<u8> {
    let inner = vec!["0"; (size - 100) / 2].join(",");
    format!(r#"{{"jsonrpc":"2.0","id":1,"method":"message/send","params":{{"x":[{inner}]}}}}"#)
        .into_bytes()
}

/// Many connections send a large body each, all but its last byte, then
/// finish together: every connection thread reads its own body, so they
/// are parsed at once unless decoding is bounded. Parsed JSON costs ~30x
/// its bytes; 200 x 256 KiB made ~1.5 GiB peak at 1 MiB each before.
#[test]
fn many_large_bodies_finishing_together_do_not_multiply_memory() {
    let a = Agent::start(&[("MAX_BODY_BYTES", "262144")]);
    let body = numbers_body(250_000);
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let mut conns: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            s.write_all(head.as_bytes()).unwrap();
            s.write_all(&body[..body.len() - 1]).unwrap();
            s
        })
        .collect();
    // every body is in the agent, waiting for its last byte
    let pid = a.child.id();
    let mut last = 0;
    assert!(eventually(Duration::from_secs(20), || {
        let now = rss_kib(pid);
        let settled = now > 200 * 200 && now.abs_diff(last) < 1024;
        last = now;
        settled
    }));
    let held = status_kib(pid, "VmHWM:");
    for s in &mut conns {
        s.write_all(&body[body.len() - 1..]).unwrap();
    }
    for s in &mut conns {
        let mut b = [0u8; 12];
        let _ = s.read_exact(&mut b);
        assert!(
            b.starts_with(b"HTTP/1.1 "),
            "{:?}",
            String::from_utf8_lossy(&b)
        );
    }
    let peak = status_kib(pid, "VmHWM:");
    assert!(
        peak - held < 100 * 1024,
        "decoding 200 bodies took {} MiB on top of the {} MiB holding them",
        (peak - held) / 1024,
        held / 1024
    );
    drop(conns);
    still_fine(&a);
}
