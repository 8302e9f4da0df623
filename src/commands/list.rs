//! `airlock list`: one line per version.

use indicatif::HumanBytes;
use serde::Serialize;

use super::{Ctx, ExitStatus};

#[derive(Serialize)]
struct ListDoc {
    versions: Vec<airlock::show::Listed>,
}

pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_read()?;
    let rows = airlock::show::list(&reg)?;
    if rows.is_empty() {
        ctx.printer
            .info("no models registered (hint: `airlock import DIR --name NAME`)");
    } else {
        ctx.printer.line(format!(
            "{:<40} {:<14} {:>10} {:<14} {:<10} {:>9}  IMPORTED",
            "NAME", "VERSION", "SIZE", "LICENCE", "DISCLOSURE", "APPROVALS"
        ));
    }
    for r in &rows {
        ctx.printer.line(
            format!(
                "{:<40} {:<14} {:>10} {:<14} {:<10} {:>9}  {}",
                r.name,
                r.version,
                HumanBytes(r.size).to_string(),
                r.license.as_deref().unwrap_or("-"),
                r.disclosure,
                r.approvals,
                r.imported_at
            ) + if r.revoked { "  REVOKED" } else { "" },
        );
    }
    ctx.printer.json(&ListDoc { versions: rows })?;
    Ok(ExitStatus::Success)
}
