//! Re-check bytes against the records: stored blobs (`verify`), or a folder
//! such as a deployed copy (`verify --path`).
//!
//! Problems are [`Finding`]s, collected in full and judged once at the end
//! (exit 3 when there is any); an I/O error on one file is a finding about
//! that file, not the end of the run. Blobs are hashed in parallel, two
//! streams per core, read through small mapped windows (`mapped`) or
//! bounded buffers. Without `deep`, a blob whose stat matches the one
//! recorded when it was last known good is trusted without reading it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Mutex;

use serde::Serialize;

use crate::clock::now_rfc3339;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::finding::{Finding, FindingKind, Severity};
use crate::progress::ProgressFactory;
use crate::records::{FileRecord, VersionRecord};
use crate::registry::Registry;
use crate::source;

mod mapped;

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
            at: At::Blob(&reg.store, blobs[i].0),
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

/// Where bytes to hash are: a file (opened without following a final
/// symlink), or the stored blob of a digest (the path made when it is
/// read, not held for every blob of a large run).
#[derive(Clone, Copy)]
pub(crate) enum At<'a> {
    /// This file.
    File(&'a Path),
    /// The blob of this sha256 in this store.
    Blob(&'a crate::store::Store, Sha256Digest),
}

impl At<'_> {
    fn path(&self) -> std::borrow::Cow<'_, Path> {
        match self {
            At::File(p) => std::borrow::Cow::Borrowed(p),
            At::Blob(store, d) => std::borrow::Cow::Owned(store.blob_path(d)),
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
    // Whole files to their end (bytes added since the size was checked
    // make a mismatch), pieces exactly. Only problems are kept, by unit.
    let span = |u: usize| {
        let (i, piece) = units[u];
        let c = &checks[i];
        match piece.zip(c.pieces) {
            None => Span {
                at: c.at,
                start: 0,
                end: None,
                len: c.len,
            },
            Some((k, p)) => {
                let (start, end) = p.range(k, c.len);
                Span {
                    at: c.at,
                    start,
                    end: Some(end),
                    len: end - start,
                }
            }
        }
    };
    let problems: Mutex<Vec<(usize, Result<String>)>> = Mutex::new(Vec::new());
    let done = |u: usize, d: Result<Sha256Digest>| {
        let (i, piece) = units[u];
        let c = &checks[i];
        let problem = match (d, piece.zip(c.pieces)) {
            (Err(e), _) => Some(Err(e)),
            (Ok(d), None) => {
                (d != c.sha256).then(|| Ok(format!("expected sha256 {}, found {d}", c.sha256)))
            }
            (Ok(d), Some((k, p))) => {
                let (start, end) = p.range(k, c.len);
                let want = p.sha256[k];
                (d != want).then(|| {
                    Ok(format!(
                        "piece {k} of {} (bytes {start}..{end}) differs: expected sha256 {want}, found {d}",
                        p.sha256.len()
                    ))
                })
            }
        };
        if let Some(problem) = problem {
            problems
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push((u, problem));
        }
    };
    hash_spans(units.len(), &span, &done, progress);
    let mut problems = problems.into_inner().unwrap_or_else(|p| p.into_inner());
    problems.sort_by_key(|(u, _)| *u);
    let mut out: Vec<Result<Seen>> = checks.iter().map(|_| Ok(Seen::Good)).collect();
    for (u, r) in problems {
        let slot = &mut out[units[u].0];
        match (r, &slot) {
            (Err(e), Ok(_)) => *slot = Err(e),
            (Ok(detail), Ok(Seen::Good)) => *slot = Ok(Seen::Bad(detail)),
            _ => {}
        }
    }
    out
}

/// Bytes of one file to hash: `start..end`, or from `start` to the end of
/// the file when `end` is `None`.
#[derive(Clone, Copy)]
pub(crate) struct Span<'a> {
    /// The file.
    pub(crate) at: At<'a>,
    /// The first byte.
    pub(crate) start: u64,
    /// The byte after the last, or `None` for the file's end.
    pub(crate) end: Option<u64>,
    /// The expected length (the longest spans start first).
    pub(crate) len: u64,
}

