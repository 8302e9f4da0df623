//! The trust root chain of one registry: the ceremony that installs version
//! 1, preparing and signing later versions on the connected side, and
//! applying them (alone with `trust update`, or carried in a bundle before
//! its content is judged).
//!
//! Applying version N+1 (TUF §5.3): it must be exactly one above the
//! current version and signed by a threshold of the current root keys and a
//! threshold of its own ([`root::check_successor`]); it is recorded, with
//! its event, before anything is judged under it; keys it lists are
//! trusted for their roles, keys of earlier versions it no longer lists stop
//! counting, and keys it revokes never count again.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::root::{CheckedRoot, ROOT_TYPE, RevokedKey, RoleName, RoleSpec, RootDoc, RootKey};
use crate::actor::actor;
use crate::clock;
use crate::db::RootApplication;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::records::{Roles, TrustSource, TrustedKey};
use crate::registry::Registry;
use crate::signing::{KeyId, KeySource, PublicKey};

/// Default lifetime of a new root version.
pub const DEFAULT_ROOT_DAYS: u32 = 365;

/// The newest trust root this registry holds, if a ceremony installed one.
pub fn current(reg: &Registry) -> Result<Option<CheckedRoot>> {
    match reg.db.roots()?.pop() {
        None => Ok(None),
        Some(r) => CheckedRoot::parse(
            &r.envelope,
            &format!("stored trust root version {}", r.version),
        )
        .map(Some),
    }
}

/// A public key file as a root key entry.
fn root_key(path: &Path) -> Result<(KeyId, RootKey)> {
    let public = PublicKey::load(path)?;
    let name = crate::signing::key_file_name(path)
        .unwrap_or_else(|| format!("key {}", public.id().short()));
    Ok((
        public.id(),
        RootKey {
            keytype: "ed25519".into(),
            public: hex::encode(public.raw()),
            name,
        },
    ))
}

fn expires_in(days: u32) -> Result<String> {
    if days == 0 || days > 3650 {
        return Err(Error::usage("--expires-in-days must be between 1 and 3650"));
    }
    Ok(clock::format(
        clock::now() + time::Duration::days(i64::from(days)),
    ))
}

/// `PUB` or `PUB=ORIGIN[,ORIGIN]`: an exporter key file and its origins.
pub fn parse_exporter(arg: &str) -> (PathBuf, Option<Vec<String>>) {
    match arg.split_once('=') {
        Some((path, origins)) => (
            PathBuf::from(path),
            Some(origins.split(',').map(str::to_string).collect()),
        ),
        None => (PathBuf::from(arg), None),
    }
}

/// What the ceremony puts in version 1.
#[derive(Debug, Clone, Default)]
pub struct InitSpec {
    /// Root key files.
    pub root_keys: Vec<PathBuf>,
    /// Root signatures a new version needs.
    pub threshold: u32,
    /// Exporter key files, each with its origins (else `origins`).
    pub exporters: Vec<(PathBuf, Option<Vec<String>>)>,
    /// Origins for exporters given without their own.
    pub origins: Vec<String>,
    /// Approver key files.
    pub approvers: Vec<PathBuf>,
    /// The approval policy [default: the current one].
    pub approvals: Option<u32>,
    /// Days until the root expires.
    pub expires_in_days: u32,
}

/// What `trust init` or `trust update` applied.
#[derive(Debug, Serialize)]
pub struct Applied {
    /// The root version now in force.
    pub version: u64,
    /// When it expires.
    pub expires: String,
    /// The sha256 of its payload (compare it across the gap at the ceremony).
    pub payload_sha256: String,
    /// Keys it gives roles to.
    pub keys: usize,
    /// Where it was written, for `trust init --out`.
    pub written: Option<String>,
}

fn applied(r: &CheckedRoot, written: Option<String>) -> Applied {
    Applied {
        version: r.version(),
        expires: r.doc.expires.clone(),
        payload_sha256: crate::digest::Sha256Digest::of(&r.payload).to_hex(),
        keys: r.doc.keys.len(),
        written,
    }
}

