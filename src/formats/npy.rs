//! NumPy `.npy`: magic, version, a Python-literal header (`descr`,
//! `fortran_order`, `shape`), then the data. An object dtype (`O`) means
//! the data is a pickle, which is walked like any other; otherwise the data
//! length must equal item size × shape product.

use std::io::Read;

use super::{Inspection, Verdict, pickle};

const HEADER_CAP: u64 = 1 << 20;

fn item_size(descr: &str) -> Option<u64> {
    let mut chars = descr.trim_start_matches(['<', '>', '|', '=']).chars();
    // The kind is one character, whatever its width in bytes.
    let kind = chars.next()?;
    let n: u64 = chars.as_str().parse().ok()?;
    match kind {
        'b' | 'i' | 'u' | 'f' | 'c' | 'S' | 'V' | 'm' | 'M' => Some(n),
        'U' => n.checked_mul(4),
        _ => None,
    }
}

/// Whether a dtype description holds Python objects anywhere — a plain
/// `'|O'` (or numpy's `'object'` spelling) or a field of a structured dtype,
/// however deeply nested. numpy pickles the whole array when it does.
fn has_object(descr: &Lit) -> bool {
    match descr {
        Lit::Str(s) => s
            .trim_start_matches(['<', '>', '|', '='])
            .starts_with(['O', 'o']),
        // [(name, dtype[, shape]), …]; a name may itself be a (title, name) pair.
        Lit::List(fields) => fields.iter().any(|f| match f {
            Lit::Tuple(parts) => parts.get(1).is_some_and(has_object),
            _ => false,
        }),
        _ => false,
    }
}

/// A Python literal of the subset `np.save` writes in a header.
#[derive(Debug, PartialEq)]
enum Lit {
    Str(String),
    Int(u64),
    Bool(bool),
    None,
    Tuple(Vec<Lit>),
    List(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

/// Python's spelling, for messages.
impl std::fmt::Display for Lit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |f: &mut std::fmt::Formatter<'_>, items: &[Lit], open, close| {
            write!(f, "{open}")?;
            for (i, x) in items.iter().enumerate() {
                write!(f, "{}{x}", if i > 0 { ", " } else { "" })?;
            }
            write!(f, "{close}")
        };
        match self {
            Lit::Str(s) => write!(f, "'{}'", s.escape_default()),
            Lit::Int(n) => write!(f, "{n}"),
            Lit::Bool(b) => write!(f, "{}", if *b { "True" } else { "False" }),
            Lit::None => write!(f, "None"),
            Lit::Tuple(items) if items.len() == 1 => write!(f, "({},)", items[0]),
            Lit::Tuple(items) => list(f, items, "(", ")"),
            Lit::List(items) => list(f, items, "[", "]"),
            Lit::Dict(items) => {
                write!(f, "{{")?;
                for (i, (k, v)) in items.iter().enumerate() {
                    write!(f, "{}{k}: {v}", if i > 0 { ", " } else { "" })?;
                }
                write!(f, "}}")
            }
        }
    }
}

/// A literal for a message: Python's spelling, cut at 60 characters.
fn short(l: &Lit) -> String {
    let s = l.to_string();
    match s.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s,
    }
}

/// Nesting, items per list and literals per header a header may use: far
/// beyond what numpy writes (at most 64 dimensions, a few fields), small
/// enough that no header can make the parser allocate much.
const MAX_DEPTH: usize = 32;
const MAX_ITEMS: usize = 1024;
const MAX_LITS: usize = 65_536;

/// Parse a header as one Python literal (trailing spaces and the newline
/// padding allowed). Errors say what was expected where.
fn parse_header(h: &[u8]) -> std::result::Result<Lit, String> {
    let mut p = LitParser {
        s: h,
        at: 0,
        lits: 0,
    };
    let v = p.value(0)?;
    p.space();
    if p.at != h.len() {
        return Err(format!("unexpected byte at {} after the literal", p.at));
    }
    Ok(v)
}

struct LitParser<'a> {
    s: &'a [u8],
    at: usize,
    lits: usize,
}

