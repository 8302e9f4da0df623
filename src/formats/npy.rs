//! NumPy `.npy`: magic, version, a Python-literal header (`descr`,
//! `fortran_order`, `shape`), then the data. An object dtype (`O`) means
//! the data is a pickle, which is walked like any other; otherwise the data
//! length must equal item size × shape product.

use std::io::Read;

use super::{Inspection, Verdict, pickle};

const HEADER_CAP: u64 = 1 << 20;

fn item_size(descr: &str) -> Option<u64> {
    let d = descr.trim_start_matches(['<', '>', '|', '=']);
    let (kind, n) = d.split_at(1.min(d.len()));
    let n: u64 = n.parse().ok()?;
    match kind {
        "b" | "i" | "u" | "f" | "c" | "S" | "V" | "m" | "M" => Some(n),
        "U" => n.checked_mul(4),
        _ => None,
    }
}

fn field<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let at = header.find(&format!("'{key}'"))? + key.len() + 2;
    let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
    Some(rest)
}

/// Inspect an `.npy` file of `size` bytes.
pub fn inspect(r: &mut dyn Read, size: u64) -> Inspection {
    let mut out = Inspection::new(super::Format::Npy);
    let mut pre = [0u8; 8];
    if r.read_exact(&mut pre).is_err() || &pre[..6] != b"\x93NUMPY" {
        return out.malformed("bad magic");
    }
    let (hlen, prefix) = match pre[6] {
        1 => {
            let mut b = [0u8; 2];
            if r.read_exact(&mut b).is_err() {
                return out.malformed("truncated header length");
            }
            (u64::from(u16::from_le_bytes(b)), 10u64)
        }
        2 | 3 => {
            let mut b = [0u8; 4];
            if r.read_exact(&mut b).is_err() {
                return out.malformed("truncated header length");
            }
            (u64::from(u32::from_le_bytes(b)), 12u64)
        }
        v => return out.malformed(format!("unknown .npy version {v}")),
    };
    if hlen > HEADER_CAP || prefix + hlen > size {
        return out.malformed(format!(
            "header length {hlen} is past the end of the file or over the cap"
        ));
    }
    let mut h = vec![0u8; hlen as usize];
    if r.read_exact(&mut h).is_err() {
        return out.malformed("file ends inside the header");
    }
    let header = String::from_utf8_lossy(&h).into_owned();
    let Some(descr) = field(&header, "descr") else {
        return out.malformed("header has no `descr`");
    };
    let Some(shape) = field(&header, "shape")
        .and_then(|s| s.strip_prefix('('))
        .and_then(|s| s.split(')').next())
    else {
        return out.malformed("header has no `shape` tuple");
    };
    let mut elems = 1u64;
    for d in shape.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let Ok(d) = d.parse::<u64>() else {
            return out.malformed(format!("shape dimension `{d}` is not a number"));
        };
        match elems.checked_mul(d) {
            Some(e) => elems = e,
            None => return out.malformed("shape product overflows"),
        }
    }
    let data = size - prefix - hlen;
    let descr_str = descr.split(['\'', '"']).nth(1).unwrap_or("");
    if descr_str
        .trim_start_matches(['<', '>', '|', '='])
        .starts_with('O')
    {
        match pickle::walk(r, data, false) {
            Ok(rep) => out.absorb_pickle("object array", &rep),
            Err(e) => return out.malformed(format!("object array pickle: {e}")),
        }
        out.tensors = 1;
        if out.verdict < Verdict::Ok {
            out.verdict = Verdict::Ok;
        }
        return out;
    }
    match item_size(descr_str) {
        Some(sz) => match elems.checked_mul(sz) {
            Some(need) if need == data => {}
            Some(need) => {
                return out.malformed(format!(
                    "data holds {data} bytes, `{descr_str}` × {elems} needs {need}"
                ));
            }
            None => return out.malformed("data size overflows"),
        },
        None => out.flag(
            Verdict::Ok,
            format!("dtype `{descr}` not sized; data length not checked"),
        ),
    }
    out.tensors = 1;
    out.parameters = elems;
    out.dtypes = vec![descr_str.to_string()];
    if out.verdict < Verdict::Ok {
        out.verdict = Verdict::Ok;
    }
    out
}