/// The ceremony: version 1 from root keys, a threshold, and the keys and
/// policy it starts with. Keys this registry already trusts by local
/// commands stay trusted as local keys. Refused once a ceremony root exists.
pub fn init(reg: &Registry, spec: &InitSpec, out: Option<&Path>) -> Result<Applied> {
    if current(reg)?.is_some() {
        return Err(Error::input(
            "this registry already has a trust root; new versions come from `airlock trust update`",
        ));
    }
    if spec.root_keys.is_empty() {
        return Err(Error::usage(
            "the ceremony needs at least one `--root-key PUBFILE`",
        ));
    }
    let mut doc = RootDoc {
        kind: ROOT_TYPE.into(),
        version: 1,
        expires: expires_in(spec.expires_in_days)?,
        keys: Default::default(),
        roles: Default::default(),
        origins: Default::default(),
        revoked: Default::default(),
    };
    let mut add = |path: &Path, role: RoleName| -> Result<String> {
        let (id, k) = root_key(path)?;
        let hex = id.to_hex();
        doc.keys.entry(hex.clone()).or_insert(k);
        let spec = match role {
            RoleName::Root => &mut doc.roles.root,
            RoleName::Exporter => &mut doc.roles.exporter,
            RoleName::Approver => &mut doc.roles.approver,
        };
        if !spec.keyids.contains(&hex) {
            spec.keyids.push(hex.clone());
        }
        Ok(hex)
    };
    for p in &spec.root_keys {
        add(p, RoleName::Root)?;
    }
    let mut origins = Vec::new();
    for (p, own) in &spec.exporters {
        let id = add(p, RoleName::Exporter)?;
        origins.push((id, own.clone().unwrap_or_else(|| spec.origins.clone())));
    }
    for p in &spec.approvers {
        add(p, RoleName::Approver)?;
    }
    for (id, o) in origins {
        if o.is_empty() {
            return Err(Error::usage(format!(
                "exporter key {id} needs the origins it speaks for: `--exporter PUB=ORIGIN` or `--origin ORIGIN` (`*` for any)"
            )));
        }
        doc.origins.insert(id, o);
    }
    doc.roles.root.threshold = spec.threshold;
    doc.roles.exporter.threshold = u32::from(!doc.roles.exporter.keyids.is_empty());
    doc.roles.approver.threshold = match spec.approvals {
        Some(k) => k,
        None => super::approvals_required(reg)?,
    };
    let root = CheckedRoot::from_doc(doc).map_err(|e| match e {
        Error::Hostile { reason, .. } => {
            Error::usage(format!("the root would be invalid: {reason}"))
        }
        other => other,
    })?;
    let written = match out {
        Some(p) => {
            crate::store::write_atomic(p, &root.envelope_bytes())?;
            Some(p.display().to_string())
        }
        None => None,
    };
    apply(reg, &root, "init")?;
    Ok(applied(&root, written))
}

/// The ceremony with a root made elsewhere (on the connected side, or an
/// offline machine): version 1, installed as is.
pub fn install(reg: &Registry, file: &Path) -> Result<Applied> {
    if current(reg)?.is_some() {
        return Err(Error::input(
            "this registry already has a trust root; new versions come from `airlock trust update`",
        ));
    }
    let bytes = read_root_file(file)?;
    let root = CheckedRoot::parse(&bytes, &file.display().to_string())?;
    if root.version() != 1 || !root.is_rooted() {
        return Err(Error::input(format!(
            "`{}` is trust root version {}{}; the ceremony installs a version 1 with root keys",
            file.display(),
            root.version(),
            if root.is_rooted() {
                ""
            } else {
                " without root keys"
            }
        )));
    }
    apply(reg, &root, "init")?;
    Ok(applied(&root, None))
}

fn read_root_file(file: &Path) -> Result<Vec<u8>> {
    let f = crate::fsio::open_regular(file)?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(f, super::root::ROOT_CAP + 1),
        &mut bytes,
    )
    .map_err(|e| Error::io("read", file, e))?;
    Ok(bytes)
}

/// `trust update FILE`: apply the next root version.
pub fn update(reg: &Registry, file: &Path) -> Result<Applied> {
    let _lock = reg.lock()?;
    let bytes = read_root_file(file)?;
    let what = file.display().to_string();
    let next = CheckedRoot::parse(&bytes, &what)?;
    let cur = current(reg)?.ok_or_else(|| Error::Untrusted {
        what: what.clone(),
        reason: "this registry has no trust root; install the ceremony root with `airlock trust init` first".into(),
    })?;
    if next.version() == cur.version() && next.payload == cur.payload {
        return Ok(applied(&cur, None));
    }
    super::root::check_successor(&cur, &next, &what)?;
    apply(reg, &next, "update")?;
    Ok(applied(&next, None))
}

