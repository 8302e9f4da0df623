//! Read a model folder as it was downloaded: which files it holds, where each
//! one's bytes are, and which upstream hashes the download left behind.
//!
//! Layouts (see `docs/formats.md`, "Import sources"):
//! - **plain**: any folder;
//! - **hf-cache**: a Hugging Face cache repo folder `models--org--name/` with
//!   `refs/`, `blobs/` and `snapshots/<rev>/` of links into `blobs/`;
//! - **hf-snapshot**: one `snapshots/<rev>/` folder of such a repo;
//! - **hf-local-dir**: a `huggingface-cli download --local-dir` folder with
//!   `.cache/huggingface/download/<path>.metadata` files.
//!
//! A `trees/<rev>.json` listing (the hub's tree API answer) is read where
//! present. This module only reads metadata and small files; it never opens
//! a FIFO or device (entries are checked with `lstat`, and files are opened
//! non-blocking and checked again with `fstat`) and never follows a link out
//! of the source.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::fsio::{open_regular, read_small};
use crate::name::RelPath;

/// Which hash an upstream expectation is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algo {
    Sha256,
    GitSha1,
    Size,
}

impl Algo {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Algo::Sha256 => "sha256",
            Algo::GitSha1 => "git-sha1",
            Algo::Size => "size",
        }
    }
}

/// One thing the download says a file's bytes must be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Expectation {
    pub(crate) algo: Algo,
    /// Lowercase hex for hashes, decimal for sizes.
    pub(crate) value: String,
    /// Where the expectation came from (shown in errors and records).
    pub(crate) origin: String,
}

/// A file of the source.
#[derive(Debug, Clone)]
pub(crate) struct SourceFile {
    pub(crate) rel: RelPath,
    /// Where to read the bytes (a blob of the cache for snapshot links).
    pub(crate) path: PathBuf,
    pub(crate) size: u64,
    pub(crate) expect: Vec<Expectation>,
}

impl SourceFile {
    pub(crate) fn wants_git_sha1(&self) -> bool {
        self.expect.iter().any(|e| e.algo == Algo::GitSha1)
    }
}

/// The layouts this module recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Layout {
    Plain,
    HfCache,
    HfSnapshot,
    HfLocalDir,
    /// One file given on its own (a `.gguf`, a `.safetensors`).
    File,
}

impl Layout {
    /// Every layout, by the name recorded.
    pub(crate) const ALL: [Layout; 5] = [
        Layout::Plain,
        Layout::HfCache,
        Layout::HfSnapshot,
        Layout::HfLocalDir,
        Layout::File,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Layout::Plain => "plain",
            Layout::HfCache => "hf-cache",
            Layout::HfSnapshot => "hf-snapshot",
            Layout::HfLocalDir => "hf-local-dir",
            Layout::File => "file",
        }
    }
}

/// A resolved source folder.
#[derive(Debug)]
pub(crate) struct Source {
    pub(crate) layout: Layout,
    /// The folder whose tree is the model.
    pub(crate) root: PathBuf,
    pub(crate) files: Vec<SourceFile>,
    /// The upstream revision, where the download recorded it.
    pub(crate) revision: Option<String>,
    /// Notes for the user (e.g. files the listing names that are absent).
    pub(crate) notes: Vec<String>,
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn expectation_from_hex(hex: &str, origin: String) -> Option<Expectation> {
    let hex = hex.trim().trim_matches('"').to_ascii_lowercase();
    let algo = if is_hex(&hex, 64) {
        Algo::Sha256
    } else if is_hex(&hex, 40) {
        Algo::GitSha1
    } else {
        return None;
    };
    Some(Expectation {
        algo,
        value: hex,
        origin,
    })
}

/// Resolve `dir` into a source. `revision` picks a snapshot of a cache repo.
pub(crate) fn resolve(dir: &Path, revision: Option<&str>) -> Result<Source> {
    resolve_repo(dir, revision, None)
}

/// The `models--org--name` folders of a Hugging Face hub cache root (the
/// folder `HF_HUB_CACHE` names), as `(org/name, folder)`, sorted; `None`
/// when `dir` is not one.
pub(crate) fn hub_repos(dir: &Path) -> Result<Option<Vec<(String, PathBuf)>>> {
    if !dir.is_dir() || dir.join("snapshots").is_dir() {
        return Ok(None);
    }
    let mut repos = Vec::new();
    for e in fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))? {
        let e = e.map_err(|e| Error::io("read directory", dir, e))?;
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("models--") else {
            continue;
        };
        let path = e.path();
        if !path.join("snapshots").is_dir() {
            continue;
        }
        repos.push((rest.replace("--", "/"), path));
    }
    repos.sort();
    Ok((!repos.is_empty()).then_some(repos))
}

