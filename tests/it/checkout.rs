//! `checkout`: byte-for-byte copies, read-only files, refusals, the hf layout.

use std::fs;
use std::os::unix::fs::MetadataExt;

use predicates::prelude::*;

use crate::util::{Env, flip_byte};

fn setup(env: &Env) -> std::path::PathBuf {
    let model = env.model("m", 30);
    env.cmd()
        .arg("import")
        .arg(&model)
        .args(["--name", "acme/c"])
        .assert()
        .success();
    model
}

fn same_tree(a: &std::path::Path, b: &std::path::Path) {
    let names = |d: &std::path::Path| {
        let mut v: Vec<_> = walkdir::WalkDir::new(d)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| !e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(d).unwrap().to_path_buf())
            .collect();
        v.sort();
        v
    };
    let (na, nb) = (names(a), names(b));
    assert_eq!(na, nb);
    for n in na {
        assert_eq!(
            fs::read(a.join(&n)).unwrap(),
            fs::read(b.join(&n)).unwrap(),
            "{}",
            n.display()
        );
    }
}

#[test]
fn checkout_round_trip_is_byte_for_byte_and_read_only() {
    let env = Env::new();
    let model = setup(&env);
    let dest = env.path("serve/c");
    env.cmd()
        .args(["checkout", "acme/c"])
        .arg(&dest)
        .assert()
        .success();
    same_tree(&model, &dest);
    for e in fs::read_dir(&dest).unwrap() {
        let m = e.unwrap().metadata().unwrap();
        assert_eq!(m.mode() & 0o222, 0, "checked-out files are read-only");
    }
    env.cmd()
        .args(["verify", "acme/c", "--path"])
        .arg(&dest)
        .assert()
        .success();
    // No staging folder is left beside the destination.
    let leftovers: Vec<_> = fs::read_dir(env.path("serve"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, [std::ffi::OsString::from("c")]);
}

#[test]
fn checkout_refuses_a_non_empty_folder_unless_forced() {
    let env = Env::new();
    let model = setup(&env);
    let dest = env.path("busy");
    fs::create_dir_all(&dest).unwrap();
    fs::write(dest.join("keep.txt"), "mine").unwrap();
    env.cmd()
        .args(["checkout", "acme/c"])
        .arg(&dest)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("is not empty").and(predicate::str::contains("--force")));
    assert_eq!(fs::read_to_string(dest.join("keep.txt")).unwrap(), "mine");
    env.cmd()
        .args(["checkout", "acme/c", "--force"])
        .arg(&dest)
        .assert()
        .success();
    same_tree(&model, &dest);
    // An empty folder is fine without --force.
    let empty = env.path("empty");
    fs::create_dir_all(&empty).unwrap();
    env.cmd()
        .args(["checkout", "acme/c"])
        .arg(&empty)
        .assert()
        .success();
}

#[test]
fn checkout_of_a_corrupted_blob_fails_and_leaves_nothing() {
    let env = Env::new();
    setup(&env);
    let show = env.json(&["show", "acme/c"]);
    let sha = show["files"][3]["sha256"].as_str().unwrap().to_string();
    let path = show["files"][3]["path"].as_str().unwrap().to_string();
    flip_byte(&env.blob_path(&sha), 0);
    let dest = env.path("serve/c");
    env.cmd()
        .args(["checkout", "acme/c"])
        .arg(&dest)
        .assert()
        .code(3)
        .stderr(predicate::str::contains(&path).and(predicate::str::contains(&sha)));
    assert!(!dest.exists());
    assert_eq!(
        fs::read_dir(env.path("serve")).unwrap().count(),
        0,
        "staging removed"
    );
}

#[test]
fn checkout_link_shares_inodes_with_the_store() {
    let env = Env::new();
    let model = setup(&env);
    let dest = env.path("linked");
    env.cmd()
        .args(["checkout", "acme/c", "--link"])
        .arg(&dest)
        .assert()
        .success();
    same_tree(&model, &dest);
    let show = env.json(&["show", "acme/c"]);
    let f = &show["files"][0];
    let blob = env.blob_path(f["sha256"].as_str().unwrap());
    let copy = dest.join(f["path"].as_str().unwrap());
    assert_eq!(
        fs::metadata(blob).unwrap().ino(),
        fs::metadata(copy).unwrap().ino()
    );
}

