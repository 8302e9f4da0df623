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
pub mod holdings;
pub mod import;
mod members;
pub mod volumes;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::name::{ModelName, VersionLabel};

/// The `format` field of every index this airlock writes and reads.
pub const FORMAT: &str = "airlock-bundle/v1";
/// The first member: the signed index.
pub const INDEX_NAME: &str = "index.json";
/// The second member: the exporter's signature over the index.
pub const SIG_NAME: &str = "index.sig";
/// The DSSE payload type the exporter signs the index under.
pub const INDEX_PAYLOAD_TYPE: &str = "application/vnd.airlock.bundle-index.v1+json";

/// Caps on what is read into memory before it is trusted.
pub const INDEX_CAP: u64 = 16 << 20;
/// Cap on the signature member.
pub const SIG_CAP: u64 = 64 << 10;
/// Cap on one statement member (its size is signed in the index, and it is
/// read whole to verify the approvals: about 300 bytes per file).
pub const STATEMENT_CAP: u64 = 256 << 20;
/// Default lifetime of a bundle.
pub const DEFAULT_EXPIRY_DAYS: u32 = 30;

/// One approval's metadata (the signature itself is in the statement's envelope).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexApproval {
    /// The approver key's id (hex).
    pub key_id: String,
    /// The approver's name on the exporting side.
    pub name: String,
    /// When the approval was signed.
    pub signed_at: String,
}

/// A version listed in the index.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexVersion {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest (hex).
    pub manifest_digest: String,
    /// The member holding this version's DSSE envelope.
    pub statement: String,
    /// Approval metadata (names and times; the signatures are in the statement).
    pub approvals: Vec<IndexApproval>,
}

/// A member listed in the index, in the order it follows.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexMember {
    /// The member name (`statements/…`, `licenses/<sha256>`, `blobs/<sha256>`).
    pub name: String,
    /// Its exact size in bytes.
    pub size: u64,
    /// Its sha256 (hex).
    pub sha256: String,
}

/// The bundle index, as written.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Index {
    /// `airlock-bundle/v1`.
    pub format: String,
    /// A random id (32 hex), unique per bundle.
    pub bundle_id: String,
    /// The exporting registry's name.
    pub origin: String,
    /// The exporter's sequence number, increasing per origin.
    pub sequence: u64,
    /// When it was signed (RFC 3339).
    pub created: String,
    /// When it stops being accepted (RFC 3339).
    pub expires: String,
    /// The exporter key's id, as claimed (never used to pick a key).
    pub exporter_key_id: String,
    /// The versions carried.
    pub versions: Vec<IndexVersion>,
    /// Every member after the signature, in order.
    pub members: Vec<IndexMember>,
    /// The trust root versions carried before the index (`roots/N.root.json`),
    /// bound to the bundle by the exporter's signature.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roots: Vec<IndexMember>,
    /// For a bundle of many members: the member list is the member
    /// [`MEMBER_LIST_NAME`] right after `index.sig`, described here (its
    /// size, sha256 and entry count, all signed), and `members` is empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_list: Option<MemberList>,
    /// A delta bundle: the blobs (sha256 hex) its versions need that it
    /// does not carry, because the receiver's holdings list them. The
    /// receiver must hold each, verified, before it accepts the bundle.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relies_on: Vec<String>,
    /// One volume of a set (`export --volume-size`): every volume is a
    /// bundle of its own, signed, carrying the statements and the blobs
    /// (or parts) placed in it; `bundle_id` is the set's id, the same in
    /// every volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub volume: Option<VolumeOf>,
    /// Blobs larger than a volume, split into parts: each part is a member
    /// `parts/<its sha256>` of the volume that carries it. The same list,
    /// signed, in every volume of the set.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub split: Vec<SplitBlob>,
}

/// Which volume of how many.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct VolumeOf {
    /// This volume's number, from 1.
    pub number: u32,
    /// How many volumes the set has.
    pub count: u32,
}

