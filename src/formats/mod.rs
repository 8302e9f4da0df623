//! Know what a weight file is before anyone loads it.
//!
//! [`sniff`] recognises a format from the first bytes (never the name) — the
//! cheap check done during the hashing pass. [`inspect`] then reads each
//! file's structure without executing anything: safetensors and GGUF headers,
//! pickle opcode streams (bare, inside zips and tars, inside object `.npy`),
//! zip directories, tar members; plus chat templates and executable companions. Every parser
//! bounds what it reads by the file size and fixed caps, and returns a
//! verdict instead of panicking. The policy (exit 3 for malformed, 4 for
//! unsafe unless allowed) is applied by [`crate::safety`].

pub mod gguf;
pub mod npy;
pub mod pickle;
pub mod safetensors;
pub mod tar;
pub mod zip;

use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use serde::Serialize;

/// What a file's bytes say it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Format {
    /// A safetensors file: a JSON header, then raw tensor bytes.
    Safetensors,
    /// A GGUF file (llama.cpp).
    Gguf,
    /// A bare pickle stream (`torch.save` of old, `.bin`, `.pkl`).
    Pickle,
    /// A PyTorch zip archive (`torch.save` since 1.6).
    PytorchZip,
    /// Another zip archive (`.npz` among them).
    Zip,
    /// A tar archive (the legacy `torch.save` format).
    Tar,
    /// A NumPy `.npy` array.
    Npy,
    /// JSON text (configs, tokenizers).
    Json,
    /// Other text.
    Text,
    /// Anything else.
    Other,
}

impl Format {
    /// The format as recorded and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Safetensors => "safetensors",
            Format::Gguf => "gguf",
            Format::Pickle => "pickle",
            Format::PytorchZip => "pytorch-zip",
            Format::Zip => "zip",
            Format::Tar => "tar",
            Format::Npy => "npy",
            Format::Json => "json",
            Format::Text => "text",
            Format::Other => "other",
        }
    }

    /// The format a recorded name stands for (`as_str` read back).
    pub fn parse(s: &str) -> Option<Format> {
        [
            Format::Safetensors,
            Format::Gguf,
            Format::Pickle,
            Format::PytorchZip,
            Format::Zip,
            Format::Tar,
            Format::Npy,
            Format::Json,
            Format::Text,
            Format::Other,
        ]
        .into_iter()
        .find(|f| f.as_str() == s)
    }

    /// Formats that hold tensors (what `scan` and audits care most about).
    pub fn is_weights(self) -> bool {
        matches!(
            self,
            Format::Safetensors | Format::Gguf | Format::Pickle | Format::PytorchZip | Format::Npy
        )
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Guess a format from the first bytes of a file of `size` bytes.
pub fn sniff(head: &[u8], size: u64) -> Format {
    if size == 0 {
        return Format::Other;
    }
    if head.len() >= 4 && &head[..4] == b"GGUF" {
        return Format::Gguf;
    }
    if head.len() >= 6 && &head[..6] == b"\x93NUMPY" {
        return Format::Npy;
    }
    if head.len() >= 4 && &head[..4] == b"PK\x03\x04" {
        return if zip_first_name(head)
            .is_some_and(|n| n.ends_with("data.pkl") || n.contains("/data/"))
        {
            Format::PytorchZip
        } else {
            Format::Zip
        };
    }
    // POSIX and GNU tar headers carry `ustar` at offset 257.
    if head.len() >= 262 && &head[257..262] == b"ustar" {
        return Format::Tar;
    }
    if head.len() >= 10 {
        let n = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        // A plausible length followed by `{` claims safetensors, even when
        // the length then points past the end (inspection says so).
        if (2..(1 << 32)).contains(&n) && head[8] == b'{' {
            return Format::Safetensors;
        }
    }
    // Pickle protocol 2+ opens with PROTO; protocol 0/1 streams are caught
    // by the deep check, not by this sniff.
    if head.len() >= 2 && head[0] == 0x80 && (2..=5).contains(&head[1]) {
        return Format::Pickle;
    }
    if looks_like_text(head) {
        let first = head.iter().find(|b| !b.is_ascii_whitespace());
        return match first {
            Some(b'{') | Some(b'[') if json_prefix(head) => Format::Json,
            _ => Format::Text,
        };
    }
    Format::Other
}

/// How a file fares, from best to worst.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Not yet judged (internal).
    #[serde(skip)]
    Unknown,
    /// Nothing found.
    Ok,
    /// Safe to keep, worth a look: safe-listed pickles, executable companions.
    Warning,
    /// Would run code or hides content: refused by default (exit 4).
    Unsafe,
    /// Claims a format and breaks it: hostile (exit 3).
    Malformed,
}

