//! The test environment: a temp folder with a registry home, a ready `cmd()`
//! for the real binary, and builders for model folders in every layout the
//! import understands (plain, Hugging Face cache repo, snapshot, local-dir).

use std::fs;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use sha2::{Digest, Sha256};

pub(crate) struct Env {
    pub(crate) tmp: tempfile::TempDir,
    pub(crate) home: PathBuf,
}

impl Env {
    pub(crate) fn new() -> Env {
        let tmp = tempfile::tempdir().expect("temp dir");
        let home = tmp.path().join("home");
        Env { tmp, home }
    }

    pub(crate) fn path(&self, rel: &str) -> PathBuf {
        self.tmp.path().join(rel)
    }

    /// The real binary, pointed at this env's home, no progress output.
    pub(crate) fn cmd(&self) -> Command {
        self.cmd_at(&self.home)
    }

    /// The real binary pointed at another home (the isolated side).
    pub(crate) fn cmd_at(&self, home: &Path) -> Command {
        let mut c = Command::cargo_bin("airlock").expect("binary built");
        c.env_remove("AIRLOCK_HOME")
            .arg("--home")
            .arg(home)
            .arg("--no-progress")
            .timeout(std::time::Duration::from_secs(120));
        c
    }

    /// Approve `reference` with each of `signers` (private key files), then
    /// export it signed by `exporter` to `out`.
    pub(crate) fn sign_and_export(
        &self,
        reference: &str,
        signers: &[PathBuf],
        exporter: &Path,
        out: &Path,
    ) {
        for key in signers {
            self.cmd()
                .args(["sign", reference, "--key"])
                .arg(key)
                .assert()
                .success();
        }
        self.cmd()
            .args(["export", reference, "--key"])
            .arg(exporter)
            .arg("--out")
            .arg(out)
            .assert()
            .success();
    }

    /// Approve `reference` with a key `alice` and export it signed by a key
    /// `exporter` (both made under `keys/` if missing); returns an isolated
    /// home `iso` that trusts both, and the bundle.
    pub(crate) fn cross(&self, reference: &str) -> (PathBuf, PathBuf) {
        let keys = self.path("keys");
        for who in ["alice", "exporter"] {
            if !keys.join(format!("{who}.key")).exists() {
                crate::gap::keygen(self, &keys, who);
            }
        }
        let bundle = self.path("crossing.airlock");
        self.sign_and_export(
            reference,
            &[keys.join("alice.key")],
            &keys.join("exporter.key"),
            &bundle,
        );
        let iso = self.path("iso");
        self.cmd_at(&iso)
            .args(["trust", "add", "--role", "exporter", "--name", "exp"])
            .arg(keys.join("exporter.pub"))
            .assert()
            .success();
        self.cmd_at(&iso)
            .args(["trust", "add", "--name", "alice"])
            .arg(keys.join("alice.pub"))
            .assert()
            .success();
        (iso, bundle)
    }

    /// Run with `--json` and parse stdout.
    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        self.json_at(&self.home, args)
    }

    /// Run with `--json` against another home and parse stdout.
    pub(crate) fn json_at(&self, home: &Path, args: &[&str]) -> serde_json::Value {
        let out = self
            .cmd_at(home)
            .arg("--json")
            .args(args)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "airlock {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("stdout is one JSON document")
    }

    /// A generated demo model folder.
    pub(crate) fn model(&self, rel: &str, seed: u64) -> PathBuf {
        let dir = self.path(rel);
        airlock::demo::write_model(&dir, seed).expect("write model");
        dir
    }

    /// Names of the versions in `list --json`.
    pub(crate) fn listed(&self) -> Vec<String> {
        if !self.home.join("registry.db").exists() {
            return Vec::new();
        }
        let v = self.json(&["list"]);
        v["versions"]
            .as_array()
            .expect("versions array")
            .iter()
            .map(|r| {
                format!(
                    "{}@{}",
                    r["name"].as_str().unwrap(),
                    r["version"].as_str().unwrap()
                )
            })
            .collect()
    }

    /// Blob files present in the store.
    pub(crate) fn blob_count(&self) -> usize {
        let root = self.home.join("store/sha256");
        if !root.exists() {
            return 0;
        }
        walkdir::WalkDir::new(root)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count()
    }

    pub(crate) fn blob_path(&self, sha: &str) -> PathBuf {
        self.home
            .join("store/sha256")
            .join(&sha[..2])
            .join(&sha[2..])
    }
}

pub(crate) fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

pub(crate) fn git_blob_sha1(b: &[u8]) -> String {
    use sha1::Digest as _;
    let mut h = sha1::Sha1::new();
    h.update(format!("blob {}\0", b.len()).as_bytes());
    h.update(b);
    hex::encode(h.finalize())
}

/// Flip one byte of a file in place, whatever its permissions (the demo's
/// own tamper, so tests and demo break files the same way).
pub(crate) fn flip_byte(path: &Path, offset: u64) {
    airlock::demo::flip_byte(path, offset).expect("flip a byte");
}

