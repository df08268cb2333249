//! The agent's relation to the processes it starts (the command backend's
//! programs and whatever they start): what they may read of the agent.
//!
//! Invariant: process-wide settings only, made once at start-up from
//! `main`.

/// Makes the agent non-dumpable: its `/proc/<pid>/environ`, `mem`, `maps`
/// and `fd/` become root-owned and closed to ptrace, so a program running
/// under the same uid cannot read the secrets the agent was started with.
/// `execve` resets the flag, so the programs themselves stay ordinary.
pub fn protect_from_children() {
    // SAFETY: prctl(PR_SET_DUMPABLE) takes plain integers and touches no
    // memory of ours.
    let rc = unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    if rc != 0 {
        log::warn!(
            "could not make the agent non-dumpable ({}): programs it runs may read its environment from /proc",
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn not_dumpable_after_protecting() {
        super::protect_from_children();
        // SAFETY: PR_GET_DUMPABLE only returns a value.
        assert_eq!(unsafe { libc::prctl(libc::PR_GET_DUMPABLE, 0, 0, 0, 0) }, 0);
    }
}
