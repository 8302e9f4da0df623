//! `verify` of the store (quick and deep), `verify --path`, `fsck`, `gc`.

use std::fs;

use predicates::prelude::*;

use crate::util::{Env, flip_byte};

fn imported(env: &Env, seed: u64) -> (std::path::PathBuf, serde_json::Value) {
    let model = env.model("m", seed);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/v"])
        .assert()
        .success();
    (model, env.json(&["show", "acme/v"]))
}

fn shard(show: &serde_json::Value) -> (String, String) {
    let f = show["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["format"] == "safetensors")
        .unwrap();
    (
        f["path"].as_str().unwrap().into(),
        f["sha256"].as_str().unwrap().into(),
    )
}

#[test]
fn deep_verify_names_a_flipped_byte() {
    let env = Env::new();
    let (_, show) = imported(&env, 20);
    env.cmd()
        .args(["verify", "--deep", "--all"])
        .assert()
        .success();
    let (path, sha) = shard(&show);
    flip_byte(&env.blob_path(&sha), 4096);
    env.cmd()
        .args(["verify", "--deep", "acme/v"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(&path).and(predicate::str::contains(&sha)));
    // Quick mode notices the changed stat and re-hashes too.
    env.cmd()
        .args(["verify", "acme/v"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains(&path));
    let v = serde_json::from_slice::<serde_json::Value>(
        &env.cmd()
            .args(["--json", "verify", "--all"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(v["findings"][0]["path"], path.as_str());
    assert_eq!(v["findings"][0]["kind"], "modified");
}

#[test]
fn quick_verify_trusts_unchanged_blobs_and_deep_rehashes() {
    let env = Env::new();
    imported(&env, 21);
    let quick = env.json(&["verify", "--all"]);
    assert_eq!(quick["hashed_blobs"], 0);
    assert_eq!(quick["trusted_blobs"], 7);
    let deep = env.json(&["verify", "--all", "--deep"]);
    assert_eq!(deep["hashed_blobs"], 7);
    assert_eq!(deep["trusted_blobs"], 0);
}

#[test]
fn a_missing_blob_is_a_finding_for_verify_and_fsck() {
    let env = Env::new();
    let (_, show) = imported(&env, 22);
    let (path, sha) = shard(&show);
    fs::remove_file(env.blob_path(&sha)).unwrap();
    env.cmd()
        .args(["verify", "--all"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("MISSING").and(predicate::str::contains(&path)));
    env.cmd()
        .arg("fsck")
        .assert()
        .code(3)
        .stdout(predicate::str::contains(&sha));
}

#[test]
fn verify_path_reports_modified_missing_and_extra() {
    let env = Env::new();
    let (model, _) = imported(&env, 23);
    env.cmd()
        .args(["verify", "acme/v", "--path"])
        .arg(&model)
        .assert()
        .success();
    flip_byte(&model.join("model-00002-of-00002.safetensors"), 10);
    fs::remove_file(model.join("tokenizer.json")).unwrap();
    fs::write(model.join("notes.txt"), "added later").unwrap();
    let out = env
        .cmd()
        .args(["verify", "acme/v", "--path"])
        .arg(&model)
        .assert()
        .code(3);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    assert!(
        stdout.contains("MODIFIED") && stdout.contains("model-00002-of-00002.safetensors"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MISSING") && stdout.contains("tokenizer.json"),
        "{stdout}"
    );
    assert!(
        stdout.contains("EXTRA") && stdout.contains("notes.txt"),
        "{stdout}"
    );
    let v = serde_json::from_slice::<serde_json::Value>(
        &env.cmd()
            .args(["--json", "verify", "acme/v", "--path"])
            .arg(&model)
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let kinds: Vec<_> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds.len(), 3);
    for k in ["modified", "missing", "extra"] {
        assert!(kinds.contains(&k), "{kinds:?}");
    }
}

#[test]
fn gc_removes_only_unreferenced_blobs() {
    let env = Env::new();
    imported(&env, 24);
    let before = env.blob_count();
    // An orphan blob, as an interrupted run would leave.
    let orphan = b"orphan bytes";
    let sha = crate::util::sha256_hex(orphan);
    let p = env.blob_path(&sha);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(&p, orphan).unwrap();
    env.cmd()
        .arg("fsck")
        .assert()
        .success()
        .stderr(predicate::str::contains("1 unreferenced blob"));
    let dry = env.json(&["gc", "--dry-run"]);
    assert_eq!(dry["removed_blobs"], 1);
    assert!(p.exists());
    let done = env.json(&["gc"]);
    assert_eq!(done["blobs"][0], sha.as_str());
    assert!(!p.exists());
    assert_eq!(env.blob_count(), before);
    env.cmd()
        .args(["verify", "--all", "--deep"])
        .assert()
        .success();
}

#[test]
fn a_stray_file_in_the_store_is_an_fsck_finding() {
    let env = Env::new();
    imported(&env, 25);
    let stray = env.home.join("store/sha256/ab/not-a-digest");
    fs::create_dir_all(stray.parent().unwrap()).unwrap();
    fs::write(&stray, "x").unwrap();
    env.cmd()
        .arg("fsck")
        .assert()
        .code(3)
        .stdout(predicate::str::contains("not-a-digest"));
}
