//! The content-addressed blob store: `store/sha256/<2 hex>/<62 hex>`.
//!
//! Invariants: a file under `sha256/` holds exactly the bytes its name says
//! (enforced on write; re-checked by `verify`), is read-only, and appeared by
//! an atomic rename of a fully written, fsynced temp file from `store/tmp/`
//! followed by an fsync of its directory.
//! An existing blob is success. The store knows nothing of models or the
//! database; it must not be written outside `store/`.

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::digest::{CHUNK, GitBlobHasher, Hasher, Sha256Digest};
use crate::error::{Error, Result};
use crate::progress::Progress;

pub(crate) mod direct;
pub(crate) mod stage;

pub(crate) use stage::Staging;

/// What a blob looked like on disk when last known good. `verify` without
/// `--deep` trusts a blob whose stat still matches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BlobStat {
    pub(crate) size: u64,
    pub(crate) ino: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime_ns: i64,
}

impl BlobStat {
    pub(crate) fn of(meta: &fs::Metadata) -> BlobStat {
        BlobStat {
            size: meta.len(),
            ino: meta.ino(),
            mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
            ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
        }
    }
}

/// What streaming one source into the store found.
#[derive(Debug, Clone)]
pub(crate) struct Ingested {
    pub(crate) sha256: Sha256Digest,
    pub(crate) size: u64,
    /// The git blob id, when the caller asked for it.
    pub(crate) git_sha1: Option<String>,
    /// The first bytes (up to 64 KiB), for format sniffing without a re-read.
    pub(crate) head: Vec<u8>,
    /// The piece digests, when asked for and the file is larger than a piece.
    pub(crate) pieces: Option<crate::digest::Pieces>,
}

/// Checks the digests and size of bytes just read (upstream hashes).
pub(crate) type CheckFn<'a> = dyn Fn(&Sha256Digest, Option<&str>, u64) -> Result<()> + Sync + 'a;

/// Decides whether an existing blob with this stat should be replaced.
pub(crate) type ReplaceFn<'a> = dyn Fn(&Sha256Digest, &BlobStat) -> bool + Sync + 'a;

/// How to stream one source.
pub(crate) struct IngestSpec<'a> {
    /// The size the source says it has (seeds the git blob id).
    pub(crate) size_hint: u64,
    pub(crate) want_git_sha1: bool,
    /// What to name in errors (the source path).
    pub(crate) what: &'a str,
    pub(crate) check: &'a CheckFn<'a>,
    pub(crate) replace_if: &'a ReplaceFn<'a>,
    /// Hash pieces of this size too (files larger than one piece).
    pub(crate) piece: Option<u64>,
}

/// Where [`stream`] puts the bytes it reads: it asks for space, fills it
/// (completely, except at the end of the input), hashes it, and hands it
/// back. A sink may own one buffer ([`Each`]) or a pool that a writer thread
/// drains ([`direct`]).
pub(crate) trait Sink {
    /// Space for the next read.
    fn space(&mut self) -> Result<&mut [u8]>;
    /// The first `n` bytes of the last space were filled and hashed.
    fn filled(&mut self, n: usize) -> Result<()>;
}

/// A sink with one buffer that gives each filled chunk to a closure.
pub(crate) struct Each<F> {
    buf: Vec<u8>,
    f: F,
}

/// The same with a buffer of `size` bytes (at most a chunk): for files
/// known to be small.
pub(crate) fn each_sized<F: FnMut(&[u8]) -> Result<()>>(size: usize, f: F) -> Each<F> {
    Each {
        buf: vec![0; size.clamp(1, crate::digest::CHUNK)],
        f,
    }
}

/// A sink that calls `f` with every chunk read.
pub(crate) fn each<F: FnMut(&[u8]) -> Result<()>>(f: F) -> Each<F> {
    Each {
        buf: vec![0u8; CHUNK],
        f,
    }
}

/// A sink that only lets the bytes be hashed.
pub(crate) fn discard() -> Each<impl FnMut(&[u8]) -> Result<()>> {
    each(|_| Ok(()))
}

impl<F: FnMut(&[u8]) -> Result<()>> Sink for Each<F> {
    fn space(&mut self) -> Result<&mut [u8]> {
        Ok(&mut self.buf)
    }

    fn filled(&mut self, n: usize) -> Result<()> {
        (self.f)(&self.buf[..n])
    }
}

