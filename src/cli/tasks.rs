//! `get`, `cancel` and `list`: look at an agent's tasks from a shell.
//! `get` and `cancel` speak 0.3 (`tasks/get`, `tasks/cancel`) unless
//! `--protocol 1.0`; `list` is 1.0's `ListTasks` (0.3 has no list).

use super::args::Args;
use super::output::{self, out, say, Stop};
use super::rpc::{self, Target, Wait};
use super::send::{reply_text, short_state};
use serde_json::{json, Value};
use std::io::Write;

pub const GET_OPTIONS: &[&str] = &["history", "protocol", "token", "token-file"];
pub const CANCEL_OPTIONS: &[&str] = &["protocol", "token", "token-file"];
pub const LIST_OPTIONS: &[&str] = &["context", "state", "limit", "page", "token", "token-file"];
pub const FLAGS: &[&str] = &["json"];

/// A parsed command line: its positionals and target, or the exit code.
struct Call {
    args: Args,
    target: Target,
}

fn parse(cmd: &str, raw: &[String], options: &[&str], positionals: usize) -> Result<Call, i32> {
    let usage = |e: &str| {
        say(&format!("error: {e}\n{}", super::usage(cmd)));
        2
    };
    let args = Args::parse(raw, FLAGS, options).map_err(|e| usage(&e))?;
    if args.positional.len() != positionals {
        let what = if positionals == 1 {
            "a URL"
        } else {
            "a URL and a TASK_ID"
        };
        return Err(usage(&format!("{cmd} needs {what}")));
    }
    let v10 = cmd == "list";
    let target = Target::from_args(&args.positional[0], &args, v10).map_err(|e| usage(&e))?;
    Ok(Call { args, target })
}

/// Makes the call; prints the raw answer with `--json`. `Ok(None)`: the
/// call failed and was reported.
fn call(
    c: &Call,
    out: &mut impl Write,
    method: &str,
    params: Value,
) -> Result<Option<Value>, Stop> {
    let v = match c.target.call(method, params, Wait::Quick) {
        Ok(v) => v,
        Err(e) => {
            say(&format!("error: {}", c.target.explain(&e)));
            return Ok(None);
        }
    };
    if c.args.flag("json") {
        writeln!(out, "{v}")?;
    }
    if let Some(e) = rpc::rpc_error(&v) {
        say(&format!("error: {e}"));
        return Ok(None);
    }
    Ok(Some(v))
}

/// A task in a few lines: id, state, context, and its answer.
fn print_task(out: &mut impl Write, result: &Value) -> Result<(), Stop> {
    let task = result.get("task").unwrap_or(result);
    let field = |k: &str| task.get(k).and_then(Value::as_str).unwrap_or("?");
    let (text, state) = reply_text(result);
    let state = short_state(state.as_deref().unwrap_or("?"));
    writeln!(
        out,
        "task {}: {state} (context {})",
        field("id"),
        field("contextId")
    )?;
    if !text.is_empty() {
        writeln!(out, "{text}")?;
    }
    Ok(())
}

pub fn get(raw: &[String]) -> i32 {
    output::exit_code(one_task("get", raw, GET_OPTIONS, ["tasks/get", "GetTask"]))
}

pub fn cancel(raw: &[String]) -> i32 {
    output::exit_code(one_task(
        "cancel",
        raw,
        CANCEL_OPTIONS,
        ["tasks/cancel", "CancelTask"],
    ))
}

/// `get` or `cancel`: one call about one task, named by `methods` (0.3, 1.0).
fn one_task(cmd: &str, raw: &[String], options: &[&str], methods: [&str; 2]) -> Result<i32, Stop> {
    let c = match parse(cmd, raw, options, 2) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let mut params = json!({"id": c.args.positional[1]});
    if let Some(n) = c.args.opt("history") {
        let Ok(n) = n.parse::<u32>() else {
            say(&format!(
                "error: --history {n:?} is not a whole number\n{}",
                super::usage(cmd)
            ));
            return Ok(2);
        };
        params["historyLength"] = json!(n);
    }
    let method = methods[usize::from(c.target.v10)];
    let mut out = out();
    let Some(v) = call(&c, &mut out, method, params)? else {
        return Ok(1);
    };
    if !c.args.flag("json") {
        print_task(&mut out, &v["result"])?;
    }
    Ok(0)
}

pub fn list(raw: &[String]) -> i32 {
    output::exit_code(list_tasks(raw))
}

fn list_params(args: &Args) -> Result<Value, String> {
    let mut p = json!({});
    if let Some(c) = args.opt("context") {
        p["contextId"] = json!(c);
    }
    if let Some(s) = args.opt("state") {
        p["status"] = json!(s);
    }
    if let Some(n) = args.opt("limit") {
        let n: u32 = n
            .parse()
            .map_err(|_| format!("--limit {n:?} is not a whole number"))?;
        p["pageSize"] = json!(n);
    }
    if let Some(t) = args.opt("page") {
        p["pageToken"] = json!(t);
    }
    Ok(p)
}

fn list_tasks(raw: &[String]) -> Result<i32, Stop> {
    let c = match parse("list", raw, LIST_OPTIONS, 1) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let params = match list_params(&c.args) {
        Ok(p) => p,
        Err(e) => {
            say(&format!("error: {e}\n{}", super::usage("list")));
            return Ok(2);
        }
    };
    let mut out = out();
    let Some(v) = call(&c, &mut out, "ListTasks", params)? else {
        return Ok(1);
    };
    if c.args.flag("json") {
        return Ok(0);
    }
    let r = &v["result"];
    for t in r["tasks"].as_array().into_iter().flatten() {
        let field = |p: &str| t.pointer(p).and_then(Value::as_str).unwrap_or("?");
        let state = short_state(field("/status/state"));
        let (id, ctx, at) = (
            field("/id"),
            field("/contextId"),
            field("/status/timestamp"),
        );
        writeln!(out, "{id}  {state:<14} {at}  context {ctx}")?;
    }
    if let Some(next) = r["nextPageToken"].as_str().filter(|t| !t.is_empty()) {
        say(&format!("more tasks: add --page {next}"));
    }
    Ok(0)
}
