//! Outputs outside the store — bundles, checkouts, deployments — written
//! all or nothing and known to the home while they are being written.
//!
//! A writer announces its output with [`begin`] before the first byte: a
//! lock file `HOME/pending/<token>.lock` is created and locked, then a row
//! in `pending_outputs` names the target and, as the run goes, every path
//! it creates ([`Pending::track`]: temp files, staging folders, finished
//! volumes not yet committed). [`Pending::finish`] forgets the row once the
//! output is complete. If the run fails, dropping the [`Pending`] removes
//! what it tracked. If the process dies, the row stays and its lock is free:
//! [`leftovers`] finds it, `fsck` reports it, `gc` and a rerun to the same
//! target clean it ([`clean`]).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::db::PendingRow;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// What kind of output is pending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// A bundle file or its volumes.
    Export,
    /// A checked-out copy.
    Checkout,
    /// A checkout plus its deployment record.
    Deploy,
}

impl OutputKind {
    /// The kind as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            OutputKind::Export => "export",
            OutputKind::Checkout => "checkout",
            OutputKind::Deploy => "deploy",
        }
    }

    fn parse(s: &str) -> Option<OutputKind> {
        Some(match s {
            "export" => OutputKind::Export,
            "checkout" => OutputKind::Checkout,
            "deploy" => OutputKind::Deploy,
            _ => return None,
        })
    }
}

/// An output being written by this process.
pub(crate) struct Pending<'r> {
    reg: &'r Registry,
    id: i64,
    lock_path: PathBuf,
    _lock: File,
    tracked: Mutex<Vec<PathBuf>>,
    done: bool,
}

/// The folder of lock files.
fn lock_dir(reg: &Registry) -> PathBuf {
    reg.home().join("pending")
}

/// `path` made absolute against the working directory (not resolved).
pub(crate) fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|e| Error::io("resolve", path, e))
}

/// Announce an output to `target` before writing it.
pub(crate) fn begin<'r>(
    reg: &'r Registry,
    kind: OutputKind,
    target: &Path,
    details: serde_json::Value,
) -> Result<Pending<'r>> {
    let dir = lock_dir(reg);
    fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", &dir, e))?;
    let mut raw = [0u8; 12];
    getrandom::fill(&mut raw).map_err(|e| Error::system("read system randomness", e))?;
    let token = hex::encode(raw);
    let lock_path = dir.join(format!("{token}.lock"));
    let lock = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&lock_path)
        .map_err(|e| Error::io("create lock file", &lock_path, e))?;
    lock.try_lock()
        .map_err(|e| Error::io("lock", &lock_path, std::io::Error::other(e.to_string())))?;
    let target = absolute(target)?;
    let id = match reg.db.add_pending(
        kind.as_str(),
        &token,
        &target.display().to_string(),
        &details,
        &crate::clock::now_rfc3339(),
        &crate::actor::actor(),
    ) {
        Ok(id) => id,
        Err(e) => {
            let _ = fs::remove_file(&lock_path);
            return Err(e);
        }
    };
    Ok(Pending {
        reg,
        id,
        lock_path,
        _lock: lock,
        tracked: Mutex::new(Vec::new()),
        done: false,
    })
}

impl Pending<'_> {
    /// Record `path` as made by this run (before making it, so a crash in
    /// between leaves nothing unknown): removed if the run does not finish.
    pub(crate) fn track(&self, path: &Path) -> Result<()> {
        let path = absolute(path)?;
        self.reg
            .db
            .add_pending_path(self.id, &path.display().to_string())?;
        self.tracked
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(path);
        Ok(())
    }

    /// `path` turned out not to be this run's (someone else made it first):
    /// never remove it.
    pub(crate) fn untrack(&self, path: &Path) -> Result<()> {
        let path = absolute(path)?;
        let mut tracked = self.tracked.lock().unwrap_or_else(|p| p.into_inner());
        tracked.retain(|p| *p != path);
        let list: Vec<String> = tracked.iter().map(|p| p.display().to_string()).collect();
        self.reg.db.set_pending_paths(self.id, &list)
    }

    /// The output is complete: keep what was made, forget the row.
    pub(crate) fn finish(mut self) -> Result<()> {
        self.reg.db.remove_pending(self.id)?;
        self.done = true;
        let _ = fs::remove_file(&self.lock_path);
        Ok(())
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        // The run failed: undo what it made, then forget it. What cannot be
        // removed stays recorded (and the lock file stays, unlocked once
        // this process exits) for gc.
        let tracked = std::mem::take(&mut *self.tracked.lock().unwrap_or_else(|p| p.into_inner()));
        if tracked.iter().all(|p| remove_path(p).is_ok())
            && self.reg.db.remove_pending(self.id).is_ok()
        {
            let _ = fs::remove_file(&self.lock_path);
        }
    }
}

