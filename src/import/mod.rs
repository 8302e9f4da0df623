//! `import DIR`: a downloaded model folder into the store and the records.
//!
//! Steps: (1) resolve the source layout and the upstream hashes it left
//! (`source`); (2) stream every file once — hashed, checked against upstream,
//! written to a temp file and renamed into the store — on every core;
//! (3) build the manifest and the records; (4) one transaction makes the
//! version visible. Any failure removes the blobs this run created and leaves
//! the records untouched. Runs under the registry's writer lock.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::actor::actor;
use crate::clock::now_rfc3339;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::fsio::open_regular;
use crate::manifest;
use crate::name::{ModelName, VersionLabel, VersionSelector};
use crate::progress::{Progress, ProgressFactory};
use crate::records::{Allowance, Disclosure, FileRecord, NewVersion, Origin, VersionRecord};
use crate::registry::Registry;
use crate::source::{self, Algo, SourceFile};
use crate::store::{self, BlobStat, IngestSpec, Ingested, ReplaceFn, Staging};

/// What the user said about the import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The model id (`org/name`).
    pub name: ModelName,
    /// The version label [default: the revision's first 12 hex, else `vN`].
    pub version: Option<VersionLabel>,
    /// Where the model came from.
    pub source_url: Option<String>,
    /// The upstream revision (also picks a cache repo's snapshot).
    pub revision: Option<String>,
    /// The licence id [default: the model card's].
    pub license_id: Option<String>,
    /// The licence's full text [default: `LICENSE*` in the folder].
    pub license_file: Option<PathBuf>,
    /// What is known about the training data.
    pub disclosure: Disclosure,
    /// Notes on the training data.
    pub data_notes: Option<String>,
    /// Who answers for the model.
    pub owner: Option<String>,
    /// Hard-link files into the store where the file system allows.
    pub link: bool,
    /// `--allow-unsafe --reason`: let unsafe files in, recorded with who and why.
    pub allow_unsafe: Option<Allowance>,
    /// `--oms-signature FILE`: an OpenSSF model signature kept outside the
    /// folder, checked at import (a `model.sig` inside is found by itself).
    pub oms_signature: Option<std::path::PathBuf>,
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct ImportOutcome {
    /// The model.
    pub name: ModelName,
    /// The version label.
    pub version: String,
    /// The manifest digest.
    pub manifest_digest: Sha256Digest,
    /// False when the same content was already registered (a no-op).
    pub created: bool,
    /// The source layout read (`plain`, `hf-cache`, `hf-snapshot`, `hf-local-dir`).
    pub layout: String,
    /// The upstream revision recorded.
    pub revision: Option<String>,
    /// Files imported.
    pub files: usize,
    /// Bytes imported.
    pub bytes: u64,
    /// Blobs this import added to the store.
    pub new_blobs: usize,
    /// Files checked against an upstream hash.
    pub upstream_checked: usize,
    /// The licence id recorded.
    pub license_id: Option<String>,
    /// Things to know (no owner named, files the listing names that are absent, …).
    pub notes: Vec<String>,
    /// Safety warnings (safe-listed pickles, executable companions, allowed unsafe files).
    pub warnings: Vec<String>,
}

/// Everything known about the import once every byte has been read and
/// judged, before anything is recorded.
struct Prepared {
    src: source::Source,
    revision: Option<String>,
    files: Vec<FileRecord>,
    manifest_digest: Sha256Digest,
    bytes: u64,
    upstream_checked: usize,
    license_id: Option<String>,
    license_sha256: Option<Sha256Digest>,
    notes: Vec<String>,
    decision: crate::safety::Decision,
    oms: Option<crate::records::OmsCheck>,
}

/// What the label rules decided.
enum Label {
    /// Record a new version under this label.
    New(String),
    /// This content is already registered as this version: a no-op.
    Same(Box<VersionRecord>),
}

