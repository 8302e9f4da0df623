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

// ---------- N processes at once ----------

const N: usize = 8;

/// Start `N` processes of `args(i)` in `dir` together; their outputs.
fn at_once(dir: &Path, args: impl Fn(usize) -> Vec<String>) -> Vec<Output> {
    let children: Vec<_> = (0..N)
        .map(|i| {
            Command::new(bin())
                .current_dir(dir)
                .env_remove("AIRLOCK_HOME")
                .arg("--no-progress")
                .args(args(i))
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

fn all_succeed(what: &str, outs: &[Output]) {
    for (i, o) in outs.iter().enumerate() {
        assert!(
            o.status.success(),
            "{what}: process {i} of {N} failed: {}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
}

fn events_of(dir: &Path, home: &str, command: &str) -> usize {
    json_in(dir, &["--home", home, "log"])["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["command"] == command)
        .count()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn first_use_of_a_new_home_by_many_processes_at_once() {
    let fx = Fixture::new();
    let t = fx.trial("first-use");
    // N imports of different models into a home that does not exist yet.
    let outs = at_once(&t, |i| {
        strings(&[
            "--home",
            "fresh",
            "import",
            "m",
            "--name",
            &format!("acme/c{i}"),
        ])
    });
    all_succeed("first imports", &outs);
    assert_eq!(listed(&t, "fresh").len(), N);
    assert_eq!(events_of(&t, "fresh", "init"), 1, "named once");
    consistent(&t, "fresh");
    // N inits of another new home.
    let outs = at_once(&t, |_| {
        strings(&["--home", "fresh2", "init", "--name", "lab"])
    });
    all_succeed("first inits", &outs);
    assert_eq!(events_of(&t, "fresh2", "init"), 1);
    consistent(&t, "fresh2");
    // N processes opening a home of an older schema: each step once.
    let old = t.join("old");
    fs::create_dir_all(&old).unwrap();
    {
        let db = rusqlite::Connection::open(old.join("registry.db")).unwrap();
        for sql in [
            include_str!("../../schema/0001_init.sql"),
            include_str!("../../schema/0002_trust.sql"),
            include_str!("../../schema/0003_safety.sql"),
            include_str!("../../schema/0004_audit.sql"),
        ] {
            db.execute_batch(sql).unwrap();
        }
        db.pragma_update(None, "user_version", 4).unwrap();
        db.pragma_update(None, "journal_mode", "WAL").unwrap();
        db.execute(
            "INSERT INTO registry (key, value) VALUES ('name', 'old')",
            [],
        )
        .unwrap();
    }
    let outs = at_once(&t, |_| strings(&["--home", "old", "init"]));
    all_succeed("upgrades", &outs);
    consistent(&t, "old");
}

#[test]
fn many_writers_of_one_home_at_once() {
    let fx = Fixture::new();
    let t = fx.trial("writers");
    // Exports: each its own sequence number.
    let outs = at_once(&t, |i| {
        strings(&[
            "--home",
            "home",
            "--json",
            "export",
            "acme/m@v1",
            "--key",
            "keys/exp.key",
            "--out",
            &format!("b{i}.airlock"),
        ])
    });
    all_succeed("exports", &outs);
    let mut seqs: Vec<u64> = outs
        .iter()
        .map(|o| {
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["sequence"]
                .as_u64()
                .unwrap()
        })
        .collect();
    seqs.sort_unstable();
    seqs.dedup();
    assert_eq!(seqs.len(), N, "distinct sequence numbers: {seqs:?}");
    // The same key approving at once: one approval, one event, one "added".
    let outs = at_once(&t, |_| {
        strings(&[
            "--home",
            "home",
            "--json",
            "sign",
            "acme/m@v2",
            "--key",
            "keys/alice.key",
        ])
    });
    all_succeed("signs", &outs);
    let added = outs
        .iter()
        .filter(|o| {
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["added"] == true
        })
        .count();
    assert_eq!(added, 1);
    assert_eq!(sign_events(&t), 2, "the fixture's approval and this one");
    // The same key trusted at once.
    ok_in(
        &t,
        &["keys", "generate", "--name", "bob", "--out", "keys/bob"],
    );
    let outs = at_once(&t, |_| {
        strings(&[
            "--home",
            "home",
            "--json",
            "trust",
            "add",
            "--name",
            "bob",
            "keys/bob.pub",
        ])
    });
    all_succeed("trust adds", &outs);
    let added = outs
        .iter()
        .filter(|o| {
            serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()["added"] == true
        })
        .count();
    assert_eq!(added, 1);
    assert_eq!(events_of(&t, "home", "trust-add"), 1);
    // The same model imported at once: one version.
    let outs = at_once(&t, |_| {
        strings(&["--home", "home", "import", "m", "--name", "acme/same"])
    });
    all_succeed("imports", &outs);
    assert_eq!(
        listed(&t, "home")
            .iter()
            .filter(|v| v.starts_with("acme/same@"))
            .count(),
        1
    );
    // Checkouts into separate folders, and gc, at once.
    let outs = at_once(&t, |i| {
        strings(&["--home", "home", "checkout", "acme/m@v1", &format!("co{i}")])
    });
    all_succeed("checkouts", &outs);
    let outs = at_once(&t, |_| strings(&["--home", "home", "gc"]));
    all_succeed("gcs", &outs);
    consistent(&t, "home");
    // The same bundle imported at once on the isolated side: one version.
    let outs = at_once(&t, |_| strings(&["--home", "iso", "import", "in.airlock"]));
    all_succeed("bundle imports", &outs);
    assert_eq!(listed(&t, "iso"), ["acme/m@v1"]);
    consistent(&t, "iso");
    nothing_left(&t, "home");
}

#[test]
fn deploys_into_one_new_folder_at_once() {
    let fx = Fixture::new();
    let t = fx.trial("deploys");
    let outs = at_once(&t, |_| {
        strings(&["--home", "home", "deploy", "acme/m@v1", "serve"])
    });
    let ok = outs.iter().filter(|o| o.status.success()).count();
    assert!(ok >= 1, "at least one deploy succeeds");
    for o in outs.iter().filter(|o| !o.status.success()) {
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{err}");
        assert!(
            err.contains("serve") && !err.contains("Directory not empty"),
            "{err}"
        );
    }
    let a = json_in(&t, &["--home", "home", "audit", "--verify"]);
    let rows = a["deployments"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{a}");
    assert_eq!(rows[0]["status"], "ok");
    consistent(&t, "home");
    nothing_left(&t, "home");
}

// ---------- full disks ----------

/// A folder on a file system of `size` bytes: a tmpfs mounted for the test
/// (as root), else a plain folder with every command run under a file-size
/// limit of `size` (`prlimit --fsize`), the stand-in for a full disk.
struct SmallDisk {
    dir: PathBuf,
    mounted: bool,
    size: u64,
}

impl SmallDisk {
    fn new(dir: &Path, size: u64) -> SmallDisk {
        fs::create_dir_all(dir).unwrap();
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let mounted = root
            && Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}")])
                .arg("tmpfs")
                .arg(dir)
                .status()
                .is_ok_and(|s| s.success());
        SmallDisk {
            dir: dir.to_path_buf(),
            mounted,
            size,
        }
    }

    /// A plain folder whose commands run under `prlimit --fsize=size`: the
    /// limit strikes in the middle of a write (no free-space check sees it).
    fn limit(dir: &Path, size: u64) -> SmallDisk {
        fs::create_dir_all(dir).unwrap();
        SmallDisk {
            dir: dir.to_path_buf(),
            mounted: false,
            size,
        }
    }

    /// `airlock ARGS` in `cwd`, limited when there is no real small disk.
    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        let mut c = if self.mounted {
            Command::new(bin())
        } else {
            let mut c = Command::new("prlimit");
            c.arg(format!("--fsize={}", self.size)).arg("--").arg(bin());
            c
        };
        c.current_dir(cwd)
            .env_remove("AIRLOCK_HOME")
            .arg("--no-progress")
            .args(args)
            .output()
            .unwrap()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        if self.mounted {
            let _ = Command::new("umount").arg(&self.dir).status();
        }
    }
}

/// A command that ran out of room: exit 1, a message that says so and
/// names a path, no panic.
fn out_of_room(what: &str, o: &Output) {
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{what}: {err}");
    assert!(
        err.contains("No space left")
            || err.contains("too large")
            || err.contains("File too large"),
        "{what}: {err}"
    );
    assert!(!err.contains("panicked"), "{what}: {err}");
}

/// Names under `dir` that a failed run must not leave.
fn no_partial_output(dir: &Path) {
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let n = e.file_name().to_string_lossy();
        assert!(
            !n.contains(".airlock-") && !n.ends_with(".airlock") && !n.contains("serve"),
            "left behind: {}",
            e.path().display()
        );
    }
}

#[test]
fn full_disks_fail_cleanly_and_lose_nothing() {
    let fx = Fixture::new();
    let t = fx.trial("full");
    const ROOM: u64 = 640 * 1024;
    // Export to a full disk: nothing at the output, nothing pending.
    let disk = SmallDisk::new(&t.join("disk-export"), ROOM);
    let o = disk.run(
        &t,
        &[
            "--home",
            "home",
            "export",
            "acme/m@v1",
            "--key",
            "keys/exp.key",
            "--out",
            "disk-export/b.airlock",
        ],
    );
    out_of_room("export", &o);
    no_partial_output(&t.join("disk-export"));
    nothing_left(&t, "home");
    consistent(&t, "home");
    drop(disk);
    // Checkout to a full disk: no copy, no staging folder.
    let disk = SmallDisk::new(&t.join("disk-co"), ROOM);
    let o = disk.run(
        &t,
        &["--home", "home", "checkout", "acme/m@v1", "disk-co/serve"],
    );
    out_of_room("checkout", &o);
    no_partial_output(&t.join("disk-co"));
    nothing_left(&t, "home");
    drop(disk);
    // Import into a home on a full disk: nothing listed, nothing staged.
    let disk = SmallDisk::new(&t.join("disk-home"), ROOM);
    let o = disk.run(
        &t,
        &[
            "--home",
            "disk-home/h",
            "import",
            "m",
            "--name",
            "acme/full",
        ],
    );
    out_of_room("import", &o);
    if t.join("disk-home/h/registry.db").exists() {
        assert!(listed(&t, "disk-home/h").is_empty());
        nothing_left(&t, "disk-home/h");
        consistent(&t, "disk-home/h");
    }
    drop(disk);
    // A bundle imported into an isolated home on a full disk.
    let disk = SmallDisk::new(&t.join("disk-iso"), ROOM);
    copy_tree(&t.join("iso"), &t.join("disk-iso/iso"));
    let o = disk.run(&t, &["--home", "disk-iso/iso", "import", "in.airlock"]);
    out_of_room("bundle import", &o);
    assert!(listed(&t, "disk-iso/iso").is_empty());
    nothing_left(&t, "disk-iso/iso");
    consistent(&t, "disk-iso/iso");
    drop(disk);
}

/// The same four writers stopped in the middle of a write by a file-size
/// limit (EFBIG, with SIGXFSZ ignored): exit 1 and nothing left.
#[test]
fn a_file_size_limit_mid_write_fails_cleanly() {
    let fx = Fixture::new();
    let t = fx.trial("fsize");
    let lim = SmallDisk::limit(&t.join("out"), 512 * 1024);
    let o = lim.run(
        &t,
        &[
            "--home",
            "home",
            "export",
            "acme/m@v1",
            "--key",
            "keys/exp.key",
            "--out",
            "out/b.airlock",
        ],
    );
    out_of_room("export", &o);
    no_partial_output(&t.join("out"));
    let o = lim.run(
        &t,
        &["--home", "home", "checkout", "acme/m@v1", "out/serve"],
    );
    out_of_room("checkout", &o);
    no_partial_output(&t.join("out"));
    nothing_left(&t, "home");
    consistent(&t, "home");
    let o = lim.run(
        &t,
        &["--home", "home", "import", "m", "--name", "acme/limited"],
    );
    out_of_room("import", &o);
    assert_eq!(listed(&t, "home").len(), 2);
    nothing_left(&t, "home");
    consistent(&t, "home");
    let o = lim.run(&t, &["--home", "iso", "import", "in.airlock"]);
    out_of_room("bundle import", &o);
    assert!(listed(&t, "iso").is_empty());
    nothing_left(&t, "iso");
    consistent(&t, "iso");
}

#[test]
fn a_writer_that_waits_too_long_names_the_holder() {
    let fx = Fixture::new();
    let t = fx.trial("lock");
    // An import that holds the writer lock for seconds: strace delays its
    // first fsync by 5 s.
    let mut holder = Command::new(crate::peers::strace())
        .current_dir(&t)
        .args(["-f", "-qq", "-o", "/dev/null", "-e", "trace=fsync"])
        .args(["-e", "inject=fsync:delay_enter=5000000:when=1", "--"])
        .arg(bin())
        .args([
            "--no-progress",
            "--home",
            "home",
            "import",
            "m",
            "--name",
            "acme/slow",
        ])
        .env_remove("AIRLOCK_HOME")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = t.join("home/lock");
    let start = std::time::Instant::now();
    while !fs::read_to_string(&lock).is_ok_and(|s| s.contains("acme/slow")) {
        assert!(
            start.elapsed().as_secs() < 60,
            "the import never took the lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let out = Command::new(bin())
        .current_dir(&t)
        .args(["--no-progress", "--home", "home", "gc"])
        .env("AIRLOCK_LOCK_WAIT", "1")
        .env_remove("AIRLOCK_HOME")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(holder.wait().unwrap().success());
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("locked") && err.contains("pid ") && err.contains("import m --name acme/slow"),
        "{err}"
    );
    consistent(&t, "home");
}
