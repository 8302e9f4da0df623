//! Trust that survives a lost or hostile key (issue 10): the signed trust
//! root and its rotation, floors that a revoked key no longer holds, time
//! that does not run backwards, downgrades, nothing unapproved, version
//! revocations that travel — one test per TUF attack class (specification
//! §1.5.2) on the real binary with bytes forged with test keys. Each refusal
//! checks the exit code, a message naming the problem, that versions,
//! blobs, log and trust store are unchanged, and that a genuine bundle still
//! imports afterwards.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::gap::{Gap, forge, forge_from, members, plain, write_tar};

/// Refused with exit 3 and `needle`, nothing changed on the isolated side.
fn refused_unchanged(g: &Gap, bundle: &Path, extra: &[&str], needle: &str) {
    let before = g.state();
    let out = g
        .iso()
        .arg("import")
        .arg(bundle)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "{stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains(needle), "expected `{needle}` in: {stderr}");
    assert_eq!(g.state(), before, "versions, blobs, log or trust changed");
    assert_eq!(
        fs::read_dir(g.iso.join("store/tmp")).unwrap().count(),
        0,
        "nothing staged is left"
    );
    assert_no_empty_fanout(&g.iso);
}

fn assert_no_empty_fanout(home: &Path) {
    for e in fs::read_dir(home.join("store/sha256")).unwrap() {
        let e = e.unwrap();
        assert!(
            fs::read_dir(e.path()).unwrap().next().is_some(),
            "empty fan-out folder {} left behind",
            e.path().display()
        );
    }
}

fn imports(g: &Gap, bundle: &Path) {
    g.iso().arg("import").arg(bundle).assert().success();
}

fn key_id(g: &Gap, who: &str) -> String {
    airlock::signing::PublicKey::load(&g.key(&format!("{who}.pub")))
        .unwrap()
        .id()
        .to_hex()
}

/// The ceremony on both sides: root keys root1 and root2 (threshold 2),
/// `exporter` speaking for the connected registry, alice approving.
fn rooted() -> (Gap, PathBuf) {
    let g = Gap::bare(&["alice"]);
    let origin = g.origin();
    let root1 = g.path("root-1.json");
    g.env
        .cmd()
        .args(["trust", "init", "--threshold", "2", "--approvals", "1"])
        .arg("--root-key")
        .arg(g.key("root1.pub"))
        .arg("--root-key")
        .arg(g.key("root2.pub"))
        .arg("--exporter")
        .arg(format!("{}={origin}", g.key("exporter.pub").display()))
        .arg("--approver")
        .arg(g.key("alice.pub"))
        .arg("--out")
        .arg(&root1)
        .assert()
        .success();
    g.iso()
        .args(["trust", "init", "--root"])
        .arg(&root1)
        .assert()
        .success()
        .stdout(predicate::str::contains("trust root version 1"));
    (g, root1)
}

/// `trust root edit` on the connected side, then signatures by `signers`.
fn next_root(g: &Gap, out: &str, edit: &[&str], signers: &[&str]) -> PathBuf {
    let p = g.path(out);
    g.env
        .cmd()
        .args(["trust", "root", "edit", "--out"])
        .arg(&p)
        .args(edit)
        .assert()
        .success();
    for s in signers {
        g.env
            .cmd()
            .args(["trust", "root", "sign"])
            .arg(&p)
            .arg("--key")
            .arg(g.key(&format!("{s}.key")))
            .assert()
            .success();
    }
    p
}

