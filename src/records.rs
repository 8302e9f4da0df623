//! The registry's records as plain Rust values: what the database stores and
//! what commands render. No I/O; the database layer converts rows to these.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::name::{ModelName, RelPath};

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

/// One file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileRecord {
    pub path: RelPath,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub format: String,
    /// Which upstream hash was checked at import (e.g. `sha256 from blob name`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_check: Option<String>,
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
}

/// The current time as RFC 3339 UTC with seconds, e.g. `2026-11-29T19:01:09Z`.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}
