//! Model-file safety: hostile and valid files built byte by byte, driven
//! through `import` and `inspect` on the real binary — each abuse its own
//! named case, with the exit code, a message naming the file and the
//! problem, and nothing of a refused import visible.

use std::fs;
use std::io::Write;
use std::path::PathBuf;

use predicates::prelude::*;

use crate::util::Env;

// ---------- builders ----------

fn safetensors(header: &str, data: usize) -> Vec<u8> {
    let mut h = header.to_string();
    while !h.len().is_multiple_of(8) {
        h.push(' ');
    }
    let mut b = (h.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(h.as_bytes());
    b.extend(std::iter::repeat_n(0u8, data));
    b
}

fn gstr(s: &str) -> Vec<u8> {
    let mut b = (s.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(s.as_bytes());
    b
}

pub(crate) struct Gguf {
    pub(crate) version: u32,
    pub(crate) counts: Option<(u64, u64)>,
    pub(crate) kvs: Vec<(String, u32, Vec<u8>)>,
    /// (name, shape, ggml type, offset)
    pub(crate) tensors: Vec<(String, Vec<u64>, u32, u64)>,
    pub(crate) data: usize,
}

impl Gguf {
    pub(crate) fn valid() -> Gguf {
        Gguf {
            version: 3,
            counts: None,
            kvs: vec![("general.architecture".into(), 8, gstr("llama"))],
            tensors: vec![
                ("tok.weight".into(), vec![4, 4], 0, 0),
                ("out.weight".into(), vec![8], 1, 64),
            ],
            data: 96,
        }
    }

    pub(crate) fn bytes(&self) -> Vec<u8> {
        let mut b = b"GGUF".to_vec();
        b.extend_from_slice(&self.version.to_le_bytes());
        let (t, k) = self
            .counts
            .unwrap_or((self.tensors.len() as u64, self.kvs.len() as u64));
        b.extend_from_slice(&t.to_le_bytes());
        b.extend_from_slice(&k.to_le_bytes());
        for (key, ty, val) in &self.kvs {
            b.extend(gstr(key));
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend_from_slice(val);
        }
        for (name, dims, ty, off) in &self.tensors {
            b.extend(gstr(name));
            b.extend_from_slice(&(dims.len() as u32).to_le_bytes());
            for d in dims {
                b.extend_from_slice(&d.to_le_bytes());
            }
            b.extend_from_slice(&ty.to_le_bytes());
            b.extend_from_slice(&off.to_le_bytes());
        }
        while !b.len().is_multiple_of(32) {
            b.push(0);
        }
        b.extend(std::iter::repeat_n(0u8, self.data));
        b
    }
}

#[derive(Clone)]
struct ZipEntry {
    name: String,
    data: Vec<u8>,
    deflate: bool,
    flags: u16,
    crc: Option<u32>,
    usize: Option<u32>,
}

fn entry(name: &str, data: &[u8]) -> ZipEntry {
    ZipEntry {
        name: name.into(),
        data: data.to_vec(),
        deflate: false,
        flags: 0,
        crc: None,
        usize: None,
    }
}

fn zip(entries: &[ZipEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for e in entries {
        let crc = e.crc.unwrap_or_else(|| crc32fast::hash(&e.data));
        let stored = if e.deflate {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
            enc.write_all(&e.data).unwrap();
            enc.finish().unwrap()
        } else {
            e.data.clone()
        };
        let usize = e.usize.unwrap_or(e.data.len() as u32);
        let method: u16 = if e.deflate { 8 } else { 0 };
        let offset = out.len() as u32;
        let mut h = b"PK\x03\x04".to_vec();
        for v in [20u16, e.flags, method, 0, 0] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, stored.len() as u32, usize] {
            h.extend_from_slice(&v.to_le_bytes());
        }
        h.extend_from_slice(&(e.name.len() as u16).to_le_bytes());
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(e.name.as_bytes());
        out.extend(h);
        out.extend(&stored);
        let mut c = b"PK\x01\x02".to_vec();
        for v in [20u16, 20, e.flags, method, 0, 0] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        for v in [crc, stored.len() as u32, usize] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        for v in [e.name.len() as u16, 0, 0, 0, 0] {
            c.extend_from_slice(&v.to_le_bytes());
        }
        c.extend_from_slice(&0u32.to_le_bytes());
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(e.name.as_bytes());
        central.extend(c);
    }
    let cd_off = out.len() as u32;
    out.extend(&central);
    out.extend_from_slice(b"PK\x05\x06\0\0\0\0");
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    out.extend_from_slice(&(central.len() as u32).to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A `torch.save` state dict pickle: {"weight": _rebuild_tensor_v2(...)},
/// importing only safe-listed globals.
fn safe_state_dict_pickle() -> Vec<u8> {
    let mut p = b"\x80\x02ccollections\nOrderedDict\nq\x00)Rq\x01".to_vec();
    p.extend_from_slice(b"X\x06\x00\x00\x00weightq\x02ctorch._utils\n_rebuild_tensor_v2\nq\x03((");
    p.extend_from_slice(b"X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x10tQ");
    p.extend_from_slice(b"K\x00K\x04K\x04\x86K\x04K\x01\x86\x89ccollections\nOrderedDict\n)RtRs.");
    p
}

fn torch_zip(pickle: &[u8]) -> Vec<u8> {
    zip(&[
        entry("archive/data.pkl", pickle),
        entry("archive/data/0", &[0u8; 64]),
        entry("archive/version", b"3\n"),
    ])
}

const EVIL_POSIX_SYSTEM: &[u8] =
    b"\x80\x02cposix\nsystem\nq\x00X\x02\x00\x00\x00idq\x01\x85q\x02Rq\x03.";

fn stack_global(module: &str, name: &str) -> Vec<u8> {
    let mut b = vec![0x80, 4, 0x8c, module.len() as u8];
    b.extend_from_slice(module.as_bytes());
    b.extend_from_slice(&[0x94, 0x8c, name.len() as u8]);
    b.extend_from_slice(name.as_bytes());
    b.extend_from_slice(&[0x94, 0x93, 0x94, b')', b'R', b'.']);
    b
}

fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
    npy_header(
        &format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"),
        data,
    )
}

/// An .npy file with this header dict, padded as numpy pads it.
fn npy_header(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut h = dict.to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend_from_slice(&(h.len() as u16).to_le_bytes());
    b.extend_from_slice(h.as_bytes());
    b.extend_from_slice(data);
    b
}

// ---------- harness ----------

/// A model folder holding a config and `files`.
fn folder(env: &Env, label: &str, files: &[(&str, Vec<u8>)]) -> PathBuf {
    let dir = env.path(label);
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("config.json"), b"{\"model_type\": \"llama\"}\n").unwrap();
    for (name, bytes) in files {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    dir
}

/// Import must fail with `code`, naming `file` and `needle`; nothing visible.
fn refused(label: &str, file: &str, bytes: Vec<u8>, code: i32, needle: &str) {
    let env = Env::new();
    let dir = folder(&env, label, &[(file, bytes)]);
    let out = env
        .cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/x"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "case `{label}`: {stderr}");
    assert!(
        stderr.contains(file),
        "case `{label}` does not name the file: {stderr}"
    );
    assert!(
        stderr.contains(needle),
        "case `{label}` does not say `{needle}`: {stderr}"
    );
    assert!(
        env.listed().is_empty(),
        "case `{label}`: a version became visible"
    );
    assert_eq!(
        env.blob_count(),
        0,
        "case `{label}`: blobs were left behind"
    );
    // `inspect` of the file on disk gives the same exit code.
    let code_inspect = env
        .cmd()
        .arg("inspect")
        .arg(dir.join(file))
        .output()
        .unwrap()
        .status
        .code();
    assert_eq!(code_inspect, Some(code), "case `{label}`: inspect");
}

// ---------- valid files ----------

#[test]
fn valid_files_import_with_their_structure_recorded() {
    let env = Env::new();
    let st = safetensors(
        r#"{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[2,3],"data_offsets":[0,12]},"b":{"dtype":"I64","shape":[2],"data_offsets":[12,28]}}"#,
        28,
    );
    let dir = folder(
        &env,
        "ok",
        &[
            ("model.safetensors", st),
            ("model.gguf", Gguf::valid().bytes()),
            ("pytorch_model.bin", torch_zip(&safe_state_dict_pickle())),
            ("emb.npy", npy("<f4", "(2, 2)", &[0u8; 16])),
            // As numpy writes a structured array, and as Python 2 wrote shapes.
            (
                "pairs.npy",
                npy_header(
                    "{'descr': [('x', '<f4'), ('y', '<i8', (2,))], 'fortran_order': False, 'shape': (3,), }",
                    &[0u8; 60],
                ),
            ),
            (
                "arrays.npz",
                zip(&[
                    entry("x.npy", &npy("<f4", "(2, 2)", &[0u8; 16])),
                    entry("y.npy", &npy("<i8", "(3,)", &[0u8; 24])),
                ]),
            ),
            (
                "old.npy",
                npy_header(
                    "{'descr': '<f4', 'fortran_order': True, 'shape': (2L, 3L), }",
                    &[0u8; 24],
                ),
            ),
        ],
    );
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/ok"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("pytorch_model.bin")
                .and(predicate::str::contains("safe-listed")),
        );
    let show = env.json(&["show", "acme/ok"]);
    let f = |p: &str| {
        show["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()
            .clone()
    };
    assert_eq!(f("model.safetensors")["format"], "safetensors");
    assert_eq!(f("model.safetensors")["tensors"], 2);
    assert_eq!(f("model.safetensors")["parameters"], 8);
    assert_eq!(f("model.safetensors")["verdict"], "ok");
    assert_eq!(f("model.gguf")["format"], "gguf");
    assert_eq!(f("model.gguf")["tensors"], 2);
    assert_eq!(f("model.gguf")["parameters"], 24);
    assert_eq!(f("pytorch_model.bin")["format"], "pytorch-zip");
    assert_eq!(f("pytorch_model.bin")["verdict"], "warning");
    assert_eq!(f("pytorch_model.bin")["tensors"], 1);
    assert_eq!(f("emb.npy")["format"], "npy");
    assert_eq!(f("emb.npy")["parameters"], 4);
    assert_eq!(f("pairs.npy")["verdict"], "ok");
    assert_eq!(f("pairs.npy")["parameters"], 3);
    assert_eq!(f("old.npy")["parameters"], 6);
    assert_eq!(f("arrays.npz")["verdict"], "ok");
    assert_eq!(f("arrays.npz")["tensors"], 2);
    assert_eq!(f("arrays.npz")["parameters"], 7);
    // inspect of the registered version, as JSON.
    let ins = env.json(&["inspect", "acme/ok"]);
    assert_eq!(ins["verdict"], "warning");
    assert_eq!(ins["parameters"], 8 + 24 + 4 + 3 + 7 + 6);
    // Checkout re-checks and succeeds.
    env.cmd()
        .args(["checkout", "acme/ok"])
        .arg(env.path("co"))
        .assert()
        .success();
}

#[test]
fn executable_companions_are_flagged_and_recorded() {
    let env = Env::new();
    let dir = folder(
        &env,
        "code",
        &[("modeling_custom.py", b"import os\n".to_vec())],
    );
    fs::write(
        dir.join("config.json"),
        br#"{"auto_map": {"AutoModel": "modeling_custom.Model"}}"#,
    )
    .unwrap();
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/code"])
        .assert()
        .success()
        .stderr(
            predicate::str::contains("executable companion")
                .and(predicate::str::contains("auto_map")),
        );
    let show = env.json(&["show", "acme/code"]);
    let verdicts: Vec<_> = show["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["warning", "warning"]);
}

// ---------- hostile safetensors (exit 3) ----------

#[test]
fn safetensors_header_past_the_end() {
    let mut b = 1_000_000u64.to_le_bytes().to_vec();
    b.extend_from_slice(b"{\"a\":1}");
    refused("st-past-end", "w.safetensors", b, 3, "points past the end");
}

#[test]
fn safetensors_header_not_json() {
    refused(
        "st-not-json",
        "w.safetensors",
        safetensors("{not json", 0),
        3,
        "not a JSON object",
    );
}

#[test]
fn safetensors_duplicate_names() {
    let h = r#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#;
    refused(
        "st-dup",
        "w.safetensors",
        safetensors(h, 8),
        3,
        "duplicate tensor name `a`",
    );
}

#[test]
fn safetensors_unknown_dtype() {
    let h = r#"{"a":{"dtype":"F7","shape":[1],"data_offsets":[0,4]}}"#;
    refused(
        "st-dtype",
        "w.safetensors",
        safetensors(h, 4),
        3,
        "unknown dtype `F7`",
    );
}

#[test]
fn safetensors_length_disagrees_with_shape() {
    let h = r#"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,12]}}"#;
    refused("st-len", "w.safetensors", safetensors(h, 12), 3, "needs 16");
}

#[test]
fn safetensors_shape_overflow() {
    let h = r#"{"a":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,4]}}"#;
    refused(
        "st-overflow",
        "w.safetensors",
        safetensors(h, 4),
        3,
        "overflows",
    );
}

#[test]
fn safetensors_offsets_outside_data() {
    let h = r#"{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}"#;
    refused(
        "st-outside",
        "w.safetensors",
        safetensors(h, 4),
        3,
        "outside",
    );
}

#[test]
fn safetensors_overlap() {
    let h = r#"{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}"#;
    refused(
        "st-overlap",
        "w.safetensors",
        safetensors(h, 6),
        3,
        "overlaps",
    );
}

#[test]
fn safetensors_gap() {
    let h = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}"#;
    refused("st-gap", "w.safetensors", safetensors(h, 6), 3, "gap");
}

#[test]
fn safetensors_trailing_bytes() {
    let h = r#"{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
    refused(
        "st-trailing",
        "w.safetensors",
        safetensors(h, 10),
        3,
        "after the last tensor",
    );
}

#[test]
fn safetensors_metadata_not_strings() {
    let h = r#"{"__metadata__":{"n":5},"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}"#;
    refused(
        "st-meta",
        "w.safetensors",
        safetensors(h, 2),
        3,
        "__metadata__",
    );
}

// ---------- hostile GGUF ----------

#[test]
fn gguf_bad_version() {
    let g = Gguf {
        version: 99,
        ..Gguf::valid()
    };
    refused("gguf-version", "m.gguf", g.bytes(), 3, "version 99");
}

#[test]
fn gguf_absurd_tensor_count() {
    let g = Gguf {
        counts: Some((u64::MAX / 2, 1)),
        ..Gguf::valid()
    };
    refused("gguf-count", "m.gguf", g.bytes(), 3, "tensor count");
}

#[test]
fn gguf_absurd_metadata_count() {
    let g = Gguf {
        counts: Some((2, 1 << 40)),
        ..Gguf::valid()
    };
    refused("gguf-kv-count", "m.gguf", g.bytes(), 3, "metadata count");
}

#[test]
fn gguf_string_length_past_the_end() {
    let mut g = Gguf::valid();
    let mut v = (1u64 << 50).to_le_bytes().to_vec();
    v.extend_from_slice(b"x");
    g.kvs = vec![("general.name".into(), 8, v)];
    refused("gguf-strlen", "m.gguf", g.bytes(), 3, "string length");
}

#[test]
fn gguf_unknown_value_type() {
    let mut g = Gguf::valid();
    g.kvs = vec![("x".into(), 77, vec![0; 8])];
    refused(
        "gguf-type",
        "m.gguf",
        g.bytes(),
        3,
        "unknown metadata value type 77",
    );
}

#[test]
fn gguf_nesting_too_deep() {
    let mut g = Gguf::valid();
    // array of array of array of array of u8
    let mut v = Vec::new();
    for _ in 0..4 {
        v.extend_from_slice(&9u32.to_le_bytes());
        v.extend_from_slice(&1u64.to_le_bytes());
    }
    v.extend_from_slice(&0u32.to_le_bytes());
    v.extend_from_slice(&1u64.to_le_bytes());
    v.push(0);
    g.kvs = vec![("deep".into(), 9, v)];
    refused("gguf-nesting", "m.gguf", g.bytes(), 3, "nested deeper");
}

#[test]
fn gguf_misaligned_offset() {
    let mut g = Gguf::valid();
    g.tensors[1].3 = 70;
    refused("gguf-align", "m.gguf", g.bytes(), 3, "not aligned");
}

#[test]
fn gguf_overlap() {
    let mut g = Gguf::valid();
    g.tensors[1].3 = 32;
    refused("gguf-overlap", "m.gguf", g.bytes(), 3, "overlaps");
}

#[test]
fn gguf_tensor_past_the_end() {
    let mut g = Gguf::valid();
    g.data = 64;
    refused("gguf-past-end", "m.gguf", g.bytes(), 3, "past the");
}

#[test]
fn gguf_duplicate_tensor_names() {
    let mut g = Gguf::valid();
    g.tensors[1].0 = "tok.weight".into();
    refused("gguf-dup", "m.gguf", g.bytes(), 3, "duplicate tensor name");
}

#[test]
fn gguf_chat_template_reaching_for_python_internals() {
    let mut g = Gguf::valid();
    g.kvs.push((
        "tokenizer.chat_template".into(),
        8,
        gstr("{{ cycler.__init__.__globals__.os.popen('id').read() }}"),
    ));
    refused("gguf-template", "m.gguf", g.bytes(), 4, "__globals__");
}

// ---------- pickles (exit 4) ----------

#[test]
fn pickle_os_system() {
    refused(
        "pickle-system",
        "model.bin",
        EVIL_POSIX_SYSTEM.to_vec(),
        4,
        "posix.system",
    );
}

#[test]
fn pickle_eval_through_stack_global() {
    refused(
        "pickle-eval",
        "weights.pt",
        stack_global("builtins", "eval"),
        4,
        "builtins.eval",
    );
}

#[test]
fn pickle_exec_subprocess_importlib_methodcaller() {
    for (m, n) in [
        ("builtins", "exec"),
        ("subprocess", "Popen"),
        ("importlib", "import_module"),
        ("operator", "methodcaller"),
    ] {
        refused(
            &format!("pickle-{n}"),
            "w.pkl",
            stack_global(m, n),
            4,
            &format!("{m}.{n}"),
        );
    }
}

#[test]
fn pickle_protocol_0_without_proto() {
    refused(
        "pickle-proto0",
        "model.pt",
        b"cos\nsystem\n(S'id'\ntR.".to_vec(),
        4,
        "os.system",
    );
}

#[test]
fn pickle_truncated_is_malformed() {
    refused(
        "pickle-truncated",
        "model.bin",
        b"\x80\x02ccollections\nOrderedDict\n".to_vec(),
        3,
        "pickle",
    );
}

// ---------- zip archives ----------

#[test]
fn torch_zip_with_a_dangerous_pickle() {
    refused(
        "zip-evil",
        "pytorch_model.bin",
        torch_zip(EVIL_POSIX_SYSTEM),
        4,
        "posix.system",
    );
}

#[test]
fn torch_zip_with_an_extra_pickle() {
    let z = zip(&[
        entry("archive/data.pkl", &safe_state_dict_pickle()),
        entry("archive/data/0", &[0u8; 64]),
        entry("archive/extra.pkl", &stack_global("builtins", "exec")),
    ]);
    refused("zip-extra-pickle", "model.pt", z, 4, "builtins.exec");
}

#[test]
fn zip_nested_archive() {
    let inner = torch_zip(&safe_state_dict_pickle());
    let z = zip(&[
        entry("archive/data.pkl", &safe_state_dict_pickle()),
        entry("archive/inner.zip", &inner),
    ]);
    refused("zip-nested", "model.pt", z, 4, "nested zip");
}

#[test]
fn zip_bad_crc() {
    let mut e = entry("archive/data.pkl", &safe_state_dict_pickle());
    e.crc = Some(0xdead_beef);
    refused("zip-crc", "model.pt", zip(&[e]), 3, "CRC");
}

#[test]
fn zip_encrypted_member() {
    let mut e = entry("archive/data/0", &[1u8; 32]);
    e.flags = 1;
    refused(
        "zip-encrypted",
        "model.pt",
        zip(&[entry("archive/data.pkl", &safe_state_dict_pickle()), e]),
        4,
        "encrypted",
    );
}

#[test]
fn zip_bomb_ratio() {
    let mut e = entry("archive/data/0", &vec![0u8; 4 << 20]);
    e.deflate = true;
    refused(
        "zip-bomb",
        "model.pt",
        zip(&[entry("archive/data.pkl", &safe_state_dict_pickle()), e]),
        3,
        "zip bomb",
    );
}

#[test]
fn zip_declared_size_lies() {
    let mut e = entry("archive/data/0", &[1u8; 100]);
    e.deflate = true;
    e.usize = Some(50);
    refused(
        "zip-size-lie",
        "model.pt",
        zip(&[entry("archive/data.pkl", &safe_state_dict_pickle()), e]),
        3,
        "header says 50",
    );
}

#[test]
fn zip_member_escaping_the_archive() {
    refused(
        "zip-slip",
        "model.pt",
        zip(&[entry("../../evil.pkl", b"x")]),
        3,
        "escapes the archive",
    );
}

// ---------- npy, templates ----------

#[test]
fn npy_object_array_pickle() {
    refused(
        "npy-object",
        "arr.npy",
        npy("|O", "(1,)", EVIL_POSIX_SYSTEM),
        4,
        "posix.system",
    );
}

#[test]
fn npy_data_size_lies() {
    refused(
        "npy-size",
        "arr.npy",
        npy("<f4", "(4, 4)", &[0u8; 8]),
        3,
        "needs 64",
    );
}

/// A structured dtype with an object field anywhere makes numpy pickle the
/// whole array, just like a plain object array.
#[test]
fn npy_structured_object_field_pickle() {
    for (label, descr) in [
        ("npy-struct-object", "[('i', '<i4'), ('o', '|O')]"),
        ("npy-nested-object", "[('a', [('b', '<i4'), ('c', '|O')])]"),
        ("npy-titled-object", "[(('A title', 'a'), 'O')]"),
    ] {
        let dict = format!("{{'descr': {descr}, 'fortran_order': False, 'shape': (1,), }}");
        refused(
            label,
            "arr.npy",
            npy_header(&dict, EVIL_POSIX_SYSTEM),
            4,
            "posix.system",
        );
    }
}

/// An .npz is a zip of .npy members; an object array in one (stored or
/// deflated, as `np.savez_compressed` writes) is walked like a bare .npy.
#[test]
fn npz_member_object_array_pickle() {
    for deflate in [false, true] {
        let evil = ZipEntry {
            deflate,
            ..entry("a.npy", &npy("|O", "(1,)", EVIL_POSIX_SYSTEM))
        };
        let bytes = zip(&[entry("b.npy", &npy("<f8", "(3,)", &[0u8; 24])), evil]);
        refused("npz-object", "weights.npz", bytes, 4, "a.npy");
    }
    // A broken array header inside makes the archive malformed, naming it.
    let bad = zip(&[entry("c.npy", &npy_header("{'descr': '<f4'}", &[]))]);
    refused("npz-malformed", "weights.npz", bad, 3, "member `c.npy`");
}

/// A tar archive as `torch.save` wrote it before 2017; `torch.load` still
/// reads it and unpickles `storages` and `pickle`.
fn legacy_torch_tar(pickle: &[u8]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in [
        ("sys_info", &b"\x80\x02}q\x00."[..]),
        ("pickle", pickle),
        ("storages", &b"\x80\x02K\x00."[..]),
        ("tensors", &[0u8; 700][..]),
    ] {
        let mut h = tar::Header::new_ustar();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, name, data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn legacy_torch_tar_pickle() {
    refused(
        "torch-tar",
        "model.pt",
        legacy_torch_tar(EVIL_POSIX_SYSTEM),
        4,
        "member `pickle`: pickle imports posix.system",
    );
    // The same archive with a harmless pickle imports, with a warning.
    let env = Env::new();
    let dir = folder(
        &env,
        "torch-tar-ok",
        &[("model.pt", legacy_torch_tar(&safe_state_dict_pickle()))],
    );
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/old"])
        .assert()
        .success();
    let ins = env.json(&["inspect", "acme/old"]);
    let pt = ins["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model.pt")
        .unwrap();
    assert_eq!(pt["format"], "tar", "{ins}");
    assert_eq!(pt["verdict"], "warning", "{ins}");
    assert_eq!(pt["findings"].as_array().unwrap().len(), 3, "{ins}");
}

#[test]
fn tar_with_a_broken_header() {
    let mut t = legacy_torch_tar(&safe_state_dict_pickle());
    t[100] ^= 0x11; // the first header's mode field: its checksum no longer matches
    refused("tar-checksum", "model.pt", t, 3, "tar");
}

/// Found by the npy fuzz target: a header that is not a Python literal, with
/// a non-UTF-8 byte where the dtype kind would be (it used to panic).
#[test]
fn npy_header_that_is_not_a_literal() {
    let bytes = b"\x93NUMPY\x01\x00v\x00{'d%s'de: F\x98ale,' ph$sse'= (1,alse, 'shape': (5,), }\x93NUMPY\x01\x00V\x00{'descr': '\xfcO', 'fortran_order': F als                 ee, s's";
    refused(
        "npy-garbage-header",
        "arr.npy",
        bytes.to_vec(),
        3,
        "not a Python literal",
    );
}

#[test]
fn npy_header_with_a_key_numpy_refuses() {
    refused(
        "npy-extra-key",
        "arr.npy",
        npy_header(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'loader': 'x'}",
            &[0u8; 4],
        ),
        3,
        "unexpected key 'loader'",
    );
}

#[test]
fn tokenizer_chat_template_reaching_for_python_internals() {
    let t = br#"{"chat_template": "{% for m in messages %}{{ m.__class__.__mro__[1].__subclasses__() }}{% endfor %}"}"#;
    refused(
        "template",
        "tokenizer_config.json",
        t.to_vec(),
        4,
        "__subclasses__",
    );
}

// ---------- the policy ----------

#[test]
fn allow_unsafe_needs_a_reason_and_records_who_and_why() {
    let env = Env::new();
    let dir = folder(&env, "legacy", &[("model.bin", EVIL_POSIX_SYSTEM.to_vec())]);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/legacy", "--allow-unsafe"])
        .assert()
        .code(2);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args([
            "--name",
            "acme/legacy",
            "--allow-unsafe",
            "--reason",
            "red-team sample, sandbox only",
        ])
        .assert()
        .success()
        .stderr(predicate::str::contains("ALLOWED UNSAFE"));
    let show = env.json(&["show", "acme/legacy"]);
    assert_eq!(
        show["unsafe_allowance"]["reason"],
        "red-team sample, sandbox only"
    );
    assert!(
        show["unsafe_allowance"]["actor"]
            .as_str()
            .unwrap()
            .contains('@')
    );
    // The recorded allowance lets checkout through; malformed files never pass.
    env.cmd()
        .args(["checkout", "acme/legacy"])
        .arg(env.path("co"))
        .assert()
        .success();
}

#[test]
fn bundle_import_applies_the_same_policy() {
    let env = Env::new();
    let keys = env.path("keys");
    for who in ["alice", "exporter"] {
        env.cmd()
            .args(["keys", "generate", "--name", who, "--out"])
            .arg(keys.join(who))
            .assert()
            .success();
    }
    let dir = folder(&env, "legacy", &[("model.bin", EVIL_POSIX_SYSTEM.to_vec())]);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args([
            "--name",
            "acme/legacy",
            "--allow-unsafe",
            "--reason",
            "kept for forensics",
        ])
        .assert()
        .success();
    let bundle = env.path("legacy.airlock");
    env.sign_and_export(
        "acme/legacy",
        &[keys.join("alice.key")],
        &keys.join("exporter.key"),
        &bundle,
    );
    let iso = env.path("iso");
    let iso_cmd = || env.cmd_at(&iso);
    iso_cmd()
        .args(["trust", "add", "--role", "exporter", "--name", "exp"])
        .arg(keys.join("exporter.pub"))
        .assert()
        .success();
    iso_cmd()
        .args(["trust", "add", "--name", "alice"])
        .arg(keys.join("alice.pub"))
        .assert()
        .success();
    iso_cmd()
        .arg("import")
        .arg(&bundle)
        .assert()
        .code(4)
        .stderr(
            predicate::str::contains("model.bin").and(predicate::str::contains("posix.system")),
        );
    let listed: serde_json::Value =
        serde_json::from_slice(&iso_cmd().args(["--json", "list"]).output().unwrap().stdout)
            .unwrap();
    assert_eq!(listed["versions"].as_array().unwrap().len(), 0);
    iso_cmd()
        .arg("import")
        .arg(&bundle)
        .args(["--allow-unsafe", "--reason", "forensics lab"])
        .assert()
        .success();
}

// ---------- format claims (issue 11) ----------

/// A file whose name claims a weight format must parse as that format:
/// every way of breaking the claim is malformed (exit 3), naming the file,
/// the claimed format and what is wrong — never "unsafe", never `ok`.
#[test]
fn names_that_claim_a_weight_format_must_parse_as_it() {
    let pickle =
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x05posix\x94\x8c\x06system\x94\x93."
            .to_vec();
    let mut huge_len = u64::MAX.to_le_bytes().to_vec();
    huge_len.extend_from_slice(b"{}");
    let mut swapped = Gguf::valid().bytes();
    swapped[..4].copy_from_slice(b"FUGG");
    let mut wrong_magic = Gguf::valid().bytes();
    wrong_magic[..4].copy_from_slice(b"GGML");
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "st-5-bytes",
            "model.safetensors",
            b"12345".to_vec(),
            "safetensors",
        ),
        (
            "st-huge-len",
            "model.safetensors",
            huge_len,
            "header length",
        ),
        (
            "st-not-json",
            "model.safetensors",
            safetensors("{not json at all}", 0),
            "not a JSON object",
        ),
        (
            "st-array",
            "model.safetensors",
            safetensors("[1, 2, 3]", 0),
            "safetensors",
        ),
        (
            "st-pickle",
            "model.safetensors",
            pickle.clone(),
            "is named as a safetensors file but is not one",
        ),
        ("gguf-swapped", "model.gguf", swapped, "bad magic"),
        ("gguf-wrong", "model.gguf", wrong_magic, "bad magic"),
        ("bin-random", "pytorch_model.bin", random.clone(), "PyTorch"),
        ("pt-random", "model.pt", random.clone(), "PyTorch"),
        ("pkl-random", "weights.pkl", random.clone(), "pickle"),
        ("npy-random", "embeddings.npy", random.clone(), "npy"),
        ("npz-random", "arrays.npz", random, "npz"),
    ];
    for (label, file, bytes, needle) in cases {
        refused(label, file, bytes, 3, needle);
    }
}

/// What the GGUF specification constrains, checked.
#[test]
fn gguf_values_the_specification_forbids_are_malformed() {
    let mut bad_bool = Gguf::valid();
    bad_bool
        .kvs
        .push(("tokenizer.ggml.add_bos_token".into(), 7, vec![2]));
    refused("gguf-bool-2", "m.gguf", bad_bool.bytes(), 3, "bool value 2");
    let mut string_alignment = Gguf::valid();
    string_alignment
        .kvs
        .push(("general.alignment".into(), 8, gstr("32")));
    refused(
        "gguf-str-align",
        "m.gguf",
        string_alignment.bytes(),
        3,
        "general.alignment",
    );
    let mut long_name = Gguf::valid();
    long_name.tensors[0].0 = "t".repeat(10_000);
    refused(
        "gguf-long-name",
        "m.gguf",
        long_name.bytes(),
        3,
        "tensor name of 10000 bytes",
    );
    let mut five_dims = Gguf::valid();
    five_dims.tensors[1].1 = vec![2, 2, 2, 1, 1];
    refused(
        "gguf-5-dims",
        "m.gguf",
        five_dims.bytes(),
        3,
        "5 dimensions",
    );
}

/// The current safetensors release's dtypes (sub-byte ones included) are
/// read; text companions are not JSON; inspect shows the metadata.
#[test]
fn new_dtypes_text_companions_and_metadata() {
    let env = Env::new();
    // 8 F4 values = 4 bytes; 4 F6 values = 3 bytes; 1 F8_E8M0 = 1 byte.
    let st = safetensors(
        r#"{"__metadata__":{"format":"pt","quant":"mxfp4"},"a":{"dtype":"F4","shape":[8],"data_offsets":[0,4]},"b":{"dtype":"F6_E2M3","shape":[4],"data_offsets":[4,7]},"c":{"dtype":"F8_E8M0","shape":[1],"data_offsets":[7,8]}}"#,
        8,
    );
    let mut g = Gguf::valid();
    g.kvs.push((
        "llama.context_length".into(),
        4,
        8192u32.to_le_bytes().to_vec(),
    ));
    g.kvs
        .push(("general.file_type".into(), 4, 15u32.to_le_bytes().to_vec()));
    let dir = folder(
        &env,
        "ok",
        &[
            ("model.safetensors", st),
            ("model.gguf", g.bytes()),
            ("vocab.txt", b"[PAD]\n[unused0]\n[CLS]\nhello\n".to_vec()),
        ],
    );
    let v = env.json(&["inspect", dir.to_str().unwrap()]);
    assert_eq!(v["verdict"], "ok", "{v}");
    let file = |n: &str| {
        v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == n)
            .unwrap()
            .clone()
    };
    assert_eq!(file("vocab.txt")["format"], "text");
    let st = file("model.safetensors");
    assert_eq!(st["parameters"], 13);
    assert_eq!(st["metadata"]["quant"], "mxfp4");
    let g = file("model.gguf");
    assert_eq!(g["metadata"]["general.architecture"], "llama");
    assert_eq!(g["metadata"]["llama.context_length"], "8192");
    assert!(
        g["metadata"]["general.file_type"]
            .as_str()
            .unwrap()
            .contains("Q4_K_M")
    );
    // 3 F4 values are not whole bytes.
    refused(
        "st-f4-odd",
        "odd.safetensors",
        safetensors(
            r#"{"a":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}"#,
            2,
        ),
        3,
        "not whole bytes",
    );
}

/// A source registry whose record came to claim a weight format the bytes
/// do not have (an edited database: the path renamed, the manifest digest
/// made to match): the file `weights.dat` now claims safetensors.
fn renamed_claim(env: &Env) {
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let dir = folder(env, "m", &[("weights.dat", random)]);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/claim"])
        .assert()
        .success();
    let db = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
    db.execute(
        "UPDATE files SET path = 'weights.safetensors' WHERE path = 'weights.dat'",
        [],
    )
    .unwrap();
    let mut files: Vec<(String, String, i64)> = db
        .prepare("SELECT path, sha256, size FROM files")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    files.sort();
    let listed: Vec<String> = files
        .iter()
        .map(|(p, h, n)| format!(r#"{{"path":"{p}","sha256":"{h}","size":{n}}}"#))
        .collect();
    let manifest = format!(
        r#"{{"mediaType":"application/vnd.airlock.manifest.v1+json","files":[{}]}}"#,
        listed.join(",")
    );
    db.execute(
        "UPDATE versions SET manifest_digest = ?1, statement = NULL",
        [crate::util::sha256_hex(manifest.as_bytes())],
    )
    .unwrap();
}

/// Checkout judges names too: a stored file whose record claims a weight
/// format its bytes do not have is not laid out.
#[test]
fn checkout_refuses_a_file_whose_name_claims_a_format_it_does_not_have() {
    let env = Env::new();
    renamed_claim(&env);
    let out = env.path("serve");
    env.cmd()
        .args(["checkout", "acme/claim"])
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("weights.safetensors"));
    assert!(!out.exists(), "nothing laid out");
}

/// So does bundle import, whatever the signatures: a signed bundle carrying
/// such a file is refused as malformed (exit 3), nothing visible.
#[test]
fn bundle_import_refuses_a_file_whose_name_claims_a_format_it_does_not_have() {
    let env = Env::new();
    renamed_claim(&env);
    let (iso, bundle) = env.cross("acme/claim");
    for extra in [&[][..], &["--allow-unsafe", "--reason", "try anyway"][..]] {
        env.cmd_at(&iso)
            .arg("import")
            .arg(&bundle)
            .args(extra)
            .assert()
            .code(3)
            .stderr(
                predicate::str::contains("weights.safetensors")
                    .and(predicate::str::contains("malformed")),
            );
    }
    let listed = env.json_at(&iso, &["list"]);
    assert_eq!(listed["versions"].as_array().unwrap().len(), 0);
}
