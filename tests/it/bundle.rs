//! Signed transfer: keys, approvals, export, and the isolated side's import
//! against every threat of the issue — each with real bytes and the real
//! binary, each refusal exit 3 with the isolated registry unchanged.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::gap::{Gap, forge, forge_from, members, plain, raw_header, statement_member, write_tar};

#[test]
fn a_signed_bundle_crosses_and_reimport_is_a_noop() {
    let g = Gap::new(&["alice", "bob"], &["alice", "bob"], 2);
    g.iso()
        .arg("import")
        .arg(&g.bundle)
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "imported acme/m@v1 with 2 trusted approval(s)",
        ));
    let show: serde_json::Value = serde_json::from_slice(
        &g.iso()
            .args(["--json", "show", "acme/m"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(show["origin"], "bundle");
    assert_eq!(show["owner"], "ops");
    assert_eq!(show["approvals_live"], 2);
    let names: Vec<_> = show["approvals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"alice") && names.contains(&"bob"),
        "{names:?}"
    );
    // Same manifest digest on both sides of the gap.
    let src: serde_json::Value = g.env.json(&["show", "acme/m"]);
    assert_eq!(show["manifest_digest"], src["manifest_digest"]);
    assert_eq!(show["files"], src["files"]);
    let blobs = g.iso_blobs();
    g.iso()
        .arg("import")
        .arg(&g.bundle)
        .assert()
        .success()
        .stdout(predicate::str::contains("already imported"));
    assert_eq!(g.iso_listed(), 1);
    assert_eq!(g.iso_blobs(), blobs);
    g.iso()
        .args(["verify", "--deep", "--all"])
        .assert()
        .success();
    let dest = g.path("serving");
    g.iso()
        .args(["checkout", "acme/m"])
        .arg(&dest)
        .assert()
        .success();
    // The bundle is a plain tar that standard tools list.
    let listing = std::process::Command::new("tar")
        .arg("tf")
        .arg(&g.bundle)
        .output()
        .unwrap();
    let text = String::from_utf8(listing.stdout).unwrap();
    assert!(
        text.starts_with("index.json\nindex.sig\nstatements/0.dsse.json\n"),
        "{text}"
    );
}

#[test]
fn unsigned_and_untrusted_bundles_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    // No signature at all.
    let mut ms = members(&g.bundle);
    ms[1].1 = br#"{"payloadType":"application/vnd.airlock.bundle-index.v1+json","signatures":[]}"#
        .to_vec();
    let unsigned = g.path("unsigned.airlock");
    write_tar(&unsigned, &plain(&ms));
    g.refused(&unsigned, "not signed by any trusted exporter key");
    // Signed by a key the isolated side does not trust as exporter (bob).
    let by_bob = forge(&g, "bob.airlock", "bob", |_| {}, |_| {});
    g.refused(&by_bob, "not signed by any trusted exporter key");
    // Signed by an approver key: the role does not allow exporting.
    let by_alice = forge(&g, "alice.airlock", "alice", |_| {}, |_| {});
    g.refused(&by_alice, "not signed by any trusted exporter key");
}

#[test]
fn an_untrusted_approver_does_not_count() {
    let g = Gap::new(&["carol"], &["alice"], 1);
    g.refused(&g.bundle, "0 valid approval(s)");
}

#[test]
fn threshold_not_met() {
    let g = Gap::new(&["alice"], &["alice", "bob"], 2);
    g.refused(
        &g.bundle,
        "1 valid approval(s) by distinct trusted approver keys, the policy requires 2",
    );
}

#[test]
fn the_same_signature_twice_or_under_two_ids_counts_once() {
    let g = Gap::new(&["alice"], &["alice", "bob"], 2);
    let dup = forge(
        &g,
        "dup.airlock",
        "exporter",
        |ms| {
            let st = statement_member(ms);
            let mut env: serde_json::Value = serde_json::from_slice(&st.1).unwrap();
            let sig = env["signatures"][0].clone();
            let mut other = sig.clone();
            // Claim bob's key id for alice's signature.
            other["keyid"] = "76".repeat(32).into();
            env["signatures"] = serde_json::json!([sig.clone(), sig, other]);
            st.1 = serde_json::to_vec(&env).unwrap();
        },
        |_| {},
    );
    g.refused(&dup, "1 valid approval(s)");
}

#[test]
fn one_flipped_byte_in_a_blob_is_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let mut bytes = fs::read(&g.bundle).unwrap();
    // The last blob's data sits just before the two zero end blocks and padding.
    let ms = members(&g.bundle);
    let (last_name, last) = ms.last().unwrap();
    let pos = bytes.windows(64).rposition(|w| w == &last[..64]).unwrap() + 10;
    bytes[pos] ^= 0x01;
    let bad = g.path("flipped.airlock");
    fs::write(&bad, bytes).unwrap();
    g.refused(&bad, last_name);
    g.refused(&bad, "digest mismatch");
}

