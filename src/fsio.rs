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
