//! `airlock import PATH [--name NAME] …`: a bundle (recognised by its bytes),
//! a model folder, one model file, or every repo of a Hugging Face hub cache.

use airlock::import::{ImportOptions, import_dir};
use airlock::records::Disclosure;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::{DisclosureArg, ImportArgs};

pub(crate) fn run(ctx: &Ctx, a: ImportArgs) -> anyhow::Result<ExitStatus> {
    if a.dir.is_file() && (claims_bundle(&a.dir) || airlock::bundle::is_bundle(&a.dir)?) {
        return bundle(ctx, &a);
    }
    if airlock::oci::pull::is_layout(&a.dir) {
        return layout(ctx, &a);
    }
    if a.allow_downgrade || a.now.is_some() {
        return Err(airlock::Error::usage(
            "`--allow-downgrade` and `--now` apply to bundles, not to folders",
        )
        .into());
    }
    let plan = airlock::import::plan(&a.dir, a.name.as_deref(), a.repo.as_deref())?;
    let template = ImportOptions {
        name: plan[0].0.clone(),
        version: a.version_label.as_deref().map(str::parse).transpose()?,
        source_url: a.source,
        revision: a.revision,
        license_id: a.license.map(|l| l.to_ascii_lowercase()),
        license_file: a.license_file,
        disclosure: match a.data_disclosure {
            DisclosureArg::Full => Disclosure::Full,
            DisclosureArg::Partial => Disclosure::Partial,
            DisclosureArg::None => Disclosure::None,
            DisclosureArg::Unknown => Disclosure::Unknown,
        },
        data_notes: a.data_notes,
        owner: a.owner,
        link: a.link,
        allow_unsafe: super::allowance(a.allow_unsafe, a.reason.as_deref())?,
        oms_signature: a.oms_signature,
    };
    let mut reg = ctx.open()?;
    let many = plan.len() > 1;
    let mut outs = Vec::new();
    for (name, path) in plan {
        let opts = ImportOptions {
            name,
            ..template.clone()
        };
        let out = import_dir(&mut reg, &path, &opts, &ctx.progress)?;
        for n in &out.notes {
            ctx.printer.warn(format!("{}: {n}", out.name));
        }
        for w in &out.warnings {
            ctx.printer.warn(format!("{}: {w}", out.name));
        }
        let verb = if out.created { "imported" } else { "unchanged" };
        ctx.printer.line(format!(
            "{verb} {}@{} ({} files, {}, layout {}, {} checked against upstream hashes)",
            out.name,
            out.version,
            out.files,
            HumanBytes(out.bytes),
            out.layout,
            out.upstream_checked
        ));
        ctx.printer
            .line(format!("manifest sha256:{}", out.manifest_digest));
        if ctx.printer.verbose {
            report_files(ctx, &reg, &out.name, &out.version)?;
        }
        outs.push(out);
    }
    if many {
        ctx.printer.json(&serde_json::json!({ "imports": outs }))?;
    } else {
        ctx.printer.json(&outs[0])?;
    }
    Ok(ExitStatus::Success)
}

/// `-v`: each file of an imported version, and the steps it went through.
fn report_files(
    ctx: &Ctx,
    reg: &airlock::registry::Registry,
    name: &airlock::name::ModelName,
    label: &str,
) -> anyhow::Result<()> {
    let v = reg.resolve(&format!("{name}@{label}").parse()?)?;
    let shown = airlock::show::show(reg, &v)?;
    ctx.printer.detail(format!(
        "steps: layout read ({}), every file hashed once (sha256), upstream hashes checked, formats inspected under the safety policy, blobs staged then renamed into the store, records committed in one transaction",
        shown.source.layout
    ));
    for f in &shown.files {
        ctx.printer.detail(format!(
            "  {}  {}  {}  sha256:{}{}",
            f.path,
            HumanBytes(f.size),
            f.format,
            f.sha256,
            f.upstream_check
                .as_deref()
                .map(|u| format!("  (upstream: {u})"))
                .unwrap_or_default()
        ));
    }
    for c in &shown.oms_signatures {
        ctx.printer
            .detail(format!("  OMS {} {}: {}", c.path, c.status, c.detail));
    }
    Ok(())
}

/// A file named like a bundle (`*.airlock`, `*.airlock.001`) is judged as
/// one even when its bytes are not (it is then refused as not a bundle).
fn claims_bundle(p: &std::path::Path) -> bool {
    let s = p.to_string_lossy();
    s.ends_with(".airlock")
        || s.rsplit_once('.').is_some_and(|(stem, n)| {
            stem.ends_with(".airlock") && n.len() == 3 && n.bytes().all(|b| b.is_ascii_digit())
        })
}

