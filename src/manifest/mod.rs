//! A version's manifest: the canonical bytes that name its content.
//!
//! The manifest is the sorted list of `(path, sha256, size)`, serialised as
//! compact JSON with keys in a fixed order (see `docs/formats.md`). Its sha256
//! is the version's *manifest digest*: same files, same digest, on every
//! registry. Pure: no I/O.

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::records::FileRecord;

/// Media type written into the manifest so a reader knows what it holds.
pub const MEDIA_TYPE: &str = "application/vnd.airlock.manifest.v1+json";

#[derive(Serialize)]
struct Entry<'a> {
    path: &'a str,
    sha256: String,
    size: u64,
}

#[derive(Serialize)]
struct Doc<'a> {
    #[serde(rename = "mediaType")]
    media_type: &'static str,
    files: Vec<Entry<'a>>,
}

/// The canonical manifest bytes for a set of files (order does not matter).
pub fn canonical_bytes(files: &[FileRecord]) -> Vec<u8> {
    let mut sorted: Vec<&FileRecord> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    let doc = Doc {
        media_type: MEDIA_TYPE,
        files: sorted
            .into_iter()
            .map(|f| Entry {
                path: f.path.as_str(),
                sha256: f.sha256.to_hex(),
                size: f.size,
            })
            .collect(),
    };
    serde_json::to_vec(&doc).expect("serialising plain strings and numbers cannot fail")
}

/// The manifest digest of a set of files.
pub fn digest(files: &[FileRecord]) -> Sha256Digest {
    Sha256Digest::of(&canonical_bytes(files))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(path: &str, body: &[u8]) -> FileRecord {
        FileRecord {
            path: path.parse().unwrap(),
            size: body.len() as u64,
            sha256: Sha256Digest::of(body),
            format: crate::formats::Format::Other,
            upstream_check: None,
            safety: None,
        }
    }

    #[test]
    fn order_independent_and_content_sensitive() {
        let a = [rec("b", b"1"), rec("a", b"2")];
        let b = [rec("a", b"2"), rec("b", b"1")];
        assert_eq!(digest(&a), digest(&b));
        let c = [rec("a", b"2"), rec("b", b"3")];
        assert_ne!(digest(&a), digest(&c));
        let text = String::from_utf8(canonical_bytes(&a)).unwrap();
        assert!(text.starts_with(
            r#"{"mediaType":"application/vnd.airlock.manifest.v1+json","files":[{"path":"a","#
        ));
    }
}
