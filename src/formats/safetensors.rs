//! safetensors: an 8-byte little-endian header length, a JSON header, then
//! the tensor data. Checked: the length is sane and inside the file (capped),
//! the header is UTF-8 JSON opening with `{` with no duplicate names, dtypes
//! are those of the current safetensors release (sub-byte ones included),
//! each tensor's length is dtype bits × shape product in whole bytes (no
//! overflow), offsets
//! lie in the data area, tensors neither overlap nor leave gaps, no bytes
//! follow the last tensor, `__metadata__` holds strings only. Reads only the
//! header.

use std::collections::BTreeMap;
use std::io::Read;

use serde::de::{Deserializer, MapAccess, Visitor};

use super::{Inspection, Verdict};

/// Largest header accepted (the reference implementation caps at 100 MB).
pub const HEADER_CAP: u64 = 100_000_000;

/// Bits per element of each dtype the current safetensors release reads
/// (0.8: the sub-byte F4 and F6 floats, the F8 variants, C64).
pub fn dtype_bits(d: &str) -> Option<u64> {
    Some(match d {
        "F4" => 4,
        "F6_E2M3" | "F6_E3M2" => 6,
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" | "F8_E8M0" | "F8_E4M3FNUZ"
        | "F8_E5M2FNUZ" => 8,
        "U16" | "I16" | "F16" | "BF16" => 16,
        "U32" | "I32" | "F32" => 32,
        "U64" | "I64" | "F64" | "C64" => 64,
        _ => return None,
    })
}

/// A JSON object read with its keys in order and duplicates kept, so that
/// a repeated tensor name is seen instead of silently overwritten.
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, serde_json::Value>()? {
                    v.push((k, val));
                }
                Ok(Ordered(v))
            }
        }
        d.deserialize_map(V)
    }
}

/// Read the header length and the header (capped, inside the file, UTF-8
/// JSON opening with `{`); `Err` says what is malformed.
fn read_header(r: &mut dyn Read, size: u64) -> Result<(u64, Ordered), String> {
    let mut len = [0u8; 8];
    if r.read_exact(&mut len).is_err() {
        return Err("shorter than the 8-byte header length".into());
    }
    let n = u64::from_le_bytes(len);
    if n > HEADER_CAP {
        return Err(format!(
            "header length {n} exceeds the {HEADER_CAP}-byte cap"
        ));
    }
    if n.saturating_add(8) > size {
        return Err(format!(
            "header length {n} points past the end of the {size}-byte file"
        ));
    }
    let mut header = vec![0u8; n as usize];
    if r.read_exact(&mut header).is_err() {
        return Err("file ends inside the header".into());
    }
    let Ok(text) = std::str::from_utf8(&header) else {
        return Err("header is not UTF-8".into());
    };
    if !text.starts_with('{') {
        return Err("the header does not start with `{` (the reference reader refuses it)".into());
    }
    match serde_json::from_str(text.trim_end_matches(' ')) {
        Ok(e) => Ok((n, e)),
        Err(e) => Err(format!("header is not a JSON object: {e}")),
    }
}

/// The tensors a safetensors file's header lists, in header order
/// (`__metadata__` left out); `None` when the header cannot be read.
/// Reads only the header.
pub fn tensor_table(r: &mut dyn Read, size: u64) -> Option<Vec<super::TensorInfo>> {
    let (_, entries) = read_header(r, size).ok()?;
    entries
        .0
        .into_iter()
        .filter(|(name, _)| name != "__metadata__")
        .map(|(name, v)| {
            let obj = v.as_object()?;
            Some(super::TensorInfo {
                name,
                dtype: obj.get("dtype")?.as_str()?.to_string(),
                shape: obj
                    .get("shape")?
                    .as_array()?
                    .iter()
                    .map(|d| d.as_u64())
                    .collect::<Option<Vec<u64>>>()?,
            })
        })
        .collect()
}

