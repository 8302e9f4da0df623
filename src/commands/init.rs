//! `airlock init [--name NAME]`.

use airlock::registry::Registry;
use serde_json::json;

use super::{Ctx, ExitStatus};
use crate::cli::InitArgs;

pub(crate) fn run(ctx: &Ctx, args: InitArgs) -> anyhow::Result<ExitStatus> {
    let (reg, created) = Registry::init(&ctx.home, args.name.as_deref())?;
    let home = ctx.home.display().to_string();
    ctx.printer
        .json(&json!({ "home": home, "name": reg.name(), "created": created }))?;
    if created {
        ctx.printer
            .line(format!("created registry `{}` at {home}", reg.name()));
    } else {
        ctx.printer.line(format!(
            "registry `{}` already exists at {home}",
            reg.name()
        ));
    }
    Ok(ExitStatus::Success)
}
