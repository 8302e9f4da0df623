//! The signed trust root: which keys a registry trusts, for what, how many
//! must agree, and which exporting registries (origins) each exporter key
//! may speak for.
//!
//! A root is a versioned JSON document carried in a DSSE envelope (payload
//! type [`ROOT_PAYLOAD_TYPE`]). Version 1 is installed by a local ceremony
//! (`trust init`). Every later version N+1 must be signed by a threshold of
//! version N's root keys **and** a threshold of its own root keys, and
//! versions advance by exactly one (TUF specification §5.3.4–5.3.5); it is
//! persisted before it is used (§5.3.8). A root whose `expires` has passed
//! stops every bundle import until a newer root arrives (§5.3.10).
//!
//! Structure is checked into [`CheckedRoot`] before any signature is
//! verified; signatures are counted by [`crate::signing::signers`], each
//! trusted key at most once, and an envelope with more signatures than the
//! keys that could have made them is refused before any verification.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::clock;
use crate::error::{Error, Result};
use crate::signing::{KeyId, PublicKey, signers};
use crate::statement::{Envelope, EnvelopeSignature};

/// The DSSE payload type of a trust root.
pub const ROOT_PAYLOAD_TYPE: &str = "application/vnd.airlock.trust-root.v1+json";
/// The `type` field of a trust root document.
pub const ROOT_TYPE: &str = "airlock-trust-root/v1";
/// The largest root envelope read.
pub const ROOT_CAP: u64 = 1 << 20;
/// The most keys one root may list.
pub const MAX_KEYS: usize = 256;
/// The largest threshold a role may ask for.
pub const MAX_THRESHOLD: u32 = 100;
/// `origins` entry meaning "any origin".
pub const ANY_ORIGIN: &str = "*";

/// A key as a root lists it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RootKey {
    /// `ed25519`.
    pub keytype: String,
    /// The raw public key, lowercase hex.
    pub public: String,
    /// Who holds it.
    pub name: String,
}

/// The keys of one role and how many of them must sign.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Key ids (hex) of the role.
    pub keyids: Vec<String>,
    /// Distinct signatures needed.
    pub threshold: u32,
}

/// The three roles of a root.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(deny_unknown_fields)]
pub struct Roles {
    /// Signs new versions of the root.
    pub root: RoleSpec,
    /// Signs bundle indexes; the threshold is per bundle.
    pub exporter: RoleSpec,
    /// Approves versions; the threshold is the approval policy.
    pub approver: RoleSpec,
}

/// A key the root revokes: never trusted again, for any role.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RevokedKey {
    /// When (the one spelling of [`crate::clock`]).
    pub at: String,
    /// Why.
    pub reason: String,
}

/// A trust root document (the signed payload).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RootDoc {
    /// [`ROOT_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// 1 for the ceremony, then +1 per change.
    pub version: u64,
    /// When this root stops being trusted.
    pub expires: String,
    /// Every key any role names, by id.
    pub keys: BTreeMap<String, RootKey>,
    /// Who may sign what.
    pub roles: Roles,
    /// Exporter key id → the origins it may speak for (`*`: any).
    #[serde(default)]
    pub origins: BTreeMap<String, Vec<String>>,
    /// Keys revoked for good.
    #[serde(default)]
    pub revoked: BTreeMap<String, RevokedKey>,
}

/// Which role a signature is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleName {
    /// The root role.
    Root,
    /// The exporter role.
    Exporter,
    /// The approver role.
    Approver,
}

impl RootDoc {
    /// The spec of `role`.
    pub fn role(&self, role: RoleName) -> &RoleSpec {
        match role {
            RoleName::Root => &self.roles.root,
            RoleName::Exporter => &self.roles.exporter,
            RoleName::Approver => &self.roles.approver,
        }
    }

    /// The exact bytes signed: compact JSON (maps in key order).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain JSON")
    }
}

/// A root whose structure was checked: ids match keys, roles name listed
/// keys, thresholds are reachable, times have the one spelling.
#[derive(Debug, Clone)]
pub struct CheckedRoot {
    /// The document.
    pub doc: RootDoc,
    /// The exact payload bytes.
    pub payload: Vec<u8>,
    /// The envelope as received (payload and signatures).
    pub envelope: Envelope,
    /// When it expires.
    pub expires: OffsetDateTime,
    keys: BTreeMap<KeyId, PublicKey>,
}