#[test]
fn mixed_index_and_members_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    // A second bundle of other content from the same exporter.
    let other = g.env.model("other", 41);
    g.env
        .cmd()
        .arg("import")
        .arg(&other)
        .args(["--name", "acme/other"])
        .assert()
        .success();
    let b2 = g.path("other.airlock");
    g.env.sign_and_export(
        "acme/other",
        &[g.keys.join("alice.key")],
        &g.keys.join("exporter.key"),
        &b2,
    );
    let a = members(&g.bundle);
    let b = members(&b2);
    let mut mixed = vec![a[0].clone(), a[1].clone()];
    mixed.extend(b[2..].iter().cloned());
    let p = g.path("mixed.airlock");
    write_tar(&p, &plain(&mixed));
    g.refused(&p, "statements/0.dsse.json");
}

#[test]
fn rollback_and_replayed_sequence_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let newer = g.path("newer.airlock");
    g.env
        .cmd()
        .args(["export", "acme/m", "--key"])
        .arg(g.keys.join("exporter.key"))
        .arg("--out")
        .arg(&newer)
        .assert()
        .success();
    g.iso().arg("import").arg(&newer).assert().success();
    // The older bundle (sequence 1) after sequence 2: a rollback.
    g.iso()
        .arg("import")
        .arg(&g.bundle)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("rollback: sequence 1"));
}

#[test]
fn expired_bundles_are_refused_by_clock_and_by_history() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let past = forge(
        &g,
        "past.airlock",
        "exporter",
        |_| {},
        |i| {
            i["created"] = "2020-01-01T00:00:00Z".into();
            i["expires"] = "2020-01-31T00:00:00Z".into();
        },
    );
    g.refused(&past, "expired at 2020-01-31T00:00:00Z");
    // Accept a current bundle, then one with a higher sequence that expired
    // before the accepted one was created: the isolated clock is not needed.
    g.iso().arg("import").arg(&g.bundle).assert().success();
    let stale = forge(
        &g,
        "stale.airlock",
        "exporter",
        |_| {},
        |i| {
            i["sequence"] = 99.into();
            i["bundle_id"] = "ab".repeat(16).into();
            i["created"] = "2026-01-01T00:00:00Z".into();
            i["expires"] = "2026-02-01T00:00:00Z".into();
        },
    );
    g.iso().arg("import").arg(&stale).assert().code(3).stderr(
        predicate::str::contains("expired")
            .and(predicate::str::contains("newest bundle already accepted")),
    );
}

