//! GGUF (llama.cpp): magic, version, counts, metadata key/values, tensor
//! infos, aligned tensor data. Checked, as the GGUF specification
//! constrains: magic and version 2–3; every count and string length capped
//! by what the rest of the file can hold; value types known; bools 0 or 1;
//! `general.alignment` a u32 power of two; array nesting bounded; tensor
//! names of at most 64 bytes, at most 4 dimensions, known types, aligned
//! offsets inside the data area, no overlaps, no duplicate names; the chat
//! template (`tokenizer.chat_template`) is screened. Architecture, name,
//! quantisation and context length are kept for `inspect`. Reads the header
//! and metadata only, streaming, never the tensor data.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use super::{Inspection, Verdict};

/// Deepest array-of-array nesting accepted.
const MAX_DEPTH: u32 = 3;
/// Longest metadata string kept in memory (longer ones are skipped).
const KEEP_STRING: u64 = 1 << 20;
/// GGML_MAX_DIMS: ggml tensors have at most four dimensions.
const MAX_DIMS: u32 = 4;
/// GGML_MAX_NAME: tensor names longer than this do not load.
const MAX_NAME: usize = 64;

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

/// Check the bytes of `n` bools: the specification allows 0 and 1 only.
fn bools(r: &mut R<'_>, mut n: u64, key: &str) -> Result<(), String> {
    while n > 0 {
        let take = n.min(64 * 1024);
        let b = r.bytes(take as usize)?;
        if let Some(bad) = b.iter().find(|x| **x > 1) {
            return Err(format!(
                "`{key}`: bool value {bad} (only 0 and 1 are bools)"
            ));
        }
        n -= take;
    }
    Ok(())
}