/// Wait until a running airlock is visibly writing into `tmp` (a store's
/// temp folder), then kill it. Fails the test if it finished first.
pub(crate) fn kill_while_writing(child: &mut std::process::Child, tmp: &Path) {
    let start = std::time::Instant::now();
    loop {
        let writing = fs::read_dir(tmp)
            .map(|d| {
                d.filter_map(Result::ok)
                    .any(|e| e.metadata().map(|m| m.len() > 0).unwrap_or(false))
            })
            .unwrap_or(false);
        if writing {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be interrupted"
        );
        assert!(
            start.elapsed() < std::time::Duration::from_secs(60),
            "the import never started writing"
        );
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    child.kill().unwrap();
    assert!(
        !child.wait().unwrap().success(),
        "the import was killed, not finished"
    );
}

/// Write `n` files of `mib` MiB (+4 bytes) of varied bytes into `dir`.
pub(crate) fn big_files(dir: &Path, n: usize, mib: u32, mult: u32) {
    fs::create_dir_all(dir).unwrap();
    let chunk: Vec<u8> = (0..(1u32 << 20))
        .map(|i| (i.wrapping_mul(mult) >> 11) as u8)
        .collect();
    for i in 0..n {
        let mut f = fs::File::create(dir.join(format!("part-{i}.dat"))).unwrap();
        for j in 0..mib {
            std::io::Write::write_all(&mut f, &chunk).unwrap();
            std::io::Write::write_all(&mut f, &j.to_le_bytes()).unwrap();
        }
    }
}

/// A small model as `(path, bytes, stored in LFS)`.
pub(crate) fn hf_files() -> Vec<(&'static str, Vec<u8>, bool)> {
    let mut st = Vec::new();
    let header = br#"{"w":{"dtype":"F32","shape":[4,4],"data_offsets":[0,64]}}      "#;
    st.extend_from_slice(&(header.len() as u64).to_le_bytes());
    st.extend_from_slice(header);
    st.extend((0..64u8).map(|i| i.wrapping_mul(7)));
    vec![
        ("model.safetensors", st, true),
        (
            "config.json",
            b"{\"model_type\": \"llama\"}\n".to_vec(),
            false,
        ),
        ("tokenizer/vocab.txt", b"hello\nworld\n".to_vec(), false),
        (
            "README.md",
            b"---\nlicense: mit\n---\n# m\n".to_vec(),
            false,
        ),
    ]
}

pub(crate) const REV: &str = "0123456789abcdef0123456789abcdef01234567";

fn upstream_name(bytes: &[u8], lfs: bool) -> String {
    if lfs {
        sha256_hex(bytes)
    } else {
        git_blob_sha1(bytes)
    }
}

/// A Hugging Face cache repo folder `models--org--name` under `root`.
pub(crate) fn make_hf_cache(root: &Path, repo: &str, files: &[(&str, Vec<u8>, bool)]) -> PathBuf {
    let dir = root.join(format!("models--{}", repo.replace('/', "--")));
    fs::create_dir_all(dir.join("blobs")).unwrap();
    fs::create_dir_all(dir.join("refs")).unwrap();
    fs::write(dir.join("refs/main"), REV).unwrap();
    let snap = dir.join("snapshots").join(REV);
    for (path, bytes, lfs) in files {
        let blob = upstream_name(bytes, *lfs);
        fs::write(dir.join("blobs").join(&blob), bytes).unwrap();
        let link = snap.join(path);
        fs::create_dir_all(link.parent().unwrap()).unwrap();
        let depth = path.matches('/').count();
        let target = format!("{}../../blobs/{blob}", "../".repeat(depth));
        std::os::unix::fs::symlink(target, &link).unwrap();
    }
    dir
}

/// A `huggingface-cli download --local-dir` folder under `root`.
pub(crate) fn make_local_dir(root: &Path, files: &[(&str, Vec<u8>, bool)]) -> PathBuf {
    let dir = root.join("local-dir");
    for (path, bytes, lfs) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, bytes).unwrap();
        let m = dir
            .join(".cache/huggingface/download")
            .join(format!("{path}.metadata"));
        fs::create_dir_all(m.parent().unwrap()).unwrap();
        fs::write(
            &m,
            format!("{REV}\n{}\n1732900000.5\n", upstream_name(bytes, *lfs)),
        )
        .unwrap();
    }
    dir
}

/// The hub's tree listing for `files`, as `trees/<rev>.json` would hold it.
pub(crate) fn tree_json(files: &[(&str, Vec<u8>, bool)]) -> String {
    let entries: Vec<serde_json::Value> = files
        .iter()
        .map(|(p, b, lfs)| {
            let mut e = serde_json::json!({
                "type": "file", "path": p, "size": b.len(), "oid": git_blob_sha1(b)
            });
            if *lfs {
                e["lfs"] =
                    serde_json::json!({"oid": sha256_hex(b), "size": b.len(), "pointerSize": 134});
            }
            e
        })
        .collect();
    serde_json::to_string(&entries).unwrap()
}

/// A CA (`ca.pem`, `ca.key`) and a leaf certificate it issued (`leaf.pem`,
/// `leaf.key`, subject `CN=<cn>`, `ext`: the leaf's extensions), EC P-256,
/// made with openssl under `dir`.
pub(crate) fn make_pki(dir: &Path, cn: &str, ext: &str) {
    fs::create_dir_all(dir).unwrap();
    let ssl = |args: &[&str]| {
        let out = std::process::Command::new(crate::peers::openssl())
            .current_dir(dir)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    let mut a = vec!["req", "-x509"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "3",
        "-subj",
        "/CN=airlock test CA",
    ]);
    ssl(&a);
    let subj = format!("/CN={cn}");
    let mut a = vec!["req"];
    a.extend(ec);
    a.extend([
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        subj.as_str(),
    ]);
    ssl(&a);
    fs::write(dir.join("ext"), ext).unwrap();
    ssl(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]);
}