#[test]
fn hf_layout_is_a_cache_repo() {
    let env = Env::new();
    let model = setup(&env);
    let cache = env.path("hf");
    env.cmd()
        .args(["checkout", "acme/c", "--layout", "hf"])
        .arg(&cache)
        .assert()
        .success();
    let repo = cache.join("models--acme--c");
    let rev = fs::read_to_string(repo.join("refs/main")).unwrap();
    assert_eq!(rev.len(), 40);
    let snap = repo.join("snapshots").join(&rev);
    same_tree(&model, &snap);
    assert!(
        fs::symlink_metadata(snap.join("config.json"))
            .unwrap()
            .file_type()
            .is_symlink()
    );
    // A checkout in the hf layout verifies against the version.
    env.cmd()
        .args(["verify", "acme/c", "--path"])
        .arg(&repo)
        .assert()
        .success();
}

/// Loads hf checkouts the way offline loaders do, with the real
/// `huggingface_hub` from the test venv (provisioned by `peers::python`):
/// two models checked out into one shared cache that already holds a
/// download of a third, each found by its own name.
#[test]
fn hf_layout_loads_with_huggingface_hub_offline() {
    let python = crate::peers::python();
    let env = Env::new();
    let model = setup(&env);
    let second = env.model("second", 31);
    env.cmd()
        .arg("import")
        .arg(&second)
        .args(["--name", "other/d"])
        .assert()
        .success();
    let cache = env.path("hf");
    let third = crate::util::make_hf_cache(&cache, "third/e", &crate::util::hf_files());
    for name in ["acme/c", "other/d"] {
        env.cmd()
            .args(["checkout", name, "--layout", "hf"])
            .arg(&cache)
            .assert()
            .success();
    }
    // The same version again is verified in place and left alone.
    env.cmd()
        .args(["checkout", "acme/c", "--layout", "hf"])
        .arg(&cache)
        .assert()
        .success()
        .stdout(predicate::str::contains("already in place"));
    // Another version of the model is refused without --force, naming the
    // repo folder; --force replaces that folder and no other.
    let other = env.model("other-version", 32);
    env.cmd()
        .arg("import")
        .arg(&other)
        .args(["--name", "acme/c", "--version", "v2"])
        .assert()
        .success();
    env.cmd()
        .args(["checkout", "acme/c@v2", "--layout", "hf"])
        .arg(&cache)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("models--acme--c"));
    env.cmd()
        .args(["checkout", "acme/c@v2", "--layout", "hf", "--force"])
        .arg(&cache)
        .assert()
        .success();
    env.cmd()
        .args(["checkout", "acme/c@v1", "--layout", "hf", "--force"])
        .arg(&cache)
        .assert()
        .success();
    assert!(third.join("refs/main").is_file());
    let script = [
        "import sys",
        "from huggingface_hub import snapshot_download, hf_hub_download",
        "for repo in sys.argv[2:]:",
        "    p = snapshot_download(repo, cache_dir=sys.argv[1], local_files_only=True)",
        "    hf_hub_download(repo, 'config.json', cache_dir=sys.argv[1], local_files_only=True)",
        "    print(p)",
    ]
    .join("\n");
    let out = std::process::Command::new(&python)
        .args(["-c", &script])
        .arg(&cache)
        .args(["acme/c", "other/d", "third/e"])
        .env("HF_HUB_OFFLINE", "1")
        .env_remove("HF_HOME")
        .env_remove("HF_HUB_CACHE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "huggingface_hub failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let snaps: Vec<std::path::PathBuf> = stdout.lines().map(std::path::PathBuf::from).collect();
    assert_eq!(snaps.len(), 3, "{stdout}");
    same_tree(&model, &snaps[0]);
    same_tree(&second, &snaps[1]);
    // No staging or moved-aside folder is left in the shared cache.
    let mut names: Vec<String> = fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["models--acme--c", "models--other--d", "models--third--e"]
    );
    // The shared cache root verifies each model by name.
    for name in ["acme/c@v1", "other/d"] {
        env.cmd()
            .args(["verify", name, "--path"])
            .arg(&cache)
            .assert()
            .success();
    }
}
