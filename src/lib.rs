//! workspace-agent: a tiny synchronous A2A agent for Molecule AI workspaces.
//!
//! `agent::Agent` wires the threads; the binary (`src/main.rs`) parses the
//! command and the configuration and calls it. The other modules are the
//! parts, each with one job (ARCHITECTURE.md has the map). Only what the
//! binary, the tests and the fuzz targets use is public, so the compiler
//! reports the rest when it goes unused.
//!
//! ```no_run
//! // Decode a JSON-RPC request the way the server does:
//! use workspace_agent::protocol::{parse_request, DecodeLimits};
//! let req = parse_request(br#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{}}"#,
//!                         &DecodeLimits::default()).unwrap();
//! assert_eq!(req.method, "message/send");
//! ```

pub mod agent;
mod backend;
mod blocking;
mod card;
mod children;
pub mod cli;
pub mod config;
mod fsutil;
pub mod fuzz_checks;
mod fuzz_task;
mod health;
mod http_client;
mod http_url;
mod ids;
mod logging;
mod memory;
mod metrics;
pub mod panics;
mod platform;
mod proc_self;
pub mod protocol;
mod redact;
mod reload;
mod route;
mod run_pool;
pub mod server;
mod service;
pub mod shutdown;
pub mod signals;
mod slots;
mod store;
mod task_run;
mod time;
mod tls;
