//! The registry's records as plain Rust values: what the database stores and
//! what commands render. No I/O; the database layer converts rows to these.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::formats::{Format, Verdict};
use crate::name::{ModelName, RelPath};
use crate::signing::{KeyId, PublicKey};

/// Training-data disclosure status, ordered full > partial > none > unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Disclosure {
    /// Nothing is known.
    Unknown,
    /// The publisher says nothing was disclosed.
    None,
    /// Some of the training data is named.
    Partial,
    /// The training data is published.
    Full,
}

impl Disclosure {
    /// The status as recorded and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Disclosure::Full => "full",
            Disclosure::Partial => "partial",
            Disclosure::None => "none",
            Disclosure::Unknown => "unknown",
        }
    }
}

impl FromStr for Disclosure {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s {
            "full" => Disclosure::Full,
            "partial" => Disclosure::Partial,
            "none" => Disclosure::None,
            "unknown" => Disclosure::Unknown,
            _ => {
                return Err(Error::input(format!(
                    "invalid disclosure `{s}`: use full, partial, none or unknown"
                )));
            }
        })
    }
}

impl fmt::Display for Disclosure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a version arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// Imported from a model folder on this registry.
    Directory,
    /// Arrived in a signed bundle.
    Bundle,
    /// Arrived from an OCI registry or image layout.
    Oci,
}

impl Origin {
    /// The origin as recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Directory => "directory",
            Origin::Bundle => "bundle",
            Origin::Oci => "oci",
        }
    }
}

impl FromStr for Origin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "directory" => Ok(Origin::Directory),
            "bundle" => Ok(Origin::Bundle),
            "oci" => Ok(Origin::Oci),
            _ => Err(Error::input(format!("unknown origin `{s}`"))),
        }
    }
}

/// `--allow-unsafe`: who and why.
#[derive(Debug, Clone, Serialize)]
pub struct Allowance {
    /// Who allowed it (`user@host`).
    pub actor: String,
    /// Why, as given with `--reason`.
    pub reason: String,
}

impl Allowance {
    /// `--allow-unsafe` and `--reason` as given: both or neither (exit 2
    /// otherwise), with a reason that says something. Recorded with the
    /// current actor.
    pub fn from_flags(allow: bool, reason: Option<&str>) -> Result<Option<Allowance>> {
        match (allow, reason) {
            (false, None) => Ok(None),
            (false, Some(_)) => Err(Error::usage("`--reason` goes with `--allow-unsafe`")),
            (true, None) => Err(Error::usage(
                "`--allow-unsafe` needs `--reason TEXT` (it is recorded with who allowed it)",
            )),
            (true, Some(r)) if r.trim().is_empty() => {
                Err(Error::usage("`--reason` must not be empty"))
            }
            (true, Some(r)) => Ok(Some(Allowance {
                actor: crate::actor::actor(),
                reason: r.to_string(),
            })),
        }
    }
}

/// One file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    /// The path in the model.
    pub path: RelPath,
    /// Its size in bytes.
    pub size: u64,
    /// Its sha256, the same upstream, in the store, in bundles and in audits.
    pub sha256: Sha256Digest,
    /// The format its bytes are.
    pub format: Format,
    /// Which upstream hash was checked at import (e.g. `sha256 from blob name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_check: Option<String>,
    /// What inspecting the file found (absent for records made before).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub safety: Option<FileSafety>,
    /// The digests of its fixed-size pieces, for a file larger than one
    /// piece whose blob was stored with them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pieces: Option<crate::digest::Pieces>,
}

/// A file's inspection, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSafety {
    /// The worst severity found.
    pub verdict: Verdict,
    /// Tensors found.
    pub tensors: u64,
    /// Parameters over all tensors.
    pub parameters: u64,
    /// The tensor dtypes found.
    pub dtypes: Vec<String>,
    /// Everything found.
    pub findings: Vec<crate::formats::SafetyFinding>,
}

impl FileSafety {
    /// The record of an inspection.
    pub fn of(i: &crate::formats::Inspection) -> FileSafety {
        FileSafety {
            verdict: i.verdict,
            tensors: i.tensors,
            parameters: i.parameters,
            dtypes: i.dtypes.clone(),
            findings: i.findings.clone(),
        }
    }
}

