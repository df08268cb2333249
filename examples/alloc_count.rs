//! Heap allocations per request on the real request path: tiny_http's
//! connection code and the agent's routes, driven over an in-memory
//! connection (`server::fuzz_connection`), counted by a counting global
//! allocator. `make bench-allocs` (or `cargo run --release --example
//! alloc_count`); the numbers go into BENCHMARKS.md.
//!
//! Each case is measured as (eleven requests on one connection) minus (one
//! request), divided by ten: what the connection, its thread and the
//! fixture cost cancels out, what one more request costs remains.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged; only
// counters are added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(layout.size() as u64, Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Relaxed);
        BYTES.fetch_add(new_size as u64, Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

fn post(body: &str, version: Option<&str>) -> Vec<u8> {
    let version = version.map_or(String::new(), |v| format!("A2A-Version: {v}\r\n"));
    format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{version}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// (allocations, bytes) while the connection serves `input`.
fn count(input: &[u8]) -> (u64, u64) {
    let (a, b) = (ALLOCS.load(Relaxed), BYTES.load(Relaxed));
    let out = workspace_agent::server::fuzz_connection(input);
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    (ALLOCS.load(Relaxed) - a, BYTES.load(Relaxed) - b)
}

fn main() {
    let card = b"GET /.well-known/agent-card.json HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    let send03 = post(
        r#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{"message":{"role":"user","messageId":"m-1","parts":[{"kind":"text","text":"hello from the benchmark"}]}}}"#,
        None,
    );
    let send10 = post(
        r#"{"jsonrpc":"2.0","id":1,"method":"SendMessage","params":{"message":{"role":"ROLE_USER","messageId":"m-1","parts":[{"text":"hello from the benchmark"}]}}}"#,
        Some("1.0"),
    );
    count(&card); // the fixture is built on first use
                  // `alloc_count CASE N`: CASE alone, N times on one connection, for a
                  // heap profiler (valgrind --tool=dhat) to name the allocation sites
    let mut args = std::env::args().skip(1);
    if let (Some(case), Some(n)) = (args.next(), args.next()) {
        let one = match case.as_str() {
            "card" => &card,
            "send03" => &send03,
            _ => &send10,
        };
        let n: usize = n.parse().unwrap_or(1000);
        count(
            &one.iter()
                .copied()
                .cycle()
                .take(one.len() * n)
                .collect::<Vec<u8>>(),
        );
        return;
    }
    println!("| request | allocations | bytes allocated |");
    println!("|---|---|---|");
    for (name, one) in [
        ("card GET", &card),
        ("0.3 message/send", &send03),
        ("1.0 SendMessage", &send10),
    ] {
        let eleven: Vec<u8> = one.iter().copied().cycle().take(one.len() * 11).collect();
        let (a1, b1) = count(one);
        let (a11, b11) = count(&eleven);
        println!(
            "| {name} | {} | {} |",
            a11.saturating_sub(a1) / 10,
            b11.saturating_sub(b1) / 10
        );
    }
}
