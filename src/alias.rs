//! Aliases with history: `alias set NAME ALIAS VERSION`, `alias rm`,
//! `alias list [--at TIME]`, `alias history`, and `NAME@ALIAS` wherever a
//! reference is taken (a version's own label wins over an alias of the
//! same name; `alias set` refuses to make such a pair).
//!
//! Where an alias points now is a row (`aliases`); every change is an
//! event in the hash-chained log (`alias-set`, `alias-rm`) in the same
//! transaction, so the history is the log: "which version was `prod` on
//! 1 March" is answered by replaying it, and `log --verify` checks the rows
//! against it. A policy can name the aliases (or `*`) whose target must
//! carry the approvals the registry requires (exit 4 otherwise); a revoked
//! version is never aliased.

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::{Error, Result};
use crate::event::{Event, EventDraft, EventKind};
use crate::name::{ModelName, VersionLabel};
use crate::records::VersionRecord;
use crate::registry::Registry;

/// The registry setting naming the aliases that need an approved target.
const POLICY_KEY: &str = "alias_approval";

/// An alias and the version it points at.
#[derive(Debug, Clone, Serialize)]
pub struct AliasView {
    /// The model.
    pub name: String,
    /// The alias.
    pub alias: String,
    /// The version's label.
    pub version: String,
    /// When it was set to this version (from the log with `--at`).
    pub set_at: String,
    /// By whom.
    pub set_by: String,
}

/// One change of an alias, from the log.
#[derive(Debug, Clone, Serialize)]
pub struct AliasChange {
    /// The log's sequence number.
    pub seq: u64,
    /// When.
    pub time: String,
    /// Who.
    pub actor: String,
    /// The alias.
    pub alias: String,
    /// `set` or `rm`.
    pub change: String,
    /// The version it points at after (none after `rm`).
    pub version: Option<String>,
    /// The version it pointed at before.
    pub previous: Option<String>,
}

fn checked_alias(reg: &Registry, name: &ModelName, alias: &str) -> Result<()> {
    alias.parse::<VersionLabel>().map_err(|_| {
        Error::usage(format!(
            "invalid alias `{alias}`: use [A-Za-z0-9._-], not starting with `sha256:`"
        ))
    })?;
    if reg.db.versions_of(name)?.iter().any(|v| v.label == alias) {
        return Err(Error::usage(format!(
            "`{alias}` is a version label of {name}: an alias of the same name would never be used (`{name}@{alias}` is that version)"
        )));
    }
    Ok(())
}

/// Whether the policy requires an approved target for `alias`.
fn needs_approval(reg: &Registry, alias: &str) -> Result<bool> {
    Ok(reg
        .db
        .get_setting(POLICY_KEY)?
        .is_some_and(|list| list.split(',').any(|a| a == "*" || a == alias)))
}

