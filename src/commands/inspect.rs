//! `airlock inspect PATH|REF`: per file, the detected format, tensor count,
//! dtypes, parameters, safety verdict and findings. Exit 3 when a file is
//! malformed, 4 when one is unsafe.

use airlock::formats::Verdict;

use super::{Ctx, ExitStatus};
use crate::cli::InspectArgs;

pub(crate) fn run(ctx: &Ctx, a: InspectArgs) -> anyhow::Result<ExitStatus> {
    let doc = airlock::safety::inspect_target(&a.target, || ctx.open_read_lib())?;
    ctx.printer.json(&doc)?;
    for r in &doc.files {
        let i = &r.inspection;
        let dtypes = if i.dtypes.is_empty() {
            "-".to_string()
        } else {
            i.dtypes.join(",")
        };
        ctx.printer.line(format!(
            "{:<10} {:<12} tensors {:>6}  params {:>14}  dtypes {:<14} {}",
            i.verdict.as_str().to_uppercase(),
            i.format.as_str(),
            i.tensors,
            i.parameters,
            dtypes,
            r.path
        ));
        for (k, v) in &i.metadata {
            ctx.printer.line(format!("    {k} = {v}"));
        }
        for f in &i.findings {
            ctx.printer
                .line(format!("    {}: {}", f.severity.as_str(), f.message));
        }
    }
    ctx.printer.line(format!(
        "{} file(s), {} parameters, verdict {}",
        doc.files.len(),
        doc.parameters,
        doc.verdict.as_str()
    ));
    Ok(match doc.verdict {
        Verdict::Malformed => ExitStatus::Integrity,
        Verdict::Unsafe => ExitStatus::Policy,
        _ => ExitStatus::Success,
    })
}
