//! `airlock export REF… --key KEYFILE --out FILE [--volume-size SIZE]`.

use airlock::bundle::export::{ExportOptions, export};
use airlock::signing::FileKey;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::ExportArgs;

pub(crate) fn run(ctx: &Ctx, a: ExportArgs) -> anyhow::Result<ExitStatus> {
    let key = FileKey::load(&a.key)?;
    let reg = ctx.open_existing()?;
    let versions = a
        .references
        .iter()
        .map(|r| Ok(reg.resolve(&parse_ref(r)?)?))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut opts = ExportOptions::new(a.out);
    opts.volume_size = a
        .volume_size
        .as_deref()
        .map(airlock::bundle::parse_size)
        .transpose()?;
    opts.expires_in_days = a.expires_in_days;
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
    for f in &out.files {
        ctx.printer.line(format!("wrote {f}"));
    }
    Ok(ExitStatus::Success)
}
