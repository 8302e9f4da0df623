//! `import FILE.airlock`: the isolated side's intake, as numbered steps that
//! fail closed, at least as strict as a TUF client (specification §5) with
//! the air gap standing in for the mirror. Nothing is visible until every
//! step passed.
//!
//! 1. [`read_head`]: the trust root versions carried first (`roots/`),
//!    then `index.json` and `index.sig`, each capped.
//! 2. [`chain::apply_carried`]: root versions above this registry's are
//!    checked against the chain (threshold of old and new root keys, +1
//!    each) and persisted before anything is judged under them.
//! 3. [`judge_time`]: "now" is the latest of the clock (or `--now`) and the
//!    registry's time mark; an expired trust root stops here (freeze).
//! 4. [`verify_exporter`]: the index signature, against trusted exporter
//!    keys only, each at most once, and never more signatures than keys.
//! 5. The index is validated into a checked type; the roots it lists must
//!    be the roots carried (mix-and-match), and the signing keys must speak
//!    for its origin, as many as the exporter threshold asks.
//! 6. [`replay`]: the same bundle again is a success that changes nothing;
//!    another bundle under an id already accepted is refused.
//! 7. [`check_freshness`]: not created in the future, not expired, a
//!    sequence above the floor that still-trusted keys set (a gap is a
//!    warning: bundles may have been withheld).
//! 8. [`read_members`]: statements (digest, structure, agreement with the
//!    index, approvals ≥ policy, counted per distinct key), revocations,
//!    then blobs — each blob must belong to a version of the bundle — staged
//!    while hashed, outside the store.
//! 9. Nothing may follow the last listed member.
//! 10. [`judge_versions`]: immutability, downgrades (by the signed order),
//!     every file carried, the model-file safety policy on the staged bytes.
//! 11. [`commit`]: the staged blobs move into the store and one transaction
//!     records versions, approvals, blobs, revocations, the bundle and the
//!     events; if it fails the new blobs go again.
//!
//! A volume of a set goes through the same steps. After step 9 the parts
//! of split blobs it completes are joined ([`join_split`]); if blobs are
//! still to come from other volumes, [`receive_volume`] keeps what it proved
//! and records its arrival instead of steps 10–11; the volume after which
//! nothing is missing records the versions. [`import_bundle`] then reads
//! the set's other volumes lying beside it, each on its own.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;
use time::OffsetDateTime;

use super::members::{
    Entries, check_entry, next_entry, printable, read_capped, read_exact_member, tar_error,
};
use super::{
    CheckedIndex, CheckedMember, INDEX_CAP, INDEX_NAME, INDEX_PAYLOAD_TYPE, IndexSignature,
    MAX_MEMBERS, MAX_ROOTS, MEMBER_LIST_BYTES_EACH, MEMBER_LIST_NAME, MemberKind, SIG_CAP,
    SIG_NAME, STATEMENT_CAP, claimed_ids,
};
use crate::actor::actor;
use crate::clock::now_rfc3339;
use crate::db::{AcceptedBundle, BlobRow};
use crate::digest::{CHUNK, Sha256Digest};
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::name::{VersionLabel, VersionSelector};
use crate::progress::ProgressFactory;
use crate::records::{Allowance, ApprovalRecord, Disclosure, NewVersion, Origin, TrustedKey};
use crate::registry::Registry;
use crate::signing::{signers, signers_of};
use crate::statement::{Envelope, PAYLOAD_TYPE, Statement};
use crate::store::{BlobStat, IngestSpec, Staging};
use crate::trust::floors::{self, MAX_CLOCK_SKEW, Now};
use crate::trust::revocation::{self, Revocation};
use crate::trust::{chain, root};

/// How to import a bundle.
#[derive(Debug, Clone, Default)]
pub struct BundleOptions {
    /// `--allow-unsafe --reason`: let unsafe files in, recorded.
    pub allow_unsafe: Option<Allowance>,
    /// `--allow-downgrade --reason`: accept versions older than the newest
    /// of their model here, logged with the reason.
    pub allow_downgrade: Option<String>,
    /// `--now TIME`: judge expiry against this time instead of the clock (a
    /// lab without a clock); logged.
    pub now: Option<OffsetDateTime>,
}

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
    /// Files read (the bundle, or each volume of a set read by this import).
    pub volumes: usize,
    /// For a set of volumes: the set's count, and the numbers of the
    /// volumes read now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub volume_count: Option<u32>,
    /// The volumes read by this import.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_read: Vec<u32>,
    /// False while a set of volumes waits for more: nothing of it is
    /// visible yet, and what arrived is kept.
    pub complete: bool,
    /// The volumes of the set still to come (by number).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_volumes: Vec<u32>,
    /// Trust root versions the bundle carried that were applied.
    pub roots_applied: Vec<u64>,
    /// Version revocations the bundle carried.
    pub revocations: usize,
    /// Evaluation records the bundle carried.
    pub evaluations: usize,
    /// Aliases the bundle carried that point here now.
    pub aliases: usize,
    /// Things to look at: safety warnings, a gap in the origin's sequence,
    /// a clock behind the registry's time mark, revocations not yet in force.
    pub warnings: Vec<String>,
}

/// A statement whose approvals met the policy.
pub(crate) struct Approved {
    /// The parsed statement (its subject and file lists left empty: the
    /// files are `files`).
    pub(crate) statement: Statement,
    /// Its files, as records.
    pub(crate) files: Vec<crate::records::FileRecord>,
    /// Its exact bytes (the DSSE payload).
    pub(crate) bytes: crate::records::StatementBytes,
    /// The approvals that counted.
    pub(crate) approvals: Vec<ApprovalRecord>,
}

/// What comes before the members.
struct Head {
    roots: Vec<(String, Vec<u8>)>,
    index: Vec<u8>,
    signature: IndexSignature,
}

/// What step 8 read: statements and revocations in memory, blobs staged.
struct Staged<'s> {
    approved: HashMap<usize, Approved>,
    revocations: Vec<Revocation>,
    staging: Staging<'s>,
    /// The checked piece list of each blob whose statement signs one.
    pieces: HashMap<Sha256Digest, crate::digest::Pieces>,
    /// Evaluation records carried: `(name, label, record)`.
    evals: Vec<(String, String, crate::db::EvalRow)>,
    /// The exporting registry's aliases of the versions carried.
    aliases: Vec<crate::alias::CarriedAlias>,
    /// The blobs the statements need that this file did not carry whole
    /// (a delta's relied-on blobs, another volume's), with the piece lists
    /// signed for them.
    rest: Needed,
    /// Parts of split blobs this volume carried: `(sha256, size)`.
    parts: Vec<(Sha256Digest, u64)>,
    /// Split blobs joined from their parts by this volume: `(sha256, size)`.
    joined: Vec<(Sha256Digest, u64)>,
}

/// Import a bundle file, or a volume of a set and the other volumes of
/// its set lying beside it (`OUT.NNN`), each verified on its own.
pub fn import_bundle(
    reg: &mut Registry,
    path: &Path,
    opts: &BundleOptions,
    progress: &dyn ProgressFactory,
) -> Result<BundleOutcome> {
    let _lock = reg.lock()?;
    reg.store.clear_temps()?;
    let mut outcome = import_file(reg, path, opts, progress, None)?;
    let (Some(count), Some((base, _))) = (outcome.volume_count, super::volumes::volume_base(path))
    else {
        return Ok(outcome);
    };
    // The rest of the set, by name beside it: a damaged or foreign volume
    // costs only itself; the others are still read, and the first failure
    // is reported. The volume just read is known by its signed number.
    let first = outcome.volumes_read.first().copied();
    let mut failed: Option<Error> = None;
    for n in (1..=count).filter(|n| Some(*n) != first) {
        let p = super::volumes::volume_path(&base, n as usize);
        if p == path || std::fs::symlink_metadata(&p).is_err() {
            continue;
        }
        match import_file(reg, &p, opts, progress, Some((&outcome.bundle_id, n))) {
            Ok(o) => merge(&mut outcome, o),
            Err(e) => {
                failed.get_or_insert(in_volume(e, n, &p));
            }
        }
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(outcome),
    }
}

