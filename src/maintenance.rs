//! `fsck` and `gc`: the store and the database agree, and nothing is kept
//! that no version needs.
//!
//! `fsck` reads no blob contents (that is `verify --deep`): it checks
//! SQLite's own integrity, that every referenced blob exists with its
//! recorded size, and that the store holds nothing but digest-named blobs.
//! Unreferenced blobs and temp files left by an interrupted run are reported
//! as notes (they are invisible and `gc` removes them), not as findings.

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::finding::{Finding, FindingKind, Severity};
use crate::registry::Registry;

/// What `fsck` found.
#[derive(Debug, Default, Serialize)]
pub struct FsckReport {
    /// Versions recorded.
    pub versions: usize,
    /// Blobs some version needs.
    pub blobs_referenced: usize,
    /// Blobs in the store.
    pub blobs_in_store: usize,
    /// Blobs no version needs (`gc` removes them).
    pub unreferenced_blobs: usize,
    /// Temp files left by interrupted runs (`gc` removes them).
    pub stale_temp_files: usize,
    /// Problems: missing or wrong-sized blobs, stray files, database damage.
    pub findings: Vec<Finding>,
}

/// Check that the store and the database agree, without reading blob contents.
pub fn fsck(reg: &Registry) -> Result<FsckReport> {
    let mut r = FsckReport::default();
    for p in reg.db.integrity_problems()? {
        r.findings.push(Finding {
            subject: String::new(),
            path: "registry.db".into(),
            kind: FindingKind::Database,
            severity: Severity::Error,
            detail: p,
        });
    }
    let versions = reg.versions()?;
    r.versions = versions.len();
    let referenced = reg.db.referenced_blobs()?;
    r.blobs_referenced = referenced.len();
    let (present, odd) = reg.store.list()?;
    r.blobs_in_store = present.len();
    for p in odd {
        r.findings.push(Finding {
            subject: String::new(),
            path: p.display().to_string(),
            kind: FindingKind::Stray,
            severity: Severity::Error,
            detail: "a file in the store whose name is not its digest".into(),
        });
    }
    let present_set: std::collections::HashSet<Sha256Digest> = present.iter().copied().collect();
    for v in &versions {
        for f in reg.files(v)? {
            let subject = format!("{}@{}", v.name, v.label);
            if !present_set.contains(&f.sha256) {
                r.findings.push(Finding {
                    subject,
                    path: f.path.to_string(),
                    kind: FindingKind::Missing,
                    severity: Severity::Error,
                    detail: format!("blob sha256 {} is not in the store", f.sha256),
                });
            } else if let Some(st) = reg.store.stat(&f.sha256)?
                && st.size != f.size
            {
                r.findings.push(Finding {
                    subject,
                    path: f.path.to_string(),
                    kind: FindingKind::Size,
                    severity: Severity::Error,
                    detail: format!(
                        "blob sha256 {} is {} bytes, recorded {}",
                        f.sha256, st.size, f.size
                    ),
                });
            }
        }
        if let Some(l) = v.license_sha256
            && !present_set.contains(&l)
        {
            r.findings.push(Finding {
                subject: format!("{}@{}", v.name, v.label),
                path: "(licence text)".into(),
                kind: FindingKind::Missing,
                severity: Severity::Error,
                detail: format!("blob sha256 {l} is not in the store"),
            });
        }
    }
    r.unreferenced_blobs = present.iter().filter(|d| !referenced.contains(d)).count();
    r.stale_temp_files = reg.store.stale_temps()?.len();
    Ok(r)
}

/// What `gc` removed (or would remove, with `dry_run`).
#[derive(Debug, Default, Serialize)]
pub struct GcReport {
    /// True when nothing was removed, only reported.
    pub dry_run: bool,
    /// Unreferenced blobs.
    pub removed_blobs: usize,
    /// Their bytes.
    pub removed_bytes: u64,
    /// Leftover temp files.
    pub removed_temp_files: usize,
    /// The unreferenced blobs' digests.
    pub blobs: Vec<Sha256Digest>,
}

/// Remove blobs no version references, and stale temp files.
pub fn gc(reg: &Registry, dry_run: bool) -> Result<GcReport> {
    let _lock = reg.lock()?;
    let referenced = reg.db.referenced_blobs()?;
    let (present, _) = reg.store.list()?;
    let mut r = GcReport {
        dry_run,
        ..Default::default()
    };
    let mut rows = Vec::new();
    for d in present.into_iter().filter(|d| !referenced.contains(d)) {
        if let Some(st) = reg.store.stat(&d)? {
            r.removed_bytes += st.size;
        }
        r.removed_blobs += 1;
        r.blobs.push(d);
    }
    for (d, _) in reg.db.blob_rows()? {
        if !referenced.contains(&d) {
            rows.push(d);
        }
    }
    if !dry_run && (!r.blobs.is_empty() || !rows.is_empty()) {
        // Records first (with their event), then the files: a crash in
        // between leaves unreferenced files, which the next gc removes.
        let event = crate::event::EventDraft::new(
            crate::event::EventKind::Gc,
            "store",
            serde_json::json!({ "blobs": r.blobs.len(), "bytes": r.removed_bytes, "rows": rows.len() }),
        );
        reg.db.delete_blob_rows(&rows, &event)?;
        for d in &r.blobs {
            reg.store.remove(d)?;
        }
    }
    r.removed_temp_files = if dry_run {
        reg.store.stale_temps()?.len()
    } else {
        reg.store.clear_temps()?
    };
    Ok(r)
}
