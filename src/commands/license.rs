//! `airlock license show|check`.

use airlock::license::Verdict;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::LicenseCommand;

pub(crate) fn run(ctx: &Ctx, cmd: LicenseCommand) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_read()?;
    let p = &ctx.printer;
    match cmd {
        LicenseCommand::Show { reference } => {
            let v = reg.resolve(&parse_ref(&reference)?)?;
            let view = airlock::license::show(&reg, &v)?;
            p.json(&view)?;
            let terms = view.terms;
            let text = view.text;
            p.line(format!(
                "{}@{}: licence {}",
                v.name,
                v.label,
                v.license_id.as_deref().unwrap_or("none recorded")
            ));
            match &terms {
                Some(t) => {
                    p.line(format!("  {} — {}", t.name, t.source));
                    p.line(format!(
                        "  commercial use: {}",
                        if t.commercial {
                            "allowed"
                        } else {
                            "NOT allowed"
                        }
                    ));
                    if let Some(m) = t.mau_limit {
                        p.line(format!("  user threshold: {m} monthly active users"));
                    }
                    if let Some(x) = &t.attribution {
                        p.line(format!("  attribution: {x}"));
                    }
                    if let Some(x) = &t.acceptable_use {
                        p.line(format!("  acceptable-use policy: {x}"));
                    }
                    for r in &t.restrictions {
                        p.line(format!("  restriction: {r}"));
                    }
                }
                None => p.line("  not in the catalogue: needs legal review"),
            }
            match text {
                Some(t) => {
                    p.line(format!(
                        "--- licence text (sha256:{}) ---",
                        v.license_sha256.map(|d| d.to_hex()).unwrap_or_default()
                    ));
                    p.line(t);
                }
                None => p.line("  (no licence text kept)"),
            }
            Ok(ExitStatus::Success)
        }
        LicenseCommand::Check { reference, policy } => {
            let v = reg.resolve(&parse_ref(&reference)?)?;
            let c = airlock::license::check_version(&reg, &v, policy.as_deref())?;
            p.json(&c)?;
            p.line(format!(
                "{}@{}: licence {} — {}",
                c.name,
                c.version,
                c.license_id.as_deref().unwrap_or("none"),
                c.verdict.as_str().to_uppercase()
            ));
            for r in &c.reasons {
                p.line(format!("  reason: {r}"));
            }
            for d in &c.duties {
                p.line(format!("  duty: {d}"));
            }
            Ok(if c.verdict == Verdict::Allowed {
                ExitStatus::Success
            } else {
                ExitStatus::Policy
            })
        }
    }
}
