//! `airlock export REF… --key KEYFILE --out FILE [--volume-size SIZE]`.

use airlock::bundle::export::{ExportOptions, export};
use airlock::signing::FileKey;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::{ExportArgs, ExportFormat};

pub(crate) fn run(ctx: &Ctx, a: ExportArgs) -> anyhow::Result<ExitStatus> {
    if a.format == ExportFormat::OciLayout {
        return layout(ctx, a);
    }
    let key = FileKey::load(a.key.as_deref().expect("clap requires --key for bundles"))?;
    let reg = ctx.open_existing()?;
    let versions = resolve_all(&reg, &a.references)?;
    let mut opts = ExportOptions::new(a.out);
    opts.volume_size = a
        .volume_size
        .as_deref()
        .map(airlock::bundle::parse_size)
        .transpose()?;
    opts.expires_in_days = a.expires_in_days;
    opts.only_volumes = a.volumes.clone();
    if let Some(h) = &a.delta_against {
        let (held, blobs, signer) = airlock::bundle::holdings::read_blobs(&reg, h)?;
        ctx.printer.info(format!(
            "delta against `{}` ({} blobs held, written {}{})",
            held.registry,
            blobs.len(),
            held.created,
            signer.map_or(", unsigned".to_string(), |s| format!(
                ", signed by {} `{}`",
                &s.key_id[..16],
                s.name
            ))
        ));
        opts.delta_against = Some(blobs);
    }
    let out = export(&reg, &versions, &key, &opts, &ctx.progress)?;
    ctx.printer.json(&out)?;
    ctx.printer.line(format!(
        "exported {} ({} blobs, {}) as bundle {} sequence {} from `{}`, expires {}",
        out.versions.join(", "),
        out.blobs,
        HumanBytes(out.bytes),
        out.bundle_id,
        out.sequence,
        out.origin,
        out.expires
    ));
    if out.volume_count > 1 || opts.volume_size.is_some() {
        ctx.printer.line(format!(
            "{} volume(s), each a signed bundle of its own that imports in any order{}",
            out.volume_count,
            if out.split_blobs > 0 {
                format!(
                    "; {} blob(s) larger than a volume split into signed parts",
                    out.split_blobs
                )
            } else {
                String::new()
            }
        ));
    }
    if out.relied_on > 0 {
        ctx.printer.line(format!(
            "left out {} blob(s), {}, that the receiver holds (it checks them on import)",
            out.relied_on,
            HumanBytes(out.relied_bytes)
        ));
    }
    for f in &out.files {
        ctx.printer.line(format!("wrote {f}"));
    }
    Ok(ExitStatus::Success)
}

/// `export … --format oci-layout --out DIR`.
fn layout(ctx: &Ctx, a: ExportArgs) -> anyhow::Result<ExitStatus> {
    if a.volume_size.is_some()
        || a.key.is_some()
        || a.delta_against.is_some()
        || a.volumes.is_some()
    {
        return Err(airlock::Error::usage(
            "an OCI layout carries the approvals in each statement: `--key`, `--volume-size` and `--delta-against` are for bundles",
        )
        .into());
    }
    let reg = ctx.open_existing()?;
    let versions = resolve_all(&reg, &a.references)?;
    let out = airlock::oci::layout::export_layout(&reg, &versions, &a.out, &ctx.progress)?;
    ctx.printer.json(&out)?;
    for v in &out.versions {
        ctx.printer.line(format!(
            "wrote {} as {}:{} (manifest sha256:{}, {} approval(s))",
            v.version, out.out, v.tag, v.oci_manifest_digest, v.approvals
        ));
    }
    ctx.printer
        .line(format!("{} blobs, {}", out.blobs, HumanBytes(out.bytes)));
    Ok(ExitStatus::Success)
}

/// Every reference, resolved.
pub(crate) fn resolve_all(
    reg: &airlock::registry::Registry,
    refs: &[String],
) -> anyhow::Result<Vec<airlock::records::VersionRecord>> {
    refs.iter()
        .map(|r| Ok(reg.resolve(&parse_ref(r)?)?))
        .collect()
}

/// `airlock holdings --out FILE`.
pub(crate) fn holdings(ctx: &Ctx, a: crate::cli::HoldingsArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_read()?;
    let key = a
        .key
        .as_deref()
        .map(airlock::signing::FileKey::load)
        .transpose()?;
    let out = airlock::bundle::holdings::write(
        &reg,
        &a.out,
        key.as_ref().map(|k| k as &dyn airlock::signing::KeySource),
    )?;
    ctx.printer.json(&out)?;
    ctx.printer.line(format!(
        "wrote {}: {} version(s), {} blob(s) held by `{}`{}",
        out.out,
        out.versions,
        out.blobs,
        reg.name(),
        out.signed_by
            .as_deref()
            .map_or(String::new(), |k| format!(", signed by key {}", &k[..16]))
    ));
    Ok(ExitStatus::Success)
}