#[test]
fn revoked_keys_stop_counting_everywhere() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    g.iso().arg("import").arg(&g.bundle).assert().success();
    let alice = airlock::signing::PublicKey::load(&g.keys.join("alice.pub"))
        .unwrap()
        .id()
        .to_hex();
    g.iso()
        .args(["trust", "revoke", &alice[..12], "--reason", "laptop lost"])
        .assert()
        .success();
    g.iso()
        .args(["verify", "acme/m"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("APPROVALS").and(predicate::str::contains("revoked")));
    g.iso()
        .args(["checkout", "acme/m"])
        .arg(g.path("co"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains(
            "0 live approval(s), the policy requires 1",
        ));
    assert!(!g.path("co").exists());
    // The library's checkout applies the same rule: any caller, not only the
    // command, is refused (issue 9: policy lives in the library).
    let reg = airlock::registry::Registry::open_existing(&g.iso).unwrap();
    let v = reg.resolve(&"acme/m".parse().unwrap()).unwrap();
    let opts = airlock::checkout::CheckoutOptions {
        link: false,
        layout: airlock::checkout::CheckoutLayout::Plain,
        force: false,
        allow_unsafe: None,
    };
    let err = airlock::checkout::checkout(
        &reg,
        &v,
        &g.path("lib-co"),
        opts,
        &airlock::progress::NoProgress,
    )
    .unwrap_err();
    assert!(matches!(err, airlock::Error::NotApproved { .. }), "{err}");
    assert!(!g.path("lib-co").exists());
    drop(reg);
    // Re-trusting a revoked key is refused.
    g.iso()
        .args(["trust", "add", "--name", "alice"])
        .arg(g.keys.join("alice.pub"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("revoked"));
    // A revoked exporter cannot bring anything in.
    let exp = airlock::signing::PublicKey::load(&g.keys.join("exporter.pub"))
        .unwrap()
        .id()
        .to_hex();
    g.iso().args(["trust", "revoke", &exp]).assert().success();
    let newer = g.path("newer.airlock");
    g.env
        .cmd()
        .args(["export", "acme/m", "--key"])
        .arg(g.keys.join("exporter.key"))
        .arg("--out")
        .arg(&newer)
        .assert()
        .success();
    g.refused(&newer, "revoked");
}

/// A change to a bundle's tar entries.
type Edit<'a> = dyn Fn(&mut Vec<(tar::Header, Vec<u8>)>) + 'a;

#[test]
fn hostile_members_are_refused_by_name() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let ms = members(&g.bundle);
    let blob = ms
        .iter()
        .position(|(n, _)| n.starts_with("blobs/"))
        .unwrap();
    let name = ms[blob].0.clone();
    let cases: Vec<(&str, Box<Edit<'_>>, &str)> = vec![
        (
            "dotdot",
            Box::new(|e| e[blob].0 = raw_header(b"../../etc/passwd", e[blob].1.len() as u64, b'0')),
            "path traversal",
        ),
        (
            "absolute",
            Box::new(|e| e[blob].0 = raw_header(b"/etc/passwd", e[blob].1.len() as u64, b'0')),
            "absolute member name",
        ),
        (
            "symlink",
            Box::new(|e| {
                e[blob] = (raw_header(name.as_bytes(), 0, b'2'), Vec::new());
            }),
            "symbolic link",
        ),
        (
            "hardlink",
            Box::new(|e| {
                e[blob] = (raw_header(name.as_bytes(), 0, b'1'), Vec::new());
            }),
            "hard link",
        ),
        (
            "device",
            Box::new(|e| {
                e[blob] = (raw_header(name.as_bytes(), 0, b'3'), Vec::new());
            }),
            "a device",
        ),
        (
            "fifo",
            Box::new(|e| {
                e[blob] = (raw_header(name.as_bytes(), 0, b'6'), Vec::new());
            }),
            "a FIFO",
        ),
        (
            "sparse",
            Box::new(|e| e[blob].0 = raw_header(name.as_bytes(), e[blob].1.len() as u64, b'S')),
            "GNU sparse",
        ),
        (
            "duplicate",
            Box::new(|e| {
                let d = e[blob].clone();
                e.insert(blob + 1, d);
            }),
            "duplicate",
        ),
        (
            "unlisted",
            Box::new(|e| {
                let n = e.len();
                e.insert(n, (raw_header(b"blobs/extra", 3, b'0'), b"abc".to_vec()));
            }),
            "blobs/extra",
        ),
        (
            "pax-size",
            Box::new(|e| {
                let rec = b"30 size=99999999999999999999\n".to_vec();
                e.insert(
                    blob,
                    (raw_header(b"PaxHeaders/x", rec.len() as u64, b'x'), rec),
                );
            }),
            "PAX extended header",
        ),
        (
            "larger-than-declared",
            Box::new(|e| {
                e[blob].1.extend_from_slice(&[0u8; 4096]);
                let n = e[blob].1.len() as u64;
                e[blob].0 = raw_header(name.as_bytes(), n, b'0');
            }),
            "the signed index says",
        ),
    ];
    for (label, edit, needle) in cases {
        let mut entries = plain(&ms);
        edit(&mut entries);
        let p = g.path(&format!("{label}.airlock"));
        write_tar(&p, &entries);
        let before = g.iso_blobs();
        g.iso()
            .arg("import")
            .arg(&p)
            .assert()
            .code(3)
            .stderr(predicate::str::contains(needle).and(predicate::str::contains("member")));
        assert_eq!(g.iso_listed(), 0, "{label}");
        assert_eq!(g.iso_blobs(), before, "{label}: no blob kept");
    }
    assert_eq!(g.iso_blobs(), 0);
}

#[test]
fn truncated_bundles_and_oversized_indexes_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let bytes = fs::read(&g.bundle).unwrap();
    let cut = g.path("cut.airlock");
    fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    g.refused(&cut, "member `blobs/");
    // An index member that declares more than the cap: refused before reading.
    let huge = g.path("huge.airlock");
    write_tar(
        &huge,
        &[(raw_header(b"index.json", 17 << 20, b'0'), Vec::new())],
    );
    g.refused(&huge, "cap");
    // Not a tar at all.
    let junk = g.path("junk.airlock");
    fs::write(&junk, vec![0x42u8; 5000]).unwrap();
    g.refused(&junk, "index.json");
}

