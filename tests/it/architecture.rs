//! The layers of `docs/architecture.md`, enforced: every `crate::` path in
//! `src/**/*.rs` (and every `airlock::` path in the binary) must name a
//! module on the same layer or a lower one, the module graph must have no
//! cycle, and outside crates appear only where the documented boundaries
//! put them. The layer list is read from the document itself, so the two
//! cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// The fenced ```` ```layers ```` block of docs/architecture.md: one line per
/// layer, highest first, `label: module module …`.
fn documented_layers(doc: &str) -> Vec<(String, Vec<String>)> {
    let start = doc
        .find("```layers\n")
        .expect("docs/architecture.md has a ```layers block");
    let body = &doc[start + "```layers\n".len()..];
    let end = body.find("```").expect("the layers block is closed");
    body[..end]
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (label, mods) = l
                .split_once(':')
                .unwrap_or_else(|| panic!("layer line without `label:` — {l:?}"));
            (
                label.trim().to_string(),
                mods.split_whitespace().map(str::to_string).collect(),
            )
        })
        .collect()
}

/// The module a source file belongs to: its first path segment under `src/`.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().expect("non-empty path");
    let s = first.as_os_str().to_string_lossy();
    s.strip_suffix(".rs").unwrap_or(&s).to_string()
}

/// Source text without comments (doc links are not imports).
fn strip_comments(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let b = src.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        if in_str {
            if b[i] == b'\\' {
                i += 2;
                continue;
            }
            if b[i] == b'"' {
                in_str = false;
            }
            out.push(b[i] as char);
            i += 1;
        } else if b[i] == b'"' && !(i > 0 && b[i - 1] == b'\'') {
            in_str = true;
            out.push('"');
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

fn ident_at(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

/// Modules named by `prefix::` paths, including `use prefix::{a, b::c}`.
fn referenced(src: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let pat = format!("{prefix}::");
    let mut rest = src;
    while let Some(p) = rest.find(&pat) {
        let before = rest[..p].chars().next_back();
        rest = &rest[p + pat.len()..];
        if before.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of a brace group, skipping nested groups.
            let mut depth = 0;
            let mut at_name = true;
            for (k, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => at_name = true,
                    c if at_name && depth == 0 && !c.is_whitespace() => {
                        at_name = false;
                        let name = ident_at(&group[k..]);
                        if !name.is_empty() && name != "self" {
                            out.insert(name);
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident_at(rest);
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let e = e.expect("walk src");
        // `src/build.rs` is the build script (Cargo.toml `build`), not a
        // module of the crate.
        if e.file_type().is_file()
            && e.path().extension().is_some_and(|x| x == "rs")
            && e.path() != dir.join("build.rs")
        {
            out.push(e.into_path());
        }
    }
    out
}

const BINARY: &[&str] = &["main", "cli", "commands", "printer", "reporter"];

/// Module → the modules it names, read from the sources under `src`.
fn graph(src_dir: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for path in rust_files(src_dir) {
        let rel = path.strip_prefix(src_dir).unwrap();
        let module = module_of(rel);
        if module == "lib" {
            continue; // the module map and its doctest
        }
        let text = strip_comments(&fs::read_to_string(&path).unwrap());
        let mut uses = referenced(&text, "crate");
        if BINARY.contains(&module.as_str()) {
            uses.extend(referenced(&text, "airlock"));
        }
        uses.remove(&module);
        edges.entry(module).or_default().extend(uses);
    }
    edges
}

/// Where outside crates may appear (docs/architecture.md, "Where outside
/// crates may appear").
const CRATE_HOMES: &[(&str, &[&str])] = &[
    ("rusqlite", &["db"]),
    ("ureq", &["oci"]),
    ("clap", &["cli", "main"]),
    ("clap_complete", &["cli"]),
    ("clap_mangen", &["cli"]),
    ("p256", &["oms"]),
    ("p384", &["oms"]),
    ("x509_cert", &["oms"]),
    ("indicatif", &["reporter", "commands"]),
    ("tar", &["bundle", "formats"]),
    ("ed25519_dalek", &["signing"]),
    ("anyhow", &["main", "commands", "printer"]),
];

fn src_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn layers() -> Vec<(String, Vec<String>)> {
    let doc =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/architecture.md"))
            .unwrap();
    documented_layers(&doc)
}

/// Every violation of the layer order in `edges`, as readable lines.
fn violations(
    edges: &BTreeMap<String, BTreeSet<String>>,
    layers: &[(String, Vec<String>)],
) -> Vec<String> {
    // Highest layer first in the document: a larger rank is a lower layer.
    let rank: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, (_, mods))| mods.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let mut bad = Vec::new();
    for (from, tos) in edges {
        let Some(&rf) = rank.get(from.as_str()) else {
            bad.push(format!(
                "module `{from}` is in no layer of docs/architecture.md"
            ));
            continue;
        };
        for to in tos {
            match rank.get(to.as_str()) {
                None if edges.contains_key(to) => bad.push(format!(
                    "module `{to}` (used by `{from}`) is in no layer of docs/architecture.md"
                )),
                None => {} // not a module of ours (e.g. a macro path)
                Some(&rt) if rt < rf => bad.push(format!(
                    "`{from}` ({}) imports `{to}` ({}), a higher layer",
                    layers[rf].0, layers[rt].0
                )),
                Some(_) => {}
            }
        }
    }
    bad
}

/// A cycle in `edges`, if there is one, as the modules along it.
fn cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        match state.get(n) {
            Some(2) => return None,
            Some(1) => {
                let at = stack.iter().position(|s| s == n).unwrap();
                let mut c = stack[at..].to_vec();
                c.push(n.to_string());
                return Some(c);
            }
            _ => {}
        }
        state.insert(n.to_string(), 1);
        stack.push(n.to_string());
        for m in edges.get(n).into_iter().flatten() {
            if let Some(c) = visit(m, edges, state, stack) {
                return Some(c);
            }
        }
        stack.pop();
        state.insert(n.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for n in edges.keys() {
        if let Some(c) = visit(n, edges, &mut state, &mut Vec::new()) {
            return Some(c);
        }
    }
    None
}

#[test]
fn imports_follow_the_documented_layers() {
    let edges = graph(&src_dir());
    assert!(edges.len() > 20, "the source walk found the modules");
    let bad = violations(&edges, &layers());
    assert!(
        bad.is_empty(),
        "imports against the layers:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_module_graph_has_no_cycle() {
    let edges = graph(&src_dir());
    if let Some(c) = cycle(&edges) {
        panic!("import cycle: {}", c.join(" -> "));
    }
}

#[test]
fn outside_crates_stay_behind_their_boundaries() {
    let mut bad = Vec::new();
    for path in rust_files(&src_dir()) {
        let rel = path.strip_prefix(src_dir()).unwrap().to_path_buf();
        let module = module_of(&rel);
        let text = strip_comments(&fs::read_to_string(&path).unwrap());
        for (krate, homes) in CRATE_HOMES {
            if !homes.contains(&module.as_str()) && !referenced(&text, krate).is_empty() {
                // `tar::` inside formats/ or a module of our own named `tar`
                // would be caught here too; only formats/ has one, and it is
                // listed as a home.
                bad.push(format!("`{krate}` used in src/{}", rel.display()));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "outside crates out of place:\n{}",
        bad.join("\n")
    );
}

/// The checker itself: a forbidden import and a cycle are caught.
#[test]
fn the_checker_catches_an_upward_import_and_a_cycle() {
    let layers = vec![
        ("top".to_string(), vec!["a".to_string()]),
        ("bottom".to_string(), vec!["b".to_string(), "c".to_string()]),
    ];
    let text = strip_comments(
        "use crate::{a::X, b};\n// crate::zzz in a comment\nfn f() { crate::c::g(); }",
    );
    let uses = referenced(&text, "crate");
    assert_eq!(
        uses.into_iter().collect::<Vec<_>>(),
        vec!["a".to_string(), "b".to_string(), "c".to_string()]
    );
    let mut edges = BTreeMap::new();
    edges.insert("a".to_string(), BTreeSet::from(["b".to_string()]));
    edges.insert("b".to_string(), BTreeSet::from(["a".to_string()]));
    edges.insert("c".to_string(), BTreeSet::from(["b".to_string()]));
    let bad = violations(&edges, &layers);
    assert_eq!(bad.len(), 1, "{bad:?}");
    assert!(bad[0].contains("`b` (bottom) imports `a` (top)"));
    assert!(cycle(&edges).is_some());
    edges.get_mut("b").unwrap().clear();
    assert!(cycle(&edges).is_none());
}