fn hostile(what: &str, reason: impl Into<String>) -> Error {
    Error::Hostile {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// A registry or origin name: printable, 1 to 128 characters.
pub fn valid_origin(s: &str) -> bool {
    !s.is_empty() && s.len() <= 128 && !s.chars().any(char::is_control)
}

impl CheckedRoot {
    /// Parse an envelope's bytes and check the document's structure (no
    /// signature is verified here).
    pub fn parse(bytes: &[u8], what: &str) -> Result<CheckedRoot> {
        if bytes.len() as u64 > ROOT_CAP {
            return Err(hostile(what, format!("larger than {ROOT_CAP} bytes")));
        }
        let envelope: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| hostile(what, format!("not a DSSE envelope: {e}")))?;
        if envelope.payload_type != ROOT_PAYLOAD_TYPE {
            return Err(hostile(
                what,
                format!(
                    "payload type `{}`, expected `{ROOT_PAYLOAD_TYPE}`",
                    envelope.payload_type
                ),
            ));
        }
        let payload = envelope.payload_bytes(what)?;
        let doc: RootDoc = serde_json::from_slice(&payload)
            .map_err(|e| hostile(what, format!("not a trust root: {e}")))?;
        Self::check(doc, payload, envelope, what)
    }

    /// A root from a document (unsigned envelope), checked.
    pub fn from_doc(doc: RootDoc) -> Result<CheckedRoot> {
        let payload = doc.to_bytes();
        let envelope = Envelope::new(ROOT_PAYLOAD_TYPE, &payload, &[]);
        Self::check(doc, payload, envelope, "trust root")
    }

    fn check(
        doc: RootDoc,
        payload: Vec<u8>,
        envelope: Envelope,
        what: &str,
    ) -> Result<CheckedRoot> {
        if doc.kind != ROOT_TYPE {
            return Err(hostile(
                what,
                format!("type `{}`, expected `{ROOT_TYPE}`", doc.kind),
            ));
        }
        if doc.version == 0 || doc.version > i64::MAX as u64 {
            return Err(hostile(
                what,
                format!("version {} is out of range", doc.version),
            ));
        }
        let expires = clock::parse_canonical(&doc.expires).ok_or_else(|| {
            hostile(
                what,
                format!(
                    "expires `{}` is not a time like 2026-11-29T19:01:09Z",
                    doc.expires
                ),
            )
        })?;
        if doc.keys.len() > MAX_KEYS {
            return Err(hostile(what, format!("more than {MAX_KEYS} keys")));
        }
        let mut keys = BTreeMap::new();
        for (id, k) in &doc.keys {
            if k.keytype != "ed25519" {
                return Err(hostile(
                    what,
                    format!("key {id}: unsupported keytype `{}`", k.keytype),
                ));
            }
            if k.name.trim().is_empty()
                || k.name.len() > 200
                || k.name.chars().any(char::is_control)
            {
                return Err(hostile(what, format!("key {id}: invalid name")));
            }
            let raw = hex::decode(&k.public)
                .map_err(|_| hostile(what, format!("key {id}: public key is not hex")))?;
            let public =
                PublicKey::from_raw(&raw).map_err(|e| hostile(what, format!("key {id}: {e}")))?;
            if public.id().to_hex() != *id {
                return Err(hostile(
                    what,
                    format!(
                        "key {id}: the id is not the sha256 of the key (it is {})",
                        public.id()
                    ),
                ));
            }
            keys.insert(public.id(), public);
        }
        for (name, role, needs_keys) in [
            ("root", &doc.roles.root, false),
            ("exporter", &doc.roles.exporter, false),
            ("approver", &doc.roles.approver, false),
        ] {
            let _ = needs_keys;
            let unique: BTreeSet<&String> = role.keyids.iter().collect();
            if unique.len() != role.keyids.len() {
                return Err(hostile(what, format!("role {name} lists a key twice")));
            }
            for id in &role.keyids {
                if !doc.keys.contains_key(id) {
                    return Err(hostile(
                        what,
                        format!("role {name} names key {id}, which is not listed"),
                    ));
                }
                if doc.revoked.contains_key(id) {
                    return Err(hostile(
                        what,
                        format!("role {name} names key {id}, which the root revokes"),
                    ));
                }
            }
            if role.threshold > MAX_THRESHOLD {
                return Err(hostile(
                    what,
                    format!("role {name}: threshold above {MAX_THRESHOLD}"),
                ));
            }
            if !role.keyids.is_empty()
                && (role.threshold == 0 || role.threshold as usize > role.keyids.len())
            {
                return Err(hostile(
                    what,
                    format!(
                        "role {name}: threshold {} with {} key(s) can never be met",
                        role.threshold,
                        role.keyids.len()
                    ),
                ));
            }
        }
        if doc.roles.approver.keyids.is_empty() && doc.roles.approver.threshold == 0 {
            return Err(hostile(
                what,
                "the approval policy (approver threshold) must be at least 1",
            ));
        }
        for (id, origins) in &doc.origins {
            if !doc.roles.exporter.keyids.contains(id) {
                return Err(hostile(
                    what,
                    format!("origins are given for key {id}, which is not an exporter"),
                ));
            }
            if origins.is_empty() || origins.iter().any(|o| !valid_origin(o)) {
                return Err(hostile(what, format!("key {id}: invalid origin list")));
            }
        }
        if !doc.roles.root.keyids.is_empty() {
            for id in &doc.roles.exporter.keyids {
                if !doc.origins.contains_key(id) {
                    return Err(hostile(
                        what,
                        format!(
                            "exporter key {id} has no origins (list the registries it speaks for, or `*`)"
                        ),
                    ));
                }
            }
        }
        for (id, r) in &doc.revoked {
            if id.len() != 64 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(hostile(
                    what,
                    format!("revoked entry `{id}` is not a key id"),
                ));
            }
            if clock::parse_canonical(&r.at).is_none() {
                return Err(hostile(
                    what,
                    format!("revocation of {id}: `at` is not a time like 2026-11-29T19:01:09Z"),
                ));
            }
        }
        Ok(CheckedRoot {
            doc,
            payload,
            envelope,
            expires,
            keys,
        })
    }

    /// The version.
    pub fn version(&self) -> u64 {
        self.doc.version
    }

    /// Whether the root has root keys (a ceremony root); one without can
    /// only be changed locally.
    pub fn is_rooted(&self) -> bool {
        !self.doc.roles.root.keyids.is_empty()
    }

    /// The keys of `role`, as `(id, key)`.
    pub fn role_keys(&self, role: RoleName) -> Vec<(KeyId, PublicKey)> {
        self.doc
            .role(role)
            .keyids
            .iter()
            .filter_map(|id| {
                let kid: KeyId = id.parse().ok()?;
                self.keys.get(&kid).map(|k| (kid, *k))
            })
            .collect()
    }

    /// A listed key by id.
    pub fn key(&self, id: &KeyId) -> Option<(&PublicKey, &RootKey)> {
        let public = self.keys.get(id)?;
        self.doc.keys.get(&id.to_hex()).map(|k| (public, k))
    }

    /// Distinct keys of `role` in this root that signed `payload` among
    /// `sigs`.
    pub fn signed_by(
        &self,
        role: RoleName,
        payload_type: &str,
        payload: &[u8],
        sigs: &[EnvelopeSignature],
    ) -> Vec<KeyId> {
        let keys = self.role_keys(role);
        signers(
            payload_type,
            payload,
            sigs,
            &keys,
            |(id, _)| *id,
            |(_, k)| k,
        )
        .into_iter()
        .map(|((id, _), _)| *id)
        .collect()
    }

    /// The canonical envelope bytes (what `trust root sign` writes).
    pub fn envelope_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(&self.envelope).expect("plain JSON")
    }
}