#[test]
fn a_ceremony_root_and_its_status() {
    let (g, _) = rooted();
    let s = g.iso_json(&["trust", "status"]);
    assert_eq!(s["version"], 1);
    assert_eq!(s["rooted"], true);
    assert_eq!(s["thresholds"]["root"], 2);
    assert_eq!(s["approvals_required"], 1);
    let keys = s["keys"].as_array().unwrap();
    let exporter = keys
        .iter()
        .find(|k| k["key_id"] == key_id(&g, "exporter"))
        .unwrap();
    assert_eq!(exporter["role"], "exporter");
    assert_eq!(exporter["source"], "root");
    assert_eq!(exporter["origins"][0], g.origin());
    // Under a root, a local change is refused unless it says it is one.
    g.iso()
        .args(["trust", "add", "--name", "bob"])
        .arg(g.key("bob.pub"))
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--local"));
    g.iso()
        .args(["trust", "add", "--name", "bob", "--local"])
        .arg(g.key("bob.pub"))
        .assert()
        .success()
        .stdout(predicate::str::contains("break-glass"));
    let log = g.iso_json(&["log"]);
    let add = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["command"] == "trust-add")
        .unwrap();
    assert!(
        add["details"]
            .as_str()
            .unwrap()
            .contains("\"break_glass\":true")
    );
    // A second ceremony is refused.
    g.iso()
        .args(["trust", "init", "--root"])
        .arg(g.path("root-1.json"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already has a trust root"));
    imports(&g, &g.bundle);
    g.iso().args(["log", "--verify"]).assert().success();
}

/// Key compromise, rotation and revocation (TUF "vulnerability to key
/// compromises", key rotation): a new root needs a threshold of the old
/// and of the new root keys; rotating the exporter travels in a bundle.
#[test]
fn key_rotation_needs_old_and_new_thresholds_and_travels_in_a_bundle() {
    let (g, root1) = rooted();
    imports(&g, &g.bundle);
    let origin = g.origin();
    let old_exporter = key_id(&g, "exporter");
    let edit = [
        "--add-exporter",
        &format!("{}={origin}", g.key("exporter2.pub").display()),
        "--revoke",
        &old_exporter,
        "--reason",
        "exporter laptop lost",
    ];
    // One of two root signatures: refused, nothing applied.
    let half = next_root(&g, "root-2-half.json", &edit, &["root1"]);
    let before = g.state();
    g.iso()
        .args(["trust", "update"])
        .arg(&half)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "1 valid signature(s) by the current root keys",
        ));
    assert_eq!(g.state(), before);
    // Signed only by new root keys (root3 replacing root1 and root2): refused.
    let usurper = next_root(
        &g,
        "root-2-usurper.json",
        &[
            "--add-root",
            &g.key("root3.pub").display().to_string(),
            "--remove",
            &key_id(&g, "root1"),
            "--remove",
            &key_id(&g, "root2"),
            "--root-threshold",
            "1",
        ],
        &["root3"],
    );
    g.iso()
        .args(["trust", "update"])
        .arg(&usurper)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("by the current root keys"));
    assert_eq!(g.state(), before);
    // Both root keys: the connected side applies it, and the next bundle
    // (signed by the new exporter) carries it across.
    let root2 = next_root(&g, "root-2.json", &edit, &["root1", "root2"]);
    g.env
        .cmd()
        .args(["trust", "update"])
        .arg(&root2)
        .assert()
        .success();
    let fresh = g.export_new("acme/n", 51, &["alice"], "exporter2", "n.airlock");
    g.iso()
        .arg("import")
        .arg(&fresh)
        .assert()
        .success()
        .stderr(predicate::str::contains("applied trust root version 2"));
    let s = g.iso_json(&["trust", "status"]);
    assert_eq!(s["version"], 2);
    let old = s["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["key_id"] == old_exporter.as_str())
        .unwrap();
    assert_eq!(old["revoked"], true);
    assert!(
        old["revoked_reason"]
            .as_str()
            .unwrap()
            .contains("laptop lost")
    );
    // The old exporter's bundles no longer count; replaying the old root is a rollback.
    let by_old = g.export_new("acme/o", 52, &["alice"], "exporter", "o.airlock");
    refused_unchanged(&g, &by_old, &[], "revoked");
    g.iso()
        .args(["trust", "update"])
        .arg(&root1)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("rollback: trust root version 1"));
    let again = g.export_new("acme/p", 53, &["alice"], "exporter2", "p.airlock");
    imports(&g, &again);
    g.iso().args(["log", "--verify"]).assert().success();
}