/// Apply the root versions a bundle carries, in order, before its index is
/// judged: versions this registry holds are skipped, each newer one must
/// succeed the one before. Returns the versions applied. A registry without
/// a ceremony root ignores them (it has nothing to check them against).
pub(crate) fn apply_carried(
    reg: &Registry,
    carried: &[(String, Vec<u8>)],
    bundle: &Path,
) -> Result<Vec<u64>> {
    let Some(mut cur) = current(reg)?.filter(CheckedRoot::is_rooted) else {
        return Ok(Vec::new());
    };
    let mut done = Vec::new();
    for (name, bytes) in carried {
        let what = format!("{} member `{name}`", bundle.display());
        let next = CheckedRoot::parse(bytes, &what)?;
        if next.version() <= cur.version() {
            continue;
        }
        super::root::check_successor(&cur, &next, &what)?;
        apply(reg, &next, &format!("bundle {}", bundle.display()))?;
        done.push(next.version());
        cur = next;
    }
    Ok(done)
}

/// Record `root` and make the key table follow it (one transaction).
fn apply(reg: &Registry, root: &CheckedRoot, how: &str) -> Result<()> {
    let at = clock::now_rfc3339();
    let by = actor();
    let existing = reg.db.trusted_keys()?;
    let mut keys = Vec::new();
    for (hex, k) in &root.doc.keys {
        let id: KeyId = hex.parse()?;
        let roles = Roles {
            root: root.doc.roles.root.keyids.contains(hex),
            exporter: root.doc.roles.exporter.keyids.contains(hex),
            approver: root.doc.roles.approver.keyids.contains(hex),
        };
        if !(roles.root || roles.exporter || roles.approver) {
            continue;
        }
        let (public, _) = root.key(&id).expect("listed keys were checked");
        let before = existing.iter().find(|e| e.key_id == id);
        keys.push(TrustedKey {
            key_id: id,
            public_key: *public,
            name: k.name.clone(),
            roles,
            origins: root.doc.origins.get(hex).cloned(),
            source: TrustSource::Root,
            added_at: before.map_or(at.clone(), |b| b.added_at.clone()),
            added_by: before.map_or(by.clone(), |b| b.added_by.clone()),
            revoked: false,
            revoked_at: None,
            revoked_reason: None,
        });
    }
    let mut revoked = Vec::new();
    for (hex, r) in &root.doc.revoked {
        revoked.push((hex.parse::<KeyId>()?, r.at.clone(), r.reason.clone()));
    }
    let event = EventDraft::new(
        EventKind::TrustRoot,
        format!("root v{}", root.version()),
        serde_json::json!({
            "version": root.version(),
            "how": how,
            "expires": root.doc.expires,
            "payload_sha256": crate::digest::Sha256Digest::of(&root.payload).to_hex(),
            "keys": keys.iter().map(|k| k.key_id.to_hex()).collect::<Vec<_>>(),
            "revoked": root.doc.revoked.keys().collect::<Vec<_>>(),
        }),
    );
    reg.db.apply_root(
        &RootApplication {
            version: root.version(),
            envelope: &root.envelope_bytes(),
            how,
            at: &at,
            by: &by,
            keys: &keys,
            revoked: &revoked,
        },
        &event,
    )
}

/// A change to a root, for `trust root edit`.
#[derive(Debug, Clone, Default)]
pub struct RootEdit {
    /// Root key files to add.
    pub add_root: Vec<PathBuf>,
    /// Exporter key files to add, each with its origins.
    pub add_exporter: Vec<(PathBuf, Option<Vec<String>>)>,
    /// Origins for added exporters given without their own.
    pub origins: Vec<String>,
    /// Approver key files to add.
    pub add_approver: Vec<PathBuf>,
    /// Key ids (or unique prefixes) to take out of every role.
    pub remove: Vec<String>,
    /// Key ids (or unique prefixes) to revoke for good, with the reason.
    pub revoke: Vec<String>,
    /// Why the revoked keys are revoked.
    pub reason: Option<String>,
    /// New root threshold.
    pub root_threshold: Option<u32>,
    /// New exporter threshold.
    pub exporter_threshold: Option<u32>,
    /// New approval policy.
    pub approvals: Option<u32>,
    /// New lifetime in days [default: 365].
    pub expires_in_days: Option<u32>,
}