/// What `import PATH` will import: each model with its name and folder. A
/// Hugging Face hub cache root gives one per repo (`repo` picks one); any
/// other path gives one, named by `name` or by its Hugging Face layout.
pub fn plan(
    path: &Path,
    name: Option<&str>,
    repo: Option<&str>,
) -> Result<Vec<(ModelName, PathBuf)>> {
    if let Some(repos) = source::hub_repos(path)? {
        let chosen: Vec<(String, PathBuf)> = match repo {
            Some(r) => repos.into_iter().filter(|(n, _)| n == r).collect(),
            None => repos,
        };
        if chosen.is_empty() {
            return Err(Error::not_found(
                "repo in the hub cache",
                format!("{} in `{}`", repo.unwrap_or("-"), path.display()),
            ));
        }
        if name.is_some() && chosen.len() > 1 {
            return Err(Error::usage(
                "`--name` names one model; this hub cache holds several (`--repo ORG/NAME` picks one)",
            ));
        }
        return chosen
            .into_iter()
            .map(|(n, p)| Ok((name.unwrap_or(&n).parse()?, p)))
            .collect();
    }
    if repo.is_some() {
        return Err(Error::usage(
            "`--repo` picks a repo of a Hugging Face hub cache, and this is not one",
        ));
    }
    let name = match name {
        Some(n) => n.to_string(),
        None => source::inferred_name(path).ok_or_else(|| {
            Error::usage(
                "importing needs `--name NAME` (e.g. `--name mistralai/Mistral-7B-v0.3`); only a Hugging Face cache layout names its model itself",
            )
        })?,
    };
    Ok(vec![(name.parse()?, path.to_path_buf())])
}

/// Import a model folder (or a single model file).
pub fn import_dir(
    reg: &mut Registry,
    dir: &Path,
    opts: &ImportOptions,
    progress: &dyn ProgressFactory,
) -> Result<ImportOutcome> {
    let _lock = reg.lock()?;
    // Any temp file present now is from an interrupted run: we hold the lock.
    reg.store.clear_temps()?;
    let (mut src, revision) = read_source(dir, opts)?;
    let staging = Staging::new(&reg.store)?;
    let read = ingest_all(reg, &src, opts, progress, &staging)?;
    // The records hold all that is needed of the source list from here.
    src.files = Vec::new();
    crate::fsio::trim_heap();
    let mut p = prepare(src, revision, read, opts, &staging)?;
    oms_check(reg, opts, &mut p, &staging)?;
    match choose_label(reg, opts, &p)? {
        Label::Same(v) => heal(reg, &v, p, staging),
        Label::New(label) => record(reg, opts, p, label, staging),
    }
}

/// 1. The source and what upstream says about it; the revision given must
///    agree with the one the download recorded.
fn read_source(dir: &Path, opts: &ImportOptions) -> Result<(source::Source, Option<String>)> {
    let src = source::resolve(dir, opts.revision.as_deref())?;
    if src.files.is_empty() {
        return Err(Error::input(format!(
            "`{}` holds no files to import",
            dir.display()
        )));
    }
    if let (Some(given), Some(found)) = (&opts.revision, &src.revision)
        && given != found
        && src.layout != source::Layout::HfCache
    {
        return Err(Error::input(format!(
            "`--revision {given}` disagrees with the download, which records revision {found}"
        )));
    }
    let revision = opts.revision.clone().or(src.revision.clone());
    Ok((src, revision))
}

/// What the reading pass leaves: each file's record (its inspection still
/// to come), in the source's order, and the model card's first bytes.
struct Read {
    files: Vec<FileRecord>,
    card_head: Vec<u8>,
}

