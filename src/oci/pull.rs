//! `pull oci://…` and `import OCI_LAYOUT_DIR`: a version arrives from an OCI
//! carrier with the checks of a bundle import, in this order, failing
//! closed:
//!
//! 1. The model manifest (capped), its digest (the one asked for, if a
//!    digest was), its ModelPack type, every layer raw with a path.
//! 2. The statement referrers of that digest (the referrers API, else the
//!    referrers tag): each one's envelope (capped, digest-checked) against
//!    the trust store and the approval policy; the best-approved one wins,
//!    none is exit 3.
//! 3. The layers against the signed files: the same paths, each with the
//!    signed sha256 and size, nothing more, nothing less; the licence text
//!    in the referrer.
//! 4. Immutability (a label holding other content is refused) and the
//!    rollback rule (an older version needs `--allow-downgrade`).
//! 5. Every blob not in the store: fetched in parallel (a bound), staged
//!    outside the store while hashed, refused unless its bytes are the
//!    signed digest, size and pieces. Each finished blob is also kept under
//!    `HOME/pulls/<manifest>/`, so an interrupted pull resumes from there
//!    (kept blobs are hashed again as they are staged; partial ones are
//!    fetched again).
//! 6. The safety policy on the staged bytes, then one commit: blobs into the
//!    store, one transaction for the version, its approvals, where it came
//!    from and the event.

use std::collections::{BTreeMap, HashMap};
use std::io::Read;
use std::path::PathBuf;

use serde::Serialize;

use super::Connection;
use super::client::Client;
use super::layout::Layout;
use super::{
    DSSE_LAYER, Descriptor, FILEPATH, LICENSE_LAYER, MANIFEST, MANIFEST_CAP, MAX_REFERRERS,
    MODEL_ARTIFACT, MODEL_CONFIG, Manifest, OciRef, REVOCATION_ARTIFACT, SMALL_CAP,
    STATEMENT_ARTIFACT,
};
use crate::bundle::STATEMENT_CAP;
use crate::bundle::import::{
    Approved, BundleOptions, Carrier, check_envelope, existing_version, judge_order, new_version,
};
use crate::db::{BlobRow, OciLocationRow};
use crate::digest::{Pieces, Sha256Digest};
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::progress::ProgressFactory;
use crate::records::OciLocation;
use crate::records::Origin;
use crate::registry::Registry;
use crate::store::{BlobStat, IngestSpec, Staging};
use crate::trust::revocation::{self, REVOCATION_CAP, Revocation};

/// Where an OCI artifact is read from.
pub(crate) trait Source: Sync {
    /// The registry (`host[:port]`, or `oci-layout`) and repository (or folder).
    fn location(&self) -> (String, String);
    /// A manifest by tag or `sha256:<hex>`, capped; `None` if absent.
    fn manifest(&self, reference: &str, cap: u64) -> Result<Option<Vec<u8>>>;
    /// The statement referrers of `subject`, and how they were found.
    fn referrers(&self, subject: &Sha256Digest) -> Result<(Vec<Descriptor>, &'static str)>;
    /// The bytes of blob `d`.
    fn blob(&self, d: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>>;
}

impl Source for Client {
    fn location(&self) -> (String, String) {
        (self.registry.clone(), self.repository.clone())
    }
    fn manifest(&self, reference: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        Ok(self.get_manifest(reference, cap)?.map(|(b, _)| b))
    }
    fn referrers(&self, subject: &Sha256Digest) -> Result<(Vec<Descriptor>, &'static str)> {
        let (list, api) = Client::referrers(self, subject)?;
        Ok((
            list,
            if api {
                "the referrers API"
            } else {
                "the referrers tag"
            },
        ))
    }
    fn blob(&self, d: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(self.get_blob(d)?.reader()))
    }
}

/// How to pull.
#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    /// The bundle-import permissions (`--allow-unsafe`, `--allow-downgrade`).
    pub import: BundleOptions,
    /// How to reach the registry.
    pub connection: Connection,
}

/// What a pull (or a layout import) did for one version.
#[derive(Debug, Serialize)]
pub struct PulledVersion {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// airlock's manifest digest (hex).
    pub manifest_digest: String,
    /// The OCI model manifest's digest (hex).
    pub oci_manifest_digest: String,
    /// Approvals that counted.
    pub approvals: usize,
    /// False when the registry here already had it.
    pub created: bool,
    /// Blobs fetched from the carrier.
    pub fetched_blobs: usize,
    /// Bytes fetched.
    pub fetched_bytes: u64,
    /// Blobs taken from an interrupted earlier pull.
    pub resumed_blobs: usize,
    /// How the statement was found.
    pub statement_from: String,
}

