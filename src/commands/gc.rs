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
    for l in &r.leftovers {
        ctx.printer.detail(format!(
            "unfinished {} to `{}` ({} path(s))",
            l.kind.as_str(),
            l.target,
            l.paths.len()
        ));
    }
    let verb = if r.dry_run { "would remove" } else { "removed" };
    ctx.printer.line(format!(
        "{verb} {} blob(s) ({}), {} temp file(s), {} blob(s) kept by interrupted pulls and what {} unfinished output(s) left{}",
        r.removed_blobs,
        HumanBytes(r.removed_bytes),
        r.removed_temp_files,
        r.removed_pull_blobs,
        r.leftovers.len(),
        if r.deployments_finished > 0 {
            format!(
                "; recorded {} deployment(s) whose copy was in place",
                r.deployments_finished
            )
        } else {
            String::new()
        }
    ));
    Ok(ExitStatus::Success)
}
