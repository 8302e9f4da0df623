//! Hugging Face download layouts: cache repo, snapshot, local-dir, tree
//! listings — each imported, and each upstream mismatch refused with exit 3
//! and nothing left behind.

use std::fs;

use predicates::prelude::*;

use crate::util::{Env, REV, hf_files, make_hf_cache, make_local_dir, sha256_hex, tree_json};

fn assert_nothing_visible(env: &Env) {
    assert!(env.listed().is_empty(), "no version is visible");
    assert_eq!(env.blob_count(), 0, "no blob of the refused import is left");
    if env.home.join("registry.db").exists() {
        env.cmd().arg("fsck").assert().success();
    }
}

fn check_imported(env: &Env, name: &str, layout: &str) {
    let show = env.json(&["show", name]);
    assert_eq!(
        show["version"],
        &REV[..12],
        "label is the revision's first 12 hex"
    );
    assert_eq!(show["source"]["revision"], REV);
    assert_eq!(show["source"]["layout"], layout);
    assert_eq!(
        show["license"]["id"], "mit",
        "from the model card front matter"
    );
    let files = show["files"].as_array().unwrap();
    assert_eq!(files.len(), 4);
    for (path, bytes, _) in hf_files() {
        let f = files.iter().find(|f| f["path"] == path).unwrap();
        assert_eq!(f["sha256"], sha256_hex(&bytes), "{path}");
    }
}

#[test]
fn cache_repo_folder_imports_with_its_revision() {
    let env = Env::new();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &hf_files());
    let out = env.json(&["import", repo.to_str().unwrap(), "--name", "org/model"]);
    assert_eq!(out["upstream_checked"], 4);
    check_imported(&env, "org/model", "hf-cache");
}

#[test]
fn snapshot_folder_imports() {
    let env = Env::new();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &hf_files());
    let snap = repo.join("snapshots").join(REV);
    let out = env.json(&["import", snap.to_str().unwrap(), "--name", "org/model"]);
    assert_eq!(out["upstream_checked"], 4);
    check_imported(&env, "org/model", "hf-snapshot");
}

#[test]
fn local_dir_download_imports() {
    let env = Env::new();
    let dir = make_local_dir(&env.path("dl"), &hf_files());
    let out = env.json(&["import", dir.to_str().unwrap(), "--name", "org/model"]);
    assert_eq!(out["upstream_checked"], 4);
    check_imported(&env, "org/model", "hf-local-dir");
}

#[test]
fn cache_repo_picks_a_snapshot_by_revision() {
    let env = Env::new();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &hf_files());
    fs::remove_file(repo.join("refs/main")).unwrap();
    let other = "fedcba9876543210fedcba9876543210fedcba98";
    fs::create_dir_all(repo.join("snapshots").join(other)).unwrap();
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--revision"));
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model", "--revision", REV])
        .assert()
        .success();
    check_imported(&env, "org/model", "hf-cache");
}

#[test]
fn cache_repo_lfs_blob_mismatch_is_refused() {
    let env = Env::new();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &hf_files());
    let blob = repo.join("blobs").join(sha256_hex(&hf_files()[0].1));
    let mut bytes = fs::read(&blob).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    fs::write(&blob, &bytes).unwrap();
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("model.safetensors")
                .and(predicate::str::contains(sha256_hex(&hf_files()[0].1)))
                .and(predicate::str::contains(sha256_hex(&bytes))),
        );
    assert_nothing_visible(&env);
}

#[test]
fn cache_repo_git_blob_mismatch_is_refused() {
    let env = Env::new();
    let files = hf_files();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &files);
    let blob = repo
        .join("blobs")
        .join(crate::util::git_blob_sha1(&files[1].1));
    fs::write(&blob, b"{\"model_type\": \"evil\"}\n").unwrap();
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("config.json").and(predicate::str::contains("git-sha1")));
    assert_nothing_visible(&env);
}

#[test]
fn snapshot_mismatch_is_refused() {
    let env = Env::new();
    let files = hf_files();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &files);
    let blob = repo
        .join("blobs")
        .join(crate::util::git_blob_sha1(&files[2].1));
    fs::write(&blob, b"tampered\n").unwrap();
    env.cmd()
        .arg("import")
        .arg(repo.join("snapshots").join(REV))
        .args(["--name", "org/model"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("tokenizer/vocab.txt"));
    assert_nothing_visible(&env);
}

#[test]
fn local_dir_mismatch_is_refused() {
    let env = Env::new();
    let dir = make_local_dir(&env.path("dl"), &hf_files());
    crate::util::flip_byte(&dir.join("model.safetensors"), 20);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "org/model"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("model.safetensors").and(predicate::str::contains(
                ".cache/huggingface/download/model.safetensors.metadata",
            )),
        );
    assert_nothing_visible(&env);
}

#[test]
fn tree_listing_mismatch_is_refused() {
    let env = Env::new();
    let files = hf_files();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &files);
    // A listing whose sha256 for the weights differs from the bytes present.
    let mut listed = files.clone();
    listed[0].1 = b"other weights".to_vec();
    fs::create_dir_all(repo.join("trees")).unwrap();
    fs::write(
        repo.join("trees").join(format!("{REV}.json")),
        tree_json(&listed),
    )
    .unwrap();
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model"])
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains(format!("trees/{REV}.json"))
                .and(predicate::str::contains("model.safetensors")),
        );
    assert_nothing_visible(&env);
    // The matching listing passes, and is recorded as checked.
    fs::write(
        repo.join("trees").join(format!("{REV}.json")),
        tree_json(&files),
    )
    .unwrap();
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model"])
        .assert()
        .success();
    let show = env.json(&["show", "org/model"]);
    let w = show["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "model.safetensors")
        .unwrap()
        .clone();
    assert!(
        w["upstream_check"].as_str().unwrap().contains("trees/"),
        "{w}"
    );
}

#[test]
fn local_dir_tree_listing_is_read_too() {
    let env = Env::new();
    let files = hf_files();
    let dir = make_local_dir(&env.path("dl"), &files);
    let mut listed = files.clone();
    listed[3].1 = b"---\nlicense: apache-2.0\n---\n".to_vec();
    fs::create_dir_all(dir.join(".cache/huggingface/trees")).unwrap();
    fs::write(
        dir.join(format!(".cache/huggingface/trees/{REV}.json")),
        tree_json(&listed),
    )
    .unwrap();
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "org/model"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("README.md"));
    assert_nothing_visible(&env);
}

#[test]
fn a_snapshot_link_outside_blobs_is_refused() {
    let env = Env::new();
    let repo = make_hf_cache(&env.path("hub"), "org/model", &hf_files());
    let outside = env.path("outside.bin");
    fs::write(&outside, b"not from the hub").unwrap();
    std::os::unix::fs::symlink(&outside, repo.join("snapshots").join(REV).join("extra.bin"))
        .unwrap();
    env.cmd()
        .arg("import")
        .arg(&repo)
        .args(["--name", "org/model"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("extra.bin")
                .and(predicate::str::contains("leaves the source")),
        );
    assert_nothing_visible(&env);
}