/// What `pull` or `import OCI_LAYOUT_DIR` did.
#[derive(Debug, Serialize)]
pub struct PullOutcome {
    /// `host[:port]` or `oci-layout`.
    pub registry: String,
    /// The repository or the layout folder.
    pub repository: String,
    /// The versions.
    pub versions: Vec<PulledVersion>,
    /// Things to look at (safety warnings, downgrades).
    pub warnings: Vec<String>,
}

/// Pull one version from a registry.
pub fn pull(
    reg: &mut Registry,
    r: &OciRef,
    opts: &PullOptions,
    progress: &dyn ProgressFactory,
) -> Result<PullOutcome> {
    let reference = match (&r.digest, &r.tag) {
        (Some(d), _) => format!("sha256:{d}"),
        (None, Some(t)) => t.clone(),
        (None, None) => "latest".to_string(),
    };
    let client = Client::new(r, &opts.connection, false, &[])?;
    let _lock = reg.lock()?;
    reg.store.clear_temps()?;
    let mut outcome = PullOutcome {
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        versions: Vec::new(),
        warnings: Vec::new(),
    };
    let v = intake(
        reg,
        &client,
        &reference,
        r.tag.clone(),
        &opts.import,
        opts.connection.jobs,
        progress,
        &mut outcome.warnings,
    )?;
    outcome.versions.push(v);
    Ok(outcome)
}

/// Import every ModelPack version an OCI image layout lists (or the one
/// tagged `tag`), each all or nothing.
pub fn import_layout(
    reg: &mut Registry,
    dir: &std::path::Path,
    tag: Option<&str>,
    opts: &BundleOptions,
    progress: &dyn ProgressFactory,
) -> Result<PullOutcome> {
    let layout = Layout::open(dir)?;
    let wanted = layout.model_manifests(tag)?;
    let _lock = reg.lock()?;
    reg.store.clear_temps()?;
    let (registry, repository) = layout.location();
    let mut outcome = PullOutcome {
        registry,
        repository,
        versions: Vec::new(),
        warnings: Vec::new(),
    };
    for (digest, tag) in wanted {
        let v = intake(
            reg,
            &layout,
            &format!("sha256:{digest}"),
            tag,
            opts,
            crate::parallel::workers(usize::MAX),
            progress,
            &mut outcome.warnings,
        )?;
        outcome.versions.push(v);
    }
    Ok(outcome)
}

/// Whether `path` is an OCI image layout (it has an `oci-layout` file).
pub fn is_layout(path: &std::path::Path) -> bool {
    path.is_dir() && path.join("oci-layout").is_file()
}

