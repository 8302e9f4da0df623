//! Re-check bytes against the records: stored blobs (`verify`), or a folder
//! such as a deployed copy (`verify --path`).
//!
//! Problems are [`Finding`]s, collected in full and judged once at the end
//! (exit 3 when there is any); an I/O error on one file is a finding about
//! that file, not the end of the run. Blobs are hashed in parallel through
//! bounded buffers. Without `deep`, a blob whose stat matches the one
//! recorded when it was last known good is trusted without reading it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use serde::Serialize;

use crate::clock::now_rfc3339;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::finding::{Finding, FindingKind, Severity};
use crate::progress::ProgressFactory;
use crate::records::{FileRecord, VersionRecord};
use crate::registry::Registry;
use crate::source;
use crate::store::hash_reader;

/// The result of checking one or more versions in the store.
#[derive(Debug, Default, Serialize)]
pub struct VerifyReport {
    /// Versions checked.
    pub versions: usize,
    /// Files checked.
    pub files: usize,
    /// Blobs re-hashed in this run.
    pub hashed_blobs: usize,
    /// Bytes re-hashed.
    pub hashed_bytes: u64,
    /// Blobs trusted from their recorded stat (quick mode only).
    pub trusted_blobs: usize,
    /// Every problem found.
    pub findings: Vec<Finding>,
}

enum BlobState {
    Trusted,
    Good(u64),
    Missing,
    Bad(String),
}

/// Check the stored bytes of `versions`.
pub fn verify_store(
    reg: &Registry,
    versions: &[VersionRecord],
    deep: bool,
    progress: &dyn ProgressFactory,
) -> Result<VerifyReport> {
    let mut report = VerifyReport {
        versions: versions.len(),
        ..Default::default()
    };
    // A revoked version fails; one that came in a bundle must keep enough
    // live approvals. Checked first: a statement of a hundred thousand
    // files is tens of megabytes, freed before the blob lists are built.
    for v in versions {
        if let Err(e) = crate::trust::ensure_approved(reg, v) {
            let revoked = crate::trust::revocation::in_force(reg, v)?.is_some();
            report.findings.push(Finding {
                subject: format!("{}@{}", v.name, v.label),
                path: if revoked {
                    "(revocation)"
                } else {
                    "(approvals)"
                }
                .into(),
                kind: if revoked {
                    FindingKind::Revoked
                } else {
                    FindingKind::Approvals
                },
                severity: Severity::Error,
                detail: e.to_string(),
            });
        }
    }
    // Each distinct blob once, with its size, sorted; which files use a
    // blob is looked up again only for the blobs that fail (a hundred
    // thousand files are not kept in memory twice).
    let mut blobs: Vec<(Sha256Digest, u64)> = Vec::new();
    for v in versions {
        let (files, distinct) = reg.db.version_blobs(v.id)?;
        report.files += files;
        blobs.extend(distinct);
    }
    blobs.sort_unstable();
    blobs.dedup_by_key(|(d, _)| *d);
    // One state per blob, in the order of `blobs`.
    let mut states: Vec<BlobState> = Vec::with_capacity(blobs.len());
    let mut to_hash: Vec<usize> = Vec::new();
    let mut pieces: HashMap<usize, crate::digest::Pieces> = HashMap::new();
    for (i, (d, size)) in blobs.iter().enumerate() {
        let stat = reg.store.stat(d)?;
        let recorded = reg.db.blob(d)?;
        if let Some(p) = recorded.as_ref().and_then(|r| r.pieces.clone()) {
            pieces.insert(i, p);
        }
        states.push(match stat {
            None => BlobState::Missing,
            Some(st) if st.size != *size => {
                BlobState::Bad(format!("size is {} bytes, recorded {size}", st.size))
            }
            Some(st) if !deep && recorded.is_some_and(|r| r.stat == st) => BlobState::Trusted,
            Some(_) => {
                to_hash.push(i);
                BlobState::Trusted // replaced below by what hashing finds
            }
        });
    }
    let total: u64 = to_hash.iter().map(|&i| blobs[i].1).sum();
    let bar = progress.start("verify", total);
    let checks: Vec<ByteCheck<'_>> = to_hash
        .iter()
        .map(|&i| ByteCheck {
            at: At::Blob(&reg.store),
            len: blobs[i].1,
            sha256: blobs[i].0,
            pieces: pieces.get(&i),
        })
        .collect();
    let hashed = check_bytes(&checks, &*bar);
    drop(checks);
    bar.finish();
    let now = now_rfc3339();
    let mut marks = Vec::new();
    for (&i, r) in to_hash.iter().zip(hashed) {
        let (d, size) = blobs[i];
        states[i] = match r {
            Ok(Seen::Good) => {
                if let Some(st) = reg.store.stat(&d)? {
                    marks.push((d, st));
                }
                BlobState::Good(size)
            }
            Ok(Seen::Bad(detail)) => BlobState::Bad(detail),
            Err(e) => BlobState::Bad(format!("unreadable: {e}")),
        };
    }
    // Remembered for quick mode (one transaction), where the home can be
    // written.
    if reg.writable() {
        reg.db.mark_blobs_verified(&marks, &now)?;
    }
    let mut failed: BTreeMap<Sha256Digest, (FindingKind, String)> = BTreeMap::new();
    for ((d, _), state) in blobs.iter().zip(&states) {
        let (kind, detail) = match state {
            BlobState::Trusted => {
                report.trusted_blobs += 1;
                continue;
            }
            BlobState::Good(size) => {
                report.hashed_blobs += 1;
                report.hashed_bytes += size;
                continue;
            }
            BlobState::Missing => (
                FindingKind::Missing,
                format!("blob sha256 {d} is not in the store"),
            ),
            BlobState::Bad(why) => (FindingKind::Modified, why.clone()),
        };
        failed.insert(*d, (kind, detail));
    }
    if !failed.is_empty() {
        for v in versions {
            for f in reg.files(v)? {
                if let Some((kind, detail)) = failed.get(&f.sha256) {
                    report.findings.push(Finding {
                        subject: format!("{}@{}", v.name, v.label),
                        path: f.path.to_string(),
                        kind: *kind,
                        severity: Severity::Error,
                        detail: detail.clone(),
                    });
                }
            }
        }
    }
    Ok(report)
}