/// An isolated home that trusts the exporter and alice (one approval).
fn fresh_iso(g: &Gap, name: &str) -> PathBuf {
    let home = g.path(name);
    g.env
        .cmd_at(&home)
        .args(["init", "--name", name])
        .assert()
        .success();
    let run = |args: &[&str], key: &str| {
        g.env
            .cmd_at(&home)
            .args(args)
            .arg(g.keys.join(key))
            .assert()
            .success();
    };
    run(
        &["trust", "add", "--name", "exporter", "--role", "exporter"],
        "exporter.pub",
    );
    run(&["trust", "add", "--name", "alice"], "alice.pub");
    home
}

/// Export `acme/m` in volumes of 2500 KiB (its two 3 MiB shards are each
/// larger than a volume) to `out`, with `more` arguments; the JSON answer.
fn export_volumes(g: &Gap, out: &Path, more: &[&str]) -> serde_json::Value {
    fs::create_dir_all(out.parent().unwrap()).unwrap();
    let o = g
        .env
        .cmd()
        .args([
            "--json",
            "export",
            "acme/m",
            "--volume-size",
            "2500KiB",
            "--key",
        ])
        .arg(g.keys.join("exporter.key"))
        .arg("--out")
        .arg(out)
        .args(more)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

fn volume(out: &Path, n: u32) -> PathBuf {
    PathBuf::from(format!("{}.{n:03}", out.display()))
}

/// Volume `n` of `out`, alone in a folder of its own under `dir` (so no
/// other volume of the set lies beside it).
fn alone(g: &Gap, out: &Path, n: u32, dir: &str) -> PathBuf {
    let d = g.path(dir).join(format!("disc-{n}"));
    fs::create_dir_all(&d).unwrap();
    let to = d.join(volume(out, n).file_name().unwrap());
    fs::copy(volume(out, n), &to).unwrap();
    to
}

/// Self-verifying volumes: each is a signed bundle of its own, so they
/// import in any order, one at a time, keeping what each proved; the set's
/// version is visible only once the last has arrived; blobs larger than a
/// volume travel as signed parts.
#[test]
fn volumes_import_in_any_order() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let out = g.path("set/vol.airlock");
    let done = export_volumes(&g, &out, &[]);
    assert_eq!(done["volume_count"], 3, "{done}");
    assert!(done["split_blobs"].as_u64().unwrap() >= 1, "{done}");
    for n in 1..=3 {
        let len = fs::metadata(volume(&out, n)).unwrap().len();
        assert!(len <= 2500 * 1024, "volume {n}: {len} bytes");
    }
    assert!(!volume(&out, 4).exists());
    for order in [[3, 1, 2], [2, 3, 1]] {
        let tag = format!("order-{}{}{}", order[0], order[1], order[2]);
        let home = fresh_iso(&g, &tag);
        for (i, n) in order.iter().enumerate() {
            let v = alone(&g, &out, *n, &tag);
            let r = g.env.json_at(&home, &["import", v.to_str().unwrap()]);
            let last = i == 2;
            assert_eq!(r["complete"], last, "{tag} volume {n}: {r}");
            let mut missing: Vec<u32> = order[i + 1..].to_vec();
            missing.sort();
            if !last {
                assert_eq!(r["missing_volumes"], serde_json::json!(missing), "{r}");
                let listed = g.env.json_at(&home, &["list"]);
                assert_eq!(
                    listed["versions"].as_array().unwrap().len(),
                    0,
                    "nothing visible yet"
                );
                // What arrived is kept: gc leaves it for the set, and
                // fsck names the set and the volumes it waits for.
                g.env.cmd_at(&home).arg("gc").assert().success();
                let f = g.env.json_at(&home, &["fsck"]);
                assert_eq!(
                    f["incomplete_sets"][0]["missing"],
                    serde_json::json!(missing),
                    "{f}"
                );
                assert_eq!(f["unreferenced_blobs"], 0, "{f}");
            }
        }
        let listed = g.env.json_at(&home, &["list"]);
        assert_eq!(listed["versions"][0]["name"], "acme/m", "{tag}: {listed}");
        g.env
            .cmd_at(&home)
            .args(["verify", "--deep", "--all"])
            .assert()
            .success();
        g.env
            .cmd_at(&home)
            .args(["log", "--verify"])
            .assert()
            .success();
        let f = g.env.json_at(&home, &["fsck"]);
        assert_eq!(f["incomplete_sets"], serde_json::json!([]), "{f}");
        assert_eq!(f["unreferenced_blobs"], 0, "the parts are gone: {f}");
        // Again: nothing changes.
        let again = g
            .env
            .json_at(&home, &["import", volume(&out, 1).to_str().unwrap()]);
        assert_eq!(again["already_imported"], true, "{again}");
    }
}

