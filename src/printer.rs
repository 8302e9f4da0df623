//! Where output goes, decided in one place: data to stdout, talk to stderr;
//! `--json` means exactly one JSON document on stdout; `--quiet` silences
//! talk but never data or errors.
//!
//! A failed write to stdout is not dropped: the first one is kept (and
//! nothing more is written), and [`Printer::finish`] returns it when the
//! command ends, so `airlock list > /dev/full` fails (exit 1). A closed pipe
//! (`airlock list | head`) is the reader's choice, not a failure.

use std::cell::RefCell;
use std::io::Write;

use serde::Serialize;

#[derive(Debug, Default)]
pub(crate) struct Printer {
    pub(crate) json: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: bool,
    /// The first failed write to stdout.
    failed: RefCell<Option<std::io::Error>>,
}

impl Printer {
    pub(crate) fn new(json: bool, quiet: bool, verbose: bool) -> Printer {
        Printer {
            json,
            quiet,
            verbose,
            failed: RefCell::new(None),
        }
    }

    /// Write to stdout unless an earlier write failed.
    fn out(&self, write: impl FnOnce(&mut std::io::StdoutLock<'_>) -> std::io::Result<()>) {
        if self.failed.borrow().is_some() {
            return;
        }
        let mut out = std::io::stdout().lock();
        if let Err(e) = write(&mut out).and_then(|()| out.flush()) {
            *self.failed.borrow_mut() = Some(e);
        }
    }

    /// A line of human-readable data (suppressed in JSON mode).
    pub(crate) fn line(&self, s: impl AsRef<str>) {
        if !self.json {
            self.out(|o| writeln!(o, "{}", s.as_ref()));
        }
    }

    /// Data that is the same with or without `--json` (a BOM is a JSON
    /// document already).
    pub(crate) fn data(&self, s: &str) {
        self.out(|o| writeln!(o, "{s}"));
    }

    /// The JSON document (only in JSON mode).
    pub(crate) fn json<T: Serialize>(&self, v: &T) -> anyhow::Result<()> {
        if self.json {
            let doc = serde_json::to_string_pretty(v)?;
            self.out(|o| writeln!(o, "{doc}"));
        }
        Ok(())
    }

    /// The first failed write to stdout, if any: the command failed to
    /// deliver its data.
    pub(crate) fn finish(&self) -> std::io::Result<()> {
        match self.failed.borrow_mut().take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Talk: what is happening (stderr, not with --quiet).
    pub(crate) fn info(&self, s: impl AsRef<str>) {
        if !self.quiet {
            self.err(s.as_ref());
        }
    }

    /// Extra detail (stderr, only with --verbose).
    pub(crate) fn detail(&self, s: impl AsRef<str>) {
        if self.verbose {
            self.err(s.as_ref());
        }
    }

    /// A warning (stderr, even with --quiet).
    pub(crate) fn warn(&self, s: impl AsRef<str>) {
        self.err(&format!("warning: {}", s.as_ref()));
    }

    /// An error and its hint, as `main` reports a failed command.
    pub(crate) fn error(msg: &str, hint: Option<&str>) {
        let mut e = std::io::stderr().lock();
        // Nothing is left to tell the user if stderr itself fails.
        let _ = writeln!(e, "error: {msg}");
        if let Some(h) = hint {
            let _ = writeln!(e, "hint: {h}");
        }
    }

    /// With `--json`, a failure is also one JSON object on stdout:
    /// `{"error": {"kind", "message", "hint", "exit_code"}}`.
    pub(crate) fn json_error(kind: &str, message: &str, hint: Option<&str>, exit_code: u8) {
        let doc = serde_json::json!({
            "error": { "kind": kind, "message": message, "hint": hint, "exit_code": exit_code }
        });
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{doc}");
    }

    fn err(&self, s: &str) {
        // Talk on a closed stderr is lost; the data and exit code still stand.
        let _ = writeln!(std::io::stderr().lock(), "{s}");
    }
}

/// Lay out rows (the first one the header) in columns sized to their
/// content: two spaces between columns, the last one not padded.
pub(crate) fn columns(rows: &[Vec<String>]) -> Vec<String> {
    let n = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; n];
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(c);
                } else {
                    line.push_str(c);
                    line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
                }
            }
            line.trim_end().to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_fit_their_content() {
        let rows = vec![
            vec!["NAME".to_string(), "V".into(), "X".into()],
            vec!["a-very-long-name".to_string(), "v12".into(), "end".into()],
        ];
        let out = super::columns(&rows);
        assert_eq!(out[0], "NAME              V    X");
        assert_eq!(out[1], "a-very-long-name  v12  end");
    }
}
