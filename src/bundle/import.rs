//! `import FILE.airlock`: the isolated side's intake, as numbered steps that
//! fail closed. Nothing is visible until every step passed.
//!
//! 1. Read `index.json` (capped) and `index.sig` (capped) — the first two
//!    members, regular files, nothing else.
//! 2. The index signature must verify (strict) under a trusted, unrevoked
//!    exporter key. Key ids in the input are never used to pick a key.
//! 3. The index is validated into a checked type (names, digests, sizes).
//! 4. Replay, rollback and expiry: the same bundle again is an idempotent
//!    success; a sequence not above the highest accepted from that origin is a
//!    rollback; expiry is judged against the local clock and against the
//!    newest `created` already accepted from the origin.
//! 5. Members are read in the order the index lists them. Each must be a
//!    regular file with exactly the listed name and size; statements are
//!    checked (digest, structure, agreement with the index, approvals ≥
//!    policy); blobs are streamed into store temp files while hashed and
//!    only then renamed into the store.
//! 6. Nothing may follow the last listed member.
//! 7. One transaction records every new version, its approvals and the
//!    bundle. Any failure removes the blobs this run created.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::Serialize;

use super::volumes::VolumeReader;
use super::{
    CheckedIndex, CheckedMember, INDEX_CAP, INDEX_NAME, INDEX_PAYLOAD_TYPE, IndexSignature,
    MemberKind, SIG_CAP, SIG_NAME, STATEMENT_CAP, claimed_ids,
};
use crate::actor::actor;
use crate::clock::now_rfc3339;
use crate::db::{AcceptedBundle, BlobRow};
use crate::digest::{CHUNK, Sha256Digest};
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::name::VersionSelector;
use crate::progress::ProgressFactory;
use crate::records::{Allowance, ApprovalRecord, Disclosure, NewVersion, Origin, TrustedKey};
use crate::registry::Registry;
use crate::signing::signers;
use crate::statement::{Envelope, PAYLOAD_TYPE, Statement};
use crate::store::{BlobGuard, BlobStat, IngestSpec};

/// A version a bundle carried.
#[derive(Debug, Serialize)]
pub struct ImportedVersion {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// Its manifest digest (hex).
    pub manifest_digest: String,
    /// Approvals that counted at import.
    pub approvals: usize,
    /// False when the registry already had it.
    pub created: bool,
}

/// What `import BUNDLE` did.
#[derive(Debug, Serialize)]
pub struct BundleOutcome {
    /// The bundle's id.
    pub bundle_id: String,
    /// The registry that exported it.
    pub origin: String,
    /// Its export sequence number.
    pub sequence: u64,
    /// When it was signed.
    pub created: String,
    /// When it expires.
    pub expires: String,
    /// The id of the trusted exporter key whose signature verified.
    pub exporter_key_id: String,
    /// That key's name in the trust store.
    pub exporter: String,
    /// True when this exact bundle was accepted before (nothing changed).
    pub already_imported: bool,
    /// Every version the bundle carries, new or already present.
    pub versions: Vec<ImportedVersion>,
    /// Blobs the bundle carries.
    pub blobs: usize,
    /// Bytes of those blobs.
    pub bytes: u64,
    /// Blobs this import added to the store.
    pub new_blobs: usize,
    /// Volumes read.
    pub volumes: usize,
    /// Safety warnings for the new versions' files.
    pub warnings: Vec<String>,
}

type Entries<'a> = tar::Entries<'a, std::io::BufReader<VolumeReader>>;

/// The tar crate quotes raw header bytes: keep a message short and printable.
fn printable(msg: &str) -> String {
    msg.chars()
        .take_while(|c| *c != '\n')
        .take(80)
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

fn tar_error(what: &str, e: std::io::Error) -> Error {
    Error::Hostile {
        what: what.to_string(),
        reason: format!("corrupt tar stream: {}", printable(&e.to_string())),
    }
}

fn describe(t: tar::EntryType) -> &'static str {
    match t.as_byte() {
        b'1' => "a hard link",
        b'2' => "a symbolic link",
        b'3' | b'4' => "a device",
        b'5' => "a directory",
        b'6' => "a FIFO",
        b'7' => "a contiguous file",
        b'x' | b'g' => "a PAX extended header (path and size overrides are refused)",
        b'L' | b'K' => "a GNU long-name header",
        b'S' => "a GNU sparse file",
        _ => "not a regular file",
    }
}

