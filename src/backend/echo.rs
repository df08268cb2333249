//! The default backend: answers with the user's text. With `ECHO_DELAY_MS`
//! it answers word by word, spread over that time, which makes streaming,
//! cancel and graceful shutdown visible in demos and tests.

use super::{Backend, BackendError, BackendEvent, BackendRequest, Turn};
use std::time::{Duration, Instant};

pub struct EchoBackend {
    delay: Duration,
}

impl EchoBackend {
    pub fn new(delay: Duration) -> EchoBackend {
        EchoBackend { delay }
    }
}

/// Splits after each run of whitespace, so chunks concatenate to the input.
fn chunks(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut prev_ws = false;
    for (i, c) in text.char_indices() {
        if prev_ws && !c.is_whitespace() {
            out.push(&text[start..i]);
            start = i;
        }
        prev_ws = c.is_whitespace();
    }
    if start < text.len() || out.is_empty() {
        out.push(&text[start..]);
    }
    out
}

impl Backend for EchoBackend {
    fn name(&self) -> &'static str {
        "echo"
    }

    fn never_waits(&self) -> bool {
        self.delay.is_zero()
    }

    fn run(&self, req: &BackendRequest<'_>, turn: &mut Turn<'_>) -> Result<(), BackendError> {
        if self.delay.is_zero() {
            (turn.emit)(BackendEvent::Text(req.text));
            return Ok(());
        }
        let parts = chunks(req.text);
        let step = self.delay / parts.len().max(1) as u32;
        for part in parts {
            let now = Instant::now();
            if now + step > turn.deadline {
                // sleep out the budget so a timeout looks like one
                turn.cancel
                    .wait_timeout(turn.deadline.saturating_duration_since(now));
                return Err(BackendError::TimedOut);
            }
            if turn.cancel.wait_timeout(step) {
                return Err(BackendError::Canceled);
            }
            (turn.emit)(BackendEvent::Text(part));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CancelToken;

    fn run(
        b: &EchoBackend,
        text: &str,
        cancel: &CancelToken,
        budget: Duration,
    ) -> (Result<(), BackendError>, Vec<String>) {
        let run = crate::backend::test_run(b, text, &[], cancel, budget);
        (run.result, run.texts)
    }

    #[test]
    fn echoes_exactly() {
        let (r, out) = run(
            &EchoBackend::new(Duration::ZERO),
            "héllo  wörld",
            &CancelToken::new(),
            Duration::from_secs(1),
        );
        assert_eq!(r, Ok(()));
        assert_eq!(out.concat(), "héllo  wörld");
    }

    #[test]
    fn delayed_echo_streams_words_and_stops_on_cancel() {
        let b = EchoBackend::new(Duration::from_millis(30));
        let (r, out) = run(&b, "a b c", &CancelToken::new(), Duration::from_secs(5));
        assert_eq!(r, Ok(()));
        assert_eq!(out, vec!["a ", "b ", "c"]);
        let cancel = CancelToken::new();
        cancel.trigger();
        assert_eq!(
            run(&b, "a b", &cancel, Duration::from_secs(5)).0,
            Err(BackendError::Canceled)
        );
        let slow = EchoBackend::new(Duration::from_secs(10));
        assert!(matches!(
            run(&slow, "a", &CancelToken::new(), Duration::from_millis(10)).0,
            Err(BackendError::TimedOut)
        ));
    }

    #[test]
    fn chunking_keeps_everything() {
        for s in ["", " ", "a", " a b  c ", "x\ny"] {
            assert_eq!(chunks(s).concat(), s);
        }
    }
}
