//! One line per event: `<RFC 3339 time> <LEVEL> <message>`, to stderr, which
//! is where `docker logs` and journald look. `RUST_LOG` filters (default
//! `info`).

use std::io::Write;

pub fn init() {
    let env = env_logger::Env::default().filter_or("RUST_LOG", "info");
    let _ = env_logger::Builder::from_env(env)
        .format(|buf, record| {
            writeln!(
                buf,
                "{} {:<5} {}",
                crate::time::now_rfc3339(),
                record.level(),
                record.args()
            )
        })
        .try_init();
}