impl Verdict {
    /// The verdict as recorded and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Unknown => "unknown",
            Verdict::Ok => "ok",
            Verdict::Warning => "warning",
            Verdict::Unsafe => "unsafe",
            Verdict::Malformed => "malformed",
        }
    }

    /// A recorded verdict read back (`unknown` for anything else).
    pub fn parse(s: &str) -> Verdict {
        match s {
            "ok" => Verdict::Ok,
            "warning" => Verdict::Warning,
            "unsafe" => Verdict::Unsafe,
            "malformed" => Verdict::Malformed,
            _ => Verdict::Unknown,
        }
    }
}

/// One thing found in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct SafetyFinding {
    /// How bad it is.
    pub severity: Verdict,
    /// What was found, for people.
    pub message: String,
}

/// One tensor as a weight file's header describes it (safetensors, GGUF).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Its dtype or ggml type (`F16`, `BF16`, `Q4_K`, …).
    pub dtype: String,
    /// Its shape.
    pub shape: Vec<u64>,
}

/// The tensors of a safetensors or GGUF file, read from its header; `None`
/// for other formats or a header that cannot be read.
pub fn tensor_table(format: Format, r: &mut dyn Read, size: u64) -> Option<Vec<TensorInfo>> {
    match format {
        Format::Safetensors => safetensors::tensor_table(r, size),
        Format::Gguf => gguf::tensor_table(r, size),
        _ => None,
    }
}

/// What inspecting one file found.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    /// The format the bytes are.
    pub format: Format,
    /// Tensors found.
    pub tensors: u64,
    /// Parameters (elements) over all tensors.
    pub parameters: u64,
    /// The tensor dtypes found, each once.
    pub dtypes: Vec<String>,
    /// The worst severity found.
    pub verdict: Verdict,
    /// Everything found.
    pub findings: Vec<SafetyFinding>,
    /// Globals a pickle would import.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub globals: Vec<String>,
    /// What the file says about itself: GGUF architecture, name,
    /// quantisation and context length; safetensors `__metadata__`.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl Inspection {
    /// An empty inspection of a file in `format`.
    pub fn new(format: Format) -> Inspection {
        Inspection {
            format,
            tensors: 0,
            parameters: 0,
            dtypes: Vec::new(),
            verdict: Verdict::Unknown,
            findings: Vec::new(),
            globals: Vec::new(),
            metadata: Default::default(),
        }
    }

    /// Record a finding and raise the verdict to at least its severity.
    pub fn flag(&mut self, severity: Verdict, message: impl Into<String>) {
        self.findings.push(SafetyFinding {
            severity,
            message: message.into(),
        });
        self.verdict = self.verdict.max(severity);
    }

    /// End the inspection as malformed.
    pub fn malformed(mut self, message: impl Into<String>) -> Inspection {
        self.flag(Verdict::Malformed, message);
        self
    }

    /// Fold a pickle walk into the verdict: dangerous globals are unsafe,
    /// safe-listed pickles a warning.
    pub fn absorb_pickle(&mut self, what: &str, rep: &pickle::PickleReport) {
        for g in &rep.globals {
            if !self.globals.contains(g) {
                self.globals.push(g.clone());
            }
        }
        let bad = rep.dangerous();
        if bad.is_empty() {
            self.flag(
                Verdict::Warning,
                format!("{what}: a pickle (imports only safe-listed globals; prefer safetensors)"),
            );
        } else {
            self.flag(
                Verdict::Unsafe,
                format!("{what}: pickle imports {}", bad.join(", ")),
            );
        }
        self.tensors += rep.tensor_rebuilds;
    }

    /// Fold the inspection of an archive member into the archive's: its
    /// findings (prefixed with the member), globals, dtypes and counts. A
    /// malformed member is an error carrying its reason.
    pub fn absorb_member(&mut self, member: &str, ins: Inspection) -> Result<(), String> {
        if ins.verdict == Verdict::Malformed {
            let why = ins.findings.last().map_or("", |f| f.message.as_str());
            return Err(why.to_string());
        }
        for f in ins.findings {
            self.flag(f.severity, format!("member `{member}`: {}", f.message));
        }
        for g in ins.globals {
            if !self.globals.contains(&g) {
                self.globals.push(g);
            }
        }
        for d in ins.dtypes {
            if !self.dtypes.contains(&d) {
                self.dtypes.push(d);
            }
        }
        self.tensors += ins.tensors;
        self.parameters = self.parameters.saturating_add(ins.parameters);
        Ok(())
    }
}

