//! Where output goes, decided in one place: data to stdout, talk to stderr;
//! `--json` means exactly one JSON document on stdout; `--quiet` silences
//! talk but never data or errors.

use std::io::Write;

use serde::Serialize;

#[derive(Debug, Clone, Copy)]
pub struct Printer {
    pub json: bool,
    pub quiet: bool,
    pub verbose: bool,
}

impl Printer {
    /// A line of human-readable data (suppressed in JSON mode).
    pub fn line(&self, s: impl AsRef<str>) {
        if !self.json {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{}", s.as_ref());
        }
    }

    /// The JSON document (only in JSON mode).
    pub fn json<T: Serialize>(&self, v: &T) -> anyhow::Result<()> {
        if self.json {
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, v).map_err(std::io::Error::from)?;
            writeln!(out)?;
        }
        Ok(())
    }

    /// Talk: what is happening (stderr, not with --quiet).
    pub fn info(&self, s: impl AsRef<str>) {
        if !self.quiet {
            eprintln!("{}", s.as_ref());
        }
    }

    /// Extra detail (stderr, only with --verbose).
    pub fn detail(&self, s: impl AsRef<str>) {
        if self.verbose {
            eprintln!("{}", s.as_ref());
        }
    }

    /// A warning (stderr, even with --quiet).
    pub fn warn(&self, s: impl AsRef<str>) {
        eprintln!("warning: {}", s.as_ref());
    }
}
