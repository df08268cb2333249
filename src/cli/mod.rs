//! Subcommands: the binary is its own toolbox inside a shell-less image.
//! Each has a line in [`COMMANDS`], from which the help comes; `COMMAND
//! --help` is answered here, before the command runs.

pub mod args;
pub mod card;
pub mod diagnose;
pub mod healthcheck;
pub mod output;
pub mod rpc;
pub mod send;
pub mod tasks;

use crate::config::VARS;
use output::{say, wrap};
use std::io::Write;

/// Columns the help is wrapped to.
const WIDTH: usize = 80;

/// One subcommand, as `--help` shows it.
pub struct Command {
    pub name: &'static str,
    pub args: &'static str,
    pub about: &'static str,
    /// `(option, meaning)`
    pub options: &'static [(&'static str, &'static str)],
}

const TOKEN: (&str, &str) = (
    "--token-file FILE",
    "read the agent's bearer token from FILE; without it the token comes from \
     A2A_AUTH_TOKEN (or A2A_AUTH_TOKEN_FILE). --token TOKEN works too, but shows in `ps`",
);
const JSON: (&str, &str) = ("--json", "print the raw JSON-RPC responses");
const PROTOCOL: (&str, &str) = ("--protocol 0.3|1.0", "the A2A generation to speak (0.3)");

pub const COMMANDS: &[Command] = &[
    Command {
        name: "run",
        args: "",
        about: "start the agent (the default; configured by the environment variables)",
        options: &[],
    },
    Command {
        name: "healthcheck",
        args: "",
        about: "exit 0 if the local agent answers /healthz on 127.0.0.1:$PORT within 2 s \
                (liveness; readiness is /readyz)",
        options: &[],
    },
    Command {
        name: "diagnose",
        args: "",
        about: "checklist of the configuration, the backend, the platform, CONFIGS_DIR, the \
                token and the local agent, each with a fix; exit 0 only if all pass; changes \
                nothing",
        options: &[],
    },
    Command {
        name: "send",
        args: "URL TEXT",
        about: "send one A2A message to any agent and print the reply",
        options: &[
            ("--stream", "print the reply as it arrives"),
            JSON,
            ("--context ID", "continue this conversation"),
            ("--task ID", "answer this task (one waiting for input)"),
            PROTOCOL,
            TOKEN,
        ],
    },
    Command {
        name: "get",
        args: "URL TASK_ID",
        about: "print a task's state and answer (tasks/get)",
        options: &[
            ("--history N", "include the last N messages"),
            JSON,
            PROTOCOL,
            TOKEN,
        ],
    },
    Command {
        name: "cancel",
        args: "URL TASK_ID",
        about: "cancel a task (tasks/cancel) and print its state",
        options: &[JSON, PROTOCOL, TOKEN],
    },
    Command {
        name: "list",
        args: "URL",
        about: "list the agent's tasks, newest first (ListTasks, A2A 1.0)",
        options: &[
            ("--context ID", "only this conversation's tasks"),
            (
                "--state STATE",
                "only tasks in this state (working, completed, failed, ...)",
            ),
            (
                "--limit N",
                "at most N tasks (1 to 100; the agent's default is 50)",
            ),
            ("--page TOKEN", "the next page, as the previous list said"),
            JSON,
            TOKEN,
        ],
    },
    Command {
        name: "card",
        args: "URL",
        about: "fetch an agent's card, check it for A2A 0.3 and 1.0, print a summary",
        options: &[JSON],
    },
];

fn find(name: &str) -> Option<&'static Command> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// `usage: workspace-agent NAME ARGS [options]`, for error messages.
pub fn usage(name: &str) -> String {
    let Some(c) = find(name) else {
        return "see `workspace-agent --help`".into();
    };
    let opts = if c.options.is_empty() {
        ""
    } else {
        " [options]"
    };
    format!(
        "usage: workspace-agent {} {}{opts} (see --help)",
        c.name, c.args
    )
}

/// Runs the subcommand `args` names and returns its exit status; `None`
/// when the agent itself is to start (no arguments, or `run`).
pub fn dispatch(args: &[String]) -> Option<i32> {
    let first = args.first().map(String::as_str);
    let rest = args.get(1..).unwrap_or_default();
    let code = match first {
        None | Some("run") if !args::wants_help(rest) => return None,
        Some("-h" | "--help" | "help") => match rest.first().and_then(|n| find(n)) {
            Some(c) => print(&command_help(c)),
            None => print(&help()),
        },
        Some("-V" | "--version" | "version") => {
            print(&format!("workspace-agent {}\n", env!("CARGO_PKG_VERSION")))
        }
        Some(name) => match find(name) {
            None => {
                say(&format!(
                    "error: unknown command {name:?}; see `workspace-agent --help`"
                ));
                2
            }
            Some(c) if args::wants_help(rest) => print(&command_help(c)),
            Some(c) => run(c.name, rest),
        },
        None => print(&command_help(&COMMANDS[0])),
    };
    Some(code)
}