/// Fast-forward and indefinite freeze by a key that is later revoked: the
/// floor its 2^62 sequence set falls back once it is revoked (TUF §5.3.11).
#[test]
fn a_revoked_exporters_fast_forward_no_longer_blocks_the_genuine_exporter() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    imports(&g, &g.bundle);
    let huge = forge(
        &g,
        "huge.airlock",
        "exporter",
        |_| {},
        |i| {
            i["sequence"] = (1u64 << 62).into();
            i["bundle_id"] = "cd".repeat(16).into();
        },
    );
    imports(&g, &huge);
    // The same stolen key signs a bundle "created" in 2099 (accepted by a
    // registry told with --now that it is 2099).
    let far = forge(
        &g,
        "far.airlock",
        "exporter",
        |_| {},
        |i| {
            i["sequence"] = ((1u64 << 62) + 1).into();
            i["bundle_id"] = "ce".repeat(16).into();
            i["created"] = "2099-01-01T00:00:00Z".into();
            i["expires"] = "2099-02-01T00:00:00Z".into();
        },
    );
    g.iso()
        .arg("import")
        .arg(&far)
        .args(["--now", "2099-01-02T00:00:00Z"])
        .assert()
        .success();
    assert_eq!(
        g.iso_json(&["trust", "status"])["clock"]["mark"],
        "2099-01-01T00:00:00Z"
    );
    let genuine = g.export_new("acme/n", 61, &["alice"], "exporter2", "n.airlock");
    // Before the revocation, the floor holds (and exporter2 is not trusted).
    let exp = key_id(&g, "exporter");
    g.iso()
        .args(["trust", "revoke", &exp, "--reason", "compromised"])
        .assert()
        .success();
    g.iso()
        .args(["trust", "add", "--name", "exporter2", "--role", "exporter"])
        .arg(g.key("exporter2.pub"))
        .assert()
        .success();
    imports(&g, &genuine);
    let s = g.iso_json(&["trust", "status"]);
    let o = &s["origins"][0];
    assert_eq!(o["sequence"], 2, "the floor is the genuine exporter's: {s}");
    assert_eq!(o["set_by"], key_id(&g, "exporter2"));
    assert_ne!(
        s["clock"]["mark"], "2099-01-01T00:00:00Z",
        "the revoked key's time mark is gone"
    );
}

/// Fast-forward attempts that are refused outright.
#[test]
fn fast_forward_sequences_and_future_times_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let above = forge(
        &g,
        "above.airlock",
        "exporter",
        |_| {},
        |i| i["sequence"] = (1u64 << 63).into(),
    );
    refused_unchanged(&g, &above, &[], "above 2^63-1");
    let future = forge(
        &g,
        "future.airlock",
        "exporter",
        |_| {},
        |i| {
            i["created"] = "2099-01-01T00:00:00Z".into();
            i["expires"] = "2099-02-01T00:00:00Z".into();
        },
    );
    refused_unchanged(&g, &future, &[], "in the future");
    let spelled = forge(
        &g,
        "spelled.airlock",
        "exporter",
        |_| {},
        |i| i["created"] = "2026-01-01T00:00:00+00:00".into(),
    );
    refused_unchanged(&g, &spelled, &[], "one spelling");
    imports(&g, &g.bundle);
}

