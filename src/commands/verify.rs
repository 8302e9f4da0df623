//! `airlock verify [REF…|--all] [--deep]` and `verify --path DIR REF`.

use airlock::verify::{verify_path, verify_store};
use indicatif::HumanBytes;

use airlock::finding::failed;

use super::{Ctx, ExitStatus, parse_ref, print_findings};
use crate::cli::VerifyArgs;

pub(crate) fn run(ctx: &Ctx, a: VerifyArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_checking()?;
    if let Some(dir) = &a.path {
        let [reference] = a.references.as_slice() else {
            return Err(airlock::Error::usage(
                "`verify --path DIR` takes exactly one reference (NAME[@VERSION])",
            )
            .into());
        };
        let v = reg.resolve(&parse_ref(reference)?)?;
        let report = verify_path(&reg, dir, &v, &ctx.progress)?;
        if a.attest {
            let key =
                airlock::signing::FileKey::load(a.key.as_deref().expect("clap requires --key"))?;
            let out = a.out.as_deref().expect("clap requires --out");
            let r = airlock::attest::write_report(&v, &report, &key, out)?;
            ctx.printer.info(format!(
                "wrote a signed report ({} on {}, {}) to {}",
                r.version,
                r.host,
                if r.matches {
                    "matches"
                } else {
                    "DOES NOT MATCH"
                },
                out.display()
            ));
        }
        ctx.printer.json(&report)?;
        print_findings(&ctx.printer, &report.findings);
        let summary = format!(
            "{}: {} of {} files match at {} ({} hashed), {} finding(s)",
            report.subject,
            report.ok,
            report.files,
            report.path,
            HumanBytes(report.hashed_bytes),
            report.findings.len()
        );
        return Ok(finish(ctx, summary, !failed(&report.findings)));
    }
    let versions = if a.all || a.references.is_empty() {
        if !a.all {
            return Err(airlock::Error::usage(
                "name the versions to verify (NAME[@VERSION]), or pass `--all`",
            )
            .into());
        }
        reg.versions()?
    } else {
        a.references
            .iter()
            .map(|r| Ok(reg.resolve(&parse_ref(r)?)?))
            .collect::<anyhow::Result<Vec<_>>>()?
    };
    let report = verify_store(&reg, &versions, a.deep, &ctx.progress)?;
    ctx.printer.json(&report)?;
    print_findings(&ctx.printer, &report.findings);
    let summary = format!(
        "verified {} version(s), {} files: {} blobs re-hashed ({}), {} trusted from recorded stat, {} finding(s)",
        report.versions,
        report.files,
        report.hashed_blobs,
        HumanBytes(report.hashed_bytes),
        report.trusted_blobs,
        report.findings.len()
    );
    Ok(finish(ctx, summary, !failed(&report.findings)))
}

fn finish(ctx: &Ctx, summary: String, ok: bool) -> ExitStatus {
    if ok {
        ctx.printer.line(format!("ok: {summary}"));
        ExitStatus::Success
    } else {
        ctx.printer.line(format!("FAILED: {summary}"));
        ExitStatus::Integrity
    }
}
