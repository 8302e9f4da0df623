//! `airlock trust add|list|revoke|policy`.

use airlock::records::Role;
use serde_json::json;

use super::{Ctx, ExitStatus};
use crate::cli::{RoleArg, TrustCommand};

pub(crate) fn run(ctx: &Ctx, cmd: TrustCommand) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    match cmd {
        TrustCommand::Add {
            pubfile,
            name,
            role,
        } => {
            let reg = ctx.open()?;
            let role = match role {
                RoleArg::Approver => Role::Approver,
                RoleArg::Exporter => Role::Exporter,
                RoleArg::Any => Role::Any,
            };
            let (k, added) = airlock::trust::add(&reg, &pubfile, &name, role)?;
            p.json(&json!({ "key": k, "added": added }))?;
            let verb = if added { "trusted" } else { "already trusted" };
            p.line(format!(
                "{verb} key {} `{}` as {}",
                k.key_id,
                k.name,
                k.role.as_str()
            ));
        }
        TrustCommand::List => {
            let reg = ctx.open_existing()?;
            let list = airlock::trust::list(&reg)?;
            p.json(&list)?;
            let keys = list.keys;
            if keys.is_empty() {
                p.info("no trusted keys (hint: `airlock trust add PUBFILE --name N --role approver|exporter`)");
            }
            for k in &keys {
                let state = match (&k.revoked_at, &k.revoked_reason) {
                    (Some(at), Some(r)) => format!("REVOKED {at}: {r}"),
                    (Some(at), None) => format!("REVOKED {at}"),
                    _ => "active".into(),
                };
                p.line(format!(
                    "{}  {:<9} {:<24} {state}",
                    k.key_id,
                    k.role.as_str(),
                    k.name
                ));
            }
            p.line(format!(
                "policy: {} approval(s) required",
                list.approvals_required
            ));
        }
        TrustCommand::Revoke { key_id, reason } => {
            let reg = ctx.open_existing()?;
            let k = airlock::trust::revoke(&reg, &key_id, reason.as_deref())?;
            p.json(&json!({ "key": k }))?;
            p.line(format!(
                "revoked key {} `{}`; it no longer counts anywhere",
                k.key_id, k.name
            ));
        }
        TrustCommand::Policy { approvals } => {
            let reg = ctx.open()?;
            if let Some(k) = approvals {
                airlock::trust::set_approvals_required(&reg, k)?;
            }
            let k = airlock::trust::approvals_required(&reg)?;
            p.json(&json!({ "approvals_required": k }))?;
            p.line(format!(
                "a version from a bundle needs {k} approval(s) by distinct trusted approver keys"
            ));
        }
    }
    Ok(ExitStatus::Success)
}
