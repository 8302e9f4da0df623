//! `airlock demo`: the whole story on a generated model, across two
//! registries (connected and isolated), as one library function. Each step
//! is reported as it happens; the scenario itself decides whether every
//! tamper was caught and every clean copy verified.
//!
//! Everything happens under one folder (given, or a temporary one removed
//! afterwards): the download, the keys, both registry homes, the bundle, the
//! serving copies. The user's own home is never touched.

use std::fs::OpenOptions;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::bundle::export::{ExportOptions, export};
use crate::checkout::{CheckoutLayout, CheckoutOptions, checkout};
use crate::error::{Class, Error, Result};
use crate::finding::FindingKind;
use crate::formats::Format;
use crate::import::{ImportOptions, import_dir};
use crate::progress::NoProgress;
use crate::records::{DeployStatus, Disclosure, Role};
use crate::registry::Registry;
use crate::signing::FileKey;
use crate::verify::{verify_path, verify_store};

/// One step of the story, as it is shown.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// 1, 2, …
    pub step: usize,
    /// What is being done, with the command it stands for.
    pub title: String,
    /// What came of it (several lines).
    pub outcome: String,
}

/// How the story turned out.
#[derive(Debug, Serialize)]
pub struct DemoReport {
    /// Where it ran.
    pub dir: String,
    /// True when the folder was temporary and has been removed.
    pub temporary: bool,
    /// True when every tamper was caught and every clean copy verified.
    pub ok: bool,
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Flip one bit of one byte of a file in place, whatever its permissions
/// (the demo's tamper, also used by the tests).
pub fn flip_byte(path: &Path, offset: u64) -> Result<()> {
    let io = |op: &'static str| move |e| Error::io(op, path, e);
    let mode = std::fs::metadata(path)
        .map_err(io("stat"))?
        .permissions()
        .mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(io("make writable"))?;
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io("open"))?;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset)).map_err(io("seek"))?;
    f.read_exact(&mut b).map_err(io("read"))?;
    f.seek(SeekFrom::Start(offset)).map_err(io("seek"))?;
    f.write_all(&[b[0] ^ 0x20]).map_err(io("write"))?;
    f.sync_all().map_err(io("fsync"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(io("restore mode"))?;
    Ok(())
}

/// A size for people (binary units).
fn size(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u < UNITS.len() - 1 {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

struct Story<'a> {
    steps: Vec<Step>,
    emit: &'a mut dyn FnMut(&Step),
}

impl Story<'_> {
    fn step(&mut self, title: &str, outcome: String) {
        let s = Step {
            step: self.steps.len() + 1,
            title: title.into(),
            outcome,
        };
        (self.emit)(&s);
        self.steps.push(s);
    }
}

/// Run the story in `dir` (new or empty), or in a temporary folder that is
/// removed afterwards. `emit` sees each step as it completes.
pub fn run(dir: Option<&Path>, emit: &mut dyn FnMut(&Step)) -> Result<DemoReport> {
    let tmp;
    let root: PathBuf = match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| Error::io("create directory", d, e))?;
            let mut entries =
                std::fs::read_dir(d).map_err(|e| Error::io("read directory", d, e))?;
            if entries.next().is_some() {
                return Err(Error::input(format!(
                    "`{}` is not empty; the demo needs a new or empty folder",
                    d.display()
                )));
            }
            d.to_path_buf()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| Error::io("create temp folder", "$TMPDIR", e))?;
            tmp.path().to_path_buf()
        }
    };
    let mut story = Story {
        steps: Vec::new(),
        emit,
    };
    let ok = scenario(&root, &mut story)?;
    Ok(DemoReport {
        dir: root.display().to_string(),
        temporary: dir.is_none(),
        ok,
        steps: story.steps,
    })
}

