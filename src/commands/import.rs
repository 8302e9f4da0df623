//! `airlock import DIR --name NAME …`.

use airlock::import::{ImportOptions, import_dir};
use airlock::records::Disclosure;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::{DisclosureArg, ImportArgs};

pub(crate) fn run(ctx: &Ctx, a: ImportArgs) -> anyhow::Result<ExitStatus> {
    if a.dir.is_file() {
        return bundle(ctx, &a);
    }
    if a.allow_downgrade || a.now.is_some() {
        return Err(airlock::Error::usage(
            "`--allow-downgrade` and `--now` apply to bundles, not to folders",
        )
        .into());
    }
    let Some(name) = &a.name else {
        return Err(airlock::Error::usage(
            "importing a folder needs `--name NAME` (e.g. `--name mistralai/Mistral-7B-v0.3`)",
        )
        .into());
    };
    let opts = ImportOptions {
        name: name.parse()?,
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
    };
    let mut reg = ctx.open()?;
    let out = import_dir(&mut reg, &a.dir, &opts, &ctx.progress)?;
    ctx.printer.json(&out)?;
    for n in &out.notes {
        ctx.printer.warn(n);
    }
    for w in &out.warnings {
        ctx.printer.warn(w);
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
    Ok(ExitStatus::Success)
}

/// `import FILE.airlock`: a signed bundle.
fn bundle(ctx: &Ctx, a: &ImportArgs) -> anyhow::Result<ExitStatus> {
    if a.name.is_some()
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
    let opts = airlock::bundle::import::BundleOptions {
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
    };
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
    }
    ctx.printer.line(format!(
        "{} blobs ({}), {} new",
        out.blobs,
        HumanBytes(out.bytes),
        out.new_blobs
    ));
    Ok(ExitStatus::Success)
}
