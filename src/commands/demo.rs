//! `airlock demo [--dir DIR]`: the whole story on a small generated model,
//! across two registries (connected and isolated), printing each step as it
//! completes. The story and its verdict are `airlock::demo::run`.

use super::{Ctx, ExitStatus};
use crate::cli::DemoArgs;

pub(crate) fn run(ctx: &Ctx, a: DemoArgs) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    if let Some(d) = &a.dir {
        p.line(format!("airlock demo in {}", d.display()));
    }
    let report = airlock::demo::run(a.dir.as_deref(), &mut |s| {
        p.line(format!("\n[{}] {}", s.step, s.title));
        for l in s.outcome.lines() {
            p.line(format!("    {l}"));
        }
    })?;
    p.json(&report)?;
    p.line(if report.ok {
        "\ndemo complete: the approved bytes crossed, every tamper was caught, every clean copy verified"
    } else {
        "\ndemo FAILED: a step did not turn out as expected"
    });
    if report.temporary {
        p.info("(the demo folder was temporary and has been removed; pass --dir DIR to keep it)");
    }
    Ok(if report.ok {
        ExitStatus::Success
    } else {
        ExitStatus::Integrity
    })
}
