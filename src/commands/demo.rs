//! `airlock demo [--dir DIR]`: the whole story on a small generated model,
//! across two registries (connected and isolated), printing each step.
//! Everything happens under DIR (or a temporary folder): the download, the
//! keys, both registry homes, the bundle, the serving copies. The user's own home is
//! never touched.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use airlock::bundle::export::{ExportOptions, export};
use airlock::checkout::{CheckoutLayout, CheckoutOptions, checkout};
use airlock::import::{ImportOptions, import_dir};
use airlock::progress::NoProgress;
use airlock::records::Disclosure;
use airlock::records::Role;
use airlock::registry::Registry;
use airlock::signing::FileKey;
use airlock::verify::{verify_path, verify_store};
use indicatif::HumanBytes;
use serde::Serialize;

use super::{Ctx, ExitStatus};
use crate::cli::DemoArgs;

#[derive(Serialize)]
struct Step {
    step: usize,
    title: String,
    outcome: String,
}

struct Story<'a> {
    ctx: &'a Ctx,
    steps: Vec<Step>,
}

impl Story<'_> {
    fn step(&mut self, title: &str, outcome: String) {
        let n = self.steps.len() + 1;
        self.ctx.printer.line(format!("\n[{n}] {title}"));
        for l in outcome.lines() {
            self.ctx.printer.line(format!("    {l}"));
        }
        self.steps.push(Step {
            step: n,
            title: title.into(),
            outcome,
        });
    }
}

/// Flip one byte of a file in place (making it writable for the moment).
fn flip_byte(path: &Path, offset: u64) -> anyhow::Result<()> {
    let mode = std::fs::metadata(path)?.permissions().mode();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))?;
    let mut f = OpenOptions::new().read(true).write(true).open(path)?;
    let mut b = [0u8; 1];
    f.seek(SeekFrom::Start(offset))?;
    std::io::Read::read_exact(&mut f, &mut b)?;
    f.seek(SeekFrom::Start(offset))?;
    f.write_all(&[b[0] ^ 0x01])?;
    f.sync_all()?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    Ok(())
}

