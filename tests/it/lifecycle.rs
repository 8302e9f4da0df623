//! Over a model's life (issue 15): `diff` between versions.

use std::fs;
use std::path::Path;

use base64::Engine as _;
use predicates::prelude::*;

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

#[test]
fn diff_reads_gguf_tensor_tables_too() {
    let env = Env::new();
    let v1 = crate::safety::Gguf::valid();
    let mut v2 = crate::safety::Gguf::valid();
    v2.tensors[0].2 = 1; // tok.weight: F32 → F16
    for (dir, g) in [("g1", &v1), ("g2", &v2)] {
        folder(&env.path(dir), &[("model.gguf", g.bytes())]);
        env.cmd()
            .args(["import", "--name", "acme/g"])
            .arg(env.path(dir))
            .assert()
            .success();
    }
    let d = env.json(&["diff", "acme/g@v1", "acme/g@v2"]);
    let t = &d["tensors"];
    assert_eq!(t.as_array().unwrap().len(), 1, "{d}");
    assert_eq!(
        (
            t[0]["tensor"].as_str(),
            t[0]["from"].as_str(),
            t[0]["to"].as_str()
        ),
        (Some("tok.weight"), Some("F32 [4, 4]"), Some("F16 [4, 4]"))
    );
}

/// Import `n` generated models as versions v1…vN of `acme/m`.
fn import_versions(env: &Env, n: u64) {
    for seed in 1..=n {
        let m = env.model(&format!("m{seed}"), seed);
        env.cmd()
            .args(["import", "--name", "acme/m"])
            .arg(&m)
            .assert()
            .success();
    }
}