/// The result of checking a folder against a version.
#[derive(Debug, Default, Serialize)]
pub struct PathReport {
    /// The version, `name@label`.
    pub subject: String,
    /// The folder.
    pub path: String,
    /// Files the version has.
    pub files: usize,
    /// Bytes hashed.
    pub hashed_bytes: u64,
    /// Files that match.
    pub ok: usize,
    /// Every problem found.
    pub findings: Vec<Finding>,
}

/// Check the folder `dir` against the files of `v`: modified, missing, extra.
pub fn verify_path(
    reg: &Registry,
    dir: &Path,
    v: &VersionRecord,
    progress: &dyn ProgressFactory,
) -> Result<PathReport> {
    let subject = format!("{}@{}", v.name, v.label);
    let expected = reg.files(v)?;
    let name = v.name.to_string();
    let src = source::resolve_repo(dir, v.revision.as_deref(), Some(&name))?;
    check_folder(&subject, dir, &src.files, &expected, progress)
}

/// Compare walked files with expected records (shared with audit).
pub(crate) fn check_folder(
    subject: &str,
    dir: &Path,
    found: &[source::SourceFile],
    expected: &[FileRecord],
    progress: &dyn ProgressFactory,
) -> Result<PathReport> {
    let mut report = PathReport {
        subject: subject.to_string(),
        path: dir.display().to_string(),
        files: expected.len(),
        ..Default::default()
    };
    let want: HashMap<&str, &FileRecord> = expected.iter().map(|f| (f.path.as_str(), f)).collect();
    let mut present = std::collections::HashSet::new();
    let mut to_hash = Vec::new();
    for sf in found {
        match want.get(sf.rel.as_str()) {
            None => report.findings.push(Finding {
                subject: subject.to_string(),
                path: sf.rel.to_string(),
                kind: FindingKind::Extra,
                severity: Severity::Error,
                detail: format!("{} bytes, not part of the version", sf.size),
            }),
            Some(rec) => {
                present.insert(sf.rel.as_str());
                if sf.size != rec.size {
                    report.findings.push(Finding {
                        subject: subject.to_string(),
                        path: sf.rel.to_string(),
                        kind: FindingKind::Modified,
                        severity: Severity::Error,
                        detail: format!("size is {} bytes, expected {}", sf.size, rec.size),
                    });
                } else {
                    to_hash.push((sf, *rec));
                }
            }
        }
    }
    for f in expected {
        if !present.contains(f.path.as_str()) {
            report.findings.push(Finding {
                subject: subject.to_string(),
                path: f.path.to_string(),
                kind: FindingKind::Missing,
                severity: Severity::Error,
                detail: format!("expected sha256 {}", f.sha256),
            });
        }
    }
    let total: u64 = to_hash.iter().map(|(s, _)| s.size).sum();
    let bar = progress.start("verify", total);
    let checks: Vec<ByteCheck<'_>> = to_hash
        .iter()
        .map(|(sf, rec)| ByteCheck {
            at: At::File(&sf.path),
            len: rec.size,
            sha256: rec.sha256,
            pieces: rec.pieces.as_ref(),
        })
        .collect();
    let results = check_bytes(&checks, &*bar);
    bar.finish();
    for ((sf, rec), r) in to_hash.iter().zip(results) {
        match r {
            Ok(Seen::Good) => {
                report.ok += 1;
                report.hashed_bytes += rec.size;
            }
            Ok(Seen::Bad(detail)) => report.findings.push(Finding {
                subject: subject.to_string(),
                path: sf.rel.to_string(),
                kind: FindingKind::Modified,
                severity: Severity::Error,
                detail,
            }),
            Err(e) => report.findings.push(Finding {
                subject: subject.to_string(),
                path: sf.rel.to_string(),
                kind: FindingKind::Unreadable,
                severity: Severity::Error,
                detail: e.to_string(),
            }),
        }
    }
    report
        .findings
        .sort_by(|a, b| (a.path.as_str(), a.kind).cmp(&(b.path.as_str(), b.kind)));
    Ok(report)
}

