//! The trust store and approvals: which keys this registry trusts for what,
//! how many approvals a version needs, and which approvals still count.
//!
//! An approval *counts* (is live) when its signature verifies (strict) over
//! the version's exact statement bytes, and its key is in the trust store,
//! not revoked, with the approver (or any) role. Each key counts once.
//! Revocation takes effect everywhere at once because liveness is computed
//! on every use, never stored.

use std::path::Path;

use serde::Serialize;

use crate::actor::actor;
use crate::clock::now_rfc3339;
use crate::error::{Error, Result};
use crate::records::{ApprovalRecord, Role, TrustedKey, VersionRecord};
use crate::registry::Registry;
use crate::signing::{KeyId, KeySource, PublicKey, pae, signers};
use crate::statement::{PAYLOAD_TYPE, Statement};

const POLICY_KEY: &str = "approvals_required";

/// Trust a public key for a role. Adding the same key again with the same
/// role is a no-op; a revoked key cannot be trusted again.
pub fn add(reg: &Registry, pubfile: &Path, name: &str, role: Role) -> Result<(TrustedKey, bool)> {
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Error::input(format!("invalid key name `{name}`")));
    }
    let key = PublicKey::load(pubfile)?;
    let id = key.id();
    if let Some(existing) = reg.db.trusted_keys()?.into_iter().find(|k| k.key_id == id) {
        if existing.revoked {
            return Err(Error::Untrusted {
                what: format!("key {id}"),
                reason: format!(
                    "it was revoked at {} ({}); a revoked key is never trusted again",
                    existing.revoked_at.as_deref().unwrap_or("?"),
                    existing
                        .revoked_reason
                        .as_deref()
                        .unwrap_or("no reason given")
                ),
            });
        }
        if existing.role != role {
            return Err(Error::input(format!(
                "key {id} is already trusted as `{}` with role {}",
                existing.name,
                existing.role.as_str()
            )));
        }
        return Ok((existing, false));
    }
    let k = TrustedKey {
        key_id: id,
        public_key: key,
        name: name.to_string(),
        role,
        added_at: now_rfc3339(),
        added_by: actor(),
        revoked: false,
        revoked_at: None,
        revoked_reason: None,
    };
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustAdd,
        id.to_hex(),
        serde_json::json!({ "name": k.name, "role": k.role.as_str() }),
    );
    reg.db.add_trusted_key(&k, &event)?;
    Ok((k, true))
}

/// The trust store as `trust list` shows it.
#[derive(Debug, Serialize)]
pub struct TrustList {
    /// Every key, revoked ones included.
    pub keys: Vec<TrustedKey>,
    /// Approvals a bundle version needs.
    pub approvals_required: u32,
}

/// The trust store and the approval policy.
pub fn list(reg: &Registry) -> Result<TrustList> {
    Ok(TrustList {
        keys: reg.db.trusted_keys()?,
        approvals_required: approvals_required(reg)?,
    })
}

/// Find a trusted key by its id or a unique prefix of at least 8 hex.
pub fn find(reg: &Registry, id_or_prefix: &str) -> Result<TrustedKey> {
    let p = id_or_prefix.to_ascii_lowercase();
    if p.len() < 8 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(Error::input(format!(
            "`{id_or_prefix}` is not a key id (at least 8 hex characters)"
        )));
    }
    let mut hits: Vec<TrustedKey> = reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| k.key_id.to_hex().starts_with(&p))
        .collect();
    match hits.len() {
        0 => Err(Error::not_found("key", id_or_prefix)),
        1 => Ok(hits.remove(0)),
        n => Err(Error::input(format!(
            "`{id_or_prefix}` matches {n} keys; give more hex digits"
        ))),
    }
}

/// Revoke a key (by id or unique prefix), everywhere, at once; the record is kept.
pub fn revoke(reg: &Registry, id_or_prefix: &str, reason: Option<&str>) -> Result<TrustedKey> {
    let k = find(reg, id_or_prefix)?;
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustRevoke,
        k.key_id.to_hex(),
        serde_json::json!({ "name": k.name, "reason": reason }),
    );
    reg.db
        .revoke_key(&k.key_id, &now_rfc3339(), &actor(), reason, &event)?;
    find(reg, &k.key_id.to_hex())
}

/// How many distinct trusted approvals a bundle version needs (default 1).
pub fn approvals_required(reg: &Registry) -> Result<u32> {
    Ok(reg
        .db
        .get_setting(POLICY_KEY)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(1))
}

/// Set the approval policy (1 to 100), logged.
pub fn set_approvals_required(reg: &Registry, k: u32) -> Result<()> {
    if k == 0 || k > 100 {
        return Err(Error::input(format!(
            "approvals must be between 1 and 100, not {k}"
        )));
    }
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustPolicy,
        "approvals_required",
        serde_json::json!({ "approvals": k }),
    );
    reg.db
        .set_setting_logged(POLICY_KEY, &k.to_string(), &event)
}

/// Live, non-revoked keys allowed to approve.
pub fn approver_keys(reg: &Registry) -> Result<Vec<TrustedKey>> {
    Ok(reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| !k.revoked && k.role.can_approve())
        .collect())
}

/// Live, non-revoked keys allowed to sign bundle indexes.
pub fn exporter_keys(reg: &Registry) -> Result<Vec<TrustedKey>> {
    Ok(reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| !k.revoked && k.role.can_export())
        .collect())
}