impl LitParser<'_> {
    fn space(&mut self) {
        while self.s.get(self.at).is_some_and(u8::is_ascii_whitespace) {
            self.at += 1;
        }
    }

    fn eat(&mut self, b: u8) -> bool {
        self.space();
        let hit = self.s.get(self.at) == Some(&b);
        self.at += usize::from(hit);
        hit
    }

    fn value(&mut self, depth: usize) -> std::result::Result<Lit, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nested deeper than {MAX_DEPTH}"));
        }
        self.lits += 1;
        if self.lits > MAX_LITS {
            return Err(format!("more than {MAX_LITS} literals"));
        }
        self.space();
        let here = self.at;
        match self.s.get(here).copied() {
            Some(b'\'' | b'"') => self.string(),
            // Python 2 wrote u'…' for unicode field names.
            Some(b'u' | b'b') if matches!(self.s.get(here + 1), Some(b'\'' | b'"')) => {
                self.at += 1;
                self.string()
            }
            Some(b'0'..=b'9') => self.int(),
            Some(b'(') => self.seq(b')', depth).map(Lit::Tuple),
            Some(b'[') => self.seq(b']', depth).map(Lit::List),
            Some(b'{') => self.dict(depth),
            _ => {
                for (word, lit) in [
                    (&b"True"[..], Lit::Bool(true)),
                    (b"False", Lit::Bool(false)),
                    (b"None", Lit::None),
                ] {
                    if self.s[here..].starts_with(word) {
                        self.at += word.len();
                        return Ok(lit);
                    }
                }
                Err(format!("no Python literal at byte {here}"))
            }
        }
    }

    fn string(&mut self) -> std::result::Result<Lit, String> {
        let quote = self.s[self.at];
        let start = self.at;
        self.at += 1;
        let mut out = Vec::new();
        loop {
            match self.s.get(self.at).copied() {
                None => return Err(format!("string at byte {start} never ends")),
                Some(b) if b == quote => {
                    self.at += 1;
                    return Ok(Lit::Str(String::from_utf8_lossy(&out).into_owned()));
                }
                Some(b'\\') => {
                    let Some(&next) = self.s.get(self.at + 1) else {
                        return Err(format!("string at byte {start} never ends"));
                    };
                    out.push(next);
                    self.at += 2;
                }
                Some(b) => {
                    out.push(b);
                    self.at += 1;
                }
            }
        }
    }

    fn int(&mut self) -> std::result::Result<Lit, String> {
        let start = self.at;
        let mut n = 0u64;
        while let Some(d) = self.s.get(self.at).filter(|b| b.is_ascii_digit()) {
            n = n
                .checked_mul(10)
                .and_then(|n| n.checked_add(u64::from(d - b'0')))
                .ok_or_else(|| format!("number at byte {start} overflows"))?;
            self.at += 1;
        }
        // Python 2 headers wrote longs as `3L`.
        self.at += usize::from(self.s.get(self.at) == Some(&b'L'));
        Ok(Lit::Int(n))
    }

    fn seq(&mut self, close: u8, depth: usize) -> std::result::Result<Vec<Lit>, String> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            if items.len() == MAX_ITEMS {
                return Err(format!("a sequence longer than {MAX_ITEMS} items"));
            }
            items.push(self.value(depth + 1)?);
            if self.eat(b',') {
                continue;
            }
            if self.eat(close) {
                return Ok(items);
            }
            return Err(format!(
                "expected `,` or `{}` at byte {}",
                close as char, self.at
            ));
        }
    }

    fn dict(&mut self, depth: usize) -> std::result::Result<Lit, String> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(b'}') {
                return Ok(Lit::Dict(items));
            }
            if items.len() == MAX_ITEMS {
                return Err(format!("a dict longer than {MAX_ITEMS} items"));
            }
            let k = self.value(depth + 1)?;
            if !self.eat(b':') {
                return Err(format!("expected `:` at byte {}", self.at));
            }
            let v = self.value(depth + 1)?;
            items.push((k, v));
            if self.eat(b',') {
                continue;
            }
            if self.eat(b'}') {
                return Ok(Lit::Dict(items));
            }
            return Err(format!("expected `,` or `}}` at byte {}", self.at));
        }
    }
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
    let entries = match parse_header(&h) {
        Ok(Lit::Dict(entries)) => entries,
        Ok(_) => return out.malformed("header is not a dict"),
        Err(e) => return out.malformed(format!("header is not a Python literal: {e}")),
    };
    // numpy refuses any other set of keys.
    let (mut descr, mut shape, mut order) = (None, None, None);
    for (k, v) in &entries {
        let slot = match k {
            Lit::Str(k) if k == "descr" => &mut descr,
            Lit::Str(k) if k == "shape" => &mut shape,
            Lit::Str(k) if k == "fortran_order" => &mut order,
            other => {
                return out.malformed(format!("header has an unexpected key {}", short(other)));
            }
        };
        if slot.replace(v).is_some() {
            return out.malformed(format!("header repeats the key {}", short(k)));
        }
    }
    let (Some(descr), Some(Lit::Tuple(shape)), Some(Lit::Bool(_))) = (descr, shape, order) else {
        return out.malformed("header needs `descr`, a `shape` tuple and a `fortran_order` flag");
    };
    let mut elems = 1u64;
    for d in shape {
        let Lit::Int(d) = d else {
            return out.malformed(format!("shape dimension {} is not a size", short(d)));
        };
        match elems.checked_mul(*d) {
            Some(e) => elems = e,
            None => return out.malformed("shape product overflows"),
        }
    }
    let data = size - prefix - hlen;
    if has_object(descr) {
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
    let descr_str = match descr {
        Lit::Str(d) => d.as_str(),
        Lit::List(_) => "structured",
        other => return out.malformed(format!("`descr` {} is not a dtype", short(other))),
    };
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
            format!("dtype `{descr_str}` not sized; data length not checked"),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> std::result::Result<Lit, String> {
        parse_header(s.as_bytes())
    }

    #[test]
    fn numpy_headers_parse() {
        let h = "{'descr': [(('The X', 'x'), '<f4'), ('y', '<i8', (2,))], 'fortran_order': False, 'shape': (3, 0L), }   \n";
        let v = parse(h).unwrap();
        assert_eq!(
            v.to_string(),
            "{'descr': [(('The X', 'x'), '<f4'), ('y', '<i8', (2,))], 'fortran_order': False, 'shape': (3, 0)}"
        );
        let v = parse(r#"{u"descr": 'it\'s', 'a': None, 'b': True}"#).unwrap();
        let Lit::Dict(items) = v else { panic!() };
        assert_eq!(items[0].0, Lit::Str("descr".into()));
        assert_eq!(items[0].1, Lit::Str("it's".into()));
        assert_eq!(items[1].1, Lit::None);
        assert_eq!(items[2].1, Lit::Bool(true));
    }

    #[test]
    fn broken_literals_are_refused_with_a_place() {
        for (bad, says) in [
            ("{'a': 1", "expected `,` or `}`"),
            ("{'a' 1}", "expected `:`"),
            ("{'a': 1} x", "unexpected byte at 9"),
            ("{'a': 'open}", "never ends"),
            ("{'a': -1}", "no Python literal at byte 6"),
            ("{'a': 99999999999999999999}", "overflows"),
            ("(1 2)", "expected `,` or `)`"),
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn limits_hold() {
        let deep = format!("{}{}", "[".repeat(MAX_DEPTH + 2), "]".repeat(MAX_DEPTH + 2));
        assert!(parse(&deep).unwrap_err().contains("nested deeper"));
        let long = format!("[{}]", "0,".repeat(MAX_ITEMS + 1));
        assert!(parse(&long).unwrap_err().contains("longer than"));
        let ok = format!("[{}]", "0,".repeat(MAX_ITEMS));
        assert!(parse(&ok).is_ok());
        let block = format!("[{}],", "[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0],".repeat(1000));
        let many = format!("[{}]", block.repeat(5));
        assert!(parse(&many).unwrap_err().contains("literals"));
    }

    #[test]
    fn object_fields_are_found_at_any_depth() {
        let descr = |s: &str| {
            let Lit::Dict(mut d) = parse(&format!("{{'d': {s}}}")).unwrap() else {
                panic!()
            };
            d.remove(0).1
        };
        for obj in [
            "'|O'",
            "'O8'",
            "'object'",
            "[('a', '<f4'), ('b', 'O')]",
            "[('a', [('b', [('c', '|O', (2,))])])]",
        ] {
            assert!(has_object(&descr(obj)), "{obj}");
        }
        for plain in [
            "'<f4'",
            "[('O', '<f4')]",
            "[(('O', 'O'), '<i8')]",
            "'<M8[ns]'",
        ] {
            assert!(!has_object(&descr(plain)), "{plain}");
        }
    }

    #[test]
    fn a_kind_of_several_bytes_is_not_sized_and_does_not_panic() {
        assert_eq!(item_size("\u{fffd}O"), None);
        assert_eq!(item_size("<\u{e9}4"), None);
        assert_eq!(item_size("<f4"), Some(4));
        assert_eq!(item_size("<U3"), Some(12));
    }
}
