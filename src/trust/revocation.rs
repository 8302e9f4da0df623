//! Version revocations: "do not use `name@label` (manifest D) any more,
//! because …", signed by approver keys and carried in later bundles.
//!
//! A revocation is a DSSE envelope (payload type
//! [`REVOCATION_PAYLOAD_TYPE`]) over a small JSON document. Signatures
//! gather: each approver who runs `revoke` adds one, and a registry that
//! receives the same revocation again keeps the union. A revocation is in
//! force where it was signed (the operator's own decision, like a version
//! imported here), and elsewhere once its signatures by distinct trusted,
//! unrevoked approver keys meet the approval policy — decided on every use,
//! like approvals. A revocation may arrive before the version it names; the
//! version is then revoked from the moment it arrives. In force, it stops
//! `checkout`, `deploy` and `verify` of the version (exit 3), and `audit`,
//! `list` and `show` mark it.

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::records::{TrustedKey, VersionRecord};
use crate::registry::Registry;
use crate::signing::{Envelope, KeySource, signers};

/// The DSSE payload type of a version revocation.
pub const REVOCATION_PAYLOAD_TYPE: &str = "application/vnd.airlock.version-revocation.v1+json";
/// The `type` field of a revocation document.
pub const REVOCATION_TYPE: &str = "airlock-version-revocation/v1";
/// The largest revocation envelope read.
pub const REVOCATION_CAP: u64 = 64 << 10;
/// The most signatures one revocation may carry.
pub const MAX_SIGNATURES: usize = 64;

/// The signed document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RevocationDoc {
    /// [`REVOCATION_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest (hex) of the version revoked.
    pub manifest_digest: String,
    /// Why.
    pub reason: String,
    /// When (the one spelling of RFC 3339).
    pub revoked_at: String,
}

/// A revocation as recorded here.
#[derive(Debug, Clone)]
pub struct Revocation {
    /// The document.
    pub doc: RevocationDoc,
    /// The envelope with every signature gathered.
    pub envelope: Envelope,
    /// Signed on this registry.
    pub local: bool,
}

/// A revocation as shown (`show`, `list`, `audit`).
#[derive(Debug, Clone, Serialize)]
pub struct RevocationView {
    /// Why.
    pub reason: String,
    /// When.
    pub revoked_at: String,
    /// Whether it is in force here.
    pub in_force: bool,
    /// Signatures by distinct trusted approver keys.
    pub approvals: usize,
}

fn hostile(what: &str, reason: impl Into<String>) -> Error {
    Error::Hostile {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Check an envelope's structure (no signature verified here).
pub fn parse(bytes: &[u8], what: &str) -> Result<Revocation> {
    if bytes.len() as u64 > REVOCATION_CAP {
        return Err(hostile(what, format!("larger than {REVOCATION_CAP} bytes")));
    }
    let envelope: Envelope = serde_json::from_slice(bytes)
        .map_err(|e| hostile(what, format!("not a DSSE envelope: {e}")))?;
    if envelope.payload_type != REVOCATION_PAYLOAD_TYPE {
        return Err(hostile(
            what,
            format!(
                "payload type `{}`, expected `{REVOCATION_PAYLOAD_TYPE}`",
                envelope.payload_type
            ),
        ));
    }
    if envelope.signatures.len() > MAX_SIGNATURES {
        return Err(hostile(
            what,
            format!("more than {MAX_SIGNATURES} signatures"),
        ));
    }
    let payload = envelope.payload_bytes(what)?;
    let doc: RevocationDoc = serde_json::from_slice(&payload)
        .map_err(|e| hostile(what, format!("not a version revocation: {e}")))?;
    if doc.kind != REVOCATION_TYPE {
        return Err(hostile(what, format!("type `{}`", doc.kind)));
    }
    doc.name
        .parse::<crate::name::ModelName>()
        .map_err(|e| hostile(what, e.to_string()))?;
    doc.version
        .parse::<crate::name::VersionLabel>()
        .map_err(|e| hostile(what, e.to_string()))?;
    doc.manifest_digest
        .parse::<crate::digest::Sha256Digest>()
        .map_err(|_| hostile(what, "bad manifest digest"))?;
    if clock::parse_canonical(&doc.revoked_at).is_none() {
        return Err(hostile(
            what,
            format!(
                "revoked_at `{}` is not a time like 2026-11-29T19:01:09Z",
                doc.revoked_at
            ),
        ));
    }
    if doc.reason.is_empty() || doc.reason.len() > 1000 || doc.reason.chars().any(char::is_control)
    {
        return Err(hostile(
            what,
            "the reason must be 1 to 1000 printable characters",
        ));
    }
    Ok(Revocation {
        doc,
        envelope,
        local: false,
    })
}

impl Revocation {
    /// As stored.
    pub(crate) fn row(&self) -> crate::db::RevocationRow {
        crate::db::RevocationRow {
            name: self.doc.name.clone(),
            label: self.doc.version.clone(),
            manifest_digest: self.doc.manifest_digest.clone(),
            envelope: serde_json::to_vec(&self.envelope).expect("plain JSON"),
            local: self.local,
        }
    }

    /// From a stored row.
    pub(crate) fn from_row(row: &crate::db::RevocationRow) -> Result<Revocation> {
        let what = format!("stored revocation of {}@{}", row.name, row.label);
        let mut r = parse(&row.envelope, &what)?;
        r.local = row.local;
        Ok(r)
    }

    /// The envelope as carried in a bundle.
    pub(crate) fn bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.envelope).expect("plain JSON")
    }
}