/// Read (and mostly skip) one value; returns a string value when it is one
/// and short enough to keep, or an integer.
fn value(r: &mut R<'_>, t: u32, depth: u32, key: &str) -> Result<Value, String> {
    match scalar_size(t)? {
        Some(_) if t == 7 => {
            bools(r, 1, key)?;
            Ok(Value::Other)
        }
        Some(n) => {
            let b = r.bytes(n as usize)?;
            Ok(match t {
                0 => Value::Int(u64::from(b[0])),
                2 => Value::Int(u64::from(u16::from_le_bytes(b.try_into().expect("2")))),
                4 => Value::Int(u64::from(u32::from_le_bytes(b.try_into().expect("4")))),
                5 => Value::Int(i32::from_le_bytes(b.try_into().expect("4")) as u64),
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
                    if et == 7 {
                        bools(r, count, key)?;
                    } else {
                        r.skip(total)?;
                    }
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

/// Metadata `inspect` shows: what the model is, how it is quantised, how
/// long a context it takes.
fn shown(key: &str) -> bool {
    matches!(
        key,
        "general.architecture"
            | "general.name"
            | "general.quantization_version"
            | "general.size_label"
            | "general.license"
    ) || key.ends_with(".context_length")
}

/// The llama.cpp `general.file_type` names (LLAMA_FTYPE).
fn file_type(t: u64) -> Option<&'static str> {
    Some(match t {
        0 => "ALL_F32",
        1 => "MOSTLY_F16",
        2 => "MOSTLY_Q4_0",
        3 => "MOSTLY_Q4_1",
        7 => "MOSTLY_Q8_0",
        8 => "MOSTLY_Q5_0",
        9 => "MOSTLY_Q5_1",
        10 => "MOSTLY_Q2_K",
        11 => "MOSTLY_Q3_K_S",
        12 => "MOSTLY_Q3_K_M",
        13 => "MOSTLY_Q3_K_L",
        14 => "MOSTLY_Q4_K_S",
        15 => "MOSTLY_Q4_K_M",
        16 => "MOSTLY_Q5_K_S",
        17 => "MOSTLY_Q5_K_M",
        18 => "MOSTLY_Q6_K",
        19 => "MOSTLY_IQ2_XXS",
        20 => "MOSTLY_IQ2_XS",
        21 => "MOSTLY_Q2_K_S",
        22 => "MOSTLY_IQ3_XS",
        23 => "MOSTLY_IQ3_XXS",
        24 => "MOSTLY_IQ1_S",
        25 => "MOSTLY_IQ4_NL",
        26 => "MOSTLY_IQ3_S",
        27 => "MOSTLY_IQ3_M",
        28 => "MOSTLY_IQ2_S",
        29 => "MOSTLY_IQ2_M",
        30 => "MOSTLY_IQ4_XS",
        31 => "MOSTLY_IQ1_M",
        32 => "MOSTLY_BF16",
        36 => "MOSTLY_TQ1_0",
        37 => "MOSTLY_TQ2_0",
        _ => return None,
    })
}

/// Inspect a GGUF file of `size` bytes.
pub fn inspect(rd: &mut dyn Read, size: u64) -> Inspection {
    let mut out = Inspection::new(super::Format::Gguf);
    match walk(rd, size, &mut out, None) {
        Ok(()) => {
            if out.verdict < Verdict::Ok {
                out.verdict = Verdict::Ok;
            }
            out
        }
        Err(e) => out.malformed(e),
    }
}

/// The tensors a GGUF file lists (name, ggml type, shape), in file order;
/// `None` when the file is not a well-formed GGUF. Reads the header only.
pub fn tensor_table(rd: &mut dyn Read, size: u64) -> Option<Vec<super::TensorInfo>> {
    let mut out = Inspection::new(super::Format::Gguf);
    let mut table = Vec::new();
    walk(rd, size, &mut out, Some(&mut table)).ok()?;
    Some(table)
}

/// Check a GGUF file, recording what it holds in `out` (and each tensor in
/// `table`, when asked).
fn walk(
    rd: &mut dyn Read,
    size: u64,
    out: &mut Inspection,
    mut table: Option<&mut Vec<super::TensorInfo>>,
) -> Result<(), String> {
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
        if key == "general.alignment" && t != 4 {
            return Err(format!(
                "general.alignment has value type {t}; the specification makes it a u32 (type 4)"
            ));
        }
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
            (k, Value::Str(v)) if shown(k) => {
                out.metadata
                    .insert(k.to_string(), v.chars().take(200).collect());
            }
            ("general.file_type", Value::Int(ft)) => {
                out.metadata.insert(
                    "general.file_type".into(),
                    file_type(ft).map_or(ft.to_string(), |n| format!("{n} ({ft})")),
                );
            }
            (k, Value::Int(v)) if shown(k) => {
                out.metadata.insert(k.to_string(), v.to_string());
            }
            _ => {}
        }
    }
    let mut infos: Vec<(u64, u64, String)> = Vec::new();
    let mut names = HashSet::new();
    let mut dtypes: BTreeMap<String, u64> = BTreeMap::new();
    for _ in 0..tensors {
        let name = r.string("tensor name")?.ok_or("tensor name too long")?;
        if name.len() > MAX_NAME {
            return Err(format!(
                "a tensor name of {} bytes (ggml allows {MAX_NAME}): `{}…`",
                name.len(),
                name.chars().take(32).collect::<String>()
            ));
        }
        if !names.insert(name.clone()) {
            return Err(format!("duplicate tensor name `{name}`"));
        }
        let dims = r.u32()?;
        if dims == 0 || dims > MAX_DIMS {
            return Err(format!("tensor `{name}` has {dims} dimensions"));
        }
        let mut elems = 1u64;
        let mut shape = Vec::new();
        for _ in 0..dims {
            let d = r.u64()?;
            elems = elems
                .checked_mul(d)
                .ok_or_else(|| format!("tensor `{name}`: shape product overflows"))?;
            shape.push(d);
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
        if let Some(t) = table.as_deref_mut() {
            t.push(super::TensorInfo {
                name: name.clone(),
                dtype: tname.to_string(),
                shape,
            });
        }
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