/// 2. One pass over every byte, on every core, largest files first: each
///    file hashed, checked against upstream and staged (bytes the store
///    already holds, unchanged, are not staged again), and its record made
///    at once — a model of many files is held once, as records. Nothing is
///    in the store yet.
fn ingest_all(
    reg: &Registry,
    src: &source::Source,
    opts: &ImportOptions,
    progress: &dyn ProgressFactory,
    staging: &Staging<'_>,
) -> Result<Read> {
    let total: u64 = src.files.iter().map(|f| f.size).sum();
    let bar = progress.start("import", total);
    let mut order: Vec<usize> = (0..src.files.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(src.files[i].size));
    let known = reg.db.blob_stats()?;
    let replace_if = |d: &Sha256Digest, st: &BlobStat| known.get(d) != Some(st);
    // What each file's bytes are expected to be: upstream's sha256, else the
    // same path and size in the newest version of this model.
    let previous: std::collections::HashMap<String, (u64, Sha256Digest)> =
        match reg.db.versions_of(&opts.name)?.last() {
            Some(v) => reg
                .files(v)?
                .into_iter()
                .map(|f| (f.path.to_string(), (f.size, f.sha256)))
                .collect(),
            None => Default::default(),
        };
    let store = &reg.store;
    let predict = |sf: &SourceFile| -> Option<Sha256Digest> {
        let d = sf
            .expect
            .iter()
            .find(|e| e.algo == Algo::Sha256)
            .and_then(|e| e.value.parse().ok())
            .or_else(|| {
                previous
                    .get(sf.rel.as_str())
                    .filter(|(size, _)| *size == sf.size)
                    .map(|(_, d)| *d)
            })?;
        // Only a stored copy still known good (its stat unchanged) counts.
        let st = store.stat(&d).ok()??;
        (!replace_if(&d, &st)).then_some(d)
    };
    if !opts.link {
        let unknown: u64 = src
            .files
            .iter()
            .filter(|sf| predict(sf).is_none())
            .map(|sf| sf.size)
            .sum();
        crate::fsio::ensure_room(&reg.store.tmp_dir(), unknown, "the model's new files")?;
    }
    let card_head = std::sync::Mutex::new(Vec::new());
    let results = crate::parallel::try_map(&order, |&i| {
        let sf = &src.files[i];
        let ing = ingest_one(staging, sf, opts.link, &*bar, &replace_if, predict(sf))?;
        // The first bytes are kept only where they are read later (the
        // model card): a hundred thousand files must not keep 64 KiB each.
        if sf.rel.as_str().eq_ignore_ascii_case("README.md") {
            *card_head.lock().unwrap_or_else(|p| p.into_inner()) = ing.head;
        }
        let checked: Vec<String> = sf
            .expect
            .iter()
            .map(|e| format!("{} from {}", e.algo.as_str(), e.origin))
            .collect();
        Ok((
            i,
            FileRecord {
                path: sf.rel.clone(),
                size: ing.size,
                sha256: ing.sha256,
                // Filled in by the safety inspection.
                format: crate::formats::Format::Other,
                upstream_check: (!checked.is_empty()).then(|| checked.join("; ")),
                safety: None,
                pieces: ing.pieces,
            },
        ))
    });
    bar.finish();
    // Back into the source's order, in place.
    let mut results = results?;
    results.sort_unstable_by_key(|(i, _)| *i);
    Ok(Read {
        files: results.into_iter().map(|(_, f)| f).collect(),
        card_head: card_head.into_inner().unwrap_or_else(|p| p.into_inner()),
    })
}

/// 3. The records: files with the upstream checks they passed, the manifest
///    digest, each file inspected under the model-file safety policy, the
///    licence, and notes for what is missing.
fn prepare(
    mut src: source::Source,
    revision: Option<String>,
    read: Read,
    opts: &ImportOptions,
    staging: &Staging<'_>,
) -> Result<Prepared> {
    let Read {
        mut files,
        card_head,
    } = read;
    let mut notes = std::mem::take(&mut src.notes);
    let (license_id, license_sha256) = licence(staging, &files, &card_head, opts, &mut notes)?;
    let bytes = files.iter().map(|f| f.size).sum();
    let upstream_checked = files.iter().filter(|f| f.upstream_check.is_some()).count();
    let manifest_digest = manifest::digest(&files);
    // Know what each file is before anyone loads it.
    let decision = crate::safety::check_stored(
        &|d| staging.path(d),
        &mut files,
        opts.allow_unsafe.as_ref(),
        None,
    )?;
    if license_id.is_none() {
        notes.push(
            "no licence id given or found in the model card; `--license ID` records one".into(),
        );
    }
    if opts.owner.is_none() {
        notes.push("no owner named; `--owner WHO` records one".into());
    }
    Ok(Prepared {
        bytes,
        src,
        revision,
        files,
        manifest_digest,
        upstream_checked,
        license_id,
        license_sha256,
        notes,
        decision,
        oms: None,
    })
}

/// 3b. An OpenSSF model signature — `model.sig` among the files, or the
///     file `--oms-signature` names — checked against the digests just
///     computed (no second read) and this registry's model signers.
fn oms_check(
    reg: &Registry,
    opts: &ImportOptions,
    p: &mut Prepared,
    staging: &Staging<'_>,
) -> Result<()> {
    let mut warnings = Vec::new();
    let subject = opts.name.to_string();
    p.oms = match &opts.oms_signature {
        Some(path) => {
            let bytes = crate::fsio::read_small(path, crate::oms::SIG_CAP)?;
            let what = path.display().to_string();
            Some(crate::oms::check(
                reg,
                &what,
                bytes.as_bytes(),
                &p.files,
                &mut warnings,
            )?)
        }
        None => {
            crate::oms::check_files(reg, &subject, &p.files, &|d| staging.path(d), &mut warnings)?
        }
    };
    p.decision.warnings.extend(warnings);
    Ok(())
}

