//! The reliability suite (issue 12): every writing command killed at every
//! rename, fsync and unlink it makes (`strace -e inject=…:signal=SIGKILL`),
//! then the home checked — `fsck` clean, nothing half-visible, `verify
//! --deep` and `log --verify` clean — the rerun succeeding and `gc` leaving
//! nothing behind; N processes of each writing command at once; and disks
//! that fill up.
//!
//! Each command runs in a fresh copy of a prepared folder (a home, a model,
//! keys, a bundle), so every trial starts from the same state.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::util::Env;

/// The system calls a kill is injected at.
const POINTS: &str =
    "rename,renameat,renameat2,fsync,fdatasync,syncfs,unlink,unlinkat,rmdir,link,linkat";

fn bin() -> PathBuf {
    assert_cmd::cargo::cargo_bin("airlock")
}

/// `airlock ARGS` in `dir`, no progress output.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .env_remove("AIRLOCK_HOME")
        .arg("--no-progress")
        .args(args)
        .output()
        .unwrap()
}

fn ok_in(dir: &Path, args: &[&str]) -> Output {
    let out = run_in(dir, args);
    assert!(
        out.status.success(),
        "`airlock {}` failed in {}: {}{}",
        args.join(" "),
        dir.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_in(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    serde_json::from_slice(&ok_in(dir, &all).stdout).unwrap()
}

fn copy_tree(from: &Path, to: &Path) {
    let st = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(to)
        .status()
        .unwrap();
    assert!(st.success(), "cp -a {} {}", from.display(), to.display());
}

/// The prepared folder: a model, keys, a home with the model imported and
/// approved, a second version, a bundle, and an isolated home that trusts
/// the keys.
struct Fixture {
    env: Env,
    dir: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let env = Env::new();
        let dir = env.path("fixture");
        fs::create_dir_all(&dir).unwrap();
        airlock::demo::write_model(&dir.join("m"), 7).unwrap();
        crate::util::big_files(&dir.join("m"), 1, 1, 2654435761);
        airlock::demo::write_model(&dir.join("m2"), 8).unwrap();
        for who in ["alice", "exp"] {
            ok_in(
                &dir,
                &[
                    "keys",
                    "generate",
                    "--name",
                    who,
                    "--out",
                    &format!("keys/{who}"),
                ],
            );
        }
        ok_in(&dir, &["--home", "home", "init"]);
        ok_in(
            &dir,
            &[
                "--home",
                "home",
                "import",
                "m",
                "--name",
                "acme/m",
                "--version",
                "v1",
            ],
        );
        ok_in(
            &dir,
            &[
                "--home",
                "home",
                "import",
                "m2",
                "--name",
                "acme/m",
                "--version",
                "v2",
            ],
        );
        ok_in(
            &dir,
            &[
                "--home",
                "home",
                "sign",
                "acme/m@v1",
                "--key",
                "keys/alice.key",
            ],
        );
        ok_in(
            &dir,
            &[
                "--home",
                "home",
                "export",
                "acme/m@v1",
                "--key",
                "keys/exp.key",
                "--out",
                "in.airlock",
            ],
        );
        ok_in(
            &dir,
            &[
                "--home",
                "iso",
                "trust",
                "add",
                "--role",
                "exporter",
                "--name",
                "exp",
                "keys/exp.pub",
            ],
        );
        ok_in(
            &dir,
            &[
                "--home",
                "iso",
                "trust",
                "add",
                "--name",
                "alice",
                "keys/alice.pub",
            ],
        );
        Fixture { env, dir }
    }

    /// A fresh copy of the prepared folder.
    fn trial(&self, name: &str) -> PathBuf {
        let t = self.env.path(name);
        copy_tree(&self.dir, &t);
        t
    }
}

/// The home is whole: fsck, the log and every stored byte check out.
fn consistent(dir: &Path, home: &str) {
    ok_in(dir, &["--home", home, "fsck"]);
    ok_in(dir, &["--home", home, "log", "--verify"]);
    ok_in(dir, &["--home", home, "verify", "--all", "--deep"]);
}

/// Nothing of a dead or failed run is left: no pending output, no staging
/// or temp name anywhere in the folder, an empty `store/tmp`.
fn nothing_left(dir: &Path, home: &str) {
    let f = json_in(dir, &["--home", home, "fsck"]);
    assert_eq!(f["leftovers"], serde_json::json!([]), "{f}");
    assert_eq!(f["stale_temp_files"], 0, "{f}");
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let n = e.file_name().to_string_lossy();
        assert!(
            !n.contains(".airlock-") && !n.starts_with(".registry.db.new-"),
            "left behind: {}",
            e.path().display()
        );
    }
    let tmp = dir.join(home).join("store/tmp");
    if tmp.exists() {
        assert_eq!(fs::read_dir(&tmp).unwrap().count(), 0, "store/tmp is empty");
    }
}

