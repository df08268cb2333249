//! Attacks on the HTTP layer found after issue 13's fixes, each sent over a
//! raw socket to the release binary: the answer is asserted, then that the
//! agent still serves its card and a correct message/send within a second.

mod common;

use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends `head`, then one byte of `drip` a second (each pause well under
/// the idle timeout, so no single read times out) until the agent answers
/// or `limit` passes. Returns the answer and when it came.
fn drip(a: &Agent, head: &[u8], drip: u8, limit: Duration) -> (String, Duration) {
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.write_all(head).unwrap();
    s.set_read_timeout(Some(Duration::from_millis(900)))
        .unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while t.elapsed() < limit {
        if s.write_all(&[drip]).is_err() {
            break;
        }
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => break,
        }
    }
    (String::from_utf8_lossy(&out).to_string(), t.elapsed())
}

/// The chunked decoder read a size line (up to 1 KiB) and the trailers (up
/// to 8 KiB) in loops that never went back to the caller's body deadline:
/// a byte per second of chunk extension held the worker reading it for
/// about 1024 idle timeouts, and a few such clients starved the card.
#[test]
fn a_chunked_body_dripped_inside_a_size_line_or_trailer_is_cut_at_the_body_timeout() {
    let a = agent_with_short_timeouts(&[]);
    let head = "POST /a2a HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (start, byte) in [("1;", b'a'), ("1\r\n{\r\n0\r\nX-A: ", b'b'), ("0", b'0')] {
        let (out, took) = drip(
            &a,
            format!("{head}{start}").as_bytes(),
            byte,
            Duration::from_secs(10),
        );
        assert!(
            out.starts_with("HTTP/1.1 408 "),
            "{start:?}: {out:?} after {took:?}"
        );
        // BODY_TIMEOUT_SECS (2) + at most one idle timeout (2) + slack
        assert!(
            took < Duration::from_secs(6),
            "{start:?}: answered after {took:?}"
        );
        survives(&a);
    }
}

/// Pins the client's receive buffer at 64 KiB: Linux would otherwise grow
/// it (up to tcp_rmem's maximum, 32 MiB here) until every answer fits and
/// nothing ever stalls.
fn small_receive_buffer(s: &TcpStream) {
    use std::os::fd::AsRawFd;
    let size: libc::c_int = 64 * 1024;
    // SAFETY: a valid socket fd and a c_int option value of the right size
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt SO_RCVBUF");
}

/// A client that pipelines and never reads: once an answer cannot be
/// written within the write timeout, the connection ends. It used to go on
/// reading the next request, whose answer waited the whole timeout again
/// on the same full socket, once per request, on a worker each time.
#[test]
fn a_client_that_stops_reading_loses_its_connection_after_one_stalled_answer() {
    let a = agent_with_short_timeouts(&[]);
    let mut s = TcpStream::connect(("127.0.0.1", a.port)).unwrap();
    s.set_write_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    small_receive_buffer(&s);
    let one = b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n\r\n";
    // ~22 MiB of answers: more than both sides' socket buffers hold
    let batch: Vec<u8> = one.iter().copied().cycle().take(one.len() * 2000).collect();
    let mut bytes = 0;
    let t = Instant::now();
    while bytes < 20_000 * one.len() && t.elapsed() < Duration::from_secs(10) {
        match s.write(&batch) {
            Ok(n) => bytes += n,
            Err(_) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
    let sent = bytes / one.len();
    // after two write timeouts (a partial write restarts the kernel's
    // clock) and the lingering close, the agent lets the connection go
    assert!(
        wait_connections_closed(a.port),
        "the non-reading client's connection is still held"
    );
    survives(&a);
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let mut out = Vec::new();
    let end = s.read_to_end(&mut out);
    let answers = out.windows(9).filter(|w| w == b"HTTP/1.1 ").count();
    assert!(
        !matches!(&end, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "the connection was still open after {answers} answers to {sent} requests"
    );
    assert!(answers < sent, "{answers} answers to {sent} requests");
    survives(&a);
}