/// 4. The label: explicit, else the revision's first 12 hex, else the next
///    `vN`. The same content again without an explicit label, or under the
///    same label, is a no-op; other content under a taken label is refused.
fn choose_label(reg: &Registry, opts: &ImportOptions, p: &Prepared) -> Result<Label> {
    let existing = reg.db.versions_of(&opts.name)?;
    let label = match &opts.version {
        Some(l) => l.as_str().to_string(),
        None => {
            if let Some(v) = existing
                .iter()
                .find(|v| v.manifest_digest == p.manifest_digest)
            {
                return Ok(Label::Same(Box::new(v.clone())));
            }
            derived_label(&existing, p.revision.as_deref())
        }
    };
    match existing.into_iter().find(|v| v.label == label) {
        Some(v) if v.manifest_digest == p.manifest_digest => Ok(Label::Same(Box::new(v))),
        Some(v) => Err(Error::VersionConflict {
            name: opts.name.to_string(),
            label,
            existing: v.manifest_digest,
            new: p.manifest_digest,
            integrity: false,
        }),
        None => Ok(Label::New(label)),
    }
}

fn derived_label(existing: &[VersionRecord], revision: Option<&str>) -> String {
    if let Some(r) = revision
        && r.len() >= 12
        && r.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return r[..12].to_ascii_lowercase();
    }
    let mut n = existing.len() + 1;
    while existing.iter().any(|v| v.label == format!("v{n}")) {
        n += 1;
    }
    format!("v{n}")
}

/// The blob rows of a version's files and licence text, from the store as
/// it is after the commit, made one at a time as they are recorded. Each
/// digest once: the files are visited in digest order (a list of indices,
/// not of rows).
fn blob_rows<'a>(
    reg: &'a Registry,
    files: &'a [FileRecord],
    license: Option<Sha256Digest>,
) -> impl Iterator<Item = Result<crate::db::BlobRow>> + 'a {
    let mut order: Vec<u32> = (0..files.len() as u32).collect();
    order.sort_unstable_by_key(|&i| files[i as usize].sha256);
    order.dedup_by_key(|&mut i| files[i as usize].sha256);
    let licence_only = license.filter(|d| {
        order
            .binary_search_by_key(d, |&i| files[i as usize].sha256)
            .is_err()
    });
    order
        .into_iter()
        .map(|i| {
            let f = &files[i as usize];
            (f.sha256, Some(f.size), f.pieces.as_ref())
        })
        .chain(licence_only.map(|d| (d, None, None)))
        .map(|(d, size, pieces)| {
            let stat = reg
                .store
                .stat(&d)?
                .ok_or_else(|| Error::not_found("blob", d.to_hex()))?;
            Ok(crate::db::BlobRow {
                sha256: d,
                size: size.unwrap_or(stat.size),
                stat,
                pieces: pieces.cloned(),
            })
        })
}