/// Fold the outcome of a later volume of the same set into `o`.
fn merge(o: &mut BundleOutcome, later: BundleOutcome) {
    o.volumes += later.volumes;
    o.volumes_read.extend(later.volumes_read);
    o.new_blobs += later.new_blobs;
    o.blobs += later.blobs;
    o.bytes += later.bytes;
    o.warnings.extend(later.warnings);
    o.complete = later.complete;
    o.missing_volumes = later.missing_volumes;
    o.already_imported &= later.already_imported;
    if !later.versions.is_empty() {
        o.versions = later.versions;
        o.revocations = later.revocations;
        o.evaluations = later.evaluations;
        o.aliases = later.aliases;
    }
}

/// A failure in volume `n` of a set, said so (the volumes before it were
/// verified and kept).
fn in_volume(e: Error, n: u32, path: &Path) -> Error {
    let shown = path.display().to_string();
    let at = |what: String| {
        if what == shown {
            format!("volume {n} (`{shown}`)")
        } else {
            format!("volume {n} (`{shown}`): {what}")
        }
    };
    let hint = format!(
        "; the set's other volumes were read and what they proved is kept — `airlock export … --volume-size SIZE --volumes {n}` on the exporting side writes this volume again"
    );
    match e {
        Error::Hostile { what, reason } => Error::Hostile {
            what: at(what),
            reason: format!("{reason}{hint}"),
        },
        Error::Untrusted { what, reason } => Error::Untrusted {
            what: at(what),
            reason: format!("{reason}{hint}"),
        },
        Error::DigestMismatch {
            what,
            expected,
            found,
        } => Error::DigestMismatch {
            what: format!("{}{hint}", at(what)),
            expected,
            found,
        },
        other => other,
    }
}

/// One file: a whole bundle, or one volume of a set (`expect`: the set
/// and number it must be, when it was found beside another volume).
fn import_file(
    reg: &Registry,
    path: &Path,
    opts: &BundleOptions,
    progress: &dyn ProgressFactory,
    expect: Option<(&str, u32)>,
) -> Result<BundleOutcome> {
    let file = crate::fsio::open_regular(path).map_err(|e| match e {
        // A volume found beside another that is a link, FIFO or device
        // was put there: hostile, not a mistake in the command.
        Error::Unsafe { path, reason } if expect.is_some() => Error::Hostile {
            what: path.display().to_string(),
            reason,
        },
        other => other,
    })?;
    let mut archive = tar::Archive::new(std::io::BufReader::with_capacity(CHUNK, file));
    let mut entries = archive
        .entries()
        .map_err(|e| tar_error(INDEX_NAME, e))?
        .raw(true);

    let head = read_head(&mut entries, path)?;
    let roots_applied = chain::apply_carried(reg, &head.roots, path)?;
    let now = judge_time(reg, path, opts)?;
    let signed_by = verify_exporter(reg, path, &head)?;
    let idx = checked_index(&mut entries, &head.index)?;
    if let Some((set, n)) = expect
        && (idx.raw.bundle_id != set || idx.volume.map(|v| v.number) != Some(n))
    {
        return Err(Error::Hostile {
            what: path.display().to_string(),
            reason: format!(
                "it is {} of bundle {}, not volume {n} of bundle {set}: a volume of another export",
                idx.volume.map_or("not a volume".to_string(), |v| format!(
                    "volume {} of {}",
                    v.number, v.count
                )),
                idx.raw.bundle_id
            ),
        });
    }
    check_roots_listed(&idx, &head)?;
    let exporter = check_origin(reg, path, &idx, &signed_by)?;
    let index_sha = Sha256Digest::of(&head.index);
    if let Some(mut done) = replay(reg, path, &idx, &index_sha, &exporter)? {
        done.roots_applied = roots_applied;
        return Ok(done);
    }
    let mut outcome = outcome_of(&idx, &exporter, false);
    outcome.roots_applied = roots_applied;
    check_freshness(reg, path, &idx, &now, &mut outcome.warnings)?;
    check_relied(reg, &idx, progress)?;
    let mut staged = read_members(reg, &mut entries, &idx, progress)?;
    ensure_nothing_follows(&mut entries)?;
    let mut arrival = None;
    if let Some(v) = idx.volume {
        join_split(&idx, &mut staged, progress)?;
        let missing = still_missing(reg, &staged, progress)?;
        let a = crate::db::VolumeArrival {
            bundle_id: idx.raw.bundle_id.clone(),
            origin: idx.raw.origin.clone(),
            sequence: idx.raw.sequence,
            count: v.count,
            expires: idx.raw.expires.clone(),
            number: v.number,
            index_sha256: index_sha.to_hex(),
            imported_by: actor(),
        };
        if missing > 0 {
            return receive_volume(reg, &idx, staged, a, missing, outcome);
        }
        arrival = Some(a);
    }
    let judged = judge_versions(reg, &idx, &mut staged, opts, &mut outcome)?;
    commit(
        reg, &idx, &index_sha, &exporter, staged, judged, &now, opts, outcome, arrival,
    )
}

/// 1. The trust root versions carried first (`roots/<N>.root.json`, capped,
///    at most [`MAX_ROOTS`]), then `index.json` and `index.sig`, capped. A
///    file whose first member is not a tar header is not a bundle at all.
fn read_head(entries: &mut Entries<'_>, path: &Path) -> Result<Head> {
    let mut roots = Vec::new();
    let mut first = true;
    let index = loop {
        let entry = match entries.next() {
            None if first => {
                return Err(Error::NotABundle {
                    path: path.to_path_buf(),
                    reason: "it is empty".into(),
                });
            }
            None => {
                return Err(Error::Hostile {
                    what: format!("member `{INDEX_NAME}`"),
                    reason: "the bundle ends before it (truncated)".into(),
                });
            }
            Some(Err(e)) if first => {
                return Err(Error::NotABundle {
                    path: path.to_path_buf(),
                    reason: format!(
                        "it does not start with an `{INDEX_NAME}` tar member ({})",
                        printable(&e.to_string())
                    ),
                });
            }
            Some(Err(e)) => return Err(tar_error(INDEX_NAME, e)),
            Some(Ok(entry)) => entry,
        };
        first = false;
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if name.starts_with("roots/") && entry.header().entry_type().is_file() {
            if roots.len() >= MAX_ROOTS {
                return Err(Error::Hostile {
                    what: format!("member `{name}`"),
                    reason: format!("more than {MAX_ROOTS} trust root versions"),
                });
            }
            check_entry(&entry, &name, 0, Some(root::ROOT_CAP))?;
            let bytes = read_exact_member(entry, &name, None)?;
            roots.push((name, bytes));
            continue;
        }
        check_entry(&entry, INDEX_NAME, 0, Some(INDEX_CAP))?;
        break read_exact_member(entry, INDEX_NAME, None)?;
    };
    let sig_bytes = read_capped(entries, SIG_NAME, SIG_CAP)?;
    let signature = serde_json::from_slice(&sig_bytes).map_err(|e| Error::Hostile {
        what: SIG_NAME.into(),
        reason: format!("not an index signature: {e}"),
    })?;
    Ok(Head {
        roots,
        index,
        signature,
    })
}

