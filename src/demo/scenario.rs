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
use crate::records::{DeployStatus, Disclosure};
use crate::registry::Registry;
use crate::signing::{FileKey, PublicKey};
use crate::trust::chain::{self, InitSpec, RootEdit};
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

    // 2. Keys: two root holders, two reviewers, the exporter and its
    //    successor.
    let keys = root.join("keys");
    let mut ids = Vec::new();
    for who in [
        "root-carol",
        "root-dave",
        "alice",
        "bob",
        "exporter",
        "exporter-2027",
    ] {
        let g = crate::signing::generate(&keys.join(who), Some(who))?;
        ids.push(format!("{who:<13} {}", g.key_id));
    }
    s.step(
        "airlock keys generate: two root holders, two reviewers, an exporter and its successor (ed25519)",
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
        oms_signature: None,
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

    // 4b. A second revision: what changed, and the alias that moves.
    let download2 = root.join("downloads/acme-tiny-llama-r2");
    super::write_model(&download2, 8)?;
    let out2 = import_dir(&mut reg, &download2, &opts, &NoProgress)?;
    let v2 = reg.resolve(&format!("acme/tiny-llama@{}", out2.version).parse()?)?;
    crate::alias::set(&reg, "prod", &v)?;
    crate::alias::set(&reg, "prod", &v2)?;
    let d = crate::diff::diff(&reg, &v, &v2)?;
    let prod = reg.resolve(&"acme/tiny-llama@prod".parse()?)?;
    let history = crate::alias::history(&reg, &v.name, Some("prod"))?;
    s.step(
        "connected: a second revision — airlock diff, and airlock alias set moving `prod`",
        format!(
            "{} → {}: {} file(s) changed, {} unchanged, {} tensor(s) with another dtype or shape
acme/tiny-llama@prod is now {} ({} changes in the log: {})",
            d.from,
            d.to,
            d.files.len(),
            d.unchanged_files,
            d.tensors.len(),
            prod.label,
            history.len(),
            history
                .iter()
                .map(|c| format!("{} {}", c.change, c.version.as_deref().unwrap_or("-")))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let alias_moved = prod.id == v2.id && history.len() == 2;

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

    // 6. The trust root ceremony: made on the connected side, installed on
    //    the isolated side from the disc.
    let spec = InitSpec {
        root_keys: vec![keys.join("root-carol.pub"), keys.join("root-dave.pub")],
        threshold: 2,
        exporters: vec![(keys.join("exporter.pub"), Some(vec!["connected".into()]))],
        origins: Vec::new(),
        approvers: vec![keys.join("alice.pub"), keys.join("bob.pub")],
        approvals: Some(2),
        expires_in_days: chain::DEFAULT_ROOT_DAYS,
    };
    let root1 = transfer.join("root-1.json");
    let made = chain::init(&reg, &spec, Some(&root1))?;
    let mut iso = Registry::init(&root.join("isolated"), Some("isolated"))?.0;
    let installed = chain::install(&iso, &root1)?;
    s.step(
        "airlock trust init: the root ceremony (connected side), then `trust init --root` (isolated side)",
        format!(
            "root version {}: root keys carol + dave (2 of 2), exporter for `connected`, approvers alice + bob, 2 approvals required\npayload sha256 {} here, {} there — compared out of band",
            installed.version, made.payload_sha256, installed.payload_sha256
        ),
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

    // 8b. The second revision crosses as a delta: the isolated side says
    //     what it holds, the connected side leaves that out.
    let holdings = transfer.join("holdings.json");
    crate::bundle::holdings::write(&iso, &holdings, None)?;
    let (_, held, _) = crate::bundle::holdings::read_blobs(&reg, &holdings)?;
    for who in ["alice", "bob"] {
        let key = FileKey::load(&keys.join(format!("{who}.key")))?;
        crate::trust::sign(&mut reg, &v2, &key)?;
    }
    let delta = transfer.join("tiny-llama-v2.delta.airlock");
    let mut dopts = ExportOptions::new(delta.clone());
    dopts.delta_against = Some(held);
    let dx = export(
        &reg,
        std::slice::from_ref(&v2),
        &exporter,
        &dopts,
        &NoProgress,
    )?;
    let delta_size = std::fs::metadata(&delta)
        .map_err(|e| Error::io("stat", &delta, e))?
        .len();
    let dgot =
        crate::bundle::import::import_bundle(&mut iso, &delta, &Default::default(), &NoProgress)?;
    let iso_prod = iso.resolve(&"acme/tiny-llama@prod".parse()?)?;
    s.step(
        "isolated: airlock holdings; connected: airlock export --delta-against; isolated: import of the delta",
        format!(
            "{} blob(s) carried ({}), {} left out because the isolated side holds them; the bundle is {}\nisolated: {}@{} visible, the carried alias acme/tiny-llama@prod → {}",
            dx.blobs,
            size(dx.bytes),
            dx.relied_on,
            size(delta_size),
            v2.name,
            v2.label,
            iso_prod.label
        ),
    );
    let delta_crossed = dx.relied_on > 0
        && dgot.versions.iter().any(|x| x.created)
        && iso_prod.manifest_digest == v2.manifest_digest;

    // 8c. To a second isolated site on small discs that arrive out of
    //     order: each volume is a signed bundle of its own, kept as it
    //     comes; the version appears when the last one has.
    let discs = transfer.join("discs");
    std::fs::create_dir_all(&discs).map_err(|e| Error::io("create directory", &discs, e))?;
    let mut vopts = ExportOptions::new(discs.join("tiny-llama-v2.airlock"));
    vopts.volume_size = Some(2500 << 10);
    let vx = export(
        &reg,
        std::slice::from_ref(&v2),
        &exporter,
        &vopts,
        &NoProgress,
    )?;
    let mut site = Registry::init(&root.join("isolated-site-2"), Some("isolated-site-2"))?.0;
    chain::install(&site, &root1)?;
    let mut arrivals = Vec::new();
    let mut complete = false;
    for n in (1..=vx.volume_count).rev() {
        // Each disc in a drive of its own: no other volume lies beside it.
        let from = crate::bundle::volumes::volume_path(&vopts.out, n as usize);
        let drive = discs.join(format!("drive-{n}"));
        std::fs::create_dir_all(&drive).map_err(|e| Error::io("create directory", &drive, e))?;
        let to = drive.join(from.file_name().unwrap_or_default());
        std::fs::copy(&from, &to).map_err(|e| Error::io("copy", &to, e))?;
        let got =
            crate::bundle::import::import_bundle(&mut site, &to, &Default::default(), &NoProgress)?;
        complete = got.complete;
        arrivals.push(if got.complete {
            format!(
                "volume {n}: verified; the set is complete — {}@{} visible",
                v2.name, v2.label
            )
        } else {
            format!(
                "volume {n}: verified and kept; still missing volume(s) {}, nothing visible",
                got.missing_volumes
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        });
    }
    let volumes_crossed = vx.volume_count >= 2
        && complete
        && site
            .resolve(&format!("{}@{}", v2.name, v2.label).parse()?)
            .is_ok_and(|x| x.manifest_digest == v2.manifest_digest);
    s.step(
        "connected: airlock export --volume-size 2500KiB; site 2: airlock import of each disc as it arrives, last first",
        format!(
            "{} volumes ({} blob(s) larger than a volume split into signed parts)\n{}",
            vx.volume_count,
            vx.split_blobs,
            arrivals.join("\n")
        ),
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

    // 14. A key rotation: the exporter key is retired in a signed root
    //     version, carried by the next bundle.
    let root2 = transfer.join("root-2.json");
    let edit = RootEdit {
        add_exporter: vec![(
            keys.join("exporter-2027.pub"),
            Some(vec!["connected".into()]),
        )],
        revoke: vec![PublicKey::load(&keys.join("exporter.pub"))?.id().to_hex()],
        reason: Some("scheduled rotation".into()),
        ..Default::default()
    };
    chain::edit_to_file(Some(&reg), None, &edit, &root2)?;
    for who in ["root-carol", "root-dave"] {
        chain::sign_file(&root2, &FileKey::load(&keys.join(format!("{who}.key")))?)?;
    }
    chain::update(&reg, &root2)?;

    // 15. A version revocation: both reviewers revoke the version; it rides
    //     in the same bundle.
    for who in ["alice", "bob"] {
        crate::trust::revocation::revoke(
            &reg,
            &v,
            &FileKey::load(&keys.join(format!("{who}.key")))?,
            "demo: the weights are noise",
        )?;
    }
    let second = transfer.join("rotation.airlock");
    let new_exporter = FileKey::load(&keys.join("exporter-2027.key"))?;
    export(
        &reg,
        std::slice::from_ref(&v),
        &new_exporter,
        &ExportOptions::new(second.clone()),
        &NoProgress,
    )?;
    let got =
        crate::bundle::import::import_bundle(&mut iso, &second, &Default::default(), &NoProgress)?;
    let status = chain::status(&iso)?;
    let rotated = status.version == 2;
    s.step(
        "connected: airlock trust root edit/sign/update (retire the exporter) and airlock revoke (two reviewers); isolated: import of the next bundle",
        format!(
            "trust root version {} applied from the bundle (carried: {:?}); the old exporter key is revoked, the new one signs\n{} revocation(s) carried",
            status.version, got.roots_applied, got.revocations
        ),
    );
    let old_exporter = FileKey::load(&keys.join("exporter.key"))?;
    let stale = transfer.join("old-exporter.airlock");
    export(
        &reg,
        std::slice::from_ref(&v),
        &old_exporter,
        &ExportOptions::new(stale.clone()),
        &NoProgress,
    )?;
    let refused_old =
        crate::bundle::import::import_bundle(&mut iso, &stale, &Default::default(), &NoProgress);
    let refused_checkout = checkout(
        &iso,
        &iv,
        &root.join("serving/after"),
        plain_opts(),
        &NoProgress,
    );
    let audit = crate::deploy::audit(&iso, None, None, false, &NoProgress)?;
    let flagged = audit.drifted() && audit.deployments.iter().all(|r| r.revoked.is_some());
    s.step(
        "isolated: after the rotation and the revocation",
        format!(
            "a bundle signed by the retired exporter key: {}\ncheckout of the revoked version: {}\naudit: {} deployment(s) of the revoked version flagged for removal",
            match &refused_old {
                Err(e) => format!("refused (exit {}): {e}", e.class().exit_code()),
                Ok(_) => "ACCEPTED — this should not happen".into(),
            },
            match &refused_checkout {
                Err(e) => format!("refused (exit {}): {e}", e.class().exit_code()),
                Ok(_) => "ALLOWED — this should not happen".into(),
            },
            audit.deployments.iter().filter(|r| r.revoked.is_some()).count()
        ),
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
        && alias_moved
        && delta_crossed
        && volumes_crossed
        && nothing_visible
        && live == 2
        && caught_copy
        && caught_store
        && healed.findings.is_empty()
        && !again.created
        && audited
        && rotated
        && matches!(&refused_old, Err(e) if e.class() == Class::Integrity)
        && matches!(&refused_checkout, Err(e) if e.class() == Class::Integrity)
        && flagged
        && log.findings.is_empty())
}

fn plain_opts() -> CheckoutOptions {
    CheckoutOptions {
        link: false,
        layout: CheckoutLayout::Plain,
        force: false,
        allow_unsafe: None,
    }
}