/// A damaged volume costs only itself: the others import and are kept, the
/// damaged one is refused naming it (exit 3), and `export --volumes N`
/// writes just that one again, under the same set, which completes it.
/// A volume of another export beside the set is refused (exit 3).
#[test]
fn a_damaged_volume_is_written_again_alone_and_a_foreign_one_is_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let out = g.path("set/vol.airlock");
    let first = export_volumes(&g, &out, &[]);
    // One byte in the middle of volume 2 (inside blob data).
    let v2 = volume(&out, 2);
    let mid = fs::metadata(&v2).unwrap().len() / 2;
    crate::util::flip_byte(&v2, mid);
    let home = fresh_iso(&g, "iso-damaged");
    let o = g
        .env
        .cmd_at(&home)
        .arg("import")
        .arg(volume(&out, 1))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("volume 2") && err.contains("--volumes 2"),
        "{err}"
    );
    assert_eq!(
        g.env.json_at(&home, &["list"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    // Volumes 1 and 3 were kept: importing 1 again changes nothing and
    // names 2 as the one missing.
    let v1 = alone(&g, &out, 1, "again-1");
    let r = g.env.json_at(&home, &["import", v1.to_str().unwrap()]);
    assert_eq!(r["missing_volumes"], serde_json::json!([2]), "{r}");
    // Only volume 2, written again: same set, same sequence.
    let redo = g.path("redo/vol.airlock");
    g.env
        .cmd()
        .args([
            "export",
            "acme/m",
            "--volume-size",
            "2500KiB",
            "--volumes",
            "9",
            "--key",
        ])
        .arg(g.keys.join("exporter.key"))
        .arg("--out")
        .arg(&redo)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("volumes 1 to 3"));
    let again = export_volumes(&g, &redo, &["--volumes", "2"]);
    assert_eq!(again["bundle_id"], first["bundle_id"]);
    assert_eq!(again["sequence"], first["sequence"]);
    assert!(volume(&redo, 2).exists() && !volume(&redo, 1).exists() && !volume(&redo, 3).exists());
    let r = g
        .env
        .json_at(&home, &["import", volume(&redo, 2).to_str().unwrap()]);
    assert_eq!(r["complete"], true, "{r}");
    assert_eq!(
        g.env.json_at(&home, &["list"])["versions"][0]["name"],
        "acme/m"
    );
    g.env
        .cmd_at(&home)
        .args(["verify", "--deep", "--all"])
        .assert()
        .success();

    // A volume of another export where this set's volume 2 should be.
    let other = g.path("other/vol.airlock");
    export_volumes(&g, &other, &[]);
    let mix = g.path("mix");
    fs::create_dir_all(&mix).unwrap();
    fs::copy(volume(&out, 1), mix.join("vol.airlock.001")).unwrap();
    fs::copy(volume(&other, 2), mix.join("vol.airlock.002")).unwrap();
    fs::copy(volume(&out, 3), mix.join("vol.airlock.003")).unwrap();
    let home2 = fresh_iso(&g, "iso-mixed");
    g.env
        .cmd_at(&home2)
        .arg("import")
        .arg(mix.join("vol.airlock.001"))
        .assert()
        .code(3)
        .stderr(predicate::str::contains("another export"));
    assert_eq!(
        g.env.json_at(&home2, &["list"])["versions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

#[test]
fn a_corrupted_store_cannot_be_exported() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let show = g.env.json(&["show", "acme/m"]);
    let sha = show["files"][3]["sha256"].as_str().unwrap().to_string();
    crate::util::flip_byte(&g.env.blob_path(&sha), 7);
    let out = g.path("bad.airlock");
    g.env
        .cmd()
        .args(["export", "acme/m", "--key"])
        .arg(g.keys.join("exporter.key"))
        .arg("--out")
        .arg(&out)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(&sha));
    assert!(!out.exists());
    let leftovers: Vec<_> = fs::read_dir(g.env.tmp.path())
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".airlock-export")
        })
        .collect();
    assert!(leftovers.is_empty());
}

