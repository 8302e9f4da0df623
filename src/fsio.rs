//! Opening files from places airlock does not control (a download, a
//! bundle's volumes, key files, licence files): regular files only, no
//! final symlink followed, never blocking on a FIFO, and small reads capped.
//! Every reader of untrusted paths goes through here.

use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

use crate::error::{Error, Result};

/// Read a small text file with a size cap (metadata, refs, model cards).
pub(crate) fn read_small(path: &Path, cap: u64) -> Result<String> {
    let f = open_regular(path)?;
    let mut s = String::new();
    f.take(cap)
        .read_to_string(&mut s)
        .map_err(|e| Error::io("read", path, e))?;
    Ok(s)
}

/// The bytes of a small file from outside, refused (naming it) when it is
/// larger than `cap`.
pub(crate) fn read_small_bytes(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let f = open_regular(path)?;
    let mut b = Vec::new();
    f.take(cap + 1)
        .read_to_end(&mut b)
        .map_err(|e| Error::io("read", path, e))?;
    if b.len() as u64 > cap {
        return Err(Error::Hostile {
            what: path.display().to_string(),
            reason: format!("larger than the {cap}-byte cap"),
        });
    }
    Ok(b)
}

/// Open a file for reading without following a final symlink and without
/// blocking on a FIFO; refuse anything that is not a regular file.
pub(crate) fn open_regular(path: &Path) -> Result<File> {
    let f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| Error::io("open", path, e))?;
    let meta = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    if !meta.is_file() {
        return Err(Error::Unsafe {
            path: path.to_path_buf(),
            reason: "not a regular file".into(),
        });
    }
    Ok(f)
}

/// Whether this process may write `path` (its permissions, its owner, a
/// read-only mount): `access(2)` with the effective ids.
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn can_write(path: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: `c` is a valid NUL-terminated string that outlives the call;
    // faccessat reads it and touches no other memory.
    unsafe { libc::faccessat(libc::AT_FDCWD, c.as_ptr(), libc::W_OK, libc::AT_EACCESS) == 0 }
}

/// Read into `buf` until it is full or the input ends; returns the count.
/// (One `read` may return fewer bytes than asked for.)
pub(crate) fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// The first bytes of the regular file at `path`, up to `buf`'s length;
/// returns how many there were.
pub(crate) fn read_head(path: &Path, buf: &mut [u8]) -> Result<usize> {
    let mut f = open_regular(path)?;
    read_up_to(&mut f, buf).map_err(|e| Error::io("read", path, e))
}

/// Ignore `SIGXFSZ`: a write past `RLIMIT_FSIZE` then fails with `EFBIG`,
/// which every writer reports and cleans up after.
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn ignore_file_size_signal() {
    // SAFETY: installing SIG_IGN for SIGXFSZ has no preconditions and runs
    // no handler code.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
}

/// Hand large buffers back to the system when they are freed. glibc's
/// default raises its mmap threshold to the largest block freed so far (up
/// to 32 MiB), after which a many-megabyte statement or index freed early
/// stays in the heap and a later one is added on top; a fixed 4 MiB
/// threshold keeps every such buffer its own mapping, returned on free,
/// while the 1 MiB read buffers stay in the heap (measured: `verify --deep`
/// of 100,000 files, peak RSS 140 → 97 MiB, same time).
#[cfg(target_env = "gnu")]
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn return_large_buffers() {
    // SAFETY: mallopt only sets an allocator parameter; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        // What glibc's own adjustment would pair with it: free space at
        // the top of a heap is kept up to twice the threshold, so a reused
        // read buffer is not unmapped and faulted in again for every file.
        libc::mallopt(libc::M_TRIM_THRESHOLD, 8 << 20);
    }
}

/// Other C libraries: their allocator's defaults.
#[cfg(not(target_env = "gnu"))]
pub(crate) fn return_large_buffers() {}

