//! Every input judged by what it claims (issue 11): model cards read as
//! YAML, single files, whole Hugging Face caches, shared serving caches, the
//! database as untrusted input, and a store that takes only what is
//! accepted.

use std::fs;

use predicates::prelude::*;

use crate::util::Env;

/// A folder with one safetensors file and a model card of `card`.
fn carded(env: &Env, name: &str, card: &str) -> std::path::PathBuf {
    let dir = env.path(name);
    fs::create_dir_all(&dir).unwrap();
    airlock::demo::write_safetensors(&dir.join("model.safetensors"), &[("w", 4, 4)], 3).unwrap();
    fs::write(dir.join("README.md"), card).unwrap();
    dir
}

#[test]
fn model_cards_are_read_as_yaml_and_a_missing_licence_text_is_said() {
    let env = Env::new();
    let commented = carded(
        &env,
        "commented",
        "---\nlicense: apache-2.0  # see LICENSE\ndatasets:\n  - acme/corpus\n---\n# Model\n",
    );
    let out = env
        .cmd()
        .arg("--json")
        .arg("import")
        .arg(&commented)
        .args(["--name", "acme/c"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["license_id"], "apache-2.0");
    assert!(
        v["notes"]
            .to_string()
            .contains("no licence text is in the folder"),
        "{v}"
    );
    // The duty to keep the text is unmet: review, not ALLOWED.
    env.cmd()
        .args(["license", "check", "acme/c"])
        .assert()
        .code(4)
        .stdout(predicate::str::contains("NEEDS-REVIEW").and(predicate::str::contains("not kept")));
    // A list-form licence records the first and says so.
    let listed = carded(&env, "listed", "---\nlicense:\n- mit\n- apache-2.0\n---\n");
    let licence = env.path("LICENSE.txt");
    fs::write(&licence, "MIT License\n\nPermission is hereby granted...\n").unwrap();
    let v = env.json(&[
        "import",
        listed.to_str().unwrap(),
        "--name",
        "acme/l",
        "--license-file",
        licence.to_str().unwrap(),
    ]);
    assert_eq!(v["license_id"], "mit");
    assert!(v["notes"].to_string().contains("lists 2 licences"), "{v}");
    env.cmd()
        .args(["license", "check", "acme/l"])
        .assert()
        .success();
}

#[test]
fn one_gguf_file_imports_as_the_model_and_checks_out() {
    let env = Env::new();
    let dir = env.path("dl");
    fs::create_dir_all(&dir).unwrap();
    let bytes = crate::safety::Gguf::valid().bytes();
    fs::write(dir.join("tiny-q4.gguf"), &bytes).unwrap();
    // A sibling file is not part of the model.
    fs::write(dir.join("notes.txt"), "unrelated").unwrap();
    // Given relative to the working directory, as users type it.
    let out = env
        .cmd()
        .current_dir(&dir)
        .args(["--json", "import", "tiny-q4.gguf", "--name", "acme/tiny"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["files"], 1);
    assert_eq!(v["layout"], "file");
    let show = env.json(&["show", "acme/tiny"]);
    let files = show["files"].as_array().unwrap();
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["path"], "tiny-q4.gguf");
    assert_eq!(files[0]["sha256"], crate::util::sha256_hex(&bytes));
    assert_eq!(files[0]["format"], "gguf");
    let co = env.path("serve");
    env.cmd()
        .args(["checkout", "acme/tiny"])
        .arg(&co)
        .assert()
        .success();
    assert_eq!(fs::read(co.join("tiny-q4.gguf")).unwrap(), bytes);
    assert!(!co.join("notes.txt").exists());
    // A file whose name claims GGUF but whose bytes are not is refused.
    fs::write(dir.join("broken.gguf"), b"GGUF\x03\x00\x00\x00short").unwrap();
    env.cmd()
        .arg("import")
        .arg(dir.join("broken.gguf"))
        .args(["--name", "acme/broken"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("broken.gguf"));
    assert_eq!(env.listed().len(), 1);
}

#[test]
fn a_hub_cache_root_imports_each_repo_named_by_its_folder() {
    let env = Env::new();
    let hub = env.path("hub");
    let a = crate::util::make_hf_cache(&hub, "org/alpha", &crate::util::hf_files());
    crate::util::make_hf_cache(&hub, "other-org/beta", &crate::util::hf_files());
    fs::create_dir_all(hub.join(".locks")).unwrap();
    // `--name` cannot name two models.
    env.cmd()
        .arg("import")
        .arg(&hub)
        .args(["--name", "x/y"])
        .assert()
        .code(2);
    // `--repo` picks one, named by its folder.
    let one = env.json(&["import", hub.to_str().unwrap(), "--repo", "other-org/beta"]);
    assert_eq!(one["name"], "other-org/beta");
    assert_eq!(one["layout"], "hf-cache");
    assert_eq!(env.listed().len(), 1);
    // An unknown repo names what the cache holds.
    env.cmd()
        .arg("import")
        .arg(&hub)
        .args(["--repo", "org/gamma"])
        .assert()
        .failure()
        .stderr(predicate::str::contains("org/gamma"));
    // The root takes every repo; the one already in is unchanged.
    let all = env.json(&["import", hub.to_str().unwrap()]);
    let imports = all["imports"].as_array().unwrap();
    assert_eq!(imports.len(), 2);
    assert_eq!(imports[0]["name"], "org/alpha");
    assert_eq!(imports[0]["created"], true);
    assert_eq!(imports[1]["name"], "other-org/beta");
    assert_eq!(imports[1]["created"], false);
    assert_eq!(imports[0]["upstream_checked"], 4);
    // A snapshot folder names its model too.
    let snap = a.join("snapshots").join(crate::util::REV);
    let again = env.json(&["import", snap.to_str().unwrap()]);
    assert_eq!(again["name"], "org/alpha");
    // A plain folder does not.
    let plain = env.model("plain", 1);
    env.cmd()
        .arg("import")
        .arg(&plain)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--name"));
    // verify and audit take the hub root too, by the recorded name.
    env.cmd()
        .args(["verify", "org/alpha", "--path"])
        .arg(&hub)
        .assert()
        .success();
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    env.cmd()
        .args([
            "deploy",
            "org/alpha",
            "--record-only",
            "--host",
            host.trim(),
            "--path",
        ])
        .arg(&hub)
        .assert()
        .success();
    let audit = env.json(&["audit", "--verify"]);
    assert_eq!(audit["deployments"][0]["status"], "ok", "{audit}");
    // Drift in that repo's blob is found through the hub root.
    crate::util::flip_byte(
        &a.join("blobs")
            .join(crate::util::sha256_hex(&crate::util::hf_files()[0].1)),
        0,
    );
    env.cmd().args(["audit", "--verify"]).assert().code(3);
}

#[test]
fn a_bundle_is_known_by_its_bytes_not_its_name() {
    let g = crate::gap::Gap::new(&["alice"], &["alice"], 1);
    let renamed = g.env.path("transfer.tar");
    fs::copy(&g.bundle, &renamed).unwrap();
    g.iso()
        .arg("import")
        .arg(&renamed)
        .assert()
        .success()
        .stdout(predicate::str::contains("imported acme/m@v1"));
    // A model file named like a bundle is refused as not one.
    let fake = g.env.path("weights.airlock");
    fs::write(&fake, crate::safety::Gguf::valid().bytes()).unwrap();
    g.iso()
        .arg("import")
        .arg(&fake)
        .assert()
        .code(3)
        .stderr(predicate::str::contains("weights.airlock"));
    assert_eq!(g.iso_listed(), 1);
}

#[test]
fn deploys_into_one_shared_hf_cache_are_audited_and_ended_by_the_folder_named() {
    let env = Env::new();
    for (name, seed) in [("acme/one", 61), ("acme/two", 62)] {
        let m = env.model(&format!("src-{seed}"), seed);
        env.cmd()
            .arg("import")
            .arg(&m)
            .args(["--name", name])
            .assert()
            .success();
    }
    let cache = env.path("serving/hub");
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let host = host.trim();
    for name in ["acme/one", "acme/two"] {
        env.cmd()
            .args(["deploy", name, "--layout", "hf"])
            .arg(&cache)
            .assert()
            .success();
    }
    let audit = env.json(&["audit", "--verify"]);
    let rows = audit["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    for r in rows {
        assert_eq!(r["status"], "ok", "{r}");
        assert_eq!(r["path"], cache.display().to_string());
    }
    // Ended by the folder the user named; the other model stays deployed.
    env.cmd()
        .args(["undeploy", "acme/one", "--host", host, "--path"])
        .arg(&cache)
        .assert()
        .success();
    let audit = env.json(&["audit"]);
    let rows = audit["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{audit}");
    assert_eq!(rows[0]["name"], "acme/two");
    // A record an older release made at the snapshot folder is ended by the
    // cache folder too.
    let old = cache.join("models--acme--one/snapshots/0123");
    env.cmd()
        .args([
            "deploy",
            "acme/one",
            "--record-only",
            "--host",
            "gpu-1",
            "--path",
        ])
        .arg(&old)
        .assert()
        .success();
    env.cmd()
        .args(["undeploy", "acme/one", "--host", "gpu-1", "--path"])
        .arg(&cache)
        .assert()
        .success();
    assert_eq!(
        env.json(&["audit"])["deployments"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// The real binary under `prlimit --fsize=LIMIT`: no file it writes may
/// grow past LIMIT bytes.
fn limited(env: &Env, home: &std::path::Path, limit: u64) -> std::process::Command {
    let mut c = std::process::Command::new("prlimit");
    c.arg(format!("--fsize={limit}"))
        .arg("--")
        .arg(assert_cmd::cargo::cargo_bin("airlock"))
        .arg("--home")
        .arg(home)
        .arg("--no-progress")
        .env_remove("AIRLOCK_HOME");
    let _ = env;
    c
}

#[test]
fn a_no_op_reimport_needs_no_space_and_a_reimport_heals_the_store() {
    let env = Env::new();
    let dir = env.model("big", 80);
    crate::util::big_files(&dir, 2, 6, 2654435761);
    crate::util::flip_byte(&dir.join("part-1.dat"), 7);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/big"])
        .assert()
        .success();
    const LIMIT: u64 = 4 << 20;
    // The limit bites: a first import of the same model cannot be written.
    let fresh = env.path("fresh-home");
    let out = limited(&env, &fresh, LIMIT)
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/big"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "a 6 MiB blob cannot be written under a 4 MiB limit"
    );
    // A no-op re-import hashes and compares; it writes no blob.
    let out = limited(&env, &env.home, LIMIT)
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/big"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    assert_eq!(env.listed().len(), 1);

    let show = env.json(&["show", "acme/big"]);
    let part = |p: &str| {
        show["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == p)
            .unwrap()["sha256"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (p0, p1) = (part("part-0.dat"), part("part-1.dat"));
    // A deleted blob and a damaged one are healed by the rerun.
    fs::remove_file(env.blob_path(&p0)).unwrap();
    let damaged = env.blob_path(&p1);
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&damaged, fs::Permissions::from_mode(0o644)).unwrap();
    }
    crate::util::flip_byte(&damaged, 4096);
    env.cmd()
        .args(["verify", "--all", "--deep"])
        .assert()
        .code(3);
    env.cmd()
        .arg("import")
        .arg(&dir)
        .args(["--name", "acme/big"])
        .assert()
        .success();
    assert_eq!(env.listed().len(), 1);
    env.cmd()
        .args(["verify", "--all", "--deep"])
        .assert()
        .success();
    env.cmd().arg("fsck").assert().success();
    // Same path and size, other bytes: read again and stored as a new version.
    crate::util::flip_byte(&dir.join("part-0.dat"), 100);
    let v = env.json(&["import", dir.to_str().unwrap(), "--name", "acme/big"]);
    assert_eq!(v["created"], true);
    assert_eq!(env.listed().len(), 2);
    let show2 = env.json(&["show", "acme/big"]);
    let new0 = show2["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "part-0.dat")
        .unwrap()["sha256"]
        .clone();
    assert_ne!(new0, p0.as_str());
    assert_eq!(
        new0,
        crate::util::sha256_hex(&fs::read(dir.join("part-0.dat")).unwrap()).as_str()
    );
    env.cmd()
        .args(["verify", "--all", "--deep"])
        .assert()
        .success();
}

/// Every path under `dir` (folders too), sorted.
fn tree(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect();
    v.sort();
    v
}

#[test]
fn a_refused_import_leaves_the_store_exactly_as_it_was() {
    let env = Env::new();
    let first = env.model("first", 90);
    env.cmd()
        .arg("import")
        .arg(&first)
        .args(["--name", "acme/first"])
        .assert()
        .success();
    let store = env.home.join("store");
    let before = tree(&store);
    // New bytes (fresh fan-out folders would be needed) beside a file whose
    // name claims safetensors and whose bytes are a pickle.
    let bad = env.model("bad", 91);
    crate::util::big_files(&bad, 1, 2, 40503);
    fs::write(
        bad.join("model-00002.safetensors"),
        b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x08builtins\x94.",
    )
    .unwrap();
    env.cmd()
        .arg("import")
        .arg(&bad)
        .args(["--name", "acme/bad"])
        .assert()
        .code(3)
        .stderr(predicate::str::contains("model-00002.safetensors"));
    assert_eq!(tree(&store), before);
    assert_eq!(env.listed().len(), 1);
}