/// The blob and part number a part member's name gives
/// (`parts/<sha256>.<n>`, n below a million, no leading zero).
pub fn part_name(name: &str) -> Option<(Sha256Digest, u32)> {
    let (h, n) = name.strip_prefix("parts/")?.split_once('.')?;
    let ok = h.len() == 64
        && !n.is_empty()
        && n.len() <= 6
        && n.bytes().all(|b| b.is_ascii_digit())
        && (n == "0" || !n.starts_with('0'));
    if !ok {
        return None;
    }
    Some((h.parse().ok()?, n.parse().ok()?))
}

/// A blob carried in parts.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SplitBlob {
    /// The whole blob's sha256 (hex).
    pub sha256: String,
    /// Its size.
    pub size: u64,
    /// Its parts in order (`parts/<blob sha256>.<n>` from 0, size,
    /// sha256 of the part), which join to the blob.
    pub parts: Vec<IndexMember>,
}

/// The most volumes a set may have.
pub const MAX_VOLUMES: u32 = 999;

/// The signed description of an external member list.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberList {
    /// Its exact size in bytes.
    pub size: u64,
    /// Its sha256 (hex).
    pub sha256: String,
    /// How many members it lists.
    pub count: u64,
}

/// The member carrying the exporting registry's aliases of the versions
/// carried (a JSON array; signed by the index like every member).
pub const ALIASES_NAME: &str = "aliases.json";
/// Its cap.
pub const ALIASES_CAP: u64 = 1 << 20;

/// The member holding an external member list (a JSON array of members).
pub const MEMBER_LIST_NAME: &str = "members.json";
/// The most members a bundle may list.
pub const MAX_MEMBERS: u64 = 10_000_000;
/// Bytes allowed per listed member in an external list (a member is about
/// 160 bytes of compact JSON); the list's cap is this times its signed count.
pub const MEMBER_LIST_BYTES_EACH: u64 = 512;
/// Above this many bytes of inline member list, export writes it as its own
/// member instead.
pub const INLINE_MEMBERS_MAX: usize = 1 << 20;

/// The exporter's signature over the index (a detached DSSE signature).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct IndexSignature {
    /// The DSSE payload type signed (the index's).
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures, each with a claimed key id.
    pub signatures: Vec<crate::statement::EnvelopeSignature>,
}

/// What kind of member a listed name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A version's statement, by its position in the member list.
    Statement(usize),
    /// A signed version revocation.
    Revocation,
    /// A signed evaluation record of a version carried.
    Eval,
    /// The exporting registry's aliases of the versions carried.
    Aliases,
    /// A blob named by its own sha256.
    Blob(Sha256Digest),
    /// Part `n` of a split blob (`parts/<the blob's sha256>.<n>`).
    Part,
}

/// A member checked into types.
#[derive(Debug, Clone)]
pub struct CheckedMember {
    /// The member name, except for a blob (empty: made from its digest
    /// when asked, so a hundred thousand blobs hold no name each).
    label: String,
    /// A blob under `licenses/` (else `blobs/`).
    licence: bool,
    /// Its exact size.
    pub size: u64,
    /// Its sha256.
    pub sha256: Sha256Digest,
    /// What it is.
    pub kind: MemberKind,
}

/// A version entry checked into types.
#[derive(Debug, Clone)]
pub struct CheckedVersion {
    /// The model.
    pub name: ModelName,
    /// The version label.
    pub label: VersionLabel,
    /// The manifest digest.
    pub manifest_digest: Sha256Digest,
    /// The position of its statement in the member list.
    pub statement_member: usize,
}

/// The index after structural validation, before any cryptography on members.
#[derive(Debug, Clone)]
pub struct CheckedIndex {
    /// The index as parsed.
    pub raw: Index,
    /// When it was signed.
    pub created: time::OffsetDateTime,
    /// When it expires.
    pub expires: time::OffsetDateTime,
    /// The versions, checked.
    pub versions: Vec<CheckedVersion>,
    /// The members, checked.
    pub members: Vec<CheckedMember>,
    /// The blobs a delta bundle relies on the receiver holding.
    pub relies_on: Vec<Sha256Digest>,
    /// The volume this is, of a set.
    pub volume: Option<VolumeOf>,
    /// The blobs carried in parts, checked.
    pub split: Vec<CheckedSplit>,
}