/// Wait until the clock's second changes, so events get distinct times.
fn next_second() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let start = now();
    while now() == start {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

#[test]
fn aliases_move_with_history_answer_for_past_times_and_are_checked_against_the_log() {
    let env = Env::new();
    import_versions(&env, 3);
    let version_of = |r: &str| {
        env.json(&["show", r])["version"]
            .as_str()
            .unwrap()
            .to_string()
    };

    // Set, move, remove — each a second apart.
    env.cmd()
        .args(["alias", "set", "acme/m", "prod", "v1"])
        .assert()
        .success();
    assert_eq!(version_of("acme/m@prod"), "v1");
    next_second();
    let moved = env.json(&["alias", "set", "acme/m", "prod", "v2"]);
    assert_eq!(
        (moved["version"].as_str(), moved["previous"].as_str()),
        (Some("v2"), Some("v1"))
    );
    assert_eq!(version_of("acme/m@prod"), "v2");
    env.cmd()
        .args(["alias", "set", "acme/m", "candidate", "v3"])
        .assert()
        .success();
    next_second();
    env.cmd()
        .args(["alias", "rm", "acme/m", "prod"])
        .assert()
        .success();
    let out = env.cmd().args(["show", "acme/m@prod"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "a removed alias no longer resolves"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("acme/m@candidate (alias of v3)"));

    // The history, from the log.
    let h = env.json(&["alias", "history", "acme/m", "prod"]);
    let changes: Vec<(String, Option<String>, Option<String>)> = h["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |k: &str| c[k].as_str().map(String::from);
            (s("change").unwrap(), s("previous"), s("version"))
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("set".into(), None, Some("v1".into())),
            ("set".into(), Some("v1".into()), Some("v2".into())),
            ("rm".into(), Some("v2".into()), None),
        ]
    );
    let times: Vec<String> = h["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["time"].as_str().unwrap().to_string())
        .collect();

    // --at: which version the alias pointed at then, for three times.
    let prod_at = |t: &str| -> Option<String> {
        env.json(&["alias", "list", "acme/m", "--at", t])["aliases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["alias"] == "prod")
            .map(|a| a["version"].as_str().unwrap().to_string())
    };
    assert_eq!(prod_at(&times[0]).as_deref(), Some("v1"));
    assert_eq!(prod_at(&times[1]).as_deref(), Some("v2"));
    assert_eq!(prod_at(&times[2]), None);
    assert_eq!(prod_at("2000-01-01"), None, "before any alias");
    let now = env.json(&["alias", "list", "acme/m"]);
    assert_eq!(now["aliases"].as_array().unwrap().len(), 1);
    assert_eq!(now["aliases"][0]["alias"], "candidate");

    // The history survives `log --verify`, and a row moved behind airlock's
    // back is caught by it.
    env.cmd().args(["log", "--verify"]).assert().success();
    {
        let c = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
        let n = c
            .execute(
                "UPDATE aliases SET version_id = (SELECT id FROM versions WHERE label = 'v1') WHERE alias = 'candidate'",
                [],
            )
            .unwrap();
        assert_eq!(n, 1);
    }
    let out = env.cmd().args(["log", "--verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("acme/m@candidate"), "{text}");
}

#[test]
fn alias_rules_labels_unknown_aliases_and_the_approval_policy() {
    let env = Env::new();
    import_versions(&env, 1);
    // An alias may not be a label of the model, nor malformed.
    env.cmd()
        .args(["alias", "set", "acme/m", "v1", "v1"])
        .assert()
        .code(2);
    env.cmd()
        .args(["alias", "set", "acme/m", "bad/alias", "v1"])
        .assert()
        .code(2);
    // An unknown model is an error naming the models there are.
    let out = env
        .cmd()
        .args(["alias", "list", "acme/nosuch"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("acme/m"));
    // Removing an alias that does not exist is an error naming it.
    let out = env
        .cmd()
        .args(["alias", "rm", "acme/m", "prod"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("acme/m@prod"));

    // The policy: `prod` needs an approved version.
    env.cmd()
        .args(["alias", "policy", "--require-approval", "prod"])
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["alias", "set", "acme/m", "prod", "v1"])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("live approval"));
    // Other aliases are free.
    env.cmd()
        .args(["alias", "set", "acme/m", "dev", "v1"])
        .assert()
        .success();
    let keys = env.path("keys");
    crate::gap::keygen(&env, &keys, "alice");
    env.cmd()
        .args(["trust", "add", "--name", "alice", "--role", "approver"])
        .arg(keys.join("alice.pub"))
        .assert()
        .success();
    env.cmd()
        .args(["sign", "acme/m@v1", "--key"])
        .arg(keys.join("alice.key"))
        .assert()
        .success();
    env.cmd()
        .args(["alias", "set", "acme/m", "prod", "v1"])
        .assert()
        .success();
    let p = env.json(&["alias", "policy"]);
    assert_eq!(p["require_approval"], serde_json::json!(["prod"]));
}

/// Bytes that differ for every (seed, shard).
fn shard(seed: u8, n: u8, len: usize) -> Vec<u8> {
    let mut x = u64::from(seed) << 8 | u64::from(n);
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (x >> 56) as u8
        })
        .collect()
}

#[test]
fn a_delta_bundle_carries_only_what_the_receiver_lacks_and_is_refused_where_the_base_is_missing() {
    let env = Env::new();
    let keys = env.path("keys");
    for who in ["exporter", "alice"] {
        crate::gap::keygen(&env, &keys, who);
    }
    const SHARD: usize = 512 << 10;
    let v1: Vec<(String, Vec<u8>)> = (0..4)
        .map(|n| (format!("shard-{n}.dat"), shard(1, n, SHARD)))
        .collect();
    let mut v2 = v1.clone();
    v2[2].1 = shard(2, 2, SHARD);
    for (dir, files) in [("r1", &v1), ("r2", &v2)] {
        let d = env.path(dir);
        fs::create_dir_all(&d).unwrap();
        for (name, body) in files.iter() {
            fs::write(d.join(name), body).unwrap();
        }
        env.cmd()
            .args(["import", "--name", "acme/big", "--license", "mit"])
            .arg(&d)
            .assert()
            .success();
    }
    for v in ["acme/big@v1", "acme/big@v2"] {
        env.cmd()
            .args(["sign", v, "--key"])
            .arg(keys.join("alice.key"))
            .assert()
            .success();
    }
    let isolated = |name: &str| {
        let home = env.path(name);
        for (who, role) in [("exporter", "exporter"), ("alice", "approver")] {
            env.cmd_at(&home)
                .args(["trust", "add", "--name", who, "--role", role])
                .arg(keys.join(format!("{who}.pub")))
                .assert()
                .success();
        }
        home
    };
    let full = env.path("v1.airlock");
    env.cmd()
        .args(["export", "acme/big@v1", "--key"])
        .arg(keys.join("exporter.key"))
        .arg("--out")
        .arg(&full)
        .assert()
        .success();
    let iso = isolated("iso");
    env.cmd_at(&iso).arg("import").arg(&full).assert().success();

    // The isolated side says what it holds; the connected side leaves it out.
    let holdings = env.path("holdings.json");
    let h = env.json_at(&iso, &["holdings", "--out", holdings.to_str().unwrap()]);
    assert_eq!(h["blobs"], 4, "four shards: {h}");
    let delta = env.path("v2-delta.airlock");
    let out = env.json(&[
        "export",
        "acme/big@v2",
        "--key",
        keys.join("exporter.key").to_str().unwrap(),
        "--out",
        delta.to_str().unwrap(),
        "--delta-against",
        holdings.to_str().unwrap(),
    ]);
    assert_eq!(
        (out["blobs"].as_u64(), out["relied_on"].as_u64()),
        (Some(1), Some(3)),
        "{out}"
    );
    let size = fs::metadata(&delta).unwrap().len() as usize;
    assert!(
        size > SHARD && size < SHARD + 32 * 1024,
        "the delta bundle is the changed shard plus metadata: {size} bytes for a {SHARD}-byte shard"
    );
    assert!(fs::metadata(&full).unwrap().len() as usize > 4 * SHARD);

    // Signed holdings: refused until the connected side trusts the
    // receiver's key, then read and its signer named; a signature over
    // other bytes is refused.
    env.cmd()
        .args(["keys", "generate", "--name", "iso", "--out"])
        .arg(keys.join("iso"))
        .assert()
        .success();
    let signed = env.path("holdings.signed.json");
    let h = env.json_at(
        &iso,
        &[
            "holdings",
            "--out",
            signed.to_str().unwrap(),
            "--key",
            keys.join("iso.key").to_str().unwrap(),
        ],
    );
    assert_eq!(h["signed_by"].as_str().map(str::len), Some(64), "{h}");
    let delta_from = |holdings: &Path, out: &str| {
        let mut c = env.cmd();
        c.args(["export", "acme/big@v2", "--key"])
            .arg(keys.join("exporter.key"))
            .arg("--out")
            .arg(env.path(out))
            .arg("--delta-against")
            .arg(holdings);
        c
    };
    delta_from(&signed, "untrusted.airlock")
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "no signature by a key this registry trusts",
        ));
    env.cmd()
        .args(["trust", "add", "--name", "iso", "--role", "host"])
        .arg(keys.join("iso.pub"))
        .assert()
        .success();
    delta_from(&signed, "signed.airlock")
        .assert()
        .success()
        .stderr(predicate::str::contains("signed by").and(predicate::str::contains("`iso`")));
    let mut env_doc: serde_json::Value =
        serde_json::from_slice(&fs::read(&signed).unwrap()).unwrap();
    let other =
        base64::engine::general_purpose::STANDARD.encode(b"{\"format\":\"airlock-holdings/v1\"}");
    env_doc["payload"] = other.into();
    let forged = env.path("holdings.forged.json");
    fs::write(&forged, serde_json::to_vec(&env_doc).unwrap()).unwrap();
    delta_from(&forged, "forged.airlock").assert().code(3);

    // Where the base is held, the delta imports and verifies.
    env.cmd_at(&iso)
        .arg("import")
        .arg(&delta)
        .assert()
        .success();
    env.cmd_at(&iso)
        .args(["verify", "--deep", "acme/big@v2"])
        .assert()
        .success();

    // Where it is not, it is refused, naming the blobs it relies on.
    let bare = isolated("bare");
    let out = env
        .cmd_at(&bare)
        .arg("import")
        .arg(&delta)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    let relied = crate::util::sha256_hex(&v1[0].1);
    assert!(
        err.contains("relying on 3 blob(s)") && err.contains(&relied),
        "{err}"
    );
    assert!(
        env.json_at(&bare, &["list"])["versions"]
            .as_array()
            .unwrap()
            .is_empty(),
        "nothing visible"
    );

    // Where a relied-on blob is held but damaged, too.
    let damaged = isolated("damaged");
    env.cmd_at(&damaged)
        .arg("import")
        .arg(&full)
        .assert()
        .success();
    let blob = damaged
        .join("store/sha256")
        .join(&relied[..2])
        .join(&relied[2..]);
    crate::util::flip_byte(&blob, 100);
    let out = env
        .cmd_at(&damaged)
        .arg("import")
        .arg(&delta)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains(&relied));
}