/// Attribute names a chat template has no business touching: reaching them
/// from Jinja is the way out of its sandbox into Python.
const TEMPLATE_RED_FLAGS: &[&str] = &[
    "__class__",
    "__globals__",
    "__import__",
    "__builtins__",
    "__subclasses__",
    "__mro__",
    "__base__",
    "__bases__",
    "__init__",
    "__dict__",
    "__getattribute__",
    "__code__",
    "__reduce__",
    "__self__",
    "__func__",
    "func_globals",
    "os.system",
    "os.popen",
    "subprocess",
];

/// Screen a chat template.
pub fn check_template(t: &str, what: &str, out: &mut Inspection) {
    let hits: Vec<&str> = TEMPLATE_RED_FLAGS
        .iter()
        .copied()
        .filter(|f| t.contains(f))
        .collect();
    if !hits.is_empty() {
        out.flag(
            Verdict::Unsafe,
            format!("{what} reaches for Python internals ({})", hits.join(", ")),
        );
    }
}

/// What a file's name says it is. Serving engines pick their parser by the
/// name, so a file whose name claims a weight format must parse as that
/// format, whatever its bytes look like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Claim {
    /// `.safetensors`
    Safetensors,
    /// `.gguf`
    Gguf,
    /// `.pt`, `.pth`, `.bin`, `.ckpt`: what `torch.load` reads (a pickle, a
    /// PyTorch zip, a legacy tar).
    Torch,
    /// `.pkl`, `.pickle`
    Pickle,
    /// `.npy`
    Npy,
    /// `.npz`
    Npz,
}

impl Claim {
    /// The claim a file name makes, if any.
    pub fn of(name: &str) -> Option<Claim> {
        let lower = name.to_ascii_lowercase();
        let ext = lower.rsplit_once('.').map(|(_, e)| e)?;
        Some(match ext {
            "safetensors" => Claim::Safetensors,
            "gguf" => Claim::Gguf,
            "pt" | "pth" | "bin" | "ckpt" => Claim::Torch,
            "pkl" | "pickle" => Claim::Pickle,
            "npy" => Claim::Npy,
            "npz" => Claim::Npz,
            _ => return None,
        })
    }