/// Rollback: an older sequence, and an older version of a model.
#[test]
fn rollback_and_model_downgrade_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    // acme/m v1 is registered first, acme/m v2 later; v2 crosses first.
    let v2 = g.export_new("acme/m", 71, &["alice"], "exporter", "v2.airlock");
    imports(&g, &v2);
    refused_unchanged(&g, &g.bundle, &[], "rollback: sequence 1");
    let later_v1 = forge(
        &g,
        "v1-again.airlock",
        "exporter",
        |_| {},
        |i| {
            i["sequence"] = 3.into();
            i["bundle_id"] = "ef".repeat(16).into();
        },
    );
    refused_unchanged(&g, &later_v1, &[], "downgrade");
    // Allowed when asked for, with a reason, and logged.
    g.iso()
        .arg("import")
        .arg(&later_v1)
        .args(["--allow-downgrade", "--reason", "v2 breaks the tokenizer"])
        .assert()
        .success()
        .stderr(predicate::str::contains("downgrade"));
    let log = g.iso_json(&["log", "--model", "acme/m"]);
    assert!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]
                .as_str()
                .unwrap()
                .contains("v2 breaks the tokenizer")),
        "{log}"
    );
    // Plain NAME is still the newest by the signed order, not the last imported.
    let newest = g.iso_json(&["show", "acme/m"]);
    assert_eq!(newest["version"], "v2");
}

/// Indefinite freeze: an expired bundle stays expired when the clock is
/// set back; a clock behind the mark is reported and logged; an expired
/// trust root stops imports.
#[test]
fn time_does_not_run_backwards() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    imports(&g, &g.bundle);
    let day = time::Duration::days(1);
    let fmt = airlock::clock::format;
    let now = airlock::clock::now();
    let stale = forge(
        &g,
        "stale.airlock",
        "exporter",
        |_| {},
        |i| {
            i["sequence"] = 2.into();
            i["bundle_id"] = "12".repeat(16).into();
            i["created"] = fmt(now - day * 30).into();
            i["expires"] = fmt(now - day * 15).into();
        },
    );
    let back = fmt(now - day * 40);
    refused_unchanged(
        &g,
        &stale,
        &["--now", &back],
        "the newest time this registry has seen",
    );
    let fresh = g.export_new("acme/n", 81, &["alice"], "exporter", "n.airlock");
    g.iso()
        .arg("import")
        .arg(&fresh)
        .args(["--now", &back])
        .assert()
        .success()
        .stderr(predicate::str::contains("behind this registry's time mark"));
    let log = g.iso_json(&["log"]);
    let events = log["events"].as_array().unwrap();
    assert!(events.iter().any(|e| e["command"] == "clock-behind"));
    let times: Vec<&str> = events.iter().map(|e| e["time"].as_str().unwrap()).collect();
    assert!(
        times.windows(2).all(|w| w[0] <= w[1]),
        "the log runs forwards: {times:?}"
    );
}

#[test]
fn an_expired_trust_root_stops_imports_until_a_newer_one_arrives() {
    let g = Gap::bare(&["alice"]);
    let origin = g.origin();
    let root1 = g.path("root-1.json");
    g.env
        .cmd()
        .args(["trust", "init", "--expires-in-days", "1"])
        .arg("--root-key")
        .arg(g.key("root1.pub"))
        .arg("--exporter")
        .arg(format!("{}={origin}", g.key("exporter.pub").display()))
        .arg("--approver")
        .arg(g.key("alice.pub"))
        .arg("--out")
        .arg(&root1)
        .assert()
        .success();
    g.iso()
        .args(["trust", "init", "--root"])
        .arg(&root1)
        .assert()
        .success();
    let later = airlock::clock::format(airlock::clock::now() + time::Duration::days(3));
    refused_unchanged(&g, &g.bundle, &["--now", &later], "possible freeze");
    imports(&g, &g.bundle);
}