/// How often each injection point's syscall runs in one thread at most,
/// when `args` runs in a copy of the fixture.
fn kill_points(fx: &Fixture, label: &str, args: &[&str]) -> BTreeMap<String, usize> {
    let strace = crate::peers::strace();
    let t = fx.trial(&format!("{label}-count"));
    let log = t.join("strace.log");
    let st = Command::new(&strace)
        .current_dir(&t)
        .args(["-f", "-qq", "-o"])
        .arg(&log)
        .args(["-e", &format!("trace={POINTS}"), "--"])
        .arg(bin())
        .arg("--no-progress")
        .args(args)
        .env_remove("AIRLOCK_HOME")
        .output()
        .unwrap();
    assert!(
        st.status.success(),
        "{label} under strace: {}",
        String::from_utf8_lossy(&st.stderr)
    );
    let mut per_thread: BTreeMap<(String, String), usize> = BTreeMap::new();
    for line in fs::read_to_string(&log).unwrap().lines() {
        let mut it = line.splitn(2, ' ');
        let (Some(pid), Some(rest)) = (it.next(), it.next()) else {
            continue;
        };
        let rest = rest.trim_start();
        if rest.starts_with('<') || rest.starts_with("+++") || rest.starts_with("---") {
            continue;
        }
        if let Some((name, _)) = rest.split_once('(') {
            *per_thread
                .entry((name.to_string(), pid.to_string()))
                .or_default() += 1;
        }
    }
    let mut max: BTreeMap<String, usize> = BTreeMap::new();
    for ((name, _), n) in per_thread {
        let m = max.entry(name).or_default();
        *m = (*m).max(n);
    }
    max
}

/// Kill `args` at every point, check the home after each kill, rerun, and
/// check that nothing is left. `after_kill` and `after_rerun` add the
/// command's own promises. Returns the number of kill trials.
fn kill_everywhere(
    fx: &Fixture,
    label: &str,
    home: &str,
    args: &[&str],
    after_kill: &dyn Fn(&Path),
    after_rerun: &dyn Fn(&Path),
) -> usize {
    let strace = crate::peers::strace();
    let points = kill_points(fx, label, args);
    assert!(!points.is_empty(), "{label}: no kill points found");
    let mut trials = 0;
    let mut killed = 0;
    for (syscall, n) in &points {
        for k in 1..=*n {
            trials += 1;
            let t = fx.trial(&format!("{label}-{syscall}-{k}"));
            let out = Command::new(&strace)
                .current_dir(&t)
                .args(["-f", "-qq", "-o", "/dev/null"])
                .args(["-e", &format!("trace={syscall}")])
                .args(["-e", &format!("inject={syscall}:signal=SIGKILL:when={k}")])
                .arg("--")
                .arg(bin())
                .arg("--no-progress")
                .args(args)
                .env_remove("AIRLOCK_HOME")
                .output()
                .unwrap();
            if !out.status.success() {
                killed += 1;
            }
            let ctx = format!("{label} killed at {syscall} #{k}");
            let checked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                consistent(&t, home);
                after_kill(&t);
                ok_in(&t, args);
                consistent(&t, home);
                after_rerun(&t);
                ok_in(&t, &["--home", home, "gc"]);
                nothing_left(&t, home);
                consistent(&t, home);
            }));
            if let Err(e) = checked {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_default();
                panic!("{ctx}: {msg}");
            }
            fs::remove_dir_all(&t).unwrap();
        }
    }
    #[allow(clippy::print_stderr)] // the suite's counts, for the closing note
    {
        eprintln!(
            "reliability: {label}: {trials} kill points ({killed} killed mid-run), {points:?}"
        );
    }
    assert!(killed > 0, "{label}: no trial was actually killed");
    trials
}

