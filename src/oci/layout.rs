//! An OCI image layout on disk (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`): written by `export --format oci-layout`, read by
//! `import DIR` with the checks of a pull, and carried by any OCI tool
//! (`skopeo copy oci:DIR:TAG docker://…`).
//!
//! `index.json` lists, for each version, the model manifest (tagged with
//! `org.opencontainers.image.ref.name`), its statement referrer, and an
//! image index tagged `sha256-<model manifest hex>` that lists the referrer
//! — the referrers tag, so a tool that copies tags carries the statement to
//! a registry without the referrers API.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::pull::Source;
use super::{
    Descriptor, INDEX, ImageIndex, MANIFEST, MANIFEST_CAP, MODEL_ARTIFACT, REF_NAME,
    STATEMENT_ARTIFACT, artifact, referrers_tag,
};
use crate::db::OciLocationRow;
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::progress::ProgressFactory;
use crate::records::OciLocation;
use crate::records::VersionRecord;
use crate::registry::Registry;

/// The `oci-layout` file's content.
const LAYOUT_FILE: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An image layout opened for reading (untrusted input).
pub struct Layout {
    root: PathBuf,
    index: ImageIndex,
}

impl Layout {
    /// Open `dir`: its `oci-layout` marker and `index.json` (capped).
    pub fn open(dir: &Path) -> Result<Layout> {
        let marker = crate::fsio::read_small(&dir.join("oci-layout"), 4096)?;
        let v: serde_json::Value = serde_json::from_str(&marker).map_err(|e| Error::Hostile {
            what: dir.join("oci-layout").display().to_string(),
            reason: format!("not JSON: {e}"),
        })?;
        if v.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
            return Err(Error::Hostile {
                what: dir.join("oci-layout").display().to_string(),
                reason: "imageLayoutVersion is not 1.0.0".into(),
            });
        }
        let path = dir.join("index.json");
        let bytes = read_capped(&path, MANIFEST_CAP)?;
        let index: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| Error::Hostile {
            what: path.display().to_string(),
            reason: format!("not an OCI image index: {e}"),
        })?;
        Ok(Layout {
            root: dir.to_path_buf(),
            index,
        })
    }

    fn blob_path(&self, d: &Sha256Digest) -> PathBuf {
        self.root.join("blobs").join("sha256").join(d.to_hex())
    }

    /// The ModelPack manifests the index lists (or the one tagged `tag`),
    /// with their tags.
    pub fn model_manifests(
        &self,
        tag: Option<&str>,
    ) -> Result<Vec<(Sha256Digest, Option<String>)>> {
        let mut out = Vec::new();
        for d in &self.index.manifests {
            let name = d.annotations.get(REF_NAME).cloned();
            let model = d.media_type == MANIFEST
                && d.artifact_type
                    .as_deref()
                    .is_none_or(|t| t == MODEL_ARTIFACT)
                && !name.as_deref().is_some_and(|n| n.starts_with("sha256-"));
            if !model || tag.is_some_and(|t| name.as_deref() != Some(t)) {
                continue;
            }
            if d.artifact_type.is_none() && name.is_none() {
                continue;
            }
            let digest = d.sha256(&format!("index.json of {}", self.root.display()))?;
            if !out.iter().any(|(x, _)| *x == digest) {
                out.push((digest, name));
            }
        }
        if out.is_empty() {
            return Err(Error::Input(format!(
                "`{}` is an OCI image layout without {}",
                self.root.display(),
                match tag {
                    Some(t) => format!("a model manifest tagged `{t}`"),
                    None => "a ModelPack model manifest".into(),
                }
            )));
        }
        Ok(out)
    }

    fn read_blob_capped(&self, d: &Sha256Digest, cap: u64) -> Result<Option<Vec<u8>>> {
        let path = self.blob_path(d);
        if !path.exists() {
            return Ok(None);
        }
        read_capped(&path, cap).map(Some)
    }
}

/// A file of the layout, read whole up to `cap` bytes (more is hostile).
fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    crate::fsio::open_regular(path)?
        .take(cap + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read", path, e))?;
    if bytes.len() as u64 > cap {
        return Err(Error::Hostile {
            what: path.display().to_string(),
            reason: format!("larger than the {cap} bytes allowed"),
        });
    }
    Ok(bytes)
}

impl Source for Layout {
    fn location(&self) -> (String, String) {
        let abs = std::path::absolute(&self.root).unwrap_or_else(|_| self.root.clone());
        ("oci-layout".into(), abs.display().to_string())
    }

