//! Reading a bundle's tar stream member by member, refusing anything the
//! signed index does not expect: other entry types, names, sizes, caps. The
//! tar crate is only ever asked for the next header and that entry's bytes;
//! nothing is unpacked.

use std::io::Read;

use crate::error::{Error, Result};

pub(crate) type Entries<'a> = tar::Entries<'a, std::io::BufReader<std::fs::File>>;

/// The tar crate quotes raw header bytes: keep a message short and printable.
pub(crate) fn printable(msg: &str) -> String {
    msg.chars()
        .take_while(|c| *c != '\n')
        .take(80)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

pub(crate) fn tar_error(what: &str, e: std::io::Error) -> Error {
    Error::Hostile {
        what: what.to_string(),
        reason: format!("corrupt tar stream: {}", printable(&e.to_string())),
    }
}

pub(crate) fn describe(t: tar::EntryType) -> &'static str {
    match t.as_byte() {
        b'1' => "a hard link",
        b'2' => "a symbolic link",
        b'3' | b'4' => "a device",
        b'5' => "a directory",
        b'6' => "a FIFO",
        b'7' => "a contiguous file",
        b'x' | b'g' => "a PAX extended header (path and size overrides are refused)",
        b'L' | b'K' => "a GNU long-name header",
        b'S' => "a GNU sparse file",
        _ => "not a regular file",
    }
}

/// Check the next entry's header against what the signed index expects.
pub(crate) fn check_entry(
    entry: &tar::Entry<'_, impl Read>,
    expected: &str,
    size: u64,
    cap: Option<u64>,
) -> Result<()> {
    let raw = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let hostile = |reason: String| Error::Hostile {
        what: format!("member `{name}`"),
        reason,
    };
    let t = entry.header().entry_type();
    if !t.is_file() {
        return Err(hostile(format!("it is {}", describe(t))));
    }
    if name.starts_with('/') {
        return Err(hostile("absolute member name".into()));
    }
    if name.split('/').any(|s| s == "..") {
        return Err(hostile("path traversal in member name".into()));
    }
    if name != expected {
        return Err(hostile(format!(
            "unlisted, duplicate or out-of-order member (the signed index expects `{expected}` here)"
        )));
    }
    let declared = entry
        .header()
        .entry_size()
        .map_err(|e| hostile(format!("bad size field: {e}")))?;
    if let Some(c) = cap
        && declared > c
    {
        return Err(hostile(format!(
            "declares {declared} bytes, more than the {c}-byte cap"
        )));
    }
    if declared != size && cap.is_none() {
        return Err(hostile(format!(
            "declares {declared} bytes, the signed index says {size}"
        )));
    }
    Ok(())
}

pub(crate) fn next_entry<'a>(
    entries: &mut Entries<'a>,
    expected: &str,
) -> Result<tar::Entry<'a, std::io::BufReader<std::fs::File>>> {
    match entries.next() {
        None => Err(Error::Hostile {
            what: format!("member `{expected}`"),
            reason: "the bundle ends before it (truncated)".into(),
        }),
        Some(r) => r.map_err(|e| tar_error(expected, e)),
    }
}

/// Read a small member fully, refusing more than `cap` bytes.
pub(crate) fn read_capped(entries: &mut Entries<'_>, name: &str, cap: u64) -> Result<Vec<u8>> {
    let entry = next_entry(entries, name)?;
    check_entry(&entry, name, 0, Some(cap))?;
    read_exact_member(entry, name, None)
}

pub(crate) fn read_exact_member(
    mut entry: impl Read,
    name: &str,
    size: Option<u64>,
) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    entry
        .read_to_end(&mut buf)
        .map_err(|e| tar_error(name, e))?;
    if let Some(s) = size
        && buf.len() as u64 != s
    {
        return Err(Error::Hostile {
            what: format!("member `{name}`"),
            reason: format!("truncated: {} of {s} bytes", buf.len()),
        });
    }
    Ok(buf)
}
