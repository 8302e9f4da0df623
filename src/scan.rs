//! `scan DIR`: what is this folder? Every regular file is hashed (in
//! parallel, one pass, bounded buffers) and looked up by its sha256: a file
//! of a registered version (which, and at which path), a `modified` file
//! (its name matches a registered file, its bytes do not), or `unknown`.
//! Large unknown weight files are what an auditor hunts for. Links are not
//! followed (an HF cache's snapshot links resolve to blobs that are scanned
//! themselves); FIFOs and devices are skipped without being opened.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::formats::{self, Format};
use crate::progress::ProgressFactory;
use crate::registry::Registry;

/// A registered file a scanned file matches.
#[derive(Debug, Clone, Serialize)]
pub struct Match {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The path in the version.
    pub path: String,
}

/// What a scanned file is, by its hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanStatus {
    /// Its bytes are a file of a registered version.
    Known,
    /// Its name matches a registered file, its bytes do not.
    Modified,
    /// Neither its bytes nor its name are registered.
    Unknown,
}

impl ScanStatus {
    /// The status as written in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ScanStatus::Known => "known",
            ScanStatus::Modified => "modified",
            ScanStatus::Unknown => "unknown",
        }
    }
}

impl std::fmt::Display for ScanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One file of the scanned folder.
#[derive(Debug, Clone, Serialize)]
pub struct ScannedFile {
    /// Its path under the folder.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its sha256 (hex).
    pub sha256: String,
    /// The format its bytes are.
    pub format: Format,
    /// What it is by its hash.
    pub status: ScanStatus,
    /// The registered files it is (or is named like).
    pub matches: Vec<Match>,
    /// An unknown file that holds weights (by its bytes) or is large.
    pub suspicious: bool,
}

/// What `scan` found.
#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    /// The folder scanned.
    pub root: String,
    /// Every regular file, unknown weights last.
    pub files: Vec<ScannedFile>,
    /// Files that are registered bytes.
    pub known: usize,
    /// Files named like registered files with other bytes.
    pub modified: usize,
    /// Files neither.
    pub unknown: usize,
    /// Entries not scanned, with why.
    pub skipped: Vec<String>,
    /// Bytes hashed.
    pub bytes: u64,
}

/// Files at least this large are suspicious when unknown, whatever their format.
const LARGE: u64 = 100 << 20;

/// Hash every regular file under `dir` and say what each one is.
pub fn scan(reg: &Registry, dir: &Path, progress: &dyn ProgressFactory) -> Result<ScanReport> {
    let mut report = ScanReport {
        root: dir.display().to_string(),
        ..Default::default()
    };
    let mut by_sha: HashMap<Sha256Digest, Vec<Match>> = HashMap::new();
    let mut by_name: HashMap<String, Vec<Match>> = HashMap::new();
    for v in reg.versions()? {
        for f in reg.files(&v)? {
            let m = Match {
                name: v.name.to_string(),
                version: v.label.clone(),
                path: f.path.to_string(),
            };
            let base = f
                .path
                .as_str()
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_string();
            by_sha.entry(f.sha256).or_default().push(m.clone());
            by_name.entry(base).or_default().push(m);
        }
    }
    let mut paths = Vec::new();
    for e in walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name()
    {
        let e = e.map_err(|e| {
            let p = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| dir.to_path_buf());
            Error::io(
                "walk",
                p,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        let ft = e.file_type();
        if ft.is_file() {
            let size = e
                .metadata()
                .map_err(|x| Error::io("stat", e.path(), x.into()))?
                .len();
            paths.push((e.path().to_path_buf(), size));
        } else if !ft.is_dir() && !ft.is_symlink() {
            report
                .skipped
                .push(format!("{} (not a regular file)", e.path().display()));
        }
    }
    let total = paths.iter().map(|p| p.1).sum();
    let bar = progress.start("scan", total);
    let hashed = crate::parallel::map_all(&paths, |(p, _)| -> Result<(Sha256Digest, Vec<u8>)> {
        let mut f = crate::fsio::open_regular(p)?;
        let s = crate::store::stream(
            &mut f,
            &p.display().to_string(),
            None,
            &mut crate::store::discard(),
            &*bar,
        )?;
        Ok((s.sha256, s.head))
    });
    bar.finish();
    for ((p, size), r) in paths.iter().zip(hashed) {
        let rel = p.strip_prefix(dir).unwrap_or(p).display().to_string();
        let (sha, head) = match r {
            Ok(x) => x,
            Err(e) => {
                report.skipped.push(format!("{rel} ({e})"));
                continue;
            }
        };
        report.bytes += size;
        let format = formats::sniff(&head, *size);
        let base = rel.rsplit('/').next().unwrap_or_default().to_string();
        let (status, matches) = match by_sha.get(&sha) {
            Some(m) => (ScanStatus::Known, m.clone()),
            None => match by_name.get(&base) {
                Some(m) => (ScanStatus::Modified, m.clone()),
                None => (ScanStatus::Unknown, Vec::new()),
            },
        };
        match status {
            ScanStatus::Known => report.known += 1,
            ScanStatus::Modified => report.modified += 1,
            ScanStatus::Unknown => report.unknown += 1,
        }
        let suspicious = status != ScanStatus::Known
            && (format.is_weights()
                || *size >= LARGE
                || matches!(format, Format::Zip | Format::Tar));
        report.files.push(ScannedFile {
            path: rel,
            size: *size,
            sha256: sha.to_hex(),
            format,
            status,
            matches,
            suspicious,
        });
    }
    // Unknown weight files last, largest last of all.
    report
        .files
        .sort_by_key(|f| (f.suspicious, f.status == ScanStatus::Unknown, f.size));
    Ok(report)
}