/// Read size of each stream: two streams' buffers stay in a core's cache.
const SPAN_READ: usize = 256 << 10;

/// Hash spans `0..count` (`span(i)` says where each is) on every core, two
/// at a time per core ([`crate::digest::Hasher::update_pair`]: one core
/// hashes two streams faster than one after the other), and hand each
/// span's sha256 to `done` as it is found — an `Err` is a span that could
/// not be read, a file ending before `end` among them. Each worker starts
/// with one span of its own and then fills either of its two lanes with the
/// next longest span as one ends, so a few large files and many small ones
/// balance themselves. Nothing per span is kept beyond the sort order.
pub(crate) fn hash_spans<'a>(
    count: usize,
    span: &(dyn Fn(usize) -> Span<'a> + Sync),
    done: &(dyn Fn(usize, Result<Sha256Digest>) + Sync),
    progress: &dyn crate::progress::Progress,
) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let mut order: Vec<usize> = (0..count).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(span(i).len));
    let workers = crate::parallel::workers(count);
    let next = AtomicUsize::new(workers);
    std::thread::scope(|s| {
        for w in 0..workers {
            let (order, next) = (&order, &next);
            s.spawn(move || {
                let mut first = order.get(w).copied();
                let mut take = || {
                    first
                        .take()
                        .or_else(|| order.get(next.fetch_add(1, Ordering::Relaxed)).copied())
                };
                hash_lanes(span, &mut take, done, progress);
            });
        }
    });
}

/// One stream of a worker: the span, its open file, its hasher, how far.
struct Lane {
    i: usize,
    path: std::path::PathBuf,
    file: std::fs::File,
    hasher: crate::digest::Hasher,
    at: u64,
    end: Option<u64>,
    /// Read through mapped windows (spans of a window or more), up to
    /// `limit` (the span's end or the file's length when opened,
    /// whichever is less); `None` reads with `pread`.
    mapped: Option<Mapped>,
}

/// A lane's mapped window and how far into it the hash has gone.
struct Mapped {
    limit: u64,
    window: Option<mapped::Window>,
    taken: usize,
    /// The file is being read ahead up to here.
    asked: u64,
}

impl Lane {
    /// The next bytes of a mapped lane: how many there are at
    /// `window.bytes()[taken..]` (0 at the end), mapping the next window
    /// when one is used up; `Err` when the used-up window lost bytes (the
    /// file shrank or failed while mapped). `Ok(None)`: mapping is not
    /// possible here, read instead.
    fn next_mapped(&mut self, most: usize) -> Result<Option<usize>> {
        let Some(m) = self.mapped.as_mut() else {
            return Ok(None);
        };
        if let Some(w) = &m.window {
            if m.taken < w.bytes().len() {
                return Ok(Some((w.bytes().len() - m.taken).min(most)));
            }
            let lost = w.lost();
            m.window = None;
            if lost {
                return Err(Error::io(
                    "read",
                    &self.path,
                    std::io::Error::other("the file shrank or failed while it was being hashed"),
                ));
            }
        }
        if self.at >= m.limit {
            return Ok(Some(0));
        }
        let len = (m.limit - self.at).min(mapped::WINDOW as u64) as usize;
        let ahead = (self.at + mapped::AHEAD).min(m.limit);
        if m.asked < ahead {
            let from = m.asked.max(self.at);
            crate::fsio::advise_will_need(&self.file, from, ahead - from);
            m.asked = ahead;
        }
        match mapped::Window::map(&self.file, self.at, len) {
            Some(w) => {
                m.window = Some(w);
                m.taken = 0;
                Ok(Some(len.min(most)))
            }
            None => {
                self.mapped = None;
                Ok(None)
            }
        }
    }
}

