//! The model-file safety policy: inspect every file (in parallel, reading
//! headers and opcode streams only), then decide once.
//!
//! Defaults (CONTRACT, "Model-file safety defaults"): a malformed file is
//! hostile — exit 3, whatever the flags; an unsafe file (a pickle reaching
//! for globals outside the safe list, a chat template reaching for Python
//! internals, an encrypted or nested archive) is refused — exit 4 — unless
//! `--allow-unsafe` is given with a reason, which is recorded with who;
//! warnings (safe-listed pickles, executable companions) are reported and
//! recorded. The same policy runs on folder import, bundle import and
//! before checkout.

use std::path::PathBuf;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::formats::{self, Inspection, Verdict};
use crate::records::{Allowance, FileSafety};

/// A file to inspect: its path in the model and where its bytes are.
pub struct Target {
    /// The path in the model (shown in findings).
    pub rel: String,
    /// Where the bytes are.
    pub path: PathBuf,
    /// Their size.
    pub size: u64,
}

/// One file as `inspect` reports it.
#[derive(Debug, Serialize)]
pub struct InspectedFile {
    /// The path in the model (or the file name of a lone file).
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// What inspecting it found.
    #[serde(flatten)]
    pub inspection: Inspection,
}

/// What `inspect PATH|REF` found.
#[derive(Debug, Serialize)]
pub struct InspectReport {
    /// The target as given.
    pub target: String,
    /// Every file, in model order.
    pub files: Vec<InspectedFile>,
    /// Parameters summed over the files.
    pub parameters: u64,
    /// The worst verdict of any file (`ok` when there is none).
    pub verdict: Verdict,
}

/// `inspect TARGET`: a file, a model folder (any layout `import` reads), or
/// else a reference to a registered version, whose stored blobs are read;
/// `open` opens the registry only in that last case.
pub fn inspect_target(
    target: &str,
    open: impl FnOnce() -> Result<crate::registry::Registry>,
) -> Result<InspectReport> {
    let p = std::path::Path::new(target);
    let targets: Vec<Target> = if p.is_file() {
        let size = std::fs::metadata(p)
            .map_err(|e| Error::io("stat", p, e))?
            .len();
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
        crate::source::resolve(p, None)?
            .files
            .into_iter()
            .map(|f| Target {
                rel: f.rel.to_string(),
                path: f.path,
                size: f.size,
            })
            .collect()
    } else {
        let reg = open()?;
        let v = reg.resolve(&target.parse()?)?;
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
    Ok(InspectReport {
        target: target.to_string(),
        parameters: results.iter().map(|i| i.parameters).sum(),
        verdict: results
            .iter()
            .map(|i| i.verdict)
            .max()
            .unwrap_or(Verdict::Ok),
        files: targets
            .into_iter()
            .zip(results)
            .map(|(t, inspection)| InspectedFile {
                path: t.rel,
                size: t.size,
                inspection,
            })
            .collect(),
    })
}

/// Inspect every target, in parallel.
pub fn inspect_all(targets: &[Target]) -> Vec<Inspection> {
    crate::parallel::map_all(targets, |t| formats::inspect(&t.rel, &t.path, t.size))
}

/// What the policy decided for a set of files.
#[derive(Debug, Default, Serialize)]
pub struct Decision {
    /// Warnings to show (and keep in the records).
    pub warnings: Vec<String>,
    /// Unsafe files let in by an allowance.
    pub allowed_unsafe: Vec<String>,
}

/// One inspected file as the policy sees it.
#[derive(Clone, Copy)]
pub struct Judged<'a> {
    /// The path in the model (shown in findings).
    pub rel: &'a str,
    /// The format its bytes are.
    pub format: formats::Format,
    /// The worst severity found.
    pub verdict: Verdict,
    /// Everything found.
    pub findings: &'a [formats::SafetyFinding],
}

/// How many files are inspected at once: their targets and full
/// inspections are held per batch, not for a whole model of a hundred
/// thousand files.
pub(crate) const BATCH: usize = 1024;

/// Apply the policy. `allow` lets unsafe (never malformed) files through.
/// `subject` (a version, `name@label`) prefixes the file named in an error.
pub fn decide<'a, I>(files: I, allow: Option<&Allowance>, subject: Option<&str>) -> Result<Decision>
where
    I: Iterator<Item = Judged<'a>> + Clone,
{
    let mut d = Decision::default();
    let name = |t: &Judged<'_>| match subject {
        Some(s) => format!("{s}: {}", t.rel),
        None => t.rel.to_string(),
    };
    let describe = |i: &Judged<'_>, at_least: Verdict| {
        i.findings
            .iter()
            .filter(|f| f.severity >= at_least)
            .map(|f| f.message.clone())
            .collect::<Vec<_>>()
            .join("; ")
    };
    if let Some(i) = files.clone().find(|i| i.verdict == Verdict::Malformed) {
        return Err(Error::Hostile {
            what: name(&i),
            reason: format!(
                "malformed {}: {}",
                i.format.as_str(),
                describe(&i, Verdict::Malformed)
            ),
        });
    }
    let mut unsafe_files = files.clone().filter(|i| i.verdict == Verdict::Unsafe);
    if let Some(first) = unsafe_files.next() {
        if allow.is_none() {
            let others = unsafe_files.count();
            let more = if others > 0 {
                format!(" (and {others} more file(s))")
            } else {
                String::new()
            };
            return Err(Error::Policy {
                what: name(&first),
                reason: format!(
                    "{}{more}; `--allow-unsafe --reason TEXT` lets it in and records who and why",
                    describe(&first, Verdict::Unsafe)
                ),
            });
        }
        d.allowed_unsafe = files
            .clone()
            .filter(|i| i.verdict == Verdict::Unsafe)
            .map(|i| i.rel.to_string())
            .collect();
    }
    for i in files {
        for f in i.findings.iter().filter(|f| f.severity == Verdict::Warning) {
            d.warnings.push(format!("{}: {}", i.rel, f.message));
        }
        for f in i.findings.iter().filter(|f| f.severity == Verdict::Unsafe) {
            if allow.is_some() {
                d.warnings
                    .push(format!("{}: ALLOWED UNSAFE: {}", i.rel, f.message));
            }
        }
    }
    Ok(d)
}

/// Inspect a version's stored files, apply the policy, and record each
/// file's detected format and findings on its record.
pub(crate) fn check_stored(
    path_of: &dyn Fn(&crate::digest::Sha256Digest) -> PathBuf,
    files: &mut [crate::records::FileRecord],
    allow: Option<&Allowance>,
    subject: Option<&str>,
) -> Result<Decision> {
    for chunk in files.chunks_mut(BATCH) {
        let targets: Vec<Target> = chunk
            .iter()
            .map(|f| Target {
                rel: f.path.to_string(),
                path: path_of(&f.sha256),
                size: f.size,
            })
            .collect();
        for (f, i) in chunk.iter_mut().zip(inspect_all(&targets)) {
            f.format = i.format;
            f.safety = Some(FileSafety::of(&i));
        }
    }
    decide(
        files.iter().filter_map(|f| {
            let s = f.safety.as_ref()?;
            Some(Judged {
                rel: f.path.as_str(),
                format: f.format,
                verdict: s.verdict,
                findings: &s.findings,
            })
        }),
        allow,
        subject,
    )
}
