//! Random identifiers (UUID v4 text form) for tasks, contexts, messages and
//! the session.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Random bytes from the OS, fetched a page at a time per thread: one
/// `getrandom` call per 256 ids instead of one per id, same quality.
fn fill_random(out: &mut [u8]) -> bool {
    use std::cell::RefCell;
    const POOL: usize = 4096;
    thread_local! {
        static POOL_BUF: RefCell<(Vec<u8>, usize)> = const { RefCell::new((Vec::new(), POOL)) };
    }
    POOL_BUF.with(|p| {
        let mut p = p.borrow_mut();
        let (buf, pos) = &mut *p;
        if *pos + out.len() > buf.len() {
            buf.resize(POOL, 0);
            if getrandom::getrandom(buf).is_err() {
                return false;
            }
            *pos = 0;
        }
        out.copy_from_slice(&buf[*pos..*pos + out.len()]);
        // never hand out the same bytes twice
        buf[*pos..*pos + out.len()].fill(0);
        *pos += out.len();
        true
    })
}

pub fn new_id() -> String {
    let mut b = [0u8; 16];
    if !fill_random(&mut b) {
        // No entropy source (a very odd sandbox): ids need only be unique
        // within this process, so time and a counter will do.
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let t = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        b[..8].copy_from_slice(&t.to_le_bytes());
        b[8..].copy_from_slice(&(n ^ u64::from(std::process::id())).to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    uuid_text(&b)
}

/// 16 bytes in the UUID text form (lowercase hex, dashes after 4, 6, 8 and
/// 10 bytes).
pub fn uuid_text(b: &[u8; 16]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(36);
    for (i, x) in b.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        out.push(HEX[(x >> 4) as usize] as char);
        out.push(HEX[(x & 15) as usize] as char);
    }
    out
}

/// A random number in `0..n`, for backoff jitter.
pub fn random_below(n: u64) -> u64 {
    let mut b = [0u8; 8];
    let _ = getrandom::getrandom(&mut b);
    if n == 0 {
        0
    } else {
        u64::from_le_bytes(b) % n
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn many_ids_are_distinct() {
        let ids: std::collections::HashSet<String> = (0..2000).map(|_| super::new_id()).collect();
        assert_eq!(ids.len(), 2000);
    }

    #[test]
    fn ids_are_uuid_v4_shaped_and_distinct() {
        let a = super::new_id();
        let b = super::new_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
        assert!(a.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
    }
}