/// Endless data and slow retrieval: caps and signature counts are checked
/// before any expensive work, and a FIFO volume does not hang the import.
#[test]
fn endless_data_and_bounded_work() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let mut ms = members(&g.bundle);
    let sig: serde_json::Value = serde_json::from_slice(&ms[1].1).unwrap();
    let one = sig["signatures"][0].clone();
    let many: Vec<serde_json::Value> = (0..300)
        .map(|i| {
            let mut s = one.clone();
            s["keyid"] = format!("{i:064x}").into();
            s
        })
        .collect();
    ms[1].1 = serde_json::to_vec(&serde_json::json!({
        "payloadType": sig["payloadType"], "signatures": many
    }))
    .unwrap();
    let noisy = g.path("noisy.airlock");
    write_tar(&noisy, &plain(&ms));
    let started = std::time::Instant::now();
    let before = g.state();
    let out = g.iso().arg("import").arg(&noisy).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("300 signatures, where this registry trusts 1 exporter key(s)"),
        "{stderr}"
    );
    assert!(
        stderr.len() < 1000,
        "the message does not echo the input: {stderr}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(g.state(), before);
    // A statement with more signatures than any policy could use.
    let crowded = forge(
        &g,
        "crowded.airlock",
        "exporter",
        |ms| {
            let st = crate::gap::statement_member(ms);
            let mut env: serde_json::Value = serde_json::from_slice(&st.1).unwrap();
            let s = env["signatures"][0].clone();
            env["signatures"] = serde_json::Value::Array(vec![s; 100]);
            st.1 = serde_json::to_vec(&env).unwrap();
        },
        |_| {},
    );
    refused_unchanged(&g, &crowded, &[], "more than the 64 a statement may carry");
    // A FIFO where the second volume should be: refused, not hung.
    let split = g.path("split.airlock");
    g.env
        .cmd()
        .args(["export", "acme/m", "--volume-size", "2500KiB", "--key"])
        .arg(g.key("exporter.key"))
        .arg("--out")
        .arg(&split)
        .assert()
        .success();
    let second = PathBuf::from(format!("{}.002", split.display()));
    fs::remove_file(&second).unwrap();
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&second)
            .status()
            .unwrap()
            .success()
    );
    let first = PathBuf::from(format!("{}.001", split.display()));
    g.iso()
        .arg("import")
        .arg(&first)
        .timeout(std::time::Duration::from_secs(30))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("not a regular file"));
    imports(&g, &g.bundle);
}

/// Extraneous dependencies: an exporter key alone cannot add a blob that no
/// version of the bundle needs.
#[test]
fn an_unapproved_extra_blob_is_refused_and_never_stored() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let extra = b"#!/bin/sh\necho owned\n".to_vec();
    let sha = crate::util::sha256_hex(&extra);
    let name = format!("blobs/{sha}");
    let n2 = name.clone();
    let e2 = extra.clone();
    let sneaky = forge(
        &g,
        "sneaky.airlock",
        "exporter",
        move |ms| ms.push((n2, e2)),
        move |i| {
            i["members"]
                .as_array_mut()
                .unwrap()
                .push(serde_json::json!({"name": name, "size": extra.len(), "sha256": sha}));
        },
    );
    refused_unchanged(
        &g,
        &sneaky,
        &[],
        "not a file or licence text of any version",
    );
    assert!(
        !g.iso
            .join("store/sha256")
            .join(&crate::util::sha256_hex(b"#!/bin/sh\necho owned\n")[..2])
            .exists()
    );
    imports(&g, &g.bundle);
}

/// Mix-and-match: trust root members that the signed index does not list.
#[test]
fn roots_the_index_does_not_list_are_refused() {
    let (g, _) = rooted();
    let mut ms = members(&g.bundle);
    ms.insert(
        0,
        (
            "roots/2.root.json".to_string(),
            br#"{"payload":"","payloadType":"x","signatures":[]}"#.to_vec(),
        ),
    );
    let mixed = g.path("mixed-roots.airlock");
    write_tar(&mixed, &plain(&ms));
    refused_unchanged(&g, &mixed, &[], "roots/2.root.json");
    imports(&g, &g.bundle);
}

