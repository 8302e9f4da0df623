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
use crate::error::Result;
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
    // Each distinct blob once, with its size; which files use a blob is
    // looked up again only for the blobs that fail (a hundred thousand
    // files are not kept in memory twice).
    let mut sizes: BTreeMap<Sha256Digest, u64> = BTreeMap::new();
    for v in versions {
        for f in reg.files(v)? {
            report.files += 1;
            sizes.entry(f.sha256).or_insert(f.size);
        }
    }
    let blobs: Vec<(Sha256Digest, u64)> = sizes.into_iter().collect();
    let mut to_hash = Vec::new();
    let mut states: HashMap<Sha256Digest, BlobState> = HashMap::new();
    for (d, size) in &blobs {
        let stat = reg.store.stat(d)?;
        let recorded = reg.db.blob(d)?;
        match stat {
            None => {
                states.insert(*d, BlobState::Missing);
            }
            Some(st) if st.size != *size => {
                states.insert(
                    *d,
                    BlobState::Bad(format!("size is {} bytes, recorded {size}", st.size)),
                );
            }
            Some(st) if !deep && recorded.is_some_and(|r| r.stat == st) => {
                states.insert(*d, BlobState::Trusted);
            }
            Some(_) => to_hash.push((*d, *size)),
        }
    }
    let total: u64 = to_hash.iter().map(|(_, s)| s).sum();
    let bar = progress.start("verify", total);
    let store = &reg.store;
    let hashed = crate::parallel::map_all(&to_hash, |(d, _)| store.rehash(d, &*bar));
    bar.finish();
    let now = now_rfc3339();
    let mut marks = Vec::new();
    for ((d, size), r) in to_hash.iter().zip(hashed) {
        let state = match r {
            Ok((found, _)) if found == *d => {
                if let Some(st) = reg.store.stat(d)? {
                    marks.push((*d, st));
                }
                BlobState::Good(*size)
            }
            Ok((found, _)) => BlobState::Bad(format!("expected sha256 {d}, found {found}")),
            Err(e) => BlobState::Bad(format!("unreadable: {e}")),
        };
        states.insert(*d, state);
    }
    // Remembered for quick mode (one transaction), where the home can be
    // written.
    if reg.writable() {
        reg.db.mark_blobs_verified(&marks, &now)?;
    }
    // A revoked version fails; one that came in a bundle must keep enough
    // live approvals.
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
    let mut failed: BTreeMap<Sha256Digest, (FindingKind, String)> = BTreeMap::new();
    for (d, _) in &blobs {
        let (kind, detail) = match &states[d] {
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
    let results = crate::parallel::map_all(&to_hash, |(sf, _)| {
        crate::fsio::open_regular(&sf.path).and_then(|f| hash_reader(f, &sf.path, &*bar))
    });
    bar.finish();
    for ((sf, rec), r) in to_hash.iter().zip(results) {
        match r {
            Ok((d, n)) if d == rec.sha256 => {
                report.ok += 1;
                report.hashed_bytes += n;
            }
            Ok((d, _)) => report.findings.push(Finding {
                subject: subject.to_string(),
                path: sf.rel.to_string(),
                kind: FindingKind::Modified,
                severity: Severity::Error,
                detail: format!("expected sha256 {}, found {d}", rec.sha256),
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
