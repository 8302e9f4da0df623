//! `export REF… --key K --out FILE [--volume-size SIZE]`: write a signed bundle.
//!
//! The index and the small members are built in memory first; a version's
//! envelope and a long member list are spilled to unnamed temp files (a
//! model of 100,000 files has a 30 MB envelope); blobs are then streamed
//! from the store into the tar, each re-hashed as it is read, so a
//! corrupted store cannot be exported silently (the partial output is
//! discarded and the command fails with exit 3). Memory stays flat.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::volumes::VolumeWriter;
use super::{
    DEFAULT_EXPIRY_DAYS, FORMAT, INDEX_NAME, INDEX_PAYLOAD_TYPE, Index, IndexApproval, IndexMember,
    IndexSignature, IndexVersion, SIG_NAME,
};
use crate::actor::actor;
use crate::db::ExportRecord;
use crate::digest::{HashingReader, Sha256Digest};
use crate::error::{Error, Result};
use crate::progress::ProgressFactory;
use crate::records::VersionRecord;
use crate::registry::Registry;
use crate::signing::{KeySource, pae};
use crate::statement::EnvelopeSignature;

/// How to write a bundle.
#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// The bundle file (with `volume_size`, the prefix of `OUT.001`, `OUT.002`, …).
    pub out: PathBuf,
    /// Split into volumes of at most this many bytes.
    pub volume_size: Option<u64>,
    /// Days until the bundle expires (1 to 3650).
    pub expires_in_days: u32,
    /// A delta bundle: leave out these blobs (the receiver's holdings,
    /// [`super::holdings::read_blobs`]); the index lists them as relied on.
    pub delta_against: Option<HashSet<Sha256Digest>>,
    /// `--volumes N,M`: write only these volumes of the newest recorded
    /// export of the same versions at the same volume size, again (same
    /// set id, sequence and expiry; no new sequence is spent).
    pub only_volumes: Option<Vec<u32>>,
}

impl ExportOptions {
    /// One bundle file at `out`, expiring after the default lifetime.
    pub fn new(out: PathBuf) -> ExportOptions {
        ExportOptions {
            out,
            volume_size: None,
            expires_in_days: DEFAULT_EXPIRY_DAYS,
            delta_against: None,
            only_volumes: None,
        }
    }
}

/// What `export` wrote.
#[derive(Debug, Serialize)]
pub struct ExportOutcome {
    /// The bundle's random id (32 hex).
    pub bundle_id: String,
    /// The exporting registry's name.
    pub origin: String,
    /// The export sequence number, spent by this export.
    pub sequence: u64,
    /// When the index was signed (RFC 3339).
    pub created: String,
    /// When the bundle stops being accepted (RFC 3339).
    pub expires: String,
    /// The exporter key's id.
    pub exporter_key_id: String,
    /// The versions carried, as `name@label`.
    pub versions: Vec<String>,
    /// Blobs carried (files and licence texts, each once).
    pub blobs: usize,
    /// Bytes of those blobs.
    pub bytes: u64,
    /// Blobs left out because the receiver holds them (a delta bundle).
    pub relied_on: usize,
    /// Bytes of those.
    pub relied_bytes: u64,
    /// The files written (one, or one per volume).
    pub files: Vec<String>,
    /// Volumes in the set (1 for a single file).
    pub volume_count: u32,
    /// Blobs split into parts across volumes.
    pub split_blobs: usize,
}

fn header(name: &str, size: u64) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)
        .map_err(|e| Error::input(format!("member name `{name}`: {e}")))?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

/// A member's bytes: in memory, or spilled to an unnamed file in the
/// store's temp folder (gone with the process, however it ends).
enum Body {
    Bytes(Vec<u8>),
    Spilled {
        file: std::fs::File,
        size: u64,
        sha256: Sha256Digest,
    },
}

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::Spilled { size, .. } => *size,
        }
    }

    fn sha256(&self) -> Sha256Digest {
        match self {
            Body::Bytes(b) => Sha256Digest::of(b),
            Body::Spilled { sha256, .. } => *sha256,
        }
    }

    /// Append as member `name`; a spilled body is read back from its start
    /// and must still be the bytes that were hashed.
    fn append<W: Write>(&self, tar: &mut tar::Builder<W>, name: &str) -> Result<()> {
        let io =
            |e: std::io::Error| Error::io("write bundle member", std::path::Path::new(name), e);
        match self {
            Body::Bytes(b) => tar
                .append(&header(name, b.len() as u64)?, &b[..])
                .map_err(io),
            Body::Spilled { file, size, sha256 } => {
                let mut f = file;
                std::io::Seek::rewind(&mut f).map_err(io)?;
                let mut r = HashingReader::new(std::io::BufReader::with_capacity(
                    crate::digest::CHUNK,
                    f.take(*size),
                ));
                tar.append(&header(name, *size)?, &mut r).map_err(io)?;
                let (found, read) = r.finish();
                if found != *sha256 || read != *size {
                    return Err(Error::DigestMismatch {
                        what: format!("the spilled member `{name}` (export aborted)"),
                        expected: sha256.to_hex(),
                        found: format!("{found} ({read} of {size} bytes)"),
                    });
                }
                Ok(())
            }
        }
    }
}