/// Check the next entry's header against what the signed index expects.
fn check_entry(
    entry: &tar::Entry<'_, impl Read>,
    expected: &str,
    size: u64,
    cap: Option<u64>,
) -> Result<()> {
    let raw = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw).into_owned();
    let hostile = |reason: String| Error::Hostile {
        what: format!("member `{name}`"),
        reason,
    };
    let t = entry.header().entry_type();
    if !t.is_file() {
        return Err(hostile(format!("it is {}", describe(t))));
    }
    if name.starts_with('/') {
        return Err(hostile("absolute member name".into()));
    }
    if name.split('/').any(|s| s == "..") {
        return Err(hostile("path traversal in member name".into()));
    }
    if name != expected {
        return Err(hostile(format!(
            "unlisted, duplicate or out-of-order member (the signed index expects `{expected}` here)"
        )));
    }
    let declared = entry
        .header()
        .entry_size()
        .map_err(|e| hostile(format!("bad size field: {e}")))?;
    if let Some(c) = cap
        && declared > c
    {
        return Err(hostile(format!(
            "declares {declared} bytes, more than the {c}-byte cap"
        )));
    }
    if declared != size && cap.is_none() {
        return Err(hostile(format!(
            "declares {declared} bytes, the signed index says {size}"
        )));
    }
    Ok(())
}

fn next_entry<'a>(
    entries: &mut Entries<'a>,
    expected: &str,
) -> Result<tar::Entry<'a, std::io::BufReader<VolumeReader>>> {
    match entries.next() {
        None => Err(Error::Hostile {
            what: format!("member `{expected}`"),
            reason: "the bundle ends before it (truncated, or a volume is missing)".into(),
        }),
        Some(r) => r.map_err(|e| tar_error(expected, e)),
    }
}

/// Read a small member fully, refusing more than `cap` bytes.
fn read_capped(entries: &mut Entries<'_>, name: &str, cap: u64) -> Result<Vec<u8>> {
    let entry = next_entry(entries, name)?;
    check_entry(&entry, name, 0, Some(cap))?;
    read_exact_member(entry, name, None)
}

fn read_exact_member(mut entry: impl Read, name: &str, size: Option<u64>) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    entry
        .read_to_end(&mut buf)
        .map_err(|e| tar_error(name, e))?;
    if let Some(s) = size
        && buf.len() as u64 != s
    {
        return Err(Error::Hostile {
            what: format!("member `{name}`"),
            reason: format!("truncated: {} of {s} bytes", buf.len()),
        });
    }
    Ok(buf)
}

struct Approved {
    statement: Statement,
    bytes: Vec<u8>,
    approvals: Vec<ApprovalRecord>,
}

/// The first two members, read before anything is trusted.
struct Head {
    index: Vec<u8>,
    signature: IndexSignature,
}

/// What step 5 left in the store (staged, not yet recorded).
struct Staged<'s> {
    approved: HashMap<usize, Approved>,
    carried: HashSet<Sha256Digest>,
    guard: BlobGuard<'s>,
}

/// Import a bundle file (or the first volume of a set).
pub fn import_bundle(
    reg: &mut Registry,
    path: &Path,
    allow_unsafe: Option<&Allowance>,
    progress: &dyn ProgressFactory,
) -> Result<BundleOutcome> {
    let _lock = reg.lock()?;
    reg.store.clear_temps()?;
    let reader = VolumeReader::open(path)?;
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(CHUNK, reader));
    let mut entries = archive
        .entries()
        .map_err(|e| tar_error(INDEX_NAME, e))?
        .raw(true);

    let head = read_head(&mut entries, path)?;
    let exporter = verify_exporter(reg, path, &head)?;
    let idx = CheckedIndex::parse(&head.index)?;
    let index_sha = Sha256Digest::of(&head.index);
    if let Some(done) = replay(reg, path, &idx, &index_sha, &exporter)? {
        return Ok(done);
    }
    check_freshness(reg, path, &idx)?;
    let staged = read_members(reg, &mut entries, &idx, progress)?;
    ensure_nothing_follows(&mut entries)?;
    let volumes = archive.into_inner().into_inner().volumes;
    let mut outcome = outcome_of(&idx, &exporter, false);
    outcome.volumes = volumes;
    commit(
        reg,
        &idx,
        &index_sha,
        &exporter,
        staged,
        allow_unsafe,
        outcome,
    )
}

