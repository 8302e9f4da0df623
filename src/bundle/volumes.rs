//! Writing a bundle as one file or as a set of volumes, and planning the
//! set.
//!
//! With `--volume-size`, every volume `OUT.001`, `OUT.002`, … is a bundle
//! of its own: its own signed index (the set's id, its number and the
//! set's count), every statement, and the blobs placed in it — whole, or,
//! for a blob larger than a volume, as parts whose digests every volume's
//! index signs. Any volume imports on its own and keeps what it proved;
//! the set's versions are recorded when the last blob has arrived. Output
//! is written under temporary names (`.OUT.airlock-export-*`, tracked as
//! pending in the home) and renamed into place only when every volume
//! asked for is complete, the first volume last.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The path of volume `n` (1-based) of a bundle written to `out`.
pub fn volume_path(out: &Path, n: usize) -> PathBuf {
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

/// Bytes a member costs in a volume beside its data (padded to 512): its
/// tar header and its entry in the volume's index or member list, and in
/// every index's split list for a part (a generous bound).
pub(crate) const MEMBER_COST: u64 = 512 + 320;

/// The smallest stretch of blob bytes a part is made of.
const MIN_PART: u64 = 4096;

/// `n` rounded up to whole tar blocks.
pub(crate) fn padded(n: u64) -> u64 {
    n.div_ceil(512) * 512
}

/// Bytes `offset..offset + len` of payload item `item`, placed in a
/// volume: the whole item, or one of its parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placed {
    pub(crate) item: usize,
    pub(crate) offset: u64,
    pub(crate) len: u64,
}

/// Place items of `sizes`, in order, into volumes of `volume_size`:
/// each volume first carries `overhead(parts)` bytes (index, signature,
/// statements, with room for `parts` split-list entries); an item that does
/// not fit in the room left starts a new volume; one larger than a whole
/// volume is split into parts that fill the room left and then whole
/// volumes.
pub(crate) fn plan(
    sizes: &[u64],
    volume_size: u64,
    overhead: &dyn Fn(usize) -> u64,
) -> Result<Vec<Vec<Placed>>> {
    let mut reserve = 0usize;
    for _ in 0..16 {
        let fixed = overhead(reserve);
        let cap = volume_size
            .checked_sub(fixed)
            .filter(|c| *c >= MEMBER_COST + MIN_PART)
            .ok_or_else(|| {
                Error::input(format!(
                    "--volume-size of {volume_size} bytes is too small: every volume carries the signed index (with the list of parts of blobs larger than a volume) and every statement ({fixed} bytes here) besides its blobs; use at least {} bytes",
                    fixed + (1 << 20)
                ))
            })?;
        let vols = place(sizes, cap);
        let parts = vols
            .iter()
            .flatten()
            .filter(|p| p.len != sizes[p.item])
            .count();
        if parts <= reserve {
            if vols.len() > super::MAX_VOLUMES as usize {
                return Err(Error::input(format!(
                    "{} volumes, more than {}; choose a larger --volume-size",
                    vols.len(),
                    super::MAX_VOLUMES
                )));
            }
            return Ok(vols);
        }
        reserve = parts + parts / 8 + 1;
    }
    Err(Error::input(
        "no volume plan fits this --volume-size; choose a larger one",
    ))
}

fn place(sizes: &[u64], cap: u64) -> Vec<Vec<Placed>> {
    let mut vols: Vec<Vec<Placed>> = vec![Vec::new()];
    let mut room = cap;
    for (item, &size) in sizes.iter().enumerate() {
        let cost = MEMBER_COST + padded(size);
        if cost > room && cost <= cap {
            vols.push(Vec::new());
            room = cap;
        }
        if cost <= room {
            vols.last_mut().expect("one volume at least").push(Placed {
                item,
                offset: 0,
                len: size,
            });
            room -= cost;
            continue;
        }
        let mut offset = 0;
        while offset < size {
            if room < MEMBER_COST + MIN_PART {
                vols.push(Vec::new());
                room = cap;
            }
            let len = ((room - MEMBER_COST) / 512 * 512).min(size - offset);
            vols.last_mut()
                .expect("one volume at least")
                .push(Placed { item, offset, len });
            room -= MEMBER_COST + padded(len);
            offset += len;
        }
    }
    vols
}

/// A writer of temp files beside the output, one per volume (or the one
/// file). Every temp file and every final name is tracked as pending
/// before it is made, so a failure (or, for `gc`, a crash) removes them
/// all.
pub(crate) struct VolumeWriter<'p, 'r> {
    out: PathBuf,
    split: bool,
    pending: &'p crate::pending::Pending<'r>,
    token: String,
    current: Option<(File, PathBuf, u32, u64)>,
    done: Vec<(File, PathBuf, u32)>,
}