/// The model id a download's layout names, where it names one: a cache
/// repo folder `models--org--name`, or a snapshot inside one.
pub(crate) fn inferred_name(dir: &Path) -> Option<String> {
    let dir = fs::canonicalize(dir).ok()?;
    let repo = if dir.join("snapshots").is_dir() {
        dir
    } else if dir.parent()?.file_name()? == "snapshots" {
        dir.parent()?.parent()?.to_path_buf()
    } else {
        return None;
    };
    let name = repo.file_name()?.to_string_lossy().into_owned();
    Some(name.strip_prefix("models--")?.replace("--", "/"))
}

/// Resolve a source: a folder in any layout, one file, or — with `repo` —
/// that repo inside a Hugging Face hub cache root. A hub cache root without
/// `repo` is refused rather than read as one plain folder of blobs.
pub(crate) fn resolve_repo(
    dir: &Path,
    revision: Option<&str>,
    repo: Option<&str>,
) -> Result<Source> {
    let meta = fs::metadata(dir).map_err(|e| Error::io("open source", dir, e))?;
    if meta.is_file() {
        return single_file(dir);
    }
    if !meta.is_dir() {
        return Err(Error::Unsafe {
            path: dir.to_path_buf(),
            reason: "neither a folder nor a regular file".into(),
        });
    }
    if let Some(repos) = hub_repos(dir)? {
        let names: Vec<&str> = repos.iter().map(|(n, _)| n.as_str()).collect();
        return match repo.and_then(|r| repos.iter().find(|(n, _)| n == r)) {
            Some((_, path)) => resolve_repo(path, revision, None),
            None => Err(Error::input(format!(
                "`{}` is a Hugging Face hub cache holding {} repo(s) ({}){}",
                dir.display(),
                repos.len(),
                names.iter().take(5).copied().collect::<Vec<_>>().join(", "),
                match repo {
                    Some(r) => format!(", not `{r}`"),
                    None => "; `import` takes each of them, or `--repo ORG/NAME` picks one".into(),
                }
            ))),
        };
    }
    let dir = fs::canonicalize(dir).map_err(|e| Error::io("resolve", dir, e))?;

    // hf-cache: models--org--name/{blobs,snapshots,refs}
    if dir.join("snapshots").is_dir() && dir.join("blobs").is_dir() {
        let rev = pick_snapshot(&dir, revision)?;
        let root = dir.join("snapshots").join(&rev);
        return walk(Layout::HfCache, root, Some(&dir), Some(rev));
    }
    // hf-snapshot: .../snapshots/<rev>
    if let (Some(parent), Some(name)) = (dir.parent(), dir.file_name())
        && parent.file_name().is_some_and(|n| n == "snapshots")
        && let Some(repo) = parent.parent()
        && repo.join("blobs").is_dir()
    {
        let rev = name.to_string_lossy().into_owned();
        let repo = repo.to_path_buf();
        return walk(Layout::HfSnapshot, dir.clone(), Some(&repo), Some(rev));
    }
    if dir.join(".cache/huggingface/download").is_dir() {
        return walk(Layout::HfLocalDir, dir.clone(), None, None);
    }
    walk(Layout::Plain, dir.clone(), None, None)
}

/// One file on its own: the model is that file, under its own name.
fn single_file(path: &Path) -> Result<Source> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "a link or not a regular file".into(),
        });
    }
    let name = path
        .file_name()
        .ok_or_else(|| Error::input(format!("`{}` has no file name", path.display())))?;
    let rel = RelPath::from_path(Path::new(name))?;
    let root = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    Ok(Source {
        layout: Layout::File,
        root,
        files: vec![SourceFile {
            rel,
            path: path.to_path_buf(),
            size: meta.len(),
            expect: Vec::new(),
        }],
        revision: None,
        notes: Vec::new(),
    })
}

