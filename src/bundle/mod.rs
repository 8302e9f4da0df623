//! Signed bundles: the `.airlock` file (or volume set) that carries versions
//! across the gap.
//!
//! A bundle is one POSIX ustar stream. Member order (byte-exact layout in
//! `docs/formats.md`): `index.json`, `index.sig`, the statements with their
//! approvals (`statements/<n>.dsse.json`), licence texts that are not model
//! files (`licenses/<sha256>`), then the blobs (`blobs/<sha256>`). The index
//! lists every later member with its exact size and sha256 and is signed by
//! the exporter, so the importer knows what must follow before it reads a
//! byte of it. Every header has mode 0644, uid/gid 0, mtime 0.

pub mod export;
pub mod import;
pub mod volumes;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::name::{ModelName, VersionLabel};

pub const FORMAT: &str = "airlock-bundle/v1";
pub const INDEX_NAME: &str = "index.json";
pub const SIG_NAME: &str = "index.sig";
/// The DSSE payload type the exporter signs the index under.
pub const INDEX_PAYLOAD_TYPE: &str = "application/vnd.airlock.bundle-index.v1+json";

/// Caps on what is read into memory before it is trusted.
pub const INDEX_CAP: u64 = 16 << 20;
pub const SIG_CAP: u64 = 64 << 10;
pub const STATEMENT_CAP: u64 = 16 << 20;
/// Default lifetime of a bundle.
pub const DEFAULT_EXPIRY_DAYS: u32 = 30;

/// One approval's metadata (the signature itself is in the statement's envelope).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexApproval {
    pub key_id: String,
    pub name: String,
    pub signed_at: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexVersion {
    pub name: String,
    pub version: String,
    pub manifest_digest: String,
    /// The member holding this version's DSSE envelope.
    pub statement: String,
    pub approvals: Vec<IndexApproval>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexMember {
    pub name: String,
    pub size: u64,
    pub sha256: String,
}

/// The bundle index, as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Index {
    pub format: String,
    pub bundle_id: String,
    pub origin: String,
    pub sequence: u64,
    pub created: String,
    pub expires: String,
    pub exporter_key_id: String,
    pub versions: Vec<IndexVersion>,
    pub members: Vec<IndexMember>,
}

/// The exporter's signature over the index (a detached DSSE signature).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexSignature {
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    pub signatures: Vec<crate::statement::EnvelopeSignature>,
}

/// What kind of member a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    Statement(usize),
    Blob(Sha256Digest),
}

/// A member checked into types.
#[derive(Debug, Clone)]
pub struct CheckedMember {
    pub name: String,
    pub size: u64,
    pub sha256: Sha256Digest,
    pub kind: MemberKind,
}

/// A version entry checked into types.
#[derive(Debug, Clone)]
pub struct CheckedVersion {
    pub name: ModelName,
    pub label: VersionLabel,
    pub manifest_digest: Sha256Digest,
    pub statement_member: usize,
}

/// The index after structural validation, before any cryptography on members.
#[derive(Debug, Clone)]
pub struct CheckedIndex {
    pub raw: Index,
    pub created: time::OffsetDateTime,
    pub expires: time::OffsetDateTime,
    pub versions: Vec<CheckedVersion>,
    pub members: Vec<CheckedMember>,
}

pub fn parse_time(s: &str, what: &str) -> Result<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).map_err(|e| {
        Error::Hostile {
            what: what.into(),
            reason: format!("`{s}` is not an RFC 3339 time: {e}"),
        }
    })
}

