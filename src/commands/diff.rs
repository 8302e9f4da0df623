//! `airlock diff REF1 REF2`: what differs between two versions.

use indicatif::HumanBytes;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::DiffArgs;

pub(crate) fn run(ctx: &Ctx, a: DiffArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_read()?;
    let from = reg.resolve(&parse_ref(&a.from)?)?;
    let to = reg.resolve(&parse_ref(&a.to)?)?;
    let d = airlock::diff::diff(&reg, &from, &to)?;
    ctx.printer.json(&d)?;
    let p = &ctx.printer;
    let count = |c| d.files.iter().filter(|f| f.change == c).count();
    use airlock::diff::Change;
    p.line(format!("{} → {}", d.from, d.to));
    if d.same_content {
        p.line("  same content (equal manifest digests)");
    }
    p.line(format!(
        "  files: {} added, {} removed, {} changed, {} unchanged",
        count(Change::Added),
        count(Change::Removed),
        count(Change::Changed),
        d.unchanged_files
    ));
    let side = |s: &Option<airlock::diff::FileSide>| {
        s.as_ref().map_or("-".to_string(), |s| {
            format!("{} sha256:{}", HumanBytes(s.size), &s.sha256[..12])
        })
    };
    let mut rows = Vec::new();
    for f in &d.files {
        rows.push(vec![
            format!("  {}", f.change.mark()),
            f.path.clone(),
            side(&f.from),
            "→".into(),
            side(&f.to),
        ]);
    }
    for line in crate::printer::columns(&rows) {
        p.line(line);
    }
    if !d.tensors.is_empty() {
        p.line(format!("  tensors: {} differ", d.tensors.len()));
        let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "-".into());
        let rows: Vec<Vec<String>> = d
            .tensors
            .iter()
            .map(|t| {
                vec![
                    format!("  {}", t.change.mark()),
                    format!("{}: {}", t.file, t.tensor),
                    dash(&t.from),
                    "→".into(),
                    dash(&t.to),
                ]
            })
            .collect();
        for line in crate::printer::columns(&rows) {
            p.line(line);
        }
    }
    for f in &d.fields {
        let dash = |s: &Option<String>| s.clone().unwrap_or_else(|| "(none)".into());
        p.line(format!(
            "  {}: {} → {}",
            f.field,
            dash(&f.from),
            dash(&f.to)
        ));
    }
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    p.line(format!(
        "  approvals: both {}; only {} {}; only {} {}",
        list(&d.approvals.both),
        d.from,
        list(&d.approvals.only_from),
        d.to,
        list(&d.approvals.only_to)
    ));
    Ok(ExitStatus::Success)
}