/// The exact statement bytes of a version (recorded, or made and recorded).
pub fn statement_bytes(reg: &Registry, v: &VersionRecord) -> Result<Vec<u8>> {
    if let Some(b) = reg.db.statement(v.id)? {
        return Ok(b);
    }
    let bytes = Statement::of(v, &reg.files(v)?).to_bytes();
    reg.db.set_statement(v.id, &bytes)?;
    Ok(bytes)
}

/// Sign a version's statement and record the approval.
pub fn sign(
    reg: &mut Registry,
    v: &VersionRecord,
    key: &dyn KeySource,
) -> Result<(ApprovalRecord, bool)> {
    let bytes = statement_bytes(reg, v)?;
    let msg = pae(PAYLOAD_TYPE, &bytes);
    let public = key.public_key();
    let signature = key.sign(&msg)?;
    if !public.verify(&msg, &signature) {
        return Err(Error::Untrusted {
            what: key.describe(),
            reason: "the key produced a signature that does not verify".into(),
        });
    }
    let id = public.id();
    if let Some(existing) = reg.db.approvals(v.id)?.into_iter().find(|a| a.key_id == id) {
        return Ok((existing, false));
    }
    let name = reg
        .db
        .trusted_keys()?
        .into_iter()
        .find(|k| k.key_id == id)
        .map(|k| k.name)
        .or_else(|| key.holder())
        .unwrap_or_else(|| format!("key {}", id.short()));
    let a = ApprovalRecord {
        key_id: id,
        public_key: public,
        name,
        signature,
        signed_at: now_rfc3339(),
    };
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::Sign,
        format!("{}@{}", v.name, v.label),
        serde_json::json!({ "key_id": id.to_hex(), "signer": a.name, "manifest_digest": v.manifest_digest.to_hex() }),
    );
    reg.db.add_approval(v.id, &a, &event)?;
    Ok((a, true))
}

/// Whether an approval counts, as the trust store sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ApprovalStatus {
    /// Verifies, by a trusted, unrevoked approver key: it counts.
    Valid,
    /// The key was revoked.
    Revoked,
    /// The key is not in the trust store.
    Untrusted,
    /// The key is trusted, but not to approve.
    NotAnApprover,
    /// The signature does not verify over the statement.
    BadSignature,
}

impl ApprovalStatus {
    /// The status as written in reports and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Valid => "valid",
            ApprovalStatus::Revoked => "revoked",
            ApprovalStatus::Untrusted => "untrusted",
            ApprovalStatus::NotAnApprover => "not-an-approver",
            ApprovalStatus::BadSignature => "bad-signature",
        }
    }
}

impl std::fmt::Display for ApprovalStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// One approval as the trust store sees it now.
#[derive(Debug, Clone, Serialize)]
pub struct ApprovalView {
    /// The approver key's id.
    pub key_id: KeyId,
    /// The approver's name.
    pub name: String,
    /// When it was signed.
    pub signed_at: String,
    /// Whether it counts.
    pub status: ApprovalStatus,
}

/// Every approval of `v` with its status, and how many are live.
pub fn approval_status(reg: &Registry, v: &VersionRecord) -> Result<(Vec<ApprovalView>, usize)> {
    let bytes = statement_bytes(reg, v)?;
    let msg = pae(PAYLOAD_TYPE, &bytes);
    let trusted = reg.db.trusted_keys()?;
    let approvals = reg.db.approvals(v.id)?;
    let out = approvals
        .iter()
        .map(|a| {
            let id = a.public_key.id();
            let status = if !a.public_key.verify(&msg, &a.signature) {
                ApprovalStatus::BadSignature
            } else {
                match trusted.iter().find(|k| k.key_id == id) {
                    None => ApprovalStatus::Untrusted,
                    Some(k) if k.revoked => ApprovalStatus::Revoked,
                    Some(k) if !k.role.can_approve() => ApprovalStatus::NotAnApprover,
                    Some(_) => ApprovalStatus::Valid,
                }
            };
            ApprovalView {
                key_id: id,
                name: a.name.clone(),
                signed_at: a.signed_at.clone(),
                status,
            }
        })
        .collect();
    let sigs: Vec<Vec<u8>> = approvals.into_iter().map(|a| a.signature).collect();
    let approvers: Vec<TrustedKey> = trusted
        .into_iter()
        .filter(|k| !k.revoked && k.role.can_approve())
        .collect();
    let live = signers(PAYLOAD_TYPE, &bytes, &sigs, &approvers, |k| &k.public_key).len();
    Ok((out, live))
}

/// Versions that arrived in a bundle must keep at least the policy's number
/// of live approvals to be checked out or deployed (exit 3 otherwise).
/// Versions imported here from a folder are this registry's own records.
pub fn ensure_approved(reg: &Registry, v: &VersionRecord) -> Result<()> {
    if v.bundle_id.is_none() {
        return Ok(());
    }
    let required = approvals_required(reg)? as usize;
    let (views, live) = approval_status(reg, v)?;
    if live < required {
        let lost: Vec<String> = views
            .iter()
            .filter(|a| a.status != ApprovalStatus::Valid)
            .map(|a| format!("{} ({}) is {}", a.name, a.key_id.short(), a.status))
            .collect();
        return Err(Error::NotApproved {
            what: format!("{}@{}", v.name, v.label),
            reason: format!(
                "{live} live approval(s), the policy requires {required}{}",
                if lost.is_empty() {
                    String::new()
                } else {
                    format!("; {}", lost.join(", "))
                }
            ),
        });
    }
    Ok(())
}