/// Wrong software: a statement that names another version than the index.
#[test]
fn a_statement_for_other_content_is_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let wrong = forge(
        &g,
        "wrong.airlock",
        "exporter",
        |_| {},
        |i| i["versions"][0]["version"] = "v9".into(),
    );
    refused_unchanged(&g, &wrong, &[], "the statement is for acme/m@v1");
    imports(&g, &g.bundle);
}

/// A threshold of exporter keys: one signature is not enough when the root
/// asks for two.
#[test]
fn an_exporter_threshold_needs_distinct_exporter_keys() {
    let g = Gap::bare(&["alice"]);
    let origin = g.origin();
    let root1 = g.path("root-1.json");
    g.env
        .cmd()
        .args(["trust", "init"])
        .arg("--root-key")
        .arg(g.key("root1.pub"))
        .arg("--exporter")
        .arg(g.key("exporter.pub"))
        .arg("--exporter")
        .arg(g.key("exporter2.pub"))
        .args(["--origin", &origin])
        .arg("--approver")
        .arg(g.key("alice.pub"))
        .arg("--out")
        .arg(&root1)
        .assert()
        .success();
    let root2 = next_root(
        &g,
        "root-2.json",
        &["--exporter-threshold", "2"],
        &["root1"],
    );
    g.iso()
        .args(["trust", "init", "--root"])
        .arg(&root1)
        .assert()
        .success();
    g.iso()
        .args(["trust", "update"])
        .arg(&root2)
        .assert()
        .success();
    refused_unchanged(&g, &g.bundle, &[], "the trust root requires 2");
    // Both exporters sign the same index: accepted.
    let mut ms = members(&g.bundle);
    let index = ms[0].1.clone();
    let two = |who: &str| -> serde_json::Value {
        let s: serde_json::Value = serde_json::from_slice(&crate::gap::sign_index(
            &index,
            &g.key(&format!("{who}.key")),
        ))
        .unwrap();
        s["signatures"][0].clone()
    };
    ms[1].1 = serde_json::to_vec(&serde_json::json!({
        "payloadType": airlock::bundle::INDEX_PAYLOAD_TYPE,
        "signatures": [two("exporter"), two("exporter2")]
    }))
    .unwrap();
    let both = g.path("both.airlock");
    write_tar(&both, &plain(&ms));
    imports(&g, &both);
}

/// An exporter cannot speak for another registry's origin.
#[test]
fn a_second_exporter_cannot_claim_an_origin_it_does_not_hold() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    imports(&g, &g.bundle);
    g.iso()
        .args(["trust", "add", "--name", "exporter2", "--role", "exporter"])
        .arg(g.key("exporter2.pub"))
        .assert()
        .success();
    let claim = forge(
        &g,
        "claim.airlock",
        "exporter2",
        |_| {},
        |i| {
            i["sequence"] = (1u64 << 62).into();
            i["bundle_id"] = "9a".repeat(16).into();
        },
    );
    refused_unchanged(&g, &claim, &[], "belongs to exporter key");
    let genuine = g.export_new("acme/n", 91, &["alice"], "exporter", "n.airlock");
    imports(&g, &genuine);
}