/// A new spill file, hashed as it is written.
struct Spill {
    out: std::io::BufWriter<std::fs::File>,
    h: crate::digest::Hasher,
    size: u64,
}

impl Spill {
    fn new(reg: &Registry) -> Result<Spill> {
        let dir = reg.store.tmp_dir();
        let file =
            tempfile::tempfile_in(&dir).map_err(|e| Error::io("create a temp file in", &dir, e))?;
        Ok(Spill {
            out: std::io::BufWriter::with_capacity(1 << 20, file),
            h: crate::digest::Hasher::new(),
            size: 0,
        })
    }

    fn done(self) -> Result<Body> {
        let file = self.out.into_inner().map_err(|e| {
            let e = e.into_error();
            Error::io("write a temp file in", std::path::Path::new("store/tmp"), e)
        })?;
        Ok(Body::Spilled {
            file,
            size: self.size,
            sha256: self.h.finish(),
        })
    }
}

impl Write for Spill {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.h.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// What a bundle carries, gathered before anything is written.
struct Contents {
    /// The trust root versions above 1, `(member name, envelope bytes)`,
    /// written before the index so the importer applies them first.
    roots: Vec<(String, Vec<u8>)>,
    /// `(member name, DSSE envelope)`, one per version, then the aliases,
    /// evaluations and revocations carried.
    statements: Vec<(String, Body)>,
    versions: Vec<IndexVersion>,
    /// `(member folder, digest, size)` of licence texts, then of file
    /// blobs: the member is `<folder><sha256>` (made when written, not held
    /// for each of a hundred thousand blobs).
    licences: Vec<(Sha256Digest, u64)>,
    blobs: Vec<(Sha256Digest, u64)>,
    /// Blobs needed but left out (the receiver holds them), with sizes.
    relies_on: Vec<(Sha256Digest, u64)>,
}

impl Contents {
    /// Licence texts first, then blobs, the order they are written in:
    /// `(member folder, digest, size)`.
    fn payload(&self) -> impl Iterator<Item = (&'static str, &Sha256Digest, &u64)> {
        let l = self.licences.iter().map(|(d, s)| ("licenses/", d, s));
        l.chain(self.blobs.iter().map(|(d, s)| ("blobs/", d, s)))
    }
}

/// The signed index, ready to be written.
struct SignedIndex {
    bytes: Vec<u8>,
    signature: Vec<u8>,
    /// The external member list, when the index describes one.
    member_list: Option<Body>,
}

/// What every index of one export shares: one id, sequence and lifetime
/// for every volume of a set.
#[derive(Debug, Clone)]
struct Head {
    bundle_id: String,
    sequence: u64,
    created: String,
    expires: String,
}

/// One blob member as written: a whole blob, or part `n` of one (bytes
/// `offset..offset + size`, with the part's own sha256).
#[derive(Debug, Clone, Copy)]
struct Entry {
    folder: &'static str,
    blob: Sha256Digest,
    offset: u64,
    size: u64,
    part: Option<(usize, Sha256Digest)>,
}

impl Entry {
    fn name(&self) -> String {
        match self.part {
            Some((n, _)) => format!("parts/{}.{n}", self.blob),
            None => format!("{}{}", self.folder, self.blob),
        }
    }