/// 1. `index.json` and `index.sig`, capped: the first two members, regular
///    files, nothing else. A file whose first member is not a tar header is
///    not a bundle at all.
fn read_head(entries: &mut Entries<'_>, path: &Path) -> Result<Head> {
    let first = match entries.next() {
        None => {
            return Err(Error::NotABundle {
                path: path.to_path_buf(),
                reason: "it is empty".into(),
            });
        }
        Some(Err(e)) => {
            return Err(Error::NotABundle {
                path: path.to_path_buf(),
                reason: format!(
                    "it does not start with an `{INDEX_NAME}` tar member ({})",
                    printable(&e.to_string())
                ),
            });
        }
        Some(Ok(entry)) => entry,
    };
    check_entry(&first, INDEX_NAME, 0, Some(INDEX_CAP))?;
    let index = read_exact_member(first, INDEX_NAME, None)?;
    let sig_bytes = read_capped(entries, SIG_NAME, SIG_CAP)?;
    let signature = serde_json::from_slice(&sig_bytes).map_err(|e| Error::Hostile {
        what: SIG_NAME.into(),
        reason: format!("not an index signature: {e}"),
    })?;
    Ok(Head { index, signature })
}

/// 2. The index signature must verify (strict) under a trusted, unrevoked
///    exporter key; each trusted key is tried once, whatever the input
///    claims about key ids.
fn verify_exporter(reg: &Registry, path: &Path, head: &Head) -> Result<TrustedKey> {
    let sigs: Vec<Vec<u8>> = Envelope {
        payload: String::new(),
        payload_type: head.signature.payload_type.clone(),
        signatures: head.signature.signatures.clone(),
    }
    .signatures();
    let exporters = crate::trust::exporter_keys(reg)?;
    if let Some((k, _)) = signers(INDEX_PAYLOAD_TYPE, &head.index, &sigs, &exporters, |k| {
        &k.public_key
    })
    .first()
    {
        return Ok((*k).clone());
    }
    let revoked: Vec<TrustedKey> = reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| k.revoked)
        .collect();
    let reason = match signers(INDEX_PAYLOAD_TYPE, &head.index, &sigs, &revoked, |k| {
        &k.public_key
    })
    .first()
    {
        Some((k, _)) => format!(
            "the index is signed by key {} (`{}`), which was revoked",
            k.key_id, k.name
        ),
        None => {
            let claimed = claimed_ids(&head.signature);
            format!(
                "the index is not signed by any trusted exporter key (it claims key id {})",
                if claimed.is_empty() {
                    "none".into()
                } else {
                    claimed
                }
            )
        }
    };
    Err(Error::UnknownSigner {
        what: path.display().to_string(),
        reason,
    })
}

/// The outcome's bundle fields, before any member is read.
fn outcome_of(idx: &CheckedIndex, exporter: &TrustedKey, already: bool) -> BundleOutcome {
    let raw = &idx.raw;
    BundleOutcome {
        bundle_id: raw.bundle_id.clone(),
        origin: raw.origin.clone(),
        sequence: raw.sequence,
        created: raw.created.clone(),
        expires: raw.expires.clone(),
        exporter_key_id: exporter.key_id.to_hex(),
        exporter: exporter.name.clone(),
        already_imported: already,
        versions: Vec::new(),
        blobs: 0,
        bytes: 0,
        new_blobs: 0,
        volumes: 1,
        warnings: Vec::new(),
    }
}

/// 4a. The same bundle again is an idempotent success; its id with another
///     index is refused.
fn replay(
    reg: &Registry,
    path: &Path,
    idx: &CheckedIndex,
    index_sha: &Sha256Digest,
    exporter: &TrustedKey,
) -> Result<Option<BundleOutcome>> {
    let Some(b) = reg.db.bundle(&idx.raw.bundle_id)? else {
        return Ok(None);
    };
    if b.index_sha256 != index_sha.to_hex() {
        return Err(Error::Untrusted {
            what: path.display().to_string(),
            reason: format!(
                "bundle id {} was already accepted with a different index",
                idx.raw.bundle_id
            ),
        });
    }
    let mut o = outcome_of(idx, exporter, true);
    for v in &idx.versions {
        o.versions.push(ImportedVersion {
            name: v.name.to_string(),
            version: v.label.to_string(),
            manifest_digest: v.manifest_digest.to_hex(),
            approvals: 0,
            created: false,
        });
    }
    Ok(Some(o))
}

