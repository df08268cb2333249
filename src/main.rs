//! The agent's entry point: parse the command; for `run`, read the
//! configuration, install the panic hook and the signal thread, and hand
//! over to `Agent` (which wires every other thread and stops them).

use std::process::ExitCode;
use std::time::Instant;
use workspace_agent::agent::{self, Agent};
use workspace_agent::config::Config;
use workspace_agent::shutdown::Stop;
use workspace_agent::{cli, panics, signals};

// The musl builds (`make static`, `make static-arm64`) bring their own
// allocator: musl's malloc serialises a thread per connection on one lock.
// glibc builds keep glibc's malloc. See src/memory.rs and BENCHMARKS.md.
#[cfg(all(target_env = "musl", feature = "mimalloc"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
#[cfg(all(
    target_env = "musl",
    feature = "tikv-jemallocator",
    not(feature = "mimalloc")
))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    signals::block();
    let args: Vec<String> = std::env::args().skip(1).collect();
    if !matches!(args.first().map(String::as_str), None | Some("run")) {
        signals::unblock();
    }
    let code = match cli::dispatch(&args) {
        Some(code) => code,
        None => run(),
    };
    ExitCode::from(code.clamp(0, 255) as u8)
}

/// Serves until SIGTERM/SIGINT, then stops within the grace period.
fn run() -> i32 {
    agent::prepare_process();
    panics::install_hook();
    let stop = Stop::new();
    let events = match signals::spawn(stop.clone()) {
        Ok(rx) => rx,
        Err(e) => {
            eprintln!("error: cannot start the signal thread: {e}");
            return 1;
        }
    };
    let cfg = match Config::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let running = match Agent::start(cfg, stop) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    };
    running.wait(&events);
    let deadline = Instant::now() + running.grace();
    running.shutdown(deadline);
    0
}
