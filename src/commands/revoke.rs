//! `airlock revoke REF --key K --reason T`: a signed version revocation.

use airlock::signing::FileKey;
use serde_json::json;

use super::{Ctx, ExitStatus, parse_ref};
use crate::cli::RevokeArgs;

pub(crate) fn run(ctx: &Ctx, a: RevokeArgs) -> anyhow::Result<ExitStatus> {
    let key = FileKey::load(&a.key)?;
    let reg = ctx.open_existing()?;
    let v = reg.resolve(&parse_ref(&a.reference)?)?;
    let (view, added) = airlock::trust::revocation::revoke(&reg, &v, &key, &a.reason)?;
    ctx.printer.json(&json!({
        "name": v.name.to_string(), "version": v.label,
        "manifest_digest": v.manifest_digest.to_hex(),
        "revocation": view, "signature_added": added,
    }))?;
    ctx.printer.line(format!(
        "revoked {}@{} ({}); {} approver signature(s) trusted here; it travels in the next export",
        v.name, v.label, view.reason, view.approvals
    ));
    Ok(ExitStatus::Success)
}
