//! `airlock trust add|list|revoke|policy|init|status|update|root`.

use airlock::records::{Role, TrustSource};
use airlock::signing::FileKey;
use airlock::trust::chain::{self, InitSpec, RootEdit, parse_exporter};
use serde_json::json;

use super::{Ctx, ExitStatus};
use crate::cli::{
    OmsPolicyArg, RoleArg, TrustCommand, TrustInitArgs, TrustRootCommand, TrustRootEditArgs,
};

pub(crate) fn run(ctx: &Ctx, cmd: TrustCommand) -> anyhow::Result<ExitStatus> {
    let p = &ctx.printer;
    match cmd {
        TrustCommand::Add {
            pubfile,
            name,
            role: RoleArg::ModelSigner,
            ..
        } => {
            let reg = ctx.open()?;
            let (k, added) = airlock::oms::trust_signer(&reg, &pubfile, &name)?;
            p.json(&json!({ "model_signer": k, "added": added }))?;
            let verb = if added { "trusted" } else { "already trusted" };
            p.line(format!(
                "{verb} {} key {} `{}` as a model signer (OpenSSF model signatures)",
                k.algorithm, k.key_id, k.name
            ));
        }
        TrustCommand::Add {
            pubfile,
            name,
            role: RoleArg::Host,
            ..
        } => {
            let reg = ctx.open()?;
            let (k, added) = airlock::attest::trust_host(&reg, &pubfile, &name)?;
            p.json(&json!({ "host_key": k, "added": added }))?;
            let verb = if added { "trusted" } else { "already trusted" };
            p.line(format!(
                "{verb} key {} `{}` as a host (signed verification reports)",
                k.key_id, k.name
            ));
        }
        TrustCommand::Add {
            pubfile,
            name,
            role,
            origins,
            local,
        } => {
            let reg = ctx.open()?;
            let role = match role {
                RoleArg::Approver => Role::Approver,
                RoleArg::Exporter => Role::Exporter,
                RoleArg::Any => Role::Any,
                RoleArg::ModelSigner | RoleArg::Host => unreachable!("handled above"),
            };
            let origins = (!origins.is_empty()).then_some(origins);
            let (k, added) = airlock::trust::add(&reg, &pubfile, &name, role, origins, local)?;
            p.json(&json!({ "key": k, "added": added }))?;
            let verb = if added { "trusted" } else { "already trusted" };
            p.line(format!(
                "{verb} key {} `{}` as {}{}",
                k.key_id,
                k.name,
                k.roles.as_str(),
                if local && added {
                    " (local break-glass change, logged)"
                } else {
                    ""
                }
            ));
        }
        TrustCommand::AddCa { pem, name } => {
            let reg = ctx.open()?;
            let (id, subject, added) = airlock::oms::trust_ca(&reg, &pem, &name)?;
            p.json(&json!({ "ca": { "key_id": id, "name": name, "subject": subject }, "added": added }))?;
            p.line(format!(
                "{} CA {id} `{name}` ({subject}) for OpenSSF model signatures",
                if added { "trusted" } else { "already trusted" }
            ));
        }
        TrustCommand::List => {
            let reg = ctx.open_read()?;
            let list = airlock::trust::list(&reg)?;
            p.json(&list)?;
            if list.keys.is_empty() {
                p.info("no trusted keys (hint: `airlock trust add PUBFILE --name N --role approver|exporter`)");
            }
            for k in &list.keys {
                p.line(key_line(k));
            }
            for k in &list.model_signers {
                p.line(format!(
                    "{}  model-signer ({}) {:<16} {}",
                    k.key_id,
                    k.algorithm,
                    k.name,
                    if k.revoked { "revoked" } else { "active" }
                ));
            }
            p.line(format!(
                "policy: {} approval(s) required",
                list.approvals_required
            ));
        }
        TrustCommand::Revoke {
            key_id,
            reason,
            local,
        } => {
            let reg = ctx.open_existing()?;
            if let Some(k) = airlock::oms::revoke_signer(&reg, &key_id, reason.as_deref())? {
                p.json(&json!({ "model_signer": k }))?;
                p.line(format!("revoked model signer {} `{}`", k.key_id, k.name));
                return Ok(ExitStatus::Success);
            }
            let k = airlock::trust::revoke(&reg, &key_id, reason.as_deref(), local)?;
            p.json(&json!({ "key": k }))?;
            p.line(format!(
                "revoked key {} `{}`; it no longer counts anywhere",
                k.key_id, k.name
            ));
        }
        TrustCommand::Policy {
            approvals,
            local,
            oms,
        } => {
            let reg = ctx.open()?;
            if let Some(k) = approvals {
                airlock::trust::set_approvals_required(&reg, k, local)?;
            }
            if let Some(m) = oms {
                airlock::oms::set_policy(
                    &reg,
                    match m {
                        OmsPolicyArg::Verify => airlock::oms::OmsPolicy::Verify,
                        OmsPolicyArg::Informative => airlock::oms::OmsPolicy::Informative,
                        OmsPolicyArg::Required => airlock::oms::OmsPolicy::Required,
                    },
                )?;
            }
            let k = airlock::trust::approvals_required(&reg)?;
            let o = airlock::oms::policy(&reg)?;
            p.json(&json!({ "approvals_required": k, "oms": o }))?;
            p.line(format!(
                "a version from a bundle needs {k} approval(s) by distinct trusted approver keys"
            ));
            p.line(format!(
                "OpenSSF model signatures at import: {}",
                o.as_str()
            ));
        }
        TrustCommand::Init(a) => return init(ctx, a),
        TrustCommand::Status => {
            let reg = ctx.open_read()?;
            let s = chain::status(&reg)?;
            p.json(&s)?;
            p.line(format!(
                "trust root version {}{}{}",
                s.version,
                if s.rooted {
                    format!(", expires {}", s.expires.as_deref().unwrap_or("-"))
                } else {
                    " (local: no root keys; `airlock trust init` holds the ceremony)".into()
                },
                if s.expired { " — EXPIRED" } else { "" }
            ));
            p.line(format!(
                "thresholds: root {}, exporter {}, approvals {}",
                s.thresholds.root, s.thresholds.exporter, s.approvals_required
            ));
            for k in &s.keys {
                p.line(format!("  {}", key_line(k)));
            }
            for o in &s.origins {
                p.line(format!(
                    "origin `{}`: sequence {}, newest created {}, set by key {} ({} bundle(s))",
                    o.origin,
                    o.sequence,
                    o.created,
                    o.set_by.short(),
                    o.bundles
                ));
            }
            p.line(format!(
                "now {} (clock {}{}{})",
                s.clock.now,
                s.clock.clock,
                s.clock
                    .mark
                    .as_deref()
                    .map(|m| format!(", mark {m}"))
                    .unwrap_or_default(),
                if s.clock.clock_behind {
                    ", CLOCK BEHIND THE MARK"
                } else {
                    ""
                }
            ));
        }
        TrustCommand::Update { file } => {
            let reg = ctx.open_existing()?;
            let a = chain::update(&reg, &file)?;
            p.json(&a)?;
            p.line(format!(
                "trust root version {} applied (expires {}, payload sha256:{})",
                a.version, a.expires, a.payload_sha256
            ));
        }
        TrustCommand::Root(TrustRootCommand::Edit(a)) => return edit(ctx, a),
        TrustCommand::Root(TrustRootCommand::Sign { file, key }) => {
            let key = FileKey::load(&key)?;
            let s = chain::sign_file(&file, &key)?;
            p.json(&s)?;
            p.line(format!(
                "signed trust root version {} in {} with key {} ({} signature(s) now)",
                s.version,
                file.display(),
                s.key_id.short(),
                s.signatures
            ));
        }
    }
    Ok(ExitStatus::Success)
}