    fn sha256(&self) -> Sha256Digest {
        self.part.map_or(self.blob, |p| p.1)
    }
}

/// The blob members of one file: every blob of the payload whole (made as
/// they are written, not held for each of a hundred thousand blobs), or a
/// volume's planned entries.
#[derive(Clone, Copy)]
enum Entries<'a> {
    Whole(&'a Contents),
    Planned(&'a [Entry]),
}

impl<'a> Entries<'a> {
    fn iter(self) -> Box<dyn Iterator<Item = Entry> + 'a> {
        match self {
            Entries::Whole(c) => Box::new(c.payload().map(|(folder, d, size)| Entry {
                folder,
                blob: *d,
                offset: 0,
                size: *size,
                part: None,
            })),
            Entries::Planned(v) => Box::new(v.iter().copied()),
        }
    }

    fn len(self) -> usize {
        match self {
            Entries::Whole(c) => c.payload().count(),
            Entries::Planned(v) => v.len(),
        }
    }
}

/// A set's plan: the entries of each volume, and the split blobs every
/// volume's index lists.
struct Plan {
    volume_size: u64,
    volumes: Vec<Vec<Entry>>,
    split: Vec<super::SplitBlob>,
    /// The sha256 of the placement (which bytes of which blob in which
    /// volume), recorded so `--volumes` can check it writes the same set.
    digest: Sha256Digest,
}

/// Write a bundle of `versions`, signed by `key`.
pub fn export(
    reg: &Registry,
    versions: &[VersionRecord],
    key: &dyn KeySource,
    opts: &ExportOptions,
    progress: &dyn ProgressFactory,
) -> Result<ExportOutcome> {
    if versions.is_empty() {
        return Err(Error::input("name at least one version to export"));
    }
    if opts.expires_in_days == 0 || opts.expires_in_days > 3650 {
        return Err(Error::input("--expires-in-days must be between 1 and 3650"));
    }
    if let Some(only) = &opts.only_volumes {
        return rewrite_volumes(reg, versions, key, opts, only, progress);
    }
    // What a killed earlier run left at this output is replaced; anything
    // else there is refused before any work (and before a sequence number
    // is spent).
    crate::pending::reclaim(reg, crate::pending::OutputKind::Export, &opts.out)?;
    if let Some(p) = super::volumes::existing_output(&opts.out)? {
        return Err(Error::input(format!(
            "`{}` exists; refusing to overwrite",
            p.display()
        )));
    }
    let contents = collect(reg, versions, opts.delta_against.as_ref())?;
    let plan = match opts.volume_size {
        Some(v) => Some(plan_volumes(reg, &contents, v, progress)?),
        None => None,
    };
    // Room for the whole bundle, checked before a sequence number is spent.
    let members = contents.statements.len() + contents.payload().count() + 4;
    let copies = plan.as_ref().map_or(1, |p| p.volumes.len() as u64);
    let size: u64 = contents.payload().map(|b| *b.2).sum::<u64>()
        + copies * contents.statements.iter().map(|s| s.1.len()).sum::<u64>()
        + 1024 * members as u64;
    crate::fsio::ensure_room(&out_dir(opts), size, "the bundle")?;
    let pending = crate::pending::begin(
        reg,
        crate::pending::OutputKind::Export,
        &opts.out,
        serde_json::Value::Null,
    )?;
    let head = reg.db.record_next_export(|sequence| {
        let head = new_head(opts, sequence)?;
        let (record, event) = export_record(&head, key, versions, opts, plan.as_ref())?;
        Ok((record, event, head))
    })?;
    let files = write_bundle(
        reg,
        &head,
        &contents,
        plan.as_ref(),
        None,
        key,
        opts,
        &pending,
        progress,
    )?;
    pending.finish()?;
    Ok(outcome(
        reg,
        &head,
        key,
        versions,
        &contents,
        plan.as_ref(),
        files,
    ))
}

fn out_dir(opts: &ExportOptions) -> PathBuf {
    match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn outcome(
    reg: &Registry,
    head: &Head,
    key: &dyn KeySource,
    versions: &[VersionRecord],
    contents: &Contents,
    plan: Option<&Plan>,
    files: Vec<PathBuf>,
) -> ExportOutcome {
    ExportOutcome {
        bundle_id: head.bundle_id.clone(),
        origin: reg.name().to_string(),
        sequence: head.sequence,
        created: head.created.clone(),
        expires: head.expires.clone(),
        exporter_key_id: key.public_key().id().to_hex(),
        versions: versions
            .iter()
            .map(|v| format!("{}@{}", v.name, v.label))
            .collect(),
        blobs: contents.licences.len() + contents.blobs.len(),
        bytes: contents.payload().map(|b| *b.2).sum(),
        relied_on: contents.relies_on.len(),
        relied_bytes: contents.relies_on.iter().map(|r| r.1).sum(),
        files: files.iter().map(|p| p.display().to_string()).collect(),
        volume_count: plan.map_or(1, |p| p.volumes.len() as u32),
        split_blobs: plan.map_or(0, |p| p.split.len()),
    }
}

/// `export … --volume-size S --volumes N,M`: volumes N and M of the newest
/// recorded export of exactly these versions at size S, written again
/// under the same set id, sequence and expiry, after checking that the
/// blobs still fall into the volumes as they did.
fn rewrite_volumes(
    reg: &Registry,
    versions: &[VersionRecord],
    key: &dyn KeySource,
    opts: &ExportOptions,
    only: &[u32],
    progress: &dyn ProgressFactory,
) -> Result<ExportOutcome> {
    let Some(volume_size) = opts.volume_size else {
        return Err(Error::input(
            "--volumes re-writes volumes of a split export: give the same --volume-size it was written with",
        ));
    };
    let refs = versions_key(versions);
    let set = reg.db.recorded_set(&refs, volume_size)?.ok_or_else(|| {
        Error::not_found(
            "split export",
            format!(
                "of {refs} at --volume-size {volume_size} (export them without --volumes first)"
            ),
        )
    })?;
    let now = crate::clock::now_rfc3339();
    if set.expires <= now {
        return Err(Error::input(format!(
            "export {} expired at {}; its volumes cannot be accepted any more — export the versions again",
            set.bundle_id, set.expires
        )));
    }
    if let Some(n) = only.iter().find(|n| **n == 0 || **n > set.count) {
        return Err(Error::input(format!(
            "export {} has volumes 1 to {}, not {n}",
            set.bundle_id, set.count
        )));
    }
    crate::pending::reclaim(reg, crate::pending::OutputKind::Export, &opts.out)?;
    for n in only {
        let p = super::volumes::volume_path(&opts.out, *n as usize);
        if std::fs::symlink_metadata(&p).is_ok() {
            return Err(Error::input(format!(
                "`{}` exists; refusing to overwrite",
                p.display()
            )));
        }
    }
    let contents = collect(reg, versions, opts.delta_against.as_ref())?;
    let plan = plan_volumes(reg, &contents, volume_size, progress)?;
    if plan.digest.to_hex() != set.plan_sha256 || plan.volumes.len() as u32 != set.count {
        return Err(Error::input(format!(
            "the blobs no longer fall into volumes as export {} placed them (another --delta-against, or the versions' blobs changed); export the versions again",
            set.bundle_id
        )));
    }
    let pending = crate::pending::begin(
        reg,
        crate::pending::OutputKind::Export,
        &opts.out,
        serde_json::Value::Null,
    )?;
    let head = Head {
        bundle_id: set.bundle_id.clone(),
        sequence: set.sequence,
        created: set.created.clone(),
        expires: set.expires.clone(),
    };
    let files = write_bundle(
        reg,
        &head,
        &contents,
        Some(&plan),
        Some(only),
        key,
        opts,
        &pending,
        progress,
    )?;
    pending.finish()?;
    reg.db.logged(
        &crate::event::EventDraft::new(
            crate::event::EventKind::Export,
            set.bundle_id.clone(),
            serde_json::json!({
                "sequence": set.sequence,
                "rewritten_volumes": only,
                "out": opts.out.display().to_string(),
            }),
        ),
        |_| Ok(()),
    )?;
    Ok(outcome(
        reg,
        &head,
        key,
        versions,
        &contents,
        Some(&plan),
        files,
    ))
}

/// The versions of an export as recorded: `name@label`, sorted, as JSON.
fn versions_key(versions: &[VersionRecord]) -> String {
    let mut refs: Vec<String> = versions
        .iter()
        .map(|v| format!("{}@{}", v.name, v.label))
        .collect();
    refs.sort();
    refs.dedup();
    serde_json::to_string(&refs).expect("plain JSON")
}

/// Place the payload into volumes of `volume_size` and hash each part of a
/// split blob (from the store, on every core).
fn plan_volumes(
    reg: &Registry,
    c: &Contents,
    volume_size: u64,
    progress: &dyn ProgressFactory,
) -> Result<Plan> {
    use super::volumes::{MEMBER_COST, padded};
    let payload: Vec<(&'static str, Sha256Digest, u64)> =
        c.payload().map(|(f, d, s)| (f, *d, *s)).collect();
    let sizes: Vec<u64> = payload.iter().map(|p| p.2).collect();
    // What every volume carries besides its blobs: the trust roots, the
    // index (its fixed part, with room for the split list), the signature,
    // a member-list header, every statement, the end of the archive.
    let skeleton = Index {
        format: FORMAT.into(),
        bundle_id: "0".repeat(32),
        origin: reg.name().to_string(),
        sequence: u64::MAX,
        created: crate::clock::format(crate::clock::now()),
        expires: crate::clock::format(crate::clock::now()),
        exporter_key_id: "0".repeat(64),
        versions: c.versions.clone(),
        members: Vec::new(),
        roots: Vec::new(),
        member_list: None,
        relies_on: c.relies_on.iter().map(|(d, _)| d.to_hex()).collect(),
        volume: Some(super::VolumeOf {
            number: super::MAX_VOLUMES,
            count: super::MAX_VOLUMES,
        }),
        split: Vec::new(),
    };
    let index_base = serde_json::to_vec_pretty(&skeleton)
        .expect("plain JSON")
        .len() as u64;
    let roots: u64 = c
        .roots
        .iter()
        .map(|(_, b)| 512 + padded(b.len() as u64) + 320)
        .sum();
    let statements: u64 = c
        .statements
        .iter()
        .map(|(_, b)| MEMBER_COST + padded(b.len()))
        .sum();
    let fixed = roots + statements + 512 + padded(index_base + 4096) + 512 + 1024 + 512 + 1024;
    let overhead = |parts: usize| fixed + parts as u64 * (MEMBER_COST + 320);
    let placed = super::volumes::plan(&sizes, volume_size, &overhead)?;
    // The placement, as recorded.
    let mut h = crate::digest::Hasher::new();
    for (k, v) in placed.iter().enumerate() {
        for p in v {
            let (f, d, _) = payload[p.item];
            h.update(format!("{} {f}{d} {} {}\n", k + 1, p.offset, p.len).as_bytes());
        }
    }
    let digest = h.finish();
    // Each part's sha256, from the stored blob.
    let parts: Vec<super::volumes::Placed> = placed
        .iter()
        .flatten()
        .filter(|p| p.len != sizes[p.item])
        .copied()
        .collect();
    let bar = progress.start("hash parts", parts.iter().map(|p| p.len).sum());
    let store = &reg.store;
    let span = |k: usize| {
        let p = &parts[k];
        crate::verify::Span {
            at: crate::verify::At::Blob(store, payload[p.item].1),
            start: p.offset,
            end: Some(p.offset + p.len),
            len: p.len,
        }
    };
    let found: Vec<std::sync::Mutex<Option<Result<Sha256Digest>>>> =
        parts.iter().map(|_| Default::default()).collect();
    let done = |k: usize, d| *found[k].lock().unwrap_or_else(|p| p.into_inner()) = Some(d);
    crate::verify::hash_spans(parts.len(), &span, &done, &*bar);
    bar.finish();
    let digests = found
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every part is hashed")
        })
        .collect::<Result<Vec<_>>>()?;
    let mut part_of: std::collections::HashMap<(usize, u64), (usize, Sha256Digest)> =
        Default::default();
    let mut split: Vec<super::SplitBlob> = Vec::new();
    for (p, d) in parts.iter().zip(&digests) {
        let (_, blob, size) = payload[p.item];
        if split.last().is_none_or(|s| s.sha256 != blob.to_hex()) {
            split.push(super::SplitBlob {
                sha256: blob.to_hex(),
                size,
                parts: Vec::new(),
            });
        }
        let s = split.last_mut().expect("just pushed");
        let n = s.parts.len();
        s.parts.push(IndexMember {
            name: format!("parts/{blob}.{n}"),
            size: p.len,
            sha256: d.to_hex(),
        });
        part_of.insert((p.item, p.offset), (n, *d));
    }
    let volumes = placed
        .iter()
        .map(|v| {
            v.iter()
                .map(|p| {
                    let (folder, blob, _) = payload[p.item];
                    Entry {
                        folder,
                        blob,
                        offset: p.offset,
                        size: p.len,
                        part: part_of.get(&(p.item, p.offset)).copied(),
                    }
                })
                .collect()
        })
        .collect();
    Ok(Plan {
        volume_size,
        volumes,
        split,
        digest,
    })
}

/// 1. Each version's statement with its approvals (a DSSE envelope), and
///    the blobs and licence texts the versions need, each once.
fn collect(
    reg: &Registry,
    versions: &[VersionRecord],
    held: Option<&HashSet<Sha256Digest>>,
) -> Result<Contents> {
    let mut c = Contents {
        roots: crate::trust::chain::carried(reg)?,
        statements: Vec::new(),
        versions: Vec::new(),
        licences: Vec::new(),
        blobs: Vec::new(),
        relies_on: Vec::new(),
    };
    let is_held = |d: &Sha256Digest| held.is_some_and(|h| h.contains(d));
    let mut blobs: Vec<(Sha256Digest, u64)> = Vec::new();
    let mut licences: Vec<Sha256Digest> = Vec::new();
    for (i, v) in versions.iter().enumerate() {
        let mut spill = Spill::new(reg)?;
        let approvals = crate::trust::write_envelope(reg, v, &mut spill)?;
        let name = format!("statements/{i}.dsse.json");
        c.statements.push((name.clone(), spill.done()?));
        c.versions.push(IndexVersion {
            name: v.name.to_string(),
            version: v.label.clone(),
            manifest_digest: v.manifest_digest.to_hex(),
            statement: name,
            approvals: approvals
                .iter()
                .map(|a| IndexApproval {
                    key_id: a.key_id.to_hex(),
                    name: a.name.clone(),
                    signed_at: a.signed_at.clone(),
                })
                .collect(),
        });
        blobs.extend(reg.db.version_blobs(v.id)?.1);
        licences.extend(v.license_sha256);
    }
    // Each blob once, in digest order: a sorted list, no set beside it.
    blobs.sort_unstable_by_key(|b| b.0);
    blobs.dedup_by_key(|b| b.0);
    licences.sort_unstable();
    licences.dedup();
    for l in licences {
        if blobs.binary_search_by_key(&l, |b| b.0).is_ok() {
            // The text is also a file: it travels as that blob.
            continue;
        }
        let size = reg
            .store
            .stat(&l)?
            .ok_or_else(|| Error::not_found("licence blob", l.to_hex()))?
            .size;
        if is_held(&l) {
            c.relies_on.push((l, size));
        } else {
            c.licences.push((l, size));
        }
    }
    blobs.retain(|b| {
        let held = is_held(&b.0);
        if held {
            c.relies_on.push(*b);
        }
        !held
    });
    c.blobs = blobs;
    let mut aliases = Vec::new();
    for v in versions {
        aliases.extend(crate::alias::carried_for(reg, v)?);
    }
    if !aliases.is_empty() {
        c.statements.push((
            super::ALIASES_NAME.into(),
            Body::Bytes(serde_json::to_vec(&aliases).expect("plain JSON")),
        ));
    }
    let mut k = 0;
    for v in versions {
        for env in crate::eval::envelopes(reg, v)? {
            c.statements
                .push((format!("evals/{k}.dsse.json"), Body::Bytes(env)));
            k += 1;
        }
    }
    for (i, r) in crate::trust::revocation::all(reg)?.iter().enumerate() {
        c.statements
            .push((format!("revocations/{i}.dsse.json"), Body::Bytes(r.bytes())));
    }
    Ok(c)
}

/// 2. The export's id, sequence, creation and expiry.
fn new_head(opts: &ExportOptions, sequence: u64) -> Result<Head> {
    let created_t = crate::clock::now();
    let expires_t = created_t + time::Duration::days(i64::from(opts.expires_in_days));
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::system("read system randomness", e))?;
    Ok(Head {
        bundle_id: hex::encode(id),
        sequence,
        created: crate::clock::format(created_t),
        expires: crate::clock::format(expires_t),
    })
}