/// 4b. The index, checked; a bundle of many members lists them in a member
///    of their own right after `index.sig`, whose size, digest and count the
///    (now verified) index signs — so its cap comes from signed data.
fn checked_index(entries: &mut Entries<'_>, index: &[u8]) -> Result<CheckedIndex> {
    let raw = CheckedIndex::raw(index)?;
    let Some(list) = raw.member_list.clone() else {
        return CheckedIndex::check(raw, None);
    };
    let hostile = |reason: String| Error::Hostile {
        what: MEMBER_LIST_NAME.into(),
        reason,
    };
    if !raw.members.is_empty() {
        return Err(hostile(
            "the index lists members inline and in a list".into(),
        ));
    }
    if list.count > MAX_MEMBERS {
        return Err(hostile(format!("more than {MAX_MEMBERS} members")));
    }
    let cap = 4096 + list.count * MEMBER_LIST_BYTES_EACH;
    if list.size > cap {
        return Err(hostile(format!(
            "{} bytes for {} members, more than the {cap}-byte cap",
            list.size, list.count
        )));
    }
    let entry = next_entry(entries, MEMBER_LIST_NAME)?;
    check_entry(&entry, MEMBER_LIST_NAME, 0, Some(list.size))?;
    // Each member is checked into its compact form as it is parsed: the
    // list's bytes and its members as strings are never held whole. Its
    // digest is known only at the end, so a malformed list is reported as
    // a digest mismatch when it is one (the more precise answer).
    let mut r = crate::digest::HashingReader::new(std::io::BufReader::with_capacity(
        1 << 16,
        entry.take(list.size),
    ));
    let parsed = read_member_list(&mut r, list.count, list.size);
    std::io::copy(&mut r, &mut std::io::sink()).map_err(|e| tar_error(MEMBER_LIST_NAME, e))?;
    let (found, read) = r.finish();
    if read != list.size || found.to_hex() != list.sha256 {
        return Err(hostile(
            "its size or sha256 differs from the signed index".into(),
        ));
    }
    let members = parsed?;
    if members.len() as u64 != list.count {
        return Err(hostile(format!(
            "{} members, the signed index says {}",
            members.len(),
            list.count
        )));
    }
    CheckedIndex::check(raw, Some(members))
}

/// Parse a member list (a JSON array of members), checking each into a
/// [`CheckedMember`] as it is read; more than `count` is refused at once.
fn read_member_list(r: &mut dyn Read, count: u64, size: u64) -> Result<Vec<CheckedMember>> {
    use serde::de::{Error as _, SeqAccess, Visitor};
    struct List<'a> {
        count: u64,
        size: u64,
        failed: &'a mut Option<Error>,
    }
    impl<'de> Visitor<'de> for List<'_> {
        type Value = Vec<CheckedMember>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list of members")
        }
        fn visit_seq<A: SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> std::result::Result<Self::Value, A::Error> {
            // Sized by what the signed size can hold, not by the count alone.
            let mut out = Vec::with_capacity(self.count.min(self.size / 64) as usize);
            while let Some(m) = seq.next_element::<super::IndexMember>()? {
                if out.len() as u64 >= self.count {
                    return Err(A::Error::custom(format!(
                        "more members than the {} the signed index says",
                        self.count
                    )));
                }
                match CheckedMember::check(out.len(), m) {
                    Ok(c) => out.push(c),
                    Err(e) => {
                        *self.failed = Some(e);
                        return Err(A::Error::custom("a member is not allowed"));
                    }
                }
            }
            Ok(out)
        }
    }
    let mut failed = None;
    let mut de = serde_json::Deserializer::from_reader(r);
    let parsed = serde::Deserializer::deserialize_seq(
        &mut de,
        List {
            count,
            size,
            failed: &mut failed,
        },
    )
    .and_then(|v| de.end().map(|()| v));
    match (parsed, failed) {
        (_, Some(e)) => Err(e),
        (Ok(v), None) => Ok(v),
        (Err(e), None) => Err(Error::Hostile {
            what: MEMBER_LIST_NAME.into(),
            reason: format!("not a member list: {e}"),
        }),
    }
}

/// 3. "Now": the latest of the clock (or `--now`) and the registry's mark.
///    A trust root past its expiry stops every import (TUF §5.3.10).
fn judge_time(reg: &Registry, path: &Path, opts: &BundleOptions) -> Result<Now> {
    let now = floors::now(reg, opts.now)?;
    if let Some(r) = chain::current(reg)?
        && root::expired(&r, now.now_time())
    {
        return Err(Error::Untrusted {
            what: path.display().to_string(),
            reason: format!(
                "this registry's trust root (version {}) expired at {} (now {}): a possible freeze; apply a newer root with `airlock trust update FILE`",
                r.version(),
                r.doc.expires,
                now.now
            ),
        });
    }
    Ok(now)
}

/// 4. The index signature must verify (strict) under trusted, unrevoked
///    exporter keys. Each key is tried at most once (looked up by the id a
///    signature claims); an `index.sig` with more signatures than there are
///    trusted exporter keys is refused before any verification, so refusing
///    a hostile index costs about what refusing an honest one does.
fn verify_exporter(reg: &Registry, path: &Path, head: &Head) -> Result<Vec<TrustedKey>> {
    let exporters = crate::trust::exporter_keys(reg)?;
    let sigs = &head.signature.signatures;
    if sigs.len() > exporters.len().max(1) {
        return Err(Error::Hostile {
            what: SIG_NAME.into(),
            reason: format!(
                "{} signatures, where this registry trusts {} exporter key(s)",
                sigs.len(),
                exporters.len()
            ),
        });
    }
    let ok: Vec<TrustedKey> = signers(
        INDEX_PAYLOAD_TYPE,
        &head.index,
        sigs,
        &exporters,
        |k| k.key_id,
        |k| &k.public_key,
    )
    .into_iter()
    .map(|(k, _)| k.clone())
    .collect();
    if !ok.is_empty() {
        return Ok(ok);
    }
    let revoked: Vec<TrustedKey> = reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| k.revoked)
        .collect();
    let reason = match signers(
        INDEX_PAYLOAD_TYPE,
        &head.index,
        sigs,
        &revoked,
        |k| k.key_id,
        |k| &k.public_key,
    )
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

/// 5a. The roots the index lists are exactly the roots carried.
fn check_roots_listed(idx: &CheckedIndex, head: &Head) -> Result<()> {
    let listed = &idx.raw.roots;
    let same = listed.len() == head.roots.len()
        && listed.iter().zip(&head.roots).all(|(l, (name, bytes))| {
            l.name == *name
                && l.size == bytes.len() as u64
                && l.sha256 == Sha256Digest::of(bytes).to_hex()
        });
    if !same {
        return Err(Error::Hostile {
            what: INDEX_NAME.into(),
            reason: "the trust root versions carried are not the ones the signed index lists (mixed bundles)".into(),
        });
    }
    Ok(())
}

/// 5b. The signing keys must speak for the index's origin, and at least as
///     many of them as the exporter threshold asks. Returns the first.
fn check_origin(
    reg: &Registry,
    path: &Path,
    idx: &CheckedIndex,
    signed_by: &[TrustedKey],
) -> Result<TrustedKey> {
    let keys = reg.db.trusted_keys()?;
    let origin = &idx.raw.origin;
    let mut speaking = Vec::new();
    let mut refusals = Vec::new();
    for k in signed_by {
        match floors::may_speak_for(reg, &keys, k, origin)? {
            Ok(()) => speaking.push(k.clone()),
            Err(why) => refusals.push(why),
        }
    }
    let needed = chain::current(reg)?
        .filter(root::CheckedRoot::is_rooted)
        .map_or(1, |r| r.doc.roles.exporter.threshold.max(1)) as usize;
    if speaking.len() < needed {
        return Err(Error::UnknownSigner {
            what: path.display().to_string(),
            reason: if refusals.is_empty() {
                format!(
                    "{} exporter signature(s) for origin `{origin}`, the trust root requires {needed}",
                    speaking.len()
                )
            } else {
                format!(
                    "the exporter may not speak for origin `{origin}`: {}",
                    refusals.join("; ")
                )
            },
        });
    }
    Ok(speaking.swap_remove(0))
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
        volume_count: idx.volume.map(|v| v.count),
        volumes_read: idx.volume.map(|v| v.number).into_iter().collect(),
        complete: true,
        missing_volumes: Vec::new(),
        roots_applied: Vec::new(),
        revocations: 0,
        evaluations: 0,
        aliases: 0,
        warnings: Vec::new(),
    }
}