#[test]
fn private_keys_readable_by_others_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    use std::os::unix::fs::PermissionsExt;
    let key = g.keys.join("bob.key");
    assert_eq!(
        fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    fs::set_permissions(&key, fs::Permissions::from_mode(0o640)).unwrap();
    g.env
        .cmd()
        .args(["sign", "acme/m", "--key"])
        .arg(&key)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("readable by group or others"));
}

#[test]
fn an_interrupted_bundle_import_leaves_nothing_and_the_rerun_succeeds() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    // A large second model so the import is still running when killed.
    let big = g.path("big");
    crate::util::big_files(&big, 4, 160, 2246822519);
    g.env
        .cmd()
        .arg("import")
        .arg(&big)
        .args(["--name", "acme/big"])
        .assert()
        .success();
    let b = g.path("big.airlock");
    g.env.sign_and_export(
        "acme/big",
        &[g.keys.join("alice.key")],
        &g.keys.join("exporter.key"),
        &b,
    );
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("airlock"))
        .arg("--home")
        .arg(&g.iso)
        .args(["--no-progress", "import"])
        .arg(&b)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    crate::util::kill_while_writing(&mut child, &g.iso.join("store/tmp"));
    assert_eq!(g.iso_listed(), 0);
    g.iso().arg("fsck").assert().success();
    g.iso().arg("import").arg(&b).assert().success();
    assert_eq!(g.iso_listed(), 1);
    g.iso()
        .args(["verify", "--deep", "--all"])
        .assert()
        .success();
}