/// The aliases whose target must carry the registry's required approvals
/// (`*`: all), as set by [`set_policy`].
pub fn policy(reg: &Registry) -> Result<Vec<String>> {
    Ok(reg
        .db
        .get_setting(POLICY_KEY)?
        .map(|l| {
            l.split(',')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default())
}

/// Name the aliases (`*`: every alias; empty: none) whose target must carry
/// the approvals the registry requires. Logged.
pub fn set_policy(reg: &Registry, aliases: &[String]) -> Result<()> {
    for a in aliases.iter().filter(|a| *a != "*") {
        a.parse::<VersionLabel>()
            .map_err(|_| Error::usage(format!("invalid alias `{a}` in the policy")))?;
    }
    let value = aliases.join(",");
    let event = EventDraft::new(
        EventKind::TrustPolicy,
        POLICY_KEY,
        serde_json::json!({ "aliases_needing_approval": aliases }),
    );
    reg.db.set_setting_logged(POLICY_KEY, &value, &event)
}

/// Point `alias` of `v`'s model at `v`. Returns the label it pointed at
/// before, if any.
pub fn set(reg: &Registry, alias: &str, v: &VersionRecord) -> Result<Option<String>> {
    set_with(reg, alias, v, None)
}

/// An alias carried in a bundle: where the exporting registry's alias
/// pointed when the bundle was written.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct CarriedAlias {
    /// The model.
    pub name: String,
    /// The alias.
    pub alias: String,
    /// The version's label.
    pub version: String,
    /// The version's manifest digest (hex).
    pub manifest_digest: String,
    /// When it was set there.
    pub set_at: String,
}

/// The aliases pointing at `v` here, as a bundle carries them.
pub(crate) fn carried_for(reg: &Registry, v: &VersionRecord) -> Result<Vec<CarriedAlias>> {
    Ok(reg
        .db
        .aliases(Some(&v.name))?
        .into_iter()
        .filter(|(_, r)| r.version_id == v.id)
        .map(|(m, r)| CarriedAlias {
            name: m,
            alias: r.alias,
            version: v.label.clone(),
            manifest_digest: v.manifest_digest.to_hex(),
            set_at: r.set_at,
        })
        .collect())
}

/// Apply an alias a bundle carried (`bundle_id`), once its version is
/// recorded here: moved only when the carried setting is newer than this
/// registry's own; refused by the rules or the policy → a warning, never
/// the import's failure. Returns what happened, for the report.
pub(crate) fn apply_carried(
    reg: &Registry,
    a: &CarriedAlias,
    bundle_id: &str,
) -> Result<Option<String>> {
    let Ok(name) = a.name.parse::<ModelName>() else {
        return Ok(Some(format!(
            "alias {}@{}: not a model name",
            a.name, a.alias
        )));
    };
    let Some(v) = reg
        .db
        .find_version(
            &name,
            &crate::name::VersionSelector::Label(a.version.parse()?),
        )?
        .filter(|v| v.manifest_digest.to_hex() == a.manifest_digest)
    else {
        return Ok(Some(format!(
            "alias {}@{}: {} (sha256:{}) is not held here",
            a.name, a.alias, a.version, a.manifest_digest
        )));
    };
    if let Some(here) = reg.db.alias(&name, &a.alias)?
        && (here.version_id == v.id || here.set_at >= a.set_at)
    {
        return Ok((here.version_id != v.id).then(|| {
            format!(
                "alias {}@{}: kept this registry's own, newer setting ({}, {}) over the carried one ({}, {})",
                a.name, a.alias, here.label, here.set_at, a.version, a.set_at
            )
        }));
    }
    match set_with(reg, &a.alias, &v, Some(bundle_id)) {
        Ok(_) => Ok(None),
        Err(e) => Ok(Some(format!("alias {}@{} not moved: {e}", a.name, a.alias))),
    }
}

fn set_with(
    reg: &Registry,
    alias: &str,
    v: &VersionRecord,
    bundle_id: Option<&str>,
) -> Result<Option<String>> {
    checked_alias(reg, &v.name, alias)?;
    let subject = format!("{}@{}", v.name, v.label);
    if let Some(r) = crate::trust::revocation::in_force(reg, v)? {
        return Err(Error::Untrusted {
            what: subject,
            reason: format!("the version was revoked at {}: {}", r.revoked_at, r.reason),
        });
    }
    if needs_approval(reg, alias)? {
        let required = crate::trust::approvals_required(reg)?.max(1) as usize;
        let (_, live) = crate::trust::approval_status(reg, v)?;
        if live < required {
            return Err(Error::Policy {
                what: subject,
                reason: format!(
                    "the policy requires {required} live approval(s) before `{alias}` points at it; it has {live} (`airlock sign {}@{} --key KEY`)",
                    v.name, v.label
                ),
            });
        }
    }
    let before = reg.db.alias(&v.name, alias)?.map(|r| r.label);
    if before.as_deref() == Some(v.label.as_str()) {
        return Ok(before);
    }
    let event = EventDraft::new(
        EventKind::AliasSet,
        format!("{}@{alias}", v.name),
        serde_json::json!({
            "alias": alias,
            "version": v.label,
            "manifest_digest": v.manifest_digest.to_hex(),
            "previous": before,
            "bundle_id": bundle_id,
        }),
    );
    reg.db.set_alias(&v.name, alias, v.id, &event)?;
    Ok(before)
}

/// Remove `alias` of `name`; returns the label it pointed at.
pub fn remove(reg: &Registry, name: &ModelName, alias: &str) -> Result<String> {
    let Some(before) = reg.db.alias(name, alias)? else {
        return Err(Error::not_found("alias", format!("{name}@{alias}")));
    };
    let event = EventDraft::new(
        EventKind::AliasRemove,
        format!("{name}@{alias}"),
        serde_json::json!({ "alias": alias, "previous": before.label }),
    );
    reg.db.remove_alias(name, alias, &event)?;
    Ok(before.label)
}

/// The alias changes the log holds for `name` (and `alias`, if given),
/// oldest first.
pub fn history(reg: &Registry, name: &ModelName, alias: Option<&str>) -> Result<Vec<AliasChange>> {
    known_model(reg, name)?;
    Ok(changes(&reg.db.events()?, name)
        .into_iter()
        .filter(|c| alias.is_none_or(|a| a == c.alias))
        .collect())
}

fn changes(events: &[Event], name: &ModelName) -> Vec<AliasChange> {
    let prefix = format!("{name}@");
    events
        .iter()
        .filter(|e| matches!(e.kind(), Some(EventKind::AliasSet | EventKind::AliasRemove)))
        .filter(|e| e.subject.starts_with(&prefix))
        .filter_map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.details).ok()?;
            let text = |k: &str| d[k].as_str().map(String::from);
            Some(AliasChange {
                seq: e.seq,
                time: e.time.clone(),
                actor: e.actor.clone(),
                alias: text("alias")?,
                change: if e.kind() == Some(EventKind::AliasSet) {
                    "set"
                } else {
                    "rm"
                }
                .into(),
                version: text("version").filter(|_| e.kind() == Some(EventKind::AliasSet)),
                previous: text("previous"),
            })
        })
        .collect()
}