/// 4a. One index — every member with its size and sha256, the origin, the
///     sequence, creation and expiry, for a volume which one of how many
///     and the split blobs — and the exporter's signature over it.
fn sign_index(
    reg: &Registry,
    c: &Contents,
    key: &dyn KeySource,
    head: &Head,
    entries: Entries<'_>,
    volume: Option<(super::VolumeOf, &[super::SplitBlob])>,
) -> Result<SignedIndex> {
    let listed = || {
        c.statements
            .iter()
            .map(|(n, b)| IndexMember {
                name: n.clone(),
                size: b.len(),
                sha256: b.sha256().to_hex(),
            })
            .chain(entries.iter().map(|e| IndexMember {
                name: e.name(),
                size: e.size,
                sha256: e.sha256().to_hex(),
            }))
    };
    // The list as JSON, one member at a time into a spill file (the bytes
    // `serde_json::to_vec` of the whole list would make).
    let count = c.statements.len() + entries.len();
    let mut spill = Spill::new(reg)?;
    let io = |e: std::io::Error| Error::io("write the member list in", reg.store.tmp_dir(), e);
    spill.write_all(b"[").map_err(io)?;
    for (i, m) in listed().enumerate() {
        if i > 0 {
            spill.write_all(b",").map_err(io)?;
        }
        serde_json::to_writer(&mut spill, &m).map_err(|e| io(e.into()))?;
    }
    spill.write_all(b"]").map_err(io)?;
    let list = spill.done()?;
    // Many members: the list goes in a member of its own after the
    // signature, described (size, digest, count) by the signed index.
    let (members, member_list) = if list.len() > super::INLINE_MEMBERS_MAX as u64 {
        let described = super::MemberList {
            size: list.len(),
            sha256: list.sha256().to_hex(),
            count: count as u64,
        };
        (Vec::new(), Some((described, list)))
    } else {
        (listed().collect(), None)
    };
    let index = Index {
        format: FORMAT.into(),
        bundle_id: head.bundle_id.clone(),
        origin: reg.name().to_string(),
        sequence: head.sequence,
        created: head.created.clone(),
        expires: head.expires.clone(),
        exporter_key_id: key.public_key().id().to_hex(),
        versions: c.versions.clone(),
        members,
        roots: c
            .roots
            .iter()
            .map(|(n, b)| IndexMember {
                name: n.clone(),
                size: b.len() as u64,
                sha256: Sha256Digest::of(b).to_hex(),
            })
            .collect(),
        member_list: member_list.as_ref().map(|(m, _)| m.clone()),
        relies_on: c.relies_on.iter().map(|(d, _)| d.to_hex()).collect(),
        volume: volume.map(|v| v.0),
        split: volume.map(|v| v.1.to_vec()).unwrap_or_default(),
    };
    let bytes = serde_json::to_vec_pretty(&index).expect("plain JSON");
    let sig = key.sign(&pae(INDEX_PAYLOAD_TYPE, &bytes))?;
    let doc = IndexSignature {
        payload_type: INDEX_PAYLOAD_TYPE.into(),
        signatures: vec![EnvelopeSignature {
            keyid: index.exporter_key_id.clone(),
            sig: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &sig),
        }],
    };
    Ok(SignedIndex {
        signature: serde_json::to_vec_pretty(&doc).expect("plain JSON"),
        bytes,
        member_list: member_list.map(|(_, b)| b),
    })
}

