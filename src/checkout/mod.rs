//! `checkout REF DIR`: a verified, read-only copy where a serving engine
//! loads it.
//!
//! The copy is built in a staging folder beside DIR (same file system), each
//! blob hashed as it is copied (or, with `--link`, hashed and then
//! hard-linked), every file made read-only, the staged bytes inspected under
//! the model-file safety policy, the whole copy synced (one `syncfs`); only
//! then is the staging folder renamed to DIR (`--force`: exchanged with it
//! by `RENAME_EXCHANGE`, so DIR is never missing). The staging folder is a
//! pending output of the home (`pending`): a failure removes it and
//! leaves DIR as it was. `--layout hf` writes a Hugging Face cache repo
//! (`models--org--name/{refs,blobs,snapshots}`) inside DIR so
//! `HF_HUB_OFFLINE=1` loaders resolve it from `HF_HUB_CACHE=DIR`; there the
//! unit staged and replaced is that repo folder, so one shared cache holds
//! many models and a checkout touches only its own.

use std::collections::HashSet;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::progress::{Progress, ProgressFactory};
use crate::records::{FileRecord, VersionRecord};
use crate::registry::Registry;
use crate::store::{Store, set_read_only, sync_dir};

/// How the copy is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckoutLayout {
    /// The model's files directly under DIR.
    Plain,
    /// A Hugging Face cache repo folder under DIR.
    Hf,
}

/// How to check out a version.
#[derive(Debug, Clone)]
pub struct CheckoutOptions {
    /// Hard-link from the store instead of copying (files stay read-only).
    pub link: bool,
    /// The layout of the copy.
    pub layout: CheckoutLayout,
    /// Replace the contents of a non-empty destination.
    pub force: bool,
    /// Let unsafe files out (a recorded import-time allowance also does).
    pub allow_unsafe: Option<crate::records::Allowance>,
}

/// What `checkout` laid out.
#[derive(Debug, Serialize)]
pub struct CheckoutOutcome {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest.
    pub manifest_digest: Sha256Digest,
    /// The destination folder.
    pub path: String,
    /// Where a loader should be pointed (the snapshot folder for `hf`).
    pub model_path: String,
    /// The layout written.
    pub layout: CheckoutLayout,
    /// Files laid out.
    pub files: usize,
    /// Bytes laid out.
    pub bytes: u64,
    /// True when files were hard-linked from the store.
    pub linked: bool,
    /// True when DIR already held exactly this version (verified) and
    /// nothing was written.
    pub unchanged: bool,
}

/// The revision written into an `hf` layout: the upstream commit when it is
/// one, else the first 40 hex of the manifest digest.
pub fn hf_revision(v: &VersionRecord) -> String {
    match &v.revision {
        Some(r) if r.len() == 40 && r.bytes().all(|b| b.is_ascii_hexdigit()) => {
            r.to_ascii_lowercase()
        }
        _ => v.manifest_digest.short(40),
    }
}

