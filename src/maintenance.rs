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
use crate::error::{Error, Result};
use crate::finding::{Finding, FindingKind};
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
    /// Outputs outside the store whose writers died (`gc` cleans them, a
    /// rerun to the same target replaces them).
    pub leftovers: Vec<crate::pending::Leftover>,
    /// Sets of volumes still waiting for volumes (their blobs kept).
    pub incomplete_sets: Vec<IncompleteSet>,
    /// Problems: missing or wrong-sized blobs, stray files, database damage.
    pub findings: Vec<Finding>,
}

/// A set of volumes some of whose volumes have arrived: nothing of it is
/// visible yet; its blobs are kept until it completes or expires.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct IncompleteSet {
    /// The set's bundle id.
    pub bundle_id: String,
    /// The exporting registry.
    pub origin: String,
    /// Its export sequence.
    pub sequence: u64,
    /// Volumes in the set.
    pub count: u32,
    /// When it stops being accepted (`gc` then lets its blobs go).
    pub expires: String,
    /// The volumes accepted here.
    pub received: Vec<u32>,
    /// The volumes still to come.
    pub missing: Vec<u32>,
    /// Blobs (and parts) kept for it.
    pub kept_blobs: u64,
}

/// A finding about the database itself.
fn db_finding(detail: String) -> Finding {
    Finding::error(FindingKind::Database, "", "registry.db", detail)
}

/// `fsck` of the registry at `home`, opened read-only. A database that
/// cannot be opened or read (damaged pages, not a registry) is itself a
/// finding, not a reason to report nothing.
pub fn fsck_home(home: &std::path::Path) -> Result<FsckReport> {
    match Registry::open_read(home) {
        Ok(reg) => Ok(fsck(&reg)),
        Err(e @ (Error::Db(_) | Error::NotARegistry { .. })) => {
            let mut r = FsckReport {
                findings: vec![db_finding(format!("cannot be opened: {e}"))],
                ..Default::default()
            };
            let store = crate::store::Store::at(&home.join("store"));
            match store.list() {
                Ok((present, _)) => r.blobs_in_store = present.len(),
                Err(e) => r.findings.push(Finding::error(
                    FindingKind::Unreadable,
                    "",
                    "store",
                    e.to_string(),
                )),
            }
            Ok(r)
        }
        Err(e) => Err(e),
    }
}

/// Check that the store and the database agree, without reading blob
/// contents. Every check runs: one that fails (a damaged page, an
/// unreadable folder) becomes a finding and the others still report.
pub fn fsck(reg: &Registry) -> FsckReport {
    let mut r = FsckReport::default();
    for p in reg.db.integrity_problems() {
        r.findings.push(db_finding(p));
    }
    let versions = reg.versions().unwrap_or_else(|e| {
        r.findings
            .push(db_finding(format!("the versions cannot be read: {e}")));
        Vec::new()
    });
    r.versions = versions.len();
    let referenced = match reg.db.referenced_blobs() {
        Ok(x) => Some(x),
        Err(e) => {
            r.findings.push(db_finding(format!(
                "the referenced blobs cannot be read: {e}"
            )));
            None
        }
    };
    r.blobs_referenced = referenced.as_ref().map_or(0, |x| x.len());
    let (present, odd) = reg.store.list().unwrap_or_else(|e| {
        r.findings.push(Finding::error(
            FindingKind::Unreadable,
            "",
            "store",
            e.to_string(),
        ));
        (Vec::new(), Vec::new())
    });
    r.blobs_in_store = present.len();
    for p in odd {
        r.findings.push(Finding::error(
            FindingKind::Stray,
            "",
            p.display().to_string(),
            "a file in the store whose name is not its digest",
        ));
    }
    let present_set: std::collections::HashSet<Sha256Digest> = present.iter().copied().collect();
    for v in &versions {
        let subject = format!("{}@{}", v.name, v.label);
        let files = match reg.files(v) {
            Ok(f) => f,
            Err(e) => {
                r.findings.push(Finding::error(
                    FindingKind::Database,
                    subject,
                    "registry.db",
                    format!("the files cannot be read: {e}"),
                ));
                continue;
            }
        };
        for f in files {
            let stat = reg.store.stat(&f.sha256);
            if !present_set.contains(&f.sha256) {
                r.findings.push(Finding::error(
                    FindingKind::Missing,
                    subject.clone(),
                    f.path.to_string(),
                    format!("blob sha256 {} is not in the store", f.sha256),
                ));
            } else if let Ok(Some(st)) = stat
                && st.size != f.size
            {
                r.findings.push(Finding::error(
                    FindingKind::Size,
                    subject.clone(),
                    f.path.to_string(),
                    format!(
                        "blob sha256 {} is {} bytes, recorded {}",
                        f.sha256, st.size, f.size
                    ),
                ));
            }
        }
        if let Some(l) = v.license_sha256
            && !present_set.contains(&l)
        {
            r.findings.push(Finding::error(
                FindingKind::Missing,
                subject,
                "(licence text)",
                format!("blob sha256 {l} is not in the store"),
            ));
        }
    }
    if let Some(reason) = records_lost(reg) {
        r.findings.push(db_finding(reason));
    }
    r.unreferenced_blobs = referenced.map_or(0, |refd| {
        present.iter().filter(|d| !refd.contains(d)).count()
    });
    r.stale_temp_files = reg.store.stale_temps().map_or(0, |t| t.len());
    match crate::pending::leftovers(reg) {
        Ok(l) => r.leftovers = l,
        Err(e) => r.findings.push(db_finding(format!(
            "the pending outputs cannot be read: {e}"
        ))),
    }
    match reg.db.incomplete_sets() {
        Ok(s) => {
            r.incomplete_sets = s
                .into_iter()
                .map(|w| IncompleteSet {
                    bundle_id: w.bundle_id,
                    origin: w.origin,
                    sequence: w.sequence,
                    count: w.count,
                    expires: w.expires,
                    received: w.received,
                    missing: w.missing,
                    kept_blobs: w.kept_blobs,
                })
                .collect()
        }
        Err(e) => r.findings.push(db_finding(format!(
            "the sets of volumes cannot be read: {e}"
        ))),
    }
    r
}