/// Read `src` to its end through `sink`'s bounded buffers: sha256 (and the
/// git blob id of a `git_len`-byte file, when given), the head for sniffing,
/// every chunk handed back to `sink`. `what` names the source in errors.
/// Every pass that hashes whole files in chunks — import, verify, checkout,
/// scan — goes through here. (Export hashes each blob through
/// `digest::HashingReader` as the tar writer reads it; licence texts are
/// small capped reads through the same reader.)
pub(crate) fn stream(
    src: &mut dyn Read,
    what: &str,
    git_len: Option<u64>,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
) -> Result<Ingested> {
    stream_pieces(src, what, git_len, None, sink, progress)
}

/// [`stream`], also hashing each `piece`-byte piece (in the same pass) for a
/// file larger than one piece.
pub(crate) fn stream_pieces(
    src: &mut dyn Read,
    what: &str,
    git_len: Option<u64>,
    piece: Option<u64>,
    sink: &mut dyn Sink,
    progress: &dyn Progress,
) -> Result<Ingested> {
    let _streaming = Streaming::start();
    let mut pieces = piece.map(crate::digest::PieceHasher::new);
    let mut hasher = Hasher::new();
    let mut git = git_len.map(GitBlobHasher::new);
    let mut head = Vec::new();
    let mut size = 0u64;
    loop {
        let buf = sink.space()?;
        let room = buf.len();
        let n = fill(src, buf, what)?;
        if n == 0 {
            break;
        }
        let chunk = &buf[..n];
        match pieces.as_mut() {
            // The piece digests on a second thread while a core is idle: a
            // single large file keeps two cores busy instead of taking
            // twice as long. With every core streaming, both digests on
            // this core, side by side (less work than two threads).
            Some(p)
                if n >= 256 << 10 && HASHING.load(Ordering::Relaxed) < crate::parallel::cores() =>
            {
                std::thread::scope(|s| {
                    s.spawn(|| p.update(chunk));
                    hasher.update(chunk);
                })
            }
            Some(p) => p.update_beside(&mut hasher, chunk),
            None => hasher.update(chunk),
        }
        if let Some(g) = git.as_mut() {
            g.update(chunk);
        }
        if head.len() < HEAD_BYTES {
            let take = (HEAD_BYTES - head.len()).min(n);
            head.extend_from_slice(&chunk[..take]);
        }
        sink.filled(n)?;
        size += n as u64;
        progress.inc(n as u64);
        if n < room {
            break; // `fill` stops short only at the end of the input
        }
    }
    Ok(Ingested {
        sha256: hasher.finish(),
        size,
        git_sha1: git.map(|g| g.finish()),
        head,
        pieces: pieces.and_then(crate::digest::PieceHasher::finish),
    })
}

/// Streams this process is hashing right now, one core's work each.
static HASHING: AtomicUsize = AtomicUsize::new(0);

/// One stream counted in [`HASHING`] while it lives.
struct Streaming;

impl Streaming {
    fn start() -> Streaming {
        HASHING.fetch_add(1, Ordering::Relaxed);
        Streaming
    }
}

impl Drop for Streaming {
    fn drop(&mut self) {
        HASHING.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn fill(src: &mut dyn Read, buf: &mut [u8], what: &str) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match src.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("read", what, e)),
        }
    }
    Ok(n)
}

/// Bytes kept from the start of each file for format detection.
pub(crate) const HEAD_BYTES: usize = 64 * 1024;