/// The permissions a carried (signed) version may be imported with.
fn carried_options(a: &ImportArgs) -> anyhow::Result<airlock::bundle::import::BundleOptions> {
    if a.name.is_some()
        || a.oms_signature.is_some()
        || a.repo.is_some()
        || a.version_label.is_some()
        || a.license.is_some()
        || a.owner.is_some()
        || a.link
    {
        return Err(airlock::Error::usage(
            "a bundle carries its own names and records; folder flags such as `--name` do not apply",
        )
        .into());
    }
    Ok(airlock::bundle::import::BundleOptions {
        allow_unsafe: super::allowance(
            a.allow_unsafe,
            a.reason.as_deref().filter(|_| a.allow_unsafe),
        )?,
        allow_downgrade: a.reason.clone().filter(|_| a.allow_downgrade),
        now: a
            .now
            .as_deref()
            .map(|t| airlock::clock::parse_flag("--now", t))
            .transpose()?,
    })
}

/// `import OCI_LAYOUT_DIR`: every ModelPack version of an OCI image layout.
fn layout(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<ExitStatus> {
    let opts = carried_options(a)?;
    let mut reg = ctx.open()?;
    let out = airlock::oci::pull::import_layout(&mut reg, &a.dir, None, &opts, &ctx.progress)?;
    super::pull::report(ctx, &out)
}

/// `import FILE.airlock`: a signed bundle.
fn bundle(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<ExitStatus> {
    let opts = carried_options(a)?;
    let mut reg = ctx.open()?;
    let out = airlock::bundle::import::import_bundle(&mut reg, &a.dir, &opts, &ctx.progress)?;
    for r in &out.roots_applied {
        ctx.printer.info(format!(
            "applied trust root version {r} carried in the bundle"
        ));
    }
    for w in &out.warnings {
        ctx.printer.warn(w);
    }
    ctx.printer.json(&out)?;
    if let Some(count) = out.volume_count {
        let read: Vec<String> = out.volumes_read.iter().map(u32::to_string).collect();
        ctx.printer.line(format!(
            "volume(s) {} of {count} of bundle {} from `{}`: verified{}",
            read.join(", "),
            out.bundle_id,
            out.origin,
            if out.already_imported {
                " before; nothing changed"
            } else {
                " and kept"
            }
        ));
        if !out.complete {
            let missing: Vec<String> = out
                .missing_volumes
                .iter()
                .map(|n| match airlock::bundle::volumes::volume_base(&a.dir) {
                    Some((base, _)) => format!(
                        "{n} (`{}`)",
                        airlock::bundle::volumes::volume_path(&base, *n as usize).display()
                    ),
                    None => n.to_string(),
                })
                .collect();
            ctx.printer.line(format!(
                "still missing: volume(s) {} of bundle {}; nothing of the set is visible until they arrive (import each as it comes, in any order)",
                if missing.is_empty() { "(none: a blob kept for the set is gone; import the volume that carried it again)".to_string() } else { missing.join(", ") },
                out.bundle_id
            ));
            return Ok(ExitStatus::Success);
        }
    }
    if out.already_imported {
        ctx.printer.line(format!(
            "bundle {} from `{}` was already imported; nothing changed",
            out.bundle_id, out.origin
        ));
        return Ok(ExitStatus::Success);
    }
    ctx.printer.line(format!(
        "verified bundle {} from `{}` (sequence {}, exporter {} `{}`, {} volume(s))",
        out.bundle_id,
        out.origin,
        out.sequence,
        &out.exporter_key_id[..16],
        out.exporter,
        out.volumes
    ));
    for v in &out.versions {
        let verb = if v.created {
            "imported"
        } else {
            "already present"
        };
        ctx.printer.line(format!(
            "{verb} {}@{} with {} trusted approval(s)",
            v.name, v.version, v.approvals
        ));
        if ctx.printer.verbose && v.created {
            ctx.printer.detail(
                "steps: trust roots applied, exporter signature, origin, replay and freshness checked; statement approvals counted; every blob hashed against the signed digest while staged; downgrade and safety rules; one commit",
            );
            report_files(ctx, &reg, &v.name.parse()?, &v.version)?;
        }
    }
    ctx.printer.line(format!(
        "{} blobs ({}), {} new",
        out.blobs,
        HumanBytes(out.bytes),
        out.new_blobs
    ));
    Ok(ExitStatus::Success)
}