/// Version revocations: signed, carried in the next bundle, and in force on
/// the isolated side: checkout, deploy and verify refuse, audit flags the
/// deployment, list and show mark it.
#[test]
fn a_version_revocation_travels_and_stops_use() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    imports(&g, &g.bundle);
    g.iso()
        .args(["deploy", "acme/m"])
        .arg(g.path("serving"))
        .assert()
        .success();
    g.env
        .cmd()
        .args([
            "revoke",
            "acme/m",
            "--reason",
            "backdoored tokenizer",
            "--key",
        ])
        .arg(g.key("alice.key"))
        .assert()
        .success();
    let next = g.export_new("acme/n", 101, &["alice"], "exporter", "n.airlock");
    imports(&g, &next);
    g.iso()
        .args(["checkout", "acme/m"])
        .arg(g.path("co"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("backdoored tokenizer"));
    g.iso()
        .args(["deploy", "acme/m"])
        .arg(g.path("co2"))
        .assert()
        .code(3);
    g.iso()
        .args(["verify", "acme/m"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("REVOKED"));
    let audit = g.iso().args(["--json", "audit"]).output().unwrap();
    assert_eq!(audit.status.code(), Some(3));
    let a: serde_json::Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(
        a["deployments"][0]["revoked"]["reason"],
        "backdoored tokenizer"
    );
    let list = g.iso_json(&["list"]);
    let m = list["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "acme/m")
        .unwrap();
    assert_eq!(m["revoked"], true);
    assert_eq!(g.iso_json(&["show", "acme/m"])["revoked"]["in_force"], true);
    // The other version is untouched.
    g.iso()
        .args(["checkout", "acme/n"])
        .arg(g.path("co3"))
        .assert()
        .success();
}

/// Smaller holes of the issue, one by one.
#[test]
fn a_different_bundle_under_an_accepted_id_is_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    imports(&g, &g.bundle);
    let id = members(&g.bundle)[0].1.clone();
    let idx: serde_json::Value = serde_json::from_slice(&id).unwrap();
    let same_id = forge(
        &g,
        "same-id.airlock",
        "exporter",
        |_| {},
        |i| i["expires"] = "2099-12-31T00:00:00Z".into(),
    );
    refused_unchanged(
        &g,
        &same_id,
        &[],
        &format!(
            "a different bundle claims id {}",
            idx["bundle_id"].as_str().unwrap()
        ),
    );
}

#[test]
fn approval_times_come_from_the_signed_statement_and_gaps_are_reported() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let lying = forge(
        &g,
        "lying.airlock",
        "exporter",
        |_| {},
        |i| {
            i["versions"][0]["approvals"][0]["signed_at"] = "1999-01-01T00:00:00Z".into();
            i["sequence"] = 5.into();
        },
    );
    g.iso().arg("import").arg(&lying).assert().success();
    let show = g.iso_json(&["show", "acme/m"]);
    let at = show["approvals"][0]["signed_at"].as_str().unwrap();
    assert_ne!(at, "1999-01-01T00:00:00Z");
    let src = g.env.json(&["show", "acme/m"]);
    assert_eq!(at, src["imported_at"].as_str().unwrap());
    let gap = g.export_new("acme/n", 111, &["alice"], "exporter", "n.airlock");
    // The connected side is at sequence 2; the isolated side saw 5: a rollback.
    refused_unchanged(&g, &gap, &[], "rollback");
    let skip = forge_from(
        &g,
        &gap,
        "skip.airlock",
        "exporter",
        |_| {},
        |i| {
            i["sequence"] = 9.into();
        },
    );
    g.iso()
        .arg("import")
        .arg(&skip)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "3 bundle(s) between them never arrived",
        ));
}

#[test]
fn two_versions_sharing_a_statement_or_a_label_are_refused_not_crashed() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let shared = forge(
        &g,
        "shared.airlock",
        "exporter",
        |_| {},
        |i| {
            let mut v = i["versions"][0].clone();
            v["version"] = "v2".into();
            i["versions"].as_array_mut().unwrap().push(v);
        },
    );
    refused_unchanged(&g, &shared, &[], "one statement is named by two versions");
    let twice = forge(
        &g,
        "twice.airlock",
        "exporter",
        |_| {},
        |i| {
            let v = i["versions"][0].clone();
            i["versions"].as_array_mut().unwrap().push(v);
        },
    );
    refused_unchanged(&g, &twice, &[], "acme/m@v1 is listed twice");
    imports(&g, &g.bundle);
}

