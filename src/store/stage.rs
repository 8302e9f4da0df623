//! Staging: how new bytes enter the store.
//!
//! An import writes each new blob into a private folder under `store/tmp/`
//! (hashed while written, checked, fsynced, made read-only), the caller
//! judges everything it staged (upstream hashes, signatures, the model-file
//! safety policy), and only then [`Staging::commit`] renames the blobs into
//! `store/sha256/`. So a refused import leaves no blob and no empty fan-out
//! folder behind, and an interrupted one leaves only its temp folder, which
//! the next writer clears. Bytes already in the store are not staged again
//! (unless the caller asks to replace a copy whose stat changed: the heal).
//!
//! After the commit the renamed blobs are not yet referenced: the returned
//! [`Committed`] removes them (and the fan-out folders it made) unless the
//! caller's database transaction succeeded and it was told to keep them.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{IngestSpec, Ingested, Store, direct, set_read_only, stream_pieces, sync_dir};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::progress::Progress;

/// Below this size a file is staged with one plain write from the reading
/// thread (no writer thread, no `O_DIRECT` buffers).
const SMALL: u64 = 256 << 10;

/// Sub-folders of a staging folder.
const SHARDS: usize = 64;

/// A private folder of new blobs, waiting for the caller's verdict.
pub(crate) struct Staging<'s> {
    store: &'s Store,
    dir: tempfile::TempDir,
    /// Blobs that will be new (or replace a changed copy) at commit, each
    /// with its name inside the staging folder.
    staged: Mutex<BTreeMap<Sha256Digest, StagedName>>,
    /// Files staged so far (picks the shard).
    next: std::sync::atomic::AtomicUsize,
    /// Which shard folders exist (one bit each): made once, not asked for
    /// again with every file.
    made: std::sync::atomic::AtomicU64,
}