/// Why the database's records look lost, if they do: imports the log
/// names whose versions are gone (no command removes a version). `gc`
/// deletes nothing then. (A store beside a missing, empty or foreign
/// database never gets this far: it is refused when opened. A store with
/// blobs but no version is normal after a first import was killed.)
fn records_lost(reg: &Registry) -> Option<String> {
    match crate::log::verify::vanished(reg) {
        Ok(gone) if gone.is_empty() => None,
        Ok(gone) => Some(format!(
            "{} imported version(s) the log names are gone from the records ({})",
            gone.len(),
            gone.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        )),
        Err(e) => Some(format!("the log cannot be read: {e}")),
    }
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
    /// Outputs outside the store whose writers died, cleaned (or, with
    /// `dry_run`, that would be).
    pub leftovers: Vec<crate::pending::Leftover>,
    /// Of those, deployments whose copy was in place and got its record.
    pub deployments_finished: usize,
    /// Blobs an interrupted pull kept for a resume (`HOME/pulls/`), removed.
    pub removed_pull_blobs: usize,
    /// The unreferenced blobs' digests.
    pub blobs: Vec<Sha256Digest>,
}

/// Remove blobs no version references, and stale temp files.
pub fn gc(reg: &Registry, dry_run: bool) -> Result<GcReport> {
    let _lock = reg.lock()?;
    // Deleting is only as safe as the records that say what is needed.
    let damage = reg.db.integrity_problems();
    if let Some(p) = damage.first() {
        return Err(Error::RecordsLost {
            reason: format!("the database fails its integrity check ({p})"),
        });
    }
    // Blobs kept for a set of volumes that expired incomplete are let go
    // (no volume of it can be accepted any more).
    if !dry_run {
        reg.db.release_expired_sets(
            &crate::clock::now_rfc3339(),
            &crate::event::EventDraft::new(
                crate::event::EventKind::Gc,
                "volume sets",
                serde_json::json!({ "released": "blobs kept for sets of volumes that expired incomplete" }),
            ),
        )?;
    }
    let referenced = reg.db.referenced_blobs()?;
    let (present, _) = reg.store.list()?;
    if let Some(reason) = records_lost(reg) {
        return Err(Error::RecordsLost { reason });
    }
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
    // What interrupted pulls kept for a resume (under the writer lock, so
    // no pull is running).
    let pulls = reg.home().join("pulls");
    if let Ok(dirs) = std::fs::read_dir(&pulls) {
        for d in dirs.flatten() {
            r.removed_pull_blobs += std::fs::read_dir(d.path()).map_or(0, |e| e.count());
            if !dry_run {
                crate::pending::remove_path(&d.path())
                    .map_err(|e| Error::io("remove", d.path(), e))?;
            }
        }
    }
    // Outputs whose writers died: a deployment whose copy is in place is
    // finished (recorded); everything else they made is removed.
    for l in crate::pending::leftovers(reg)? {
        r.leftovers.push(l.clone());
        if dry_run {
            continue;
        }
        if l.kind == crate::pending::OutputKind::Deploy {
            if crate::deploy::finish_dead(reg, &l, &crate::progress::NoProgress)?.is_some() {
                r.deployments_finished += 1;
            }
        } else {
            crate::pending::clean(reg, &l)?;
        }
    }
    Ok(r)
}