fn listed(dir: &Path, home: &str) -> Vec<String> {
    json_in(dir, &["--home", home, "list"])["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            format!(
                "{}@{}",
                v["name"].as_str().unwrap(),
                v["version"].as_str().unwrap()
            )
        })
        .collect()
}

#[test]
fn killed_import_of_a_folder() {
    let fx = Fixture::new();
    let args = ["--home", "home", "import", "m", "--name", "acme/new"];
    kill_everywhere(
        &fx,
        "import",
        "home",
        &args,
        &|t| {
            let l = listed(t, "home");
            assert!(l.len() == 2 || l.len() == 3, "{l:?}");
        },
        &|t| assert!(listed(t, "home").contains(&"acme/new@v1".to_string())),
    );
}

/// After a killed export: a bundle at `first` (the file or the first
/// volume) is whole — it imports. If nothing of the run is pending, the
/// export had finished (the kill came after its commit) and the bundle is
/// moved away, as its user would, so the rerun writes a new one instead of
/// refusing to overwrite it.
fn finished_export_is_whole(t: &Path, first: &str) {
    importable_if_present(t, first);
    let f = json_in(t, &["--home", "home", "fsck"]);
    if t.join(first).exists() && f["leftovers"] == serde_json::json!([]) {
        let done = t.join("finished");
        fs::create_dir_all(&done).unwrap();
        for e in fs::read_dir(t).unwrap().filter_map(Result::ok) {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(first.trim_end_matches(".001")) {
                fs::rename(e.path(), done.join(&n)).unwrap();
            }
        }
    }
}

/// A bundle at `out` (file or first volume) must import whole.
fn importable_if_present(t: &Path, first: &str) {
    if !t.join(first).exists() {
        return;
    }
    ok_in(t, &["--home", "iso", "import", first]);
    assert_eq!(listed(t, "iso"), ["acme/m@v1"]);
    fs::remove_dir_all(t.join("iso")).unwrap();
    // Put the isolated home back as the fixture had it.
    let fresh = t.join("iso");
    ok_in(
        t,
        &[
            "--home",
            "iso",
            "trust",
            "add",
            "--role",
            "exporter",
            "--name",
            "exp",
            "keys/exp.pub",
        ],
    );
    ok_in(
        t,
        &[
            "--home",
            "iso",
            "trust",
            "add",
            "--name",
            "alice",
            "keys/alice.pub",
        ],
    );
    assert!(fresh.exists());
}

#[test]
fn killed_export_single_file_and_volumes() {
    let fx = Fixture::new();
    let single = [
        "--home",
        "home",
        "export",
        "acme/m@v1",
        "--key",
        "keys/exp.key",
        "--out",
        "out.airlock",
    ];
    kill_everywhere(
        &fx,
        "export",
        "home",
        &single,
        &|t| finished_export_is_whole(t, "out.airlock"),
        &|t| importable_if_present(t, "out.airlock"),
    );
    let split = [
        "--home",
        "home",
        "export",
        "acme/m@v1",
        "--key",
        "keys/exp.key",
        "--out",
        "vol.airlock",
        "--volume-size",
        "400K",
    ];
    kill_everywhere(
        &fx,
        "export-volumes",
        "home",
        &split,
        &|t| finished_export_is_whole(t, "vol.airlock.001"),
        &|t| {
            assert!(t.join("vol.airlock.003").exists());
            importable_if_present(t, "vol.airlock.001");
        },
    );
}

#[test]
fn killed_import_of_a_bundle() {
    let fx = Fixture::new();
    let args = ["--home", "iso", "import", "in.airlock"];
    kill_everywhere(
        &fx,
        "bundle-import",
        "iso",
        &args,
        &|t| {
            let l = listed(t, "iso");
            assert!(l.is_empty() || l == ["acme/m@v1"], "{l:?}");
        },
        &|t| assert_eq!(listed(t, "iso"), ["acme/m@v1"]),
    );
}

