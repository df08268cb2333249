//! Writing for a person at a terminal or a pipe. A closed pipe
//! (`workspace-agent card URL | head -1`) ends the command quietly instead
//! of panicking, as `println!` would: commands write with `writeln!` into
//! [`Out`] and return its error, which [`exit_code`] turns into exit 0.

use std::io::{self, Write};

/// Why a command stopped early.
#[derive(Debug)]
pub enum Stop {
    /// writing the output failed (the reader went away, the disk is full)
    Output(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Output(e)
    }
}

/// The exit status of a command that returned `r`: a reader that closed
/// the pipe early wanted no more, which is no failure.
pub fn exit_code(r: Result<i32, Stop>) -> i32 {
    match r {
        Ok(code) => code,
        Err(Stop::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => 0,
        Err(Stop::Output(e)) => {
            say(&format!("error: cannot write the output: {e}"));
            1
        }
    }
}

/// Standard output for a command, through [`Visible`]: what an agent
/// answered reaches the terminal, never its control sequences.
pub fn out() -> Visible<io::StdoutLock<'static>> {
    Visible(io::stdout().lock())
}

/// One line on stderr. A closed stderr is not worth a panic (`eprintln!`
/// would panic), and there is nowhere left to report it.
pub fn say(line: &str) {
    let _ = writeln!(Visible(io::stderr().lock()), "{line}");
}

/// A writer that shows control characters (but newline and tab) as
/// escapes: an agent's text could otherwise move the cursor, rewrite what
/// the operator sees or set the terminal's title. `char::is_control` covers
/// C0, DEL and the C1 controls (U+0080 to U+009F). A write never splits a
/// character, since `write!` writes whole `str` pieces; bytes that are not
/// UTF-8 at all are shown as U+FFFD, never sent raw.
pub struct Visible<W: Write>(pub W);

impl<W: Write> Write for Visible<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut rest = text.as_ref();
        while let Some(i) = rest.find(|c: char| c.is_control() && c != '\n' && c != '\t') {
            self.0.write_all(&rest.as_bytes()[..i])?;
            let c = rest[i..].chars().next().unwrap_or_default();
            write!(self.0, "\\x{:02x}", u32::from(c))?;
            rest = &rest[i + c.len_utf8()..];
        }
        self.0.write_all(rest.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// `text` wrapped to `width` columns; the first line starts at column
/// `indent` (a label is printed before it), the others are indented to it.
pub fn wrap(text: &str, indent: usize, width: usize) -> String {
    let room = width.saturating_sub(indent).max(20);
    let mut out = String::new();
    let mut line_len = 0;
    for word in text.split_whitespace() {
        let w = word.chars().count();
        if line_len > 0 && line_len + 1 + w > room {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line_len = 0;
        } else if line_len > 0 {
            out.push(' ');
            line_len += 1;
        }
        out.push_str(word);
        line_len += w;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_sent() {
        let mut v = Visible(Vec::new());
        write!(v, "red \x1b[31mtext\u{9b}2J\r\nnext\tline \u{e9}").unwrap();
        let shown = String::from_utf8(v.0).unwrap();
        assert_eq!(shown, "red \\x1b[31mtext\\x9b2J\\x0d\nnext\tline \u{e9}");
    }

    #[test]
    fn wrapping_keeps_a_hanging_indent() {
        let w = wrap("one two three four five six seven", 4, 24);
        assert_eq!(w, "one two three four\n    five six seven");
        for line in w.lines() {
            assert!(line.chars().count() <= 24, "{line:?}");
        }
        assert_eq!(wrap("", 4, 24), "");
    }

    #[test]
    fn a_closed_pipe_is_a_quiet_success() {
        let pipe = io::Error::from(io::ErrorKind::BrokenPipe);
        assert_eq!(exit_code(Err(Stop::Output(pipe))), 0);
        assert_eq!(exit_code(Err(Stop::Output(io::Error::other("full")))), 1);
        assert_eq!(exit_code(Ok(3)), 3);
    }
}
