//! Tar archives — among them `torch.save`'s format before 2017 (members
//! `sys_info`, `pickle`, `storages`, `tensors`), which `torch.load` still
//! reads, unpickling `storages` and `pickle`. Nothing is extracted: the
//! archive is read to its end (headers checked by the `tar` crate, which
//! caps what it buffers), every member that is a pickle — by those names,
//! a `.pkl` name or a pickle's first byte — is walked, and nested archives
//! are flagged.

use std::io::Read;

use super::{Format, Inspection, Verdict, pickle};

/// Member names the legacy torch loader unpickles (or might).
const TORCH_PICKLES: &[&str] = &["pickle", "storages", "sys_info"];

/// Inspect a tar archive of `size` bytes.
pub fn inspect(r: &mut dyn Read, size: u64) -> Inspection {
    let mut out = Inspection::new(Format::Tar);
    let mut archive = tar::Archive::new(r.take(size));
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return out.malformed(format!("tar: {e}")),
    };
    for (members, entry) in entries.enumerate() {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return out.malformed(format!("tar after {members} member(s): {e}")),
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let len = entry.size();
        let mut head = [0u8; 4];
        let got = match crate::fsio::read_up_to(&mut entry, &mut head) {
            Ok(n) => n,
            Err(e) => return out.malformed(format!("member `{name}`: {e}")),
        };
        let head = &head[..got];
        let base = name.rsplit('/').next().unwrap_or(&name);
        if TORCH_PICKLES.contains(&base) || name.ends_with(".pkl") || head.first() == Some(&0x80) {
            match pickle::walk(&mut head.chain(&mut entry), len, false) {
                Ok(rep) => out.absorb_pickle(&format!("member `{name}`"), &rep),
                Err(e) => return out.malformed(format!("member `{name}`: pickle {e}")),
            }
        } else if head.starts_with(b"PK\x03\x04") {
            out.flag(
                Verdict::Unsafe,
                format!("member `{name}` is a nested zip archive"),
            );
        }
        // The rest of the member is read past by the next `entries` step.
    }
    if out.verdict < Verdict::Ok {
        out.verdict = Verdict::Ok;
    }
    out
}
