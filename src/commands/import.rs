//! `airlock import DIR --name NAME …`.

use airlock::import::{ImportOptions, import_dir};
use airlock::records::Disclosure;
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::{DisclosureArg, ImportArgs};

pub fn run(ctx: &Ctx, a: ImportArgs) -> anyhow::Result<ExitStatus> {
    let opts = ImportOptions {
        name: a.name.parse()?,
        version: a.version_label.as_deref().map(str::parse).transpose()?,
        source_url: a.source,
        revision: a.revision,
        license_id: a.license.map(|l| l.to_ascii_lowercase()),
        license_file: a.license_file,
        disclosure: match a.data_disclosure {
            DisclosureArg::Full => Disclosure::Full,
            DisclosureArg::Partial => Disclosure::Partial,
            DisclosureArg::None => Disclosure::None,
            DisclosureArg::Unknown => Disclosure::Unknown,
        },
        data_notes: a.data_notes,
        owner: a.owner,
        link: a.link,
    };
    let mut reg = ctx.open()?;
    let out = import_dir(&mut reg, &a.dir, &opts, &ctx.progress)?;
    ctx.printer.json(&out)?;
    for n in &out.notes {
        ctx.printer.warn(n);
    }
    let verb = if out.created { "imported" } else { "unchanged" };
    ctx.printer.line(format!(
        "{verb} {}@{} ({} files, {}, layout {}, {} checked against upstream hashes)",
        out.name,
        out.version,
        out.files,
        HumanBytes(out.bytes),
        out.layout,
        out.upstream_checked
    ));
    ctx.printer
        .line(format!("manifest sha256:{}", out.manifest_digest));
    Ok(ExitStatus::Success)
}
