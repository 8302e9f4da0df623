//! `import DIR` of plain folders: records, no-ops, conflicts, hostile entries.

use std::fs;
use std::os::unix::fs::MetadataExt;

use predicates::prelude::*;

use crate::util::{Env, sha256_hex};

#[test]
fn plain_import_records_everything() {
    let env = Env::new();
    let model = env.model("m", 1);
    env.cmd()
        .args(["import"])
        .arg(&model)
        .args([
            "--name",
            "acme/tiny",
            "--owner",
            "alice",
            "--data-disclosure",
            "partial",
        ])
        .args([
            "--data-notes",
            "web crawl",
            "--source",
            "https://example.org/acme/tiny",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("imported acme/tiny@v1"));
    let show = env.json(&["show", "acme/tiny"]);
    assert_eq!(show["name"], "acme/tiny");
    assert_eq!(show["version"], "v1");
    assert_eq!(show["owner"], "alice");
    assert_eq!(show["license"]["id"], "apache-2.0");
    let licence = fs::read(model.join("LICENSE")).unwrap();
    assert_eq!(show["license"]["text_sha256"], sha256_hex(&licence));
    assert_eq!(show["data_disclosure"]["status"], "partial");
    assert_eq!(show["data_disclosure"]["notes"], "web crawl");
    assert_eq!(show["source"]["url"], "https://example.org/acme/tiny");
    let files = show["files"].as_array().unwrap();
    assert_eq!(files.len(), 7);
    for f in files {
        let p = model.join(f["path"].as_str().unwrap());
        let bytes = fs::read(&p).unwrap();
        assert_eq!(f["sha256"], sha256_hex(&bytes), "{}", p.display());
        assert_eq!(f["size"], bytes.len());
        let blob = env.blob_path(f["sha256"].as_str().unwrap());
        assert_eq!(fs::read(&blob).unwrap(), bytes);
        assert_eq!(
            fs::metadata(&blob).unwrap().mode() & 0o222,
            0,
            "blobs are read-only"
        );
    }
    let formats: Vec<_> = files
        .iter()
        .map(|f| f["format"].as_str().unwrap())
        .collect();
    assert_eq!(formats.iter().filter(|f| **f == "safetensors").count(), 2);
    assert!(formats.contains(&"json") && formats.contains(&"text"));
    let digest = show["manifest_digest"].as_str().unwrap();
    // The version can be named by a manifest digest prefix.
    let by_digest = env.json(&["show", &format!("acme/tiny@sha256:{}", &digest[..12])]);
    assert_eq!(by_digest["version"], "v1");
    env.cmd()
        .args(["show", &format!("acme/tiny@sha256:{}", &digest[..8])])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("at least 12 hex"));
    let list = env.json(&["list"]);
    assert_eq!(list["versions"][0]["manifest_digest"], digest);
}

#[test]
fn same_content_again_is_a_noop() {
    let env = Env::new();
    let model = env.model("m", 2);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/a"])
        .assert()
        .success();
    let blobs = env.blob_count();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/a"])
        .assert()
        .success()
        .stdout(predicate::str::contains("unchanged acme/a@v1"));
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/a", "--version", "v1"])
        .assert()
        .success()
        .stdout(predicate::str::contains("unchanged"));
    assert_eq!(env.listed(), ["acme/a@v1"]);
    assert_eq!(env.blob_count(), blobs);
}

#[test]
fn same_label_with_other_content_is_refused() {
    let env = Env::new();
    let a = env.model("a", 3);
    let b = env.model("b", 4);
    env.cmd()
        .arg("import")
        .arg(&a)
        .args(["--name", "acme/a", "--version", "r1"])
        .assert()
        .success();
    let blobs = env.blob_count();
    env.cmd()
        .arg("import")
        .arg(&b)
        .args(["--name", "acme/a", "--version", "r1"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "`acme/a@r1` already exists with other content",
        ));
    assert_eq!(env.listed(), ["acme/a@r1"]);
    assert_eq!(env.blob_count(), blobs, "the refused import left no blobs");
    // Without a label, other content becomes the next version.
    env.cmd()
        .arg("import")
        .arg(&b)
        .args(["--name", "acme/a"])
        .assert()
        .success();
    assert_eq!(env.listed(), ["acme/a@r1", "acme/a@v2"]);
    // A bare name means the newest version.
    assert_eq!(env.json(&["show", "acme/a"])["version"], "v2");
}

#[test]
fn licence_flags_override_the_folder() {
    let env = Env::new();
    let model = env.model("m", 5);
    let text = env.path("LLAMA-LICENSE.txt");
    fs::write(&text, "LLAMA 3.1 COMMUNITY LICENSE AGREEMENT (test copy)\n").unwrap();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args([
            "--name",
            "meta/llama",
            "--license",
            "llama3.1",
            "--license-file",
        ])
        .arg(&text)
        .assert()
        .success();
    let show = env.json(&["show", "meta/llama"]);
    assert_eq!(show["license"]["id"], "llama3.1");
    assert_eq!(
        show["license"]["text_sha256"],
        sha256_hex(&fs::read(&text).unwrap())
    );
    env.cmd().arg("fsck").assert().success();
}

#[test]
fn link_shares_the_inode_and_still_hashes() {
    let env = Env::new();
    let model = env.model("m", 6);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/linked", "--link"])
        .assert()
        .success();
    let cfg = model.join("config.json");
    let sha = sha256_hex(&fs::read(&cfg).unwrap());
    let blob = env.blob_path(&sha);
    assert_eq!(
        fs::metadata(&blob).unwrap().ino(),
        fs::metadata(&cfg).unwrap().ino()
    );
    env.cmd()
        .args(["verify", "--deep", "acme/linked"])
        .assert()
        .success();
}