/// The next version of `base` with `edit` applied, unsigned. Signatures are
/// added with [`sign_file`] by a threshold of the old and the new root keys.
pub fn edit(base: &CheckedRoot, e: &RootEdit) -> Result<CheckedRoot> {
    let mut doc = base.doc.clone();
    doc.version = base.version() + 1;
    doc.expires = expires_in(e.expires_in_days.unwrap_or(DEFAULT_ROOT_DAYS))?;
    let find = |doc: &RootDoc, prefix: &str| -> Result<String> {
        let p = prefix.to_ascii_lowercase();
        let hits: Vec<&String> = doc.keys.keys().filter(|k| k.starts_with(&p)).collect();
        match hits.as_slice() {
            [one] if p.len() >= 8 => Ok((*one).clone()),
            [] => Err(Error::not_found("key in the root", prefix)),
            _ => Err(Error::input(format!(
                "`{prefix}` does not name one key of the root (give at least 8 hex, unique)"
            ))),
        }
    };
    let drop_key = |doc: &mut RootDoc, id: &str| {
        for spec in [
            &mut doc.roles.root,
            &mut doc.roles.exporter,
            &mut doc.roles.approver,
        ] {
            spec.keyids.retain(|k| k != id);
        }
        doc.origins.remove(id);
        doc.keys.remove(id);
    };
    for k in &e.remove {
        let id = find(&doc, k)?;
        drop_key(&mut doc, &id);
    }
    for k in &e.revoke {
        let id = find(&doc, k)?;
        drop_key(&mut doc, &id);
        doc.revoked.insert(
            id,
            RevokedKey {
                at: clock::now_rfc3339(),
                reason: e.reason.clone().unwrap_or_else(|| "no reason given".into()),
            },
        );
    }
    let add = |doc: &mut RootDoc, path: &Path, role: RoleName| -> Result<String> {
        let (id, k) = root_key(path)?;
        let hex = id.to_hex();
        if doc.revoked.contains_key(&hex) {
            return Err(Error::Untrusted {
                what: format!("key {hex}"),
                reason: "the root revokes it; a revoked key is never trusted again".into(),
            });
        }
        doc.keys.entry(hex.clone()).or_insert(k);
        let spec: &mut RoleSpec = match role {
            RoleName::Root => &mut doc.roles.root,
            RoleName::Exporter => &mut doc.roles.exporter,
            RoleName::Approver => &mut doc.roles.approver,
        };
        if !spec.keyids.contains(&hex) {
            spec.keyids.push(hex.clone());
        }
        Ok(hex)
    };
    for p in &e.add_root {
        add(&mut doc, p, RoleName::Root)?;
    }
    for (p, own) in &e.add_exporter {
        let id = add(&mut doc, p, RoleName::Exporter)?;
        let o = own.clone().unwrap_or_else(|| e.origins.clone());
        if o.is_empty() {
            return Err(Error::usage(format!(
                "exporter key {id} needs the origins it speaks for: `PUB=ORIGIN` or `--origin ORIGIN` (`*` for any)"
            )));
        }
        doc.origins.insert(id, o);
    }
    for p in &e.add_approver {
        add(&mut doc, p, RoleName::Approver)?;
    }
    if let Some(t) = e.root_threshold {
        doc.roles.root.threshold = t;
    }
    if let Some(t) = e.exporter_threshold {
        doc.roles.exporter.threshold = t;
    }
    if let Some(t) = e.approvals {
        doc.roles.approver.threshold = t;
    }
    // Thresholds follow shrinking roles only when not set explicitly.
    for spec in [&mut doc.roles.exporter, &mut doc.roles.approver] {
        if !spec.keyids.is_empty() && spec.threshold as usize > spec.keyids.len() {
            spec.threshold = spec.keyids.len() as u32;
        }
        if !spec.keyids.is_empty() && spec.threshold == 0 {
            spec.threshold = 1;
        }
    }
    CheckedRoot::from_doc(doc).map_err(|e| match e {
        Error::Hostile { reason, .. } => {
            Error::usage(format!("the new root would be invalid: {reason}"))
        }
        other => other,
    })
}

/// `trust root edit`: the base is a root file, or this registry's root.
pub fn edit_to_file(
    reg: Option<&Registry>,
    from: Option<&Path>,
    e: &RootEdit,
    out: &Path,
) -> Result<Applied> {
    let base = match (from, reg) {
        (Some(f), _) => CheckedRoot::parse(&read_root_file(f)?, &f.display().to_string())?,
        (None, Some(reg)) => current(reg)?.ok_or_else(|| {
            Error::input("this registry has no trust root to edit; give `--from FILE` or run `airlock trust init`")
        })?,
        (None, None) => return Err(Error::usage("give the root to edit with `--from FILE`")),
    };
    let next = edit(&base, e)?;
    crate::store::write_atomic(out, &next.envelope_bytes())?;
    Ok(applied(&next, Some(out.display().to_string())))
}

