//! `airlock inspect PATH|REF`: per file, the detected format, tensor count,
//! dtypes, parameters, safety verdict and findings. Exit 3 when a file is
//! malformed, 4 when one is unsafe.

use std::path::Path;

use airlock::formats::{Inspection, Verdict};
use airlock::safety::{Target, inspect_all};
use serde::Serialize;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::InspectArgs;

#[derive(Serialize)]
struct Row {
    path: String,
    size: u64,
    #[serde(flatten)]
    inspection: Inspection,
}

#[derive(Serialize)]
struct Doc {
    target: String,
    files: Vec<Row>,
    parameters: u64,
    verdict: Verdict,
}

pub fn run(ctx: &Ctx, a: InspectArgs) -> anyhow::Result<ExitStatus> {
    let p = Path::new(&a.target);
    let targets: Vec<Target> = if p.is_file() {
        let size = std::fs::metadata(p)?.len();
        let rel = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        vec![Target {
            rel,
            path: p.to_path_buf(),
            size,
        }]
    } else if p.is_dir() {
        let src = airlock::import::source::resolve(p, None)?;
        src.files
            .into_iter()
            .map(|f| Target {
                rel: f.rel.to_string(),
                path: f.path,
                size: f.size,
            })
            .collect()
    } else {
        let reg = ctx.open_existing()?;
        let v = reg.resolve(&parse_ref(&a.target)?)?;
        reg.files(&v)?
            .into_iter()
            .map(|f| Target {
                rel: f.path.to_string(),
                path: reg.store().blob_path(&f.sha256),
                size: f.size,
            })
            .collect()
    };
    let results = inspect_all(&targets);
    let verdict = results
        .iter()
        .map(|i| i.verdict)
        .max()
        .unwrap_or(Verdict::Ok);
    let doc = Doc {
        target: a.target.clone(),
        parameters: results.iter().map(|i| i.parameters).sum(),
        verdict,
        files: targets
            .iter()
            .zip(results)
            .map(|(t, i)| Row {
                path: t.rel.clone(),
                size: t.size,
                inspection: i,
            })
            .collect(),
    };
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
        for f in &i.findings {
            ctx.printer
                .line(format!("    {}: {}", f.severity.as_str(), f.message));
        }
    }
    ctx.printer.line(format!(
        "{} file(s), {} parameters, verdict {}",
        doc.files.len(),
        doc.parameters,
        verdict.as_str()
    ));
    Ok(match verdict {
        Verdict::Malformed => ExitStatus::Integrity,
        Verdict::Unsafe => ExitStatus::Policy,
        _ => ExitStatus::Success,
    })
}