    /// The format the claim names, for messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Claim::Safetensors => "safetensors",
            Claim::Gguf => "GGUF",
            Claim::Torch => "PyTorch (pickle or PyTorch zip)",
            Claim::Pickle => "pickle",
            Claim::Npy => "npy",
            Claim::Npz => "npz (a zip of .npy)",
        }
    }

    /// Whether bytes of `format` are the claimed kind of file (even if
    /// broken): then their own inspection speaks for them.
    fn family(self, format: Format) -> bool {
        match self {
            Claim::Torch => matches!(
                format,
                Format::Pickle | Format::PytorchZip | Format::Tar | Format::Zip
            ),
            Claim::Npz => format == Format::Zip,
            _ => self.honoured_by(&Inspection::new(format)),
        }
    }

    /// Whether an inspection of the bytes honours the claim.
    fn honoured_by(self, i: &Inspection) -> bool {
        match self {
            Claim::Safetensors => i.format == Format::Safetensors,
            Claim::Gguf => i.format == Format::Gguf,
            Claim::Torch => match i.format {
                Format::Pickle | Format::PytorchZip | Format::Tar => true,
                Format::Zip => !i.globals.is_empty() || i.tensors > 0,
                _ => false,
            },
            Claim::Pickle => i.format == Format::Pickle,
            Claim::Npy => i.format == Format::Npy,
            Claim::Npz => i.format == Format::Zip,
        }
    }
}

/// Hold an inspection to the claim its file name makes: when the bytes are
/// something else, the claimed format's own parser says what is wrong, and
/// the file is malformed (a pickle named `.safetensors` is not "unsafe", it
/// is not a safetensors file).
fn enforce_claim(claim: Claim, name: &str, out: Inspection, path: &Path, size: u64) -> Inspection {
    if claim.honoured_by(&out) || (claim.family(out.format) && out.verdict == Verdict::Malformed) {
        return out;
    }
    let sniffed = out.format;
    if claim.family(sniffed) {
        // A zip named like a PyTorch file that holds no pickle.
        return Inspection::new(sniffed).malformed(format!(
            "`{name}` is named as a {} file but is a {} archive without the pickle such a file holds",
            claim.as_str(),
            sniffed.as_str()
        ));
    }
    let reason = match std::fs::File::open(path) {
        Err(e) => format!("cannot read: {e}"),
        Ok(f) => {
            let mut r = BufReader::with_capacity(64 * 1024, f);
            let parsed = match claim {
                Claim::Safetensors => safetensors::inspect(&mut r, size),
                Claim::Gguf => gguf::inspect(&mut r, size),
                Claim::Npy => npy::inspect(&mut r, size),
                Claim::Npz => zip::inspect(&mut r, size),
                Claim::Torch | Claim::Pickle => {
                    let mut i = Inspection::new(Format::Pickle);
                    match pickle::walk(&mut r, size, true) {
                        Ok(rep) => {
                            i.absorb_pickle("pickle", &rep);
                            i
                        }
                        Err(e) => i.malformed(format!("not a pickle: {e}")),
                    }
                }
            };
            if claim.honoured_by(&parsed) && parsed.verdict != Verdict::Malformed {
                return parsed;
            }
            parsed
                .findings
                .iter()
                .rev()
                .find(|f| f.severity == Verdict::Malformed)
                .map_or_else(
                    || "it does not parse as one".to_string(),
                    |f| f.message.clone(),
                )
        }
    };
    Inspection::new(sniffed).malformed(format!(
        "`{name}` is named as a {} file but is not one: {reason} (its bytes look like {})",
        claim.as_str(),
        sniffed.as_str()
    ))
}

/// Largest JSON companion (config, tokenizer config) read whole.
const JSON_CAP: u64 = 16 << 20;

/// Inspect one file. `rel` is its path inside the model (for companion
/// rules); `path` where its bytes are; `size` its recorded size.
pub fn inspect(rel: &str, path: &Path, size: u64) -> Inspection {
    match inspect_inner(rel, path, size) {
        Ok(i) => i,
        Err(e) => Inspection::new(Format::Other).malformed(format!("cannot read: {e}")),
    }
}