/// Materialise `v` at `dir`. A version that arrived in a bundle must still
/// hold the approvals the policy requires (`trust::ensure_approved`), and
/// its files must pass the model-file safety policy.
pub fn checkout(
    reg: &Registry,
    v: &VersionRecord,
    dir: &Path,
    opts: CheckoutOptions,
    progress: &dyn ProgressFactory,
) -> Result<CheckoutOutcome> {
    crate::trust::ensure_approved(reg, v)?;
    let files = reg.files(v)?;
    // The folder this checkout replaces: DIR itself, or in the hf layout the
    // model's own repo folder inside DIR, so one cache holds many models.
    let unit = match opts.layout {
        CheckoutLayout::Plain => dir.to_path_buf(),
        CheckoutLayout::Hf => {
            match fs::metadata(dir) {
                Ok(m) if !m.is_dir() => {
                    return Err(Error::input(format!(
                        "`{}` exists and is not a folder",
                        dir.display()
                    )));
                }
                _ => {}
            }
            dir.join(v.name.hf_cache_folder())
        }
    };
    // What a killed earlier checkout left beside this one is cleaned first.
    crate::pending::reclaim(reg, crate::pending::OutputKind::Checkout, &unit)?;
    let replace_existing = match fs::symlink_metadata(&unit) {
        Ok(m) if !m.is_dir() => {
            return Err(Error::input(format!(
                "`{}` exists and is not a folder",
                unit.display()
            )));
        }
        Ok(_) => {
            let non_empty = fs::read_dir(&unit)
                .map_err(|e| Error::io("read directory", &unit, e))?
                .next()
                .is_some();
            if non_empty && !opts.force {
                // Already holding exactly this version (a rerun, or a run
                // killed after its copy was in place): nothing to do.
                if holds(v, dir, &files, progress)? {
                    let mut out = existing_outcome(reg, v, dir, opts.layout, false)?;
                    out.unchanged = true;
                    return Ok(out);
                }
                return Err(Error::input(match opts.layout {
                    CheckoutLayout::Plain => format!(
                        "`{}` is not empty; checkout writes only into a new or empty folder (hint: `--force` replaces its contents)",
                        unit.display()
                    ),
                    CheckoutLayout::Hf => format!(
                        "`{}` already holds {} in this cache (hint: `--force` replaces that repo folder; other repos in the cache are untouched)",
                        unit.display(),
                        v.name
                    ),
                }));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io("stat", &unit, e)),
    };
    let dir_name = unit
        .file_name()
        .ok_or_else(|| Error::input(format!("`{}` has no folder name", unit.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match unit.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Error::io("create directory", &parent, e))?;
    let pending = crate::pending::begin(
        reg,
        crate::pending::OutputKind::Checkout,
        &unit,
        serde_json::Value::Null,
    )?;
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).map_err(|e| Error::system("read system randomness", e))?;
    let staged = parent.join(format!(".{dir_name}.airlock-staging-{}", hex::encode(raw)));
    pending.track(&staged)?;
    fs::create_dir(&staged).map_err(|e| Error::io("create staging folder", &staged, e))?;

    // Where each file goes inside the staging folder.
    let (model_rel, plan) = plan(v, &files, opts.layout);
    let total: u64 = plan.iter().filter(|p| p.write).map(|p| p.file.size).sum();
    if !opts.link {
        crate::fsio::ensure_room(&parent, total, "the copy")?;
    }
    let bar = progress.start("checkout", total);
    let store = &reg.store;
    let result = crate::parallel::try_map(&plan, |p| place(store, &staged, p, opts.link, &*bar));
    bar.finish();
    result?;
    // The model-file safety policy runs again, on the verified staged bytes,
    // before anything becomes visible.
    let mut seen = Vec::with_capacity(plan.len());
    for chunk in plan.chunks(crate::safety::BATCH) {
        let targets: Vec<crate::safety::Target> = chunk
            .iter()
            .map(|p| crate::safety::Target {
                rel: p.file.path.to_string(),
                path: staged.join(&p.target),
                size: p.file.size,
            })
            .collect();
        seen.extend(
            crate::safety::inspect_all(&targets)
                .into_iter()
                .map(|i| (i.format, i.verdict, i.findings)),
        );
    }
    let recorded = reg.db.allowance(v.id)?;
    crate::safety::decide(
        plan.iter()
            .zip(&seen)
            .map(|(p, (format, verdict, findings))| crate::safety::Judged {
                rel: p.file.path.as_str(),
                format: *format,
                verdict: *verdict,
                findings,
            }),
        opts.allow_unsafe.as_ref().or(recorded.as_ref()),
        None,
    )?;
    finish_links(&staged, &plan)?;
    // One syncfs makes the whole copy durable before it is renamed into place.
    crate::store::sync_fs(&staged)?;

    // Swap the finished copy into place: never a moment without DIR.
    if replace_existing {
        match crate::fsio::rename_exchange(&staged, &unit) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
                swap_by_renames(&pending, &staged, &unit, &parent, &dir_name)?;
            }
            Err(e) => return Err(Error::io("swap into place", &unit, e)),
        }
        // The staging name now holds the old copy.
        crate::pending::remove_path(&staged)
            .map_err(|e| Error::io("remove old copy", &staged, e))?;
    } else {
        match crate::fsio::rename_noreplace(&staged, &unit) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(Error::input(format!(
                    "`{}` was created by another process meanwhile; nothing was replaced (hint: `--force` replaces it)",
                    unit.display()
                )));
            }
            Err(e) => return Err(Error::io("rename into place", &unit, e)),
        }
    }
    sync_dir(&parent)?;
    pending.finish()?;
    Ok(outcome(
        v,
        &files,
        dir,
        &unit.join(model_rel),
        opts.layout,
        opts.link,
    ))
}