/// A split blob, checked.
#[derive(Debug, Clone)]
pub struct CheckedSplit {
    /// The whole blob.
    pub sha256: Sha256Digest,
    /// Its size.
    pub size: u64,
    /// Its parts in order: sha256 and size.
    pub parts: Vec<(Sha256Digest, u64)>,
}

impl CheckedSplit {
    /// The member name of part `n`.
    pub fn part_name(&self, n: usize) -> String {
        format!("parts/{}.{n}", self.sha256)
    }
}

/// A signed time from a bundle in the one spelling (`2026-11-29T19:01:09Z`);
/// anything else is hostile input naming `what`.
pub fn parse_time(s: &str, what: &str) -> Result<time::OffsetDateTime> {
    crate::clock::parse_canonical(s).ok_or_else(|| Error::Hostile {
        what: what.into(),
        reason: format!("`{s}` is not a time in the one spelling, like 2026-11-29T19:01:09Z"),
    })
}

/// The most trust root versions one bundle may carry.
pub const MAX_ROOTS: usize = 64;
/// The most versions one bundle may carry.
pub const MAX_VERSIONS: usize = 10_000;

impl CheckedMember {
    /// The member name.
    pub fn name(&self) -> std::borrow::Cow<'_, str> {
        match self.kind {
            MemberKind::Blob(d) if self.label.is_empty() => {
                let folder = if self.licence { "licenses/" } else { "blobs/" };
                format!("{folder}{d}").into()
            }
            _ => self.label.as_str().into(),
        }
    }

    /// What makes two members the same member: the name, or for a blob or
    /// part its folder and digest (the name's only parts).
    fn key(&self) -> (&str, bool, Option<&Sha256Digest>) {
        match &self.kind {
            MemberKind::Blob(d) => ("", self.licence, Some(d)),
            _ => (&self.label, false, None),
        }
    }

    /// Check the `i`th listed member: its sha256, and a name of an allowed
    /// shape with a size under that kind's cap.
    pub fn check(i: usize, m: IndexMember) -> Result<CheckedMember> {
        let sha256: Sha256Digest = m.sha256.parse().map_err(|_| Error::Hostile {
            what: m.name.clone(),
            reason: format!("bad sha256 `{}`", m.sha256),
        })?;
        let licence = m.name.starts_with("licenses/");
        let kind = if m.name.starts_with("parts/") {
            if part_name(&m.name).is_none() {
                return Err(Error::Hostile {
                    what: m.name.clone(),
                    reason: "a part member must be named `parts/<the blob's sha256>.<n>`".into(),
                });
            }
            MemberKind::Part
        } else if let Some(h) = m
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
        } else if m.name == ALIASES_NAME {
            if m.size > ALIASES_CAP {
                return Err(Error::Hostile {
                    what: m.name.clone(),
                    reason: format!("alias list larger than {ALIASES_CAP} bytes"),
                });
            }
            MemberKind::Aliases
        } else if m.name.starts_with("evals/") && m.name.ends_with(".dsse.json") {
            if m.size > crate::eval::EVAL_CAP {
                return Err(Error::Hostile {
                    what: m.name.clone(),
                    reason: format!(
                        "evaluation record larger than {} bytes",
                        crate::eval::EVAL_CAP
                    ),
                });
            }
            MemberKind::Eval
        } else if m.name.starts_with("revocations/") && m.name.ends_with(".dsse.json") {
            if m.size > crate::trust::revocation::REVOCATION_CAP {
                return Err(Error::Hostile {
                    what: m.name.clone(),
                    reason: format!(
                        "revocation larger than {} bytes",
                        crate::trust::revocation::REVOCATION_CAP
                    ),
                });
            }
            MemberKind::Revocation
        } else {
            return Err(Error::Hostile {
                what: m.name.clone(),
                reason: "not an allowed member name".into(),
            });
        };
        Ok(CheckedMember {
            label: if matches!(kind, MemberKind::Blob(_)) {
                String::new()
            } else {
                m.name
            },
            licence,
            size: m.size,
            sha256,
            kind,
        })
    }
}