/// `acme/many` (7,200 small files in 8 folders) imported, approved by
/// alice and exported: a bundle whose member list is a member of its own.
fn many_file_bundle(g: &Gap) -> PathBuf {
    let many = g.env.path("many");
    for d in 0..8 {
        let sub = many.join(format!("shard-{d}"));
        fs::create_dir_all(&sub).unwrap();
        for i in 0..900 {
            fs::write(sub.join(format!("part-{i:04}.txt")), format!("{d}/{i}\n")).unwrap();
        }
    }
    g.env
        .cmd()
        .arg("import")
        .arg(&many)
        .args(["--name", "acme/many"])
        .assert()
        .success();
    let out = g.env.path("many.airlock");
    g.env.sign_and_export(
        "acme/many",
        &[g.keys.join("alice.key")],
        &g.keys.join("exporter.key"),
        &out,
    );
    out
}

/// A model of thousands of files: its member list goes in a member of its
/// own (`members.json`), described by the signed index, and the bundle
/// crosses whole; a list that differs from what the index signs is refused.
#[test]
fn a_bundle_of_many_members_lists_them_in_a_member_of_its_own() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let out = many_file_bundle(&g);
    let ms = members(&out);
    let names: Vec<&str> = ms.iter().map(|(n, _)| n.as_str()).take(3).collect();
    assert_eq!(names, ["index.json", "index.sig", "members.json"]);
    let index: serde_json::Value = serde_json::from_slice(&ms[0].1).unwrap();
    assert_eq!(index["members"].as_array().unwrap().len(), 0);
    assert_eq!(
        index["member_list"]["count"], 7201,
        "7,200 files and a statement"
    );
    // A list altered after signing is refused, the registry unchanged.
    let mut bad = ms.clone();
    let list = &mut bad[2].1;
    let at = list.len() / 2;
    list[at] = if list[at] == b'0' { b'1' } else { b'0' };
    let forged = g.env.path("forged.airlock");
    write_tar(&forged, &plain(&bad));
    g.iso()
        .arg("import")
        .arg(&forged)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("members.json"));
    assert_eq!(g.iso_listed(), 0);
    g.iso().arg("import").arg(&out).assert().success();
    g.iso()
        .args(["verify", "--deep", "acme/many"])
        .assert()
        .success();
    let show = g.iso_json(&["show", "acme/many"]);
    assert_eq!(show["files"].as_array().unwrap().len(), 7200);
}

/// A member list the exporter did sign, but whose members break the rules
/// — a blob listed twice, a name outside the allowed shapes, more members
/// than the signed count — is refused naming what is wrong, as the list is
/// read (it is checked member by member, never held whole), the registry
/// unchanged.
#[test]
fn a_signed_member_list_with_a_bad_member_is_refused_naming_it() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let out = many_file_bundle(&g);
    let ms = members(&out);
    assert_eq!(ms[2].0, "members.json");
    // Re-sign a bundle whose list is edited by `edit`; `count_delta` makes
    // the signed count differ from the list's length.
    let resigned = |name: &str, edit: &dyn Fn(&mut Vec<serde_json::Value>), count_delta: i64| {
        let mut ms = ms.clone();
        let mut list: Vec<serde_json::Value> = serde_json::from_slice(&ms[2].1).unwrap();
        edit(&mut list);
        let bytes = serde_json::to_vec(&list).unwrap();
        let mut index: serde_json::Value = serde_json::from_slice(&ms[0].1).unwrap();
        index["member_list"]["size"] = bytes.len().into();
        index["member_list"]["sha256"] = crate::util::sha256_hex(&bytes).into();
        index["member_list"]["count"] = (list.len() as i64 + count_delta).into();
        ms[0].1 = serde_json::to_vec_pretty(&index).unwrap();
        ms[1].1 = crate::gap::sign_index(&ms[0].1, &g.keys.join("exporter.key"));
        ms[2].1 = bytes;
        let p = g.env.path(name);
        write_tar(&p, &plain(&ms));
        p
    };
    let twice = resigned(
        "twice.airlock",
        &|l| {
            let last = l.last().unwrap().clone();
            l.push(last);
        },
        0,
    );
    let dup = {
        let list: Vec<serde_json::Value> = serde_json::from_slice(&ms[2].1).unwrap();
        list.last().unwrap()["name"].as_str().unwrap().to_string()
    };
    assert!(dup.starts_with("blobs/"), "{dup}");
    g.iso()
        .arg("import")
        .arg(&twice)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(dup.as_str()))
        .stderr(predicate::str::contains("listed twice"));
    let outside = resigned(
        "outside.airlock",
        &|l| l[5]["name"] = "../../etc/passwd".into(),
        0,
    );
    g.iso()
        .arg("import")
        .arg(&outside)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("../../etc/passwd"))
        .stderr(predicate::str::contains("not an allowed member name"));
    let more = resigned("more.airlock", &|_| {}, -1);
    g.iso()
        .arg("import")
        .arg(&more)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("members.json"))
        .stderr(predicate::str::contains("more members than"));
    assert_eq!(g.iso_listed(), 0);
    assert!(!g.env.path("etc").exists());
    g.iso().arg("import").arg(&out).assert().success();
    assert_eq!(g.iso_listed(), 1);
}

