//! Zip archives, PyTorch's `torch.save` format among them (`archive/data.pkl`
//! plus `archive/data/<n>` storages). Checked without extracting anything:
//! the end-of-central-directory record (and ZIP64) inside the file; every
//! entry's name (no `..`, absolute or backslash names, no duplicates), its
//! local header, its data range inside the file and not overlapping another;
//! encryption flags; compression methods; the ratio between declared and
//! stored sizes (bombs); the CRC of every pickle and of every member up to
//! 64 MiB (larger stored tensor data is covered by the file's sha256); every
//! pickle member is walked, and every `.npy` member (an `.npz`) inspected
//! like a bare `.npy`; nested archives are flagged.

use std::collections::HashSet;
use std::io::{Read, Seek, SeekFrom};

use super::pickle;
use super::{Inspection, Verdict};

const CD_CAP: u64 = 64 << 20;
const CRC_CHECK_MAX: u64 = 64 << 20;
const MAX_RATIO: u64 = 100;

struct Entry {
    name: String,
    flags: u16,
    method: u16,
    crc: u32,
    csize: u64,
    usize: u64,
    offset: u64,
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

fn le64(b: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn read_at<F: Read + Seek>(f: &mut F, at: u64, n: usize) -> Result<Vec<u8>, String> {
    f.seek(SeekFrom::Start(at)).map_err(|e| e.to_string())?;
    let mut b = vec![0u8; n];
    f.read_exact(&mut b)
        .map_err(|_| format!("file ends inside a zip record at offset {at}"))?;
    Ok(b)
}

/// Locate and parse the central directory.
fn directory<F: Read + Seek>(f: &mut F, size: u64) -> Result<Vec<Entry>, String> {
    let tail_len = size.min(65_557) as usize;
    let tail = read_at(f, size - tail_len as u64, tail_len)?;
    let eocd = (0..tail.len().saturating_sub(21))
        .rev()
        .find(|&i| tail[i..i + 4] == *b"PK\x05\x06")
        .ok_or("no end-of-central-directory record")?;
    let e = &tail[eocd..];
    let mut count = u64::from(le16(e, 10));
    let mut cd_size = u64::from(le32(e, 12));
    let mut cd_off = u64::from(le32(e, 16));
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_off == 0xFFFF_FFFF {
        let loc_at = (size - tail_len as u64 + eocd as u64)
            .checked_sub(20)
            .ok_or("ZIP64 locator missing")?;
        let loc = read_at(f, loc_at, 20)?;
        if loc[..4] != *b"PK\x06\x07" {
            return Err("ZIP64 sizes without a ZIP64 locator".into());
        }
        let z_at = le64(&loc, 8);
        if z_at.saturating_add(56) > size {
            return Err("ZIP64 record points past the end of the file".into());
        }
        let z = read_at(f, z_at, 56)?;
        if z[..4] != *b"PK\x06\x06" {
            return Err("bad ZIP64 end-of-central-directory record".into());
        }
        count = le64(&z, 32);
        cd_size = le64(&z, 40);
        cd_off = le64(&z, 48);
    }
    if cd_off.checked_add(cd_size).is_none_or(|end| end > size) {
        return Err(format!(
            "central directory [{cd_off}, +{cd_size}] lies outside the {size}-byte file"
        ));
    }
    if cd_size > CD_CAP {
        return Err(format!(
            "central directory of {cd_size} bytes exceeds the cap"
        ));
    }
    if count.saturating_mul(46) > cd_size {
        return Err(format!(
            "{count} entries cannot fit in a {cd_size}-byte central directory"
        ));
    }
    let cd = read_at(f, cd_off, cd_size as usize)?;
    let mut out = Vec::new();
    let mut at = 0usize;
    for _ in 0..count {
        if at + 46 > cd.len() || cd[at..at + 4] != *b"PK\x01\x02" {
            return Err("truncated or corrupt central directory".into());
        }
        let h = &cd[at..];
        let (nl, xl, cl) = (
            le16(h, 28) as usize,
            le16(h, 30) as usize,
            le16(h, 32) as usize,
        );
        if at + 46 + nl + xl + cl > cd.len() {
            return Err("central directory entry runs past its end".into());
        }
        let name = String::from_utf8_lossy(&h[46..46 + nl]).into_owned();
        let mut ent = Entry {
            name,
            flags: le16(h, 8),
            method: le16(h, 10),
            crc: le32(h, 16),
            csize: u64::from(le32(h, 20)),
            usize: u64::from(le32(h, 24)),
            offset: u64::from(le32(h, 42)),
        };
        // ZIP64 extra field: the 0xFFFFFFFF fields, in order.
        let mut x = &h[46 + nl..46 + nl + xl];
        while x.len() >= 4 {
            let (id, len) = (le16(x, 0), le16(x, 2) as usize);
            if 4 + len > x.len() {
                break;
            }
            if id == 1 {
                let mut v = &x[4..4 + len];
                for field in [&mut ent.usize, &mut ent.csize, &mut ent.offset] {
                    if *field == 0xFFFF_FFFF && v.len() >= 8 {
                        *field = le64(v, 0);
                        v = &v[8..];
                    }
                }
            }
            x = &x[4 + len..];
        }
        out.push(ent);
        at += 46 + nl + xl + cl;
    }
    Ok(out)
}

/// Inspect a zip archive of `size` bytes.
pub fn inspect<F: Read + Seek>(f: &mut F, size: u64) -> Inspection {
    let mut out = Inspection::new(super::Format::Zip);
    let entries = match directory(f, size) {
        Ok(e) => e,
        Err(e) => return out.malformed(e),
    };
    let mut names = HashSet::new();
    let mut ranges = Vec::new();
    let mut is_torch = false;
    let mut total_usize = 0u64;
    for e in &entries {
        if e.name.starts_with('/') || e.name.contains('\\') || e.name.split('/').any(|s| s == "..")
        {
            return out.malformed(format!(
                "member `{}` escapes the archive (absolute, `..` or `\\`)",
                e.name
            ));
        }
        if !names.insert(e.name.clone()) {
            return out.malformed(format!("member `{}` appears twice", e.name));
        }
        if e.flags & 1 != 0 {
            out.flag(
                Verdict::Unsafe,
                format!("member `{}` is encrypted and cannot be inspected", e.name),
            );
            continue;
        }
        let local = match read_at(f, e.offset, 30) {
            Ok(l) if l[..4] == *b"PK\x03\x04" => l,
            _ => {
                return out.malformed(format!(
                    "member `{}`: no local header at offset {}",
                    e.name, e.offset
                ));
            }
        };
        let start = e.offset + 30 + u64::from(le16(&local, 26)) + u64::from(le16(&local, 28));
        if start.checked_add(e.csize).is_none_or(|end| end > size) {
            return out.malformed(format!(
                "member `{}`: data runs past the end of the file",
                e.name
            ));
        }
        ranges.push((start, start + e.csize, e.name.clone()));
        total_usize = total_usize.saturating_add(e.usize);
        match e.method {
            0 if e.csize != e.usize => {
                return out.malformed(format!(
                    "member `{}` is stored but declares {} bytes for {} stored",
                    e.name, e.usize, e.csize
                ));
            }
            0 => {}
            8 => {
                if e.usize > (1 << 20) && e.usize / e.csize.max(1) > MAX_RATIO {
                    return out.malformed(format!(
                        "member `{}` expands {} bytes to {} (ratio over {MAX_RATIO}: a zip bomb)",
                        e.name, e.csize, e.usize
                    ));
                }
            }
            m => {
                out.flag(
                    Verdict::Unsafe,
                    format!(
                        "member `{}` uses compression method {m}, which is not inspected",
                        e.name
                    ),
                );
                continue;
            }
        }
        if e.name.ends_with("data.pkl") {
            is_torch = true;
        }
        if let Err(msg) = member(f, e, start, &mut out) {
            return out.malformed(msg);
        }
    }
    if total_usize > (1u64 << 40) {
        return out.malformed(format!(
            "members declare {total_usize} bytes in all (a zip bomb)"
        ));
    }
    ranges.sort();
    for w in ranges.windows(2) {
        if w[1].0 < w[0].1 {
            return out.malformed(format!("members `{}` and `{}` overlap", w[0].2, w[1].2));
        }
    }
    if is_torch {
        out.format = super::Format::PytorchZip;
    }
    if out.verdict < Verdict::Ok {
        out.verdict = Verdict::Ok;
    }
    out
}

/// CRC, pickle walk and nesting check of one member.
fn member<F: Read + Seek>(
    f: &mut F,
    e: &Entry,
    start: u64,
    out: &mut Inspection,
) -> Result<(), String> {
    f.seek(SeekFrom::Start(start)).map_err(|x| x.to_string())?;
    let raw = (&mut *f).take(e.csize);
    let mut data: Box<dyn Read + '_> = if e.method == 8 {
        Box::new(flate2::read::DeflateDecoder::new(raw).take(e.usize + 1))
    } else {
        Box::new(raw)
    };
    let mut head = [0u8; 4];
    let got = crate::fsio::read_up_to(&mut data, &mut head)
        .map_err(|x| format!("member `{}`: {x}", e.name))?;
    let head = &head[..got];
    let is_pickle = e.name.ends_with(".pkl") || head.first() == Some(&0x80);
    // An .npz is a zip of .npy members, and numpy unpickles object arrays in
    // them just as in a bare .npy.
    let is_npy = !is_pickle && head.starts_with(b"\x93NUM");
    if head.starts_with(b"PK\x03\x04") {
        out.flag(
            Verdict::Unsafe,
            format!("member `{}` is a nested zip archive", e.name),
        );
    }
    if !(e.usize <= CRC_CHECK_MAX || is_pickle || is_npy) {
        return Ok(());
    }
    let mut crc = crc32fast::Hasher::new();
    crc.update(head);
    let mut counted = CrcReader {
        inner: data,
        crc: &mut crc,
        n: head.len() as u64,
    };
    if is_pickle {
        let rep = pickle::walk(
            &mut Chain {
                head,
                rest: &mut counted,
            },
            e.usize,
            false,
        )
        .map_err(|m| format!("member `{}`: pickle {m}", e.name))?;
        out.absorb_pickle(&e.name, &rep);
    } else if is_npy {
        let chained = &mut Chain {
            head,
            rest: &mut counted,
        };
        out.absorb_member(&e.name, super::npy::inspect(chained, e.usize))
            .map_err(|why| format!("member `{}`: npy {why}", e.name))?;
        if e.usize > CRC_CHECK_MAX {
            return Ok(()); // large array data: covered by the file's sha256
        }
    }
    // A walk may stop before the end of the member: hash the rest.
    std::io::copy(&mut counted, &mut std::io::sink())
        .map_err(|x| format!("member `{}`: {x}", e.name))?;
    let n = counted.n;
    if n != e.usize {
        return Err(format!(
            "member `{}` holds {n} bytes, its header says {}",
            e.name, e.usize
        ));
    }
    let found = crc.finalize();
    if found != e.crc {
        return Err(format!(
            "member `{}`: CRC {found:08x}, the directory says {:08x}",
            e.name, e.crc
        ));
    }
    Ok(())
}

struct CrcReader<'a, R> {
    inner: R,
    crc: &'a mut crc32fast::Hasher,
    n: u64,
}

impl<R: Read> Read for CrcReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.crc.update(&buf[..k]);
        self.n += k as u64;
        Ok(k)
    }
}

/// Bytes already read, then the rest of a reader.
struct Chain<'a, R> {
    head: &'a [u8],
    rest: R,
}

impl<R: Read> Read for Chain<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if !self.head.is_empty() {
            let k = self.head.len().min(buf.len());
            buf[..k].copy_from_slice(&self.head[..k]);
            self.head = &self.head[k..];
            return Ok(k);
        }
        self.rest.read(buf)
    }
}
