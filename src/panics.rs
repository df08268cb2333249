//! A panic costs the one request (or backend run) it happened in, never a
//! thread or the process.
//!
//! Invariant: code that serves one piece of client work runs inside
//! [`isolate`], which logs the panic once, with what was being done, and
//! returns `None`; the caller answers that one piece with an error. Counts
//! held across the call (slots, permits, thread counts) are released by
//! guards, so they stay right while unwinding.

use std::cell::{Cell, RefCell};
use std::panic::{self, AssertUnwindSafe};

thread_local! {
    /// true while this thread runs inside `isolate`
    static ISOLATED: Cell<bool> = const { Cell::new(false) };
    /// what the hook saw of the last panic on this thread
    static LAST: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Installs the process's panic hook: a panic inside `isolate` is recorded
/// for `isolate` to log once, with context; any other panic is logged as an
/// error by the previous (default) hook.
pub fn install_hook() {
    let previous = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if ISOLATED.with(Cell::get) {
            let message = describe(info.payload());
            let place = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            LAST.with(|l| *l.borrow_mut() = Some(format!("{message}{place}")));
        } else {
            previous(info);
        }
    }));
}

fn describe(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".to_string()
    }
}

/// Runs `f`; if it panics, logs `what` with the panic's message once and
/// returns `None`. Nesting is allowed (the innermost call logs).
pub fn isolate<R>(what: &dyn std::fmt::Display, f: impl FnOnce() -> R) -> Option<R> {
    let outer = ISOLATED.with(|i| i.replace(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    ISOLATED.with(|i| i.set(outer));
    match result {
        Ok(r) => Some(r),
        Err(payload) => {
            let seen = LAST.with(|l| l.borrow_mut().take());
            let message = seen.unwrap_or_else(|| describe(payload.as_ref()));
            log::error!("panic while {what}: {message}; only that request was lost");
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_none_and_the_thread_lives_on() {
        install_hook();
        let r = isolate(&"testing", || -> u32 { panic!("boom {}", 1) });
        assert_eq!(r, None);
        assert_eq!(isolate(&"testing", || 7), Some(7));
        // nested: the inner one catches, the outer goes on
        let outer = isolate(&"outer", || isolate(&"inner", || -> u8 { panic!("x") }));
        assert_eq!(outer, Some(None));
        assert!(!ISOLATED.with(Cell::get));
    }
}
