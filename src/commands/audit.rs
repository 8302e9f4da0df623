//! `airlock deploy`, `undeploy` and `audit`.

use airlock::deploy::{self, Target};
use indicatif::HumanBytes;
use serde_json::json;

use super::{Ctx, ExitStatus, parse_ref, print_findings};
use crate::cli::{AuditArgs, DeployArgs, ReportFormat, UndeployArgs};

pub(crate) fn deploy(ctx: &Ctx, a: DeployArgs) -> anyhow::Result<ExitStatus> {
    let mut reg = ctx.open_existing()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let t = Target {
        host: a.host.clone(),
        environment: a.environment.clone(),
        note: a.note.clone(),
    };
    if a.record_only {
        let (host, path) = (
            a.host.as_deref().unwrap_or_default(),
            a.path.as_deref().unwrap_or_default(),
        );
        let d = deploy::record_only(&mut reg, &v, host, path, &t)?;
        ctx.printer.json(&json!({ "deployment": d }))?;
        ctx.printer.line(format!(
            "recorded {}@{} on {} at {} (placed by other means)",
            v.name, v.label, d.host, d.path
        ));
        return Ok(ExitStatus::Success);
    }
    let dir = a
        .dir
        .clone()
        .expect("clap requires DIR without --record-only");
    let opts = super::checkout_options(&a.flags)?;
    let (out, d) = deploy::deploy(&mut reg, &v, &dir, &t, opts, &ctx.progress)?;
    ctx.printer
        .json(&json!({ "checkout": out, "deployment": d }))?;
    ctx.printer.line(format!(
        "deployed {}@{} to {} on {} ({} files, {}, verified){}",
        v.name,
        v.label,
        d.path,
        d.host,
        out.files,
        HumanBytes(out.bytes),
        d.environment
            .as_deref()
            .map(|e| format!(" [{e}]"))
            .unwrap_or_default()
    ));
    Ok(ExitStatus::Success)
}

pub(crate) fn undeploy(ctx: &Ctx, a: UndeployArgs) -> anyhow::Result<ExitStatus> {
    let mut reg = ctx.open_existing()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let n = deploy::undeploy(&mut reg, &v, &a.host, &a.path)?;
    ctx.printer.json(&json!({ "ended": n }))?;
    ctx.printer.line(format!(
        "ended the deployment of {}@{} on {} at {} (history kept)",
        v.name, v.label, a.host, a.path
    ));
    Ok(ExitStatus::Success)
}