#[test]
fn invalid_names_and_missing_folders_are_operational_errors() {
    let env = Env::new();
    let model = env.model("m", 7);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "../evil"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("invalid model name `../evil`"));
    env.cmd()
        .arg("import")
        .arg(env.path("nope"))
        .args(["--name", "a/b"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("nope"));
    env.cmd().arg("import").arg(&model).assert().code(2);
    env.cmd()
        .args(["show", "a/b"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not found: `a/b`"));
}

#[test]
fn fifo_in_the_source_is_refused_without_hanging() {
    let env = Env::new();
    let model = env.model("m", 8);
    let fifo = model.join("weights.bin");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo (coreutils)");
    assert!(made.success(), "mkfifo {}", fifo.display());
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/fifo"])
        .timeout(std::time::Duration::from_secs(20))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("weights.bin").and(predicate::str::contains("FIFO")));
    assert!(env.listed().is_empty());
    assert_eq!(env.blob_count(), 0);
}

#[test]
fn symlink_leaving_the_source_is_refused() {
    let env = Env::new();
    let model = env.model("m", 9);
    let secret = env.path("secret.txt");
    fs::write(&secret, "not part of any model").unwrap();
    std::os::unix::fs::symlink(&secret, model.join("extra.txt")).unwrap();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/escape"])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("extra.txt")
                .and(predicate::str::contains("leaves the source")),
        );
    assert!(env.listed().is_empty());
    assert_eq!(env.blob_count(), 0);
    // A link that stays inside the folder is followed.
    fs::remove_file(model.join("extra.txt")).unwrap();
    std::os::unix::fs::symlink("config.json", model.join("config-copy.json")).unwrap();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/inside"])
        .assert()
        .success();
    let show = env.json(&["show", "acme/inside"]);
    assert!(
        show["files"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["path"] == "config-copy.json")
    );
}

#[test]
fn file_names_that_cannot_be_recorded_are_refused_by_name() {
    let env = Env::new();
    let model = env.model("m", 13);
    fs::write(model.join("new\nline.txt"), "x").unwrap();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/n"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(r#""new\nline.txt""#));
    assert!(env.listed().is_empty());
    assert_eq!(env.blob_count(), 0);
}

#[test]
fn git_and_cache_folders_are_skipped() {
    let env = Env::new();
    let model = env.model("m", 10);
    fs::create_dir_all(model.join(".git/objects")).unwrap();
    fs::write(model.join(".git/HEAD"), "ref: refs/heads/main\n").unwrap();
    fs::create_dir_all(model.join(".cache")).unwrap();
    fs::write(model.join(".cache/x"), "x").unwrap();
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/g"])
        .assert()
        .success();
    let show = env.json(&["show", "acme/g"]);
    assert!(
        show["files"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| !f["path"].as_str().unwrap().starts_with('.'))
    );
}

#[test]
fn init_names_the_registry_and_json_is_clean() {
    let env = Env::new();
    env.cmd()
        .args(["init", "--name", "enclave-a"])
        .assert()
        .success()
        .stdout(predicate::str::contains("enclave-a"));
    let v = env.json(&["init"]);
    assert_eq!(v["name"], "enclave-a");
    assert_eq!(v["created"], false);
    env.cmd()
        .args(["init", "--name", "other"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already named `enclave-a`"));
    let model = env.model("m", 11);
    let out = env.json(&["import", model.to_str().unwrap(), "--name", "acme/j"]);
    assert_eq!(out["created"], true);
    assert_eq!(env.json(&["show", "acme/j"])["registry"], "enclave-a");
}

#[test]
fn progress_is_a_plain_line_when_stderr_is_not_a_terminal() {
    let env = Env::new();
    let model = env.model("m", 12);
    let mut c = assert_cmd::Command::cargo_bin("airlock").unwrap();
    c.env_remove("AIRLOCK_HOME")
        .env("AIRLOCK_PROGRESS_EVERY_MS", "0")
        .arg("--home")
        .arg(&env.home)
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/p"])
        .assert()
        .success()
        .stderr(predicate::str::contains("import: ").and(predicate::str::contains(" of 6.00 MiB")));
    // --no-progress silences it.
    env.cmd()
        .env("AIRLOCK_PROGRESS_EVERY_MS", "0")
        .args(["verify", "--deep", "--all"])
        .assert()
        .success()
        .stderr(predicate::str::contains("verify: ").not());
}

#[test]
fn demo_tells_the_story() {
    let env = Env::new();
    env.cmd()
        .arg("demo")
        .arg("--dir")
        .arg(env.path("demo"))
        .assert()
        .success()
        .stdout(predicate::str::contains("demo complete"))
        .stdout(predicate::str::contains(
            "MODIFIED model-00001-of-00002.safetensors",
        ))
        .stdout(predicate::str::contains(
            "trust root version 2 applied from the bundle",
        ))
        .stdout(predicate::str::contains(
            "checkout of the revoked version: refused (exit 3)",
        ))
        .stdout(predicate::str::contains(
            "acme/tiny-llama@prod is now v2 (2 changes in the log: set v1, set v2)",
        ))
        .stdout(predicate::str::contains(
            "left out because the isolated side holds them",
        ))
        .stdout(predicate::str::contains(
            "the carried alias acme/tiny-llama@prod → v2",
        ))
        .stdout(predicate::str::contains(
            "the set is complete — acme/tiny-llama@v2 visible",
        ));
    assert!(!env.home.exists(), "the demo never touches the user's home");
}