/// Where `v` laid out at `dir` in `layout` is: the unit a checkout replaces
/// and the folder a loader is pointed at.
fn unit_and_model_path(v: &VersionRecord, dir: &Path, layout: CheckoutLayout) -> PathBuf {
    match layout {
        CheckoutLayout::Plain => dir.to_path_buf(),
        CheckoutLayout::Hf => dir
            .join(v.name.hf_cache_folder())
            .join("snapshots")
            .join(hf_revision(v)),
    }
}

/// The outcome describing a copy of `v` already laid out at `dir` (a
/// deployment finished after its process died).
pub(crate) fn existing_outcome(
    reg: &Registry,
    v: &VersionRecord,
    dir: &Path,
    layout: CheckoutLayout,
    link: bool,
) -> Result<CheckoutOutcome> {
    let files = reg.files(v)?;
    Ok(outcome(
        v,
        &files,
        dir,
        &unit_and_model_path(v, dir, layout),
        layout,
        link,
    ))
}

fn outcome(
    v: &VersionRecord,
    files: &[FileRecord],
    dir: &Path,
    model_path: &Path,
    layout: CheckoutLayout,
    linked: bool,
) -> CheckoutOutcome {
    CheckoutOutcome {
        name: v.name.to_string(),
        version: v.label.clone(),
        manifest_digest: v.manifest_digest,
        path: dir.display().to_string(),
        model_path: model_path.display().to_string(),
        layout,
        files: files.len(),
        bytes: files.iter().map(|f| f.size).sum(),
        linked,
        unchanged: false,
    }
}

/// Whether `dir` (in any layout `verify --path` reads) holds exactly the
/// files of `v`, every byte re-hashed.
fn holds(
    v: &VersionRecord,
    dir: &Path,
    files: &[FileRecord],
    progress: &dyn ProgressFactory,
) -> Result<bool> {
    let name = v.name.to_string();
    let Ok(src) = crate::source::resolve_repo(dir, v.revision.as_deref(), Some(&name)) else {
        return Ok(false);
    };
    let rep = crate::verify::check_folder(&name, dir, &src.files, files, progress)?;
    Ok(rep.findings.is_empty())
}

/// One planned write (or, in the hf layout, a snapshot link to a blob).
struct Planned {
    file: FileRecord,
    /// Path of the bytes relative to the staging root.
    target: PathBuf,
    /// False for a second file with the same blob in the hf layout.
    write: bool,
    /// In the hf layout, where the snapshot entry lives.
    link_from: Option<PathBuf>,
}

fn plan(
    v: &VersionRecord,
    files: &[FileRecord],
    layout: CheckoutLayout,
) -> (PathBuf, Vec<Planned>) {
    match layout {
        CheckoutLayout::Plain => (
            PathBuf::new(),
            files
                .iter()
                .map(|f| Planned {
                    file: f.clone(),
                    target: f.path.under(Path::new("")),
                    write: true,
                    link_from: None,
                })
                .collect(),
        ),
        CheckoutLayout::Hf => {
            // Relative to the repo folder `models--org--name`.
            let repo = PathBuf::new();
            let snap = repo.join("snapshots").join(hf_revision(v));
            let mut seen = HashSet::new();
            let planned = files
                .iter()
                .map(|f| Planned {
                    file: f.clone(),
                    target: repo.join("blobs").join(f.sha256.to_hex()),
                    write: seen.insert(f.sha256),
                    link_from: Some(f.path.under(&snap)),
                })
                .collect();
            (snap, planned)
        }
    }
}