/// A handle on the store directory.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `root`, as it is (nothing created: read-only use).
    pub(crate) fn at(root: &Path) -> Store {
        Store {
            root: root.to_path_buf(),
        }
    }

    /// How many blob files the store holds, counting no further than `cap`
    /// (0 when there is no store).
    pub(crate) fn count_up_to(&self, cap: usize) -> Result<usize> {
        let top = self.root.join("sha256");
        let mut n = 0;
        let fans = match fs::read_dir(&top) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(Error::io("read directory", &top, e)),
        };
        for fan in fans {
            let fan = fan
                .map_err(|e| Error::io("read directory", &top, e))?
                .path();
            if !fan.is_dir() {
                continue;
            }
            for e in fs::read_dir(&fan).map_err(|e| Error::io("read directory", &fan, e))? {
                e.map_err(|e| Error::io("read directory", &fan, e))?;
                n += 1;
                if n >= cap {
                    return Ok(n);
                }
            }
        }
        Ok(n)
    }

    /// Open (creating if needed) the store under `root`.
    pub(crate) fn open(root: &Path) -> Result<Store> {
        for sub in ["sha256", "tmp"] {
            let p = root.join(sub);
            fs::create_dir_all(&p).map_err(|e| Error::io("create directory", &p, e))?;
        }
        Ok(Store {
            root: root.to_path_buf(),
        })
    }

    pub(crate) fn blob_path(&self, d: &Sha256Digest) -> PathBuf {
        let hex = d.to_hex();
        self.root.join("sha256").join(&hex[..2]).join(&hex[2..])
    }

    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// Stat of a stored blob; `None` if it is absent.
    pub(crate) fn stat(&self, d: &Sha256Digest) -> Result<Option<BlobStat>> {
        let p = self.blob_path(d);
        match fs::symlink_metadata(&p) {
            Ok(m) => Ok(Some(BlobStat::of(&m))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("stat", &p, e)),
        }
    }

    pub(crate) fn open_blob(&self, d: &Sha256Digest) -> Result<File> {
        let p = self.blob_path(d);
        File::open(&p).map_err(|e| Error::io("open blob", &p, e))
    }

    /// Re-hash a stored blob, streaming. Returns the digest and size found.
    pub(crate) fn rehash(
        &self,
        d: &Sha256Digest,
        progress: &dyn Progress,
    ) -> Result<(Sha256Digest, u64)> {
        let p = self.blob_path(d);
        let f = File::open(&p).map_err(|e| Error::io("open blob", &p, e))?;
        hash_reader(f, &p, progress)
    }

    /// Every blob file present, with any names that are not digests.
    pub(crate) fn list(&self) -> Result<(Vec<Sha256Digest>, Vec<PathBuf>)> {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        let top = self.root.join("sha256");
        for e in fs::read_dir(&top).map_err(|e| Error::io("read directory", &top, e))? {
            let e = e.map_err(|e| Error::io("read directory", &top, e))?;
            let prefix = e.file_name().to_string_lossy().into_owned();
            if !e.path().is_dir() {
                bad.push(e.path());
                continue;
            }
            for f in
                fs::read_dir(e.path()).map_err(|er| Error::io("read directory", e.path(), er))?
            {
                let f = f.map_err(|er| Error::io("read directory", e.path(), er))?;
                let name = format!("{prefix}{}", f.file_name().to_string_lossy());
                match name.parse::<Sha256Digest>() {
                    Ok(d) if name.len() == 64 && f.path() == self.blob_path(&d) => good.push(d),
                    _ => bad.push(f.path()),
                }
            }
        }
        good.sort();
        Ok((good, bad))
    }

    /// Remove a blob (gc). Absent is success.
    pub(crate) fn remove(&self, d: &Sha256Digest) -> Result<()> {
        let p = self.blob_path(d);
        match fs::remove_file(&p) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io("remove blob", &p, e)),
        }
    }

    /// Leftover temp files from interrupted runs.
    pub(crate) fn stale_temps(&self) -> Result<Vec<PathBuf>> {
        let dir = self.tmp_dir();
        let mut out = Vec::new();
        for e in fs::read_dir(&dir).map_err(|e| Error::io("read directory", &dir, e))? {
            out.push(e.map_err(|e| Error::io("read directory", &dir, e))?.path());
        }
        out.sort();
        Ok(out)
    }

    /// Delete leftover temp files. Only call while holding the write lock.
    pub(crate) fn clear_temps(&self) -> Result<usize> {
        let temps = self.stale_temps()?;
        for p in &temps {
            let r = if p.is_dir() {
                fs::remove_dir_all(p)
            } else {
                fs::remove_file(p)
            };
            r.map_err(|e| Error::io("remove stale temp", p, e))?;
        }
        Ok(temps.len())
    }
}

/// Hash a reader to its end, streaming through a bounded buffer.
pub(crate) fn hash_reader(
    mut r: impl Read,
    what: &Path,
    progress: &dyn Progress,
) -> Result<(Sha256Digest, u64)> {
    let s = stream(
        &mut r,
        &what.display().to_string(),
        None,
        &mut discard(),
        progress,
    )?;
    Ok((s.sha256, s.size))
}

pub(crate) fn set_read_only(p: &Path) -> Result<()> {
    fs::set_permissions(p, fs::Permissions::from_mode(0o444))
        .map_err(|e| Error::io("make read-only", p, e))
}

/// `syncfs(2)` the file system holding `path`.
#[allow(unsafe_code)] // audited: syncfs on an owned descriptor, SAFETY below
pub(crate) fn sync_fs(path: &Path) -> Result<()> {
    use std::os::fd::AsRawFd;
    let f = File::open(path).map_err(|e| Error::io("open", path, e))?;
    // SAFETY: the descriptor is valid for the life of `f`.
    if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
        return Err(Error::io("syncfs", path, std::io::Error::last_os_error()));
    }
    Ok(())
}