fn pick_snapshot(repo: &Path, revision: Option<&str>) -> Result<String> {
    let snaps = repo.join("snapshots");
    let mut names = Vec::new();
    for e in fs::read_dir(&snaps).map_err(|e| Error::io("read directory", &snaps, e))? {
        let e = e.map_err(|e| Error::io("read directory", &snaps, e))?;
        names.push(e.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    let from_ref = |r: &str| -> Result<Option<String>> {
        let p = repo.join("refs").join(r);
        if RelPath::from_path(Path::new(r)).is_err() || !p.is_file() {
            return Ok(None);
        }
        Ok(Some(read_small(&p, 256)?.trim().to_string()))
    };
    let chosen = match revision {
        Some(r) if names.iter().any(|n| n == r) => r.to_string(),
        Some(r) => from_ref(r)?
            .ok_or_else(|| Error::not_found("snapshot", format!("{r} in `{}`", snaps.display())))?,
        None => match from_ref("main")? {
            Some(c) => c,
            None if names.len() == 1 => names[0].clone(),
            None => {
                return Err(Error::input(format!(
                    "`{}` has {} snapshots and no `refs/main`; pick one with `--revision`",
                    repo.display(),
                    names.len()
                )));
            }
        },
    };
    if !names.contains(&chosen) || RelPath::from_path(Path::new(&chosen)).is_err() {
        return Err(Error::not_found(
            "snapshot",
            format!("{chosen} in `{}`", snaps.display()),
        ));
    }
    Ok(chosen)
}

fn walk(
    layout: Layout,
    root: PathBuf,
    repo: Option<&Path>,
    revision: Option<String>,
) -> Result<Source> {
    let blobs = match repo {
        Some(r) => Some(
            fs::canonicalize(r.join("blobs"))
                .map_err(|e| Error::io("resolve", r.join("blobs"), e))?,
        ),
        None => None,
    };
    let mut files = Vec::new();
    let walker = walkdir::WalkDir::new(&root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir()
                    && (e.file_name() == ".git" || e.file_name() == ".cache"))
        });
    for entry in walker {
        let entry = entry.map_err(|e| {
            let p = e
                .path()
                .map(Path::to_path_buf)
                .unwrap_or_else(|| root.clone());
            Error::io(
                "walk",
                p,
                e.into_io_error()
                    .unwrap_or_else(|| std::io::Error::other("walk failed")),
            )
        })?;
        let ft = entry.file_type();
        if ft.is_dir() {
            continue;
        }
        let path = entry.path().to_path_buf();
        let rel_path = path.strip_prefix(&root).expect("walk stays under its root");
        let rel = RelPath::from_path(rel_path)?;
        if ft.is_file() {
            let size = entry
                .metadata()
                .map_err(|e| Error::io("stat", &path, e.into()))?
                .len();
            files.push(SourceFile {
                rel,
                path,
                size,
                expect: Vec::new(),
            });
        } else if ft.is_symlink() {
            files.push(resolve_link(&root, blobs.as_deref(), rel, &path)?);
        } else {
            let kind = if ft.is_fifo() {
                "a FIFO"
            } else if ft.is_socket() {
                "a socket"
            } else if ft.is_block_device() || ft.is_char_device() {
                "a device"
            } else {
                "not a regular file"
            };
            return Err(Error::Unsafe {
                path,
                reason: format!("it is {kind}"),
            });
        }
    }
    let mut src = Source {
        layout,
        root,
        files,
        revision,
        notes: Vec::new(),
    };
    if layout == Layout::HfLocalDir {
        read_local_dir_metadata(&mut src)?;
    }
    read_tree_listing(&mut src, repo)?;
    Ok(src)
}

/// A symlink is followed only when it lands on a regular file inside the
/// source (or, for cache snapshots, inside the repo's `blobs/`).
fn resolve_link(
    root: &Path,
    blobs: Option<&Path>,
    rel: RelPath,
    link: &Path,
) -> Result<SourceFile> {
    let target = fs::canonicalize(link).map_err(|e| Error::Unsafe {
        path: link.to_path_buf(),
        reason: format!("broken symbolic link ({e})"),
    })?;
    let in_blobs = blobs.is_some_and(|b| target.parent() == Some(b));
    if !in_blobs && !target.starts_with(root) {
        return Err(Error::Unsafe {
            path: link.to_path_buf(),
            reason: format!(
                "symbolic link leaves the source folder (points to `{}`)",
                target.display()
            ),
        });
    }
    let meta = fs::symlink_metadata(&target).map_err(|e| Error::io("stat", &target, e))?;
    if !meta.is_file() {
        return Err(Error::Unsafe {
            path: link.to_path_buf(),
            reason: "symbolic link does not point to a regular file".into(),
        });
    }
    let mut expect = Vec::new();
    if in_blobs {
        let blob_name = target
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        if let Some(e) = expectation_from_hex(&blob_name, format!("blob name `blobs/{blob_name}`"))
        {
            expect.push(e);
        }
    }
    Ok(SourceFile {
        rel,
        path: target,
        size: meta.len(),
        expect,
    })
}

