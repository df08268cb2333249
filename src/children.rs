//! The agent's relation to the processes it starts (the command backend's
//! programs and whatever they start): what they may read of the agent, and
//! reaping them.
//!
//! As PID 1 in a container every orphan is re-parented to the agent; on a
//! host the agent makes itself a child subreaper so its programs' orphans
//! come back to it too, and are reaped rather than left as zombies. The
//! command backend waits for its own child; to never steal that exit status
//! the reaper skips every pid registered here as owned, and a pid is
//! registered under the same lock the reaper holds, before it can exit.
//!
//! Invariant: every child the agent starts goes through `spawn_owned`; the
//! reaper only ever reaps zombies (WNOHANG) that are not owned;
//! process-wide settings are made once from `main`.

use std::process::{Child, Command};
use std::sync::Mutex;

/// Pids whose exit status belongs to a waiting owner (a Vec: a handful).
static OWNED: Mutex<Vec<u32>> = Mutex::new(Vec::new());

/// Makes the agent non-dumpable: its `/proc/<pid>/environ`, `mem`, `maps`
/// and `fd/` become root-owned and closed to ptrace, so a program running
/// under the same uid cannot read the secrets the agent was started with.
/// `execve` resets the flag, so the programs themselves stay ordinary.
pub fn protect_from_children() {
    if let Err(e) = prctl(libc::PR_SET_DUMPABLE, 0) {
        log::warn!(
            "could not make the agent non-dumpable ({e}): programs it runs may read its environment from /proc"
        );
    }
}

/// Orphans of the agent's programs are re-parented to the agent (as they
/// are anyway when it is PID 1), so `reap_orphans` can collect them.
pub fn become_subreaper() {
    if let Err(e) = prctl(libc::PR_SET_CHILD_SUBREAPER, 1) {
        log::warn!(
            "could not become a child subreaper ({e}): orphans of backend programs go to init"
        );
    }
}

/// One prctl(2) setting with a plain integer value.
fn prctl(option: libc::c_int, value: libc::c_ulong) -> std::io::Result<()> {
    // SAFETY: the options used here (PR_SET_DUMPABLE, PR_SET_CHILD_SUBREAPER)
    // take plain integers and touch no memory of ours.
    let rc = unsafe { libc::prctl(option, value, 0, 0, 0) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn owned() -> std::sync::MutexGuard<'static, Vec<u32>> {
    OWNED.lock().unwrap_or_else(|e| e.into_inner())
}

/// A child whose exit status its owner waits for; the reaper leaves it
/// alone until this is dropped (after the owner's `wait`).
pub struct Owned(u32);

impl Drop for Owned {
    fn drop(&mut self) {
        {
            let mut g = owned();
            if let Some(i) = g.iter().position(|p| *p == self.0) {
                g.swap_remove(i);
            }
        }
        // an owner that gave up without waiting leaves a zombie: collect it
        reap_orphans();
    }
}

/// Spawns `cmd` with the registry locked, so the reaper cannot take the
/// child's exit status between the fork and the pid being known.
pub fn spawn_owned(cmd: &mut Command) -> std::io::Result<(Child, Owned)> {
    let mut g = owned();
    let child = cmd.spawn()?;
    let pid = child.id();
    g.push(pid);
    Ok((child, Owned(pid)))
}

/// Reaps every exited child of the agent that no owner waits for.
pub fn reap_orphans() {
    let g = owned();
    // SAFETY: getpid has no preconditions.
    let me = unsafe { libc::getpid() } as u32;
    for pid in candidates() {
        if g.contains(&pid) || !is_zombie_child(pid, me) {
            continue;
        }
        let mut status = 0;
        // SAFETY: waitpid on one pid with WNOHANG writes only `status`.
        unsafe {
            libc::waitpid(pid as libc::pid_t, &mut status, libc::WNOHANG);
        }
    }
}

/// The agent's children from `/proc/self/task/*/children`, or every
/// process when the kernel does not offer that file.
fn candidates() -> Vec<u32> {
    let numbers = |text: &str| -> Vec<u32> {
        text.split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect()
    };
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
        let mut found_file = false;
        for t in tasks.flatten() {
            if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                found_file = true;
                out.extend(numbers(&text));
            }
        }
        if found_file {
            return out;
        }
    }
    std::fs::read_dir("/proc")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// State and parent from `/proc/<pid>/stat` (after the command name,
/// which may itself hold spaces and parentheses).
pub fn state_and_parent(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 1..];
    let mut fields = after.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

fn is_zombie_child(pid: u32, me: u32) -> bool {
    matches!(state_and_parent(pid), Some(('Z', p)) if p == me)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn not_dumpable_after_protecting() {
        protect_from_children();
        // SAFETY: PR_GET_DUMPABLE only returns a value.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }

    #[test]
    fn the_reaper_leaves_owned_children_to_their_owner() {
        let (mut child, guard) = spawn_owned(&mut Command::new("true")).unwrap();
        let pid = child.id();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !matches!(state_and_parent(pid), Some(('Z', _))) {
            assert!(std::time::Instant::now() < deadline, "the child exits");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        reap_orphans();
        let status = child.wait().expect("the owner still gets the exit status");
        assert!(status.success());
        drop(guard);
    }

    #[test]
    fn stat_parsing_survives_odd_names() {
        let (state, ppid) = state_and_parent(std::process::id()).unwrap();
        assert!("RSD".contains(state), "{state}");
        assert!(ppid > 0);
    }
}
