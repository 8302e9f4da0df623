//! `airlock list`: one line per version.

use indicatif::HumanBytes;
use serde::Serialize;

use super::{Ctx, ExitStatus};

#[derive(Serialize)]
struct Row {
    name: String,
    version: String,
    manifest_digest: String,
    size: u64,
    license: Option<String>,
    disclosure: String,
    approvals: usize,
    imported_at: String,
}

#[derive(Serialize)]
struct ListDoc {
    versions: Vec<Row>,
}

pub fn run(ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_existing()?;
    let mut rows: Vec<Row> = Vec::new();
    for v in reg.versions()? {
        let (_, live) = airlock::trust::approval_status(&reg, &v)?;
        rows.push(Row {
            name: v.name.to_string(),
            version: v.label,
            manifest_digest: v.manifest_digest.to_hex(),
            size: v.total_size,
            license: v.license_id,
            disclosure: v.disclosure.to_string(),
            approvals: live,
            imported_at: v.imported_at,
        });
    }
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
        ctx.printer.line(format!(
            "{:<40} {:<14} {:>10} {:<14} {:<10} {:>9}  {}",
            r.name,
            r.version,
            HumanBytes(r.size).to_string(),
            r.license.as_deref().unwrap_or("-"),
            r.disclosure,
            r.approvals,
            r.imported_at
        ));
    }
    ctx.printer.json(&ListDoc { versions: rows })?;
    Ok(ExitStatus::Success)
}