/// `.cache/huggingface/download/<path>.metadata`: commit, etag, timestamp.
fn read_local_dir_metadata(src: &mut Source) -> Result<()> {
    let meta_root = src.root.join(".cache/huggingface/download");
    let mut commits: HashMap<String, usize> = HashMap::new();
    for f in &mut src.files {
        let mp = PathBuf::from(format!("{}.metadata", f.rel.under(&meta_root).display()));
        if !mp.is_file() {
            continue;
        }
        let text = read_small(&mp, 4096)?;
        let mut lines = text.lines();
        let commit = lines.next().unwrap_or("").trim().to_string();
        let etag = lines.next().unwrap_or("").trim();
        let origin = format!(".cache/huggingface/download/{}.metadata", f.rel);
        match expectation_from_hex(etag, origin.clone()) {
            Some(e) => f.expect.push(e),
            None => {
                return Err(Error::Hostile {
                    what: origin,
                    reason: format!("etag `{etag}` is neither a sha256 nor a git blob id"),
                });
            }
        }
        if is_hex(&commit, 40) {
            *commits.entry(commit).or_default() += 1;
        }
    }
    if commits.len() == 1 {
        src.revision = commits.into_keys().next();
    } else if commits.len() > 1 {
        src.notes.push(format!(
            "the download metadata names {} different commits; no revision recorded",
            commits.len()
        ));
    }
    Ok(())
}

#[derive(Deserialize)]
struct TreeEntry {
    #[serde(rename = "type")]
    kind: String,
    path: String,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    size: Option<u64>,
    #[serde(default)]
    lfs: Option<TreeLfs>,
}

#[derive(Deserialize)]
struct TreeLfs {
    oid: String,
    #[serde(default)]
    size: Option<u64>,
}

/// `trees/<rev>.json` beside a cache repo's `snapshots/`, or under
/// `.cache/huggingface/trees/` of a local-dir download.
fn read_tree_listing(src: &mut Source, repo: Option<&Path>) -> Result<()> {
    let Some(rev) = src.revision.clone() else {
        return Ok(());
    };
    if RelPath::from_path(Path::new(&rev)).is_err() {
        return Ok(());
    }
    let candidates = [
        repo.map(|r| r.join("trees").join(format!("{rev}.json"))),
        Some(
            src.root
                .join(".cache/huggingface/trees")
                .join(format!("{rev}.json")),
        ),
    ];
    let Some(path) = candidates.into_iter().flatten().find(|p| p.is_file()) else {
        return Ok(());
    };
    const CAP: u64 = 64 << 20;
    let f = open_regular(&path)?;
    let entries: Vec<TreeEntry> = serde_json::from_reader(std::io::BufReader::new(f.take(CAP)))
        .map_err(|e| Error::Hostile {
            what: path.display().to_string(),
            reason: format!("not a valid tree listing: {e}"),
        })?;
    let origin = format!("trees/{rev}.json");
    let mut by_path: HashMap<&str, usize> = HashMap::new();
    for (i, f) in src.files.iter().enumerate() {
        by_path.insert(f.rel.as_str(), i);
    }
    let mut absent = Vec::new();
    let mut adds: Vec<(usize, Expectation)> = Vec::new();
    for e in entries.iter().filter(|e| e.kind == "file") {
        let Some(&i) = by_path.get(e.path.as_str()) else {
            absent.push(e.path.clone());
            continue;
        };
        let (hash, size) = match &e.lfs {
            Some(l) => (Some(l.oid.as_str()), l.size.or(e.size)),
            None => (e.oid.as_deref(), e.size),
        };
        if let Some(x) = hash.and_then(|h| expectation_from_hex(h, origin.clone())) {
            adds.push((i, x));
        }
        if let Some(s) = size {
            adds.push((
                i,
                Expectation {
                    algo: Algo::Size,
                    value: s.to_string(),
                    origin: origin.clone(),
                },
            ));
        }
    }
    for (i, x) in adds {
        src.files[i].expect.push(x);
    }
    if !absent.is_empty() {
        src.notes.push(format!(
            "{} file(s) listed in {origin} are not in the download (e.g. `{}`)",
            absent.len(),
            absent[0]
        ));
    }
    Ok(())
}