/// 6. The same bundle again is an idempotent success; another bundle that
///    claims an id already accepted is refused.
fn replay(
    reg: &Registry,
    path: &Path,
    idx: &CheckedIndex,
    index_sha: &Sha256Digest,
    exporter: &TrustedKey,
) -> Result<Option<BundleOutcome>> {
    if let Some(v) = idx.volume {
        return replay_volume(reg, path, idx, v, index_sha, exporter);
    }
    let Some(b) = reg.db.bundle(&idx.raw.bundle_id)? else {
        return Ok(None);
    };
    if b.index_sha256 != index_sha.to_hex() {
        return Err(Error::Untrusted {
            what: path.display().to_string(),
            reason: format!(
                "a different bundle claims id {}, which was accepted on {} with another index",
                idx.raw.bundle_id, b.imported_at
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

/// 6, for a volume: a volume accepted before (the same index) is a
/// success that changes nothing, as is any volume of a set already
/// complete; another index under an accepted volume's number, or a volume
/// claiming the id of a bundle accepted whole, is refused.
fn replay_volume(
    reg: &Registry,
    path: &Path,
    idx: &CheckedIndex,
    v: super::VolumeOf,
    index_sha: &Sha256Digest,
    exporter: &TrustedKey,
) -> Result<Option<BundleOutcome>> {
    let id = &idx.raw.bundle_id;
    let Some((complete, arrived)) = reg.db.volume_set(id)? else {
        if let Some(b) = reg.db.bundle(id)? {
            return Err(Error::Untrusted {
                what: path.display().to_string(),
                reason: format!(
                    "a volume claims id {id}, which a whole bundle was accepted under on {}",
                    b.imported_at
                ),
            });
        }
        return Ok(None);
    };
    let this = arrived.iter().find(|(n, _)| *n == v.number);
    if let Some((_, sha)) = this
        && *sha != index_sha.to_hex()
    {
        return Err(Error::Untrusted {
            what: path.display().to_string(),
            reason: format!(
                "another volume {} of bundle {id} was accepted before, with another index",
                v.number
            ),
        });
    }
    if this.is_none() && !complete {
        return Ok(None);
    }
    let mut o = outcome_of(idx, exporter, true);
    o.complete = complete;
    o.missing_volumes = missing_volumes(v.count, arrived.iter().map(|a| a.0));
    if complete {
        o.missing_volumes.clear();
        for cv in &idx.versions {
            o.versions.push(ImportedVersion {
                name: cv.name.to_string(),
                version: cv.label.to_string(),
                manifest_digest: cv.manifest_digest.to_hex(),
                approvals: 0,
                created: false,
            });
        }
    }
    Ok(Some(o))
}

/// The numbers in `1..=count` not among `arrived`.
fn missing_volumes(count: u32, arrived: impl Iterator<Item = u32>) -> Vec<u32> {
    let got: std::collections::HashSet<u32> = arrived.collect();
    (1..=count).filter(|n| !got.contains(n)).collect()
}

/// 7. Not from the future (beyond [`MAX_CLOCK_SKEW`]), not expired, and a
///    sequence above the floor set by still-trusted exporter keys for the
///    origin (a rollback otherwise); a gap above the floor is reported.
fn check_freshness(
    reg: &Registry,
    path: &Path,
    idx: &CheckedIndex,
    now: &Now,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let raw = &idx.raw;
    let what = path.display().to_string();
    let now_t = now.now_time();
    if idx.created > now_t + MAX_CLOCK_SKEW {
        return Err(Error::Untrusted {
            what,
            reason: format!(
                "created {} is in the future (now {}, allowed skew {} minutes): a fast-forward attempt or a wrong clock on the exporting side",
                raw.created,
                now.now,
                MAX_CLOCK_SKEW.whole_minutes()
            ),
        });
    }
    if idx.expires <= now_t {
        let by_mark = now
            .mark
            .as_deref()
            .and_then(crate::clock::parse_canonical)
            .is_some_and(|m| idx.expires <= m);
        return Err(Error::Untrusted {
            what,
            reason: if by_mark {
                format!(
                    "expired at {}, before {}, the newest time this registry has seen (the newest bundle already accepted, or the newest event); the clock says {}",
                    raw.expires,
                    now.mark.as_deref().unwrap_or("-"),
                    now.clock
                )
            } else {
                format!("expired at {} (now {})", raw.expires, now.now)
            },
        });
    }
    let keys = reg.db.trusted_keys()?;
    if let Some(floor) = floors::origin(reg, &keys, &raw.origin)? {
        if raw.sequence <= floor.sequence {
            return Err(Error::Untrusted {
                what,
                reason: format!(
                    "rollback: sequence {} from `{}` is not above {}, the highest accepted (set by key {})",
                    raw.sequence,
                    raw.origin,
                    floor.sequence,
                    floor.set_by.short()
                ),
            });
        }
        if raw.sequence > floor.sequence + 1 {
            warnings.push(format!(
                "sequence {} from `{}` follows {}: {} bundle(s) between them never arrived (withheld or lost)",
                raw.sequence,
                raw.origin,
                floor.sequence,
                raw.sequence - floor.sequence - 1
            ));
        }
    }
    Ok(())
}

/// 8. Members, in the order the index lists them. Each must be a regular
///    file with exactly the listed name and size. Statements and
///    revocations come before any blob; every blob must be a file or the
///    licence text of a version of the bundle (an exporter key alone cannot
///    slip anything else in). Blobs are staged while hashed, outside the
///    store.
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
        revocations: Vec::new(),
        staging: Staging::new(&reg.store)?,
        pieces: HashMap::new(),
        evals: Vec::new(),
        aliases: Vec::new(),
        rest: Needed::default(),
        parts: Vec::new(),
        joined: Vec::new(),
    };
    let total: u64 = idx
        .members
        .iter()
        .filter(|m| matches!(m.kind, MemberKind::Blob(_) | MemberKind::Part))
        .map(|m| m.size)
        .sum();
    let known = reg.db.blob_stats()?;
    // Room for the blobs this registry does not hold yet, checked before
    // the first byte is staged.
    let new_bytes: u64 = idx
        .members
        .iter()
        .filter(|m| match m.kind {
            MemberKind::Blob(d) => !known.contains_key(&d),
            MemberKind::Part => true,
            _ => false,
        })
        .map(|m| m.size)
        .sum();
    crate::fsio::ensure_room(&reg.store.tmp_dir(), new_bytes, "this bundle's new blobs")?;
    let bar = progress.start("import", total);
    let replace_if = |d: &Sha256Digest, st: &BlobStat| known.get(d) != Some(st);
    let mut wanted: Option<Needed> = None;
    let mut pieces_of: HashMap<Sha256Digest, crate::digest::Pieces> = HashMap::new();
    for (k, m) in idx.members.iter().enumerate() {
        let name = m.name();
        let entry = next_entry(entries, &name)?;
        check_entry(&entry, &name, m.size, None)?;
        match m.kind {
            MemberKind::Statement(_)
            | MemberKind::Revocation
            | MemberKind::Eval
            | MemberKind::Aliases => {
                if wanted.is_some() {
                    return Err(Error::Hostile {
                        what: format!("member `{}`", name),
                        reason: "statements and revocations must come before the blobs".into(),
                    });
                }
                let bytes = read_exact_member(entry.take(STATEMENT_CAP + 1), &name, Some(m.size))?;
                let found = Sha256Digest::of(&bytes);
                if found != m.sha256 {
                    return Err(Error::DigestMismatch {
                        what: name.to_string(),
                        expected: m.sha256.to_hex(),
                        found: found.to_hex(),
                    });
                }
                if m.kind == MemberKind::Revocation {
                    let what = format!("member `{}`", name);
                    staged.revocations.push(revocation::parse(&bytes, &what)?);
                } else if m.kind == MemberKind::Aliases {
                    let list: Vec<crate::alias::CarriedAlias> = serde_json::from_slice(&bytes)
                        .map_err(|e| Error::Hostile {
                            what: format!("member `{}`", name),
                            reason: format!("not an alias list: {e}"),
                        })?;
                    staged.aliases = list;
                } else if m.kind == MemberKind::Eval {
                    let what = format!("member `{}`", name);
                    let (subject, digest, row) = crate::eval::carried(bytes, &what)?;
                    let v = idx
                        .versions
                        .iter()
                        .find(|v| format!("{}@{}", v.name, v.label) == subject && v.manifest_digest == digest)
                        .ok_or_else(|| Error::Hostile {
                            what: what.clone(),
                            reason: format!(
                                "an evaluation of {subject} (sha256:{digest}), which the bundle does not carry"
                            ),
                        })?;
                    staged
                        .evals
                        .push((v.name.to_string(), v.label.to_string(), row));
                } else {
                    let a = check_statement(
                        idx,
                        k,
                        m,
                        bytes,
                        &approvers,
                        required,
                        staged.staging.dir(),
                    )?;
                    staged.approved.insert(k, a);
                }
            }
            MemberKind::Blob(d) => {
                let wanted = match &mut wanted {
                    Some(w) => w,
                    None => wanted.insert(needed_blobs(&staged.approved)?),
                };
                if !wanted.blobs.remove(&d) {
                    return Err(Error::Hostile {
                        what: format!("member `{}`", name),
                        reason: "it is not a file or licence text of any version in the bundle (or it is listed twice)".into(),
                    });
                }
                let claimed = wanted.pieces.get(&d).cloned();
                let mut entry = entry;
                let got = stage(
                    &staged.staging,
                    &mut entry,
                    &name,
                    d,
                    m.size,
                    claimed.as_ref().map(|p| p.size),
                    &replace_if,
                    &*bar,
                )?;
                // The signed piece list must be the bytes' own (the same
                // pass computed them): it is what later verifications trust.
                if let Some(claim) = claimed {
                    if got.pieces.as_ref() != Some(&claim) {
                        let at = got
                            .pieces
                            .as_ref()
                            .and_then(|p| {
                                p.sha256.iter().zip(&claim.sha256).position(|(a, b)| a != b)
                            })
                            .map_or("the list".to_string(), |i| format!("piece {i}"));
                        return Err(Error::Hostile {
                            what: format!("member `{}`", name),
                            reason: format!(
                                "the statement's piece digests do not match its bytes ({at} differs)"
                            ),
                        });
                    }
                    pieces_of.insert(d, claim);
                }
            }
            MemberKind::Part => {
                let wanted = match &mut wanted {
                    Some(w) => w,
                    None => wanted.insert(needed_blobs(&staged.approved)?),
                };
                let blob = super::part_name(&name).map(|p| p.0);
                if !blob.is_some_and(|b| wanted.blobs.contains(&b)) {
                    return Err(Error::Hostile {
                        what: format!("member `{}`", name),
                        reason: "a part of a blob that no version of the bundle needs".into(),
                    });
                }
                let mut entry = entry;
                stage(
                    &staged.staging,
                    &mut entry,
                    &name,
                    m.sha256,
                    m.size,
                    None,
                    &replace_if,
                    &*bar,
                )?;
                staged.parts.push((m.sha256, m.size));
            }
        }
    }
    bar.finish();
    staged.pieces = pieces_of;
    let mut rest = match wanted {
        Some(w) => w,
        None => needed_blobs(&staged.approved)?,
    };
    // What is left is usually nothing (a whole bundle) or a volume's share:
    // the table sized for every blob of a large model is given back.
    rest.blobs.shrink_to_fit();
    rest.pieces.shrink_to_fit();
    staged.rest = rest;
    Ok(staged)
}

/// Stage the bytes of member `name` (or a joined split blob), which must
/// be `size` bytes with sha256 `want`; `piece`: also compute the piece
/// digests at that size. A short or unreadable stream is hostile.
#[allow(clippy::too_many_arguments)]
fn stage(
    staging: &Staging<'_>,
    src: &mut dyn Read,
    name: &str,
    want: Sha256Digest,
    size: u64,
    piece: Option<u64>,
    replace_if: &crate::store::ReplaceFn<'_>,
    bar: &dyn crate::progress::Progress,
) -> Result<crate::store::Ingested> {
    let what = format!("member `{name}`");
    let check = |found: &Sha256Digest, _: Option<&str>, got: u64| {
        if got != size {
            return Err(Error::Hostile {
                what: what.clone(),
                reason: format!("truncated: {got} of {size} bytes"),
            });
        }
        if *found != want {
            return Err(Error::DigestMismatch {
                what: name.to_string(),
                expected: want.to_hex(),
                found: found.to_hex(),
            });
        }
        Ok(())
    };
    let spec = IngestSpec {
        size_hint: size,
        want_git_sha1: false,
        what: &what,
        check: &check,
        replace_if,
        piece,
    };
    staging.ingest(src, &spec, bar).map_err(|e| match e {
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::InvalidData => {
            Error::Hostile {
                what: what.clone(),
                reason: source.to_string(),
            }
        }
        other => other,
    })
}

/// For a volume: each split blob the statements need whose parts are all
/// here now (carried by this volume, or kept from earlier ones) is joined
/// from them, hashed whole against its signed sha256 (and piece list), and
/// staged as the blob.
fn join_split(
    idx: &CheckedIndex,
    staged: &mut Staged<'_>,
    progress: &dyn ProgressFactory,
) -> Result<()> {
    for s in &idx.split {
        if !staged.rest.blobs.contains(&s.sha256) || staged.staging.has(&s.sha256)? {
            continue;
        }
        let mut all = true;
        for (d, _) in &s.parts {
            all &= staged.staging.has(d)?;
        }
        if !all {
            continue;
        }
        let mut joined = PartsReader {
            parts: s
                .parts
                .iter()
                .rev()
                .map(|(d, size)| (staged.staging.path(d), *size))
                .collect(),
            current: None,
        };
        let claimed = staged.rest.pieces.get(&s.sha256).cloned();
        let bar = progress.start("join parts", s.size);
        let got = stage(
            &staged.staging,
            &mut joined,
            &format!("split blob {}", s.sha256),
            s.sha256,
            s.size,
            claimed.as_ref().map(|p| p.size),
            &|_, _| true,
            &*bar,
        )?;
        bar.finish();
        if let Some(claim) = claimed {
            if got.pieces.as_ref() != Some(&claim) {
                return Err(Error::Hostile {
                    what: format!("split blob {}", s.sha256),
                    reason: "the statement's piece digests do not match its joined bytes".into(),
                });
            }
            staged.pieces.insert(s.sha256, claim);
        }
        staged.rest.blobs.remove(&s.sha256);
        staged.joined.push((s.sha256, s.size));
    }
    Ok(())
}

/// The parts of a split blob read one after another (the next part last
/// in `parts`), each exactly its signed size.
struct PartsReader {
    parts: Vec<(PathBuf, u64)>,
    current: Option<std::io::Take<std::fs::File>>,
}

impl Read for PartsReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if let Some(f) = &mut self.current {
                let n = f.read(buf)?;
                if n > 0 || buf.is_empty() {
                    return Ok(n);
                }
            }
            let Some((path, size)) = self.parts.pop() else {
                return Ok(0);
            };
            let f = crate::fsio::open_regular(&path).map_err(std::io::Error::other)?;
            self.current = Some(f.take(size));
        }
    }
}