    fn manifest(&self, reference: &str, cap: u64) -> Result<Option<Vec<u8>>> {
        let digest =
            match reference.strip_prefix("sha256:") {
                Some(h) => h
                    .parse()
                    .map_err(|_| Error::Usage(format!("`{reference}` is not a digest")))?,
                None => {
                    let Some(d) = self.index.manifests.iter().find(|d| {
                        d.annotations.get(REF_NAME).map(String::as_str) == Some(reference)
                    }) else {
                        return Ok(None);
                    };
                    d.sha256("index.json")?
                }
            };
        self.read_blob_capped(&digest, cap)
    }

    fn referrers(&self, subject: &Sha256Digest) -> Result<(Vec<Descriptor>, &'static str)> {
        let mut out: Vec<Descriptor> = self
            .index
            .manifests
            .iter()
            .filter(|d| {
                matches!(
                    d.artifact_type.as_deref(),
                    Some(STATEMENT_ARTIFACT | super::REVOCATION_ARTIFACT)
                )
            })
            .cloned()
            .collect();
        if let Some(bytes) = self.manifest(&referrers_tag(subject), super::SMALL_CAP)? {
            let idx: ImageIndex = serde_json::from_slice(&bytes).map_err(|e| Error::Hostile {
                what: format!("referrers tag {}", referrers_tag(subject)),
                reason: format!("not an image index: {e}"),
            })?;
            for d in idx.manifests {
                if !out.iter().any(|o| o.digest == d.digest) {
                    out.push(d);
                }
            }
        }
        Ok((out, "the layout's index"))
    }

    fn blob(&self, d: &Sha256Digest) -> Result<Box<dyn Read + Send + '_>> {
        Ok(Box::new(crate::fsio::open_regular(&self.blob_path(d))?))
    }
}

/// What `export --format oci-layout` wrote.
#[derive(Debug, Serialize)]
pub struct LayoutOutcome {
    /// The layout folder.
    pub out: String,
    /// Each version: `name@label`, its tag and model manifest digest.
    pub versions: Vec<LayoutVersion>,
    /// Blobs written.
    pub blobs: usize,
    /// Bytes of those blobs.
    pub bytes: u64,
}

/// One version in a written layout.
#[derive(Debug, Serialize)]
pub struct LayoutVersion {
    /// `name@label`.
    pub version: String,
    /// Its tag in the layout.
    pub tag: String,
    /// The model manifest's digest (hex).
    pub oci_manifest_digest: String,
    /// Approvals carried.
    pub approvals: usize,
}