/// 4b. Rollback and expiry: a sequence not above the highest accepted from
///     the origin is a rollback; expiry is judged against the local clock and
///     against the newest `created` already accepted from the origin.
fn check_freshness(reg: &Registry, path: &Path, idx: &CheckedIndex) -> Result<()> {
    let raw = &idx.raw;
    if let Some((highest, newest)) = reg.db.origin_state(&raw.origin)? {
        if raw.sequence <= highest {
            return Err(Error::Untrusted {
                what: path.display().to_string(),
                reason: format!(
                    "rollback: sequence {} from `{}` is not above {highest}, the highest already accepted",
                    raw.sequence, raw.origin
                ),
            });
        }
        let newest_t = super::parse_time(&newest, "accepted bundle")?;
        if idx.expires <= newest_t {
            return Err(Error::Untrusted {
                what: path.display().to_string(),
                reason: format!(
                    "expired: it expired at {}, before {newest}, the newest bundle already accepted from `{}` was created",
                    raw.expires, raw.origin
                ),
            });
        }
    }
    if time::OffsetDateTime::now_utc() >= idx.expires {
        return Err(Error::Untrusted {
            what: path.display().to_string(),
            reason: format!("expired at {} (local clock {})", raw.expires, now_rfc3339()),
        });
    }
    Ok(())
}

/// 5. Members, in the order the index lists them. Each must be a regular
///    file with exactly the listed name and size; statements are checked
///    (digest, structure, agreement with the index, approvals ≥ policy);
///    blobs are streamed into store temp files while hashed and only then
///    renamed into the store.
fn read_members<'s>(
    reg: &'s Registry,
    entries: &mut Entries<'_>,
    idx: &CheckedIndex,
    progress: &dyn ProgressFactory,
) -> Result<Staged<'s>> {
    let required = crate::trust::approvals_required(reg)? as usize;
    let approvers = crate::trust::approver_keys(reg)?;
    let mut staged = Staged {
        approved: HashMap::new(),
        carried: HashSet::new(),
        guard: BlobGuard::new(&reg.store),
    };
    let total: u64 = idx
        .members
        .iter()
        .filter(|m| matches!(m.kind, MemberKind::Blob(_)))
        .map(|m| m.size)
        .sum();
    let bar = progress.start("import", total);
    let known = reg.db.blob_stats()?;
    let replace_if = |d: &Sha256Digest, st: &BlobStat| known.get(d) != Some(st);
    for (k, m) in idx.members.iter().enumerate() {
        let entry = next_entry(entries, &m.name)?;
        check_entry(&entry, &m.name, m.size, None)?;
        match m.kind {
            MemberKind::Statement(_) => {
                let bytes =
                    read_exact_member(entry.take(STATEMENT_CAP + 1), &m.name, Some(m.size))?;
                let found = Sha256Digest::of(&bytes);
                if found != m.sha256 {
                    return Err(Error::DigestMismatch {
                        what: m.name.clone(),
                        expected: m.sha256.to_hex(),
                        found: found.to_hex(),
                    });
                }
                let a = check_statement(idx, k, m, &bytes, &approvers, required)?;
                staged.approved.insert(k, a);
            }
            MemberKind::Blob(d) => {
                let what = format!("member `{}`", m.name);
                let expected_size = m.size;
                let check = |found: &Sha256Digest, _: Option<&str>, size: u64| {
                    if size != expected_size {
                        return Err(Error::Hostile {
                            what: what.clone(),
                            reason: format!("truncated: {size} of {expected_size} bytes"),
                        });
                    }
                    if *found != d {
                        return Err(Error::DigestMismatch {
                            what: m.name.clone(),
                            expected: d.to_hex(),
                            found: found.to_hex(),
                        });
                    }
                    Ok(())
                };
                let spec = IngestSpec {
                    size_hint: m.size,
                    want_git_sha1: false,
                    what: &what,
                    check: &check,
                    replace_if: &replace_if,
                };
                let mut entry = entry;
                let ing = reg.store.ingest(&mut entry, &spec, &*bar)?;
                if ing.created {
                    staged.guard.created.push(d);
                }
                staged.carried.insert(d);
            }
        }
    }
    bar.finish();
    Ok(staged)
}

/// 6. Nothing may follow the last listed member.
fn ensure_nothing_follows(entries: &mut Entries<'_>) -> Result<()> {
    let Some(extra) = entries.next() else {
        return Ok(());
    };
    let name = extra
        .map(|e| String::from_utf8_lossy(&e.path_bytes()).into_owned())
        .unwrap_or_else(|_| "(unreadable header)".into());
    Err(Error::Hostile {
        what: format!("member `{name}`"),
        reason: "not listed in the signed index".into(),
    })
}