/// The steps; returns whether every check came out as it must.
fn scenario(root: &Path, s: &mut Story<'_>) -> Result<bool> {
    // 1. A download arrives.
    let download = root.join("downloads/acme-tiny-llama");
    let files = super::write_model(&download, 7)?;
    let bytes: u64 = files
        .iter()
        .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    s.step(
        "a model is downloaded on the connected side",
        format!(
            "{} files, {} in {}",
            files.len(),
            size(bytes),
            download.display()
        ),
    );

    // 2. Keys for two reviewers and the exporter.
    let keys = root.join("keys");
    let mut ids = Vec::new();
    for who in ["alice", "bob", "exporter"] {
        let g = crate::signing::generate(&keys.join(who), Some(who))?;
        ids.push(format!("{who:<9} {}", g.key_id));
    }
    s.step(
        "airlock keys generate: two reviewers and an exporter (ed25519)",
        ids.join("\n"),
    );

    // 3. Import on the connected side.
    let home = root.join("connected");
    let mut reg = Registry::init(&home, Some("connected"))?.0;
    let opts = ImportOptions {
        name: "acme/tiny-llama".parse()?,
        version: None,
        source_url: Some("https://huggingface.co/acme/tiny-llama".into()),
        revision: None,
        license_id: None,
        license_file: None,
        disclosure: Disclosure::Partial,
        data_notes: Some("synthetic noise; no training data".into()),
        owner: Some("ml-platform@example.org".into()),
        link: false,
        allow_unsafe: None,
    };
    let out = import_dir(&mut reg, &download, &opts, &NoProgress)?;
    let v = reg.resolve(&"acme/tiny-llama".parse()?)?;
    let recs = reg.files(&v)?;
    let listing: Vec<String> = recs
        .iter()
        .map(|f| {
            format!(
                "{:<12} {:>10}  {}  {}",
                f.format,
                size(f.size),
                f.sha256.short(16),
                f.path
            )
        })
        .collect();
    s.step(
        "connected: airlock import — every byte hashed once, stored by content, recorded",
        format!(
            "{}@{}  manifest sha256:{}\nlicence {} (from the model card), text kept from LICENSE; owner {}\n{}",
            out.name,
            out.version,
            out.manifest_digest,
            out.license_id.as_deref().unwrap_or("-"),
            opts.owner.as_deref().unwrap_or("-"),
            listing.join("\n")
        ),
    );

    // 4. Two approvals.
    let mut lines = Vec::new();
    for who in ["alice", "bob"] {
        let key = FileKey::load(&keys.join(format!("{who}.key")))?;
        let (a, _) = crate::trust::sign(&mut reg, &v, &key)?;
        lines.push(format!(
            "{} signed the statement ({})",
            a.name,
            a.key_id.short()
        ));
    }
    s.step(
        "connected: airlock sign — two reviewers approve",
        lines.join("\n"),
    );

    // 5. Export.
    let transfer = root.join("transfer");
    std::fs::create_dir_all(&transfer).map_err(|e| Error::io("create directory", &transfer, e))?;
    let bundle = transfer.join("tiny-llama.airlock");
    let exporter = FileKey::load(&keys.join("exporter.key"))?;
    let ex = export(
        &reg,
        std::slice::from_ref(&v),
        &exporter,
        &ExportOptions::new(bundle.clone()),
        &NoProgress,
    )?;
    s.step(
        "connected: airlock export — one signed bundle for the disc",
        format!(
            "{} ({} blobs, {}), sequence {}, expires {}",
            bundle.display(),
            ex.blobs,
            size(ex.bytes),
            ex.sequence,
            ex.expires
        ),
    );

    // 6. The isolated side trusts the exporter and both reviewers, needs two approvals.
    let mut iso = Registry::init(&root.join("isolated"), Some("isolated"))?.0;
    crate::trust::add(
        &iso,
        &keys.join("exporter.pub"),
        "exporter",
        Role::Exporter,
        None,
        false,
    )?;
    crate::trust::add(
        &iso,
        &keys.join("alice.pub"),
        "alice",
        Role::Approver,
        None,
        false,
    )?;
    crate::trust::add(
        &iso,
        &keys.join("bob.pub"),
        "bob",
        Role::Approver,
        None,
        false,
    )?;
    crate::trust::set_approvals_required(&iso, 2, false)?;
    s.step(
        "isolated: airlock trust add / trust policy --approvals 2",
        "exporter trusted to sign bundles; alice and bob trusted to approve; two approvals required".into(),
    );

    // 7. A tampered copy of the disc is refused.
    let tampered = transfer.join("tampered.airlock");
    std::fs::copy(&bundle, &tampered).map_err(|e| Error::io("copy", &tampered, e))?;
    let len = std::fs::metadata(&tampered)
        .map_err(|e| Error::io("stat", &tampered, e))?
        .len();
    flip_byte(&tampered, len - 1024 - 4096)?;
    let refused =
        crate::bundle::import::import_bundle(&mut iso, &tampered, &Default::default(), &NoProgress);
    let caught_bundle = matches!(&refused, Err(e) if e.class() == Class::Integrity);
    s.step(
        "isolated: airlock import of a copy with one flipped byte",
        match &refused {
            Err(e) => format!("refused (exit {}): {e}", e.class().exit_code()),
            Ok(_) => "ACCEPTED — this should not happen".into(),
        },
    );
    let nothing_visible = iso.versions()?.is_empty();

    // 8. The genuine bundle is accepted.
    let got =
        crate::bundle::import::import_bundle(&mut iso, &bundle, &Default::default(), &NoProgress)?;
    let iv = iso.resolve(&"acme/tiny-llama".parse()?)?;
    let (_, live) = crate::trust::approval_status(&iso, &iv)?;
    s.step(
        "isolated: airlock import of the genuine bundle",
        format!(
            "exporter signature, sequence, expiry, {live} approvals and every byte verified; {}@{} visible, manifest sha256:{}",
            iv.name, iv.label, iv.manifest_digest
        ) + if got.new_blobs > 0 { "" } else { " (nothing new)" },
    );

    // 9. Checkout where the serving engine loads it, and check the copy.
    let serving = root.join("serving/tiny-llama");
    let plain = CheckoutOptions {
        link: false,
        layout: CheckoutLayout::Plain,
        force: false,
        allow_unsafe: None,
    };
    let co = checkout(&iso, &iv, &serving, plain.clone(), &NoProgress)?;
    let pr = verify_path(&iso, &serving, &iv, &NoProgress)?;
    s.step(
        "isolated: airlock checkout — a verified read-only copy for the serving engine",
        format!(
            "{} files at {}; verify --path: {} of {} match",
            co.files, co.path, pr.ok, pr.files
        ),
    );

    // 10. Someone edits the deployed copy.
    let shard = recs
        .iter()
        .find(|f| f.format == Format::Safetensors)
        .ok_or_else(|| Error::input("the demo model has no safetensors shard"))?;
    flip_byte(&shard.path.under(&serving), shard.size / 2)?;
    let pr = verify_path(&iso, &serving, &iv, &NoProgress)?;
    let caught_copy = pr
        .findings
        .iter()
        .any(|f| f.path == shard.path.as_str() && f.kind == FindingKind::Modified);
    s.step(
        "isolated: one byte of the deployed copy is flipped — airlock verify --path",
        pr.findings
            .iter()
            .map(|f| {
                format!(
                    "{} {}: {}",
                    f.kind.as_str().to_uppercase(),
                    f.path,
                    f.detail
                )
            })
            .collect::<Vec<_>>()
            .join("\n"),
    );

    // 11. Someone edits the connected store; a re-import heals it.
    flip_byte(&reg.store().blob_path(&shard.sha256), 100)?;
    let r = verify_store(&reg, std::slice::from_ref(&v), false, &NoProgress)?;
    let caught_store = r.findings.iter().any(|f| f.path == shard.path.as_str());
    let store_findings = r.findings.len();
    let again = import_dir(&mut reg, &download, &opts, &NoProgress)?;
    let healed = verify_store(&reg, std::slice::from_ref(&v), true, &NoProgress)?;
    s.step(
        "connected: one byte of a stored blob is flipped — airlock verify, then the download is imported again",
        format!(
            "verify: {} finding(s) naming {}; re-import created a version: {}; verify --deep afterwards: {} finding(s)",
            store_findings,
            shard.path,
            again.created,
            healed.findings.len()
        ),
    );

    // 12. A Hugging Face cache layout for offline loaders.
    let hf = root.join("serving/hf-cache");
    let hf_opts = CheckoutOptions {
        layout: CheckoutLayout::Hf,
        ..plain.clone()
    };
    let co = checkout(&iso, &iv, &hf, hf_opts, &NoProgress)?;
    s.step(
        "isolated: airlock checkout --layout hf — a cache repo HF_HUB_OFFLINE=1 loaders find",
        format!("HF_HUB_CACHE={}\nsnapshot {}", co.path, co.model_path),
    );

    // 13. Deploy and audit.
    let prod = root.join("serving/prod/tiny-llama");
    let t = crate::deploy::Target {
        host: None,
        environment: Some("prod".into()),
        note: Some("demo".into()),
    };
    let (_, d) = crate::deploy::deploy(&mut iso, &iv, &prod, &t, plain, &NoProgress)?;
    let audit = crate::deploy::audit(&iso, None, None, true, &NoProgress)?;
    let rows: Vec<String> = audit
        .deployments
        .iter()
        .map(|r| {
            format!(
                "{} {} {}@{} [{}] licence {} ({}), approved by {}, deployed {} by {}: {}",
                r.host,
                r.path,
                r.name,
                r.version,
                r.environment.as_deref().unwrap_or("-"),
                r.license.as_deref().unwrap_or("-"),
                r.license_verdict,
                r.approvals.join(", "),
                r.deployed_at,
                r.deployed_by,
                r.status.as_str().to_uppercase()
            )
        })
        .collect();
    let audited = audit
        .deployments
        .iter()
        .any(|r| r.deployment_id == d.id && r.status == DeployStatus::Ok);
    s.step(
        "isolated: airlock deploy --env prod, then airlock audit --verify",
        rows.join("\n"),
    );
    let log = crate::log::verify::verify(&iso)?;
    s.step(
        "isolated: airlock log --verify — the hash-chained record of every change",
        format!(
            "{} events, chain intact: {}",
            log.events,
            log.findings.is_empty()
        ),
    );

    Ok(caught_bundle
        && nothing_visible
        && live == 2
        && caught_copy
        && caught_store
        && healed.findings.is_empty()
        && !again.created
        && audited
        && log.findings.is_empty())
}
