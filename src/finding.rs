//! Findings: problems a check found, collected in full and judged once at
//! the end (exit 3 when there is any). Shared by `verify`, `fsck`, the audit,
//! `scan` and `log --verify`, so it lives below all of them.

use serde::Serialize;

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Finding {
    /// `name@label`, or empty for registry-wide findings.
    pub subject: String,
    /// The file (or blob, or member) concerned.
    pub path: String,
    /// `modified`, `missing`, `extra`, `unreadable`, `size`, …
    pub kind: String,
    pub detail: String,
}
