//! Findings: problems a check found, collected in full and judged once at
//! the end. Shared by `verify`, `fsck`, the audit, `scan` and
//! `log --verify`, so it lives below all of them.
//!
//! A finding has a kind (what is wrong), a severity (how much it matters)
//! and names the subject and path it is about. A command decides its exit
//! status once, from the worst severity it collected ([`worst`]): any
//! [`Severity::Error`] is exit 3.

use serde::Serialize;

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong with the records or the bytes.
    Note,
    /// Something to look at; the check still passes.
    Warning,
    /// An integrity or trust problem: the check fails (exit 3).
    Error,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// Bytes differ from the record (digest or size).
    Modified,
    /// A recorded file or blob is absent.
    Missing,
    /// A file present that the version does not hold.
    Extra,
    /// A file that could not be read.
    Unreadable,
    /// A stored blob whose size differs from its record.
    Size,
    /// A version without the live approvals its policy needs.
    Approvals,
    /// A version whose revocation is in force.
    Revoked,
    /// The event chain is broken.
    Chain,
    /// A log checkpoint that does not verify or is not trusted.
    Checkpoint,
    /// Signed history that no longer matches the log.
    Rewritten,
    /// A record without the event that should have logged it.
    Unlogged,
    /// The database's own consistency checks failed.
    Database,
    /// A file in the store whose name is not its digest.
    Stray,
}

impl FindingKind {
    /// The kind as written in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::Modified => "modified",
            FindingKind::Missing => "missing",
            FindingKind::Extra => "extra",
            FindingKind::Unreadable => "unreadable",
            FindingKind::Size => "size",
            FindingKind::Approvals => "approvals",
            FindingKind::Revoked => "revoked",
            FindingKind::Chain => "chain",
            FindingKind::Checkpoint => "checkpoint",
            FindingKind::Rewritten => "rewritten",
            FindingKind::Unlogged => "unlogged",
            FindingKind::Database => "database",
            FindingKind::Stray => "stray",
        }
    }
}

impl std::fmt::Display for FindingKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `name@label`, or empty for registry-wide findings.
    pub subject: String,
    /// The file (or blob, or member, or event) concerned.
    pub path: String,
    /// What is wrong.
    pub kind: FindingKind,
    /// How much it matters.
    pub severity: Severity,
    /// The specifics: digests expected and found, sizes, key ids.
    pub detail: String,
}

impl Finding {
    /// An error-severity finding (the check fails).
    pub fn error(
        kind: FindingKind,
        subject: impl Into<String>,
        path: impl Into<String>,
        detail: impl Into<String>,
    ) -> Finding {
        Finding {
            subject: subject.into(),
            path: path.into(),
            kind,
            severity: Severity::Error,
            detail: detail.into(),
        }
    }
}

/// The worst severity among `findings`, if there is any finding.
pub fn worst(findings: &[Finding]) -> Option<Severity> {
    findings.iter().map(|f| f.severity).max()
}

/// Whether `findings` fail a check (any error-severity finding).
pub fn failed(findings: &[Finding]) -> bool {
    worst(findings) == Some(Severity::Error)
}