fn inspect_inner(rel: &str, path: &Path, size: u64) -> std::io::Result<Inspection> {
    let mut f = std::fs::File::open(path)?;
    let mut head = vec![0u8; 512.min(size) as usize];
    f.read_exact(&mut head)?;
    f.seek(SeekFrom::Start(0))?;
    let format = sniff(&head, size);
    let name = rel.rsplit('/').next().unwrap_or(rel);
    let mut r = BufReader::with_capacity(64 * 1024, f);
    let mut out = match format {
        Format::Safetensors => safetensors::inspect(&mut r, size),
        Format::Gguf => gguf::inspect(&mut r, size),
        Format::Npy => npy::inspect(&mut r, size),
        Format::Zip | Format::PytorchZip => zip::inspect(&mut r, size),
        Format::Tar => tar::inspect(&mut r, size),
        Format::Pickle => {
            let mut i = Inspection::new(Format::Pickle);
            match pickle::walk(&mut r, size, true) {
                Ok(rep) => {
                    i.absorb_pickle("pickle", &rep);
                    i
                }
                Err(e) => i.malformed(format!("pickle: {e}")),
            }
        }
        Format::Json
            if size <= JSON_CAP && (name == "config.json" || name == "tokenizer_config.json") =>
        {
            let mut i = Inspection::new(Format::Json);
            let mut text = String::new();
            if r.read_to_string(&mut text).is_err() {
                return Ok(i.malformed("not UTF-8"));
            }
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(v) => companions(name, &v, &mut i),
                Err(e) => i.flag(Verdict::Warning, format!("{name} is not valid JSON: {e}")),
            }
            i
        }
        other => {
            // Protocol 0/1 pickles open without PROTO and can look like text:
            // any file opening with a pickle opcode is walked, and one that
            // parses to its STOP is judged as the pickle it is.
            let mut i = Inspection::new(other);
            if looks_like_old_pickle(&head)
                && let Ok(rep) = pickle::walk(&mut r, size, true)
            {
                i.format = Format::Pickle;
                i.absorb_pickle("pickle", &rep);
            }
            i
        }
    };
    if name.ends_with(".py") {
        out.flag(
            Verdict::Warning,
            "executable companion: Python code shipped with the model",
        );
    }
    if out.verdict == Verdict::Unknown {
        out.verdict = Verdict::Ok;
    }
    if let Some(claim) = Claim::of(name) {
        out = enforce_claim(claim, name, out, path, size);
    }
    Ok(out)
}

fn looks_like_old_pickle(head: &[u8]) -> bool {
    head.first().is_some_and(|b| {
        matches!(
            b,
            b'(' | b'c' | b'}' | b']' | b'K' | b'N' | b'I' | b'S' | b'V' | b'l' | b'd' | b'i'
        )
    })
}

/// `config.json`: `auto_map` / `trust_remote_code`; `tokenizer_config.json`:
/// the chat template(s).
fn companions(name: &str, v: &serde_json::Value, out: &mut Inspection) {
    if name == "config.json" {
        if v.get("auto_map").is_some() {
            out.flag(Verdict::Warning, "config.json has `auto_map`: loading runs code from the repository (trust_remote_code)");
        }
        if v.get("trust_remote_code").and_then(|t| t.as_bool()) == Some(true) {
            out.flag(Verdict::Warning, "config.json sets `trust_remote_code`");
        }
    }
    if name == "tokenizer_config.json" {
        match v.get("chat_template") {
            Some(serde_json::Value::String(t)) => check_template(t, "chat_template", out),
            Some(serde_json::Value::Array(list)) => {
                for t in list {
                    if let Some(s) = t.get("template").and_then(|x| x.as_str()) {
                        let label = format!(
                            "chat_template `{}`",
                            t.get("name").and_then(|n| n.as_str()).unwrap_or("?")
                        );
                        check_template(s, &label, out);
                    }
                }
            }
            _ => {}
        }
    }
}

fn zip_first_name(head: &[u8]) -> Option<&str> {
    let len = u16::from_le_bytes(head.get(26..28)?.try_into().ok()?) as usize;
    std::str::from_utf8(head.get(30..30 + len)?).ok()
}