/// Inspect a safetensors file of `size` bytes.
pub fn inspect(r: &mut dyn Read, size: u64) -> Inspection {
    let mut out = Inspection::new(super::Format::Safetensors);
    let (n, entries) = match read_header(r, size) {
        Ok(h) => h,
        Err(m) => return out.malformed(m),
    };
    let data_len = size - 8 - n;
    let mut seen = std::collections::HashSet::new();
    let mut spans: Vec<(u64, u64, String)> = Vec::new();
    let mut dtypes: BTreeMap<String, u64> = BTreeMap::new();
    for (name, v) in entries.0 {
        if !seen.insert(name.clone()) {
            return out.malformed(format!("duplicate tensor name `{name}`"));
        }
        if name == "__metadata__" {
            let Some(m) = v.as_object().filter(|m| m.values().all(|x| x.is_string())) else {
                return out.malformed("`__metadata__` must map strings to strings");
            };
            for (k, x) in m.iter().take(64) {
                let text: String = x.as_str().unwrap_or_default().chars().take(200).collect();
                out.metadata.insert(k.chars().take(100).collect(), text);
            }
            continue;
        }
        let Some(obj) = v.as_object() else {
            return out.malformed(format!("tensor `{name}` is not an object"));
        };
        let Some(dtype) = obj.get("dtype").and_then(|d| d.as_str()) else {
            return out.malformed(format!("tensor `{name}` has no dtype"));
        };
        let Some(ebits) = dtype_bits(dtype) else {
            return out.malformed(format!("tensor `{name}` has unknown dtype `{dtype}`"));
        };
        let Some(shape) = obj.get("shape").and_then(|s| s.as_array()) else {
            return out.malformed(format!("tensor `{name}` has no shape"));
        };
        let mut elems: u64 = 1;
        for d in shape {
            let Some(d) = d.as_u64() else {
                return out.malformed(format!("tensor `{name}` has a non-integer dimension"));
            };
            elems = match elems.checked_mul(d) {
                Some(e) => e,
                None => return out.malformed(format!("tensor `{name}`: shape product overflows")),
            };
        }
        let Some(bits) = elems.checked_mul(ebits) else {
            return out.malformed(format!("tensor `{name}`: byte length overflows"));
        };
        if bits % 8 != 0 {
            return out.malformed(format!(
                "tensor `{name}`: {elems} × {dtype} is {bits} bits, not whole bytes"
            ));
        }
        let bytes = bits / 8;
        let offs = obj.get("data_offsets").and_then(|o| o.as_array());
        let (Some(b), Some(e)) = (
            offs.and_then(|o| o.first()).and_then(|x| x.as_u64()),
            offs.and_then(|o| o.get(1)).and_then(|x| x.as_u64()),
        ) else {
            return out.malformed(format!("tensor `{name}` has no valid data_offsets"));
        };
        if offs.is_some_and(|o| o.len() != 2) || obj.len() != 3 {
            return out.malformed(format!("tensor `{name}` has unexpected fields"));
        }
        if e < b || e > data_len {
            return out.malformed(format!(
                "tensor `{name}` offsets [{b}, {e}] lie outside the {data_len}-byte data area"
            ));
        }
        if e - b != bytes {
            return out.malformed(format!(
                "tensor `{name}` holds {} bytes but {dtype} × {elems} needs {bytes}",
                e - b
            ));
        }
        out.parameters = out.parameters.saturating_add(elems);
        *dtypes.entry(dtype.to_string()).or_default() += elems;
        spans.push((b, e, name));
    }
    spans.sort();
    let mut at = 0u64;
    for (b, e, name) in &spans {
        if *b < at {
            return out.malformed(format!("tensor `{name}` overlaps the one before it"));
        }
        if *b > at {
            return out.malformed(format!("a gap of {} bytes before tensor `{name}`", b - at));
        }
        at = *e;
    }
    if at != data_len {
        return out.malformed(format!("{} bytes after the last tensor", data_len - at));
    }
    out.tensors = spans.len() as u64;
    out.dtypes = dtypes.into_keys().collect();
    out.verdict = Verdict::Ok;
    out
}