impl CheckedIndex {
    /// Validate the structure of index bytes: format, names, digests, sizes,
    /// times in the one spelling, a sequence the registry can record, member
    /// names unique and of the allowed shapes, every version listed once
    /// with a statement of its own that is a listed member.
    pub fn parse(bytes: &[u8]) -> Result<CheckedIndex> {
        Self::check(Self::raw(bytes)?, None)
    }

    /// The index bytes as parsed, before any check.
    pub fn raw(bytes: &[u8]) -> Result<Index> {
        serde_json::from_slice(bytes).map_err(|e| Error::Hostile {
            what: INDEX_NAME.into(),
            reason: format!("not a bundle index: {e}"),
        })
    }

    /// Check a parsed index: its inline members, or `listed`, the members
    /// of its external list already checked one by one as they were read
    /// ([`CheckedMember::check`]). The inline list moves into the checked
    /// members (`raw.members` is left empty).
    pub fn check(mut raw: Index, listed: Option<Vec<CheckedMember>>) -> Result<CheckedIndex> {
        let hostile = |reason: String| Error::Hostile {
            what: INDEX_NAME.into(),
            reason,
        };
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
        if raw.sequence > i64::MAX as u64 {
            return Err(hostile(format!(
                "sequence {} is above 2^63-1, the largest this registry records",
                raw.sequence
            )));
        }
        let created = parse_time(&raw.created, INDEX_NAME)?;
        let expires = parse_time(&raw.expires, INDEX_NAME)?;
        if expires <= created {
            return Err(hostile("the bundle expires before it was created".into()));
        }
        if raw.versions.len() > MAX_VERSIONS {
            return Err(hostile(format!("more than {MAX_VERSIONS} versions")));
        }
        if raw.roots.len() > MAX_ROOTS {
            return Err(hostile(format!(
                "more than {MAX_ROOTS} trust root versions"
            )));
        }
        for r in &raw.roots {
            let ok = r
                .name
                .strip_prefix("roots/")
                .and_then(|n| n.strip_suffix(".root.json"))
                .is_some_and(|n| {
                    !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && n.len() <= 19
                });
            if !ok
                || r.size > crate::trust::root::ROOT_CAP
                || r.sha256.parse::<Sha256Digest>().is_err()
            {
                return Err(Error::Hostile {
                    what: r.name.clone(),
                    reason: "not an allowed trust root member".into(),
                });
            }
        }
        let members = match listed {
            Some(m) => m,
            None => std::mem::take(&mut raw.members)
                .into_iter()
                .enumerate()
                .map(|(i, m)| CheckedMember::check(i, m))
                .collect::<Result<Vec<_>>>()?,
        };
        // Names unique: sorted positions, neighbours compared.
        let mut order: Vec<u32> = (0..members.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| members[a as usize].key().cmp(&members[b as usize].key()));
        if let Some(w) = order
            .windows(2)
            .find(|w| members[w[0] as usize].key() == members[w[1] as usize].key())
        {
            return Err(Error::Hostile {
                what: members[w[1] as usize].name().into_owned(),
                reason: "member listed twice".into(),
            });
        }
        drop(order);
        let mut versions = Vec::new();
        let mut seen_versions = std::collections::HashSet::new();
        let mut seen_statements = std::collections::HashSet::new();
        for v in &raw.versions {
            if !seen_versions.insert((v.name.as_str(), v.version.as_str())) {
                return Err(hostile(format!("{}@{} is listed twice", v.name, v.version)));
            }
            if !seen_statements.insert(v.statement.as_str()) {
                return Err(Error::Hostile {
                    what: v.statement.clone(),
                    reason: "one statement is named by two versions".into(),
                });
            }
            let statement_member = members
                .iter()
                .position(|m| m.label == v.statement && m.label.starts_with("statements/"))
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
        if raw.relies_on.len() as u64 > MAX_MEMBERS {
            return Err(hostile(format!("relies on more than {MAX_MEMBERS} blobs")));
        }
        let relies_on = std::mem::take(&mut raw.relies_on)
            .iter()
            .map(|h| {
                h.parse::<Sha256Digest>()
                    .map_err(|_| hostile(format!("relies on `{h}`, not a sha256")))
            })
            .collect::<Result<Vec<_>>>()?;
        let volume = raw.volume;
        if let Some(v) = volume
            && (v.count == 0 || v.count > MAX_VOLUMES || v.number == 0 || v.number > v.count)
        {
            return Err(hostile(format!(
                "volume {} of {} is not a volume of a set (1 to {MAX_VOLUMES} volumes)",
                v.number, v.count
            )));
        }
        let split = check_split(&std::mem::take(&mut raw.split), volume.is_some(), &members)?;
        Ok(CheckedIndex {
            raw,
            created,
            expires,
            versions,
            members,
            relies_on,
            volume,
            split,
        })
    }
}

/// The split blobs of a volume, checked: only a volume carries parts;
/// each split blob has at least two parts of at least one byte that add up
/// to its size, no part is listed twice, and every part member of this
/// volume is a listed part.
fn check_split(
    raw: &[SplitBlob],
    is_volume: bool,
    members: &[CheckedMember],
) -> Result<Vec<CheckedSplit>> {
    let hostile = |what: &str, reason: String| Error::Hostile {
        what: what.to_string(),
        reason,
    };
    if !is_volume && !raw.is_empty() {
        return Err(hostile(
            INDEX_NAME,
            "split blobs in a bundle that is not a volume of a set".into(),
        ));
    }
    // Part name → (size, sha256), to check this volume's part members.
    let mut listed = std::collections::HashMap::new();
    let mut out = Vec::with_capacity(raw.len());
    let mut total_parts = 0u64;
    for s in raw {
        let sha256: Sha256Digest = s.sha256.parse().map_err(|_| {
            hostile(
                INDEX_NAME,
                format!("split blob `{}` is not a sha256", s.sha256),
            )
        })?;
        total_parts += s.parts.len() as u64;
        if s.parts.len() < 2 || total_parts > MAX_MEMBERS {
            return Err(hostile(
                &format!("split blob {sha256}"),
                format!(
                    "{} parts (at least 2, at most {MAX_MEMBERS} in all)",
                    s.parts.len()
                ),
            ));
        }
        let mut parts = Vec::with_capacity(s.parts.len());
        let mut sum = 0u64;
        for (n, p) in s.parts.iter().enumerate() {
            if p.name != format!("parts/{sha256}.{n}") {
                return Err(hostile(
                    &p.name,
                    format!("part {n} of split blob {sha256} must be named `parts/{sha256}.{n}`"),
                ));
            }
            let d: Sha256Digest = p
                .sha256
                .parse()
                .map_err(|_| hostile(&p.name, format!("bad sha256 `{}`", p.sha256)))?;
            if p.size == 0 || listed.insert(p.name.clone(), (p.size, d)).is_some() {
                return Err(hostile(
                    &p.name,
                    "an empty part, or one listed twice".into(),
                ));
            }
            sum = sum.saturating_add(p.size);
            parts.push((d, p.size));
        }
        if sum != s.size {
            return Err(hostile(
                &format!("split blob {sha256}"),
                format!("its parts add up to {sum} bytes, not its {} bytes", s.size),
            ));
        }
        out.push(CheckedSplit {
            sha256,
            size: s.size,
            parts,
        });
    }
    for m in members {
        if m.kind == MemberKind::Part && listed.get(m.label.as_str()) != Some(&(m.size, m.sha256)) {
            return Err(hostile(
                &m.name(),
                "a part that no split blob of the signed index lists (with this size and sha256)"
                    .into(),
            ));
        }
    }
    Ok(out)
}

/// Whether the file at `path` is a bundle (or its first volume), by its
/// bytes: a ustar header whose member is `index.json` or a `roots/` trust
/// root version. A `.gguf` or `.safetensors` file is not, whatever its name.
pub fn is_bundle(path: &std::path::Path) -> Result<bool> {
    let mut head = [0u8; 512];
    let got = crate::fsio::read_head(path, &mut head)?;
    if got < 512 || &head[257..262] != b"ustar" {
        return Ok(false);
    }
    let end = head[..100].iter().position(|b| *b == 0).unwrap_or(100);
    let name = &head[..end];
    Ok(name == INDEX_NAME.as_bytes() || name.starts_with(b"roots/"))
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
