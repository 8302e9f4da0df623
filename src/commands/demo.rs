//! `airlock demo [--dir DIR]`: the story on a small generated model, printing
//! each step. Everything happens under DIR (or a temporary folder): the
//! download, the registry home, the serving copies. The user's own home is
//! never touched.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use airlock::checkout::{CheckoutLayout, CheckoutOptions, checkout};
use airlock::import::{ImportOptions, import_dir};
use airlock::progress::NoProgress;
use airlock::records::Disclosure;
use airlock::registry::Registry;
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

    // 2. Import.
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
    };
    let out = import_dir(&mut reg, &download, &opts, &NoProgress)?;
    s.step(
        "airlock import: every byte hashed once, stored by content, recorded",
        format!(
            "{}@{}  manifest sha256:{}\nlicence {} (from the model card), text kept from LICENSE; owner {}",
            out.name,
            out.version,
            out.manifest_digest,
            out.license_id.as_deref().unwrap_or("-"),
            opts.owner.as_deref().unwrap_or("-")
        ),
    );
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
        "airlock show: formats recognised from the bytes",
        listing.join("\n"),
    );

    // 3. Verify.
    let r = verify_store(&reg, std::slice::from_ref(&v), true, &NoProgress)?;
    s.step(
        "airlock verify --deep: every stored byte re-hashed",
        format!(
            "{} blobs, {}, {} finding(s)",
            r.hashed_blobs,
            HumanBytes(r.hashed_bytes),
            r.findings.len()
        ),
    );

    // 4. Checkout and check the copy.
    let serving = root.join("serving/tiny-llama");
    let plain = CheckoutOptions {
        link: false,
        layout: CheckoutLayout::Plain,
        force: false,
    };
    let co = checkout(&reg, &v, &serving, plain, &NoProgress)?;
    let pr = verify_path(&reg, &serving, &v, &NoProgress)?;
    s.step(
        "airlock checkout: a verified read-only copy for the serving engine",
        format!(
            "{} files at {}; verify --path: {} of {} match",
            co.files, co.path, pr.ok, pr.files
        ),
    );

    // 5. Someone edits the deployed copy.
    let shard = recs
        .iter()
        .find(|f| f.format == "safetensors")
        .expect("demo model has shards");
    flip_byte(&shard.path.under(&serving), shard.size / 2)?;
    let pr = verify_path(&reg, &serving, &v, &NoProgress)?;
    let caught_copy = pr
        .findings
        .iter()
        .any(|f| f.path == shard.path.as_str() && f.kind == "modified");
    s.step(
        "one byte of the deployed copy is flipped: airlock verify --path",
        pr.findings
            .iter()
            .map(|f| format!("{} {}: {}", f.kind.to_uppercase(), f.path, f.detail))
            .collect::<Vec<_>>()
            .join("\n"),
    );

    // 6. Someone edits the store.
    flip_byte(&reg.store().blob_path(&shard.sha256), 100)?;
    let r = verify_store(&reg, std::slice::from_ref(&v), false, &NoProgress)?;
    let caught_store = r.findings.iter().any(|f| f.path == shard.path.as_str());
    s.step(
        "one byte of a stored blob is flipped: airlock verify (quick mode sees the changed stat and re-hashes)",
        r.findings.iter().map(|f| format!("{} {}: {}", f.kind.to_uppercase(), f.path, f.detail)).collect::<Vec<_>>().join("\n"),
    );

    // 7. Re-importing the good download heals the blob.
    let again = import_dir(&mut reg, &download, &opts, &NoProgress)?;
    let r = verify_store(&reg, std::slice::from_ref(&v), true, &NoProgress)?;
    s.step(
        "the download is imported again: same content, no new version, the damaged blob replaced",
        format!(
            "created a version: {}; verify --deep: {} finding(s)",
            again.created,
            r.findings.len()
        ),
    );

    // 8. A Hugging Face cache layout for offline loaders.
    let hf = root.join("serving/hf-cache");
    let hf_opts = CheckoutOptions {
        link: false,
        layout: CheckoutLayout::Hf,
        force: false,
    };
    let co = checkout(&reg, &v, &hf, hf_opts, &NoProgress)?;
    s.step(
        "airlock checkout --layout hf: a cache repo HF_HUB_OFFLINE=1 loaders find",
        format!("HF_HUB_CACHE={}\nsnapshot {}", co.path, co.model_path),
    );

    let ok = caught_copy && caught_store && r.findings.is_empty() && !again.created;
    ctx.printer.json(
        &serde_json::json!({ "dir": root.display().to_string(), "ok": ok, "steps": s.steps }),
    )?;
    ctx.printer.line(if ok {
        "\ndemo complete: every tamper was caught, every clean copy verified"
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