impl<'p, 'r> VolumeWriter<'p, 'r> {
    /// A writer of one file at `out`, or (`split`) of volumes `out.NNN`.
    pub(crate) fn new(
        out: &Path,
        split: bool,
        pending: &'p crate::pending::Pending<'r>,
    ) -> Result<VolumeWriter<'p, 'r>> {
        let mut raw = [0u8; 6];
        getrandom::fill(&mut raw).map_err(|e| Error::system("read system randomness", e))?;
        Ok(VolumeWriter {
            out: out.to_path_buf(),
            split,
            pending,
            token: hex::encode(raw),
            current: None,
            done: Vec::new(),
        })
    }

    fn dir(&self) -> PathBuf {
        match self.out.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    }

    /// Start volume `number` (1 for the single file).
    pub(crate) fn begin(&mut self, number: u32) -> Result<()> {
        self.end();
        let name = self
            .out
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let path = self
            .dir()
            .join(format!(".{name}.airlock-export-{}.{number:03}", self.token));
        self.pending.track(&path)?;
        let f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| Error::io("create temp file", &path, e))?;
        self.current = Some((f, path, number, 0));
        Ok(())
    }

    /// Bytes written to the volume being written.
    pub(crate) fn written(&self) -> u64 {
        self.current.as_ref().map_or(0, |c| c.3)
    }

    fn end(&mut self) {
        if let Some((f, p, n, _)) = self.current.take() {
            self.done.push((f, p, n));
        }
    }

    /// Fsync every file, then rename them into place — the first volume
    /// (or the single file) last, so its appearance is the commit. Returns
    /// the final paths in order.
    pub(crate) fn finish(mut self) -> Result<Vec<PathBuf>> {
        self.end();
        // Bundles are meant to be read by others: 0644, like `tar cf`.
        let perms = std::fs::Permissions::from_mode(0o644);
        let mut finals = Vec::new();
        for (f, p, n) in &self.done {
            f.set_permissions(perms.clone())
                .map_err(|e| Error::io("chmod", p, e))?;
            f.sync_all().map_err(|e| Error::io("fsync", p, e))?;
            let dest = if self.split {
                volume_path(&self.out, *n as usize)
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
        for ((_, from, _), dest) in self.done.iter().zip(&finals).rev() {
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
        let Some((f, _, _, n)) = self.current.as_mut() else {
            return Err(io::Error::other("no volume begun"));
        };
        let wrote = f.write(buf)?;
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
            Some((f, _, _, _)) => f.flush(),
            None => Ok(()),
        }
    }
}

/// The set a volume path belongs to by its name: `OUT` and the number
/// of `OUT.NNN`.
pub fn volume_base(path: &Path) -> Option<(PathBuf, u32)> {
    let s = path.to_str()?;
    let (base, n) = s.rsplit_once('.')?;
    if n.len() != 3 || !n.bytes().all(|b| b.is_ascii_digit()) || base.is_empty() {
        return None;
    }
    Some((PathBuf::from(base), n.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(sizes: &[u64], volume_size: u64, overhead: u64) -> Vec<Vec<Placed>> {
        let vols = plan(sizes, volume_size, &|parts| overhead + parts as u64 * 320).unwrap();
        // Every byte of every item placed once, in order, parts adjacent.
        let mut next = vec![0u64; sizes.len()];
        for p in vols.iter().flatten() {
            assert_eq!(p.offset, next[p.item], "{p:?}");
            next[p.item] += p.len;
        }
        assert_eq!(next, sizes);
        // No volume over its size, by the plan's own accounting.
        let parts = vols
            .iter()
            .flatten()
            .filter(|p| p.len != sizes[p.item])
            .count() as u64;
        for v in &vols {
            let used: u64 = v.iter().map(|p| MEMBER_COST + padded(p.len)).sum();
            assert!(used + overhead + parts * 320 <= volume_size, "{used}");
        }
        vols
    }

    #[test]
    fn small_items_fill_volumes_in_order() {
        let vols = check(&[10_000; 20], 64 * 1024, 8192);
        assert!(vols.len() >= 4, "{}", vols.len());
        assert!(vols.iter().all(|v| !v.is_empty()));
    }

    #[test]
    fn an_item_larger_than_a_volume_is_split() {
        let vols = check(&[1000, 300_000, 1000], 100 * 1024, 8192);
        let parts: Vec<_> = vols.iter().flatten().filter(|p| p.item == 1).collect();
        assert!(parts.len() >= 3, "{parts:?}");
    }

    #[test]
    fn too_small_a_volume_is_refused() {
        let e = plan(&[10], 4096, &|_| 8192).unwrap_err().to_string();
        assert!(e.contains("too small"), "{e}");
    }

    #[test]
    fn volume_names() {
        assert_eq!(
            volume_base(Path::new("out/b.airlock.012")),
            Some((PathBuf::from("out/b.airlock"), 12))
        );
        assert_eq!(volume_base(Path::new("b.airlock")), None);
        assert_eq!(volume_base(Path::new("b.airlock.01")), None);
    }
}
