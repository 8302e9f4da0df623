//! Real peers the tests talk to, provisioned by the tests themselves so that
//! `cargo test` passes on a fresh machine that can reach the package
//! registries (issue 9).
//!
//! Python peers live in one virtual environment under the target folder
//! (`target/tmp/peers-venv`), created once from the pinned
//! `tests/peers/requirements.txt`. Parallel tests share it: the first one to
//! arrive builds it under an exclusive file lock, the others wait on the lock
//! and find it ready. A stamp holding the requirements' digest makes a change
//! of pins rebuild the environment. When provisioning fails the test fails
//! loudly, naming the command that failed; it never passes without the peer.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

const REQUIREMENTS: &str = include_str!("../peers/requirements.txt");

/// The Python interpreter of the provisioned test venv, with every pinned
/// package of `tests/peers/requirements.txt` installed.
pub(crate) fn python() -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(root).expect("create target tmp dir");
    let venv = root.join("peers-venv");
    let python = venv.join("bin/python");
    let stamp = venv.join("airlock-requirements.sha256");
    let want = crate::util::sha256_hex(REQUIREMENTS.as_bytes());

    let lock = fs::File::create(root.join("peers-venv.lock")).expect("create venv lock file");
    lock.lock().expect("lock the test venv");
    if fs::read_to_string(&stamp).ok().as_deref() == Some(want.as_str()) && python.exists() {
        return python;
    }
    if venv.exists() {
        fs::remove_dir_all(&venv).expect("remove stale test venv");
    }
    let base = std::env::var("AIRLOCK_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    run(Command::new(&base).args(["-m", "venv"]).arg(&venv));
    let req = root.join("peers-requirements.txt");
    fs::write(&req, REQUIREMENTS).expect("write requirements");
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-input",
            "-r",
        ])
        .arg(&req));
    fs::write(&stamp, &want).expect("write venv stamp");
    python
}

/// Run a provisioning step; a failure names the command and what it said.
fn run(cmd: &mut Command) {
    let shown = format!("{cmd:?}");
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("MISSING TEST DEPENDENCY: could not run {shown}: {e}"));
    assert!(
        out.status.success(),
        "MISSING TEST DEPENDENCY: provisioning the test venv failed: {shown} exited with {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The `strace` binary (the reliability suite's kill injector).
pub(crate) fn strace() -> PathBuf {
    debian_tool("strace", "strace", &["-V"])
}

/// The Debian `docker-registry` server (distribution 2.8), the registry the
/// OCI tests push to and pull from.
pub(crate) fn docker_registry() -> PathBuf {
    debian_tool("docker-registry", "docker-registry", &["--version"])
}

/// `skopeo`, the independent OCI client the OCI tests compare with.
pub(crate) fn skopeo() -> PathBuf {
    debian_tool("skopeo", "skopeo", &["--version"])
}

/// `htpasswd` (apache2-utils), which makes the registry's bcrypt password file.
pub(crate) fn htpasswd() -> PathBuf {
    debian_tool("htpasswd", "apache2-utils", &["-nbB", "probe", "probe"])
}

/// `openssl`, which makes the TLS test registry's CA and certificate.
pub(crate) fn openssl() -> PathBuf {
    debian_tool("openssl", "openssl", &["version"])
}

/// A tool from a Debian package: found on the PATH, else installed with
/// `apt-get install PACKAGE` when running as root, else a loud failure
/// naming that command.
fn debian_tool(binary: &str, package: &str, probe: &[&str]) -> PathBuf {
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    fs::create_dir_all(root).expect("create target tmp dir");
    let lock =
        fs::File::create(root.join(format!("{package}.lock"))).expect("create apt lock file");
    lock.lock().expect("lock apt provisioning");
    let works = || {
        Command::new(binary)
            .args(probe)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if works() {
        return PathBuf::from(binary);
    }
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    assert!(
        root_user,
        "MISSING TEST DEPENDENCY: {binary} is not installed and this is not root; run `apt-get install {package}`"
    );
    // One apt-get at a time over all packages (dpkg's own lock).
    let apt_lock = fs::File::create(root.join("apt.lock")).expect("create apt lock file");
    apt_lock.lock().expect("lock apt");
    let apt = |args: &[&str]| {
        let mut c = Command::new("apt-get");
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    if !apt(&["install", "-y", "-q", package])
        .output()
        .is_ok_and(|o| o.status.success())
    {
        run(&mut apt(&["update", "-q"]));
        run(&mut apt(&["install", "-y", "-q", package]));
    }
    assert!(
        works(),
        "MISSING TEST DEPENDENCY: `apt-get install {package}` ran but `{binary}` still fails"
    );
    PathBuf::from(binary)
}