/// For a volume: how many of the blobs the statements need are neither
/// carried here nor held intact (kept from earlier volumes, or already
/// in the store — a blob whose stat still matches its record is trusted,
/// any other is hashed again).
fn still_missing(
    reg: &Registry,
    staged: &Staged<'_>,
    progress: &dyn ProgressFactory,
) -> Result<usize> {
    let mut elsewhere = Vec::new();
    for d in &staged.rest.blobs {
        if !staged.staging.is_staged(d) {
            elsewhere.push(*d);
        }
    }
    Ok(not_held(reg, &elsewhere, progress)?.len())
}

/// Of `blobs`, those this registry does not hold intact: absent, without
/// a record, or (stat changed since it was recorded) hashing to something
/// else.
fn not_held(
    reg: &Registry,
    blobs: &[Sha256Digest],
    progress: &dyn ProgressFactory,
) -> Result<Vec<Sha256Digest>> {
    if blobs.is_empty() {
        return Ok(Vec::new());
    }
    let known = reg.db.blob_stats()?;
    let mut missing = Vec::new();
    let mut to_hash = Vec::new();
    for d in blobs {
        match (reg.store.stat(d)?, known.get(d)) {
            (Some(st), Some(k)) if st == *k => {}
            (Some(st), Some(_)) => to_hash.push((*d, st.size)),
            _ => missing.push(*d),
        }
    }
    let checks: Vec<crate::verify::ByteCheck<'_>> = to_hash
        .iter()
        .map(|(d, size)| crate::verify::ByteCheck {
            at: crate::verify::At::Blob(&reg.store, *d),
            len: *size,
            sha256: *d,
            pieces: None,
        })
        .collect();
    let bar = progress.start("check held blobs", to_hash.iter().map(|t| t.1).sum());
    let seen = crate::verify::check_bytes(&checks, &*bar);
    bar.finish();
    for ((d, _), r) in to_hash.iter().zip(seen) {
        if !matches!(r, Ok(crate::verify::Seen::Good)) {
            missing.push(*d);
        }
    }
    Ok(missing)
}

