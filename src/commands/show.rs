//! `airlock show REF`: one version in full.

use indicatif::HumanBytes;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::RefArgs;

pub(crate) fn run(ctx: &Ctx, a: RefArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open_read()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let doc = airlock::show::show(&reg, &v)?;
    ctx.printer.json(&doc)?;
    let p = &ctx.printer;
    let dash = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".into());
    p.line(format!("{}@{}", doc.name, doc.version));
    p.line(format!("  manifest     sha256:{}", doc.manifest_digest));
    p.line(format!(
        "  size         {} in {} files",
        HumanBytes(doc.size),
        doc.files.len()
    ));
    p.line(format!(
        "  source       {} (revision {}, layout {})",
        dash(&doc.source.url),
        dash(&doc.source.revision),
        doc.source.layout
    ));
    p.line(format!(
        "  licence      {} (text {})",
        dash(&doc.license.id),
        doc.license
            .text_sha256
            .as_deref()
            .map(|t| format!("sha256:{t}"))
            .unwrap_or_else(|| "not kept".into())
    ));
    p.line(format!(
        "  disclosure   {}{}",
        doc.data_disclosure.status,
        doc.data_disclosure
            .notes
            .as_deref()
            .map(|n| format!(" — {n}"))
            .unwrap_or_default()
    ));
    p.line(format!("  owner        {}", dash(&doc.owner)));
    p.line(format!(
        "  imported     {} by {} into `{}` from a {}",
        doc.imported_at, doc.imported_by, doc.registry, doc.origin
    ));
    if let Some(a) = &doc.unsafe_allowance {
        p.line(format!(
            "  UNSAFE FILES ALLOWED by {}: {}",
            a.actor, a.reason
        ));
    }
    if let Some(r) = &doc.revoked {
        p.line(format!(
            "  REVOKED      {} at {}{}",
            r.reason,
            r.revoked_at,
            if r.in_force {
                String::new()
            } else {
                format!(" (not in force here: {} trusted approval(s))", r.approvals)
            }
        ));
    }
    if let Some(b) = &doc.bundle_id {
        p.line(format!("  bundle       {b}"));
    }
    for c in &doc.oms_signatures {
        p.line(format!(
            "  OMS          {} {}: {}",
            c.path, c.status, c.detail
        ));
    }
    for l in &doc.oci_locations {
        let (verb, word) = if l.direction == "pull" {
            ("pulled", "from")
        } else {
            ("pushed", "to")
        };
        p.line(format!(
            "  oci          {verb} {word} {}/{}{} @sha256:{} ({} by {})",
            l.registry,
            l.repository,
            l.tag
                .as_deref()
                .map(|t| format!(":{t}"))
                .unwrap_or_default(),
            l.manifest_digest,
            l.at,
            l.by
        ));
    }
    if doc.approvals.is_empty() {
        p.line("  approvals    none");
    } else {
        p.line(format!(
            "  approvals    {} live (policy requires {} for bundle imports)",
            doc.approvals_live, doc.approvals_required
        ));
        for a in &doc.approvals {
            p.line(format!(
                "    {:<14} {}  {}  {}",
                a.status,
                a.key_id.short(),
                a.signed_at,
                a.name
            ));
        }
    }
    if doc.deployments.is_empty() {
        p.line("  deployments  none");
    } else {
        p.line("  deployments");
        for d in &doc.deployments {
            let state = match &d.ended_at {
                Some(t) => format!("ended {t}"),
                None => format!(
                    "active, {}",
                    d.last_status
                        .unwrap_or(airlock::records::DeployStatus::Unverified)
                ),
            };
            p.line(format!(
                "    {}:{}  since {} by {}  ({state})",
                d.host, d.path, d.deployed_at, d.deployed_by
            ));
        }
    }
    p.line("  files");
    for f in &doc.files {
        let verdict = f.safety.as_ref().map(|s| s.verdict.as_str()).unwrap_or("-");
        p.line(format!(
            "    {:<12} {:<9} {:>10}  {}  {}",
            f.format,
            verdict,
            HumanBytes(f.size).to_string(),
            f.sha256.short(16),
            f.path
        ));
        for finding in f.safety.iter().flat_map(|s| &s.findings) {
            p.line(format!(
                "      {}: {}",
                finding.severity.as_str(),
                finding.message
            ));
        }
    }
    Ok(ExitStatus::Success)
}
