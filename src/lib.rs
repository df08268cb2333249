//! workspace-agent: a tiny synchronous A2A agent for Molecule AI workspaces.
//!
//! The binary (`src/main.rs`) wires the threads; this library holds the
//! parts, each with one job. See ARCHITECTURE.md for the map.
//!
//! ```no_run
//! // Decode a JSON-RPC request the way the server does:
//! use workspace_agent::protocol::{parse_request, DecodeLimits};
//! let req = parse_request(br#"{"jsonrpc":"2.0","id":1,"method":"message/send","params":{}}"#,
//!                         &DecodeLimits::default()).unwrap();
//! assert_eq!(req.method, "message/send");
//! ```

pub mod backend;
pub mod card;
pub mod children;
pub mod cli;
pub mod config;
pub mod fsutil;
pub mod fuzz_checks;
pub mod health;
pub mod http_client;
pub mod http_url;
pub mod ids;
pub mod logging;
pub mod memory;
pub mod metrics;
pub mod panics;
pub mod platform;
pub mod proc_self;
pub mod protocol;
pub mod redact;
pub mod reload;
pub mod route;
pub mod server;
pub mod service;
pub mod shutdown;
pub mod signals;
pub mod slots;
pub mod store;
mod task_run;
pub mod time;
pub mod tls;
