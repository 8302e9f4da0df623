//! `push REF… oci://HOST[:PORT]/REPO[:TAG]`: each version as a ModelPack
//! artifact, in this order so that a reader never finds a manifest whose
//! blobs are missing:
//!
//! 1. every blob the registry lacks (HEAD first; a cross-repository mount
//!    from a repository this home pushed to before; else an upload, in
//!    chunks above the chunk size), in parallel with a bound;
//! 2. the model manifest under its tag;
//! 3. the statement referrer by digest; if the registry did not answer
//!    `OCI-Subject` (no referrers API), the referrers tag `sha256-<hex>` is
//!    updated to list it too.
//!
//! Memory stays flat: a blob goes up as a stream of its store file.

use serde::Serialize;

use super::Connection;
use super::client::{Body, Client};
use super::{Artifact, MANIFEST, OciRef, artifact};
use crate::db::OciLocationRow;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::progress::ProgressFactory;
use crate::records::OciLocation;
use crate::records::VersionRecord;
use crate::registry::Registry;

/// Uploads larger than this go up in chunks of this size
/// (`AIRLOCK_OCI_CHUNK_MIB` overrides; default 64 MiB).
pub fn chunk_size() -> u64 {
    std::env::var("AIRLOCK_OCI_CHUNK_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|m| *m > 0)
        .unwrap_or(64)
        << 20
}

/// What `push` did for one version.
#[derive(Debug, Serialize)]
pub struct PushedVersion {
    /// `name@label`.
    pub version: String,
    /// The tag it went under.
    pub tag: String,
    /// The model manifest's digest (hex).
    pub oci_manifest_digest: String,
    /// The statement referrer's digest (hex).
    pub statement_digest: String,
    /// Approvals in the pushed statement.
    pub approvals: usize,
    /// Whether the registry indexed the referrer itself (referrers API);
    /// false: the referrers tag was written.
    pub referrers_api: bool,
    /// Whether a signed revocation of the version went with it.
    pub revocation: bool,
}

/// What `push` did.
#[derive(Debug, Serialize)]
pub struct PushOutcome {
    /// `host[:port]`.
    pub registry: String,
    /// The repository.
    pub repository: String,
    /// The versions.
    pub versions: Vec<PushedVersion>,
    /// Blobs uploaded.
    pub uploaded_blobs: usize,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
    /// Blobs mounted from another repository.
    pub mounted_blobs: usize,
    /// Blobs the registry already had.
    pub skipped_blobs: usize,
}

enum Sent {
    Skipped,
    Mounted,
    Uploaded(u64),
}

/// Push `versions` to `r`.
pub fn push(
    reg: &Registry,
    versions: &[VersionRecord],
    r: &OciRef,
    conn: &Connection,
    progress: &dyn ProgressFactory,
) -> Result<PushOutcome> {
    if r.digest.is_some() {
        return Err(Error::Usage(format!(
            "`{r}`: a push names a tag, not a digest (the digest is the manifest's own)"
        )));
    }
    if r.tag.is_some() && versions.len() > 1 {
        return Err(Error::Usage(format!(
            "`{r}` names one tag for {} versions; push them without a tag (each goes under its label)",
            versions.len()
        )));
    }
    let arts: Vec<Artifact> = versions
        .iter()
        .map(|v| artifact(reg, v))
        .collect::<Result<Vec<_>>>()?;
    let tags: Vec<String> = arts
        .iter()
        .map(|a| r.tag.clone().unwrap_or_else(|| a.tag.clone()))
        .collect();
    for (i, t) in tags.iter().enumerate() {
        if tags[..i].contains(t) {
            return Err(Error::Usage(format!(
                "two versions would take the tag `{t}` in {}/{}; push them to separate repositories or one at a time with a tag",
                r.registry, r.repository
            )));
        }
    }
    let mounts: Vec<String> = reg
        .db
        .pushed_repositories(&r.registry)?
        .into_iter()
        .filter(|m| *m != r.repository)
        .collect();
    let client = Client::new(r, conn, true, &mounts)?;
    let chunk = chunk_size();
    let mut outcome = PushOutcome {
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        versions: Vec::new(),
        uploaded_blobs: 0,
        uploaded_bytes: 0,
        mounted_blobs: 0,
        skipped_blobs: 0,
    };
    // Step 1: blobs, each once over all versions.
    let mut seen = std::collections::HashSet::new();
    let mut files: Vec<(Sha256Digest, u64)> = Vec::new();
    for a in &arts {
        for b in &a.blobs {
            if seen.insert(b.0) {
                files.push(*b);
            }
        }
    }
    let total: u64 = files.iter().map(|(_, s)| s).sum();
    let bar = progress.start("push", total);
    let send_one = |d: &Sha256Digest, body: Body<'_>, size: u64| -> Result<Sent> {
        if client.has_blob(d)? {
            return Ok(Sent::Skipped);
        }
        for m in &mounts {
            if client.mount(d, m)? {
                return Ok(Sent::Mounted);
            }
        }
        client.upload(d, &body, size, chunk)?;
        Ok(Sent::Uploaded(size))
    };
    let store = &reg.store;
    let sent = crate::parallel::try_map_with(conn.jobs.max(1), &files, |(d, size)| {
        let path = store.blob_path(d);
        let s = send_one(
            d,
            Body::File {
                path: &path,
                offset: 0,
                len: *size,
            },
            *size,
        )?;
        bar.inc(*size);
        Ok(s)
    });
    bar.finish();
    let mut all = sent?;
    for a in &arts {
        for (bytes, d) in a.small_blobs() {
            if seen.insert(d) {
                all.push(send_one(&d, Body::Bytes(bytes), bytes.len() as u64)?);
            }
        }
    }
    for s in all {
        match s {
            Sent::Skipped => outcome.skipped_blobs += 1,
            Sent::Mounted => outcome.mounted_blobs += 1,
            Sent::Uploaded(n) => {
                outcome.uploaded_blobs += 1;
                outcome.uploaded_bytes += n;
            }
        }
    }
    // Steps 2 and 3, per version.
    let now = crate::clock::now_rfc3339();
    let mut rows = Vec::new();
    let mut events = Vec::new();
    for ((a, v), tag) in arts.iter().zip(versions).zip(&tags) {
        client.put_manifest(tag, MANIFEST, &a.manifest)?;
        let rd = Sha256Digest::of(&a.referrer);
        let mut indexed = true;
        let mut unlisted = Vec::new();
        for (bytes, desc) in a.referrers() {
            let d = Sha256Digest::of(bytes);
            if !client.put_manifest(&format!("sha256:{d}"), MANIFEST, bytes)? {
                indexed = false;
                unlisted.push(desc);
            }
        }
        if !unlisted.is_empty() {
            client.index_referrers(&a.manifest_digest, unlisted)?;
        }
        rows.push(OciLocationRow {
            name: v.name.clone(),
            label: v.label.clone(),
            location: OciLocation {
                direction: "push".into(),
                registry: r.registry.clone(),
                repository: r.repository.clone(),
                tag: Some(tag.clone()),
                manifest_digest: a.manifest_digest.to_hex(),
                at: now.clone(),
                by: crate::actor::actor(),
            },
        });
        events.push(EventDraft::new(
            EventKind::Push,
            a.subject.clone(),
            serde_json::json!({
                "registry": r.registry, "repository": r.repository, "tag": tag,
                "oci_manifest_digest": a.manifest_digest.to_hex(),
                "statement_digest": rd.to_hex(), "approvals": a.approvals,
                "revocation": a.revocation.is_some(),
            }),
        ));
        outcome.versions.push(PushedVersion {
            version: a.subject.clone(),
            tag: tag.clone(),
            oci_manifest_digest: a.manifest_digest.to_hex(),
            statement_digest: rd.to_hex(),
            approvals: a.approvals,
            referrers_api: indexed,
            revocation: a.revocation.is_some(),
        });
    }
    reg.db.record_oci(&rows, &events)?;
    Ok(outcome)
}
