//! The process's own figures from `/proc/self`, as the Prometheus client
//! libraries export them (`process_*`). Linux only; elsewhere, or when a
//! file cannot be read, the figure is left out rather than made up.

use std::fs;

/// One reading; `None` where `/proc` did not say.
#[derive(Debug, Default)]
pub struct ProcessStats {
    pub resident_memory_bytes: Option<u64>,
    pub virtual_memory_bytes: Option<u64>,
    pub cpu_seconds: Option<f64>,
    pub start_time_seconds: Option<f64>,
    pub open_fds: Option<u64>,
    pub max_fds: Option<u64>,
}

/// At most this many descriptors are counted: the agent caps its
/// connections well below, and a bounded walk keeps a scrape cheap.
const FD_COUNT_CAP: u64 = 1 << 20;

pub fn read() -> ProcessStats {
    let mut s = ProcessStats::default();
    if let Ok(stat) = fs::read_to_string("/proc/self/stat") {
        if let Some(f) = parse_stat(&stat) {
            let ticks = clock_ticks();
            s.cpu_seconds = Some((f.utime + f.stime) as f64 / ticks);
            s.virtual_memory_bytes = Some(f.vsize);
            s.resident_memory_bytes = Some(f.rss_pages.saturating_mul(page_size()));
            s.start_time_seconds = boot_time().map(|b| b as f64 + f.starttime as f64 / ticks);
        }
    }
    s.open_fds = fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| d.take(FD_COUNT_CAP as usize).count() as u64);
    s.max_fds = fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|l| parse_max_fds(&l));
    s
}

struct StatFields {
    utime: u64,
    stime: u64,
    starttime: u64,
    vsize: u64,
    rss_pages: u64,
}

/// `/proc/self/stat`: the command name (field 2) may hold spaces and
/// parentheses, so fields are counted from after its last `)`.
fn parse_stat(stat: &str) -> Option<StatFields> {
    let (_, rest) = stat.rsplit_once(')')?;
    // rest starts at field 3 (state); field n is at index n - 3
    let f: Vec<&str> = rest.split_whitespace().collect();
    let num = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    Some(StatFields {
        utime: num(14)?,
        stime: num(15)?,
        starttime: num(22)?,
        vsize: num(23)?,
        rss_pages: num(24)?,
    })
}

fn parse_max_fds(limits: &str) -> Option<u64> {
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn boot_time() -> Option<u64> {
    let stat = fs::read_to_string("/proc/stat").ok()?;
    stat.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn clock_ticks() -> f64 {
    sysconf_or(libc::_SC_CLK_TCK, 100) as f64
}

fn page_size() -> u64 {
    sysconf_or(libc::_SC_PAGESIZE, 4096)
}

/// A constant of the running system, or the usual value if it has none.
fn sysconf_or(name: libc::c_int, usual: u64) -> u64 {
    // SAFETY: sysconf reads a constant of the running system
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(usual)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_a_hostile_command_name() {
        let line = "42 (a) b) c) S 1 42 42 0 -1 4194304 100 0 0 0 7 3 0 0 20 0 5 0 1234 10485760 256 18446744073709551615";
        let f = parse_stat(line).unwrap();
        assert_eq!((f.utime, f.stime, f.starttime), (7, 3, 1234));
        assert_eq!((f.vsize, f.rss_pages), (10485760, 256));
        assert!(parse_stat("42 (x) S 1").is_none());
    }

    #[test]
    fn max_fds_is_the_soft_limit() {
        let l = "Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n";
        assert_eq!(parse_max_fds(l), Some(1024));
    }

    #[test]
    fn reads_this_process() {
        let s = read();
        assert!(s.resident_memory_bytes.unwrap() > 0);
        assert!(s.open_fds.unwrap() >= 3);
        assert!(s.start_time_seconds.unwrap() > 1.0e9);
    }
}
