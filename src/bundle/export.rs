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
}

impl ExportOptions {
    /// One bundle file at `out`, expiring after the default lifetime.
    pub fn new(out: PathBuf) -> ExportOptions {
        ExportOptions {
            out,
            volume_size: None,
            expires_in_days: DEFAULT_EXPIRY_DAYS,
            delta_against: None,
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
    index: Index,
    bytes: Vec<u8>,
    signature: Vec<u8>,
    /// The external member list, when the index describes one.
    member_list: Option<Body>,
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
    // Room for the whole bundle, checked before a sequence number is spent.
    let dir = match opts.out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let members = contents.statements.len() + contents.payload().count() + 4;
    let size: u64 = contents.payload().map(|b| *b.2).sum::<u64>() + 1024 * members as u64;
    crate::fsio::ensure_room(&dir, size, "the bundle")?;
    let pending = crate::pending::begin(
        reg,
        crate::pending::OutputKind::Export,
        &opts.out,
        serde_json::Value::Null,
    )?;
    let signed = reg.db.record_next_export(|sequence| {
        let signed = sign_index(reg, &contents, key, opts, sequence)?;
        let (record, event) = export_record(&signed.index, versions, opts)?;
        Ok((record, event, signed))
    })?;
    let files = write_bundle(reg, &signed, &contents, opts, &pending, progress)?;
    pending.finish()?;
    let i = signed.index;
    Ok(ExportOutcome {
        bundle_id: i.bundle_id,
        origin: i.origin,
        sequence: i.sequence,
        created: i.created,
        expires: i.expires,
        exporter_key_id: i.exporter_key_id,
        versions: versions
            .iter()
            .map(|v| format!("{}@{}", v.name, v.label))
            .collect(),
        blobs: contents.licences.len() + contents.blobs.len(),
        bytes: contents.payload().map(|b| *b.2).sum(),
        relied_on: contents.relies_on.len(),
        relied_bytes: contents.relies_on.iter().map(|r| r.1).sum(),
        files: files.iter().map(|p| p.display().to_string()).collect(),
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

/// 2. The index — every member with its size and sha256, the origin, the
///    next sequence, creation and expiry — and the exporter's signature.
fn sign_index(
    reg: &Registry,
    c: &Contents,
    key: &dyn KeySource,
    opts: &ExportOptions,
    sequence: u64,
) -> Result<SignedIndex> {
    let created_t = crate::clock::now();
    let expires_t = created_t + time::Duration::days(i64::from(opts.expires_in_days));
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::system("read system randomness", e))?;
    let listed = || {
        c.statements
            .iter()
            .map(|(n, b)| IndexMember {
                name: n.clone(),
                size: b.len(),
                sha256: b.sha256().to_hex(),
            })
            .chain(c.payload().map(|(n, d, size)| IndexMember {
                name: format!("{n}{d}"),
                size: *size,
                sha256: d.to_hex(),
            }))
    };
    // The list as JSON, one member at a time into a spill file (the bytes
    // `serde_json::to_vec` of the whole list would make).
    let count = c.statements.len() + c.payload().count();
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
        bundle_id: hex::encode(id),
        origin: reg.name().to_string(),
        sequence,
        created: crate::clock::format(created_t),
        expires: crate::clock::format(expires_t),
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
        index,
        bytes,
        member_list: member_list.map(|(_, b)| b),
    })
}

/// 3. The record of the export, spending its sequence number (in the same
///    transaction that allocated it). Spent even if writing fails below:
///    gaps are harmless, reuse is not.
fn export_record(
    index: &Index,
    versions: &[VersionRecord],
    opts: &ExportOptions,
) -> Result<(ExportRecord, crate::event::EventDraft)> {
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::Export,
        index.bundle_id.clone(),
        serde_json::json!({
            "sequence": index.sequence,
            "origin": index.origin,
            "exporter": index.exporter_key_id,
            "expires": index.expires,
            "versions": versions.iter().map(|v| format!("{}@{}", v.name, v.label)).collect::<Vec<_>>(),
            "out": opts.out.display().to_string(),
        }),
    );
    Ok((
        ExportRecord {
            bundle_id: index.bundle_id.clone(),
            sequence: index.sequence,
            created: index.created.clone(),
            expires: index.expires.clone(),
            exporter: index.exporter_key_id.parse()?,
            path: opts.out.display().to_string(),
            exported_by: actor(),
        },
        event,
    ))
}

/// 4. The tar stream: index, signature, statements, then every blob
///    re-hashed as it is read from the store (a corrupted store aborts the
///    export with exit 3 and nothing is left under the output names).
fn write_bundle(
    reg: &Registry,
    signed: &SignedIndex,
    c: &Contents,
    opts: &ExportOptions,
    pending: &crate::pending::Pending<'_>,
    progress: &dyn ProgressFactory,
) -> Result<Vec<PathBuf>> {
    let out = VolumeWriter::new(&opts.out, opts.volume_size, pending)?;
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
    let total: u64 = c.payload().map(|b| *b.2).sum();
    let bar = progress.start("export", total);
    for (n, d, size) in c.payload() {
        let blob = reg.store.open_blob(d)?;
        crate::fsio::advise_sequential(&blob);
        let f = std::io::BufReader::with_capacity(crate::digest::CHUNK, blob);
        let mut r = HashingReader::new(f.take(*size));
        let counting = ProgressReader {
            inner: &mut r,
            bar: &*bar,
        };
        tar.append(&header(&format!("{n}{d}"), *size)?, counting)
            .map_err(io)?;
        let (found, read) = r.finish();
        if found != *d || read != *size {
            return Err(Error::DigestMismatch {
                what: format!(
                    "stored blob {} (export aborted, nothing written)",
                    reg.store.blob_path(d).display()
                ),
                expected: d.to_hex(),
                found: format!("{found} ({read} of {size} bytes)"),
            });
        }
    }
    bar.finish();
    let buffered = tar.into_inner().map_err(io)?;
    let mut out = buffered.into_inner().map_err(|e| io(e.into_error()))?;
    out.flush().map_err(io)?;
    out.finish()
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