/// Everything recorded about one version except its files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// The database id.
    pub id: i64,
    /// The model.
    pub name: ModelName,
    /// The version label.
    pub label: String,
    /// The manifest digest (the content's identity).
    pub manifest_digest: Sha256Digest,
    /// Bytes over all files.
    pub total_size: u64,
    /// When it was imported here (RFC 3339).
    pub imported_at: String,
    /// Who imported it here.
    pub imported_by: String,
    /// This registry's name at import.
    pub registry: String,
    /// How it arrived.
    pub origin: Origin,
    /// The source layout (`plain`, `hf-cache`, …, or `bundle`).
    pub layout: String,
    /// Where it came from.
    pub source_url: Option<String>,
    /// The upstream revision.
    pub revision: Option<String>,
    /// The licence id.
    pub license_id: Option<String>,
    /// The blob holding the licence text.
    pub license_sha256: Option<Sha256Digest>,
    /// What is known about the training data.
    pub disclosure: Disclosure,
    /// Notes on the training data.
    pub disclosure_notes: Option<String>,
    /// Who answers for the model.
    pub owner: Option<String>,
    /// The bundle the version arrived in.
    pub bundle_id: Option<String>,
    /// When it was registered where it was first imported (its signed
    /// statement says so): the order of a model's versions.
    pub registered_at: String,
}

/// A statement's exact bytes, waiting to be recorded.
#[derive(Debug, Default)]
pub enum StatementBytes {
    /// None carried: a folder import's statement is made from the records
    /// when first needed.
    #[default]
    None,
    /// In memory.
    Memory(Vec<u8>),
    /// Spilled to an unnamed temp file (a statement of a hundred thousand
    /// files is tens of megabytes), with the length and sha256 it had when
    /// it was checked; both are checked again as it is recorded.
    Spilled {
        /// The temp file, read from its start.
        file: std::fs::File,
        /// Its length.
        len: u64,
        /// The sha256 of the bytes checked.
        sha256: Sha256Digest,
    },
}

/// A version about to be recorded.
#[derive(Debug)]
pub struct NewVersion {
    /// The model.
    pub name: ModelName,
    /// The version label.
    pub label: String,
    /// The manifest digest.
    pub manifest_digest: Sha256Digest,
    /// When (RFC 3339).
    pub imported_at: String,
    /// Who.
    pub imported_by: String,
    /// This registry's name.
    pub registry: String,
    /// How it arrived.
    pub origin: Origin,
    /// The source layout.
    pub layout: String,
    /// Where it came from.
    pub source_url: Option<String>,
    /// The upstream revision.
    pub revision: Option<String>,
    /// The licence id.
    pub license_id: Option<String>,
    /// The blob holding the licence text.
    pub license_sha256: Option<Sha256Digest>,
    /// What is known about the training data.
    pub disclosure: Disclosure,
    /// Notes on the training data.
    pub disclosure_notes: Option<String>,
    /// Who answers for the model.
    pub owner: Option<String>,
    /// Its files.
    pub files: Vec<FileRecord>,
    /// The exact statement bytes approvals sign (from a bundle or an OCI
    /// registry).
    pub statement: StatementBytes,
    /// The bundle it arrived in.
    pub bundle_id: Option<String>,
    /// Approvals it arrives with.
    pub approvals: Vec<ApprovalRecord>,
    /// `--allow-unsafe` with the unsafe paths it let in.
    pub allowance: Option<(Allowance, Vec<String>)>,
    /// When it was registered where it was first imported.
    pub registered_at: String,
    /// The OpenSSF model signature its files were checked against.
    pub oms: Option<OmsCheck>,
}

impl NewVersion {
    /// The record this version will have (id 0 until inserted).
    pub fn as_record(&self) -> VersionRecord {
        VersionRecord {
            id: 0,
            name: self.name.clone(),
            label: self.label.clone(),
            manifest_digest: self.manifest_digest,
            total_size: self.files.iter().map(|f| f.size).sum(),
            imported_at: self.imported_at.clone(),
            imported_by: self.imported_by.clone(),
            registry: self.registry.clone(),
            origin: self.origin,
            layout: self.layout.clone(),
            source_url: self.source_url.clone(),
            revision: self.revision.clone(),
            license_id: self.license_id.clone(),
            license_sha256: self.license_sha256,
            disclosure: self.disclosure,
            disclosure_notes: self.disclosure_notes.clone(),
            owner: self.owner.clone(),
            bundle_id: self.bundle_id.clone(),
            registered_at: self.registered_at.clone(),
        }
    }
}