fn hostile(what: impl Into<String>, reason: impl Into<String>) -> Error {
    Error::Hostile {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Step 1: the model manifest, checked into a type.
fn model_manifest(
    source: &dyn Source,
    reference: &str,
) -> Result<(Vec<u8>, Sha256Digest, Manifest)> {
    let (registry, repository) = source.location();
    let bytes = source
        .manifest(reference, MANIFEST_CAP)?
        .ok_or_else(|| Error::Registry {
            registry: registry.clone(),
            repository: repository.clone(),
            status: Some(404),
            what: format!("no manifest `{reference}`"),
            hint: Some("check the tag or digest; `skopeo list-tags` shows the tags"),
        })?;
    let digest = Sha256Digest::of(&bytes);
    let what = format!("manifest sha256:{digest}");
    if let Some(asked) = reference.strip_prefix("sha256:")
        && asked != digest.to_hex()
    {
        return Err(Error::DigestMismatch {
            what: format!("manifest {reference} of {registry}/{repository}"),
            expected: asked.to_string(),
            found: digest.to_hex(),
        });
    }
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| hostile(&what, format!("not an OCI image manifest: {e}")))?;
    if m.schema_version != 2 || m.media_type.as_deref().is_some_and(|t| t != MANIFEST) {
        return Err(hostile(
            &what,
            "not an OCI image manifest (schemaVersion 2)",
        ));
    }
    if m.artifact_type.as_deref() != Some(MODEL_ARTIFACT) && m.config.media_type != MODEL_CONFIG {
        return Err(hostile(
            &what,
            format!(
                "not a ModelPack model (artifact type {}, config {})",
                m.artifact_type.as_deref().unwrap_or("none"),
                m.config.media_type
            ),
        ));
    }
    Ok((bytes, digest, m))
}

/// Step 2: the best-approved statement among the referrers, with the
/// licence layer of its referrer.
fn statement_of(
    reg: &Registry,
    source: &dyn Source,
    digest: &Sha256Digest,
    listed: &[Descriptor],
    how: &str,
) -> Result<(Approved, Option<Descriptor>, String)> {
    let candidates: Vec<&Descriptor> = listed
        .iter()
        .filter(|d| {
            d.artifact_type
                .as_deref()
                .is_none_or(|t| t == STATEMENT_ARTIFACT)
        })
        .take(MAX_REFERRERS)
        .collect();
    let required = crate::trust::approvals_required(reg)? as usize;
    let approvers = crate::trust::approver_keys(reg)?;
    let mut best: Option<(Approved, Option<Descriptor>)> = None;
    let mut first_err: Option<Error> = None;
    for d in candidates {
        let what = format!("statement referrer {}", d.digest);
        let attempt = (|| -> Result<Option<(Approved, Option<Descriptor>)>> {
            let Some((m, bytes)) =
                referrer_envelope(source, d, digest, STATEMENT_ARTIFACT, STATEMENT_CAP)?
            else {
                return Ok(None);
            };
            let a = check_envelope(bytes, &what, None, &approvers, required, None)?;
            let licence = m
                .layers
                .iter()
                .find(|l| l.media_type == LICENSE_LAYER)
                .cloned();
            Ok(Some((a, licence)))
        })();
        match attempt {
            Ok(None) => {}
            Ok(Some(found)) => {
                if best
                    .as_ref()
                    .is_none_or(|(b, _)| found.0.approvals.len() > b.approvals.len())
                {
                    best = Some(found);
                }
            }
            Err(e) => {
                if first_err.is_none() {
                    first_err = Some(e);
                }
            }
        }
    }
    match (best, first_err) {
        (Some((a, l)), _) => Ok((a, l, how.to_string())),
        (None, Some(e)) => Err(e),
        (None, None) => Err(Error::Untrusted {
            what: format!("manifest sha256:{digest}"),
            reason: format!(
                "no signed airlock statement refers to it (looked up with {how}); push it with `airlock push`, or copy the referrers tag {} with it",
                super::referrers_tag(digest)
            ),
        }),
    }
}

/// A referrer of `subject` with artifact type `artifact_type`: its manifest
/// and the bytes of its DSSE envelope layer (capped, digest-checked); `None`
/// when it refers to another manifest or is of another type.
fn referrer_envelope(
    source: &dyn Source,
    d: &Descriptor,
    subject: &Sha256Digest,
    artifact_type: &str,
    cap: u64,
) -> Result<Option<(Manifest, Vec<u8>)>> {
    let rd = d.sha256("referrer")?;
    let what = format!("referrer sha256:{rd}");
    let bytes = source
        .manifest(&format!("sha256:{rd}"), SMALL_CAP)?
        .ok_or_else(|| hostile(&what, "listed but absent"))?;
    if Sha256Digest::of(&bytes) != rd {
        return Err(Error::DigestMismatch {
            what: what.clone(),
            expected: rd.to_hex(),
            found: Sha256Digest::of(&bytes).to_hex(),
        });
    }
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| hostile(&what, format!("not an OCI image manifest: {e}")))?;
    if m.artifact_type.as_deref() != Some(artifact_type) {
        return Ok(None);
    }
    match &m.subject {
        Some(s) if s.sha256(&what)? == *subject => {}
        _ => return Ok(None),
    }
    let env = m
        .layers
        .iter()
        .find(|l| l.media_type == DSSE_LAYER)
        .ok_or_else(|| hostile(&what, "no DSSE envelope layer"))?;
    if env.size > cap {
        return Err(hostile(
            &what,
            format!("an envelope of {} bytes, over the {cap} allowed", env.size),
        ));
    }
    let ed = env.sha256(&what)?;
    let mut bytes = Vec::new();
    source
        .blob(&ed)?
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Input(format!("reading envelope sha256:{ed}: {e}")))?;
    let found = Sha256Digest::of(&bytes);
    if found != ed {
        return Err(Error::DigestMismatch {
            what: format!("envelope layer of {what}"),
            expected: ed.to_hex(),
            found: found.to_hex(),
        });
    }
    Ok(Some((m, bytes)))
}

