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
        let mut table = vec![
            [
                "NAME",
                "VERSION",
                "SIZE",
                "LICENCE",
                "DISCLOSURE",
                "APPROVALS",
                "IMPORTED",
                "",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for r in &rows {
            table.push(vec![
                r.name.clone(),
                r.version.clone(),
                HumanBytes(r.size).to_string(),
                r.license.clone().unwrap_or_else(|| "-".into()),
                r.disclosure.clone(),
                r.approvals.to_string(),
                r.imported_at.clone(),
                if r.revoked {
                    "REVOKED".into()
                } else {
                    String::new()
                },
            ]);
        }
        for line in crate::printer::columns(&table) {
            ctx.printer.line(line);
        }
    }
    ctx.printer.json(&ListDoc { versions: rows })?;
    Ok(ExitStatus::Success)
}
