//! Progress reporting as a library trait.
//!
//! Long jobs (import, verify, checkout) report bytes done through a
//! [`Progress`]; the CLI decides how to show it (a bar on a terminal, a line
//! every few seconds otherwise). The library never prints. [`NoProgress`] is
//! the silent implementation for tests and quiet runs.

/// A running byte counter for one job. Shared across worker threads.
pub trait Progress: Sync {
    /// Add `bytes` to the work done.
    fn inc(&self, bytes: u64);
    /// The job is over.
    fn finish(&self);
}

/// Makes a [`Progress`] for each long job.
pub trait ProgressFactory: Sync {
    /// Start a job called `label` of `total` bytes.
    fn start(&self, label: &str, total: u64) -> Box<dyn Progress + '_>;
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn inc(&self, _bytes: u64) {}
    fn finish(&self) {}
}

impl ProgressFactory for NoProgress {
    fn start(&self, _label: &str, _total: u64) -> Box<dyn Progress + '_> {
        Box::new(NoProgress)
    }
}