/// 3. The record of the export, spending its sequence number (in the same
///    transaction that allocated it), with how it was split. Spent even if
///    writing fails below: gaps are harmless, reuse is not.
fn export_record(
    head: &Head,
    key: &dyn KeySource,
    versions: &[VersionRecord],
    opts: &ExportOptions,
    plan: Option<&Plan>,
) -> Result<(ExportRecord, crate::event::EventDraft)> {
    let exporter = key.public_key().id();
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::Export,
        head.bundle_id.clone(),
        serde_json::json!({
            "sequence": head.sequence,
            "exporter": exporter.to_hex(),
            "expires": head.expires,
            "versions": versions.iter().map(|v| format!("{}@{}", v.name, v.label)).collect::<Vec<_>>(),
            "out": opts.out.display().to_string(),
            "volumes": plan.map(|p| p.volumes.len()),
        }),
    );
    Ok((
        ExportRecord {
            bundle_id: head.bundle_id.clone(),
            sequence: head.sequence,
            created: head.created.clone(),
            expires: head.expires.clone(),
            exporter,
            path: opts.out.display().to_string(),
            exported_by: actor(),
            volumes: plan.map(|p| crate::db::ExportVolumes {
                volume_size: p.volume_size,
                count: p.volumes.len() as u32,
                plan_sha256: p.digest.to_hex(),
                versions: versions_key(versions),
            }),
        },
        event,
    ))
}