/// `serve` verifies as one of `versions`.
fn serve_is(t: &Path, versions: &[&str]) {
    let ok = versions.iter().any(|v| {
        run_in(t, &["--home", "home", "verify", v, "--path", "serve"])
            .status
            .success()
    });
    assert!(ok, "`serve` is none of {versions:?}");
}

#[test]
fn killed_checkout_new_and_forced() {
    let fx = Fixture::new();
    let args = ["--home", "home", "checkout", "acme/m@v1", "serve"];
    kill_everywhere(
        &fx,
        "checkout",
        "home",
        &args,
        &|t| {
            if t.join("serve").exists() {
                serve_is(t, &["acme/m@v1"]);
            }
        },
        &|t| serve_is(t, &["acme/m@v1"]),
    );
    // --force over an existing copy of v1: the folder is never missing.
    let forced = Fixture::new();
    ok_in(
        &forced.dir,
        &["--home", "home", "checkout", "acme/m@v1", "serve"],
    );
    let args = [
        "--home",
        "home",
        "checkout",
        "acme/m@v2",
        "serve",
        "--force",
    ];
    kill_everywhere(
        &forced,
        "checkout-force",
        "home",
        &args,
        &|t| serve_is(t, &["acme/m@v1", "acme/m@v2"]),
        &|t| serve_is(t, &["acme/m@v2"]),
    );
}

#[test]
fn killed_deploy() {
    let fx = Fixture::new();
    let args = [
        "--home",
        "home",
        "deploy",
        "acme/m@v1",
        "serve",
        "--env",
        "prod",
    ];
    kill_everywhere(
        &fx,
        "deploy",
        "home",
        &args,
        &|t| {
            let a = json_in(t, &["--home", "home", "audit"]);
            let rows = a["deployments"].as_array().unwrap();
            assert!(rows.len() <= 1, "{a}");
            if !rows.is_empty() {
                serve_is(t, &["acme/m@v1"]);
            }
        },
        &|t| {
            let a = json_in(t, &["--home", "home", "audit", "--verify"]);
            let rows = a["deployments"].as_array().unwrap();
            assert_eq!(rows.len(), 1, "one deployment, recorded once: {a}");
            assert_eq!(rows[0]["status"], "ok", "{a}");
            assert_eq!(rows[0]["environment"], "prod", "{a}");
        },
    );
}

fn sign_events(t: &Path) -> usize {
    json_in(t, &["--home", "home", "log"])["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"] == "sign")
        .count()
}

#[test]
fn killed_sign_and_gc() {
    let fx = Fixture::new();
    let args = [
        "--home",
        "home",
        "sign",
        "acme/m@v2",
        "--key",
        "keys/alice.key",
    ];
    kill_everywhere(
        &fx,
        "sign",
        "home",
        &args,
        &|t| assert!(sign_events(t) <= 2),
        &|t| assert_eq!(sign_events(t), 2, "one event per approval"),
    );
    // gc with something to do: a stale temp file and an unreferenced blob.
    let prepared = Fixture::new();
    let home = prepared.dir.join("home");
    let junk = b"bytes no version references";
    let hex = crate::util::sha256_hex(junk);
    let blob = home.join("store/sha256").join(&hex[..2]).join(&hex[2..]);
    fs::create_dir_all(blob.parent().unwrap()).unwrap();
    fs::write(&blob, junk).unwrap();
    fs::write(home.join("store/tmp/ingest-stale"), b"half").unwrap();
    kill_everywhere(
        &prepared,
        "gc",
        "home",
        &["--home", "home", "gc"],
        &|t| assert_eq!(listed(t, "home").len(), 2),
        &|t| {
            let hex = crate::util::sha256_hex(b"bytes no version references");
            assert!(
                !t.join("home/store/sha256")
                    .join(&hex[..2])
                    .join(&hex[2..])
                    .exists()
            );
        },
    );
}
