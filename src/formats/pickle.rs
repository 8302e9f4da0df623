//! A static walk of pickle opcodes (protocols 0–5) that collects every
//! global the stream would import and every call it would make — without
//! unpickling anything. `STACK_GLOBAL` names are resolved through a model of
//! the stack and the memo. Globals on the safe list (what PyTorch's
//! `weights_only` loader accepts) are safe; any other global is dangerous.
//! Bounded: strings longer than 1 MiB are skipped, not kept; the modelled
//! stack and memo are capped.

use std::collections::{BTreeSet, HashMap};
use std::io::Read;

/// Globals PyTorch's `weights_only=True` unpickler accepts by default.
pub const SAFE_GLOBALS: &[&str] = &[
    "collections.OrderedDict",
    "builtins.set",
    "builtins.frozenset",
    "builtins.bytearray",
    "builtins.slice",
    "builtins.complex",
    "_codecs.encode",
    "torch._utils._rebuild_tensor",
    "torch._utils._rebuild_tensor_v2",
    "torch._utils._rebuild_tensor_v3",
    "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state",
    "torch._utils._rebuild_sparse_tensor",
    "torch._utils._rebuild_nested_tensor",
    "torch._utils._rebuild_qtensor",
    "torch._utils._rebuild_meta_tensor_no_storage",
    "torch._utils._rebuild_wrapper_subclass",
    "torch._utils._rebuild_device_tensor_from_numpy",
    "torch._tensor._rebuild_from_type_v2",
    "torch.nn.parameter.Parameter",
    "torch.Size",
    "torch.device",
    "torch.Tensor",
    "torch.storage.UntypedStorage",
    "torch.storage.TypedStorage",
    "torch.DoubleStorage",
    "torch.FloatStorage",
    "torch.HalfStorage",
    "torch.BFloat16Storage",
    "torch.LongStorage",
    "torch.IntStorage",
    "torch.ShortStorage",
    "torch.CharStorage",
    "torch.ByteStorage",
    "torch.BoolStorage",
    "torch.ComplexFloatStorage",
    "torch.ComplexDoubleStorage",
    "torch.QInt8Storage",
    "torch.QUInt8Storage",
    "torch.QInt32Storage",
    "torch.float64",
    "torch.float32",
    "torch.float16",
    "torch.bfloat16",
    "torch.int64",
    "torch.int32",
    "torch.int16",
    "torch.int8",
    "torch.uint8",
    "torch.bool",
    "torch.complex64",
    "torch.complex128",
    "torch.float8_e4m3fn",
    "torch.float8_e5m2",
    "torch.per_tensor_affine",
    "torch.per_channel_affine",
    "torch.strided",
    "torch.sparse_coo",
    "torch.sparse_csr",
];

const KEEP_STRING: u64 = 1 << 20;
const STACK_CAP: usize = 1 << 20;
const MEMO_CAP: usize = 1 << 20;

/// What the walk found.
#[derive(Debug, Default, Clone)]
pub struct PickleReport {
    /// Every `module.name` the stream imports.
    pub globals: BTreeSet<String>,
    /// Calls (REDUCE, BUILD, NEWOBJ, INST, OBJ), with the callee where known.
    pub calls: BTreeSet<String>,
    /// Calls that rebuild a tensor (a tensor count for state dicts).
    pub tensor_rebuilds: u64,
}

impl PickleReport {
    /// The globals outside the safe list.
    pub fn dangerous(&self) -> Vec<String> {
        self.globals
            .iter()
            .filter(|g| !SAFE_GLOBALS.contains(&g.as_str()))
            .cloned()
            .collect()
    }
}

#[derive(Clone)]
enum Item {
    Str(String),
    Global(String),
    Mark,
    Other,
}

struct W<'a> {
    r: &'a mut dyn Read,
    pos: u64,
    size: u64,
    stack: Vec<Item>,
    memo: HashMap<u64, Item>,
    memo_next: u64,
}

