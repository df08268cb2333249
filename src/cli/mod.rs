//! Subcommands: the binary is its own toolbox inside a shell-less image.

pub mod args;
pub mod card;
pub mod diagnose;
pub mod healthcheck;
pub mod send;

use crate::config::VARS;

pub fn help() -> String {
    let mut s = format!(
        "workspace-agent {}\n\
A tiny A2A agent for Molecule AI workspaces: serves its agent card and the A2A\n\
JSON-RPC methods (protocol 0.3 and 1.0), registers with the platform and\n\
heartbeats, and hands each message to a backend.\n\n\
USAGE:\n\
    workspace-agent [run]            start the agent (configured by environment variables)\n\
    workspace-agent healthcheck      exit 0 if the local agent answers /healthz on 127.0.0.1:$PORT within 2 s\n\
    workspace-agent diagnose         checklist of the configuration, the backend, the platform, CONFIGS_DIR, the token and the\n\
                                     local agent, each with a fix; exit 0 only if all pass; changes nothing\n\
    workspace-agent send URL TEXT    send one A2A message to any agent and print the reply\n\
                                     [--stream] [--json] [--context ID] [--task ID] [--protocol 0.3|1.0] [--token T]\n\
    workspace-agent card URL         fetch an agent's card, check it for 0.3 and 1.0, print a summary [--json]\n\
    workspace-agent --help           this text\n\
    workspace-agent --version        the version\n\n\
ENVIRONMENT:\n",
        env!("CARGO_PKG_VERSION")
    );
    let width = VARS.iter().map(|(n, _, _)| n.len()).max().unwrap_or(0);
    for (name, default, meaning) in VARS {
        s.push_str(&format!(
            "    {name:<width$}  {meaning}\n    {:<width$}  default: {default}\n",
            ""
        ));
    }
    s.push_str(
        "\nSIGNALS:\n    SIGTERM/SIGINT stop heartbeats, finish in-flight tasks within SHUTDOWN_GRACE_SECS,\n    \
write the snapshot and exit 0. A second signal exits at once.\n    \
A SIGHUP re-reads the card; it never stops the agent.\n",
    );
    s
}
