//! A small argument parser for the subcommands: positionals, `--flag`, and
//! `--option VALUE` / `--option=VALUE`. Unknown options are errors.

use std::collections::HashMap;

#[derive(Debug, Default)]
pub struct Args {
    pub positional: Vec<String>,
    pub flags: Vec<String>,
    pub options: HashMap<String, String>,
}

impl Args {
    /// `flags` take no value; `options` take one.
    pub fn parse(raw: &[String], flags: &[&str], options: &[&str]) -> Result<Args, String> {
        let mut a = Args::default();
        let mut it = raw.iter();
        while let Some(arg) = it.next() {
            if arg == "--" {
                a.positional.extend(it.by_ref().cloned());
                break;
            }
            if let Some(name) = arg.strip_prefix("--") {
                let (name, inline) = match name.split_once('=') {
                    Some((n, v)) => (n, Some(v.to_string())),
                    None => (name, None),
                };
                if flags.contains(&name) && inline.is_none() {
                    a.flags.push(name.to_string());
                } else if options.contains(&name) {
                    let v = match inline {
                        Some(v) => v,
                        None => it
                            .next()
                            .cloned()
                            .ok_or_else(|| format!("--{name} needs a value"))?,
                    };
                    a.options.insert(name.to_string(), v);
                } else {
                    return Err(format!("unknown option --{name}"));
                }
            } else {
                a.positional.push(arg.clone());
            }
        }
        Ok(a)
    }

    pub fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    pub fn opt(&self, name: &str) -> Option<&str> {
        self.options.get(name).map(String::as_str)
    }
}

/// Whether `raw` asks for help (`-h`, `--help`) before any `--`.
pub fn wants_help(raw: &[String]) -> bool {
    raw.iter()
        .take_while(|a| *a != "--")
        .any(|a| a == "-h" || a == "--help")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn parses() {
        let a = Args::parse(
            &v(&["u", "--stream", "--context=c", "--task", "t", "hello world"]),
            &["stream"],
            &["context", "task"],
        )
        .unwrap();
        assert_eq!(a.positional, ["u", "hello world"]);
        assert!(a.flag("stream"));
        assert_eq!(a.opt("context"), Some("c"));
        assert_eq!(a.opt("task"), Some("t"));
        assert!(Args::parse(&v(&["--bogus"]), &[], &[]).is_err());
        assert!(Args::parse(&v(&["--task"]), &[], &["task"]).is_err());
        assert!(wants_help(&v(&["u", "--help"])) && wants_help(&v(&["-h"])));
        assert!(!wants_help(&v(&["u", "--", "--help"])) && !wants_help(&v(&["u"])));
    }
}