impl CheckedIndex {
    /// Validate the structure of index bytes: format, names, digests, sizes,
    /// member names unique and of the three allowed shapes, every version's
    /// statement a listed member.
    pub fn parse(bytes: &[u8]) -> Result<CheckedIndex> {
        let hostile = |reason: String| Error::Hostile {
            what: INDEX_NAME.into(),
            reason,
        };
        let raw: Index = serde_json::from_slice(bytes)
            .map_err(|e| hostile(format!("not a bundle index: {e}")))?;
        if raw.format != FORMAT {
            return Err(hostile(format!(
                "unknown format `{}` (this airlock reads `{FORMAT}`)",
                raw.format
            )));
        }
        if raw.bundle_id.len() != 32 || !raw.bundle_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(hostile(format!("bad bundle id `{}`", raw.bundle_id)));
        }
        if raw.origin.is_empty()
            || raw.origin.len() > 128
            || raw.origin.chars().any(char::is_control)
        {
            return Err(hostile("bad origin registry name".into()));
        }
        let created = parse_time(&raw.created, INDEX_NAME)?;
        let expires = parse_time(&raw.expires, INDEX_NAME)?;
        if expires <= created {
            return Err(hostile("the bundle expires before it was created".into()));
        }
        let mut names = std::collections::HashSet::new();
        let mut members = Vec::new();
        for (i, m) in raw.members.iter().enumerate() {
            if !names.insert(m.name.as_str()) {
                return Err(Error::Hostile {
                    what: m.name.clone(),
                    reason: "member listed twice".into(),
                });
            }
            let sha256: Sha256Digest = m.sha256.parse().map_err(|_| Error::Hostile {
                what: m.name.clone(),
                reason: format!("bad sha256 `{}`", m.sha256),
            })?;
            let kind = if let Some(h) = m
                .name
                .strip_prefix("blobs/")
                .or_else(|| m.name.strip_prefix("licenses/"))
            {
                match h.parse::<Sha256Digest>() {
                    Ok(d) if h.len() == 64 && d == sha256 => MemberKind::Blob(d),
                    _ => {
                        return Err(Error::Hostile {
                            what: m.name.clone(),
                            reason: "a blob member must be named by its own sha256".into(),
                        });
                    }
                }
            } else if m.name.starts_with("statements/") && m.name.ends_with(".dsse.json") {
                if m.size > STATEMENT_CAP {
                    return Err(Error::Hostile {
                        what: m.name.clone(),
                        reason: format!("statement larger than {STATEMENT_CAP} bytes"),
                    });
                }
                MemberKind::Statement(i)
            } else {
                return Err(Error::Hostile {
                    what: m.name.clone(),
                    reason: "not an allowed member name".into(),
                });
            };
            members.push(CheckedMember {
                name: m.name.clone(),
                size: m.size,
                sha256,
                kind,
            });
        }
        let mut versions = Vec::new();
        for v in &raw.versions {
            let statement_member = raw
                .members
                .iter()
                .position(|m| m.name == v.statement && m.name.starts_with("statements/"))
                .ok_or_else(|| Error::Hostile {
                    what: v.statement.clone(),
                    reason: format!(
                        "the statement of {}@{} is not a listed member",
                        v.name, v.version
                    ),
                })?;
            versions.push(CheckedVersion {
                name: v.name.parse().map_err(|e: Error| hostile(e.to_string()))?,
                label: v
                    .version
                    .parse()
                    .map_err(|e: Error| hostile(e.to_string()))?,
                manifest_digest: v
                    .manifest_digest
                    .parse()
                    .map_err(|_| hostile(format!("bad manifest digest for {}", v.name)))?,
                statement_member,
            });
        }
        if versions.is_empty() {
            return Err(hostile("the bundle holds no version".into()));
        }
        Ok(CheckedIndex {
            raw,
            created,
            expires,
            versions,
            members,
        })
    }
}

/// Parse a size such as `4G`, `700M`, `4.7GB`, `650MiB`, `1048576`.
pub fn parse_size(s: &str) -> Result<u64> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| Error::input(format!("invalid size `{s}`")))?;
    let mult: f64 = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1.0,
        "K" | "KIB" => 1024.0,
        "M" | "MIB" => 1024.0 * 1024.0,
        "G" | "GIB" => 1024.0 * 1024.0 * 1024.0,
        "T" | "TIB" => 1024f64.powi(4),
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => {
            return Err(Error::input(format!(
                "invalid size unit in `{s}` (use K, M, G, T, KB, MB, GB, KiB, …)"
            )));
        }
    };
    let v = (n * mult).floor();
    if !v.is_finite() || !(1.0..=1e18).contains(&v) {
        return Err(Error::input(format!("invalid size `{s}`")));
    }
    Ok(v as u64)
}

/// The id a signature claims, for messages only.
pub fn claimed_ids(sig: &IndexSignature) -> String {
    sig.signatures
        .iter()
        .map(|s| s.keyid.chars().take(16).collect::<String>())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4G").unwrap(), 4 << 30);
        assert_eq!(parse_size("700MB").unwrap(), 700_000_000);
        assert_eq!(parse_size("1.5KiB").unwrap(), 1536);
        assert_eq!(parse_size("512").unwrap(), 512);
        assert!(parse_size("0").is_err());
        assert!(parse_size("12Q").is_err());
        assert!(parse_size("-1").is_err());
    }
}
