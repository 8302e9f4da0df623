//! The transfer test bench: a connected registry with a signed version, an
//! isolated registry that trusts its exporter and approvers, and tools to
//! take a bundle apart and forge new ones with test keys.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use base64::Engine as _;
use predicates::prelude::*;

use crate::util::Env;

/// A connected registry with a signed version, and an isolated registry
/// that trusts the exporter and the approvers.
pub(crate) struct Gap {
    pub(crate) env: Env,
    pub(crate) iso: PathBuf,
    pub(crate) keys: PathBuf,
    pub(crate) bundle: PathBuf,
}

pub(crate) fn keygen(env: &Env, keys: &Path, who: &str) {
    env.cmd()
        .args(["keys", "generate", "--name", who, "--out"])
        .arg(keys.join(who))
        .assert()
        .success();
}

impl Gap {
    /// `signers` approve on the connected side; the isolated side trusts
    /// the exporter and `trusted` approvers and requires `policy` approvals.
    pub(crate) fn new(signers: &[&str], trusted: &[&str], policy: u32) -> Gap {
        let g = Gap::bare(signers);
        g.iso()
            .args(["trust", "add", "--name", "exporter", "--role", "exporter"])
            .arg(g.keys.join("exporter.pub"))
            .assert()
            .success();
        for who in trusted {
            g.iso()
                .args(["trust", "add", "--name", who])
                .arg(g.keys.join(format!("{who}.pub")))
                .assert()
                .success();
        }
        g.iso()
            .args(["trust", "policy", "--approvals", &policy.to_string()])
            .assert()
            .success();
        g
    }

    /// The connected side with `acme/m` approved by `signers` and exported;
    /// an isolated registry that trusts nothing yet.
    pub(crate) fn bare(signers: &[&str]) -> Gap {
        let env = Env::new();
        let keys = env.path("keys");
        for who in [
            "alice",
            "bob",
            "carol",
            "exporter",
            "exporter2",
            "root1",
            "root2",
            "root3",
        ] {
            keygen(&env, &keys, who);
        }
        let model = env.model("m", 40);
        env.cmd()
            .arg("import")
            .arg(&model)
            .args(["--name", "acme/m", "--owner", "ops"])
            .assert()
            .success();
        let bundle = env.path("m.airlock");
        let signer_keys: Vec<PathBuf> = signers
            .iter()
            .map(|who| keys.join(format!("{who}.key")))
            .collect();
        env.sign_and_export("acme/m", &signer_keys, &keys.join("exporter.key"), &bundle);
        let g = Gap {
            iso: env.path("isolated"),
            env,
            keys,
            bundle,
        };
        g.iso()
            .args(["init", "--name", "isolated"])
            .assert()
            .success();
        g
    }

    /// The connected registry's name: the origin of its bundles.
    pub(crate) fn origin(&self) -> String {
        self.env.json(&["show", "acme/m"])["registry"]
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A key file of the bench (`who.key` / `who.pub`).
    pub(crate) fn key(&self, file: &str) -> PathBuf {
        self.keys.join(file)
    }

    /// The isolated side's JSON output of `args`.
    pub(crate) fn iso_json(&self, args: &[&str]) -> serde_json::Value {
        self.env.json_at(&self.iso, args)
    }

    /// Import a new model version on the connected side (files of `seed`)
    /// and export it signed by `exporter`, approved by `signers`.
    pub(crate) fn export_new(
        &self,
        name: &str,
        seed: u64,
        signers: &[&str],
        exporter: &str,
        out: &str,
    ) -> PathBuf {
        let model = self.env.model(&format!("src-{out}"), seed);
        self.env
            .cmd()
            .arg("import")
            .arg(&model)
            .args(["--name", name])
            .assert()
            .success();
        let bundle = self.path(out);
        let keys: Vec<PathBuf> = signers
            .iter()
            .map(|w| self.key(&format!("{w}.key")))
            .collect();
        self.env
            .sign_and_export(name, &keys, &self.key(&format!("{exporter}.key")), &bundle);
        bundle
    }

    /// Everything a refused import must leave as it was: versions, blobs,
    /// the event log, the trust store.
    pub(crate) fn state(&self) -> (serde_json::Value, usize, usize, serde_json::Value) {
        let versions = self.iso_json(&["list"]);
        let events = self.iso_json(&["log"])["events"].as_array().unwrap().len();
        let trust = self.iso_json(&["trust", "list"]);
        (versions, self.iso_blobs(), events, trust)
    }

    pub(crate) fn iso(&self) -> Command {
        self.env.cmd_at(&self.iso)
    }

    pub(crate) fn iso_listed(&self) -> usize {
        let out = self.iso().args(["--json", "list"]).output().unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v["versions"].as_array().unwrap().len()
    }

    pub(crate) fn iso_blobs(&self) -> usize {
        walkdir::WalkDir::new(self.iso.join("store/sha256"))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .count()
    }

    /// Import must be refused with exit 3, a message containing `needle`,
    /// and nothing of it left in the isolated registry.
    pub(crate) fn refused(&self, bundle: &Path, needle: &str) {
        let before_versions = self.iso_listed();
        let before_blobs = self.iso_blobs();
        self.iso()
            .arg("import")
            .arg(bundle)
            .assert()
            .code(3)
            .stderr(predicate::str::contains(needle));
        assert_eq!(
            self.iso_listed(),
            before_versions,
            "no version became visible"
        );
        assert_eq!(
            self.iso_blobs(),
            before_blobs,
            "no blob was left in the store"
        );
        assert_eq!(
            fs::read_dir(self.iso.join("store/tmp")).unwrap().count(),
            0,
            "no staging left"
        );
        self.iso().arg("fsck").assert().success();
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.env.path(name)
    }
}

/// The members of a bundle, in order, as (name, bytes).
pub(crate) fn members(bundle: &Path) -> Vec<(String, Vec<u8>)> {
    let mut a = tar::Archive::new(fs::File::open(bundle).unwrap());
    a.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let name = e.path().unwrap().to_string_lossy().into_owned();
            let mut b = Vec::new();
            e.read_to_end(&mut b).unwrap();
            (name, b)
        })
        .collect()
}