fn place(store: &Store, root: &Path, p: &Planned, link: bool, bar: &dyn Progress) -> Result<()> {
    if !p.write {
        return Ok(());
    }
    let dest = root.join(&p.target);
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
    }
    let what = p.file.path.to_string();
    if link {
        let (found, _) = store.rehash(&p.file.sha256, bar)?;
        expect(&what, &p.file.sha256, &found)?;
        if fs::hard_link(store.blob_path(&p.file.sha256), &dest).is_ok() {
            return Ok(());
        }
        // Different file system: fall through to a verified copy.
    }
    let mut src = store.open_blob(&p.file.sha256)?;
    let out = File::create(&dest).map_err(|e| Error::io("create", &dest, e))?;
    let blob = store.blob_path(&p.file.sha256).display().to_string();
    let s = crate::store::direct::write_through(&out, &dest, true, |sink| {
        crate::store::stream(&mut src, &blob, None, sink, bar)
    })?;
    expect(&what, &p.file.sha256, &s.sha256)?;
    set_read_only(&dest)
}

fn expect(what: &str, want: &Sha256Digest, found: &Sha256Digest) -> Result<()> {
    if want != found {
        return Err(Error::DigestMismatch {
            what: format!("{what} (stored blob)"),
            expected: want.to_hex(),
            found: found.to_hex(),
        });
    }
    Ok(())
}

/// hf layout: snapshot entries as relative links into `blobs/`, and `refs/main`.
fn finish_links(root: &Path, plan: &[Planned]) -> Result<()> {
    for p in plan {
        let Some(from) = &p.link_from else { continue };
        let link = root.join(from);
        let parent = link.parent().expect("snapshot entry has a parent");
        fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
        // from = snapshots/<rev>/a/b  →  ../../../blobs/<sha>
        let ups = from.components().count() - 1;
        let mut rel = PathBuf::new();
        for _ in 0..ups {
            rel.push("..");
        }
        rel.push("blobs");
        rel.push(p.file.sha256.to_hex());
        std::os::unix::fs::symlink(&rel, &link).map_err(|e| Error::io("create link", &link, e))?;
        if let Some(rev) = from.components().nth(1) {
            let refs = root.join("refs");
            fs::create_dir_all(&refs).map_err(|e| Error::io("create directory", &refs, e))?;
            let main = refs.join("main");
            fs::write(&main, rev.as_os_str().to_string_lossy().as_bytes())
                .map_err(|e| Error::io("write", &main, e))?;
        }
    }
    Ok(())
}

/// Where the file system has no `RENAME_EXCHANGE`: move DIR aside, move the
/// new copy in, and put DIR back if that fails; the aside copy is tracked
/// as pending so a crash in between leaves it known to `fsck` and `gc`.
fn swap_by_renames(
    pending: &crate::pending::Pending<'_>,
    staged: &Path,
    unit: &Path,
    parent: &Path,
    dir_name: &str,
) -> Result<()> {
    let old = parent.join(format!(
        ".{dir_name}.airlock-old-{}",
        staged
            .file_name()
            .map(|n| n
                .to_string_lossy()
                .rsplit('-')
                .next()
                .unwrap_or("x")
                .to_string())
            .unwrap_or_default()
    ));
    pending.track(&old)?;
    fs::rename(unit, &old).map_err(|e| Error::io("move aside", unit, e))?;
    if let Err(e) = fs::rename(staged, unit) {
        let _ = fs::rename(&old, unit);
        return Err(Error::io("rename into place", unit, e));
    }
    // Leave the old copy where the exchange would have: at the staging name.
    fs::rename(&old, staged).map_err(|e| Error::io("move old copy", &old, e))?;
    Ok(())
}