/// TUF §5.3.4–5.3.5 for one step: `next` must be version `current + 1`,
/// signed by a threshold of `current`'s root keys and a threshold of its
/// own. `what` names the file in errors.
pub fn check_successor(current: &CheckedRoot, next: &CheckedRoot, what: &str) -> Result<()> {
    if !current.is_rooted() {
        return Err(Error::Untrusted {
            what: what.to_string(),
            reason: "this registry's trust has no root keys yet; install a ceremony root with `airlock trust init` first".into(),
        });
    }
    if next.version() <= current.version() {
        return Err(Error::Untrusted {
            what: what.to_string(),
            reason: format!(
                "rollback: trust root version {} is not above version {}, which this registry holds",
                next.version(),
                current.version()
            ),
        });
    }
    if next.version() != current.version() + 1 {
        return Err(Error::Untrusted {
            what: what.to_string(),
            reason: format!(
                "trust root version {} skips ahead of version {}: versions advance by exactly one (apply {} first)",
                next.version(),
                current.version(),
                current.version() + 1
            ),
        });
    }
    let sigs = &next.envelope.signatures;
    let possible: BTreeSet<KeyId> = current
        .role_keys(RoleName::Root)
        .into_iter()
        .chain(next.role_keys(RoleName::Root))
        .map(|(id, _)| id)
        .collect();
    if sigs.len() > possible.len() {
        return Err(Error::Hostile {
            what: what.to_string(),
            reason: format!(
                "{} signatures where at most {} root keys could have signed",
                sigs.len(),
                possible.len()
            ),
        });
    }
    for (root, label) in [(current, "the current"), (next, "its own")] {
        let need = root.doc.roles.root.threshold as usize;
        let got = root
            .signed_by(RoleName::Root, ROOT_PAYLOAD_TYPE, &next.payload, sigs)
            .len();
        if got < need {
            return Err(Error::UnknownSigner {
                what: what.to_string(),
                reason: format!(
                    "trust root version {} has {got} valid signature(s) by {label} root keys (version {}), {need} needed",
                    next.version(),
                    root.version()
                ),
            });
        }
    }
    Ok(())
}

/// Whether `t` is past `now` (expired).
pub fn expired(root: &CheckedRoot, now: OffsetDateTime) -> bool {
    root.is_rooted() && root.expires <= now
}