pub(crate) fn run(ctx: &Ctx, a: AuditArgs) -> anyhow::Result<ExitStatus> {
    match &a.command {
        Some(crate::cli::AuditCommand::Ingest { report, registry }) => {
            let reg = ctx.open_existing()?;
            if report.starts_with("oci://") {
                let r: airlock::oci::OciRef = report.parse()?;
                let conn = super::push::connection(registry)?;
                let c = airlock::oci::attest::collect(&reg, &r, &conn)?;
                ctx.printer.json(&c)?;
                let mut worst = ExitStatus::Success;
                for rep in &c.reports {
                    match (&rep.ingested, &rep.refused) {
                        (Some(i), _) => ctx.printer.line(ingested_line(i)),
                        (None, Some(why)) => {
                            ctx.printer
                                .warn(format!("refused report {}: {why}", rep.referrer));
                            if rep.refusal_code == Some(3) {
                                worst = ExitStatus::Integrity;
                            }
                        }
                        (None, None) => {}
                    }
                }
                ctx.printer.line(format!(
                    "{} report(s) attached to {} in {}/{}: {} recorded or already recorded, {} refused",
                    c.reports.len(),
                    c.subject,
                    c.registry,
                    c.repository,
                    c.reports.iter().filter(|r| r.ingested.is_some()).count(),
                    c.reports.iter().filter(|r| r.refused.is_some()).count()
                ));
                if c.reports
                    .iter()
                    .any(|r| r.refused.is_some() && r.refusal_code != Some(3))
                {
                    return Err(airlock::Error::input(
                        "some attached reports could not be recorded (see the warnings above)",
                    )
                    .into());
                }
                return Ok(worst);
            }
            let i = airlock::attest::ingest(&reg, std::path::Path::new(report))?;
            ctx.printer.json(&i)?;
            ctx.printer.line(ingested_line(&i));
            return Ok(ExitStatus::Success);
        }
        Some(crate::cli::AuditCommand::Push {
            report,
            target,
            registry,
        }) => {
            let r: airlock::oci::OciRef = target.parse()?;
            let conn = super::push::connection(registry)?;
            let p = airlock::oci::attest::push_report(report, &r, &conn)?;
            ctx.printer.json(&p)?;
            ctx.printer.line(format!(
                "attached {} to {} in {}/{} as referrer {}{}",
                report.display(),
                p.subject,
                p.registry,
                p.repository,
                p.referrer,
                if p.referrers_api {
                    ""
                } else {
                    " (listed under the referrers tag)"
                }
            ));
            return Ok(ExitStatus::Success);
        }
        None => {}
    }
    let reg = if a.verify {
        ctx.open_checking()?
    } else {
        ctx.open_read()?
    };
    let audit = deploy::audit(
        &reg,
        a.host.as_deref(),
        a.model.as_deref(),
        a.verify,
        &ctx.progress,
    )?;
    ctx.printer.json(&audit)?;
    match a.format {
        ReportFormat::Markdown => ctx.printer.line(deploy::markdown(&audit, reg.name())),
        ReportFormat::Table => {
            if audit.deployments.is_empty() {
                ctx.printer.info("no active deployments");
            }
            let mut rows = vec![
                [
                    "HOST",
                    "PATH",
                    "MODEL",
                    "ENV",
                    "LICENCE",
                    "APPROVED BY",
                    "DEPLOYED",
                    "STATUS",
                    "BY",
                ]
                .map(String::from)
                .to_vec(),
            ];
            for r in &audit.deployments {
                rows.push(vec![
                    r.host.clone(),
                    r.path.clone(),
                    format!("{}@{}", r.name, r.version),
                    r.environment.clone().unwrap_or_else(|| "-".into()),
                    format!(
                        "{}{}",
                        r.license.as_deref().unwrap_or("-"),
                        if r.license_verdict == airlock::license::Verdict::Allowed {
                            ""
                        } else {
                            " !"
                        }
                    ),
                    if r.approvals.is_empty() {
                        "-".to_string()
                    } else {
                        r.approvals.join(", ")
                    },
                    r.deployed_at.clone(),
                    r.status.to_string(),
                    r.deployed_by.clone(),
                ]);
            }
            let lines = crate::printer::columns(&rows);
            if !audit.deployments.is_empty() {
                ctx.printer.line(&lines[0]);
            }
            for (r, line) in audit.deployments.iter().zip(lines.iter().skip(1)) {
                ctx.printer.line(line);
                if let Some(from) = &r.pulled_from {
                    ctx.printer.line(format!("  pulled from {from}"));
                }
                if let Some(s) = &r.oms_signer {
                    ctx.printer
                        .line(format!("  OpenSSF model signature by {s}"));
                }
                if let Some((at, by, matches)) = &r.proven {
                    ctx.printer.line(format!(
                        "  proven {at} by host key `{by}`{}",
                        if *matches { "" } else { ": DRIFT reported" }
                    ));
                }
                if let Some(e) = &r.latest_evaluation {
                    ctx.printer.line(format!(
                        "  evaluated {}: {} {} = {} ({})",
                        e.recorded_at,
                        e.result.suite,
                        e.result.metric,
                        e.result.value,
                        e.signer.as_deref().unwrap_or("untrusted key")
                    ));
                }
                if let Some(rv) = &r.revoked {
                    ctx.printer.line(format!(
                        "REVOKED    {}@{} at {}: {}",
                        r.name, r.version, rv.revoked_at, rv.reason
                    ));
                }
                print_findings(&ctx.printer, &r.findings);
            }
        }
    }
    Ok(if audit.drifted() {
        ExitStatus::Integrity
    } else {
        ExitStatus::Success
    })
}

/// One line for a report recorded (or recorded before).
fn ingested_line(i: &airlock::attest::Ingested) -> String {
    format!(
        "{} {} at {}:{} verified {} by host key `{}` ({}): {}",
        if i.recorded {
            "recorded"
        } else {
            "already recorded:"
        },
        i.report.version,
        i.report.host,
        i.report.path,
        i.report.verified_at,
        i.signer,
        &i.key_id[..16],
        if i.report.matches {
            "every byte matches"
        } else {
            "DRIFT"
        }
    )
}
