//! `airlock bom REF [--out FILE]`.

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::BomArgs;

pub(crate) fn run(ctx: &Ctx, a: BomArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_read()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let doc = airlock::bom::bom(&reg, &v)?;
    let text = serde_json::to_string_pretty(&doc)?;
    match &a.out {
        Some(f) => {
            std::fs::write(f, format!("{text}\n"))
                .map_err(|e| airlock::Error::io("write", f, e))?;
            ctx.printer.info(format!(
                "wrote the CycloneDX 1.6 ML-BOM of {}@{} to {}",
                v.name,
                v.label,
                f.display()
            ));
        }
        // The BOM is the data: stdout, with or without --json.
        None => ctx.printer.data(&text),
    }
    Ok(ExitStatus::Success)
}