/// What the last check of a deployed copy found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeployStatus {
    /// Every file matches the version.
    Ok,
    /// Files were modified, removed or added.
    Drift,
    /// The deployed folder is gone.
    Missing,
    /// Never checked (or not since it was recorded).
    Unverified,
    /// On another host: this host cannot check it.
    NotLocal,
}

impl DeployStatus {
    /// The status as written in reports, JSON and the database.
    pub fn as_str(self) -> &'static str {
        match self {
            DeployStatus::Ok => "ok",
            DeployStatus::Drift => "drift",
            DeployStatus::Missing => "missing",
            DeployStatus::Unverified => "unverified",
            DeployStatus::NotLocal => "not-local",
        }
    }

    /// A recorded status read back; anything unknown counts as unverified.
    pub fn parse(s: &str) -> DeployStatus {
        match s {
            "ok" => DeployStatus::Ok,
            "drift" => DeployStatus::Drift,
            "missing" => DeployStatus::Missing,
            "not-local" => DeployStatus::NotLocal,
            _ => DeployStatus::Unverified,
        }
    }

    /// Whether the deployed bytes are no longer the approved bytes.
    pub fn is_drift(self) -> bool {
        matches!(self, DeployStatus::Drift | DeployStatus::Missing)
    }
}

impl fmt::Display for DeployStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A deployment: a copy of a version placed on a host, and what its last
/// check found. Ended deployments are kept (history).
#[derive(Debug, Clone, Serialize)]
pub struct Deployment {
    /// The record's id (referenced by its `deploy` event).
    pub id: i64,
    /// The version deployed.
    pub version_id: i64,
    /// The host it runs on.
    pub host: String,
    /// Where on that host the model's files are.
    pub path: String,
    /// The environment (`prod`, `staging`, …), if named.
    pub environment: Option<String>,
    /// A free note.
    pub note: Option<String>,
    /// True when the copy was placed by other means and only recorded.
    pub record_only: bool,
    /// When it was recorded (RFC 3339).
    pub deployed_at: String,
    /// Who recorded it (`user@host`).
    pub deployed_by: String,
    /// When it was ended, if it was.
    pub ended_at: Option<String>,
    /// Who ended it.
    pub ended_by: Option<String>,
    /// When the copy was last re-hashed.
    pub last_verified_at: Option<String>,
    /// What that check found.
    pub last_status: Option<DeployStatus>,
}

/// A signed head of the event log.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// The sequence number of the event signed.
    pub seq: u64,
    /// That event's hash, as signed.
    pub head_hash: String,
    /// The signing key's id (hex).
    pub key_id: String,
    /// The signing key (raw 32 bytes).
    pub public_key: Vec<u8>,
    /// The ed25519 signature over the checkpoint payload.
    pub signature: Vec<u8>,
    /// When it was signed (RFC 3339).
    pub signed_at: String,
}

/// The role a key is trusted for, as `trust add --role` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// May approve versions.
    Approver,
    /// May sign bundle indexes.
    Exporter,
    /// Both.
    Any,
}

impl Role {
    /// The role as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approver => "approver",
            Role::Exporter => "exporter",
            Role::Any => "any",
        }
    }

    /// The set of roles it stands for.
    pub fn roles(self) -> Roles {
        Roles {
            root: false,
            exporter: matches!(self, Role::Exporter | Role::Any),
            approver: matches!(self, Role::Approver | Role::Any),
        }
    }
}

impl FromStr for Role {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "approver" => Ok(Role::Approver),
            "exporter" => Ok(Role::Exporter),
            "any" => Ok(Role::Any),
            _ => Err(Error::input(format!(
                "invalid role `{s}`: use approver, exporter or any"
            ))),
        }
    }
}

