//! `airlock pull oci://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]`.

use airlock::oci::OciRef;
use airlock::oci::pull::{PullOptions, PullOutcome};
use indicatif::HumanBytes;

use super::{Ctx, ExitStatus};
use crate::cli::PullArgs;

pub(crate) fn run(ctx: &Ctx, a: PullArgs) -> anyhow::Result<ExitStatus> {
    let source: OciRef = a.source.parse()?;
    let opts = PullOptions {
        import: airlock::bundle::import::BundleOptions {
            allow_unsafe: super::allowance(
                a.allow_unsafe,
                a.reason.as_deref().filter(|_| a.allow_unsafe),
            )?,
            allow_downgrade: a.reason.clone().filter(|_| a.allow_downgrade),
            now: None,
        },
        connection: super::push::connection(&a.registry)?,
    };
    let mut reg = ctx.open()?;
    let out = airlock::oci::pull::pull(&mut reg, &source, &opts, &ctx.progress)?;
    report(ctx, &out)
}

/// Print what a pull or an OCI layout import did.
pub(crate) fn report(ctx: &Ctx, out: &PullOutcome) -> anyhow::Result<ExitStatus> {
    for w in &out.warnings {
        ctx.printer.warn(w);
    }
    ctx.printer.json(out)?;
    let from = if out.registry == "oci-layout" {
        format!("the OCI layout {}", out.repository)
    } else {
        format!("{}/{}", out.registry, out.repository)
    };
    for v in &out.versions {
        if v.created {
            ctx.printer.line(format!(
                "verified {}@{} from {from} (manifest sha256:{}, {} approval(s) via {}; {} blob(s) fetched, {}{})",
                v.name,
                v.version,
                v.oci_manifest_digest,
                v.approvals,
                v.statement_from,
                v.fetched_blobs,
                HumanBytes(v.fetched_bytes),
                if v.resumed_blobs > 0 {
                    format!(", {} resumed from an interrupted pull", v.resumed_blobs)
                } else {
                    String::new()
                }
            ));
        } else {
            ctx.printer.line(format!(
                "{}@{} is already here (manifest sha256:{}); nothing fetched",
                v.name, v.version, v.oci_manifest_digest
            ));
        }
    }
    Ok(ExitStatus::Success)
}