fn run(name: &str, rest: &[String]) -> i32 {
    match name {
        "healthcheck" => healthcheck::run(),
        "diagnose" => diagnose::run(),
        "send" => send::run(rest),
        "get" => tasks::get(rest),
        "cancel" => tasks::cancel(rest),
        "list" => tasks::list(rest),
        "card" => card::run(rest),
        _ => print(&command_help(&COMMANDS[0])),
    }
}

/// Prints `text` on stdout; a closed pipe is a quiet success.
fn print(text: &str) -> i32 {
    let r = std::io::stdout().lock().write_all(text.as_bytes());
    output::exit_code(r.map(|()| 0).map_err(output::Stop::from))
}

/// A label in the left column and its meaning wrapped beside it.
fn item(s: &mut String, label: &str, col: usize, meaning: &str) {
    if label.len() + 6 > col {
        s.push_str(&format!("    {label}\n{:col$}", ""));
    } else {
        s.push_str(&format!("    {label:<w$}", w = col - 4));
    }
    s.push_str(&wrap(meaning, col, WIDTH));
    s.push('\n');
}

/// The README's table of commands (between its `cli-table` markers).
pub fn markdown_table() -> String {
    let mut s = String::from("| command | what it does |\n|---|---|\n");
    for c in COMMANDS {
        let cmd = format!("workspace-agent {} {}", c.name, c.args);
        s.push_str(&format!("| `{}` | {} |\n", cmd.trim_end(), c.about));
    }
    s
}

/// `workspace-agent NAME --help`.
pub fn command_help(c: &Command) -> String {
    let mut s = format!(
        "{}\n",
        format!("workspace-agent {} {}", c.name, c.args).trim_end()
    );
    s.push_str(&format!("    {}\n", wrap(c.about, 4, WIDTH)));
    if c.args.contains("URL") {
        let note = "URL: the agent's base URL or JSON-RPC endpoint; without a scheme it \
                    means http:// (localhost:8000)";
        s.push_str(&format!("    {}\n", wrap(note, 4, WIDTH)));
    }
    if !c.options.is_empty() {
        s.push_str("\nOPTIONS:\n");
        for (opt, meaning) in c.options {
            item(&mut s, opt, 26, meaning);
        }
    }
    s
}

/// `workspace-agent --help`: the commands, every variable, the signals.
pub fn help() -> String {
    let mut s = format!(
        "workspace-agent {}\n\
A tiny A2A agent for Molecule AI workspaces: serves its agent card and the A2A\n\
JSON-RPC methods (protocol 0.3 and 1.0), registers with the platform and\n\
heartbeats, and hands each message to a backend.\n\nUSAGE:\n",
        env!("CARGO_PKG_VERSION")
    );
    for c in COMMANDS {
        let label = format!("workspace-agent {} {}", c.name, c.args);
        item(&mut s, label.trim_end(), 36, c.about);
    }
    let more = "`workspace-agent COMMAND --help` shows a command's options; \
                `workspace-agent --version` the version.";
    s.push_str(&format!("    {}\n\nENVIRONMENT:\n", wrap(more, 4, WIDTH)));
    let col = 4 + VARS.iter().map(|v| v.name.len()).max().unwrap_or(0) + 2;
    for v in VARS {
        let secret = match v.secrecy {
            crate::config::Secrecy::Secret => " (secret: never shown)",
            crate::config::Secrecy::Plain => "",
        };
        item(&mut s, v.name, col, &format!("{}{secret}", v.about));
        item(&mut s, "", col, &format!("default: {}", v.given));
    }
    s.push_str("\nSIGNALS:\n");
    let signals = "SIGTERM/SIGINT stop heartbeats, finish in-flight tasks within \
        SHUTDOWN_GRACE_SECS, write the snapshot and exit 0; a second signal exits at once. \
        SIGHUP re-reads the card file and serves the new card; it never stops the agent.";
    s.push_str(&format!("    {}\n", wrap(signals, 4, WIDTH)));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_wraps_with_a_hanging_indent() {
        let h = help();
        for line in h.lines() {
            assert!(line.chars().count() <= WIDTH, "too wide: {line:?}");
        }
        // a continuation line never starts at column 0 outside the headings
        for line in h.lines().filter(|l| !l.is_empty() && !l.starts_with(' ')) {
            assert!(
                line.ends_with(':') || line.starts_with("workspace-agent ") || line.contains(' '),
                "{line:?}"
            );
        }
        assert!(h.contains("MAX_TASK_STORE_BYTES") && h.contains("16777216 (16 MiB)"));
        for c in COMMANDS {
            assert!(
                h.contains(&format!("workspace-agent {}", c.name)),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn every_command_has_help_and_usage() {
        for c in COMMANDS {
            let h = command_help(c);
            assert!(h.starts_with(&format!("workspace-agent {}", c.name)), "{h}");
            assert!(usage(c.name).contains(c.name));
        }
        assert!(command_help(find("send").unwrap()).contains("A2A_AUTH_TOKEN"));
    }
}