/// One worker: two lanes, refilled from `take` until it has no more spans.
fn hash_lanes<'a>(
    span: &(dyn Fn(usize) -> Span<'a> + Sync),
    take: &mut dyn FnMut() -> Option<usize>,
    done: &(dyn Fn(usize, Result<Sha256Digest>) + Sync),
    progress: &dyn crate::progress::Progress,
) {
    use std::os::unix::fs::FileExt;
    let mut lanes: [Option<Lane>; 2] = [None, None];
    let mut bufs = [vec![0u8; SPAN_READ], vec![0u8; SPAN_READ]];
    let mut more = true;
    loop {
        for lane in lanes.iter_mut().filter(|l| l.is_none()) {
            while more && lane.is_none() {
                let Some(i) = take() else {
                    more = false;
                    break;
                };
                let sp = span(i);
                let path = sp.at.path().into_owned();
                let opened = crate::fsio::open_regular(&path).and_then(|file| {
                    let mapped = if sp.len >= mapped::WINDOW as u64 {
                        let len = file
                            .metadata()
                            .map_err(|e| Error::io("stat", &path, e))?
                            .len();
                        Some(Mapped {
                            limit: sp.end.map_or(len, |e| e.min(len)),
                            window: None,
                            taken: 0,
                            asked: 0,
                        })
                    } else {
                        None
                    };
                    Ok((file, mapped))
                });
                match opened {
                    Ok((file, mapped)) => {
                        *lane = Some(Lane {
                            i,
                            path,
                            file,
                            hasher: crate::digest::Hasher::new(),
                            at: sp.start,
                            end: sp.end,
                            mapped,
                        })
                    }
                    Err(e) => done(i, Err(e)),
                }
            }
        }
        if lanes.iter().all(Option::is_none) {
            return;
        }
        // One read per lane; a lane at its end (or failing) is finished.
        let mut got = [0usize; 2];
        for ((slot, buf), n) in lanes.iter_mut().zip(&mut bufs).zip(&mut got) {
            let Some(l) = slot.as_mut() else { continue };
            let want = l
                .end
                .map_or(buf.len(), |e| ((e - l.at) as usize).min(buf.len()));
            let read = match l.next_mapped(buf.len()) {
                Ok(Some(k)) => Ok(k),
                Err(e) => Err(e),
                Ok(None) if want == 0 => Ok(0),
                Ok(None) => loop {
                    match l.file.read_at(&mut buf[..want], l.at) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                        r => break r.map_err(|e| Error::io("read", &l.path, e)),
                    }
                },
            };
            match read {
                Ok(0) => {
                    let l = slot.take().expect("the lane is open");
                    let result = match l.end {
                        Some(end) if l.at < end => Err(Error::io(
                            "read",
                            &l.path,
                            std::io::Error::new(
                                std::io::ErrorKind::UnexpectedEof,
                                format!("ends before byte {end}"),
                            ),
                        )),
                        _ => Ok(l.hasher.finish()),
                    };
                    done(l.i, result);
                }
                Ok(k) => {
                    l.at += k as u64;
                    *n = k;
                }
                Err(e) => {
                    done(l.i, Err(e));
                    *slot = None;
                }
            }
        }
        // Each lane's bytes: from its window when mapped, else its buffer.
        let [la, lb] = &mut lanes;
        let [ba, bb] = &bufs;
        let (a, xa) = bytes_of(la.as_mut(), ba, got[0]);
        let (b, xb) = bytes_of(lb.as_mut(), bb, got[1]);
        match (a, b) {
            (Some(a), Some(b)) => crate::digest::Hasher::update_pair(a, xa, b, xb),
            (Some(a), None) => a.update(xa),
            (None, Some(b)) => b.update(xb),
            (None, None) => {}
        }
        progress.inc((got[0] + got[1]) as u64);
    }
}