/// The roles one key holds: a key may sign trust roots, bundle indexes and
/// approvals, in any combination a trust root gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Roles {
    /// Signs new versions of the trust root.
    pub root: bool,
    /// Signs bundle indexes.
    pub exporter: bool,
    /// Approves versions.
    pub approver: bool,
}

impl Roles {
    /// Whether the key's approvals count.
    pub fn can_approve(self) -> bool {
        self.approver
    }

    /// Whether the key may sign bundles.
    pub fn can_export(self) -> bool {
        self.exporter
    }

    /// The roles as shown: `approver`, `exporter`, `any` (both), `root`, or
    /// a comma-separated list such as `root,approver`.
    pub fn as_str(self) -> String {
        match (self.root, self.exporter, self.approver) {
            (false, true, true) => "any".into(),
            (false, false, false) => "none".into(),
            _ => [
                (self.root, "root"),
                (self.exporter, "exporter"),
                (self.approver, "approver"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .join(","),
        }
    }
}

impl Serialize for Roles {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.as_str())
    }
}

/// Where a key's trust comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrustSource {
    /// A local command (`trust add`, or `--local` once a root exists: the
    /// break-glass path).
    Local,
    /// The signed trust root.
    Root,
}

impl TrustSource {
    /// As recorded.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustSource::Local => "local",
            TrustSource::Root => "root",
        }
    }
}

/// A key in the trust store.
#[derive(Debug, Clone, Serialize)]
pub struct TrustedKey {
    /// The key's id.
    pub key_id: KeyId,
    /// The key.
    #[serde(skip)]
    pub public_key: PublicKey,
    /// Who holds it.
    pub name: String,
    /// What it is trusted for.
    #[serde(rename = "role")]
    pub roles: Roles,
    /// The origins (exporting registries) an exporter key may speak for;
    /// `None`: any origin no other trusted key holds. `*` in the list: any.
    pub origins: Option<Vec<String>>,
    /// The signed root or a local command.
    pub source: TrustSource,
    /// When it was trusted.
    pub added_at: String,
    /// Who trusted it.
    pub added_by: String,
    /// True once revoked (a revoked key is never trusted again).
    pub revoked: bool,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// Why.
    pub revoked_reason: Option<String>,
}

impl TrustedKey {
    /// Whether this key may sign bundles for `origin`.
    pub fn speaks_for(&self, origin: &str) -> bool {
        match &self.origins {
            None => true,
            Some(list) => list.iter().any(|o| o == "*" || o == origin),
        }
    }
}

/// One approval of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    /// The approver key's id.
    pub key_id: KeyId,
    /// The approver key.
    pub public_key: PublicKey,
    /// The approver's name.
    pub name: String,
    /// The ed25519 signature over the statement's DSSE PAE.
    pub signature: Vec<u8>,
    /// When it was signed.
    pub signed_at: String,
}

/// One push or pull of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OciLocation {
    /// `push` or `pull`.
    pub direction: String,
    /// `host[:port]`, or `oci-layout`.
    pub registry: String,
    /// The repository, or the layout's folder.
    pub repository: String,
    /// The tag, if any.
    pub tag: Option<String>,
    /// The model manifest's digest there (hex).
    pub manifest_digest: String,
    /// When.
    pub at: String,
    /// Who.
    pub by: String,
}

/// An ECDSA key trusted to sign models (OpenSSF model signing, key mode).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OmsSigner {
    /// The OMS key hint: sha256 of its SPKI PEM (hex).
    pub key_id: String,
    /// `p256` or `p384`.
    pub algorithm: String,
    /// The public key (SPKI PEM).
    #[serde(skip)]
    pub public_pem: String,
    /// Who holds it.
    pub name: String,
    /// When it was trusted.
    pub added_at: String,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// An OpenSSF model signature a version's files were checked against.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OmsCheck {
    /// The signature file (a path in the model, or the file given).
    pub path: String,
    /// The trusted signer's key id, when verified.
    pub key_id: Option<String>,
    /// The signer's name, when verified.
    pub signer: Option<String>,
    /// `verified`, or `informative` (the policy let an unverified one pass).
    pub status: String,
    /// What was found.
    pub detail: String,
    /// When.
    pub at: String,
}