/// A volume after which the set still waits for blobs: what it carried
/// (blobs, parts, joined blobs), verified, goes into the store and is
/// recorded and kept for the set, with the volume's arrival, in one
/// transaction. Nothing of the set is visible yet.
fn receive_volume(
    reg: &Registry,
    idx: &CheckedIndex,
    staged: Staged<'_>,
    arrival: crate::db::VolumeArrival,
    missing_blobs: usize,
    mut outcome: BundleOutcome,
) -> Result<BundleOutcome> {
    let Staged {
        staging,
        pieces,
        parts,
        joined,
        ..
    } = staged;
    let committed = staging.commit()?;
    outcome.new_blobs = committed.created.len();
    let kept: Vec<(Sha256Digest, u64)> = idx
        .members
        .iter()
        .filter_map(|m| match m.kind {
            MemberKind::Blob(d) => Some((d, m.size)),
            _ => None,
        })
        .chain(parts)
        .chain(joined)
        .collect();
    for (_, size) in &kept {
        outcome.blobs += 1;
        outcome.bytes += size;
    }
    let mut rows = kept.iter().map(|(d, size)| {
        let stat = reg
            .store
            .stat(d)?
            .ok_or_else(|| Error::not_found("blob", d.to_hex()))?;
        Ok(BlobRow {
            sha256: *d,
            size: *size,
            stat,
            pieces: pieces.get(d).cloned(),
        })
    });
    let arrived = reg
        .db
        .volume_set(&arrival.bundle_id)?
        .map(|(_, a)| a)
        .unwrap_or_default();
    outcome.missing_volumes = missing_volumes(
        arrival.count,
        arrived.iter().map(|a| a.0).chain([arrival.number]),
    );
    outcome.complete = false;
    let event = EventDraft::new(
        EventKind::ReceiveVolume,
        arrival.bundle_id.clone(),
        serde_json::json!({
            "volume": arrival.number,
            "count": arrival.count,
            "origin": arrival.origin,
            "sequence": arrival.sequence,
            "index_sha256": arrival.index_sha256,
            "blobs": kept.len(),
            "missing_blobs": missing_blobs,
            "missing_volumes": outcome.missing_volumes,
        }),
    );
    let digests: Vec<Sha256Digest> = kept.iter().map(|k| k.0).collect();
    reg.db
        .receive_volume(&mut rows, &digests, &arrival, &now_rfc3339(), &event)?;
    committed.keep();
    Ok(outcome)
}

/// Keep a checked statement's bytes on disk until the commit records them
/// (an unnamed file in the staging folder, gone with the process): the
/// statement of a model of 100,000 files is 23 MB, and is not held beside
/// its file records and the staged blobs.
fn spill(dir: &Path, b: Vec<u8>) -> Result<crate::records::StatementBytes> {
    let mut file =
        tempfile::tempfile_in(dir).map_err(|e| Error::io("create a temp file in", dir, e))?;
    std::io::Write::write_all(&mut file, &b)
        .map_err(|e| Error::io("write a temp file in", dir, e))?;
    Ok(crate::records::StatementBytes::Spilled {
        len: b.len() as u64,
        sha256: Sha256Digest::of(&b),
        file,
    })
}

/// Every blob the statements name, with the piece list they sign for it
/// (two statements signing different lists for one blob is hostile).
fn needed_blobs(approved: &HashMap<usize, Approved>) -> Result<Needed> {
    let mut out = Needed::default();
    for a in approved.values() {
        out.blobs.reserve(a.files.len());
        for f in &a.files {
            out.blobs.insert(f.sha256);
            let Some(p) = &f.pieces else { continue };
            match out.pieces.get(&f.sha256) {
                None => {
                    out.pieces.insert(f.sha256, p.clone());
                }
                Some(have) if have == p => {}
                Some(_) => {
                    return Err(Error::Hostile {
                        what: format!("blob {}", f.sha256),
                        reason: "two statements sign different piece lists for it".into(),
                    });
                }
            }
        }
        if let Some(l) = a.statement.license_digest()? {
            out.blobs.insert(l);
        }
    }
    Ok(out)
}

/// The blobs the statements name, and the piece lists they sign (only
/// files larger than one piece have one: a set of digests, not a map of
/// mostly empty lists).
#[derive(Default)]
struct Needed {
    blobs: std::collections::HashSet<Sha256Digest>,
    pieces: HashMap<Sha256Digest, crate::digest::Pieces>,
}

/// 7b. A delta bundle: every blob it relies on must be held here and be
///     the bytes its digest names — a blob whose stat still matches the one
///     recorded when it was last verified is trusted, any other is hashed
///     again. Missing or different → refused before any member is read,
///     naming them.
fn check_relied(reg: &Registry, idx: &CheckedIndex, progress: &dyn ProgressFactory) -> Result<()> {
    let mut missing = not_held(reg, &idx.relies_on, progress)?;
    if missing.is_empty() {
        return Ok(());
    }
    missing.sort();
    let shown: Vec<String> = missing
        .iter()
        .take(10)
        .map(|d| format!("sha256:{d}"))
        .collect();
    Err(Error::Untrusted {
        what: format!("bundle {}", idx.raw.bundle_id),
        reason: format!(
            "a delta bundle relying on {} blob(s) this registry does not hold intact: {}{} — import the bundle that carried them first, or export again against this registry's holdings (`airlock holdings --out FILE`)",
            missing.len(),
            shown.join(", "),
            if missing.len() > 10 { ", …" } else { "" }
        ),
    })
}

/// 9. Nothing may follow the last listed member.
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

/// The signed order of a version: its statement's registration time, else
/// (a statement made before it was recorded) the carrier's creation.
fn registered_at(statement: &Statement, created: &str) -> String {
    statement
        .predicate
        .registered_at
        .clone()
        .unwrap_or_else(|| created.to_string())
}

/// What step 10 decided for each version: its record if new, and whether
/// it was let in as a downgrade.
struct Judged {
    news: Vec<(NewVersion, Option<String>)>,
}

/// How a signed version arrived, for its record.
pub(crate) struct Carrier {
    /// The origin recorded.
    pub(crate) origin: Origin,
    /// The layout recorded (`bundle`, `oci`).
    pub(crate) layout: &'static str,
    /// The bundle it arrived in.
    pub(crate) bundle_id: Option<String>,
    /// The carrier's creation time: the order of a statement without one.
    pub(crate) created: String,
}

/// 10. For each version: a label already holding other content is refused;
///     a new version older (by the signed order) than the newest of its
///     model here is refused unless `--allow-downgrade`; every file and the
///     licence text must be carried; the safety policy runs on the staged
///     bytes.
fn judge_versions(
    reg: &Registry,
    idx: &CheckedIndex,
    staged: &mut Staged<'_>,
    opts: &BundleOptions,
    outcome: &mut BundleOutcome,
) -> Result<Judged> {
    let mut news = Vec::new();
    let carrier = Carrier {
        origin: Origin::Bundle,
        layout: "bundle",
        bundle_id: Some(idx.raw.bundle_id.clone()),
        created: idx.raw.created.clone(),
    };
    for v in &idx.versions {
        // Each version names its own statement member (the index check
        // refuses two naming one), so each is taken once.
        let a = staged
            .approved
            .remove(&v.statement_member)
            .expect("every version's statement was read and approved");
        let existing = existing_version(reg, &v.name, &v.label, &v.manifest_digest)?;
        outcome.versions.push(ImportedVersion {
            name: v.name.to_string(),
            version: v.label.to_string(),
            manifest_digest: v.manifest_digest.to_hex(),
            approvals: a.approvals.len(),
            created: !existing,
        });
        if existing {
            continue;
        }
        let order = registered_at(&a.statement, &carrier.created);
        let downgrade = judge_order(reg, &v.name, &v.label, &order, opts, &mut outcome.warnings)?;
        let new = new_version(
            reg,
            &carrier,
            a,
            &staged.staging,
            opts,
            &mut outcome.warnings,
        )?;
        news.push((new, downgrade));
    }
    Ok(Judged { news })
}

