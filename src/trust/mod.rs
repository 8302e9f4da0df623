//! Trust: which keys this registry trusts for what, how many must agree,
//! which exporting registries each exporter may speak for, and which
//! approvals and revocations are in force.
//!
//! A registry's trust is a versioned root document ([`root`]). Before the
//! ceremony (`trust init`) the root is *local*: version 1, no root keys, and
//! `trust add/revoke/policy` change it directly (a registry made before the
//! signed root existed has its trust store read as this local version 1,
//! logged on first use). After the ceremony every change is a new version
//! signed by the root keys ([`chain`]); local commands then need `--local`
//! and are logged as the break-glass path they are.
//!
//! The effective keys live in one table (`trusted_keys`), each marked with
//! where its trust comes from (the root, or a local command); applying a
//! root version rewrites the root's rows in the same transaction that
//! records the version. Liveness of approvals and revocations is computed on
//! every use, never stored, so a revocation takes effect everywhere at once.
//! Origins, sequence floors and the time mark ([`floors`]) are computed from
//! accepted bundles of keys still trusted, so revoking a key re-bases what
//! it alone set (TUF §5.3.11).

pub mod chain;
pub mod floors;
pub mod revocation;
pub mod root;

use std::path::Path;

use serde::Serialize;

use crate::actor::actor;
use crate::clock::now_rfc3339;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::records::{ApprovalRecord, Role, TrustSource, TrustedKey, VersionRecord};
use crate::registry::Registry;
use crate::signing::{KeyId, KeySource, PublicKey, claimed, pae_owned};
use crate::statement::{PAYLOAD_TYPE, Statement};
use root::CheckedRoot;

/// The approval policy set by a local command (before the ceremony), or by
/// `trust policy --local` after it.
const POLICY_KEY: &str = "approvals_required";
/// Set when the policy was changed with `--local` under a signed root.
const POLICY_LOCAL_KEY: &str = "approvals_required_local";

/// Whether a local change is the break-glass path (`--local`).
fn check_local(rooted: bool, local: bool, what: &str) -> Result<()> {
    if rooted && !local {
        return Err(Error::usage(format!(
            "this registry has a signed trust root: change it with a new root version (`airlock trust root edit` and `trust root sign` on the connected side, then `trust update`), or pass `--local` to {what} here as a logged break-glass change"
        )));
    }
    Ok(())
}

/// Whether the registry's trust comes from a ceremony root.
pub fn is_rooted(reg: &Registry) -> Result<bool> {
    Ok(chain::current(reg)?.is_some_and(|r| r.is_rooted()))
}

/// Trust a public key for a role (and, for an exporter, the origins it may
/// speak for). Adding the same key again with the same role is a no-op; a
/// revoked key cannot be trusted again. Under a signed root this is the
/// break-glass path and needs `local`.
pub fn add(
    reg: &Registry,
    pubfile: &Path,
    name: &str,
    role: Role,
    origins: Option<Vec<String>>,
    local: bool,
) -> Result<(TrustedKey, bool)> {
    let rooted = is_rooted(reg)?;
    check_local(rooted, local, "trust a key")?;
    if name.trim().is_empty() || name.len() > 200 || name.chars().any(char::is_control) {
        return Err(Error::input(format!("invalid key name `{name}`")));
    }
    if let Some(o) = &origins {
        if !role.roles().exporter {
            return Err(Error::usage("`--origin` applies to exporter keys"));
        }
        if let Some(bad) = o.iter().find(|o| !root::valid_origin(o)) {
            return Err(Error::input(format!("invalid origin `{bad}`")));
        }
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
        if existing.roles != role.roles() {
            return Err(Error::input(format!(
                "key {id} is already trusted as `{}` with role {}",
                existing.name,
                existing.roles.as_str()
            )));
        }
        return Ok((existing, false));
    }
    let k = TrustedKey {
        key_id: id,
        public_key: key,
        name: name.to_string(),
        roles: role.roles(),
        origins: origins.clone(),
        source: TrustSource::Local,
        added_at: now_rfc3339(),
        added_by: actor(),
        revoked: false,
        revoked_at: None,
        revoked_reason: None,
    };
    let event = EventDraft::new(
        EventKind::TrustAdd,
        id.to_hex(),
        serde_json::json!({
            "name": k.name, "role": k.roles.as_str(), "origins": k.origins,
            "break_glass": rooted,
        }),
    );
    if !reg.db.add_trusted_key(&k, &event)? {
        // Another process trusted it meanwhile: answer as for a repeat.
        return add(reg, pubfile, name, role, origins, local);
    }
    Ok((k, true))
}

