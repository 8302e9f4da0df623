//! `airlock scan DIR`.

use airlock::scan::ScanStatus;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::ScanArgs;

pub(crate) fn run(ctx: &Ctx, a: ScanArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_existing()?;
    let r = airlock::scan::scan(&reg, &a.dir, &ctx.progress)?;
    ctx.printer.json(&r)?;
    for f in &r.files {
        let what = match f.status {
            ScanStatus::Known => f
                .matches
                .iter()
                .map(|m| format!("{}@{}:{}", m.name, m.version, m.path))
                .collect::<Vec<_>>()
                .join(", "),
            ScanStatus::Modified => format!(
                "MODIFIED: same name as {}",
                f.matches
                    .iter()
                    .map(|m| format!("{}@{}:{}", m.name, m.version, m.path))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ if f.suspicious => "UNKNOWN WEIGHTS — not a registered version".to_string(),
            _ => "unknown".to_string(),
        };
        ctx.printer.line(format!(
            "{:<9} {:>10} {:<12} {}  {}",
            f.status,
            HumanBytes(f.size).to_string(),
            f.format,
            f.path,
            what
        ));
    }
    for s in &r.skipped {
        ctx.printer.warn(format!("skipped {s}"));
    }
    let suspicious = r.files.iter().filter(|f| f.suspicious).count();
    ctx.printer.line(format!(
        "{} files ({}): {} known, {} modified, {} unknown — {} unknown or modified weight file(s)",
        r.files.len(),
        HumanBytes(r.bytes),
        r.known,
        r.modified,
        r.unknown,
        suspicious
    ));
    Ok(ExitStatus::Success)
}