/// A raw ustar header with any name bytes, type and size.
pub(crate) fn raw_header(name: &[u8], size: u64, kind: u8) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.as_old_mut().linkflag = [kind];
    h.set_cksum();
    h
}

/// Write members as a tar; each entry is (header, data).
pub(crate) fn write_tar(path: &Path, entries: &[(tar::Header, Vec<u8>)]) {
    let mut out = Vec::new();
    for (h, d) in entries {
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(d);
        let pad = (512 - d.len() % 512) % 512;
        out.extend(std::iter::repeat_n(0u8, pad));
    }
    out.extend(std::iter::repeat_n(0u8, 1024));
    fs::write(path, out).unwrap();
}

pub(crate) fn plain(members: &[(String, Vec<u8>)]) -> Vec<(tar::Header, Vec<u8>)> {
    members
        .iter()
        .map(|(n, b)| (raw_header(n.as_bytes(), b.len() as u64, b'0'), b.clone()))
        .collect()
}

pub(crate) fn sign_index(index: &[u8], key: &Path) -> Vec<u8> {
    use airlock::signing::KeySource;
    let k = airlock::signing::FileKey::load(key).unwrap();
    let sig = k
        .sign(&airlock::signing::pae(
            airlock::bundle::INDEX_PAYLOAD_TYPE,
            index,
        ))
        .unwrap();
    serde_json::to_vec(&serde_json::json!({
        "payloadType": airlock::bundle::INDEX_PAYLOAD_TYPE,
        "signatures": [{"keyid": k.public_key().id().to_hex(), "sig": base64::engine::general_purpose::STANDARD.encode(sig)}]
    }))
    .unwrap()
}

/// Rewrite a bundle: edit the members and the index, refresh the listed
/// sizes and digests, and re-sign the index with `signer`.
pub(crate) fn forge(
    g: &Gap,
    out: &str,
    signer: &str,
    edit_members: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
    edit_index: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    forge_from(g, &g.bundle, out, signer, edit_members, edit_index)
}

/// [`forge`] from another bundle than the bench's own.
pub(crate) fn forge_from(
    g: &Gap,
    base: &Path,
    out: &str,
    signer: &str,
    edit_members: impl FnOnce(&mut Vec<(String, Vec<u8>)>),
    edit_index: impl FnOnce(&mut serde_json::Value),
) -> PathBuf {
    let mut ms = members(base);
    let at = ms.iter().position(|(n, _)| n == "index.json").unwrap();
    let roots: Vec<(String, Vec<u8>)> = ms.drain(..at).collect();
    let mut index: serde_json::Value = serde_json::from_slice(&ms[0].1).unwrap();
    let mut body: Vec<(String, Vec<u8>)> = ms.drain(2..).collect();
    edit_members(&mut body);
    for m in index["members"].as_array_mut().unwrap() {
        if let Some((_, b)) = body.iter().find(|(n, _)| n == m["name"].as_str().unwrap()) {
            m["size"] = b.len().into();
            m["sha256"] = crate::util::sha256_hex(b).into();
        }
    }
    edit_index(&mut index);
    let index_bytes = serde_json::to_vec_pretty(&index).unwrap();
    let sig = sign_index(&index_bytes, &g.keys.join(format!("{signer}.key")));
    let mut all = roots;
    all.push(("index.json".to_string(), index_bytes));
    all.push(("index.sig".to_string(), sig));
    all.extend(body);
    let p = g.path(out);
    write_tar(&p, &plain(&all));
    p
}

pub(crate) fn statement_member(ms: &mut [(String, Vec<u8>)]) -> &mut (String, Vec<u8>) {
    ms.iter_mut()
        .find(|(n, _)| n.starts_with("statements/"))
        .unwrap()
}