fn key_line(k: &airlock::records::TrustedKey) -> String {
    let state = match (&k.revoked_at, &k.revoked_reason) {
        (Some(at), Some(r)) => format!("REVOKED {at}: {r}"),
        (Some(at), None) => format!("REVOKED {at}"),
        _ => "active".into(),
    };
    let origins = k
        .origins
        .as_ref()
        .map(|o| format!(" origins {}", o.join(",")))
        .unwrap_or_default();
    let source = match k.source {
        TrustSource::Root => "root",
        TrustSource::Local => "local",
    };
    format!(
        "{}  {:<9} {:<24} {source:<5} {state}{origins}",
        k.key_id,
        k.roles.as_str(),
        k.name
    )
}

fn init(ctx: &Ctx, a: TrustInitArgs) -> anyhow::Result<ExitStatus> {
    let reg = ctx.open()?;
    let out = match &a.root {
        Some(file) => chain::install(&reg, file)?,
        None => {
            let spec = InitSpec {
                root_keys: a.root_keys,
                threshold: a.threshold,
                exporters: a.exporters.iter().map(|e| parse_exporter(e)).collect(),
                origins: a.origins,
                approvers: a.approvers,
                approvals: a.approvals,
                expires_in_days: a.expires_in_days,
            };
            chain::init(&reg, &spec, a.out.as_deref())?
        }
    };
    ctx.printer.json(&out)?;
    ctx.printer.line(format!(
        "installed trust root version {} ({} key(s), expires {}); payload sha256:{} — compare it on both sides of the gap",
        out.version, out.keys, out.expires, out.payload_sha256
    ));
    if let Some(w) = &out.written {
        ctx.printer.line(format!(
            "wrote it to {w}: install it on the other side with `airlock trust init --root {w}`"
        ));
    }
    Ok(ExitStatus::Success)
}

fn edit(ctx: &Ctx, a: TrustRootEditArgs) -> anyhow::Result<ExitStatus> {
    let e = RootEdit {
        add_root: a.add_root,
        add_exporter: a.add_exporter.iter().map(|x| parse_exporter(x)).collect(),
        origins: a.origins,
        add_approver: a.add_approver,
        remove: a.remove,
        revoke: a.revoke,
        reason: a.reason,
        root_threshold: a.root_threshold,
        exporter_threshold: a.exporter_threshold,
        approvals: a.approvals,
        expires_in_days: a.expires_in_days,
    };
    let reg = match &a.from {
        Some(_) => None,
        None => Some(ctx.open_existing()?),
    };
    let out = chain::edit_to_file(reg.as_ref(), a.from.as_deref(), &e, &a.out)?;
    ctx.printer.json(&out)?;
    ctx.printer.line(format!(
        "wrote trust root version {} to {} (unsigned): sign it with `airlock trust root sign {} --key K` by a threshold of the current and the new root keys",
        out.version,
        a.out.display(),
        a.out.display()
    ));
    Ok(ExitStatus::Success)
}
