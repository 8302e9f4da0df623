//! `airlock gc [--dry-run]`.

use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::GcArgs;

pub(crate) fn run(ctx: &Ctx, a: GcArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_existing()?;
    let r = airlock::maintenance::gc(&reg, a.dry_run)?;
    ctx.printer.json(&r)?;
    for d in &r.blobs {
        ctx.printer.detail(format!("unreferenced blob sha256:{d}"));
    }
    let verb = if r.dry_run { "would remove" } else { "removed" };
    ctx.printer.line(format!(
        "{verb} {} blob(s) ({}) and {} temp file(s)",
        r.removed_blobs,
        HumanBytes(r.removed_bytes),
        r.removed_temp_files
    ));
    Ok(ExitStatus::Success)
}
