//! Writing a bundle as one file or as numbered volumes, and reading it back.
//!
//! Volumes are a plain byte split of the tar stream: `OUT.001`, `OUT.002`, …
//! each at most the volume size. The reader chains them in order; a missing
//! later volume shows up as a truncated member, which the signed index
//! catches, and the importer then names the volume the chain ended at
//! (`Error::VolumeMissing`, exit 1: incomplete, not tampered). Output is written under temporary names (`.OUT.airlock-export-*`,
//! tracked as pending in the home) and renamed into place only when the
//! whole bundle is complete, the first volume last.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The path of volume `n` (1-based) of a bundle written to `out`.
pub(crate) fn volume_path(out: &Path, n: usize) -> PathBuf {
    PathBuf::from(format!("{}.{n:03}", out.display()))
}

/// The first thing already at a bundle output `out`: the file itself or
/// any volume `out.NNN`.
pub(crate) fn existing_output(out: &Path) -> Result<Option<PathBuf>> {
    if std::fs::symlink_metadata(out).is_ok() {
        return Ok(Some(out.to_path_buf()));
    }
    let dir = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let Some(name) = out.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return Ok(None);
    };
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read directory", &dir, e)),
    };
    for e in entries {
        let e = e.map_err(|e| Error::io("read directory", &dir, e))?;
        let n = e.file_name().to_string_lossy().into_owned();
        if let Some(rest) = n.strip_prefix(&name).and_then(|r| r.strip_prefix('.'))
            && rest.len() == 3
            && rest.bytes().all(|b| b.is_ascii_digit())
        {
            return Ok(Some(e.path()));
        }
    }
    Ok(None)
}

/// A writer that fills temp files beside the output, rotating at
/// `volume_size` bytes. Every temp file and every final name is tracked as
/// pending before it is made, so a failure (or, for `gc`, a crash) removes
/// them all.
pub(crate) struct VolumeWriter<'p, 'r> {
    out: PathBuf,
    volume_size: Option<u64>,
    pending: &'p crate::pending::Pending<'r>,
    token: String,
    current: Option<(File, PathBuf, u64)>,
    done: Vec<(File, PathBuf)>,
}

impl<'p, 'r> VolumeWriter<'p, 'r> {
    pub(crate) fn new(
        out: &Path,
        volume_size: Option<u64>,
        pending: &'p crate::pending::Pending<'r>,
    ) -> Result<VolumeWriter<'p, 'r>> {
        if let Some(v) = volume_size
            && v < 10 * 1024
        {
            return Err(Error::input(format!(
                "a volume must hold at least 10 KiB, not {v} bytes"
            )));
        }
        let mut raw = [0u8; 6];
        getrandom::fill(&mut raw).map_err(|e| Error::system("read system randomness", e))?;
        let mut w = VolumeWriter {
            out: out.to_path_buf(),
            volume_size,
            pending,
            token: hex::encode(raw),
            current: None,
            done: Vec::new(),
        };
        w.rotate()?;
        Ok(w)
    }

    fn dir(&self) -> PathBuf {
        match self.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    fn rotate(&mut self) -> Result<()> {
        if let Some((f, p, _)) = self.current.take() {
            self.done.push((f, p));
        }
        if self.done.len() >= 999 {
            return Err(Error::input(
                "more than 999 volumes; choose a larger --volume-size",
            ));
        }
        let name = self
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = self.dir().join(format!(
            ".{name}.airlock-export-{}.{:03}",
            self.token,
            self.done.len() + 1
        ));
        self.pending.track(&path)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create temp file", &path, e))?;
        self.current = Some((f, path, 0));
        Ok(())
    }

    /// Fsync every part, then rename them into place — the first volume
    /// (or the single file) last, so its appearance is the commit. Returns
    /// the final paths in order.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        if let Some((f, p, _)) = self.current.take() {
            self.done.push((f, p));
        }
        let split = self.volume_size.is_some();
        // Bundles are meant to be read by others: 0644, like `tar cf`.
        let perms = std::fs::Permissions::from_mode(0o644);
        let mut finals = Vec::new();
        for (i, (f, p)) in self.done.iter().enumerate() {
            f.set_permissions(perms.clone())
                .map_err(|e| Error::io("chmod", p, e))?;
            f.sync_all().map_err(|e| Error::io("fsync", p, e))?;
            let dest = if split {
                volume_path(&self.out, i + 1)
            } else {
                self.out.clone()
            };
            if std::fs::symlink_metadata(&dest).is_ok() {
                return Err(Error::input(format!(
                    "`{}` exists; refusing to overwrite",
                    dest.display()
                )));
            }
            self.pending.track(&dest)?;
            finals.push(dest);
        }
        for ((_, from), dest) in self.done.iter().zip(&finals).rev() {
            match crate::fsio::rename_noreplace(from, dest) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.pending.untrack(dest)?;
                    return Err(Error::input(format!(
                        "`{}` appeared meanwhile; refusing to overwrite",
                        dest.display()
                    )));
                }
                Err(e) => return Err(Error::io("rename into place", dest, e)),
            }
        }
        crate::store::sync_dir(&self.dir())?;
        Ok(finals)
    }
}