/// 5. The staged blobs move into the store, then one transaction makes the
///    version, its files, its blobs and its event visible together; if the
///    transaction fails the new blobs go again.
fn record(
    reg: &Registry,
    opts: &ImportOptions,
    p: Prepared,
    label: String,
    staging: Staging<'_>,
) -> Result<ImportOutcome> {
    let committed = staging.commit()?;
    let new_blobs = committed.created.len();
    let now = now_rfc3339();
    // The signed order of a model's versions: strictly after the newest one
    // here, even within one second (or with the clock set back).
    let registered_at = match reg.db.find_version(&opts.name, &VersionSelector::Newest)? {
        Some(newest) if newest.registered_at >= now => {
            crate::clock::parse_canonical(&newest.registered_at)
                .map(|t| crate::clock::format(t + time::Duration::seconds(1)))
                .unwrap_or_else(|| now.clone())
        }
        _ => now.clone(),
    };
    let new = NewVersion {
        name: opts.name.clone(),
        label: label.clone(),
        manifest_digest: p.manifest_digest,
        imported_at: now.clone(),
        imported_by: actor(),
        registry: reg.name().to_string(),
        origin: Origin::Directory,
        layout: p.src.layout.as_str().to_string(),
        source_url: opts.source_url.clone(),
        revision: p.revision.clone(),
        license_id: p.license_id.clone(),
        license_sha256: p.license_sha256,
        disclosure: opts.disclosure,
        disclosure_notes: opts.data_notes.clone(),
        owner: opts.owner.clone(),
        files: p.files,
        statement: crate::records::StatementBytes::None,
        bundle_id: None,
        approvals: Vec::new(),
        allowance: opts
            .allow_unsafe
            .clone()
            .filter(|_| !p.decision.allowed_unsafe.is_empty())
            .map(|a| (a, p.decision.allowed_unsafe.clone())),
        registered_at,
        oms: p.oms.clone(),
    };
    // The statement is a function of these records: it is made (and kept)
    // when first needed — by `sign` or `export` — not held here beside
    // every file record of a large model.
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::Import,
        format!("{}@{}", new.name, new.label),
        serde_json::json!({
            "manifest_digest": new.manifest_digest.to_hex(),
            "layout": new.layout,
            "source": new.source_url,
            "revision": new.revision,
            "license": new.license_id,
            "files": new.files.len(),
            "bytes": p.bytes,
            "unsafe_allowed": new.allowance.as_ref().map(|(a, files)| serde_json::json!({"reason": a.reason, "files": files})),
        }),
    );
    reg.db.insert_version(
        &new,
        &mut blob_rows(reg, &new.files, new.license_sha256),
        &now,
        &event,
    )?;
    committed.keep();
    Ok(ImportOutcome {
        name: opts.name.clone(),
        version: label,
        manifest_digest: p.manifest_digest,
        created: true,
        layout: p.src.layout.as_str().to_string(),
        revision: p.revision,
        files: new.files.len(),
        bytes: p.bytes,
        new_blobs,
        upstream_checked: p.upstream_checked,
        license_id: p.license_id,
        notes: p.notes,
        warnings: p.decision.warnings,
    })
}

/// The content is already registered: nothing new is recorded, but a blob
/// that had gone missing or changed is put back from the freshly verified
/// bytes (the rerun heals), and its stat is recorded as known good.
fn heal(
    reg: &Registry,
    v: &VersionRecord,
    p: Prepared,
    staging: Staging<'_>,
) -> Result<ImportOutcome> {
    let committed = staging.commit()?;
    let healed = committed.created.len();
    reg.db.record_blobs(
        &mut blob_rows(reg, &p.files, p.license_sha256),
        &now_rfc3339(),
    )?;
    committed.keep();
    let mut notes = p.notes;
    notes.push(if healed > 0 {
        format!(
            "`{}@{}` already holds this content; {healed} missing blob(s) were restored from it",
            v.name, v.label
        )
    } else {
        format!(
            "`{}@{}` already holds this content; nothing changed",
            v.name, v.label
        )
    });
    Ok(ImportOutcome {
        name: v.name.clone(),
        version: v.label.clone(),
        manifest_digest: v.manifest_digest,
        created: false,
        layout: p.src.layout.as_str().to_string(),
        revision: v.revision.clone(),
        files: p.files.len(),
        bytes: p.bytes,
        new_blobs: 0,
        upstream_checked: p.upstream_checked,
        license_id: v.license_id.clone(),
        notes,
        warnings: p.decision.warnings,
    })
}

/// Compare what was read with every upstream expectation for the file.
fn check_upstream(
    sf: &SourceFile,
    sha256: &Sha256Digest,
    git: Option<&str>,
    size: u64,
) -> Result<()> {
    for e in &sf.expect {
        let found = match e.algo {
            Algo::Sha256 => sha256.to_hex(),
            Algo::GitSha1 => git.unwrap_or_default().to_string(),
            Algo::Size => size.to_string(),
        };
        if found != e.value {
            return Err(Error::UpstreamMismatch {
                path: sf.rel.to_string(),
                source_of_hash: e.origin.clone(),
                algo: e.algo.as_str(),
                expected: e.value.clone(),
                found,
            });
        }
    }
    Ok(())
}