/// 4. The file, or each volume asked for: its own signed index, the
///    statements, then its blobs (or parts) re-hashed as they are read
///    from the store (a corrupted store aborts the export with exit 3 and
///    nothing is left under the output names).
#[allow(clippy::too_many_arguments)]
fn write_bundle(
    reg: &Registry,
    head: &Head,
    c: &Contents,
    plan: Option<&Plan>,
    only: Option<&[u32]>,
    key: &dyn KeySource,
    opts: &ExportOptions,
    pending: &crate::pending::Pending<'_>,
    progress: &dyn ProgressFactory,
) -> Result<Vec<PathBuf>> {
    let mut out = VolumeWriter::new(&opts.out, plan.is_some(), pending)?;
    let volumes: Vec<(u32, Entries<'_>)> = match plan {
        None => vec![(1, Entries::Whole(c))],
        Some(p) => p
            .volumes
            .iter()
            .enumerate()
            .map(|(k, v)| (k as u32 + 1, Entries::Planned(v)))
            .filter(|(n, _)| only.is_none_or(|o| o.contains(n)))
            .collect(),
    };
    let total: u64 = volumes
        .iter()
        .flat_map(|(_, v)| v.iter())
        .map(|e| e.size)
        .sum();
    let bar = progress.start("export", total);
    for (number, entries) in volumes {
        let volume = plan.map(|p| {
            (
                super::VolumeOf {
                    number,
                    count: p.volumes.len() as u32,
                },
                &p.split[..],
            )
        });
        let signed = sign_index(reg, c, key, head, entries, volume)?;
        out.begin(number)?;
        write_one(reg, &mut out, &signed, c, entries, opts, &*bar)?;
        if let Some(p) = plan
            && out.written() > p.volume_size
        {
            return Err(Error::system(
                "plan the volumes",
                format!(
                    "volume {number} came to {} bytes, over the {}-byte volume size (a bug: please report it)",
                    out.written(),
                    p.volume_size
                ),
            ));
        }
    }
    bar.finish();
    out.finish()
}