/// 7a. One new version's record, from its approved statement: every file
///     and the licence text carried, the model-file safety policy applied to
///     the staged blobs.
fn new_version(
    reg: &Registry,
    idx: &CheckedIndex,
    v: &super::CheckedVersion,
    a: Approved,
    carried: &HashSet<Sha256Digest>,
    allow_unsafe: Option<&Allowance>,
    warnings: &mut Vec<String>,
) -> Result<NewVersion> {
    let subject = format!("{}@{}", v.name, v.label);
    let p = &a.statement.predicate;
    let mut files = a.statement.file_records()?;
    for f in &files {
        if !carried.contains(&f.sha256) {
            return Err(Error::Hostile {
                what: subject,
                reason: format!(
                    "file `{}` (sha256 {}) is not carried by the bundle",
                    f.path, f.sha256
                ),
            });
        }
    }
    let decision =
        crate::safety::check_stored(&reg.store, &mut files, allow_unsafe, Some(&subject))?;
    warnings.extend(decision.warnings.iter().map(|w| format!("{subject}: {w}")));
    let allowance = allow_unsafe
        .filter(|_| !decision.allowed_unsafe.is_empty())
        .map(|a| (a.clone(), decision.allowed_unsafe.clone()));
    let license_sha256 = a.statement.license_digest()?;
    if let Some(l) = license_sha256
        && !carried.contains(&l)
    {
        return Err(Error::Hostile {
            what: subject,
            reason: format!("licence text {l} is not carried by the bundle"),
        });
    }
    Ok(NewVersion {
        name: v.name.clone(),
        label: v.label.to_string(),
        manifest_digest: v.manifest_digest,
        imported_at: now_rfc3339(),
        imported_by: actor(),
        registry: reg.name().to_string(),
        origin: Origin::Bundle,
        layout: "bundle".into(),
        source_url: p.source.url.clone(),
        revision: p.source.revision.clone(),
        license_id: p.license.id.clone(),
        license_sha256,
        disclosure: p
            .data_disclosure
            .status
            .parse::<Disclosure>()
            .map_err(|e| Error::Hostile {
                what: v.name.to_string(),
                reason: e.to_string(),
            })?,
        disclosure_notes: p.data_disclosure.notes.clone(),
        owner: p.owner.clone(),
        files,
        statement: a.bytes,
        bundle_id: Some(idx.raw.bundle_id.clone()),
        approvals: a.approvals,
        allowance,
    })
}

/// 7b. One transaction records every new version, its approvals, the blobs
///     and the bundle; until it commits nothing is visible, and any failure
///     removes the blobs this run created (the guard).
fn commit(
    reg: &Registry,
    idx: &CheckedIndex,
    index_sha: &Sha256Digest,
    exporter: &TrustedKey,
    staged: Staged<'_>,
    allow_unsafe: Option<&Allowance>,
    mut outcome: BundleOutcome,
) -> Result<BundleOutcome> {
    let Staged {
        mut approved,
        carried,
        mut guard,
    } = staged;
    let raw = &idx.raw;
    let mut news = Vec::new();
    for v in &idx.versions {
        let a = approved
            .remove(&v.statement_member)
            .expect("every statement member was read");
        let existing = reg
            .db
            .find_version(&v.name, &VersionSelector::Label(v.label.clone()))?;
        if let Some(e) = &existing
            && e.manifest_digest != v.manifest_digest
        {
            return Err(Error::VersionConflict {
                name: v.name.to_string(),
                label: v.label.to_string(),
                existing: e.manifest_digest,
                new: v.manifest_digest,
                integrity: true,
            });
        }
        outcome.versions.push(ImportedVersion {
            name: v.name.to_string(),
            version: v.label.to_string(),
            manifest_digest: v.manifest_digest.to_hex(),
            approvals: a.approvals.len(),
            created: existing.is_none(),
        });
        if existing.is_none() {
            news.push(new_version(
                reg,
                idx,
                v,
                a,
                &carried,
                allow_unsafe,
                &mut outcome.warnings,
            )?);
        }
    }
    let mut rows = Vec::new();
    for m in &idx.members {
        if let MemberKind::Blob(d) = m.kind {
            let stat = reg
                .store
                .stat(&d)?
                .ok_or_else(|| Error::not_found("blob", d.to_hex()))?;
            rows.push(BlobRow {
                sha256: d,
                size: m.size,
                stat,
            });
            outcome.blobs += 1;
            outcome.bytes += m.size;
        }
    }
    outcome.new_blobs = guard.created.len();
    let mut events: Vec<EventDraft> = news
        .iter()
        .map(|n| {
            EventDraft::new(
                EventKind::ImportBundle,
                format!("{}@{}", n.name, n.label),
                serde_json::json!({
                    "manifest_digest": n.manifest_digest.to_hex(),
                    "bundle_id": raw.bundle_id,
                    "origin": raw.origin,
                    "sequence": raw.sequence,
                    "approvals": n.approvals.iter().map(|a| a.key_id.to_hex()).collect::<Vec<_>>(),
                    "unsafe_allowed": n.allowance.as_ref().map(|(a, files)| serde_json::json!({"reason": a.reason, "files": files})),
                }),
            )
        })
        .collect();
    events.push(EventDraft::new(
        EventKind::AcceptBundle,
        raw.bundle_id.clone(),
        serde_json::json!({
            "origin": raw.origin,
            "sequence": raw.sequence,
            "created": raw.created,
            "exporter": exporter.key_id.to_hex(),
            "index_sha256": index_sha.to_hex(),
            "versions": outcome.versions.iter().map(|v| format!("{}@{}", v.name, v.version)).collect::<Vec<_>>(),
        }),
    ));
    let now = now_rfc3339();
    let accepted = AcceptedBundle {
        bundle_id: raw.bundle_id.clone(),
        origin: raw.origin.clone(),
        sequence: raw.sequence,
        created: raw.created.clone(),
        expires: raw.expires.clone(),
        index_sha256: index_sha.to_hex(),
        exporter: exporter.key_id,
        imported_at: now.clone(),
        imported_by: actor(),
    };
    reg.db
        .insert_versions(&news, &rows, &now, Some(&accepted), &events)?;
    guard.keep = true;
    Ok(outcome)
}