/// The signed revocations of this version among the referrers (their
/// signatures are judged like a bundle's: recorded, in force only with
/// enough trusted approvals).
fn revocations_of(
    source: &dyn Source,
    listed: &[Descriptor],
    digest: &Sha256Digest,
    a: &Approved,
) -> Result<Vec<Revocation>> {
    let p = &a.statement.predicate;
    let mut out = Vec::new();
    for d in listed
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(REVOCATION_ARTIFACT))
        .take(MAX_REFERRERS)
    {
        let what = format!("revocation referrer {}", d.digest);
        let Some((_, bytes)) =
            referrer_envelope(source, d, digest, REVOCATION_ARTIFACT, REVOCATION_CAP)?
        else {
            continue;
        };
        let r = revocation::parse(&bytes, &what)?;
        if r.doc.name != p.name
            || r.doc.version != p.version
            || r.doc.manifest_digest != p.manifest_digest
        {
            return Err(hostile(
                &what,
                format!(
                    "it revokes {}@{} ({}), not the version this manifest carries",
                    r.doc.name, r.doc.version, r.doc.manifest_digest
                ),
            ));
        }
        out.push(r);
    }
    Ok(out)
}

/// Step 3: the layers are exactly the signed files.
fn check_layers(m: &Manifest, digest: &Sha256Digest, a: &Approved) -> Result<()> {
    let signed: HashMap<&str, (Sha256Digest, u64)> = a
        .files
        .iter()
        .map(|f| (f.path.as_str(), (f.sha256, f.size)))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for (i, l) in m.layers.iter().enumerate() {
        let ld = l.sha256(&format!("layer {i} of manifest sha256:{digest}"))?;
        let path = l.annotations.get(FILEPATH).ok_or_else(|| {
            hostile(
                format!("layer {i} (sha256:{ld}) of manifest sha256:{digest}"),
                format!("no {FILEPATH} annotation"),
            )
        })?;
        let what = format!("layer `{path}` (sha256:{ld}) of manifest sha256:{digest}");
        if !l.media_type.starts_with("application/vnd.cncf.model.")
            || !l.media_type.ends_with(".raw")
        {
            return Err(hostile(
                &what,
                format!("media type `{}` is not a raw ModelPack layer", l.media_type),
            ));
        }
        let Some((sha, size)) = signed.get(path.as_str()) else {
            return Err(hostile(&what, "not a file of the signed statement"));
        };
        if *sha != ld || *size != l.size {
            return Err(hostile(
                &what,
                format!(
                    "the manifest says sha256 {ld} ({} bytes), the signed statement sha256 {sha} ({size} bytes)",
                    l.size
                ),
            ));
        }
        if !seen.insert(path.as_str()) {
            return Err(hostile(&what, "listed twice"));
        }
    }
    if let Some(missing) = signed.keys().find(|p| !seen.contains(**p)) {
        return Err(hostile(
            format!("manifest sha256:{digest}"),
            format!("file `{missing}` of the signed statement has no layer"),
        ));
    }
    Ok(())
}

/// One blob to fetch.
struct Want {
    digest: Sha256Digest,
    size: u64,
    pieces: Option<Pieces>,
    what: String,
}

/// The folder an interrupted pull of `digest` keeps its finished blobs in.
fn resume_dir(reg: &Registry, digest: &Sha256Digest) -> PathBuf {
    reg.home().join("pulls").join(digest.to_hex())
}