/// One tar stream: trust roots, index, signature, member list,
/// statements, then each entry's bytes from the store, re-hashed.
fn write_one(
    reg: &Registry,
    out: &mut VolumeWriter<'_, '_>,
    signed: &SignedIndex,
    c: &Contents,
    entries: Entries<'_>,
    opts: &ExportOptions,
    bar: &dyn crate::progress::Progress,
) -> Result<()> {
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(crate::digest::CHUNK, out));
    let io = |e: std::io::Error| Error::io("write bundle", &opts.out, e);
    for (n, b) in &c.roots {
        tar.append(&header(n, b.len() as u64)?, &b[..])
            .map_err(io)?;
    }
    tar.append(
        &header(INDEX_NAME, signed.bytes.len() as u64)?,
        &signed.bytes[..],
    )
    .map_err(io)?;
    tar.append(
        &header(SIG_NAME, signed.signature.len() as u64)?,
        &signed.signature[..],
    )
    .map_err(io)?;
    if let Some(list) = &signed.member_list {
        list.append(&mut tar, super::MEMBER_LIST_NAME)?;
    }
    for (n, b) in &c.statements {
        b.append(&mut tar, n)?;
    }
    for e in entries.iter() {
        let mut blob = reg.store.open_blob(&e.blob)?;
        crate::fsio::advise_sequential(&blob);
        if e.offset > 0 {
            std::io::Seek::seek(&mut blob, std::io::SeekFrom::Start(e.offset))
                .map_err(|err| Error::io("seek", reg.store.blob_path(&e.blob), err))?;
        }
        let f = std::io::BufReader::with_capacity(crate::digest::CHUNK, blob);
        let mut r = HashingReader::new(f.take(e.size));
        let counting = ProgressReader { inner: &mut r, bar };
        tar.append(&header(&e.name(), e.size)?, counting)
            .map_err(io)?;
        let (found, read) = r.finish();
        let want = e.sha256();
        if found != want || read != e.size {
            return Err(Error::DigestMismatch {
                what: format!(
                    "stored blob {}{} (export aborted, nothing written)",
                    reg.store.blob_path(&e.blob).display(),
                    e.part.map_or(String::new(), |(n, _)| format!(", part {n}"))
                ),
                expected: want.to_hex(),
                found: format!("{found} ({read} of {} bytes)", e.size),
            });
        }
    }
    let buffered = tar.into_inner().map_err(io)?;
    buffered.into_inner().map_err(|e| io(e.into_error()))?;
    Ok(())
}

struct ProgressReader<'a, R> {
    inner: R,
    bar: &'a dyn crate::progress::Progress,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