impl W<'_> {
    fn byte(&mut self) -> Result<Option<u8>, String> {
        let mut b = [0u8; 1];
        match self.r.read(&mut b) {
            Ok(0) => Ok(None),
            Ok(_) => {
                self.pos += 1;
                Ok(Some(b[0]))
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn n(&mut self, n: u64) -> Result<Vec<u8>, String> {
        if n > self.size.saturating_sub(self.pos) {
            return Err(format!(
                "argument of {n} bytes runs past the end at offset {}",
                self.pos
            ));
        }
        let mut b = vec![0u8; n as usize];
        self.r
            .read_exact(&mut b)
            .map_err(|_| format!("truncated at offset {}", self.pos))?;
        self.pos += n;
        Ok(b)
    }

    fn uint(&mut self, n: u64) -> Result<u64, String> {
        let b = self.n(n)?;
        let mut v = [0u8; 8];
        v[..b.len()].copy_from_slice(&b);
        Ok(u64::from_le_bytes(v))
    }

    /// A length-prefixed payload: kept as a string when short, else skipped.
    fn data(&mut self, len: u64) -> Result<Option<Vec<u8>>, String> {
        if len > self.size.saturating_sub(self.pos) {
            return Err(format!(
                "a {len}-byte payload runs past the end at offset {}",
                self.pos
            ));
        }
        if len > KEEP_STRING {
            let copied = std::io::copy(&mut self.r.take(len), &mut std::io::sink())
                .map_err(|e| e.to_string())?;
            self.pos += copied;
            if copied != len {
                return Err("truncated payload".into());
            }
            return Ok(None);
        }
        self.n(len).map(Some)
    }

    fn line(&mut self) -> Result<String, String> {
        let mut v = Vec::new();
        loop {
            match self.byte()? {
                None => return Err("newline-terminated argument runs past the end".into()),
                Some(b'\n') => break,
                Some(b) => {
                    if v.len() as u64 >= KEEP_STRING {
                        return Err("newline-terminated argument longer than 1 MiB".into());
                    }
                    v.push(b);
                }
            }
        }
        Ok(String::from_utf8_lossy(&v).into_owned())
    }

    fn push(&mut self, i: Item) -> Result<(), String> {
        if self.stack.len() >= STACK_CAP {
            return Err("stack deeper than the cap".into());
        }
        self.stack.push(i);
        Ok(())
    }

    fn pop(&mut self) -> Result<Item, String> {
        self.stack
            .pop()
            .ok_or_else(|| format!("stack underflow at offset {}", self.pos))
    }

    fn pop_mark(&mut self) -> Result<(), String> {
        loop {
            if let Item::Mark = self.pop()? {
                return Ok(());
            }
        }
    }

    fn top(&self) -> Result<Item, String> {
        self.stack
            .last()
            .cloned()
            .ok_or_else(|| format!("stack underflow at offset {}", self.pos))
    }

    fn put(&mut self, k: u64) -> Result<(), String> {
        if self.memo.len() >= MEMO_CAP {
            return Err("memo larger than the cap".into());
        }
        let t = self.top()?;
        self.memo.insert(k, t);
        Ok(())
    }

    fn get(&mut self, k: u64) -> Result<(), String> {
        let v = self
            .memo
            .get(&k)
            .cloned()
            .ok_or_else(|| format!("memo key {k} read before it was written"))?;
        self.push(v)
    }
}

fn text(b: Option<Vec<u8>>) -> Item {
    match b {
        Some(b) => match String::from_utf8(b) {
            Ok(s) => Item::Str(s),
            Err(_) => Item::Other,
        },
        None => Item::Other,
    }
}

/// The longest global name kept as read; past it the name is cut.
const SHOWN_NAME: usize = 160;

/// `module.name` as it is reported and matched against the safe list: a
/// real global is a dotted identifier and comes through unchanged; control
/// characters in hostile bytes are escaped (they reach a terminal in the
/// refusal message) and an over-long name is cut.
fn global(module: &str, name: &str) -> String {
    let mut g = String::new();
    for c in module.chars().chain(['.']).chain(name.chars()) {
        if g.len() >= SHOWN_NAME {
            g.push('…');
            break;
        }
        if c.is_control() || c == '\u{fffd}' {
            g.extend(c.escape_default());
        } else {
            g.push(c);
        }
    }
    g
}

/// Walk one pickle from the reader's position to its STOP opcode.
/// Returns false if the stream does not start with an opcode we accept as a
/// pickle start (used to stop after a legacy file's pickles).
fn walk_one(w: &mut W<'_>, rep: &mut PickleReport, first: Option<u8>) -> Result<(), String> {
    w.stack.clear();
    w.memo.clear();
    w.memo_next = 0;
    let mut op = first;
    loop {
        let o = match op.take() {
            Some(o) => o,
            None => w.byte()?.ok_or("the pickle ends without STOP")?,
        };
        match o {
            b'.' => return Ok(()),
            0x80 => {
                let p = w.uint(1)?;
                if p > 5 {
                    return Err(format!("unknown pickle protocol {p}"));
                }
            }
            0x95 => {
                w.uint(8)?;
            }
            b'(' => w.push(Item::Mark)?,
            b'0' => {
                w.pop()?;
            }
            b'1' => w.pop_mark()?,
            b'2' => {
                let t = w.top()?;
                w.push(t)?;
            }
            b'N' | 0x88 | 0x89 | b')' | b']' | b'}' | 0x8f => w.push(Item::Other)?,
            b'I' | b'L' | b'F' => {
                w.line()?;
                w.push(Item::Other)?;
            }
            b'S' | b'V' => {
                let s = w.line()?;
                w.push(Item::Str(
                    s.trim_matches(|c| c == '\'' || c == '"').to_string(),
                ))?;
            }
            b'K' => {
                w.uint(1)?;
                w.push(Item::Other)?;
            }
            b'M' => {
                w.uint(2)?;
                w.push(Item::Other)?;
            }
            b'J' => {
                w.uint(4)?;
                w.push(Item::Other)?;
            }
            b'G' => {
                w.uint(8)?;
                w.push(Item::Other)?;
            }
            0x8a => {
                let n = w.uint(1)?;
                w.data(n)?;
                w.push(Item::Other)?;
            }
            0x8b => {
                let n = w.uint(4)?;
                w.data(n)?;
                w.push(Item::Other)?;
            }
            b'U' | 0x8c => {
                let n = w.uint(1)?;
                let d = w.data(n)?;
                w.push(text(d))?;
            }
            b'C' => {
                let n = w.uint(1)?;
                w.data(n)?;
                w.push(Item::Other)?;
            }
            b'T' | b'X' => {
                let n = w.uint(4)?;
                let d = w.data(n)?;
                w.push(text(d))?;
            }
            b'B' => {
                let n = w.uint(4)?;
                w.data(n)?;
                w.push(Item::Other)?;
            }
            0x8d => {
                let n = w.uint(8)?;
                let d = w.data(n)?;
                w.push(text(d))?;
            }
            0x8e | 0x96 => {
                let n = w.uint(8)?;
                w.data(n)?;
                w.push(Item::Other)?;
            }
            0x97 => w.push(Item::Other)?,
            0x98 => {}
            b'g' => {
                let k = w.line()?.trim().parse::<u64>().map_err(|_| "bad GET key")?;
                w.get(k)?;
            }
            b'h' => {
                let k = w.uint(1)?;
                w.get(k)?;
            }
            b'j' => {
                let k = w.uint(4)?;
                w.get(k)?;
            }
            b'p' => {
                let k = w.line()?.trim().parse::<u64>().map_err(|_| "bad PUT key")?;
                w.put(k)?;
            }
            b'q' => {
                let k = w.uint(1)?;
                w.put(k)?;
            }
            b'r' => {
                let k = w.uint(4)?;
                w.put(k)?;
            }
            0x94 => {
                let k = w.memo_next;
                w.memo_next += 1;
                w.put(k)?;
            }
            b'c' => {
                let module = w.line()?;
                let name = w.line()?;
                let g = global(&module, &name);
                rep.globals.insert(g.clone());
                w.push(Item::Global(g))?;
            }
            b'i' => {
                let module = w.line()?;
                let name = w.line()?;
                let g = global(&module, &name);
                rep.globals.insert(g.clone());
                rep.calls.insert(format!("INST {g}"));
                w.pop_mark()?;
                w.push(Item::Other)?;
            }
            0x93 => {
                let name = w.pop()?;
                let module = w.pop()?;
                let g = match (module, name) {
                    (Item::Str(m), Item::Str(n)) => global(&m, &n),
                    _ => "<STACK_GLOBAL of a name that is not a constant string>".to_string(),
                };
                rep.globals.insert(g.clone());
                w.push(Item::Global(g))?;
            }
            0x82..=0x84 => {
                let n = match o {
                    0x82 => 1,
                    0x83 => 2,
                    _ => 4,
                };
                let code = w.uint(n)?;
                let g = format!("<extension code {code}>");
                rep.globals.insert(g.clone());
                w.push(Item::Global(g))?;
            }
            b'R' => {
                w.pop()?;
                let f = w.pop()?;
                if let Item::Global(g) = &f
                    && g.starts_with("torch._utils._rebuild_tensor")
                {
                    rep.tensor_rebuilds += 1;
                }
                rep.calls.insert(match f {
                    Item::Global(g) => format!("REDUCE {g}"),
                    _ => "REDUCE <computed callable>".into(),
                });
                w.push(Item::Other)?;
            }
            0x81 => {
                w.pop()?;
                let c = w.pop()?;
                rep.calls.insert(match c {
                    Item::Global(g) => format!("NEWOBJ {g}"),
                    _ => "NEWOBJ <computed class>".into(),
                });
                w.push(Item::Other)?;
            }
            0x92 => {
                w.pop()?;
                w.pop()?;
                let c = w.pop()?;
                rep.calls.insert(match c {
                    Item::Global(g) => format!("NEWOBJ_EX {g}"),
                    _ => "NEWOBJ_EX <computed class>".into(),
                });
                w.push(Item::Other)?;
            }
            b'b' => {
                w.pop()?;
                rep.calls.insert("BUILD".into());
            }
            b'o' => {
                // OBJ: class and args above the mark.
                let mut items = Vec::new();
                loop {
                    match w.pop()? {
                        Item::Mark => break,
                        i => items.push(i),
                    }
                }
                let class = items.pop();
                rep.calls.insert(match class {
                    Some(Item::Global(g)) => format!("OBJ {g}"),
                    _ => "OBJ <computed class>".into(),
                });
                w.push(Item::Other)?;
            }
            b'a' => {
                w.pop()?;
            }
            b'e' | b'u' | 0x90 => w.pop_mark()?,
            b's' => {
                w.pop()?;
                w.pop()?;
            }
            b't' | b'l' | b'd' | 0x91 => {
                w.pop_mark()?;
                w.push(Item::Other)?;
            }
            0x85 => {
                w.pop()?;
                w.push(Item::Other)?;
            }
            0x86 => {
                w.pop()?;
                w.pop()?;
                w.push(Item::Other)?;
            }
            0x87 => {
                w.pop()?;
                w.pop()?;
                w.pop()?;
                w.push(Item::Other)?;
            }
            b'P' => {
                w.line()?;
                w.push(Item::Other)?;
            }
            b'Q' => {
                w.pop()?;
                w.push(Item::Other)?;
            }
            other => {
                return Err(format!(
                    "unknown opcode 0x{other:02x} at offset {}",
                    w.pos - 1
                ));
            }
        }
    }
}

/// Walk the pickles at the start of a stream of `size` bytes: one, or — as
/// in legacy `torch.save` files — several in a row, stopping at the first
/// byte after a STOP that does not begin another protocol-2+ pickle (raw
/// tensor storage follows).
pub fn walk(r: &mut dyn Read, size: u64, many: bool) -> Result<PickleReport, String> {
    let mut w = W {
        r,
        pos: 0,
        size,
        stack: Vec::new(),
        memo: HashMap::new(),
        memo_next: 0,
    };
    let mut rep = PickleReport::default();
    walk_one(&mut w, &mut rep, None)?;
    if many {
        while let Some(0x80) = w.byte()? {
            walk_one(&mut w, &mut rep, Some(0x80))?;
        }
    }
    Ok(rep)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(b: &[u8]) -> Result<PickleReport, String> {
        walk(&mut &b[..], b.len() as u64, false)
    }

    #[test]
    fn protocol_0_global_and_reduce() {
        // cos\nsystem\n(S'id'\ntR.
        let r = run(b"cos\nsystem\n(S'id'\ntR.").unwrap();
        assert!(r.globals.contains("os.system"));
        assert!(r.calls.contains("REDUCE os.system"));
        assert_eq!(r.dangerous(), vec!["os.system".to_string()]);
    }

    #[test]
    fn stack_global_through_the_memo() {
        // PROTO 4, SHORT_BINUNICODE 'builtins', MEMOIZE, SHORT_BINUNICODE 'eval',
        // MEMOIZE, POP, POP, BINGET 0, BINGET 1, STACK_GLOBAL, STOP
        let mut b = vec![0x80, 4, 0x8c, 8];
        b.extend_from_slice(b"builtins");
        b.extend_from_slice(&[0x94, 0x8c, 4]);
        b.extend_from_slice(b"eval");
        b.extend_from_slice(&[0x94, b'0', b'0', b'h', 0, b'h', 1, 0x93, b'.']);
        let r = run(&b).unwrap();
        assert!(r.globals.contains("builtins.eval"), "{:?}", r.globals);
    }

    #[test]
    fn hostile_global_names_are_escaped_and_cut() {
        // GLOBAL with an escape sequence and a 4 KiB name, then STOP.
        let mut b = b"cos\x1b[2J\n".to_vec();
        b.extend(std::iter::repeat_n(b'A', 4096));
        b.extend_from_slice(b"\n.");
        let r = run(&b).unwrap();
        let g = r.globals.iter().next().unwrap();
        assert!(g.starts_with("os\\u{1b}[2J.AAA"), "{g}");
        assert!(!g.chars().any(char::is_control), "{g:?}");
        assert!(g.len() < 200, "{}", g.len());
    }

    #[test]
    fn safe_state_dict_has_no_dangerous_globals() {
        let b = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01.";
        let r = run(b).unwrap();
        assert!(r.dangerous().is_empty());
        assert!(r.calls.contains("REDUCE collections.OrderedDict"));
    }

    #[test]
    fn malformed_streams_are_errors() {
        assert!(run(b"\x80\x02").is_err(), "no STOP");
        assert!(run(b"0.").is_err(), "underflow");
        assert!(run(b"\x80\x02\xff.").is_err(), "unknown opcode");
        assert!(
            run(b"\x80\x02X\xff\xff\xff\x7f.").is_err(),
            "length past the end"
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(proptest::num::u8::ANY, 0..2000)) {
            let _ = walk(&mut &b[..], b.len() as u64, true);
        }
    }
}