/// Steps 1–6 for one manifest.
#[allow(clippy::too_many_arguments)]
pub(crate) fn intake(
    reg: &Registry,
    source: &dyn Source,
    reference: &str,
    tag: Option<String>,
    opts: &BundleOptions,
    jobs: usize,
    progress: &dyn ProgressFactory,
    warnings: &mut Vec<String>,
) -> Result<PulledVersion> {
    let (_, digest, m) = model_manifest(source, reference)?;
    let (listed, how) = source.referrers(&digest)?;
    let (approved, licence, how) = statement_of(reg, source, &digest, &listed, how)?;
    check_layers(&m, &digest, &approved)?;
    let revocations = revocations_of(source, &listed, &digest, &approved)?;
    let p = &approved.statement.predicate;
    let name: crate::name::ModelName = p.name.parse()?;
    let label: crate::name::VersionLabel = p.version.parse()?;
    let manifest_digest: Sha256Digest = p
        .manifest_digest
        .parse()
        .map_err(|e: crate::digest::ParseDigestError| hostile("statement", e.to_string()))?;
    let (registry, repository) = source.location();
    let location = OciLocationRow {
        name: name.clone(),
        label: label.to_string(),
        location: OciLocation {
            direction: "pull".into(),
            registry,
            repository,
            tag,
            manifest_digest: digest.to_hex(),
            at: crate::clock::now_rfc3339(),
            by: crate::actor::actor(),
        },
    };
    let event = EventDraft::new(
        EventKind::Pull,
        format!("{name}@{label}"),
        serde_json::json!({
            "manifest_digest": manifest_digest.to_hex(),
            "registry": location.location.registry,
            "repository": location.location.repository,
            "oci_manifest_digest": digest.to_hex(),
            "approvals": approved.approvals.iter().map(|a| a.key_id.to_hex()).collect::<Vec<_>>(),
        }),
    );
    let mut out = PulledVersion {
        name: name.to_string(),
        version: label.to_string(),
        manifest_digest: manifest_digest.to_hex(),
        oci_manifest_digest: digest.to_hex(),
        approvals: approved.approvals.len(),
        created: false,
        fetched_blobs: 0,
        fetched_bytes: 0,
        resumed_blobs: 0,
        statement_from: how,
    };
    let received = revocation::receive(reg, &revocations)?;
    let keys = reg.db.trusted_keys()?;
    let required = crate::trust::approvals_required(reg)? as usize;
    for (r, _) in &received {
        if revocation::approvals(r, &keys) >= required {
            warnings.push(format!(
                "{}@{} is revoked ({}, {}): a signed revocation came with it; checkout and deploy refuse it",
                r.doc.name, r.doc.version, r.doc.reason, r.doc.revoked_at
            ));
        }
    }
    let rev_rows: Vec<_> = received.iter().map(|(r, _)| r.row()).collect();
    let mut events = vec![event];
    events.extend(received.into_iter().map(|(_, e)| e));
    if existing_version(reg, &name, &label, &manifest_digest)? {
        reg.db.insert_versions(
            &[],
            &mut std::iter::empty(),
            &crate::clock::now_rfc3339(),
            &crate::db::Arrival {
                bundle: None,
                revocations: &rev_rows,
                oci: &[location],
                evals: &[],
                volume: None,
            },
            &events,
        )?;
        return Ok(out);
    }
    let carrier = Carrier {
        origin: Origin::Oci,
        layout: "oci",
        bundle_id: None,
        created: crate::clock::now_rfc3339(),
    };
    let order = approved
        .statement
        .predicate
        .registered_at
        .clone()
        .unwrap_or_else(|| carrier.created.clone());
    let downgrade = judge_order(reg, &name, &label, &order, opts, warnings)?;

    // Step 5: what to fetch.
    let known = reg.db.blob_stats()?;
    let mut wants: BTreeMap<Sha256Digest, Want> = BTreeMap::new();
    for f in &approved.files {
        let d = f.sha256;
        wants.entry(d).or_insert(Want {
            digest: d,
            size: f.size,
            pieces: f.pieces.clone(),
            what: format!("layer `{}` (sha256:{d})", f.path),
        });
    }
    if let Some(l) = approved.statement.license_digest()? {
        let desc = licence.as_ref().ok_or_else(|| {
            hostile(
                format!("{name}@{label}"),
                format!("the licence text {l} is signed but its referrer carries no licence layer"),
            )
        })?;
        if desc.sha256("licence layer")? != l {
            return Err(hostile(
                format!("licence layer {}", desc.digest),
                format!("the signed statement names licence text sha256:{l}"),
            ));
        }
        wants.entry(l).or_insert(Want {
            digest: l,
            size: desc.size,
            pieces: None,
            what: format!("licence layer sha256:{l}"),
        });
    }
    let wants: Vec<Want> = wants
        .into_values()
        .filter(|w| {
            reg.store
                .stat(&w.digest)
                .ok()
                .flatten()
                .is_none_or(|st| known.get(&w.digest) != Some(&st))
        })
        .collect();
    let new_bytes: u64 = wants.iter().map(|w| w.size).sum();
    crate::fsio::ensure_room(&reg.store.tmp_dir(), new_bytes, "this version's new blobs")?;
    let staging = Staging::new(&reg.store)?;
    let resume = resume_dir(reg, &digest);
    std::fs::create_dir_all(&resume).map_err(|e| Error::io("create directory", &resume, e))?;
    let bar = progress.start("pull", new_bytes);
    let replace_if = |d: &Sha256Digest, st: &BlobStat| known.get(d) != Some(st);
    let store = &reg.store;
    let fetched = std::sync::atomic::AtomicUsize::new(0);
    let resumed = std::sync::atomic::AtomicUsize::new(0);
    let fetch = |w: &Want| -> Result<()> {
        let kept = resume.join(w.digest.to_hex());
        let from_kept = kept.is_file();
        let mut src: Box<dyn Read + Send + '_> = if from_kept {
            Box::new(crate::fsio::open_regular(&kept)?)
        } else {
            source.blob(&w.digest)?
        };
        let check = |found: &Sha256Digest, _: Option<&str>, size: u64| {
            if size != w.size {
                return Err(hostile(
                    &w.what,
                    format!("{size} bytes, the signed statement says {}", w.size),
                ));
            }
            if *found != w.digest {
                return Err(Error::DigestMismatch {
                    what: w.what.clone(),
                    expected: w.digest.to_hex(),
                    found: found.to_hex(),
                });
            }
            Ok(())
        };
        let spec = IngestSpec {
            size_hint: w.size,
            want_git_sha1: false,
            what: &w.what,
            check: &check,
            replace_if: &replace_if,
            piece: w.pieces.as_ref().map(|p| p.size),
        };
        let mut limited = (&mut src).take(w.size + 1);
        let got = match staging.ingest(&mut limited, &spec, &*bar) {
            Err(e) if from_kept => {
                // A kept blob that no longer checks out is fetched again.
                let _ = std::fs::remove_file(&kept);
                return Err(e);
            }
            other => other?,
        };
        if let Some(claim) = &w.pieces
            && got.pieces.as_ref() != Some(claim)
        {
            return Err(hostile(
                &w.what,
                "the signed piece digests do not match its bytes",
            ));
        }
        if from_kept {
            resumed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        } else {
            fetched.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let staged = staging.path(&w.digest);
            if staged != store.blob_path(&w.digest) {
                // Kept for a resume; a link, not a copy.
                let _ = std::fs::hard_link(&staged, &kept);
            }
        }
        Ok(())
    };
    let result = crate::parallel::try_map_with(jobs.max(1), &wants, fetch);
    bar.finish();
    result?;
    out.fetched_blobs = fetched.into_inner();
    out.resumed_blobs = resumed.into_inner();
    out.fetched_bytes = new_bytes;

    // Step 6.
    let new = new_version(reg, &carrier, approved, &staging, opts, warnings)?;
    let mut rows = Vec::new();
    let mut pieces: HashMap<Sha256Digest, Pieces> = HashMap::new();
    for f in &new.files {
        if let Some(p) = &f.pieces {
            pieces.insert(f.sha256, p.clone());
        }
    }
    let committed = staging.commit()?;
    let mut seen = std::collections::HashSet::new();
    let blob_list = new.files.iter().map(|f| (f.sha256, f.size)).chain(
        new.license_sha256
            .map(|l| (l, licence.as_ref().map_or(0, |d| d.size))),
    );
    for (d, size) in blob_list {
        if !seen.insert(d) {
            continue;
        }
        let stat = reg
            .store
            .stat(&d)?
            .ok_or_else(|| Error::not_found("blob", d.to_hex()))?;
        rows.push(BlobRow {
            sha256: d,
            size,
            stat,
            pieces: pieces.get(&d).cloned(),
        });
    }
    if let Some(over) = downgrade {
        events[0].details["downgrade"] =
            serde_json::json!({ "over": over, "reason": opts.allow_downgrade });
    }
    let now = crate::clock::now_rfc3339();
    reg.db.insert_versions(
        &[new],
        &mut rows.into_iter().map(Ok),
        &now,
        &crate::db::Arrival {
            bundle: None,
            revocations: &rev_rows,
            oci: &[location],
            evals: &[],
            volume: None,
        },
        &events,
    )?;
    committed.keep();
    out.created = true;
    let _ = crate::pending::remove_path(&resume);
    Ok(out)
}