/// Whether `head` is JSON, or the start of a JSON document cut short (a
/// BERT `vocab.txt` opens with `[PAD]` and is not).
fn json_prefix(head: &[u8]) -> bool {
    let mut it = serde_json::Deserializer::from_slice(head).into_iter::<serde::de::IgnoredAny>();
    match it.next() {
        Some(Ok(_)) => true,
        Some(Err(e)) => e.is_eof(),
        None => false,
    }
}

fn looks_like_text(head: &[u8]) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // A multi-byte character cut at the end of the head is still text.
        Err(e) => e.error_len().is_none() && head.len() - e.valid_up_to() < 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_by_content() {
        let mut st = 12u64.to_le_bytes().to_vec();
        st.extend_from_slice(b"{\"a\":{}}    ");
        assert_eq!(sniff(&st, st.len() as u64), Format::Safetensors);
        assert_eq!(sniff(b"GGUF\x03\0\0\0", 8), Format::Gguf);
        assert_eq!(sniff(b"\x80\x02}q\0.", 6), Format::Pickle);
        assert_eq!(sniff(b"\x93NUMPY\x01\0", 8), Format::Npy);
        assert_eq!(sniff(b" {\"a\": 1}", 9), Format::Json);
        assert_eq!(sniff(b"Apache License", 14), Format::Text);
        assert_eq!(sniff(b"\0\x01\x02", 3), Format::Other);
        let mut tar = vec![0u8; 512];
        tar[..7].copy_from_slice(b"pickle\0");
        tar[257..263].copy_from_slice(b"ustar\0");
        assert_eq!(sniff(&tar, 1536), Format::Tar);
        assert_eq!(sniff(&tar[..300], 300), Format::Tar);
        // a header length pointing past the file still claims safetensors
        // (inspection then calls it malformed); text never does
        let mut lying = 1000u64.to_le_bytes().to_vec();
        lying.extend_from_slice(b"{}");
        assert_eq!(sniff(&lying, lying.len() as u64), Format::Safetensors);
        assert_eq!(sniff(b"12345678{ not a header", 22), Format::Text);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use std::io::Cursor;

    fn all_parsers(b: &[u8]) {
        let n = b.len() as u64;
        let _ = safetensors::inspect(&mut &b[..], n);
        let _ = gguf::inspect(&mut &b[..], n);
        let _ = npy::inspect(&mut &b[..], n);
        let _ = pickle::walk(&mut &b[..], n, true);
        let _ = zip::inspect(&mut Cursor::new(b), n);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(512))]

        /// Any bytes: every parser returns a verdict or an error, never panics.
        #[test]
        fn arbitrary_bytes(b in proptest::collection::vec(proptest::num::u8::ANY, 0..4096)) {
            all_parsers(&b);
        }

        /// Valid prefixes with arbitrary tails and flipped bytes: still no panic.
        #[test]
        fn mutated_headers(
            which in 0usize..5,
            tail in proptest::collection::vec(proptest::num::u8::ANY, 0..512),
            flips in proptest::collection::vec((0usize..64, proptest::num::u8::ANY), 0..6),
        ) {
            let mut b: Vec<u8> = match which {
                0 => {
                    let h = br#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}"#;
                    let mut v = (h.len() as u64).to_le_bytes().to_vec();
                    v.extend_from_slice(h);
                    v
                }
                1 => b"GGUF\x03\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00".to_vec(),
                2 => b"\x93NUMPY\x01\x00\x30\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }".to_vec(),
                3 => b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94\x8c\x04eval\x94\x93".to_vec(),
                _ => b"PK\x03\x04\x14\x00\x00\x00\x00\x00".to_vec(),
            };
            b.extend_from_slice(&tail);
            for (at, v) in flips {
                if let Some(x) = b.get_mut(at) {
                    *x = v;
                }
            }
            all_parsers(&b);
        }
    }
}
