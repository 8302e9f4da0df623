//! The registry database is untrusted input (issue 11): a file that is not
//! an airlock registry is refused and never written; lost records never let
//! `gc` delete blobs; a read-only home serves every reading command; `fsck`
//! reports a damaged database as findings.

use std::fs;
use std::path::{Path, PathBuf};

use predicates::prelude::*;

use crate::util::Env;

/// A home with one imported model; returns the model folder.
fn registered(env: &Env) -> PathBuf {
    let m = env.model("m", 70);
    env.cmd()
        .arg("import")
        .arg(&m)
        .args(["--name", "acme/m"])
        .assert()
        .success();
    m
}

/// Every command given the home, each refused with exit 3 naming the file,
/// and the file and the store left byte-for-byte as they were.
fn refused_everywhere(env: &Env, model: &Path, needle: &str) {
    let db = env.home.join("registry.db");
    let before = fs::read(&db).ok();
    let blobs = env.blob_count();
    let runs: Vec<Vec<String>> = vec![
        vec!["list".into()],
        vec!["show".into(), "acme/m".into()],
        vec!["verify".into(), "--all".into()],
        vec!["fsck".into()],
        vec!["gc".into()],
        vec!["log".into(), "--verify".into()],
        vec!["audit".into()],
        vec!["trust".into(), "list".into()],
        vec![
            "import".into(),
            model.display().to_string(),
            "--name".into(),
            "acme/n".into(),
        ],
        vec!["init".into()],
    ];
    for args in runs {
        let out = env.cmd().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(needle) || stdout.contains(needle),
            "{args:?} should say `{needle}`: {stdout}{stderr}"
        );
        assert_eq!(fs::read(&db).ok(), before, "{args:?} changed registry.db");
        assert_eq!(env.blob_count(), blobs, "{args:?} changed the store");
        for side in ["registry.db-wal", "registry.db-journal"] {
            assert!(!env.home.join(side).exists(), "{args:?} wrote {side}");
        }
    }
}

#[test]
fn a_file_that_is_not_an_airlock_registry_is_refused_and_never_written() {
    // Another application's SQLite database, with its own application id.
    let env = Env::new();
    let m = registered(&env);
    let db = env.home.join("registry.db");
    fs::remove_file(&db).unwrap();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "PRAGMA application_id = 0x0f055112; CREATE TABLE photos (id INTEGER, path TEXT); INSERT INTO photos VALUES (1, 'a.jpg');",
        )
        .unwrap();
    }
    refused_everywhere(&env, &m, "not an airlock registry");
    let out = env.cmd().arg("list").output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("0x0f055112"));

    // One without an application id and without airlock's tables.
    fs::remove_file(&db).unwrap();
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch("CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('x');")
            .unwrap();
    }
    refused_everywhere(&env, &m, "not an airlock registry");

    // An empty file, and a file that is not SQLite at all.
    fs::write(&db, b"").unwrap();
    refused_everywhere(&env, &m, "the file is empty");
    fs::write(&db, b"PK\x03\x04 this is a zip, not a database").unwrap();
    refused_everywhere(&env, &m, "not an SQLite database");
}

#[test]
fn a_deleted_database_beside_a_full_store_is_not_a_new_registry() {
    let env = Env::new();
    let m = registered(&env);
    let blobs = env.blob_count();
    assert!(blobs > 0);
    fs::remove_file(env.home.join("registry.db")).unwrap();
    refused_everywhere(&env, &m, "the database is missing");
    assert!(!env.home.join("registry.db").exists());
    assert_eq!(env.blob_count(), blobs);
}

#[test]
fn gc_deletes_nothing_when_records_vanished() {
    let env = Env::new();
    registered(&env);
    let second = env.model("second", 71);
    env.cmd()
        .arg("import")
        .arg(&second)
        .args(["--name", "acme/second"])
        .assert()
        .success();
    let blobs = env.blob_count();
    // Rows deleted behind airlock's back: one version, then all of them.
    let db = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
    db.execute_batch(
        "DELETE FROM files WHERE version_id = (SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id WHERE m.name = 'acme/second');
         DELETE FROM versions WHERE model_id = (SELECT id FROM models WHERE name = 'acme/second');",
    )
    .unwrap();
    drop(db);
    env.cmd().arg("gc").assert().code(3).stderr(
        predicate::str::contains("gc deletes nothing").and(predicate::str::contains("acme/second")),
    );
    assert_eq!(env.blob_count(), blobs);
    env.cmd()
        .args(["log", "--verify"])
        .assert()
        .code(3)
        .stdout(predicate::str::contains("acme/second"));
    env.cmd().arg("fsck").assert().code(3);
    // With every version gone, the log still says the records were lost.
    let db = rusqlite::Connection::open(env.home.join("registry.db")).unwrap();
    db.execute_batch("DELETE FROM files; DELETE FROM approvals; DELETE FROM versions;")
        .unwrap();
    drop(db);
    env.cmd()
        .arg("gc")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("acme/m@v1").and(predicate::str::contains("gone")));
    assert_eq!(env.blob_count(), blobs);
}

/// A read-only view of a folder: a read-only bind mount (as root), else
/// the folder made unwritable (as another user). Undone on drop.
struct ReadOnly {
    mount: Option<PathBuf>,
    chmodded: Option<PathBuf>,
}

