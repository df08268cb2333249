//! Keeping the resident set small on Linux, with glibc or musl.
//!
//! Which allocator runs depends on the build: glibc builds use glibc's
//! malloc; the musl builds (`make static`) use the allocator chosen by a
//! Cargo feature (`mimalloc`; jemalloc was measured too, see
//! BENCHMARKS.md), or musl's own malloc without one.
//!
//! Three habits of the platform inflate a tiny server's RSS:
//! * glibc gives each allocating thread its own malloc arena (up to 8 per
//!   core) and each keeps what it frees: with a thread per connection that
//!   is most of the RSS after a burst. Two arenas are plenty here. (musl's
//!   malloc has one; mimalloc gives each thread a heap but hands the pages
//!   of an exited thread to the others, so there is nothing to cap.)
//! * freed memory stays mapped until trimmed: `trim` hands it back, so RSS
//!   falls again when a burst ends (glibc: `malloc_trim`; mimalloc:
//!   `mi_collect`, which also purges what its delayed purging still holds;
//!   musl's malloc returns memory by itself).
//! * the kernel maps 64 KiB of executable around every page fault
//!   ("fault-around"), so touching a few hundred functions maps most of the
//!   2 MB of code. `shed_unused_code` marks the binary's own mappings for
//!   random access (fault-around off) and drops the clean code pages touched
//!   during start-up; the code actually used faults back in, page by page,
//!   from the page cache. Idle RSS goes from ~3 MB to ~1 MB.
//!
//! Everything here is advice to the kernel or allocator; none of it changes
//! what the program does, and all of it is skipped where unsupported.

#[cfg(all(target_env = "musl", feature = "mimalloc"))]
extern "C" {
    // libmimalloc-sys links mimalloc statically; these are its C API.
    fn mi_collect(force: bool);
}

#[cfg(all(
    target_env = "musl",
    feature = "tikv-jemallocator",
    not(feature = "mimalloc")
))]
extern "C" {
    // tikv-jemalloc-sys builds jemalloc with the `_rjem_` prefix.
    fn _rjem_mallctl(
        name: *const libc::c_char,
        oldp: *mut libc::c_void,
        oldlenp: *mut libc::size_t,
        newp: *mut libc::c_void,
        newlen: libc::size_t,
    ) -> libc::c_int;
}

/// Call first thing in `main`, before threads exist.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Returns free heap pages to the kernel.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free pages.
    unsafe {
        libc::malloc_trim(0);
    }
    #[cfg(all(target_env = "musl", feature = "mimalloc"))]
    // SAFETY: mi_collect only frees and purges memory no allocation uses.
    unsafe {
        mi_collect(true);
    }
    #[cfg(all(
        target_env = "musl",
        feature = "tikv-jemallocator",
        not(feature = "mimalloc")
    ))]
    // SAFETY: "arena.<MALLCTL_ARENAS_ALL>.purge" takes no arguments and only
    // returns unused dirty pages to the kernel (jemalloc decays them only
    // while it is being called, and an idle agent does not call it).
    unsafe {
        _rjem_mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// See the module docs. Only clean, read-only or executable mappings of the
/// program's own file are touched; writable or dirty ones are left alone
/// (dropping them would lose relocations).
#[cfg(target_os = "linux")]
pub fn shed_unused_code() {
    let Ok(exe) = std::fs::read_link("/proc/self/exe") else {
        return;
    };
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    let exe = exe.to_string_lossy().to_string();
    let mut current: Option<(usize, usize, String, bool)> = None; // start, end, perms, ours
    let mut dirty = 0usize;
    let flush = |m: &Option<(usize, usize, String, bool)>, dirty: usize| {
        if let Some((start, end, perms, true)) = m {
            let len = end - start;
            // SAFETY: advice on our own mapping; MADV_RANDOM changes only how
            // future faults are served.
            unsafe {
                libc::madvise(*start as *mut libc::c_void, len, libc::MADV_RANDOM);
            }
            // Dropping pages is safe only for code that was never written:
            // clean, executable, not writable.
            if perms.contains('x') && !perms.contains('w') && dirty == 0 {
                // SAFETY: a clean private file mapping re-reads its pages
                // from the file on the next access; nothing is lost.
                unsafe {
                    libc::madvise(*start as *mut libc::c_void, len, libc::MADV_DONTNEED);
                }
            }
        }
    };
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) =
                (usize::from_str_radix(a, 16), usize::from_str_radix(b, 16))
            {
                flush(&current, dirty);
                let perms = fields.next().unwrap_or("").to_string();
                let path = fields.nth(3).unwrap_or("");
                current = Some((start, end, perms, path == exe));
                dirty = 0;
                continue;
            }
        }
        if first == "Private_Dirty:" || first == "Shared_Dirty:" || first == "Anonymous:" {
            dirty += fields
                .next()
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
        }
    }
    flush(&current, dirty);
}

#[cfg(not(target_os = "linux"))]
pub fn shed_unused_code() {}
