//! Who and where: the actor recorded with every change (`user@host`) and
//! this machine's host name. A leaf: the event log, deployments and the
//! registry all name the actor, so it lives below all of them.

use std::sync::OnceLock;

/// A label the operator gave with `--actor`, recorded beside the account.
static CLAIM: OnceLock<String> = OnceLock::new();

/// Record `label` (from `--actor`) as a claim beside the OS account in every
/// change this process records. The first call wins.
pub(crate) fn claim(label: &str) {
    let clean: String = label
        .chars()
        .filter(|c| !c.is_control())
        .take(100)
        .collect();
    if !clean.trim().is_empty() {
        let _ = CLAIM.set(clean.trim().to_string());
    }
}

/// `account@host`, recorded as the actor of every change: the account is
/// the OS account this process runs as (its uid looked up, never `$USER`,
/// which anyone can set); a `--actor` label follows as a claim.
pub(crate) fn actor() -> String {
    let base = format!("{}@{}", account(), hostname());
    match CLAIM.get() {
        Some(c) => format!("{base} (claims \"{c}\")"),
        None => base,
    }
}

/// The name of the effective uid's account, else `uid<N>`.
#[allow(unsafe_code)] // audited: getpwuid_r into a local buffer, SAFETY below
fn account() -> String {
    let uid = euid();
    let mut pwd: libc::passwd = unsafe {
        // SAFETY: passwd is plain old data; all-zero is a valid value that
        // getpwuid_r overwrites.
        std::mem::zeroed()
    };
    let mut buf = vec![0u8; 16 * 1024];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `pwd` and `result` are
    // locals, `buf` is valid for its length; on success pw_name points into
    // `buf`, which outlives its use below.
    let rc = unsafe {
        libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
        return format!("uid{uid}");
    }
    // SAFETY: pw_name is a NUL-terminated string inside `buf`.
    let name = unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) };
    let name = name.to_string_lossy();
    if name.is_empty() || name.chars().any(char::is_control) {
        format!("uid{uid}")
    } else {
        name.into_owned()
    }
}

/// This machine's host name.
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname NUL-terminates
    // within it or truncates, and we stop at the first NUL or the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let s = String::from_utf8_lossy(&buf[..end]).into_owned();
    if s.is_empty() { "localhost".into() } else { s }
}

/// The effective user id of this process (key files must belong to it).
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}
