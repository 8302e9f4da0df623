//! GGUF (llama.cpp): magic, version, counts, metadata key/values, tensor
//! infos, aligned tensor data. Checked: magic and version 2–3; every count
//! and string length capped by what the rest of the file can hold; value
//! types known; array nesting bounded; tensor infos with known types,
//! aligned offsets inside the data area, no overlaps, no duplicate names;
//! the chat template (`tokenizer.chat_template`) is screened. Reads the
//! header and metadata only, streaming, never the tensor data.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use super::{Inspection, Verdict};

/// Deepest array-of-array nesting accepted.
const MAX_DEPTH: u32 = 3;
/// Longest metadata string kept in memory (longer ones are skipped).
const KEEP_STRING: u64 = 1 << 20;
const MAX_DIMS: u32 = 8;

/// (elements per block, bytes per block) for each ggml tensor type.
pub fn ggml_type(t: u32) -> Option<(&'static str, u64, u64)> {
    Some(match t {
        0 => ("F32", 1, 4),
        1 => ("F16", 1, 2),
        2 => ("Q4_0", 32, 18),
        3 => ("Q4_1", 32, 20),
        6 => ("Q5_0", 32, 22),
        7 => ("Q5_1", 32, 24),
        8 => ("Q8_0", 32, 34),
        9 => ("Q8_1", 32, 36),
        10 => ("Q2_K", 256, 84),
        11 => ("Q3_K", 256, 110),
        12 => ("Q4_K", 256, 144),
        13 => ("Q5_K", 256, 176),
        14 => ("Q6_K", 256, 210),
        15 => ("Q8_K", 256, 292),
        16 => ("IQ2_XXS", 256, 66),
        17 => ("IQ2_XS", 256, 74),
        18 => ("IQ3_XXS", 256, 98),
        19 => ("IQ1_S", 256, 50),
        20 => ("IQ4_NL", 32, 18),
        21 => ("IQ3_S", 256, 110),
        22 => ("IQ2_S", 256, 82),
        23 => ("IQ4_XS", 256, 136),
        24 => ("I8", 1, 1),
        25 => ("I16", 1, 2),
        26 => ("I32", 1, 4),
        27 => ("I64", 1, 8),
        28 => ("F64", 1, 8),
        29 => ("IQ1_M", 256, 56),
        30 => ("BF16", 1, 2),
        34 => ("TQ1_0", 256, 54),
        35 => ("TQ2_0", 256, 66),
        _ => return None,
    })
}

struct R<'a> {
    r: &'a mut dyn Read,
    pos: u64,
    size: u64,
}

impl R<'_> {
    fn left(&self) -> u64 {
        self.size.saturating_sub(self.pos)
    }

    fn bytes(&mut self, n: usize) -> Result<Vec<u8>, String> {
        if n as u64 > self.left() {
            return Err(format!(
                "needs {n} bytes at offset {}, the file ends first",
                self.pos
            ));
        }
        let mut b = vec![0u8; n];
        self.r
            .read_exact(&mut b)
            .map_err(|_| format!("file ends at offset {}", self.pos))?;
        self.pos += n as u64;
        Ok(b)
    }

    fn skip(&mut self, n: u64) -> Result<(), String> {
        if n > self.left() {
            return Err(format!(
                "needs {n} bytes at offset {}, the file ends first",
                self.pos
            ));
        }
        let copied =
            std::io::copy(&mut self.r.take(n), &mut std::io::sink()).map_err(|e| e.to_string())?;
        if copied != n {
            return Err(format!("file ends at offset {}", self.pos + copied));
        }
        self.pos += n;
        Ok(())
    }

    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.bytes(4)?.try_into().expect("4 bytes"),
        ))
    }

    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.bytes(8)?.try_into().expect("8 bytes"),
        ))
    }

    /// A length-prefixed string; `None` when it is longer than we keep.
    fn string(&mut self, what: &str) -> Result<Option<String>, String> {
        let n = self.u64()?;
        if n > self.left() {
            return Err(format!(
                "{what}: string length {n} exceeds the {} bytes left",
                self.left()
            ));
        }
        if n > KEEP_STRING {
            self.skip(n)?;
            return Ok(None);
        }
        let b = self.bytes(n as usize)?;
        Ok(Some(
            String::from_utf8(b).map_err(|_| format!("{what}: string is not UTF-8"))?,
        ))
    }
}

/// Fixed size of a scalar metadata value type, or `None` for string/array.
fn scalar_size(t: u32) -> Result<Option<u64>, String> {
    Ok(match t {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        8 | 9 => None,
        _ => return Err(format!("unknown metadata value type {t}")),
    })
}

