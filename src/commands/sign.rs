//! `airlock sign REF --key KEYFILE`: add an approval.

use airlock::signing::FileKey;
use serde_json::json;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::{SignArgs, SignFormat};

pub(crate) fn run(ctx: &Ctx, a: SignArgs) -> anyhow::Result<ExitStatus> {
    if a.format == SignFormat::Oms {
        let key = airlock::oms::EcKey::load(&a.key)?;
        let reg = ctx.open_existing()?;
        let v = reg.resolve(&parse_ref(&a.reference)?)?;
        let out = a
            .out
            .as_deref()
            .expect("clap requires --out with --format oms");
        let s = airlock::oms::sign(&reg, &v, &key, out)?;
        ctx.printer.json(&s)?;
        ctx.printer.line(format!(
            "wrote the OpenSSF model signature of {} ({} files, key hint {}) to {}",
            s.version, s.resources, s.key_id, s.out
        ));
        return Ok(ExitStatus::Success);
    }
    if a.out.is_some() {
        return Err(airlock::Error::usage("--out goes with --format oms").into());
    }
    let key = FileKey::load(&a.key)?;
    let mut reg = ctx.open_existing()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let (approval, added) = airlock::trust::sign(&mut reg, &v, &key)?;
    ctx.printer.json(&json!({
        "name": v.name.to_string(),
        "version": v.label,
        "manifest_digest": v.manifest_digest.to_hex(),
        "key_id": approval.key_id,
        "signer": approval.name,
        "signed_at": approval.signed_at,
        "added": added,
    }))?;
    let verb = if added {
        "approved"
    } else {
        "already approved"
    };
    ctx.printer.line(format!(
        "{verb} {}@{} with key {} ({})",
        v.name, v.label, approval.key_id, approval.name
    ));
    Ok(ExitStatus::Success)
}
