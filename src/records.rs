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
    Unknown,
    None,
    Partial,
    Full,
}

impl Disclosure {
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
    Directory,
    Bundle,
}

impl Origin {
    pub fn as_str(self) -> &'static str {
        match self {
            Origin::Directory => "directory",
            Origin::Bundle => "bundle",
        }
    }
}

impl FromStr for Origin {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "directory" => Ok(Origin::Directory),
            "bundle" => Ok(Origin::Bundle),
            _ => Err(Error::input(format!("unknown origin `{s}`"))),
        }
    }
}

/// `--allow-unsafe`: who and why.
#[derive(Debug, Clone, Serialize)]
pub struct Allowance {
    pub actor: String,
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
    pub path: RelPath,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub format: Format,
    /// Which upstream hash was checked at import (e.g. `sha256 from blob name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_check: Option<String>,
    /// What inspecting the file found (absent for records made before).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub safety: Option<FileSafety>,
}

/// A file's inspection, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileSafety {
    pub verdict: Verdict,
    pub tensors: u64,
    pub parameters: u64,
    pub dtypes: Vec<String>,
    pub findings: Vec<crate::formats::SafetyFinding>,
}

impl FileSafety {
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
    pub id: i64,
    pub name: ModelName,
    pub label: String,
    pub manifest_digest: Sha256Digest,
    pub total_size: u64,
    pub imported_at: String,
    pub imported_by: String,
    pub registry: String,
    pub origin: Origin,
    pub layout: String,
    pub source_url: Option<String>,
    pub revision: Option<String>,
    pub license_id: Option<String>,
    pub license_sha256: Option<Sha256Digest>,
    pub disclosure: Disclosure,
    pub disclosure_notes: Option<String>,
    pub owner: Option<String>,
    /// The bundle the version arrived in.
    pub bundle_id: Option<String>,
}

/// A version about to be recorded.
#[derive(Debug, Clone)]
pub struct NewVersion {
    pub name: ModelName,
    pub label: String,
    pub manifest_digest: Sha256Digest,
    pub imported_at: String,
    pub imported_by: String,
    pub registry: String,
    pub origin: Origin,
    pub layout: String,
    pub source_url: Option<String>,
    pub revision: Option<String>,
    pub license_id: Option<String>,
    pub license_sha256: Option<Sha256Digest>,
    pub disclosure: Disclosure,
    pub disclosure_notes: Option<String>,
    pub owner: Option<String>,
    pub files: Vec<FileRecord>,
    /// The exact statement bytes approvals sign.
    pub statement: Vec<u8>,
    pub bundle_id: Option<String>,
    pub approvals: Vec<ApprovalRecord>,
    /// `--allow-unsafe` with the unsafe paths it let in.
    pub allowance: Option<(Allowance, Vec<String>)>,
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

/// The role a trusted key plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Approver,
    Exporter,
    Any,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Approver => "approver",
            Role::Exporter => "exporter",
            Role::Any => "any",
        }
    }

    pub fn can_approve(self) -> bool {
        matches!(self, Role::Approver | Role::Any)
    }

    pub fn can_export(self) -> bool {
        matches!(self, Role::Exporter | Role::Any)
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

/// A key in the trust store.
#[derive(Debug, Clone, Serialize)]
pub struct TrustedKey {
    pub key_id: KeyId,
    #[serde(skip)]
    pub public_key: PublicKey,
    pub name: String,
    pub role: Role,
    pub added_at: String,
    pub added_by: String,
    pub revoked: bool,
    pub revoked_at: Option<String>,
    pub revoked_reason: Option<String>,
}

/// One approval of a version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalRecord {
    pub key_id: KeyId,
    pub public_key: PublicKey,
    pub name: String,
    pub signature: Vec<u8>,
    pub signed_at: String,
}
