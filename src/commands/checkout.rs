//! `airlock checkout REF DIR [--link] [--layout hf] [--force]`.

use airlock::checkout::checkout;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::CheckoutArgs;

pub(crate) fn run(ctx: &Ctx, a: CheckoutArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_existing()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let opts = super::checkout_options(&a.flags)?;
    let out = checkout(&reg, &v, &a.dir, opts, &ctx.progress)?;
    ctx.printer.json(&out)?;
    ctx.printer.line(if out.unchanged {
        format!(
            "{}@{} already in place at {} ({} files, {}, verified; nothing written)",
            out.name,
            out.version,
            out.path,
            out.files,
            HumanBytes(out.bytes)
        )
    } else {
        format!(
            "checked out {}@{} to {} ({} files, {}, verified{})",
            out.name,
            out.version,
            out.path,
            out.files,
            HumanBytes(out.bytes),
            if out.linked { ", hard-linked" } else { "" }
        )
    });
    if out.model_path != out.path {
        ctx.printer.line(format!(
            "load from {} (HF_HUB_CACHE={}, HF_HUB_OFFLINE=1)",
            out.model_path, out.path
        ));
    }
    Ok(ExitStatus::Success)
}