fn ingest_one(
    staging: &Staging<'_>,
    sf: &SourceFile,
    link: bool,
    bar: &dyn Progress,
    replace_if: &ReplaceFn<'_>,
    predicted: Option<Sha256Digest>,
) -> Result<Ingested> {
    let check = |d: &Sha256Digest, git: Option<&str>, size: u64| check_upstream(sf, d, git, size);
    let what = sf.path.display().to_string();
    let spec = IngestSpec {
        size_hint: sf.size,
        want_git_sha1: sf.wants_git_sha1(),
        what: &what,
        check: &check,
        replace_if,
        piece: Some(crate::digest::piece_size()),
    };
    // Bytes the store most likely holds already are hashed, not written:
    // a no-op re-import needs no free space. Only if they turn out to
    // differ (and pass upstream's check) are they read again and staged.
    if let Some(d) = predicted {
        let mut f = open_regular(&sf.path)?;
        let git_len = spec.want_git_sha1.then_some(spec.size_hint);
        let s = store::stream_pieces(
            &mut f,
            spec.what,
            git_len,
            spec.piece,
            &mut store::discard(),
            bar,
        )?;
        (spec.check)(&s.sha256, s.git_sha1.as_deref(), s.size)?;
        if s.sha256 == d {
            return Ok(s);
        }
    }
    if link && let Some(r) = try_link(staging, sf, &spec, bar)? {
        return Ok(r);
    }
    let mut f = open_regular(&sf.path)?;
    staging.ingest(&mut f, &spec, bar)
}

/// `--link`: hard-link the source into the staging folder and hash through
/// that link; the commit renames it into place. `None` when the file system
/// will not link.
fn try_link(
    staging: &Staging<'_>,
    sf: &SourceFile,
    spec: &IngestSpec<'_>,
    bar: &dyn Progress,
) -> Result<Option<Ingested>> {
    let Some(link) = staging.link(&sf.path) else {
        return Ok(None);
    };
    let mut f = open_regular(&link)?;
    let git_len = spec.want_git_sha1.then_some(spec.size_hint);
    let s = store::stream(&mut f, spec.what, git_len, &mut store::discard(), bar)?;
    (spec.check)(&s.sha256, s.git_sha1.as_deref(), s.size)?;
    staging.adopt_link(link, s.sha256, spec)?;
    Ok(Some(s))
}

/// The licence id and the blob holding its text.
fn licence(
    staging: &Staging<'_>,
    files: &[FileRecord],
    card_head: &[u8],
    opts: &ImportOptions,
    notes: &mut Vec<String>,
) -> Result<(Option<String>, Option<Sha256Digest>)> {
    let text = match &opts.license_file {
        Some(p) => {
            let mut f = open_regular(p)?;
            let keep = |_: &Sha256Digest, _: &BlobStat| false;
            let ok = |_: &Sha256Digest, _: Option<&str>, _: u64| Ok(());
            let what = p.display().to_string();
            let spec = IngestSpec {
                size_hint: 0,
                want_git_sha1: false,
                what: &what,
                check: &ok,
                replace_if: &keep,
                piece: None,
            };
            let ing = staging.ingest(&mut f, &spec, &crate::progress::NoProgress)?;
            Some(ing.sha256)
        }
        None => {
            let mut candidates: Vec<&FileRecord> = files
                .iter()
                .filter(|f| {
                    let p = f.path.as_str();
                    let up = p.to_ascii_uppercase();
                    !p.contains('/') && (up.starts_with("LICENSE") || up.starts_with("LICENCE"))
                })
                .collect();
            candidates.sort_by_key(|f| (f.path.as_str().len(), f.path.clone()));
            candidates.first().map(|f| f.sha256)
        }
    };
    let card = files
        .iter()
        .any(|f| f.path.as_str().eq_ignore_ascii_case("README.md"))
        .then(|| crate::card::parse(card_head))
        .flatten();
    let id = match &opts.license_id {
        Some(id) => Some(id.clone()),
        None => card.as_ref().and_then(crate::card::ModelCard::license_id),
    };
    if opts.license_id.is_none()
        && let Some(c) = card.as_ref().filter(|c| c.licenses.len() > 1)
    {
        notes.push(format!(
            "the model card lists {} licences ({}); recorded `{}`; `--license ID` records another",
            c.licenses.len(),
            c.licenses.join(", "),
            id.as_deref().unwrap_or("-")
        ));
    }
    if let (Some(i), None) = (&id, &text) {
        notes.push(format!(
            "licence `{i}` is named but no licence text is in the folder (LICENSE…): recorded as missing, and `license check` will ask for review; `--license-file FILE` attaches the text"
        ));
    }
    Ok((id, text))
}
