//! Who and where: the actor recorded with every change (`user@host`) and
//! this machine's host name. A leaf: the event log, deployments and the
//! registry all name the actor, so it lives below all of them.

/// `user@host`, recorded as the actor of every change.
#[allow(unsafe_code)] // audited: one libc call, SAFETY below
pub(crate) fn actor() -> String {
    let user = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| {
            // SAFETY: getuid has no preconditions.
            let uid = unsafe { libc::getuid() };
            format!("uid{uid}")
        });
    format!("{user}@{}", hostname())
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