/// Write `versions` as an OCI image layout at `out` (a new folder, or an
/// empty one), all or nothing.
pub fn export_layout(
    reg: &Registry,
    versions: &[VersionRecord],
    out: &Path,
    progress: &dyn ProgressFactory,
) -> Result<LayoutOutcome> {
    match std::fs::symlink_metadata(out) {
        Ok(m) if m.is_dir() => {
            let empty = std::fs::read_dir(out)
                .map_err(|e| Error::io("read directory", out, e))?
                .next()
                .is_none();
            if !empty {
                return Err(Error::input(format!(
                    "`{}` is not empty; an OCI layout is written into a new or empty folder",
                    out.display()
                )));
            }
        }
        Ok(_) => {
            return Err(Error::input(format!(
                "`{}` exists and is not a folder",
                out.display()
            )));
        }
        Err(_) => {}
    }
    let arts = versions
        .iter()
        .map(|v| artifact(reg, v))
        .collect::<Result<Vec<_>>>()?;
    let mut tags = std::collections::HashSet::new();
    for a in &arts {
        if !tags.insert(a.tag.clone()) {
            return Err(Error::Usage(format!(
                "two versions would take the tag `{}` in one layout; export them into separate layouts",
                a.tag
            )));
        }
    }
    let name = out
        .file_name()
        .ok_or_else(|| Error::input(format!("`{}` has no folder name", out.display())))?
        .to_string_lossy()
        .into_owned();
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| Error::io("create directory", &parent, e))?;
    let pending = crate::pending::begin(
        reg,
        crate::pending::OutputKind::Export,
        out,
        serde_json::json!({ "format": "oci-layout" }),
    )?;
    let mut raw = [0u8; 6];
    getrandom::fill(&mut raw).map_err(|e| Error::system("read system randomness", e))?;
    let staged = parent.join(format!(".{name}.airlock-staging-{}", hex::encode(raw)));
    pending.track(&staged)?;
    let blobs_dir = staged.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs_dir)
        .map_err(|e| Error::io("create directory", &blobs_dir, e))?;
    let write_small = |bytes: &[u8]| -> Result<Sha256Digest> {
        let d = Sha256Digest::of(bytes);
        let p = blobs_dir.join(d.to_hex());
        std::fs::write(&p, bytes).map_err(|e| Error::io("write", &p, e))?;
        Ok(d)
    };
    let mut store_blobs: Vec<(Sha256Digest, u64)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for a in &arts {
        for (d, size) in &a.blobs {
            if seen.insert(*d) {
                store_blobs.push((*d, *size));
            }
        }
    }
    let total: u64 = store_blobs.iter().map(|(_, s)| s).sum();
    crate::fsio::ensure_room(&parent, total, "the layout")?;
    let bar = progress.start("export", total);
    let store = &reg.store;
    let copied = crate::parallel::try_map(&store_blobs, |(d, size)| {
        let to = blobs_dir.join(d.to_hex());
        let from = store.blob_path(d);
        std::fs::copy(&from, &to).map_err(|e| Error::io("copy blob to", &to, e))?;
        bar.inc(*size);
        Ok(())
    });
    bar.finish();
    copied?;
    let mut index = ImageIndex::new();
    for a in &arts {
        for (bytes, _) in a.small_blobs() {
            write_small(bytes)?;
        }
        write_small(&a.manifest)?;
        let mut model = a.manifest_descriptor();
        model.annotations.insert(REF_NAME.into(), a.tag.clone());
        index.manifests.push(model);
        let mut tag_index = ImageIndex::new();
        for (bytes, desc) in a.referrers() {
            write_small(bytes)?;
            index.manifests.push(desc.clone());
            tag_index.manifests.push(desc);
        }
        let tag_bytes = serde_json::to_vec(&tag_index).expect("plain JSON");
        let td = write_small(&tag_bytes)?;
        let mut desc = Descriptor {
            media_type: INDEX.into(),
            digest: format!("sha256:{td}"),
            size: tag_bytes.len() as u64,
            artifact_type: None,
            annotations: Default::default(),
        };
        desc.annotations
            .insert(REF_NAME.into(), referrers_tag(&a.manifest_digest));
        index.manifests.push(desc);
    }
    let p = staged.join("index.json");
    std::fs::write(&p, serde_json::to_vec(&index).expect("plain JSON"))
        .map_err(|e| Error::io("write", &p, e))?;
    let p = staged.join("oci-layout");
    std::fs::write(&p, LAYOUT_FILE).map_err(|e| Error::io("write", &p, e))?;
    crate::store::sync_fs(&staged)?;
    let placed = if out.exists() {
        std::fs::rename(&staged, out)
    } else {
        crate::fsio::rename_noreplace(&staged, out)
    };
    placed.map_err(|e| Error::io("rename into place", out, e))?;
    crate::store::sync_dir(&parent)?;
    let abs = crate::pending::absolute(out)?.display().to_string();
    let now = crate::clock::now_rfc3339();
    let rows: Vec<OciLocationRow> = versions
        .iter()
        .zip(&arts)
        .map(|(v, a)| OciLocationRow {
            name: v.name.clone(),
            label: v.label.clone(),
            location: OciLocation {
                direction: "push".into(),
                registry: "oci-layout".into(),
                repository: abs.clone(),
                tag: Some(a.tag.clone()),
                manifest_digest: a.manifest_digest.to_hex(),
                at: now.clone(),
                by: crate::actor::actor(),
            },
        })
        .collect();
    let events: Vec<EventDraft> = arts
        .iter()
        .map(|a| {
            EventDraft::new(
                EventKind::Push,
                a.subject.clone(),
                serde_json::json!({ "registry": "oci-layout", "repository": abs, "tag": a.tag, "oci_manifest_digest": a.manifest_digest.to_hex() }),
            )
        })
        .collect();
    reg.db.record_oci(&rows, &events)?;
    pending.finish()?;
    Ok(LayoutOutcome {
        out: out.display().to_string(),
        versions: arts
            .iter()
            .map(|a| LayoutVersion {
                version: a.subject.clone(),
                tag: a.tag.clone(),
                oci_manifest_digest: a.manifest_digest.to_hex(),
                approvals: a.approvals,
            })
            .collect(),
        blobs: store_blobs.len(),
        bytes: total,
    })
}