/// Whether this registry holds the version already (true), or not (false);
/// its label holding other content is refused.
pub(crate) fn existing_version(
    reg: &Registry,
    name: &crate::name::ModelName,
    label: &VersionLabel,
    manifest_digest: &Sha256Digest,
) -> Result<bool> {
    let existing = reg
        .db
        .find_version(name, &VersionSelector::Label(label.clone()))?;
    match existing {
        Some(e) if e.manifest_digest != *manifest_digest => Err(Error::VersionConflict {
            name: name.to_string(),
            label: label.to_string(),
            existing: e.manifest_digest,
            new: *manifest_digest,
            integrity: true,
        }),
        Some(_) => Ok(true),
        None => Ok(false),
    }
}

/// A new version older (by its signed order) than the newest of its model
/// here is refused unless `--allow-downgrade`; returns the label it was let
/// in under, if it was a downgrade.
pub(crate) fn judge_order(
    reg: &Registry,
    name: &crate::name::ModelName,
    label: &VersionLabel,
    order: &str,
    opts: &BundleOptions,
    warnings: &mut Vec<String>,
) -> Result<Option<String>> {
    let newest = reg
        .db
        .find_version(name, &VersionSelector::Newest)?
        .filter(|n| n.registered_at.as_str() > order);
    match (newest, &opts.allow_downgrade) {
        (None, _) => Ok(None),
        (Some(n), Some(reason)) => {
            warnings.push(format!(
                "{name}@{label} is older than {}@{} (registered {order} before {}): accepted as a downgrade ({reason})",
                n.name, n.label, n.registered_at
            ));
            Ok(Some(n.label))
        }
        (Some(n), None) => Err(Error::Untrusted {
            what: format!("{name}@{label}"),
            reason: format!(
                "downgrade: it was registered at {order}, before {}@{} ({}), the newest this registry holds; `--allow-downgrade --reason TEXT` accepts it, logged",
                n.name, n.label, n.registered_at
            ),
        }),
    }
}

/// 10, for one new version: its record, from its approved statement (the
/// statement names it; its files and licence text must be staged or
/// stored, and pass the safety policy).
pub(crate) fn new_version(
    reg: &Registry,
    carrier: &Carrier,
    a: Approved,
    staging: &Staging<'_>,
    opts: &BundleOptions,
    warnings: &mut Vec<String>,
) -> Result<NewVersion> {
    let Approved {
        statement,
        mut files,
        bytes,
        approvals,
    } = a;
    let p = &statement.predicate;
    let name: crate::name::ModelName = p.name.parse().map_err(|e: Error| Error::Hostile {
        what: "statement".into(),
        reason: e.to_string(),
    })?;
    let manifest_digest: Sha256Digest =
        p.manifest_digest
            .parse()
            .map_err(|e: crate::digest::ParseDigestError| Error::Hostile {
                what: format!("{name}@{}", p.version),
                reason: e.to_string(),
            })?;
    let subject = format!("{name}@{}", p.version);
    for f in &files {
        if !staging.has(&f.sha256)? {
            return Err(Error::Hostile {
                what: subject,
                reason: format!(
                    "file `{}` (sha256 {}) is not carried by the {}",
                    f.path, f.sha256, carrier.layout
                ),
            });
        }
    }
    let allow = opts.allow_unsafe.as_ref();
    let decision =
        crate::safety::check_stored(&|d| staging.path(d), &mut files, allow, Some(&subject))?;
    warnings.extend(decision.warnings.iter().map(|w| format!("{subject}: {w}")));
    let allowance = allow
        .filter(|_| !decision.allowed_unsafe.is_empty())
        .map(|a| (a.clone(), decision.allowed_unsafe.clone()));
    // An OpenSSF model signature among the files is checked again here,
    // against this registry's model signers and policy.
    let oms = crate::oms::check_files(reg, &subject, &files, &|d| staging.path(d), warnings)?;
    let license_sha256 = statement.license_digest()?;
    if let Some(l) = license_sha256
        && !staging.has(&l)?
    {
        return Err(Error::Hostile {
            what: subject,
            reason: format!("licence text {l} is not carried by the {}", carrier.layout),
        });
    }
    let registered = registered_at(&statement, &carrier.created);
    let approvals = approvals
        .into_iter()
        .map(|mut ap| {
            // The signed statement is the only signed time an approval
            // follows; the carrier is never believed about it.
            ap.signed_at = registered.clone();
            ap
        })
        .collect();
    Ok(NewVersion {
        name,
        label: p.version.clone(),
        manifest_digest,
        imported_at: now_rfc3339(),
        imported_by: actor(),
        registry: reg.name().to_string(),
        origin: carrier.origin,
        // The layout the first import read, when the signed statement
        // names one this airlock knows; else how it arrived.
        layout: p
            .source
            .layout
            .as_deref()
            .filter(|l| crate::source::Layout::ALL.iter().any(|k| k.as_str() == *l))
            .unwrap_or(carrier.layout)
            .into(),
        source_url: p.source.url.clone(),
        revision: p.source.revision.clone(),
        license_id: p.license.id.clone(),
        license_sha256,
        disclosure: p
            .data_disclosure
            .status
            .parse::<Disclosure>()
            .map_err(|e| Error::Hostile {
                what: subject.clone(),
                reason: e.to_string(),
            })?,
        disclosure_notes: p.data_disclosure.notes.clone(),
        owner: p.owner.clone(),
        files,
        statement: bytes,
        bundle_id: carrier.bundle_id.clone(),
        approvals,
        allowance,
        registered_at: registered,
        oms,
    })
}

