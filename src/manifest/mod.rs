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

/// The canonical manifest bytes for a set of files (order does not matter).
pub fn canonical_bytes(files: &[FileRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    write_canonical(files, &mut out).expect("writing to memory cannot fail");
    out
}

/// Write the canonical bytes to `w` (the entries are made one at a time,
/// so a manifest of a hundred thousand files is never held whole).
fn write_canonical(files: &[FileRecord], w: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut sorted: Vec<&FileRecord> = files.iter().collect();
    sorted.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    w.write_all(br#"{"mediaType":"#)?;
    serde_json::to_writer(&mut *w, MEDIA_TYPE)?;
    w.write_all(br#","files":["#)?;
    for (i, f) in sorted.into_iter().enumerate() {
        if i > 0 {
            w.write_all(b",")?;
        }
        serde_json::to_writer(
            &mut *w,
            &Entry {
                path: f.path.as_str(),
                sha256: f.sha256.to_hex(),
                size: f.size,
            },
        )?;
    }
    w.write_all(b"]}")
}

/// The manifest digest of a set of files, hashed as it is written.
pub fn digest(files: &[FileRecord]) -> Sha256Digest {
    struct Hashing(crate::digest::Hasher);
    impl std::io::Write for Hashing {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hashing(crate::digest::Hasher::new());
    write_canonical(
        files,
        &mut std::io::BufWriter::with_capacity(64 << 10, &mut h),
    )
    .expect("hashing cannot fail");
    h.0.finish()
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
            pieces: None,
        }
    }

    #[test]
    fn the_bytes_are_the_documented_json() {
        let files = [rec("b", b"1"), rec("a", b"2")];
        let bytes = canonical_bytes(&files);
        let want = format!(
            r#"{{"mediaType":"{MEDIA_TYPE}","files":[{{"path":"a","sha256":"{}","size":1}},{{"path":"b","sha256":"{}","size":1}}]}}"#,
            Sha256Digest::of(b"2").to_hex(),
            Sha256Digest::of(b"1").to_hex()
        );
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), want);
        assert_eq!(digest(&files), Sha256Digest::of(&bytes));
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