/// Step 5 for one statement: digest already checked; structure, agreement
/// with the index, and approvals by distinct trusted approver keys.
fn check_statement(
    idx: &CheckedIndex,
    member: usize,
    m: &CheckedMember,
    bytes: &[u8],
    approvers: &[crate::records::TrustedKey],
    required: usize,
) -> Result<Approved> {
    let what = format!("member `{}`", m.name);
    let env: Envelope = serde_json::from_slice(bytes).map_err(|e| Error::Hostile {
        what: what.clone(),
        reason: format!("not a DSSE envelope: {e}"),
    })?;
    if env.payload_type != PAYLOAD_TYPE {
        return Err(Error::Hostile {
            what,
            reason: format!(
                "payload type `{}`, expected `{PAYLOAD_TYPE}`",
                env.payload_type
            ),
        });
    }
    let payload = env.payload_bytes(&what)?;
    let statement = Statement::parse(&payload, &what)?;
    let (vi, v) = idx
        .versions
        .iter()
        .enumerate()
        .find(|(_, v)| v.statement_member == member)
        .ok_or_else(|| Error::Hostile {
            what: what.clone(),
            reason: "no version in the index names this statement".into(),
        })?;
    let p = &statement.predicate;
    if p.name != v.name.as_str()
        || p.version != v.label.as_str()
        || p.manifest_digest != v.manifest_digest.to_hex()
    {
        return Err(Error::Hostile {
            what,
            reason: format!(
                "the statement is for {}@{} ({}), the index says {}@{} ({})",
                p.name, p.version, p.manifest_digest, v.name, v.label, v.manifest_digest
            ),
        });
    }
    let sigs = env.signatures();
    let meta = &idx.raw.versions[vi].approvals;
    let approvals: Vec<ApprovalRecord> =
        signers(PAYLOAD_TYPE, &payload, &sigs, approvers, |k| &k.public_key)
            .into_iter()
            .map(|(k, s)| ApprovalRecord {
                key_id: k.key_id,
                public_key: k.public_key,
                name: k.name.clone(),
                signature: s.to_vec(),
                signed_at: meta
                    .iter()
                    .find(|a| a.key_id == k.key_id.to_hex())
                    .map(|a| a.signed_at.clone())
                    .unwrap_or_else(|| idx.raw.created.clone()),
            })
            .collect();
    if approvals.len() < required {
        return Err(Error::NotApproved {
            what: format!("{}@{}", v.name, v.label),
            reason: format!(
                "{} valid approval(s) by distinct trusted approver keys, the policy requires {required} ({} signature(s) in the statement)",
                approvals.len(),
                sigs.len()
            ),
        });
    }
    Ok(Approved {
        statement,
        bytes: payload,
        approvals,
    })
}
