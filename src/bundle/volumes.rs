//! Writing a bundle as one file or as numbered volumes, and reading it back.
//!
//! Volumes are a plain byte split of the tar stream: `OUT.001`, `OUT.002`, …
//! each at most the volume size. The reader chains them in order; a missing
//! later volume shows up as a truncated member, which the signed index
//! catches. Output is written under temporary names and renamed into place
//! only when the whole bundle is complete.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The path of volume `n` (1-based) of a bundle written to `out`.
pub(crate) fn volume_path(out: &Path, n: usize) -> PathBuf {
    PathBuf::from(format!("{}.{n:03}", out.display()))
}

/// A writer that fills temp files, rotating at `volume_size` bytes.
pub(crate) struct VolumeWriter {
    out: PathBuf,
    volume_size: Option<u64>,
    current: Option<(tempfile::NamedTempFile, u64)>,
    done: Vec<tempfile::NamedTempFile>,
}

impl VolumeWriter {
    pub(crate) fn new(out: &Path, volume_size: Option<u64>) -> Result<VolumeWriter> {
        if let Some(v) = volume_size
            && v < 10 * 1024
        {
            return Err(Error::input(format!(
                "a volume must hold at least 10 KiB, not {v} bytes"
            )));
        }
        let mut w = VolumeWriter {
            out: out.to_path_buf(),
            volume_size,
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
        if let Some((f, _)) = self.current.take() {
            self.done.push(f);
        }
        if self.done.len() >= 999 {
            return Err(Error::input(
                "more than 999 volumes; choose a larger --volume-size",
            ));
        }
        let dir = self.dir();
        let f = tempfile::Builder::new()
            .prefix(".airlock-export-")
            .tempfile_in(&dir)
            .map_err(|e| Error::io("create temp file in", &dir, e))?;
        self.current = Some((f, 0));
        Ok(())
    }

    /// Flush, fsync and rename every part into place. Returns the paths.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        if let Some((f, _)) = self.current.take() {
            self.done.push(f);
        }
        let split = self.volume_size.is_some();
        let perms = std::fs::Permissions::from_mode(0o644);
        let dir = self.dir();
        let mut paths = Vec::new();
        let n = self.done.len();
        for (i, f) in self.done.into_iter().enumerate() {
            // Bundles are meant to be read by others: 0644, like `tar cf`.
            f.as_file()
                .set_permissions(perms.clone())
                .map_err(|e| Error::io("chmod", f.path(), e))?;
            f.as_file()
                .sync_all()
                .map_err(|e| Error::io("fsync", f.path(), e))?;
            let dest = if split {
                volume_path(&self.out, i + 1)
            } else {
                self.out.clone()
            };
            if dest.exists() {
                return Err(Error::input(format!(
                    "`{}` exists; refusing to overwrite",
                    dest.display()
                )));
            }
            f.persist(&dest)
                .map_err(|e| Error::io("rename into place", &dest, e.error))?;
            paths.push(dest);
        }
        debug_assert_eq!(paths.len(), n);
        crate::store::sync_dir(&dir)?;
        Ok(paths)
    }
}

impl Write for VolumeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let room = match self.volume_size {
            Some(v) => {
                if self.current.as_ref().is_some_and(|(_, n)| *n >= v) {
                    self.rotate().map_err(io::Error::other)?;
                }
                let used = self.current.as_ref().map(|(_, n)| *n).unwrap_or(0);
                (v - used).min(buf.len() as u64) as usize
            }
            None => buf.len(),
        };
        let (f, n) = self.current.as_mut().expect("a volume is open");
        let wrote = f.as_file_mut().write(&buf[..room])?;
        *n += wrote as u64;
        Ok(wrote)
    }

    fn flush(&mut self) -> io::Result<()> {
        match self.current.as_mut() {
            Some((f, _)) => f.as_file_mut().flush(),
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
        })
    }

    fn base(&self) -> PathBuf {
        let s = self.first.to_string_lossy();
        PathBuf::from(&s[..s.len() - 4])
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
        let out = dir.path().join("b.airlock");
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut w = VolumeWriter::new(&out, Some(16 * 1024)).unwrap();
        w.write_all(&data).unwrap();
        let paths = w.finish().unwrap();
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
        assert_eq!(leftovers, 7, "no temp files remain");
    }
}