impl ReadOnly {
    fn of(dir: &Path, mountpoint: &Path) -> (ReadOnly, PathBuf) {
        // SAFETY-free: asks the kernel who we are through the id command.
        let uid = std::process::Command::new("id").arg("-u").output().unwrap();
        let root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
        if root {
            fs::create_dir_all(mountpoint).unwrap();
            let bind = std::process::Command::new("mount")
                .arg("--bind")
                .arg(dir)
                .arg(mountpoint)
                .status()
                .unwrap();
            assert!(
                bind.success(),
                "`mount --bind` failed: as root, this test needs a read-only bind mount"
            );
            let guard = ReadOnly {
                mount: Some(mountpoint.to_path_buf()),
                chmodded: None,
            };
            let ro = std::process::Command::new("mount")
                .args(["-o", "remount,ro,bind"])
                .arg(mountpoint)
                .status()
                .unwrap();
            assert!(ro.success(), "`mount -o remount,ro,bind` failed");
            (guard, mountpoint.to_path_buf())
        } else {
            chmod_tree(dir, false);
            (
                ReadOnly {
                    mount: None,
                    chmodded: Some(dir.to_path_buf()),
                },
                dir.to_path_buf(),
            )
        }
    }
}

fn chmod_tree(dir: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let mode = e.metadata().unwrap().permissions().mode();
        let mode = if writable {
            mode | 0o200
        } else {
            mode & !0o222
        };
        fs::set_permissions(e.path(), fs::Permissions::from_mode(mode)).unwrap();
    }
}

impl Drop for ReadOnly {
    fn drop(&mut self) {
        if let Some(m) = &self.mount {
            let _ = std::process::Command::new("umount").arg(m).status();
        }
        if let Some(d) = &self.chmodded {
            chmod_tree(d, true);
        }
    }
}

#[test]
fn a_read_only_home_serves_every_reading_command() {
    let env = Env::new();
    let m = registered(&env);
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    let serving = env.path("serving");
    env.cmd()
        .args(["deploy", "acme/m"])
        .arg(&serving)
        .assert()
        .success();
    // One stored blob damaged, so verify has something to report.
    let show = env.json(&["show", "acme/m"]);
    let weights = show["files"]
        .as_array()
        .unwrap()
        .iter()
        .max_by_key(|f| f["size"].as_u64().unwrap())
        .unwrap();
    let sha = weights["sha256"].as_str().unwrap().to_string();
    let blob = env.blob_path(&sha);
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&blob, fs::Permissions::from_mode(0o644)).unwrap();
    }
    crate::util::flip_byte(&blob, 0);
    let db_before = fs::read(env.home.join("registry.db")).unwrap();
    let (_guard, home) = ReadOnly::of(&env.home, &env.path("ro-home"));
    let run = |args: &[&str]| {
        let out = env.cmd_at(&home).args(args).output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for args in [
        vec!["list"],
        vec!["show", "acme/m"],
        vec!["log"],
        vec!["log", "--verify"],
        vec!["audit"],
        vec!["trust", "list"],
        vec!["trust", "status"],
        vec!["license", "show", "acme/m"],
        vec!["bom", "acme/m"],
    ] {
        let (code, out, err) = run(&args);
        assert_eq!(code, Some(0), "{args:?}: {out}{err}");
        assert!(out.contains("acme/m") || args[0] != "list", "{out}");
    }
    // verify reports the damage (exit 3) and writes nothing.
    let (code, out, err) = run(&["verify", "--all", "--deep"]);
    assert_eq!(code, Some(3), "{out}{err}");
    assert!(
        out.contains(&sha[..12]) || out.contains("modified"),
        "{out}"
    );
    // audit --verify re-hashes the deployed copy and reports it.
    let (code, out, err) = run(&["--json", "audit", "--verify"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let a: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(a["deployments"][0]["status"], "ok");
    assert_eq!(a["deployments"][0]["host"], host.trim());
    // inspect reads the stored bytes: the damaged weights are malformed.
    let (code, out, err) = run(&["inspect", "acme/m"]);
    assert_eq!(code, Some(3), "{out}{err}");
    // fsck reads too.
    let (code, out, err) = run(&["fsck"]);
    assert_eq!(code, Some(0), "{out}{err}");
    // A writing command fails plainly (exit 1), without a panic.
    let (code, out, err) = run(&["import", m.to_str().unwrap(), "--name", "acme/x"]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    drop(_guard);
    assert_eq!(fs::read(env.home.join("registry.db")).unwrap(), db_before);
}

#[test]
fn fsck_lists_the_findings_of_a_page_damaged_database() {
    let env = Env::new();
    registered(&env);
    let second = env.model("second", 72);
    env.cmd()
        .arg("import")
        .arg(&second)
        .args(["--name", "acme/second"])
        .assert()
        .success();
    // A blob gone as well, so a second kind of finding is due.
    let show = env.json(&["show", "acme/second"]);
    let sha = show["files"][0]["sha256"].as_str().unwrap().to_string();
    fs::remove_file(env.blob_path(&sha)).unwrap();
    // Damage the page of an index fsck's other checks do not read.
    let db = env.home.join("registry.db");
    let (page, page_size): (i64, i64) = {
        let c = rusqlite::Connection::open(&db).unwrap();
        let page = c
            .query_row(
                "SELECT rootpage FROM sqlite_master WHERE name = 'bundles_origin'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let size = c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        (page, size)
    };
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = fs::OpenOptions::new().write(true).open(&db).unwrap();
        f.seek(SeekFrom::Start(((page - 1) * page_size) as u64))
            .unwrap();
        f.write_all(&vec![0xA5; page_size as usize]).unwrap();
    }
    let out = env.cmd().args(["--json", "fsck"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let kinds: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"database"), "{r}");
    assert!(kinds.contains(&"missing"), "{r}");
    // gc refuses to delete by damaged records.
    env.cmd()
        .arg("gc")
        .assert()
        .code(3)
        .stderr(predicate::str::contains("integrity"));
}