/// How much of a volume is written before its writeback is started.
const WRITEBACK_STEP: u64 = 32 << 20;

impl Write for VolumeWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = match self.volume_size {
            Some(v) => {
                if self.current.as_ref().is_some_and(|(_, _, n)| *n >= v) {
                    self.rotate().map_err(io::Error::other)?;
                }
                let used = self.current.as_ref().map(|(_, _, n)| *n).unwrap_or(0);
                (v - used).min(buf.len() as u64) as usize
            }
            None => buf.len(),
        };
        let (f, _, n) = self.current.as_mut().expect("a volume is open");
        let wrote = f.write(&buf[..room])?;
        let before = *n;
        *n += wrote as u64;
        // Writeback starts as each stretch is written, beside the reading
        // and hashing, instead of all at the final fsync.
        if before / WRITEBACK_STEP != *n / WRITEBACK_STEP {
            let end = *n / WRITEBACK_STEP * WRITEBACK_STEP;
            crate::store::direct::start_writeback(f, end - WRITEBACK_STEP, WRITEBACK_STEP);
        }
        Ok(wrote)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some((f, _, _)) => f.flush(),
            None => Ok(()),
        }
    }
}

/// Reads a bundle file, or a chain of volumes starting at `*.001`.
pub(crate) struct VolumeReader {
    first: PathBuf,
    current: File,
    next: Option<usize>,
    pub(crate) volumes: usize,
    /// Set when the chain ended because volume N was not there: if the
    /// bundle turns out shorter than its index says, that is why.
    pub(crate) ended_at: std::rc::Rc<std::cell::Cell<Option<usize>>>,
}

impl VolumeReader {
    pub(crate) fn open(path: &Path) -> Result<VolumeReader> {
        let f = crate::fsio::open_regular(path)?;
        let s = path.to_string_lossy();
        let next = s.ends_with(".001").then_some(2);
        Ok(VolumeReader {
            first: path.to_path_buf(),
            current: f,
            next,
            volumes: 1,
            ended_at: Default::default(),
        })
    }

    fn base(&self) -> PathBuf {
        let s = self.first.to_string_lossy();
        PathBuf::from(&s[..s.len() - 4])
    }

    /// The path of volume `n` of this set.
    pub(crate) fn volume(&self, n: usize) -> PathBuf {
        volume_path(&self.base(), n)
    }
}

impl Read for VolumeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.current.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            let Some(k) = self.next else { return Ok(0) };
            let p = volume_path(&self.base(), k);
            // Opened without following a link and without blocking, then
            // checked on the descriptor: no check-then-open race.
            match crate::fsio::open_regular(&p) {
                Ok(f) => {
                    self.current = f;
                    self.next = Some(k + 1);
                    self.volumes += 1;
                }
                Err(crate::error::Error::Io { source, .. })
                    if source.kind() == io::ErrorKind::NotFound =>
                {
                    self.next = None;
                    self.ended_at.set(Some(k));
                    return Ok(0);
                }
                // A volume that is a link, a FIFO or a device is hostile:
                // `InvalidData` tells the importer so (see `bundle::import`).
                Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.to_string())),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let reg = crate::registry::Registry::open_or_create(&dir.path().join("home")).unwrap();
        let out = dir.path().join("b.airlock");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let pending = crate::pending::begin(
            &reg,
            crate::pending::OutputKind::Export,
            &out,
            serde_json::Value::Null,
        )
        .unwrap();
        let mut w = VolumeWriter::new(&out, Some(16 * 1024), &pending).unwrap();
        w.write_all(&data).unwrap();
        let paths = w.finish().unwrap();
        pending.finish().unwrap();
        assert_eq!(paths.len(), 7);
        for p in &paths {
            assert!(std::fs::metadata(p).unwrap().len() <= 16 * 1024);
        }
        let mut r = VolumeReader::open(&paths[0]).unwrap();
        let mut back = Vec::new();
        r.read_to_end(&mut back).unwrap();
        assert_eq!(back, data);
        assert_eq!(r.volumes, 7);
        let leftovers = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(leftovers, 7 + 1, "no temp files remain (beside the home)");
    }
}