#[test]
fn evaluations_are_signed_compared_and_gate_prod_deploys() {
    let env = Env::new();
    import_versions(&env, 2);
    let keys = env.path("keys");
    crate::gap::keygen(&env, &keys, "evaluator");
    let key = keys.join("evaluator.key");
    let record = |v: &str, extra: &[&str]| {
        env.cmd()
            .args(["eval", "record", v, "--key"])
            .arg(&key)
            .args(extra)
            .assert()
            .success();
    };
    record(
        "acme/m@v1",
        &["--suite", "mmlu", "--metric", "accuracy", "--value", "0.70"],
    );
    record(
        "acme/m@v2",
        &["--suite", "mmlu", "--metric", "accuracy", "--value", "0.68"],
    );
    for (v, ms) in [("acme/m@v1", "200"), ("acme/m@v2", "180")] {
        record(
            v,
            &[
                "--suite",
                "serving",
                "--metric",
                "p95_ms",
                "--value",
                ms,
                "--lower-is-better",
                "--cost-per-1k-outputs",
                "0.42",
                "--currency",
                "EUR",
            ],
        );
    }

    let list = env.json(&["eval", "list", "acme/m@v2"]);
    let rows = list["evaluations"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert!(
        rows.iter()
            .all(|r| r["signature_valid"] == true && r["signer"].is_null())
    );
    assert_eq!(rows[1]["currency"], "EUR");
    env.cmd()
        .args(["trust", "add", "--name", "evaluator"])
        .arg(keys.join("evaluator.pub"))
        .assert()
        .success();
    let list = env.json(&["eval", "list", "acme/m@v2"]);
    assert_eq!(list["evaluations"][0]["signer"], "evaluator");

    // Compare: accuracy went down (a regression), latency down (better).
    let c = env.json(&["eval", "compare", "acme/m@v1", "acme/m@v2"]);
    assert_eq!(c["regressions"], 1, "{c}");
    let metric = |c: &serde_json::Value, m: &str| {
        c["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["metric"] == m)
            .cloned()
            .unwrap()
    };
    assert_eq!(metric(&c, "accuracy")["regression"], true);
    assert_eq!(metric(&c, "p95_ms")["regression"], false);
    // A threshold larger than the drop: no longer a regression.
    env.cmd()
        .args(["eval", "policy", "--threshold", "accuracy=0.05"])
        .assert()
        .success();
    let c = env.json(&["eval", "compare", "acme/m@v1", "acme/m@v2"]);
    assert_eq!(c["regressions"], 0, "{c}");
    env.cmd()
        .args([
            "eval",
            "policy",
            "--threshold",
            "accuracy=0",
            "--require-for-prod",
            "mmlu",
        ])
        .assert()
        .success();

    // The prod gate: v1 goes to prod; v2 regressed against it (exit 4);
    // staging has no gate.
    env.cmd()
        .args(["deploy", "acme/m@v1", "--env", "prod"])
        .arg(env.path("serve/v1"))
        .assert()
        .success();
    // A record by a key this registry does not trust moves nothing.
    crate::gap::keygen(&env, &keys, "stranger");
    env.cmd()
        .args([
            "eval",
            "record",
            "acme/m@v2",
            "--suite",
            "mmlu",
            "--metric",
            "accuracy",
        ])
        .args(["--value", "0.99", "--key"])
        .arg(keys.join("stranger.key"))
        .assert()
        .success();
    let out = env
        .cmd()
        .args(["deploy", "acme/m@v2", "--env", "prod"])
        .arg(env.path("serve/v2"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("regressed against acme/m@v1") && err.contains("accuracy"),
        "{err}"
    );
    assert!(
        !env.path("serve/v2").exists(),
        "nothing written when refused"
    );
    env.cmd()
        .args(["deploy", "acme/m@v2", "--env", "staging"])
        .arg(env.path("serve/v2"))
        .assert()
        .success();
    // The audit shows each deployed version's latest evaluation of the suite.
    let audit = env.json(&["audit"]);
    let row = audit["deployments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == "v1")
        .unwrap()
        .clone();
    assert_eq!(row["latest_evaluation"]["suite"], "mmlu");
    assert_eq!(row["latest_evaluation"]["value"], 0.70);

    // A value changed behind airlock's back no longer verifies.
    {
        let c = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
        c.execute(
            "UPDATE evals SET value = 0.99 WHERE metric = 'accuracy' AND value = 0.68",
            [],
        )
        .unwrap();
    }
    let list = env.json(&["eval", "list", "acme/m@v2"]);
    let acc = list["evaluations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "accuracy")
        .unwrap()
        .clone();
    assert_eq!(
        (acc["value"].as_f64(), acc["signature_valid"].as_bool()),
        (Some(0.99), Some(false))
    );
    env.cmd().args(["log", "--verify"]).assert().success();

    // A record added behind airlock's back has no event: log --verify says so.
    {
        let c = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
        c.execute(
            "INSERT INTO evals (version_id, suite, metric, value, higher_is_better, cost_per_1k_outputs,
               currency, notes, recorded_at, recorded_by, key_id, public_key, envelope_sha256, envelope)
             SELECT version_id, suite, metric, 0.1, higher_is_better, cost_per_1k_outputs, currency,
               notes, recorded_at, recorded_by, key_id, public_key, 'forged', envelope FROM evals LIMIT 1",
            [],
        )
        .unwrap();
    }
    let out = env.cmd().args(["log", "--verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("evaluation record"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    {
        let c = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
        c.execute("DELETE FROM evals WHERE envelope_sha256 = 'forged'", [])
            .unwrap();
    }

    // Records travel in bundles as the signed statements: the isolated side
    // gets the value that was signed, not the column changed here.
    let (iso, bundle) = env.cross("acme/m@v2");
    let got = env.json_at(&iso, &["import", bundle.to_str().unwrap()]);
    assert_eq!(got["evaluations"], 3, "{got}");
    let there = env.json_at(&iso, &["eval", "list", "acme/m@v2"]);
    let rows = there["evaluations"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["signature_valid"] == true), "{there}");
    let value = |m: &str| rows.iter().find(|r| r["metric"] == m).unwrap()["value"].as_f64();
    assert_eq!(
        (value("accuracy"), value("p95_ms")),
        (Some(0.68), Some(180.0))
    );
    // Importing the same bundle again records nothing twice.
    env.cmd_at(&iso)
        .arg("import")
        .arg(&bundle)
        .assert()
        .success();
    assert_eq!(
        env.json_at(&iso, &["eval", "list", "acme/m@v2"])["evaluations"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn hosts_attest_what_they_serve_and_the_registry_ingests_only_trusted_reports() {
    let env = Env::new();
    import_versions(&env, 1);
    let (serve, keys) = deployed_with_host_keys(&env);
    let attest = |key: &str, out: &Path| attest_report(&env, &serve, &keys, key, out);
    let good = env.path("report.json");
    assert!(attest("gpu", &good).status.success());

    // Not yet trusted: refused. Trusted as a host: recorded once.
    let out = env
        .cmd()
        .args(["audit", "ingest"])
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    env.cmd()
        .args(["trust", "add", "--name", "gpu", "--role", "host"])
        .arg(keys.join("gpu.pub"))
        .assert()
        .success();
    let i = env.json(&["audit", "ingest", good.to_str().unwrap()]);
    assert_eq!(
        (i["recorded"].as_bool(), i["report"]["matches"].as_bool()),
        (Some(true), Some(true))
    );
    assert_eq!(i["signer"], "gpu");
    let again = env.json(&["audit", "ingest", good.to_str().unwrap()]);
    assert_eq!(again["recorded"], false);
    let audit = env.json(&["audit"]);
    let row = &audit["deployments"][0];
    assert_eq!(row["proven"][1], "gpu");
    assert_eq!(row["proven"][2], true);
    assert_eq!(row["status"], "ok");

    // A report signed by a key the registry does not trust, and a report
    // whose signed bytes were changed, are refused.
    let forged = env.path("forged.json");
    assert!(attest("stranger", &forged).status.success());
    let out = env
        .cmd()
        .args(["audit", "ingest"])
        .arg(&forged)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let mut doc: serde_json::Value = serde_json::from_slice(&fs::read(&good).unwrap()).unwrap();
    let payload = doc["payload"].as_str().unwrap().to_string();
    let swapped = if payload.starts_with('e') { "f" } else { "e" };
    doc["payload"] = serde_json::Value::String(format!("{swapped}{}", &payload[1..]));
    let tampered = env.path("tampered.json");
    fs::write(&tampered, serde_json::to_vec(&doc).unwrap()).unwrap();
    let out = env
        .cmd()
        .args(["audit", "ingest"])
        .arg(&tampered)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));

    // Drift on the host: the report says so, and the audit shows it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let f = serve.join("config.json");
    let mut perm = fs::metadata(&f).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perm.set_readonly(false);
    fs::set_permissions(&f, perm).unwrap();
    fs::write(&f, b"{\"changed\": true}").unwrap();
    let drift = env.path("drift.json");
    let out = attest("gpu", &drift);
    assert_eq!(out.status.code(), Some(3), "verify still fails on drift");
    assert!(drift.exists(), "the report is written either way");
    let i = env.json(&["audit", "ingest", drift.to_str().unwrap()]);
    assert_eq!(i["report"]["matches"], false);
    assert!(i["report"]["findings"][0]["path"] == "config.json", "{i}");
    let out = env.cmd().args(["--json", "audit"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "the audit reports the drift");
    let audit: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(audit["deployments"][0]["status"], "drift");
    assert_eq!(audit["deployments"][0]["proven"][2], false);
    env.cmd().args(["log", "--verify"]).assert().success();
    // An attestation written behind airlock's back has no event.
    {
        let c = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
        c.execute(
            "INSERT INTO attestations (deployment_id, verified_at, matches, key_id, report_sha256,
               ingested_at, ingested_by, envelope)
             SELECT deployment_id, verified_at, 1, key_id, 'forged', ingested_at, ingested_by, envelope
             FROM attestations LIMIT 1",
            [],
        )
        .unwrap();
    }
    let out = env.cmd().args(["log", "--verify"]).output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stdout).contains("host attestation"));
}

#[test]
fn aliases_cross_with_their_versions() {
    let env = Env::new();
    import_versions(&env, 2);
    env.cmd()
        .args(["alias", "set", "acme/m", "prod", "v2"])
        .assert()
        .success();
    env.cmd()
        .args(["alias", "set", "acme/m", "old", "v1"])
        .assert()
        .success();
    let (iso, bundle) = env.cross("acme/m@v2");
    let got = env.json_at(&iso, &["import", bundle.to_str().unwrap()]);
    assert_eq!(
        got["aliases"], 1,
        "only the aliases of the versions carried: {got}"
    );
    assert_eq!(env.json_at(&iso, &["show", "acme/m@prod"])["version"], "v2");
    let h = env.json_at(&iso, &["alias", "history", "acme/m", "prod"]);
    assert_eq!(h["changes"].as_array().unwrap().len(), 1);
    let out = env
        .cmd_at(&iso)
        .args(["show", "acme/m@old"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    env.cmd_at(&iso)
        .args(["log", "--verify"])
        .assert()
        .success();
}

/// `acme/m` deployed at `serve/m`, and the keys `gpu` and `stranger` made
/// (trusted nowhere yet): the folder and the keys folder.
pub(crate) fn deployed_with_host_keys(env: &Env) -> (std::path::PathBuf, std::path::PathBuf) {
    let serve = env.path("serve/m");
    env.cmd()
        .args(["deploy", "acme/m"])
        .arg(&serve)
        .assert()
        .success();
    let keys = env.path("keys");
    for who in ["gpu", "stranger"] {
        crate::gap::keygen(env, &keys, who);
    }
    (serve, keys)
}

/// `verify acme/m --attest --path SERVE --key KEYS/<key>.key --out OUT`.
pub(crate) fn attest_report(
    env: &Env,
    serve: &Path,
    keys: &Path,
    key: &str,
    out: &Path,
) -> std::process::Output {
    env.cmd()
        .args(["verify", "acme/m", "--attest", "--path"])
        .arg(serve)
        .arg("--key")
        .arg(keys.join(format!("{key}.key")))
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}
