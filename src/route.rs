//! Which of the agent's routes a request path names. A fixed set, so the
//! label is safe in metrics and logs (the client's path never is a label).

use crate::card::{CARD_PATH, LEGACY_CARD_PATH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Card,
    A2a,
    Metrics,
    Healthz,
    Readyz,
    NotFound,
}

impl Route {
    /// Every route, in `index` order: metrics keep one slot per entry.
    pub const ALL: [Route; 6] = [
        Route::Card,
        Route::A2a,
        Route::Metrics,
        Route::Healthz,
        Route::Readyz,
        Route::NotFound,
    ];
    pub const COUNT: usize = Route::ALL.len();

    pub fn of(path: &str) -> Route {
        match path {
            CARD_PATH | LEGACY_CARD_PATH => Route::Card,
            "/" | "/a2a" | "/a2a/" => Route::A2a,
            "/metrics" => Route::Metrics,
            "/healthz" => Route::Healthz,
            "/readyz" => Route::Readyz,
            _ => Route::NotFound,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Route::Card => "card",
            Route::A2a => "a2a",
            Route::Metrics => "metrics",
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::NotFound => "not_found",
        }
    }

    /// The position in `ALL` (a test checks the two agree).
    pub fn index(self) -> usize {
        self as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_in_index_order() {
        for (i, r) in Route::ALL.iter().enumerate() {
            assert_eq!(r.index(), i, "{r:?}");
        }
    }

    #[test]
    fn paths() {
        assert_eq!(Route::of("/"), Route::A2a);
        assert_eq!(Route::of("/a2a/"), Route::A2a);
        assert_eq!(Route::of("/.well-known/agent.json"), Route::Card);
        assert_eq!(Route::of("/healthz"), Route::Healthz);
        assert_eq!(Route::of("/readyz"), Route::Readyz);
        assert_eq!(Route::of("/../etc/passwd"), Route::NotFound);
    }
}