/// An unknown model is an error naming the models there are.
fn known_model(reg: &Registry, name: &ModelName) -> Result<()> {
    reg.resolve(&crate::name::Reference {
        name: name.clone(),
        version: crate::name::VersionSelector::Newest,
    })
    .map(|_| ())
}

/// The aliases of `name` (every model's with `None`): now, or — with `at`
/// — as the log says they stood then.
pub fn list(
    reg: &Registry,
    name: Option<&ModelName>,
    at: Option<OffsetDateTime>,
) -> Result<Vec<AliasView>> {
    if let Some(n) = name {
        known_model(reg, n)?;
    }
    let Some(at) = at else {
        return Ok(reg
            .db
            .aliases(name)?
            .into_iter()
            .map(|(model, r)| AliasView {
                name: model,
                alias: r.alias,
                version: r.label,
                set_at: r.set_at,
                set_by: r.set_by,
            })
            .collect());
    };
    let models: Vec<ModelName> = match name {
        Some(n) => vec![n.clone()],
        None => {
            let mut all: Vec<ModelName> = reg.versions()?.into_iter().map(|v| v.name).collect();
            all.dedup();
            all
        }
    };
    let events = reg.db.events()?;
    let mut out = Vec::new();
    for m in models {
        let mut now: std::collections::BTreeMap<String, AliasView> = Default::default();
        for c in changes(&events, &m) {
            let Some(t) = crate::clock::parse_canonical(&c.time) else {
                continue;
            };
            if t > at {
                break;
            }
            match c.version {
                Some(v) => {
                    now.insert(
                        c.alias.clone(),
                        AliasView {
                            name: m.to_string(),
                            alias: c.alias,
                            version: v,
                            set_at: c.time,
                            set_by: c.actor,
                        },
                    );
                }
                None => {
                    now.remove(&c.alias);
                }
            }
        }
        out.extend(now.into_values());
    }
    Ok(out)
}

/// Aliases whose row disagrees with the log's last word on them (a row
/// written or moved behind airlock's back): `(name@alias, what)`.
pub(crate) fn unlogged(reg: &Registry, events: &[Event]) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let rows = reg.db.aliases(None)?;
    let mut models: Vec<&str> = rows.iter().map(|(m, _)| m.as_str()).collect();
    models.dedup();
    for m in models {
        let Ok(name) = m.parse::<ModelName>() else {
            continue;
        };
        let log = changes(events, &name);
        for (_, r) in rows.iter().filter(|(x, _)| x == m) {
            let last = log.iter().rev().find(|c| c.alias == r.alias);
            if last.and_then(|c| c.version.as_deref()) != Some(r.label.as_str()) {
                out.push((
                    format!("{m}@{}", r.alias),
                    format!(
                        "the alias points at {} but the log's last change of it says {}",
                        r.label,
                        last.map_or("nothing".to_string(), |c| match &c.version {
                            Some(v) => format!("{v} (seq {})", c.seq),
                            None => format!("removed (seq {})", c.seq),
                        })
                    ),
                ));
            }
        }
    }
    Ok(out)
}