/// Remove a file or a folder tree (made writable first); absent is fine.
pub(crate) fn remove_path(p: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(p) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => {
            make_writable(p);
            fs::remove_dir_all(p)
        }
        Ok(_) => fs::remove_file(p),
    }
}

/// Make the folders of a tree writable again (checkouts are read-only).
pub(crate) fn make_writable(root: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(root).into_iter().flatten() {
        if e.file_type().is_dir() {
            let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o755));
        }
    }
}

/// An output whose writer died before finishing it.
#[derive(Debug, Clone, Serialize)]
pub struct Leftover {
    /// What was being written.
    pub kind: OutputKind,
    /// Where it was going.
    pub target: String,
    /// Paths it made that are still there.
    pub paths: Vec<String>,
    /// When the run started, and who ran it.
    pub started_at: String,
    /// `user@host` of the run.
    pub started_by: String,
    /// The process id the run had.
    pub pid: i64,
    /// For a deploy: what it meant to record.
    #[serde(skip_serializing_if = "serde_json::Value::is_null")]
    pub details: serde_json::Value,
    #[serde(skip)]
    pub(crate) id: i64,
    #[serde(skip)]
    token: String,
}

/// Whether the run behind `row` is gone: its lock file is missing or can
/// be locked.
fn is_dead(reg: &Registry, row: &PendingRow) -> bool {
    let p = lock_dir(reg).join(format!("{}.lock", row.token));
    match File::open(&p) {
        Err(_) => true,
        Ok(f) => f.try_lock().is_ok(),
    }
}

/// Outputs whose writers died, oldest first (read-only: nothing changes).
pub fn leftovers(reg: &Registry) -> Result<Vec<Leftover>> {
    let mut out = Vec::new();
    for row in reg.db.pending()? {
        if !is_dead(reg, &row) {
            continue;
        }
        let Some(kind) = OutputKind::parse(&row.kind) else {
            continue;
        };
        out.push(Leftover {
            kind,
            target: row.target.clone(),
            paths: row
                .leftovers
                .iter()
                .filter(|p| fs::symlink_metadata(p).is_ok())
                .cloned()
                .collect(),
            started_at: row.started_at.clone(),
            started_by: row.started_by.clone(),
            pid: row.pid,
            details: if kind == OutputKind::Deploy {
                row.details.clone()
            } else {
                serde_json::Value::Null
            },
            id: row.id,
            token: row.token.clone(),
        });
    }
    Ok(out)
}

/// Remove what a dead run made and forget it. A checkout that died between
/// moving its target aside and moving the new copy in (only where the file
/// system has no `RENAME_EXCHANGE`) gets the old copy put back.
pub(crate) fn clean(reg: &Registry, l: &Leftover) -> Result<()> {
    let target = Path::new(&l.target);
    if l.kind == OutputKind::Checkout
        && fs::symlink_metadata(target).is_err()
        && let Some(old) = l.paths.iter().find(|p| p.contains(".airlock-old-"))
    {
        fs::rename(old, target).map_err(|e| Error::io("put back", target, e))?;
    }
    for p in &l.paths {
        remove_path(Path::new(p)).map_err(|e| Error::io("remove leftover", Path::new(p), e))?;
    }
    reg.db.remove_pending(l.id)?;
    let _ = fs::remove_file(lock_dir(reg).join(format!("{}.lock", l.token)));
    Ok(())
}

/// Before writing to `target`: clean what dead runs of `kind` left there,
/// so a rerun replaces it. Returns what was cleaned.
pub(crate) fn reclaim(reg: &Registry, kind: OutputKind, target: &Path) -> Result<Vec<Leftover>> {
    let target = absolute(target)?.display().to_string();
    let mut cleaned = Vec::new();
    for l in leftovers(reg)? {
        if l.kind == kind && l.target == target {
            clean(reg, &l)?;
            cleaned.push(l);
        }
    }
    Ok(cleaned)
}