/// Read (and mostly skip) one value; returns a string value when it is one
/// and short enough to keep, or a u32/u64 for `general.alignment`.
fn value(r: &mut R<'_>, t: u32, depth: u32, key: &str) -> Result<Value, String> {
    match scalar_size(t)? {
        Some(n) => {
            let b = r.bytes(n as usize)?;
            Ok(match t {
                4 => Value::Int(u64::from(u32::from_le_bytes(b.try_into().expect("4")))),
                10 => Value::Int(u64::from_le_bytes(b.try_into().expect("8"))),
                _ => Value::Other,
            })
        }
        None if t == 8 => Ok(r.string(key)?.map(Value::Str).unwrap_or(Value::Other)),
        None => {
            if depth >= MAX_DEPTH {
                return Err(format!("`{key}`: arrays nested deeper than {MAX_DEPTH}"));
            }
            let et = r.u32()?;
            let count = r.u64()?;
            match scalar_size(et)? {
                Some(n) => {
                    let total = count
                        .checked_mul(n)
                        .ok_or_else(|| format!("`{key}`: array size overflows"))?;
                    if total > r.left() {
                        return Err(format!(
                            "`{key}`: array of {count} needs more bytes than the file holds"
                        ));
                    }
                    r.skip(total)?;
                }
                None => {
                    // Each string or array element takes at least 8 bytes.
                    if count.saturating_mul(8) > r.left() {
                        return Err(format!(
                            "`{key}`: array count {count} exceeds what the file can hold"
                        ));
                    }
                    for _ in 0..count {
                        value(r, et, depth + 1, key)?;
                    }
                }
            }
            Ok(Value::Other)
        }
    }
}

enum Value {
    Str(String),
    Int(u64),
    Other,
}

/// Inspect a GGUF file of `size` bytes.
pub fn inspect(rd: &mut dyn Read, size: u64) -> Inspection {
    let mut out = Inspection::new(super::Format::Gguf);
    match walk(rd, size, &mut out) {
        Ok(()) => {
            if out.verdict < Verdict::Ok {
                out.verdict = Verdict::Ok;
            }
            out
        }
        Err(e) => out.malformed(e),
    }
}

fn walk(rd: &mut dyn Read, size: u64, out: &mut Inspection) -> Result<(), String> {
    let mut r = R {
        r: rd,
        pos: 0,
        size,
    };
    if r.bytes(4)? != b"GGUF" {
        return Err("bad magic".into());
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(format!("unsupported GGUF version {version}"));
    }
    let tensors = r.u64()?;
    let kvs = r.u64()?;
    // A tensor info takes at least 8+4+8+4+8 bytes, a key/value at least 8+4+1.
    if tensors.saturating_mul(32) > r.left() {
        return Err(format!(
            "tensor count {tensors} exceeds what the file can hold"
        ));
    }
    if kvs.saturating_mul(13) > r.left() {
        return Err(format!(
            "metadata count {kvs} exceeds what the file can hold"
        ));
    }
    let mut alignment = 32u64;
    let mut keys = HashSet::new();
    for _ in 0..kvs {
        let key = r.string("metadata key")?.ok_or("metadata key too long")?;
        if !keys.insert(key.clone()) {
            return Err(format!("duplicate metadata key `{key}`"));
        }
        let t = r.u32()?;
        let v = value(&mut r, t, 0, &key)?;
        match (key.as_str(), v) {
            ("general.alignment", Value::Int(a)) => {
                if a == 0 || !a.is_power_of_two() || a > 1 << 20 {
                    return Err(format!("general.alignment {a} is not a sane power of two"));
                }
                alignment = a;
            }
            ("tokenizer.chat_template", Value::Str(t)) => {
                super::check_template(&t, "tokenizer.chat_template", out)
            }
            _ => {}
        }
    }
    let mut infos: Vec<(u64, u64, String)> = Vec::new();
    let mut names = HashSet::new();
    let mut dtypes: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..tensors {
        let name = r.string("tensor name")?.ok_or("tensor name too long")?;
        if !names.insert(name.clone()) {
            return Err(format!("duplicate tensor name `{name}`"));
        }
        let dims = r.u32()?;
        if dims == 0 || dims > MAX_DIMS {
            return Err(format!("tensor `{name}` has {dims} dimensions"));
        }
        let mut elems = 1u64;
        for _ in 0..dims {
            let d = r.u64()?;
            elems = elems
                .checked_mul(d)
                .ok_or_else(|| format!("tensor `{name}`: shape product overflows"))?;
        }
        let t = r.u32()?;
        let offset = r.u64()?;
        if offset % alignment != 0 {
            return Err(format!(
                "tensor `{name}` offset {offset} is not aligned to {alignment}"
            ));
        }
        let (tname, block, bsize) =
            ggml_type(t).ok_or_else(|| format!("tensor `{name}` has unknown type {t}"))?;
        if !elems.is_multiple_of(block) {
            return Err(format!(
                "tensor `{name}`: {elems} elements is not a multiple of the {tname} block of {block}"
            ));
        }
        let bytes = (elems / block)
            .checked_mul(bsize)
            .ok_or_else(|| format!("tensor `{name}`: size overflows"))?;
        let end = offset
            .checked_add(bytes)
            .ok_or_else(|| format!("tensor `{name}`: offset overflows"))?;
        out.parameters = out.parameters.saturating_add(elems);
        *dtypes.entry(tname.to_string()).or_default() += elems;
        infos.push((offset, end, name));
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    let data_len = size
        .checked_sub(data_start)
        .ok_or("the tensor data area starts past the end of the file")?;
    infos.sort();
    let mut at = 0u64;
    for (b, e, name) in &infos {
        if *b < at {
            return Err(format!("tensor `{name}` overlaps the one before it"));
        }
        if *e > data_len {
            return Err(format!(
                "tensor `{name}` ends at {e}, past the {data_len}-byte data area"
            ));
        }
        at = *e;
    }
    out.tensors = tensors;
    out.dtypes = dtypes.into_keys().collect();
    Ok(())
}