/// fsync a directory so a rename in it is durable.
/// Write `bytes` to `path` (outside the store: a trust root, a holdings
/// file) through a temp file beside it, fsynced, and a rename: the old file
/// or the new one, never half of one.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".airlock-write-")
        .tempfile_in(&dir)
        .map_err(|e| Error::io("create temp file in", &dir, e))?;
    std::io::Write::write_all(&mut tmp, bytes).map_err(|e| Error::io("write", tmp.path(), e))?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::io("fsync", tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| Error::io("rename into place", path, e.error))?;
    sync_dir(&dir)
}

pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    OpenOptions::new()
        .read(true)
        .open(dir)
        .and_then(|f| f.sync_all())
        .map_err(|e| Error::io("fsync directory", dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    #[test]
    fn staged_blobs_appear_only_at_commit_and_go_again_unless_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let never = |_: &Sha256Digest, _: &BlobStat| false;
        let any = |_: &Sha256Digest, _: Option<&str>, _: u64| Ok(());
        let spec = IngestSpec {
            size_hint: 5,
            want_git_sha1: true,
            what: "x",
            check: &any,
            replace_if: &never,
            piece: None,
        };
        let hello = Sha256Digest::of(b"hello");
        let stage = Staging::new(&store).unwrap();
        let a = stage
            .ingest(&mut &b"hello"[..], &spec, &NoProgress)
            .unwrap();
        assert_eq!(
            a.git_sha1.as_deref(),
            Some("b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0")
        );
        assert_eq!(a.sha256, hello);
        // The same bytes twice are staged once.
        stage
            .ingest(&mut &b"hello"[..], &spec, &NoProgress)
            .unwrap();
        assert!(
            store.stat(&hello).unwrap().is_none(),
            "nothing visible before commit"
        );
        assert!(stage.path(&hello).starts_with(store.tmp_dir()));
        let refuse = |d: &Sha256Digest, _: Option<&str>, _: u64| {
            Err(Error::DigestMismatch {
                what: "x".into(),
                expected: "0".repeat(64),
                found: d.to_hex(),
            })
        };
        let bad = IngestSpec {
            check: &refuse,
            ..spec
        };
        assert!(matches!(
            stage.ingest(&mut &b"bye"[..], &bad, &NoProgress),
            Err(Error::DigestMismatch { .. })
        ));
        // A commit whose records fail leaves neither blob nor fan-out folder.
        drop(stage.commit().unwrap());
        assert!(store.stat(&hello).unwrap().is_none());
        assert!(!store.blob_path(&hello).parent().unwrap().exists());
        // A kept commit is read-only in the store, and no temp remains.
        let stage = Staging::new(&store).unwrap();
        stage
            .ingest(&mut &b"hello"[..], &spec, &NoProgress)
            .unwrap();
        let done = stage.commit().unwrap();
        assert_eq!(done.created, vec![hello]);
        done.keep();
        let meta = fs::metadata(store.blob_path(&hello)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o444);
        assert!(store.stale_temps().unwrap().is_empty());
        // Bytes already stored are not staged again.
        let stage = Staging::new(&store).unwrap();
        stage
            .ingest(&mut &b"hello"[..], &spec, &NoProgress)
            .unwrap();
        assert_eq!(stage.path(&hello), store.blob_path(&hello));
        assert!(stage.commit().unwrap().created.is_empty());
    }
}

#[cfg(test)]
mod stream_props {
    use super::*;
    use crate::progress::NoProgress;

    /// A reader that hands out at most `step` bytes per call.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    proptest::proptest! {
        /// The store's one-pass stream hashes and forwards exactly the bytes,
        /// whatever sizes the reader returns.
        #[test]
        fn stream_matches_one_shot(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..20000),
            step in 1usize..3000,
        ) {
            let mut copy = Vec::new();
            let mut sink = each(|c: &[u8]| { copy.extend_from_slice(c); Ok(()) });
            let s = stream(&mut Trickle { data: &data, step }, "t", Some(data.len() as u64), &mut sink, &NoProgress).unwrap();
            proptest::prop_assert_eq!(s.sha256, Sha256Digest::of(&data));
            proptest::prop_assert_eq!(s.size, data.len() as u64);
            proptest::prop_assert_eq!(&s.head[..], &data[..data.len().min(HEAD_BYTES)]);
            proptest::prop_assert_eq!(copy, data);
        }
    }
}