/// Bytes to check against a recorded digest: a whole file, or — when its
/// piece digests are recorded — each piece on its own, so one large file is
/// hashed on every core.
pub(crate) struct ByteCheck<'a> {
    /// Where the bytes are.
    pub(crate) at: At<'a>,
    /// Its recorded size (the caller has checked the size already).
    pub(crate) len: u64,
    /// Its recorded sha256.
    pub(crate) sha256: Sha256Digest,
    /// Its recorded pieces, if any.
    pub(crate) pieces: Option<&'a crate::digest::Pieces>,
}

/// Where a [`ByteCheck`]'s bytes are: a file (opened without following a
/// final symlink), or the stored blob of its digest (the path made when it
/// is read, not held for every blob of a large run).
pub(crate) enum At<'a> {
    /// This file.
    File(&'a Path),
    /// The blob of the check's sha256 in this store.
    Blob(&'a crate::store::Store),
}

impl ByteCheck<'_> {
    fn path(&self) -> std::borrow::Cow<'_, Path> {
        match self.at {
            At::File(p) => std::borrow::Cow::Borrowed(p),
            At::Blob(store) => std::borrow::Cow::Owned(store.blob_path(&self.sha256)),
        }
    }
}

/// What checking one file's bytes found.
pub(crate) enum Seen {
    /// Every byte matches.
    Good,
    /// These bytes differ (the detail names the piece where there is one).
    Bad(String),
}

/// Check every file in `checks` on every core: whole files by their sha256,
/// files with pieces piece by piece (the same proof: the pieces were derived
/// from the bytes whose whole digest matched). Results in input order;
/// `Err` is a file that could not be read.
pub(crate) fn check_bytes(
    checks: &[ByteCheck<'_>],
    progress: &dyn crate::progress::Progress,
) -> Vec<Result<Seen>> {
    // One unit per whole file, or per piece.
    let units: Vec<(usize, Option<usize>)> = checks
        .iter()
        .enumerate()
        .flat_map(|(i, c)| match c.pieces.filter(|p| p.fits(c.len)) {
            Some(p) => (0..p.sha256.len())
                .map(|k| (i, Some(k)))
                .collect::<Vec<_>>(),
            None => vec![(i, None)],
        })
        .collect();
    let found = crate::parallel::map_all(&units, |&(i, piece)| -> Result<Option<String>> {
        let c = &checks[i];
        let path = c.path();
        match piece {
            None => {
                let f = crate::fsio::open_regular(&path)?;
                let (d, _) = hash_reader(f, &path, progress)?;
                Ok((d != c.sha256).then(|| format!("expected sha256 {}, found {d}", c.sha256)))
            }
            Some(k) => {
                let p = c.pieces.expect("a piece unit has pieces");
                let (start, end) = p.range(k, c.len);
                let d = hash_range(&path, start, end, progress)?;
                let want = p.sha256[k];
                Ok((d != want).then(|| {
                    format!(
                        "piece {k} of {} (bytes {start}..{end}) differs: expected sha256 {want}, found {d}",
                        p.sha256.len()
                    )
                }))
            }
        }
    });
    let mut out: Vec<Result<Seen>> = checks.iter().map(|_| Ok(Seen::Good)).collect();
    for ((i, _), r) in units.iter().zip(found) {
        let slot = &mut out[*i];
        match (r, &slot) {
            (Err(e), Ok(_)) => *slot = Err(e),
            (Ok(Some(detail)), Ok(Seen::Good)) => *slot = Ok(Seen::Bad(detail)),
            _ => {}
        }
    }
    out
}

/// The sha256 of bytes `start..end` of the file at `path`.
pub(crate) fn hash_range(
    path: &Path,
    start: u64,
    end: u64,
    progress: &dyn crate::progress::Progress,
) -> Result<Sha256Digest> {
    use std::os::unix::fs::FileExt;
    let f = crate::fsio::open_regular(path)?;
    let mut h = crate::digest::Hasher::new();
    let mut buf = vec![0u8; crate::digest::CHUNK];
    let mut at = start;
    while at < end {
        let want = ((end - at) as usize).min(buf.len());
        let n = f
            .read_at(&mut buf[..want], at)
            .map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            return Err(Error::io(
                "read",
                path,
                std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!("ends before byte {end}"),
                ),
            ));
        }
        h.update(&buf[..n]);
        progress.inc(n as u64);
        at += n as u64;
    }
    Ok(h.finish())
}