pub fn run(ctx: &Ctx, a: DemoArgs) -> anyhow::Result<ExitStatus> {
    let tmp;
    let root = match &a.dir {
        Some(d) => {
            std::fs::create_dir_all(d)?;
            if std::fs::read_dir(d)?.next().is_some() {
                anyhow::bail!(
                    "`{}` is not empty; the demo needs a new or empty folder",
                    d.display()
                );
            }
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir()?;
            tmp.path().to_path_buf()
        }
    };
    let mut s = Story {
        ctx,
        steps: Vec::new(),
    };
    ctx.printer
        .line(format!("airlock demo in {}", root.display()));

    // 1. A download arrives.
    let download = root.join("downloads/acme-tiny-llama");
    let files = airlock::demo::write_model(&download, 7)?;
    let bytes: u64 = files
        .iter()
        .map(|f| f.metadata().map(|m| m.len()).unwrap_or(0))
        .sum();
    s.step(
        "a model is downloaded on the connected side",
        format!(
            "{} files, {} in {}",
            files.len(),
            HumanBytes(bytes),
            download.display()
        ),
    );

    // 2. Keys for two reviewers and the exporter.
    let keys = root.join("keys");
    let mut ids = Vec::new();
    for who in ["alice", "bob", "exporter"] {
        let g = airlock::signing::generate(&keys.join(who), Some(who))?;
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
                HumanBytes(f.size).to_string(),
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
        let (a, _) = airlock::trust::sign(&mut reg, &v, &key)?;
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
    let bundle = root.join("transfer/tiny-llama.airlock");
    std::fs::create_dir_all(root.join("transfer"))?;
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
            HumanBytes(ex.bytes),
            ex.sequence,
            ex.expires
        ),
    );

    // 6. The isolated side trusts the exporter and both reviewers, needs two approvals.
    let iso_home = root.join("isolated");
    let mut iso = Registry::init(&iso_home, Some("isolated"))?.0;
    airlock::trust::add(&iso, &keys.join("exporter.pub"), "exporter", Role::Exporter)?;
    airlock::trust::add(&iso, &keys.join("alice.pub"), "alice", Role::Approver)?;
    airlock::trust::add(&iso, &keys.join("bob.pub"), "bob", Role::Approver)?;
    airlock::trust::set_approvals_required(&iso, 2)?;
    s.step(
        "isolated: airlock trust add / trust policy --approvals 2",
        "exporter trusted to sign bundles; alice and bob trusted to approve; two approvals required".into(),
    );

    // 7. A tampered copy of the disc is refused.
    let tampered = root.join("transfer/tampered.airlock");
    std::fs::copy(&bundle, &tampered)?;
    let len = std::fs::metadata(&tampered)?.len();
    flip_byte(&tampered, len - 1024 - 4096)?;
    let refused = airlock::bundle::import::import_bundle(&mut iso, &tampered, None, &NoProgress);
    let caught_bundle = matches!(&refused, Err(e) if e.class() == airlock::error::Class::Integrity);
    s.step(
        "isolated: airlock import of a copy with one flipped byte",
        match &refused {
            Err(e) => format!("refused (exit {}): {e}", e.class().exit_code()),
            Ok(_) => "ACCEPTED — this should not happen".into(),
        },
    );
    let nothing_visible = iso.versions()?.is_empty();

    // 8. The genuine bundle is accepted.
    let got = airlock::bundle::import::import_bundle(&mut iso, &bundle, None, &NoProgress)?;
    let iv = iso.resolve(&"acme/tiny-llama".parse()?)?;
    let (_, live) = airlock::trust::approval_status(&iso, &iv)?;
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
    airlock::trust::ensure_approved(&iso, &iv)?;
    let co = checkout(&iso, &iv, &serving, plain, &NoProgress)?;
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
        .find(|f| f.format == airlock::formats::Format::Safetensors)
        .expect("demo model has shards");
    flip_byte(&shard.path.under(&serving), shard.size / 2)?;
    let pr = verify_path(&iso, &serving, &iv, &NoProgress)?;
    let caught_copy = pr.findings.iter().any(|f| {
        f.path == shard.path.as_str() && f.kind == airlock::finding::FindingKind::Modified
    });
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
    let r = verify_store(&reg, std::slice::from_ref(&v), true, &NoProgress)?;
    s.step(
        "connected: one byte of a stored blob is flipped — airlock verify, then the download is imported again",
        format!(
            "verify: {} finding(s) naming {}; re-import created a version: {}; verify --deep afterwards: {} finding(s)",
            store_findings,
            shard.path,
            again.created,
            r.findings.len()
        ),
    );

    // 12. A Hugging Face cache layout for offline loaders.
    let hf = root.join("serving/hf-cache");
    let hf_opts = CheckoutOptions {
        link: false,
        layout: CheckoutLayout::Hf,
        force: false,
        allow_unsafe: None,
    };
    let co = checkout(&iso, &iv, &hf, hf_opts, &NoProgress)?;
    s.step(
        "isolated: airlock checkout --layout hf — a cache repo HF_HUB_OFFLINE=1 loaders find",
        format!("HF_HUB_CACHE={}\nsnapshot {}", co.path, co.model_path),
    );

    // 13. Deploy and audit.
    let prod = root.join("serving/prod/tiny-llama");
    let t = airlock::deploy::Target {
        host: None,
        environment: Some("prod".into()),
        note: Some("demo".into()),
    };
    let plain = CheckoutOptions {
        link: false,
        layout: CheckoutLayout::Plain,
        force: false,
        allow_unsafe: None,
    };
    let (_, d) = airlock::deploy::deploy(&mut iso, &iv, &prod, &t, plain, &NoProgress)?;
    let audit = airlock::deploy::audit(&iso, None, None, true, &NoProgress)?;
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
        .any(|r| r.deployment_id == d.id && r.status == airlock::records::DeployStatus::Ok);
    s.step(
        "isolated: airlock deploy --env prod, then airlock audit --verify",
        rows.join("\n"),
    );
    let log = airlock::log::verify::verify(&iso)?;
    s.step(
        "isolated: airlock log --verify — the hash-chained record of every change",
        format!(
            "{} events, chain intact: {}",
            log.events,
            log.findings.is_empty()
        ),
    );

    let ok = caught_bundle
        && nothing_visible
        && live == 2
        && caught_copy
        && caught_store
        && r.findings.is_empty()
        && !again.created
        && audited
        && log.findings.is_empty();
    ctx.printer.json(
        &serde_json::json!({ "dir": root.display().to_string(), "ok": ok, "steps": s.steps }),
    )?;
    ctx.printer.line(if ok {
        "\ndemo complete: the approved bytes crossed, every tamper was caught, every clean copy verified"
    } else {
        "\ndemo FAILED: a step did not turn out as expected"
    });
    if a.dir.is_none() {
        ctx.printer.info(
            "(the demo folder was temporary and has been removed; pass --dir DIR to keep it)",
        );
    }
    Ok(if ok {
        ExitStatus::Success
    } else {
        ExitStatus::Integrity
    })
}