impl<'s> Staging<'s> {
    /// A new, empty staging folder under `store/tmp/`.
    pub(crate) fn new(store: &'s Store) -> Result<Staging<'s>> {
        let tmp = store.tmp_dir();
        let dir = tempfile::Builder::new()
            .prefix("stage-")
            .tempdir_in(&tmp)
            .map_err(|e| Error::io("create staging folder in", &tmp, e))?;
        Ok(Staging {
            store,
            dir,
            staged: Mutex::new(BTreeMap::new()),
            next: std::sync::atomic::AtomicUsize::new(0),
            made: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// The staging folder.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The sub-folder the next staged file goes in: files are spread over
    /// [`SHARDS`] folders so parallel workers do not queue on one folder's
    /// lock, and no folder grows to a hundred thousand entries.
    fn shard(&self) -> Result<PathBuf> {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % SHARDS;
        let p = self.dir.path().join(format!("{n:02x}"));
        let bit = 1u64 << n;
        if self.made.load(std::sync::atomic::Ordering::Acquire) & bit != 0 {
            return Ok(p);
        }
        match fs::create_dir(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(Error::io("create staging folder", &p, e)),
        }
        self.made.fetch_or(bit, std::sync::atomic::Ordering::AcqRel);
        Ok(p)
    }

    fn staged(&self) -> std::sync::MutexGuard<'_, BTreeMap<Sha256Digest, StagedName>> {
        self.staged.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Stream `src` into the staging folder while hashing; `spec.check`
    /// sees the digests first, and an error from it discards the bytes.
    pub(crate) fn ingest(
        &self,
        src: &mut dyn Read,
        spec: &IngestSpec<'_>,
        progress: &dyn Progress,
    ) -> Result<Ingested> {
        let shard = self.shard()?;
        // Made read-only as it is created (the open descriptor still
        // writes): no chmod per blob afterwards.
        let tmp = tempfile::Builder::new()
            .prefix("in-")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o444))
            .tempfile_in(&shard)
            .map_err(|e| Error::io("create temp file in", &shard, e))?;
        let tmp_path = tmp.path().to_path_buf();
        let git_len = spec.want_git_sha1.then_some(spec.size_hint);
        let s = if spec.size_hint < SMALL {
            // A small file: one read, one write, no writer thread.
            let mut out = tmp.as_file();
            let mut sink = super::each_sized(spec.size_hint as usize + 1, |chunk| {
                std::io::Write::write_all(&mut out, chunk)
                    .map_err(|e| Error::io("write", &tmp_path, e))
            });
            stream_pieces(src, spec.what, git_len, spec.piece, &mut sink, progress)?
        } else {
            direct::write_through(tmp.as_file(), &tmp_path, true, |sink| {
                stream_pieces(src, spec.what, git_len, spec.piece, sink, progress)
            })?
        };
        (spec.check)(&s.sha256, s.git_sha1.as_deref(), s.size)?;
        if !self.wants(&s.sha256, spec)? {
            return Ok(s);
        }
        // Durable before it is renamed into the store: one `syncfs` at the
        // commit covers every staged blob (see `commit`).
        let kept = tmp
            .into_temp_path()
            .keep()
            .map_err(|e| Error::io("keep staged blob", &tmp_path, e.error))?;
        self.adopt(s.sha256, kept)?;
        Ok(s)
    }

    /// Whether bytes with digest `d` are needed: not already staged, and
    /// either absent from the store or a copy the caller wants replaced.
    fn wants(&self, d: &Sha256Digest, spec: &IngestSpec<'_>) -> Result<bool> {
        if self.staged().contains_key(d) {
            return Ok(false);
        }
        Ok(match self.store.stat(d)? {
            None => true,
            Some(st) => (spec.replace_if)(d, &st),
        })
    }

    /// Keep `path` (inside the staging folder, fully written, read-only) as
    /// the staged copy of `d`. Returns false when another copy of the same
    /// bytes was staged first (this one is dropped).
    fn adopt(&self, d: Sha256Digest, path: PathBuf) -> Result<bool> {
        let name = StagedName::of(self.dir.path(), &path)?;
        let mut staged = self.staged();
        if staged.contains_key(&d) {
            fs::remove_file(&path).map_err(|e| Error::io("remove duplicate", &path, e))?;
            return Ok(false);
        }
        staged.insert(d, name);
        Ok(true)
    }

    /// A hard link to `source` inside the staging folder (for `--link`);
    /// `None` when the file system will not link across.
    pub(crate) fn link(&self, source: &Path) -> Option<tempfile::TempPath> {
        let shard = self.shard().ok()?;
        tempfile::Builder::new()
            .prefix("link-")
            .make_in(&shard, |p| fs::hard_link(source, p))
            .ok()
            .map(tempfile::NamedTempFile::into_temp_path)
    }

    /// Keep a link made by [`Staging::link`] as the staged copy of `d`,
    /// after its bytes were hashed through it and checked.
    pub(crate) fn adopt_link(
        &self,
        link: tempfile::TempPath,
        d: Sha256Digest,
        spec: &IngestSpec<'_>,
    ) -> Result<()> {
        if !self.wants(&d, spec)? {
            return Ok(());
        }
        set_read_only(&link)?;
        let path = link.to_path_buf();
        link.keep()
            .map_err(|e| Error::io("keep staged link", &path, e.error))?;
        self.adopt(d, path).map(|_| ())
    }

    /// Where the bytes of `d` are now: staged, or in the store.
    pub(crate) fn path(&self, d: &Sha256Digest) -> PathBuf {
        self.staged()
            .get(d)
            .map(|n| n.path(self.dir.path()))
            .unwrap_or_else(|| self.store.blob_path(d))
    }

    /// Whether `d` was staged here.
    pub(crate) fn is_staged(&self, d: &Sha256Digest) -> bool {
        self.staged().contains_key(d)
    }

    /// Whether `d` is present, staged or stored.
    pub(crate) fn has(&self, d: &Sha256Digest) -> Result<bool> {
        Ok(self.staged().contains_key(d) || self.store.stat(d)?.is_some())
    }

    /// Move every staged blob into the store (fan-out folder made and
    /// fsynced as needed). The answer removes them again on drop unless
    /// [`Committed::keep`] is called once the records are committed.
    ///
    /// Durability in two steps for any number of blobs: one `syncfs` makes
    /// every staged byte durable before the first rename, and after the
    /// renames each fan-out folder touched is fsynced once, so the names are
    /// durable before the caller's database commit refers to them.
    pub(crate) fn commit(self) -> Result<Committed<'s>> {
        let staged = std::mem::take(&mut *self.staged());
        let mut done = Committed {
            store: self.store,
            created: Vec::new(),
            dirs: Vec::new(),
            keep: false,
        };
        if staged.is_empty() {
            return Ok(done);
        }
        super::sync_fs(self.dir.path())?;
        let mut touched = std::collections::BTreeSet::new();
        for (d, name) in staged {
            let from = name.path(self.dir.path());
            let dest = self.store.blob_path(&d);
            let parent = dest.parent().expect("blob path has a parent");
            // A fan-out folder is looked at once per commit, not per blob.
            if !touched.contains(parent) {
                if !parent.is_dir() {
                    fs::create_dir_all(parent)
                        .map_err(|e| Error::io("create directory", parent, e))?;
                    done.dirs.push(parent.to_path_buf());
                }
                touched.insert(parent.to_path_buf());
            }
            // New unless something is there already (a copy being replaced:
            // the heal), found by the rename itself rather than a stat.
            let existed = match crate::fsio::rename_noreplace(&from, &dest) {
                Ok(()) => false,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    fs::rename(&from, &dest)
                        .map_err(|e| Error::io("rename into store", &dest, e))?;
                    true
                }
                Err(e) => return Err(Error::io("rename into store", &dest, e)),
            };
            if !existed {
                done.created.push(d);
            }
        }
        for dir in &touched {
            sync_dir(dir)?;
        }
        if !done.dirs.is_empty() {
            sync_dir(&self.store.root.join("sha256"))?;
        }
        Ok(done)
    }
}