/// Tell the kernel a file will be read from start to end (a larger
/// readahead window for a cold read). Advisory: an error changes nothing.
#[allow(unsafe_code)] // audited: an advisory libc call, SAFETY below
pub(crate) fn advise_sequential(f: &std::fs::File) {
    use std::os::fd::AsRawFd;
    // SAFETY: a valid descriptor for the life of `f`; the call only hints.
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_SEQUENTIAL);
    }
}

/// Ask the kernel to start reading `offset..offset + len` of `f` into the
/// page cache (ahead of a mapped read). Advisory: an error changes nothing.
#[allow(unsafe_code)] // audited: an advisory libc call, SAFETY below
pub(crate) fn advise_will_need(f: &std::fs::File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(at), Ok(n)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return;
    };
    // SAFETY: a valid descriptor for the life of `f`; the call only hints.
    unsafe {
        libc::posix_fadvise(f.as_raw_fd(), at, n, libc::POSIX_FADV_WILLNEED);
    }
}

/// Give the pages of freed small blocks back to the system: after a large
/// list of many small allocations (a model's file list) is dropped, its
/// holes in the heap would otherwise stay resident beside what comes next.
#[cfg(target_env = "gnu")]
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn trim_heap() {
    // SAFETY: malloc_trim only releases free memory; it has no
    // preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Other C libraries: nothing to do.
#[cfg(not(target_env = "gnu"))]
pub(crate) fn trim_heap() {}

/// `renameat2(from, to, flags)`; `Unsupported` where the kernel or the file
/// system does not offer the flag.
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
fn renameat2(from: &Path, to: &Path, flags: libc::c_uint) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let cstr = |p: &Path| {
        std::ffi::CString::new(p.as_os_str().as_bytes())
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "NUL in path"))
    };
    let (f, t) = (cstr(from)?, cstr(to)?);
    // SAFETY: both strings are valid, NUL-terminated and outlive the call;
    // renameat2 reads them and touches no other memory.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            e.to_string(),
        )),
        _ => Err(e),
    }
}

/// Rename `from` to `to` unless something is already at `to` (then
/// `AlreadyExists`, nothing changed). Falls back to a hard link and an
/// unlink for files where `RENAME_NOREPLACE` is not offered.
pub(crate) fn rename_noreplace(from: &Path, to: &Path) -> std::io::Result<()> {
    match renameat2(from, to, libc::RENAME_NOREPLACE) {
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => {
            if fs::symlink_metadata(from)?.is_dir() {
                if fs::symlink_metadata(to).is_ok() {
                    return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
                }
                fs::rename(from, to)
            } else {
                fs::hard_link(from, to)?;
                fs::remove_file(from)
            }
        }
        r => r,
    }
}

/// Swap `a` and `b` atomically (both must exist): neither name is ever
/// missing. `Unsupported` where the file system does not offer it.
pub(crate) fn rename_exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    renameat2(a, b, libc::RENAME_EXCHANGE)
}

/// Bytes free for this user on the file system holding `path` (`statvfs`);
/// `None` where it cannot be told.
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn free_space(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut st = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c` is a valid NUL-terminated path; `st` is valid for writes
    // of one statvfs, which the call fills on success (checked before use).
    let rc = unsafe { libc::statvfs(c.as_ptr(), st.as_mut_ptr()) };
    if rc != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it initialised `st`.
    let st = unsafe { st.assume_init() };
    Some(st.f_bavail.saturating_mul(st.f_frsize))
}

/// Refuse before writing `need` bytes under `dir` when its file system
/// visibly has less free (a margin of 1 % and 1 MiB is kept for metadata).
pub(crate) fn ensure_room(dir: &Path, need: u64, what: &str) -> crate::error::Result<()> {
    let Some(free) = free_space(dir) else {
        return Ok(());
    };
    let want = need.saturating_add(need / 100).saturating_add(1 << 20);
    if free < want {
        return Err(Error::io(
            "check free space for",
            dir,
            std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!(
                    "{what} needs {need} bytes and `{}` has {free} free (No space left on device)",
                    dir.display()
                ),
            ),
        ));
    }
    Ok(())
}
