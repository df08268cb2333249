//! Every signal the agent handles, in one place: SIGTERM and SIGINT stop it
//! (a second one exits at once), SIGHUP asks for a card reload and never
//! stops it, SIGCHLD reaps orphaned grandchildren.
//!
//! `block` runs as the first instruction of `main`, before any thread
//! exists, so every thread inherits the mask and no signal is ever delivered
//! to a handler: one `signals` thread takes them with `sigwaitinfo`. A
//! SIGHUP that arrives while the agent starts waits, pending, for that
//! thread instead of killing the process. Child processes start with an
//! empty mask (the standard library resets it before `exec`).

use crate::shutdown::Stop;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// What the signal thread asks of `main`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Stop,
    Reload,
}

const HANDLED: [libc::c_int; 4] = [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD];

fn handled_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a set we own.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in HANDLED {
            libc::sigaddset(&mut set, s);
        }
        set
    }
}

fn set_mask(how: libc::c_int) {
    let set = handled_set();
    // SAFETY: changes this thread's mask with a valid set.
    unsafe {
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

/// Blocks the handled signals in the calling thread (and every thread it
/// starts afterwards).
pub fn block() {
    set_mask(libc::SIG_BLOCK);
}

/// Undoes `block`, for subcommands that should die on Ctrl-C as usual.
pub fn unblock() {
    set_mask(libc::SIG_UNBLOCK);
}

/// Starts the `signals` thread. `stop` is raised on SIGTERM/SIGINT; `main`
/// gets an `Event` for each stop and reload.
pub fn spawn(stop: Stop) -> std::io::Result<Receiver<Event>> {
    // a few pending reloads are as good as one
    let (tx, rx) = sync_channel(4);
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || wait_loop(&stop, &tx))?;
    Ok(rx)
}

fn wait_loop(stop: &Stop, tx: &SyncSender<Event>) {
    let set = handled_set();
    loop {
        // SAFETY: sigwaitinfo fills `info`, which we own; the set is valid.
        let sig = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::sigwaitinfo(&set, &mut info)
        };
        match sig {
            libc::SIGTERM | libc::SIGINT => {
                if stop.trigger() >= 2 {
                    eprintln!("second stop signal: exiting now without waiting for tasks");
                    std::process::exit(130);
                }
                let _ = tx.try_send(Event::Stop);
            }
            libc::SIGHUP => {
                let _ = tx.try_send(Event::Reload);
            }
            libc::SIGCHLD => crate::children::reap_orphans(),
            // EINTR from a signal outside the set (e.g. a debugger)
            _ => {}
        }
    }
}