/// The trust store as `trust list` shows it.
#[derive(Debug, Serialize)]
pub struct TrustList {
    /// Every key, revoked ones included.
    pub keys: Vec<TrustedKey>,
    /// Approvals a bundle version needs.
    pub approvals_required: u32,
    /// ECDSA keys trusted to sign OpenSSF model signatures.
    pub model_signers: Vec<crate::records::OmsSigner>,
}

/// The trust store and the approval policy.
pub fn list(reg: &Registry) -> Result<TrustList> {
    Ok(TrustList {
        keys: reg.db.trusted_keys()?,
        approvals_required: approvals_required(reg)?,
        model_signers: reg.db.oms_signers()?,
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

/// Revoke a key (by id or unique prefix), everywhere, at once; the record
/// is kept and the key is never trusted again here. Under a signed root
/// this is the break-glass path and needs `local`.
pub fn revoke(
    reg: &Registry,
    id_or_prefix: &str,
    reason: Option<&str>,
    local: bool,
) -> Result<TrustedKey> {
    let rooted = is_rooted(reg)?;
    check_local(rooted, local, "revoke a key")?;
    let k = find(reg, id_or_prefix)?;
    let event = EventDraft::new(
        EventKind::TrustRevoke,
        k.key_id.to_hex(),
        serde_json::json!({ "name": k.name, "reason": reason, "break_glass": rooted }),
    );
    reg.db
        .revoke_key(&k.key_id, &now_rfc3339(), &actor(), reason, &event)?;
    find(reg, &k.key_id.to_hex())
}

/// How many distinct trusted approvals a bundle version needs: a local
/// override (`trust policy --local`) if one was set under a signed root,
/// else the root's approver threshold, else the local policy (default 1).
pub fn approvals_required(reg: &Registry) -> Result<u32> {
    if let Some(v) = reg
        .db
        .get_setting(POLICY_LOCAL_KEY)?
        .and_then(|s| s.parse().ok())
    {
        return Ok(v);
    }
    if let Some(r) = chain::current(reg)?.filter(CheckedRoot::is_rooted) {
        return Ok(r.doc.roles.approver.threshold.max(1));
    }
    Ok(reg
        .db
        .get_setting(POLICY_KEY)?
        .and_then(|s| s.parse().ok())
        .unwrap_or(1))
}

/// Set the approval policy (1 to 100), logged. Under a signed root this is
/// the break-glass path and needs `local`.
pub fn set_approvals_required(reg: &Registry, k: u32, local: bool) -> Result<()> {
    let rooted = is_rooted(reg)?;
    check_local(rooted, local, "change the approval policy")?;
    if k == 0 || k > 100 {
        return Err(Error::input(format!(
            "approvals must be between 1 and 100, not {k}"
        )));
    }
    let event = EventDraft::new(
        EventKind::TrustPolicy,
        "approvals_required",
        serde_json::json!({ "approvals": k, "break_glass": rooted }),
    );
    let key = if rooted { POLICY_LOCAL_KEY } else { POLICY_KEY };
    reg.db.set_setting_logged(key, &k.to_string(), &event)
}

/// Live, non-revoked keys allowed to approve.
pub fn approver_keys(reg: &Registry) -> Result<Vec<TrustedKey>> {
    Ok(reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| !k.revoked && k.roles.can_approve())
        .collect())
}

/// Live, non-revoked keys allowed to sign bundle indexes.
pub fn exporter_keys(reg: &Registry) -> Result<Vec<TrustedKey>> {
    Ok(reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| !k.revoked && k.roles.can_export())
        .collect())
}

/// The exact statement bytes of a version (recorded, or made and recorded).
pub fn statement_bytes(reg: &Registry, v: &VersionRecord) -> Result<Vec<u8>> {
    if let Some(b) = reg.db.statement(v.id)? {
        return Ok(b);
    }
    let bytes = Statement::bytes_of(v, &reg.files(v)?);
    if reg.writable() {
        reg.db.set_statement(v.id, &bytes)?;
    }
    Ok(bytes)
}

/// A version's statement with every recorded approval, as the DSSE
/// envelope bytes that travel (bundle member, OCI referrer layer), and the
/// approvals it carries.
pub fn envelope_bytes(reg: &Registry, v: &VersionRecord) -> Result<(Vec<u8>, Vec<ApprovalRecord>)> {
    let payload = statement_bytes(reg, v)?;
    let approvals = reg.db.approvals(v.id)?;
    let sigs: Vec<_> = approvals
        .iter()
        .map(|a| (a.key_id, a.signature.clone()))
        .collect();
    let env = crate::statement::Envelope::bytes_of(crate::statement::PAYLOAD_TYPE, &payload, &sigs);
    Ok((env, approvals))
}

/// [`envelope_bytes`] written into `out`, the statement streamed from the
/// database as it is encoded: an export holds no statement or envelope of
/// a model of many files in memory.
pub(crate) fn write_envelope(
    reg: &Registry,
    v: &VersionRecord,
    out: &mut dyn std::io::Write,
) -> Result<Vec<ApprovalRecord>> {
    let approvals = reg.db.approvals(v.id)?;
    let sigs: Vec<_> = approvals
        .iter()
        .map(|a| (a.key_id, a.signature.clone()))
        .collect();
    let what = format!("the statement of {}@{}", v.name, v.label);
    let io = |e: std::io::Error| Error::io("write the envelope of", std::path::Path::new(&what), e);
    let streamed = reg.db.with_statement_reader(v.id, &mut |r| {
        crate::statement::Envelope::write(out, crate::statement::PAYLOAD_TYPE, r, &sigs)
    })?;
    match streamed {
        Some(r) => r.map_err(io)?,
        None => {
            let payload = statement_bytes(reg, v)?;
            crate::statement::Envelope::write(
                out,
                crate::statement::PAYLOAD_TYPE,
                &mut &payload[..],
                &sigs,
            )
            .map_err(io)?;
        }
    }
    Ok(approvals)
}

/// Sign a version's statement and record the approval.
pub fn sign(
    reg: &mut Registry,
    v: &VersionRecord,
    key: &dyn KeySource,
) -> Result<(ApprovalRecord, bool)> {
    let msg = pae_owned(PAYLOAD_TYPE, statement_bytes(reg, v)?);
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
    let event = EventDraft::new(
        EventKind::Sign,
        format!("{}@{}", v.name, v.label),
        serde_json::json!({ "key_id": id.to_hex(), "signer": a.name, "manifest_digest": v.manifest_digest.to_hex() }),
    );
    if !reg.db.add_approval(v.id, &a, &event)? {
        // Another process recorded this key's approval meanwhile.
        let existing = reg
            .db
            .approvals(v.id)?
            .into_iter()
            .find(|x| x.key_id == id)
            .ok_or_else(|| Error::not_found("approval", format!("key {id}")))?;
        return Ok((existing, false));
    }
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
    /// When it was signed (for approvals that arrived in a bundle: the
    /// signed statement's registration time, which the approval follows).
    pub signed_at: String,
    /// Whether it counts.
    pub status: ApprovalStatus,
}

/// Every approval of `v` with its status, and how many are live.
pub fn approval_status(reg: &Registry, v: &VersionRecord) -> Result<(Vec<ApprovalView>, usize)> {
    let msg = pae_owned(PAYLOAD_TYPE, statement_bytes(reg, v)?);
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
                    Some(k) if !k.roles.can_approve() => ApprovalStatus::NotAnApprover,
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
    let sigs: Vec<_> = approvals
        .iter()
        .map(|a| claimed(&a.key_id, &a.signature))
        .collect();
    let approvers: Vec<TrustedKey> = trusted
        .into_iter()
        .filter(|k| !k.revoked && k.roles.can_approve())
        .collect();
    let live =
        crate::signing::signers_of(&msg, &sigs, &approvers, |k| k.key_id, |k| &k.public_key).len();
    Ok((out, live))
}

/// A version may be checked out, deployed or trusted by `verify` only while
/// no revocation of it is in force, and — if it arrived in a bundle — while
/// it keeps the policy's number of live approvals (exit 3 otherwise).
/// Versions imported here from a folder are this registry's own records.
pub fn ensure_approved(reg: &Registry, v: &VersionRecord) -> Result<()> {
    if let Some(r) = revocation::in_force(reg, v)? {
        return Err(Error::Untrusted {
            what: format!("{}@{}", v.name, v.label),
            reason: format!("the version was revoked at {}: {}", r.revoked_at, r.reason),
        });
    }
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
