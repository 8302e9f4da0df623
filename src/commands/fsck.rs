//! `airlock fsck`: store and database consistency.

use airlock::finding::failed;

use super::{Ctx, ExitStatus, print_findings};

pub(crate) fn run(ctx: &Ctx) -> anyhow::Result<ExitStatus> {
    let r = airlock::maintenance::fsck_home(&ctx.home)?;
    ctx.printer.json(&r)?;
    print_findings(&ctx.printer, &r.findings);
    for l in &r.leftovers {
        ctx.printer.info(format!(
            "note: a {} to `{}` started {} by {} (pid {}) did not finish; it left {}; `airlock gc` cleans it{}",
            l.kind.as_str(),
            l.target,
            l.started_at,
            l.started_by,
            l.pid,
            if l.paths.is_empty() {
                "nothing on disk".to_string()
            } else {
                l.paths.join(", ")
            },
            if l.kind == airlock::pending::OutputKind::Deploy {
                " (recording the deployment if its copy is in place)"
            } else {
                ""
            }
        ));
    }
    for s in &r.incomplete_sets {
        let list = |v: &[u32]| v.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
        ctx.printer.info(format!(
            "note: bundle {} from `{}` (sequence {}) waits for volume(s) {} of {}; received {}; {} blob(s) kept for it until it completes or expires at {}",
            s.bundle_id,
            s.origin,
            s.sequence,
            list(&s.missing),
            s.count,
            list(&s.received),
            s.kept_blobs,
            s.expires
        ));
    }
    if r.unreferenced_blobs > 0 || r.stale_temp_files > 0 {
        ctx.printer.info(format!(
            "note: {} unreferenced blob(s) and {} temp file(s) from interrupted runs; `airlock gc` removes them",
            r.unreferenced_blobs, r.stale_temp_files
        ));
    }
    let summary = format!(
        "{} version(s), {} referenced blob(s), {} blob(s) in the store, {} finding(s)",
        r.versions,
        r.blobs_referenced,
        r.blobs_in_store,
        r.findings.len()
    );
    if !failed(&r.findings) {
        ctx.printer.line(format!("ok: {summary}"));
        Ok(ExitStatus::Success)
    } else {
        ctx.printer.line(format!("FAILED: {summary}"));
        Ok(ExitStatus::Integrity)
    }
}