#[test]
fn key_files_are_held_to_ssh_rules() {
    let env = crate::util::Env::new();
    let prefix = env.path("k/alice");
    // 0644 for the public half whatever the umask.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg("umask 077 && exec \"$0\" --home \"$1\" keys generate --name alice --out \"$2\"")
        .arg(assert_cmd::cargo::cargo_bin("airlock"))
        .arg(&env.home)
        .arg(&prefix)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    use std::os::unix::fs::PermissionsExt;
    let pubmode = fs::metadata(env.path("k/alice.pub"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(pubmode, 0o644);
    // A public key given as --key is named as such.
    let model = env.model("m", 3);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/m"])
        .assert()
        .success();
    env.cmd()
        .args(["sign", "acme/m", "--key"])
        .arg(env.path("k/alice.pub"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is a public key"));
    // A key file that belongs to another user is refused.
    let foreign = env.path("k/foreign.key");
    fs::copy(env.path("k/alice.key"), &foreign).unwrap();
    let me = std::process::Command::new("id").arg("-u").output().unwrap();
    let me = String::from_utf8_lossy(&me.stdout).trim().to_string();
    let target = if me == "0" {
        let chown = std::process::Command::new("chown")
            .arg("65534")
            .arg(&foreign)
            .status()
            .unwrap();
        assert!(chown.success(), "chown as root");
        foreign
    } else {
        // Not root: a root-owned file stands in for another user's key.
        PathBuf::from("/etc/hostname")
    };
    env.cmd()
        .args(["sign", "acme/m", "--key"])
        .arg(&target)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("belongs to another user"));
}

/// A registry made before the signed root: its trust store becomes root
/// version 1 (local) on first use, logged once.
#[test]
fn an_old_registry_migrates_its_trust_store() {
    let env = crate::util::Env::new();
    fs::create_dir_all(&env.home).unwrap();
    let db = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
    for sql in [
        include_str!("../../schema/0001_init.sql"),
        include_str!("../../schema/0002_trust.sql"),
        include_str!("../../schema/0003_safety.sql"),
        include_str!("../../schema/0004_audit.sql"),
    ] {
        db.execute_batch(sql).unwrap();
    }
    db.pragma_update(None, "user_version", 4).unwrap();
    db.execute(
        "INSERT INTO registry (key, value) VALUES ('name', 'old')",
        [],
    )
    .unwrap();
    let keys = env.path("keys");
    env.cmd()
        .args(["keys", "generate", "--name", "exp", "--out"])
        .arg(keys.join("exp"))
        .assert()
        .success();
    let public = airlock::signing::PublicKey::load(&keys.join("exp.pub")).unwrap();
    db.execute(
        "INSERT INTO trusted_keys (key_id, public_key, name, role, added_at, added_by)
         VALUES (?1, ?2, 'exp', 'exporter', '2026-01-01T00:00:00Z', 'ops@old')",
        rusqlite::params![public.id().to_hex(), public.raw().to_vec()],
    )
    .unwrap();
    drop(db);
    // Reading commands never upgrade a database: they say how, and leave
    // the file as it was.
    let before = fs::read(env.home.join("registry.db")).unwrap();
    env.cmd()
        .args(["trust", "status"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("airlock init"));
    assert_eq!(fs::read(env.home.join("registry.db")).unwrap(), before);
    env.cmd().arg("init").assert().success();
    let s = env.json(&["trust", "status"]);
    assert_eq!(s["version"], 1);
    assert_eq!(s["rooted"], false);
    assert_eq!(s["keys"][0]["role"], "exporter");
    assert_eq!(s["keys"][0]["source"], "local");
    let log = env.json(&["log"]);
    let migrated: Vec<_> = log["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"] == "trust-root")
        .collect();
    assert_eq!(migrated.len(), 1, "{log}");
    assert!(
        migrated[0]["details"]
            .as_str()
            .unwrap()
            .contains("migrated")
    );
    env.json(&["trust", "status"]);
    let log = env.json(&["log"]);
    assert_eq!(
        log["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["command"] == "trust-root")
            .count(),
        1,
        "logged once"
    );
}