/// Hostile volumes, each re-signed by the trusted exporter key: a split
/// list whose parts do not add up, a part member the split list does not
/// list as it is, a split list outside a set, an impossible volume number,
/// and parts that each match the list but join to other bytes than the
/// signed blob — all refused (exit 3), nothing visible, nothing kept.
#[test]
fn hostile_volumes_are_refused() {
    let g = Gap::new(&["alice"], &["alice"], 1);
    let out = g.path("set/vol.airlock");
    export_volumes(&g, &out, &[]);
    let v1 = volume(&out, 1);
    let first_part = |ms: &mut Vec<(String, Vec<u8>)>| -> usize {
        ms.iter()
            .position(|(n, _)| n.starts_with("parts/"))
            .unwrap()
    };
    let bad_sum = forge_from(
        &g,
        &v1,
        "sum.airlock",
        "exporter",
        |_| {},
        |i| {
            let s = i["split"][0]["parts"][0]["size"].as_u64().unwrap();
            i["split"][0]["parts"][0]["size"] = (s + 1).into();
        },
    );
    g.refused(&bad_sum, "add up");
    let unlisted = forge_from(
        &g,
        &v1,
        "unlisted.airlock",
        "exporter",
        |ms| {
            let k = first_part(ms);
            ms[k].1[100] ^= 1;
        },
        |_| {},
    );
    g.refused(&unlisted, "no split blob of the signed index lists");
    let outside = forge_from(
        &g,
        &v1,
        "outside.airlock",
        "exporter",
        |_| {},
        |i| {
            i.as_object_mut().unwrap().remove("volume");
        },
    );
    g.refused(&outside, "not a volume of a set");
    let number = forge_from(
        &g,
        &v1,
        "number.airlock",
        "exporter",
        |_| {},
        |i| {
            i["volume"]["number"] = 7.into();
        },
    );
    g.refused(&number, "not a volume of a set");
    // Genuine volumes 2 and 3 arrive first and are kept; then a volume 1
    // whose first part (and its listed digest) was changed: the part
    // matches its list, the joined blob does not match its signed sha256.
    for n in [2, 3] {
        let v = alone(&g, &out, n, "hostile");
        g.iso().arg("import").arg(&v).assert().success();
    }
    let changed = std::cell::RefCell::new(String::new());
    let joined = forge_from(
        &g,
        &v1,
        "joined.airlock",
        "exporter",
        |ms| {
            let k = first_part(ms);
            ms[k].1[100] ^= 1;
            *changed.borrow_mut() = crate::util::sha256_hex(&ms[k].1);
        },
        |i| {
            i["split"][0]["parts"][0]["sha256"] = changed.borrow().clone().into();
        },
    );
    g.refused(&joined, "split blob");
    assert_eq!(g.iso_listed(), 0);
}