/// What `trust root sign` did.
#[derive(Debug, Serialize)]
pub struct Signed {
    /// The root version signed.
    pub version: u64,
    /// The key that signed.
    pub key_id: KeyId,
    /// Signatures the file now holds.
    pub signatures: usize,
}

/// `trust root sign FILE --key K`: add `key`'s signature to a root file
/// (replacing one it made before), written back atomically.
pub fn sign_file(file: &Path, key: &dyn KeySource) -> Result<Signed> {
    let bytes = read_root_file(file)?;
    let mut root = CheckedRoot::parse(&bytes, &file.display().to_string())?;
    // Any key may sign here (an old root key signs the version that drops
    // it); whether a signature counts is decided when the root is applied.
    let id = root.envelope.sign_with(key)?;
    crate::store::write_atomic(file, &root.envelope_bytes())?;
    Ok(Signed {
        version: root.version(),
        key_id: id,
        signatures: root.envelope.signatures.len(),
    })
}

/// The trust as `trust status` shows it.
#[derive(Debug, Serialize)]
pub struct TrustStatus {
    /// The root version in force (1 and `rooted: false` before the ceremony).
    pub version: u64,
    /// Whether a ceremony root (with root keys) is installed.
    pub rooted: bool,
    /// When the root expires (none before the ceremony).
    pub expires: Option<String>,
    /// True when the root has expired: bundle imports stop until a newer
    /// root arrives.
    pub expired: bool,
    /// Signatures each role needs.
    pub thresholds: Thresholds,
    /// Approvals a bundle version needs now (a `--local` override shows here).
    pub approvals_required: u32,
    /// Every key, with its roles, origins and where its trust comes from.
    pub keys: Vec<TrustedKey>,
    /// Root versions recorded, oldest first.
    pub history: Vec<RootHistory>,
    /// Per origin: the sequence floor, the time mark and who set them.
    pub origins: Vec<super::floors::OriginState>,
    /// The time this registry judges expiry by.
    pub clock: super::floors::Now,
}

/// Thresholds of the three roles.
#[derive(Debug, Serialize)]
pub struct Thresholds {
    /// Root signatures a new version needs.
    pub root: u32,
    /// Exporter signatures a bundle needs.
    pub exporter: u32,
    /// The approval policy.
    pub approver: u32,
}

/// One recorded root version.
#[derive(Debug, Serialize)]
pub struct RootHistory {
    /// The version.
    pub version: u64,
    /// When it was applied here.
    pub applied_at: String,
    /// `init`, `update`, or the bundle that carried it.
    pub how: String,
}

/// `trust status`.
pub fn status(reg: &Registry) -> Result<TrustStatus> {
    let root = current(reg)?;
    let now = super::floors::now(reg, None)?;
    let keys = reg.db.trusted_keys()?;
    Ok(TrustStatus {
        version: root.as_ref().map_or(1, CheckedRoot::version),
        rooted: root.as_ref().is_some_and(CheckedRoot::is_rooted),
        expires: root.as_ref().map(|r| r.doc.expires.clone()),
        expired: root
            .as_ref()
            .is_some_and(|r| super::root::expired(r, now.now_time())),
        thresholds: Thresholds {
            root: root.as_ref().map_or(0, |r| r.doc.roles.root.threshold),
            exporter: root
                .as_ref()
                .map_or(1, |r| r.doc.roles.exporter.threshold.max(1)),
            approver: super::approvals_required(reg)?,
        },
        approvals_required: super::approvals_required(reg)?,
        history: reg
            .db
            .roots()?
            .into_iter()
            .map(|r| RootHistory {
                version: r.version,
                applied_at: r.applied_at,
                how: r.how,
            })
            .collect(),
        origins: super::floors::origins(reg, &keys)?,
        keys,
        clock: now,
    })
}

/// Every root version this registry holds above version 1, as bundle
/// members (`roots/<version>.root.json`, envelope bytes), oldest first.
pub(crate) fn carried(reg: &Registry) -> Result<Vec<(String, Vec<u8>)>> {
    Ok(reg
        .db
        .roots()?
        .into_iter()
        .filter(|r| r.version >= 2)
        .map(|r| (format!("roots/{}.root.json", r.version), r.envelope))
        .collect())
}
