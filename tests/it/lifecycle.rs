//! Over a model's life (issue 15): `diff` between versions.

use std::fs;
use std::path::Path;

use crate::util::Env;

/// A safetensors file from `(name, dtype, shape)`, each tensor's bytes
/// zero-filled in header order.
fn safetensors(tensors: &[(&str, &str, &[u64])]) -> Vec<u8> {
    let bits = |d: &str| match d {
        "F32" => 4,
        _ => 2,
    };
    let mut at = 0u64;
    let mut entries = Vec::new();
    for (name, dtype, shape) in tensors {
        let len = shape.iter().product::<u64>() * bits(dtype);
        entries.push(format!(
            r#""{name}":{{"dtype":"{dtype}","shape":{shape:?},"data_offsets":[{at},{}]}}"#,
            at + len
        ));
        at += len;
    }
    let mut h = format!("{{{}}}", entries.join(","));
    while !h.len().is_multiple_of(8) {
        h.push(' ');
    }
    let mut b = (h.len() as u64).to_le_bytes().to_vec();
    b.extend_from_slice(h.as_bytes());
    b.extend(std::iter::repeat_n(0u8, at as usize));
    b
}

fn folder(dir: &Path, files: &[(&str, Vec<u8>)]) {
    fs::create_dir_all(dir).unwrap();
    for (name, body) in files {
        fs::write(dir.join(name), body).unwrap();
    }
}

#[test]
fn diff_names_files_tensors_fields_and_approvals_that_differ() {
    let env = Env::new();
    let (a, b) = (env.path("v1"), env.path("v2"));
    folder(
        &a,
        &[
            (
                "model.safetensors",
                safetensors(&[
                    ("a", "F16", &[2, 2]),
                    ("b", "F32", &[2]),
                    ("same", "F32", &[1]),
                ]),
            ),
            ("config.json", br#"{"model_type":"tiny"}"#.to_vec()),
            ("old.txt", b"going".to_vec()),
        ],
    );
    folder(
        &b,
        &[
            (
                "model.safetensors",
                safetensors(&[
                    ("a", "BF16", &[2, 2]),
                    ("same", "F32", &[1]),
                    ("c", "F32", &[4]),
                ]),
            ),
            ("config.json", br#"{"model_type":"tiny"}"#.to_vec()),
            ("new.txt", b"coming".to_vec()),
        ],
    );
    let (la, lb) = (env.path("apache.txt"), env.path("mit.txt"));
    fs::write(&la, "Apache License, Version 2.0 (the text as kept)").unwrap();
    fs::write(&lb, "MIT License (the text as kept)").unwrap();
    for (dir, licence, text, owner) in [
        (&a, "apache-2.0", &la, "team-a"),
        (&b, "mit", &lb, "team-b"),
    ] {
        env.cmd()
            .args([
                "import",
                "--name",
                "acme/tiny",
                "--license",
                licence,
                "--owner",
                owner,
            ])
            .arg("--license-file")
            .arg(text)
            .arg(dir)
            .assert()
            .success();
    }
    let keys = env.path("keys");
    crate::gap::keygen(&env, &keys, "alice");
    env.cmd()
        .args(["sign", "acme/tiny@v1", "--key"])
        .arg(keys.join("alice.key"))
        .assert()
        .success();

    let d = env.json(&["diff", "acme/tiny@v1", "acme/tiny@v2"]);
    assert_eq!(d["from"], "acme/tiny@v1");
    assert_eq!(d["to"], "acme/tiny@v2");
    assert_eq!(d["same_content"], false);
    assert_eq!(d["unchanged_files"], 1, "{d}");
    let files: Vec<(String, String)> = d["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap().into(),
                f["change"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            ("model.safetensors".into(), "changed".into()),
            ("new.txt".into(), "added".into()),
            ("old.txt".into(), "removed".into()),
        ]
    );
    let changed = &d["files"][0];
    assert_eq!(
        changed["from"]["sha256"],
        crate::util::sha256_hex(&fs::read(a.join("model.safetensors")).unwrap())
    );
    assert_eq!(
        changed["to"]["sha256"],
        crate::util::sha256_hex(&fs::read(b.join("model.safetensors")).unwrap())
    );
    assert!(d["files"][1]["from"].is_null() && d["files"][2]["to"].is_null());
    let tensors: Vec<(String, String, String, String)> = d["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let s = |k: &str| t[k].as_str().unwrap_or("-").to_string();
            (s("tensor"), s("change"), s("from"), s("to"))
        })
        .collect();
    assert_eq!(
        tensors,
        [
            (
                "a".into(),
                "changed".into(),
                "F16 [2, 2]".into(),
                "BF16 [2, 2]".into()
            ),
            ("b".into(), "removed".into(), "F32 [2]".into(), "-".into()),
            ("c".into(), "added".into(), "-".into(), "F32 [4]".into()),
        ]
    );
    let field = |name: &str| {
        d["fields"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["field"] == name)
            .map(|f| (f["from"].clone(), f["to"].clone()))
    };
    assert_eq!(
        field("license_id"),
        Some(("apache-2.0".into(), "mit".into()))
    );
    assert_eq!(field("owner"), Some(("team-a".into(), "team-b".into())));
    assert!(
        field("license_text_sha256").is_some(),
        "the kept licence texts differ: {d}"
    );
    assert_eq!(field("disclosure"), None, "both unknown");
    assert_eq!(d["approvals"]["only_from"].as_array().unwrap().len(), 1);
    assert!(
        d["approvals"]["only_from"][0]
            .as_str()
            .unwrap()
            .starts_with("alice")
    );
    assert!(d["approvals"]["only_to"].as_array().unwrap().is_empty());

    // The table says the same to a person.
    let out = env
        .cmd()
        .args(["diff", "acme/tiny@v1", "acme/tiny@v2"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for want in [
        "files: 1 added, 1 removed, 1 changed, 1 unchanged",
        "model.safetensors: a",
        "F16 [2, 2]",
        "BF16 [2, 2]",
        "license_id: apache-2.0 → mit",
        "owner: team-a → team-b",
        "+ ",
        "new.txt",
    ] {
        assert!(text.contains(want), "`{want}` missing from:\n{text}");
    }

    // A version against itself: nothing differs.
    let same = env.json(&["diff", "acme/tiny@v2", "acme/tiny@v2"]);
    assert_eq!(same["same_content"], true);
    assert!(same["files"].as_array().unwrap().is_empty());
    assert!(same["tensors"].as_array().unwrap().is_empty());
    assert!(same["fields"].as_array().unwrap().is_empty());

    // An unknown version is an error naming what exists.
    let out = env
        .cmd()
        .args(["diff", "acme/tiny@v1", "acme/tiny@v9"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("v9") && err.contains("v2"), "{err}");
}