/// A staged file's name inside its staging folder (`3f/in-Ab12Cd`), held
/// inline: a hundred thousand staged blobs need no path each.
#[derive(Clone, Copy)]
pub(crate) struct StagedName {
    len: u8,
    bytes: [u8; 15],
}

impl StagedName {
    fn of(dir: &Path, path: &Path) -> Result<StagedName> {
        let rel = path
            .strip_prefix(dir)
            .ok()
            .and_then(Path::to_str)
            .filter(|r| r.len() <= 15)
            .ok_or_else(|| {
                Error::io(
                    "stage",
                    path,
                    std::io::Error::other("not a short name inside the staging folder"),
                )
            })?;
        let mut bytes = [0; 15];
        bytes[..rel.len()].copy_from_slice(rel.as_bytes());
        Ok(StagedName {
            len: rel.len() as u8,
            bytes,
        })
    }

    fn path(&self, dir: &Path) -> PathBuf {
        let rel = std::str::from_utf8(&self.bytes[..self.len as usize]).expect("made from a str");
        dir.join(rel)
    }
}

/// Blobs a commit moved into the store, removed again on drop unless kept.
pub(crate) struct Committed<'s> {
    store: &'s Store,
    /// Blobs that did not exist before this commit.
    pub(crate) created: Vec<Sha256Digest>,
    dirs: Vec<PathBuf>,
    keep: bool,
}

impl Committed<'_> {
    /// The records referencing the blobs are committed: keep them.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }
}

impl Drop for Committed<'_> {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        for d in &self.created {
            // Best effort: a blob left here is unreferenced and `gc` removes it.
            let _ = self.store.remove(d);
        }
        for dir in &self.dirs {
            // Only if empty: another blob may have arrived there meanwhile.
            let _ = fs::remove_dir(dir);
        }
    }
}