/// 11. The staged blobs move into the store, then one transaction records
///     every new version, its approvals, the blobs, the revocations and the
///     bundle, with their events; if the transaction fails the new blobs go
///     again. Until it commits nothing is visible.
#[allow(clippy::too_many_arguments)]
fn commit(
    reg: &Registry,
    idx: &CheckedIndex,
    index_sha: &Sha256Digest,
    exporter: &TrustedKey,
    mut staged: Staged<'_>,
    judged: Judged,
    now: &Now,
    opts: &BundleOptions,
    mut outcome: BundleOutcome,
    volume: Option<crate::db::VolumeArrival>,
) -> Result<BundleOutcome> {
    let raw = &idx.raw;
    let received = revocation::receive(reg, &staged.revocations)?;
    outcome.revocations = staged.revocations.len();
    let keys = reg.db.trusted_keys()?;
    let required = crate::trust::approvals_required(reg)? as usize;
    for (r, _) in &received {
        if revocation::approvals(r, &keys) < required {
            outcome.warnings.push(format!(
                "the revocation of {}@{} is not in force here: {} of {required} approval(s) by keys this registry trusts",
                r.doc.name,
                r.doc.version,
                revocation::approvals(r, &keys)
            ));
        }
    }
    let pieces = std::mem::take(&mut staged.pieces);
    let committed = staged.staging.commit()?;
    outcome.new_blobs = committed.created.len();
    let joined = std::mem::take(&mut staged.joined);
    let blob_members = || {
        idx.members
            .iter()
            .filter_map(|m| match m.kind {
                MemberKind::Blob(d) => Some((d, m.size)),
                _ => None,
            })
            .chain(joined.iter().copied())
    };
    for (_, size) in blob_members() {
        outcome.blobs += 1;
        outcome.bytes += size;
    }
    // The rows are made as the transaction records them (no list of them).
    let mut rows = blob_members().map(|(d, size)| {
        let stat = reg
            .store
            .stat(&d)?
            .ok_or_else(|| Error::not_found("blob", d.to_hex()))?;
        Ok(BlobRow {
            sha256: d,
            size,
            stat,
            pieces: pieces.get(&d).cloned(),
        })
    });
    let mut events = Vec::new();
    if now.clock_behind {
        outcome.warnings.push(format!(
            "the clock says {}, behind this registry's time mark {}: expiry was judged against the mark",
            now.clock,
            now.mark.as_deref().unwrap_or("-")
        ));
        events.push(EventDraft::new(
            EventKind::ClockBehind,
            raw.bundle_id.clone(),
            serde_json::json!({ "clock": now.clock, "mark": now.mark }),
        ));
    }
    let mut news = Vec::new();
    for (n, downgrade) in judged.news {
        events.push(EventDraft::new(
            EventKind::ImportBundle,
            format!("{}@{}", n.name, n.label),
            serde_json::json!({
                "manifest_digest": n.manifest_digest.to_hex(),
                "bundle_id": raw.bundle_id,
                "origin": raw.origin,
                "sequence": raw.sequence,
                "approvals": n.approvals.iter().map(|a| a.key_id.to_hex()).collect::<Vec<_>>(),
                "unsafe_allowed": n.allowance.as_ref().map(|(a, files)| serde_json::json!({"reason": a.reason, "files": files})),
                "downgrade": downgrade.map(|over| serde_json::json!({
                    "over": over, "reason": opts.allow_downgrade,
                })),
            }),
        ));
        news.push(n);
    }
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
            "now_given": now.given.then(|| now.clock.clone()),
            "roots_applied": outcome.roots_applied,
            "evaluations": staged.evals.iter().map(|(_, _, e)| Sha256Digest::of(&e.envelope).to_hex()).collect::<Vec<_>>(),
            "volume": volume.as_ref().map(|v| serde_json::json!({"number": v.number, "count": v.count})),
        }),
    ));
    outcome.evaluations = staged.evals.len();
    let rev_rows: Vec<_> = received.iter().map(|(r, _)| r.row()).collect();
    events.extend(received.into_iter().map(|(_, e)| e));
    let now_s = now_rfc3339();
    let accepted = AcceptedBundle {
        bundle_id: raw.bundle_id.clone(),
        origin: raw.origin.clone(),
        sequence: raw.sequence,
        created: raw.created.clone(),
        expires: raw.expires.clone(),
        index_sha256: index_sha.to_hex(),
        exporter: exporter.key_id,
        imported_at: now_s.clone(),
        imported_by: actor(),
    };
    reg.db.insert_versions(
        &news,
        &mut rows,
        &now_s,
        &crate::db::Arrival {
            bundle: Some(&accepted),
            revocations: &rev_rows,
            oci: &[],
            evals: &staged.evals,
            volume: volume.as_ref(),
        },
        &events,
    )?;
    committed.keep();
    // The parts a set's split blobs were joined from are not needed any
    // more (unless some version holds the same bytes as a file).
    let parts: Vec<Sha256Digest> = idx
        .split
        .iter()
        .flat_map(|s| s.parts.iter().map(|p| p.0))
        .collect();
    let spare = reg.db.unreferenced(&parts)?;
    if !spare.is_empty() {
        reg.db.delete_blob_rows(
            &spare,
            &EventDraft::new(
                EventKind::Gc,
                raw.bundle_id.clone(),
                serde_json::json!({ "parts_removed": spare.len() }),
            ),
        )?;
        for d in &spare {
            reg.store.remove(d)?;
        }
    }
    // The carried aliases, once their versions are recorded (each its own
    // logged change; a refusal here is a warning, not the import's failure).
    for a in &staged.aliases {
        match crate::alias::apply_carried(reg, a, &raw.bundle_id)? {
            None => outcome.aliases += 1,
            Some(w) => outcome.warnings.push(w),
        }
    }
    Ok(outcome)
}

/// Step 8 for one statement: digest already checked; structure, agreement
/// with the index, and approvals by distinct trusted approver keys (each
/// key verified at most once).
fn check_statement(
    idx: &CheckedIndex,
    member: usize,
    m: &CheckedMember,
    bytes: Vec<u8>,
    approvers: &[TrustedKey],
    required: usize,
    spill_dir: &Path,
) -> Result<Approved> {
    let what = format!("member `{}`", m.name());
    let v = idx
        .versions
        .iter()
        .find(|v| v.statement_member == member)
        .ok_or_else(|| Error::Hostile {
            what: what.clone(),
            reason: "no version in the index names this statement".into(),
        })?;
    check_envelope(
        bytes,
        &what,
        Some((&v.name, &v.label, &v.manifest_digest)),
        approvers,
        required,
        Some(spill_dir),
    )
}

/// One DSSE envelope of a version's statement, however it arrived (a
/// bundle member, an OCI referrer): its structure, agreement with what the
/// carrier says it is (`expect`: name, label, manifest digest), and
/// approvals by distinct trusted approver keys, at least `required`.
/// With `spill_dir`, the payload is moved to an unnamed file there once its
/// signatures are checked, and parsed from it (a statement of a hundred
/// thousand files is never held beside its own records).
pub(crate) fn check_envelope(
    bytes: Vec<u8>,
    what: &str,
    expect: Option<(&crate::name::ModelName, &VersionLabel, &Sha256Digest)>,
    approvers: &[TrustedKey],
    required: usize,
    spill_dir: Option<&Path>,
) -> Result<Approved> {
    let what = what.to_string();
    let (payload_type, signatures, payload) = Envelope::open(bytes, &what)?;
    if payload_type != PAYLOAD_TYPE {
        return Err(Error::Hostile {
            what,
            reason: format!("payload type `{payload_type}`, expected `{PAYLOAD_TYPE}`"),
        });
    }
    if signatures.len() > revocation::MAX_SIGNATURES {
        return Err(Error::Hostile {
            what,
            reason: format!(
                "{} signatures, more than the {} a statement may carry",
                signatures.len(),
                revocation::MAX_SIGNATURES
            ),
        });
    }
    // The signed message built in the payload's buffer; the payload is
    // its tail, and is all that is kept.
    let payload_len = payload.len();
    let mut msg = crate::signing::pae_owned(PAYLOAD_TYPE, payload);
    let head = msg.len() - payload_len;
    // Which signatures verify is worked out while the message is in
    // memory; what that means is judged after the statement is read.
    let approvals: Vec<ApprovalRecord> = signers_of(
        &msg,
        &signatures,
        approvers,
        |k| k.key_id,
        |k| &k.public_key,
    )
    .into_iter()
    .map(|(k, s)| ApprovalRecord {
        key_id: k.key_id,
        public_key: k.public_key,
        name: k.name.clone(),
        signature: s,
        signed_at: String::new(),
    })
    .collect();
    msg.drain(..head);
    let (statement, files, bytes) = match spill_dir {
        Some(dir) => {
            let spilled = spill(dir, msg)?;
            let crate::records::StatementBytes::Spilled { file, .. } = &spilled else {
                unreachable!("spill returns a spilled statement")
            };
            let mut f = file;
            std::io::Seek::rewind(&mut f)
                .map_err(|e| Error::io("rewind a temp file in", dir, e))?;
            let mut r = std::io::BufReader::with_capacity(1 << 16, f);
            let (statement, files) = Statement::parse_from(&mut r, &what)?;
            (statement, files, spilled)
        }
        None => {
            let (statement, files) = Statement::parse(&msg, &what)?;
            (
                statement,
                files,
                crate::records::StatementBytes::Memory(msg),
            )
        }
    };
    let p = &statement.predicate;
    if let Some((name, label, digest)) = expect
        && (p.name != name.as_str()
            || p.version != label.as_str()
            || p.manifest_digest != digest.to_hex())
    {
        return Err(Error::Hostile {
            what,
            reason: format!(
                "the statement is for {}@{} ({}), the carrier says {name}@{label} ({digest})",
                p.name, p.version, p.manifest_digest
            ),
        });
    }
    if approvals.len() < required {
        return Err(Error::NotApproved {
            what: format!("{}@{}", p.name, p.version),
            reason: format!(
                "{} valid approval(s) by distinct trusted approver keys, the policy requires {required} ({} signature(s) in the statement)",
                approvals.len(),
                signatures.len()
            ),
        });
    }
    Ok(Approved {
        statement,
        files,
        bytes,
        approvals,
    })
}