/// Distinct trusted, unrevoked approver keys that signed `r`.
pub fn approvals(r: &Revocation, keys: &[TrustedKey]) -> usize {
    let Ok(payload) = r.envelope.payload_bytes("revocation") else {
        return 0;
    };
    let approvers: Vec<&TrustedKey> = keys
        .iter()
        .filter(|k| !k.revoked && k.roles.can_approve())
        .collect();
    signers(
        REVOCATION_PAYLOAD_TYPE,
        &payload,
        &r.envelope.signatures,
        &approvers,
        |k| k.key_id,
        |k| &k.public_key,
    )
    .len()
}

fn view(reg: &Registry, r: &Revocation) -> Result<RevocationView> {
    let keys = reg.db.trusted_keys()?;
    let n = approvals(r, &keys);
    let required = super::approvals_required(reg)? as usize;
    Ok(RevocationView {
        reason: r.doc.reason.clone(),
        revoked_at: r.doc.revoked_at.clone(),
        in_force: r.local || n >= required,
        approvals: n,
    })
}

/// The revocation of `v` recorded here, if any, as shown.
pub fn of_version(reg: &Registry, v: &VersionRecord) -> Result<Option<RevocationView>> {
    match reg
        .db
        .revocation(v.name.as_str(), &v.label, &v.manifest_digest.to_hex())?
    {
        Some(row) => view(reg, &Revocation::from_row(&row)?).map(Some),
        None => Ok(None),
    }
}

/// The revocation of `v` in force here, if any.
pub fn in_force(reg: &Registry, v: &VersionRecord) -> Result<Option<RevocationView>> {
    Ok(of_version(reg, v)?.filter(|r| r.in_force))
}

/// `revoke REF --key K --reason T`: sign a revocation of `v` (adding this
/// key's signature to one already recorded). In force here at once.
pub fn revoke(
    reg: &Registry,
    v: &VersionRecord,
    key: &dyn KeySource,
    reason: &str,
) -> Result<(RevocationView, bool)> {
    if reason.trim().is_empty() || reason.len() > 1000 || reason.chars().any(char::is_control) {
        return Err(Error::usage(
            "`--reason` must be 1 to 1000 printable characters",
        ));
    }
    let digest = v.manifest_digest.to_hex();
    let mut r = match reg.db.revocation(v.name.as_str(), &v.label, &digest)? {
        Some(row) => Revocation::from_row(&row)?,
        None => {
            let doc = RevocationDoc {
                kind: REVOCATION_TYPE.into(),
                name: v.name.to_string(),
                version: v.label.clone(),
                manifest_digest: digest.clone(),
                reason: reason.to_string(),
                revoked_at: clock::now_rfc3339(),
            };
            let payload = serde_json::to_vec(&doc).expect("plain JSON");
            Revocation {
                doc,
                envelope: Envelope::new(REVOCATION_PAYLOAD_TYPE, &payload, &[]),
                local: true,
            }
        }
    };
    let before = r.envelope.signatures.len();
    let id = r.envelope.sign_with(key)?;
    r.local = true;
    let added = r.envelope.signatures.len() > before;
    let event = EventDraft::new(
        EventKind::Revoke,
        format!("{}@{}", v.name, v.label),
        serde_json::json!({
            "manifest_digest": digest, "reason": r.doc.reason, "key_id": id.to_hex(),
            "signatures": r.envelope.signatures.len(),
        }),
    );
    reg.db
        .put_revocation(&r.row(), &clock::now_rfc3339(), &event)?;
    Ok((view(reg, &r)?, added))
}

/// Record revocations that arrived in a bundle, merging signatures with any
/// already recorded. Returns the events to log with the bundle.
pub(crate) fn receive(
    reg: &Registry,
    arrived: &[Revocation],
) -> Result<Vec<(Revocation, EventDraft)>> {
    let mut out = Vec::new();
    for a in arrived {
        let d = &a.doc;
        let existing = reg
            .db
            .revocation(&d.name, &d.version, &d.manifest_digest)?
            .map(|row| Revocation::from_row(&row))
            .transpose()?;
        let mut merged = match existing {
            Some(existing) if existing.envelope.payload == a.envelope.payload => existing,
            // The same version revoked twice with different words: keep the
            // first; the signatures are over the first's bytes.
            Some(_) => continue,
            None => Revocation {
                doc: d.clone(),
                envelope: Envelope {
                    signatures: Vec::new(),
                    ..a.envelope.clone()
                },
                local: false,
            },
        };
        let before = merged.envelope.signatures.len();
        for s in &a.envelope.signatures {
            if !merged
                .envelope
                .signatures
                .iter()
                .any(|m| m.keyid.eq_ignore_ascii_case(&s.keyid))
                && merged.envelope.signatures.len() < MAX_SIGNATURES
            {
                merged.envelope.signatures.push(s.clone());
            }
        }
        if merged.envelope.signatures.len() == before && before > 0 {
            continue;
        }
        let event = EventDraft::new(
            EventKind::Revoke,
            format!("{}@{}", d.name, d.version),
            serde_json::json!({
                "manifest_digest": d.manifest_digest, "reason": d.reason,
                "signatures": merged.envelope.signatures.len(), "received": true,
            }),
        );
        out.push((merged, event));
    }
    Ok(out)
}

/// Every revocation recorded here, to carry in a bundle.
pub(crate) fn all(reg: &Registry) -> Result<Vec<Revocation>> {
    reg.db
        .revocations()?
        .iter()
        .map(Revocation::from_row)
        .collect()
}