/// A lane's hasher and the `n` bytes it has to hash now (marked taken
/// from its window, when mapped).
fn bytes_of<'l>(
    lane: Option<&'l mut Lane>,
    buf: &'l [u8],
    n: usize,
) -> (Option<&'l mut crate::digest::Hasher>, &'l [u8]) {
    let Some(l) = lane else {
        return (None, &[]);
    };
    match l.mapped.as_mut() {
        Some(Mapped {
            window: Some(w),
            taken,
            ..
        }) => {
            let from = *taken;
            *taken += n;
            (Some(&mut l.hasher), &w.bytes()[from..from + n])
        }
        _ => (Some(&mut l.hasher), &buf[..n]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Spans of every shape, hashed two per core, give each span's own
    /// digest in input order; a file ending early and a missing file are
    /// errors naming the path, and do not disturb the others.
    #[test]
    fn spans_hash_like_single_streams() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [
            0usize,
            1,
            63,
            64,
            65,
            4097,
            300_001,
            1 << 20,
            (1 << 20) + 3,
            (3 << 20) + 4099,
        ];
        let mut files = Vec::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for (k, n) in sizes.iter().enumerate() {
            let bytes: Vec<u8> = (0..*n)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let p = dir.path().join(format!("f{k}"));
            std::fs::write(&p, &bytes).unwrap();
            files.push((p, bytes));
        }
        let mut spans = Vec::new();
        let mut want = Vec::new();
        for (p, b) in &files {
            spans.push(Span {
                at: At::File(p),
                start: 0,
                end: None,
                len: b.len() as u64,
            });
            want.push(Some(Sha256Digest::of(b)));
            let (s, e) = (b.len() / 3, b.len() - b.len() / 5);
            spans.push(Span {
                at: At::File(p),
                start: s as u64,
                end: Some(e as u64),
                len: (e - s) as u64,
            });
            want.push(Some(Sha256Digest::of(&b[s..e])));
        }
        let (short, _) = &files[6];
        spans.push(Span {
            at: At::File(short),
            start: 10,
            end: Some(400_000),
            len: 399_990,
        });
        want.push(None);
        // Read through windows (longer than one), ending past the file.
        let (long, lb) = &files[9];
        spans.push(Span {
            at: At::File(long),
            start: 4097,
            end: Some(lb.len() as u64 + 1),
            len: lb.len() as u64 - 4096,
        });
        want.push(None);
        let gone = dir.path().join("gone");
        spans.push(Span {
            at: At::File(&gone),
            start: 0,
            end: None,
            len: 5,
        });
        want.push(None);
        let got: Vec<Mutex<Vec<Result<Sha256Digest>>>> =
            spans.iter().map(|_| Mutex::new(Vec::new())).collect();
        hash_spans(
            spans.len(),
            &|k| spans[k],
            &|k, d| got[k].lock().unwrap().push(d),
            &crate::progress::NoProgress,
        );
        for (k, (g, w)) in got.iter().zip(&want).enumerate() {
            let g = g.lock().unwrap();
            assert_eq!(g.len(), 1, "span {k} is reported once");
            match (&g[0], w) {
                (Ok(d), Some(w)) => assert_eq!(d, w, "span {k}"),
                (Err(e), None) => {
                    let path = spans[k].at.path().display().to_string();
                    assert!(e.to_string().contains(&path), "span {k}: {e}");
                }
                (g, w) => panic!("span {k}: got {:?}, want {w:?}", g.as_ref().ok()),
            }
        }
    }

    /// Cuts a file short after the first bytes are hashed.
    struct CutAfterFirst<'a>(&'a Path, std::sync::Once);

    impl crate::progress::Progress for CutAfterFirst<'_> {
        fn inc(&self, _bytes: u64) {
            self.1.call_once(|| {
                let f = std::fs::OpenOptions::new()
                    .write(true)
                    .open(self.0)
                    .unwrap();
                f.set_len(4096).unwrap();
            });
        }
        fn finish(&self) {}
    }

    /// A file that shrinks while it is hashed (through a mapped window)
    /// is an error naming it, never a digest, and the process lives.
    #[test]
    fn a_file_shrinking_while_hashed_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("shrinks");
        std::fs::write(&p, vec![7u8; 3 << 20]).unwrap();
        let got = Mutex::new(Vec::new());
        hash_spans(
            1,
            &|_| Span {
                at: At::File(&p),
                start: 0,
                end: None,
                len: 3 << 20,
            },
            &|_, d| got.lock().unwrap().push(d),
            &CutAfterFirst(&p, std::sync::Once::new()),
        );
        let got = got.into_inner().unwrap();
        assert_eq!(got.len(), 1);
        let e = got[0].as_ref().expect_err("an error, not a digest");
        assert!(e.to_string().contains("shrank"), "{e}");
        assert!(e.to_string().contains(&p.display().to_string()), "{e}");
    }
}
