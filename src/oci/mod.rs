//! OCI: versions as CNCF ModelPack artifacts, in a registry (`push`,
//! `pull`) or in an OCI image layout on disk (`export --format oci-layout`,
//! `import DIR`).
//!
//! One version is one image manifest (artifact type
//! [`MODEL_ARTIFACT`]): a ModelPack config made from the records, then one
//! raw layer per file whose digest is the file's own sha256 (nothing is
//! wrapped or re-hashed), the path in the [`FILEPATH`] annotation. The
//! version's statement with its approvals (the DSSE envelope) and its
//! licence text go in a second manifest (artifact type
//! [`STATEMENT_ARTIFACT`]) whose `subject` is the model manifest: an OCI 1.1
//! referrer, listed by the referrers API or, where the registry has none,
//! under the referrers tag `sha256-<hex>`. Byte layout: `docs/formats.md`.
//!
//! Arrival ([`pull::intake`]) is a bundle import with the registry as the
//! carrier: the statement's approvals against the trust store and policy,
//! the manifest's layers against the signed files, every byte against its
//! signed digest while staged, the safety policy, the rollback rule — and
//! nothing visible before all of it held.

pub mod attest;
mod client;
pub use client::Connection;
pub mod layout;
pub mod pull;
pub mod push;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::formats::Format;
use crate::records::{FileRecord, VersionRecord};
use crate::registry::Registry;

/// The OCI image manifest media type.
pub const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// The OCI image index media type.
pub const INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// The ModelPack artifact type of a model manifest.
pub const MODEL_ARTIFACT: &str = "application/vnd.cncf.model.manifest.v1+json";
/// The ModelPack config media type.
pub const MODEL_CONFIG: &str = "application/vnd.cncf.model.config.v1+json";
/// A weight file, raw.
pub const WEIGHT: &str = "application/vnd.cncf.model.weight.v1.raw";
/// A configuration file of the weights (tokenizer, config.json), raw.
pub const WEIGHT_CONFIG: &str = "application/vnd.cncf.model.weight.config.v1.raw";
/// A documentation file, raw.
pub const DOC: &str = "application/vnd.cncf.model.doc.v1.raw";
/// A code file, raw.
pub const CODE: &str = "application/vnd.cncf.model.code.v1.raw";
/// The layer annotation holding a file's path.
pub const FILEPATH: &str = "org.cncf.model.filepath";
/// The artifact type of the referrer carrying a version's statement.
pub const STATEMENT_ARTIFACT: &str = "application/vnd.airlock.statement.v1+json";
/// The artifact type of the referrer carrying a signed version revocation.
pub const REVOCATION_ARTIFACT: &str = "application/vnd.airlock.revocation.v1+json";
/// The layer holding the DSSE envelope.
pub const DSSE_LAYER: &str = "application/vnd.dsse.envelope.v1+json";
/// The layer holding the licence text (when it is not one of the files).
pub const LICENSE_LAYER: &str = "application/vnd.airlock.license.v1.raw";
/// The empty config of a referrer.
pub const EMPTY: &str = "application/vnd.oci.empty.v1+json";
/// The bytes of the empty config.
pub const EMPTY_BYTES: &[u8] = b"{}";
/// The standard annotation naming a tag in an image layout's index.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// Caps on what is read into memory before it is trusted.
pub const MANIFEST_CAP: u64 = 64 << 20;
/// A referrer manifest or a referrers index.
pub const SMALL_CAP: u64 = 4 << 20;
/// Statement referrers looked at for one manifest.
pub const MAX_REFERRERS: usize = 64;

/// An OCI content descriptor.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    /// What the content is.
    pub media_type: String,
    /// `sha256:<hex>`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
    /// For a manifest in an index: its artifact type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Descriptor {
    fn of(media_type: &str, digest: &Sha256Digest, size: u64) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: format!("sha256:{digest}"),
            size,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }

    /// The sha256 this descriptor names; anything else is hostile.
    pub fn sha256(&self, what: &str) -> Result<Sha256Digest> {
        self.digest
            .strip_prefix("sha256:")
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| Error::Hostile {
                what: what.into(),
                reason: format!("digest `{}` is not sha256:<64 hex>", self.digest),
            })
    }
}

/// An OCI image manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    /// Always 2.
    pub schema_version: u32,
    /// [`MANIFEST`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// [`MODEL_ARTIFACT`] or [`STATEMENT_ARTIFACT`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// The config.
    pub config: Descriptor,
    /// The layers.
    #[serde(default)]
    pub layers: Vec<Descriptor>,
    /// The manifest this one refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Descriptor>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An OCI image index (a layout's `index.json`, a referrers list).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageIndex {
    /// Always 2.
    pub schema_version: u32,
    /// [`INDEX`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The manifests.
    #[serde(default)]
    pub manifests: Vec<Descriptor>,
}

impl ImageIndex {
    /// An empty index.
    pub fn new() -> ImageIndex {
        ImageIndex {
            schema_version: 2,
            media_type: Some(INDEX.into()),
            manifests: Vec::new(),
        }
    }
}

impl Default for ImageIndex {
    fn default() -> Self {
        Self::new()
    }
}

/// Where in a registry: `oci://HOST[:PORT]/REPO[:TAG|@sha256:HEX]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef {
    /// `host[:port]`.
    pub registry: String,
    /// The repository path.
    pub repository: String,
    /// The tag, if one was given.
    pub tag: Option<String>,
    /// The manifest digest, if one was given.
    pub digest: Option<Sha256Digest>,
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oci://{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@sha256:{d}")?;
        }
        Ok(())
    }
}

/// Whether `s` is an OCI tag (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`).
pub fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

fn is_repo_component(s: &str) -> bool {
    // [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*
    let b = s.as_bytes();
    if b.is_empty() || !b[0].is_ascii_alphanumeric() || !b[b.len() - 1].is_ascii_alphanumeric() {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            i += 1;
        } else if c == b'.' || c == b'_' || c == b'-' {
            let start = i;
            while i < b.len() && matches!(b[i], b'.' | b'_' | b'-') {
                i += 1;
            }
            let sep = &s[start..i];
            if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-')) {
                return false;
            }
        } else {
            return false;
        }
    }
    true
}

impl std::str::FromStr for OciRef {
    type Err = Error;
    fn from_str(s: &str) -> Result<OciRef> {
        let bad = |why: &str| {
            Error::Usage(format!(
                "`{s}` is not an OCI reference ({why}); expected oci://HOST[:PORT]/REPO[:TAG|@sha256:DIGEST]"
            ))
        };
        let rest = s
            .strip_prefix("oci://")
            .ok_or_else(|| bad("it does not start with oci://"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| bad("no repository after the host"))?;
        let host_ok = !registry.is_empty()
            && registry.bytes().all(|c| {
                c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b':' | b'[' | b']')
            });
        if !host_ok {
            return Err(bad("the host is not HOST[:PORT]"));
        }
        if let Some((_, port)) = registry.rsplit_once(':')
            && !registry.ends_with(']')
            && port.parse::<u16>().is_err()
        {
            return Err(bad("the port is not a number"));
        }
        let (path, digest) = match path.split_once('@') {
            Some((p, d)) => {
                let hex = d
                    .strip_prefix("sha256:")
                    .ok_or_else(|| bad("the digest is not sha256:<hex>"))?;
                let d: Sha256Digest = hex
                    .parse()
                    .map_err(|_| bad("the digest is not sha256:<64 hex>"))?;
                (p, Some(d))
            }
            None => (path, None),
        };
        let (repository, tag) = match path.rsplit_once(':') {
            Some((r, t)) if !t.contains('/') => (r, Some(t.to_string())),
            _ => (path, None),
        };
        if !repository.split('/').all(is_repo_component) {
            return Err(bad(
                "the repository must be lowercase components like team/llama-3.1",
            ));
        }
        if let Some(t) = &tag
            && !is_tag(t)
        {
            return Err(bad("the tag is not [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"));
        }
        Ok(OciRef {
            registry: registry.to_string(),
            repository: repository.to_string(),
            tag,
            digest,
        })
    }
}

/// The layer media type of a file: weights by their bytes, code, docs by
/// name, everything else (configs, tokenizers) as weight configuration.
pub fn layer_type(f: &FileRecord) -> &'static str {
    let base = f.path.as_str().rsplit('/').next().unwrap_or("");
    let lower = base.to_ascii_lowercase();
    if f.format.is_weights() || matches!(f.format, Format::Zip | Format::Tar) {
        WEIGHT
    } else if lower.ends_with(".py") {
        CODE
    } else if lower.ends_with(".md")
        || ["license", "licence", "notice", "copying", "use_policy"]
            .iter()
            .any(|p| lower.starts_with(p))
    {
        DOC
    } else {
        WEIGHT_CONFIG
    }
}

/// One version as an OCI artifact: every byte of the manifests and small
/// blobs, and the store blobs its layers name.
pub struct Artifact {
    /// `NAME@LABEL`.
    pub subject: String,
    /// The tag it goes under by default: its label, made a valid tag.
    pub tag: String,
    /// The ModelPack config.
    pub config: Vec<u8>,
    /// The model manifest.
    pub manifest: Vec<u8>,
    /// The model manifest's digest.
    pub manifest_digest: Sha256Digest,
    /// The DSSE envelope of the statement with its approvals.
    pub envelope: Vec<u8>,
    /// The statement referrer manifest.
    pub referrer: Vec<u8>,
    /// The store blobs the layers name (files, licence text), each once.
    pub blobs: Vec<(Sha256Digest, u64)>,
    /// Approvals in the envelope.
    pub approvals: usize,
    /// A signed revocation of the version recorded here: its envelope and
    /// the referrer manifest carrying it.
    pub revocation: Option<(Vec<u8>, Vec<u8>)>,
}

impl Artifact {
    /// The referrer's descriptor, as listed in an index.
    pub fn referrer_descriptor(&self) -> Descriptor {
        let mut d = Descriptor::of(
            MANIFEST,
            &Sha256Digest::of(&self.referrer),
            self.referrer.len() as u64,
        );
        d.artifact_type = Some(STATEMENT_ARTIFACT.into());
        d
    }

    /// The model manifest's descriptor.
    pub fn manifest_descriptor(&self) -> Descriptor {
        let mut d = Descriptor::of(MANIFEST, &self.manifest_digest, self.manifest.len() as u64);
        d.artifact_type = Some(MODEL_ARTIFACT.into());
        d
    }

    /// The small blobs kept in memory: config, envelope, empty config,
    /// and a revocation's envelope.
    pub fn small_blobs(&self) -> Vec<(&[u8], Sha256Digest)> {
        let mut out: Vec<(&[u8], Sha256Digest)> = vec![
            (&self.config, Sha256Digest::of(&self.config)),
            (&self.envelope, Sha256Digest::of(&self.envelope)),
            (EMPTY_BYTES, Sha256Digest::of(EMPTY_BYTES)),
        ];
        if let Some((env, _)) = &self.revocation {
            out.push((env, Sha256Digest::of(env)));
        }
        out
    }

    /// The referrer manifests with their descriptors: the statement, and a
    /// revocation if there is one.
    pub fn referrers(&self) -> Vec<(&[u8], Descriptor)> {
        let mut out = vec![(self.referrer.as_slice(), self.referrer_descriptor())];
        if let Some((_, m)) = &self.revocation {
            let mut d = Descriptor::of(MANIFEST, &Sha256Digest::of(m), m.len() as u64);
            d.artifact_type = Some(REVOCATION_ARTIFACT.into());
            out.push((m.as_slice(), d));
        }
        out
    }
}

/// The default tag of a version: its label, with a leading `.` or `-`
/// (which tags cannot start with) prefixed by `v`.
pub fn default_tag(label: &str) -> String {
    if is_tag(label) {
        label.to_string()
    } else {
        format!("v{label}")
    }
}

/// The ModelPack config of a version (deterministic: the same records give
/// the same bytes, so a re-push changes nothing).
fn model_config(v: &VersionRecord, files: &[FileRecord]) -> Vec<u8> {
    let mut descriptor = serde_json::Map::new();
    descriptor.insert("name".into(), v.name.to_string().into());
    descriptor.insert("version".into(), v.label.clone().into());
    descriptor.insert("createdAt".into(), v.registered_at.clone().into());
    if let Some(r) = &v.revision {
        descriptor.insert("revision".into(), r.clone().into());
    }
    if let Some(u) = &v.source_url {
        descriptor.insert("sourceURL".into(), u.clone().into());
    }
    if let Some(l) = &v.license_id {
        descriptor.insert("licenses".into(), vec![l.clone()].into());
    }
    let mut config = serde_json::Map::new();
    let mut weights = files.iter().filter(|f| f.format.is_weights());
    if let Some(first) = weights.next() {
        let fmt = first.format;
        if weights.all(|f| f.format == fmt) {
            config.insert("format".into(), fmt.as_str().into());
        }
    }
    let diff_ids: Vec<String> = files
        .iter()
        .map(|f| format!("sha256:{}", f.sha256))
        .collect();
    let doc = serde_json::json!({
        "descriptor": descriptor,
        "modelfs": { "type": "layers", "diffIds": diff_ids },
        "config": config,
    });
    serde_json::to_vec(&doc).expect("plain JSON")
}

/// A version as an OCI artifact, from its records and approvals.
pub fn artifact(reg: &Registry, v: &VersionRecord) -> Result<Artifact> {
    let mut files = reg.files(v)?;
    files.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
    let config = model_config(v, &files);
    let (envelope, approvals) = crate::trust::envelope_bytes(reg, v)?;
    let mut layers = Vec::with_capacity(files.len());
    let mut blobs = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for f in &files {
        let mut d = Descriptor::of(layer_type(f), &f.sha256, f.size);
        d.annotations.insert(FILEPATH.into(), f.path.to_string());
        layers.push(d);
        if seen.insert(f.sha256) {
            blobs.push((f.sha256, f.size));
        }
    }
    let mut annotations = BTreeMap::new();
    annotations.insert("org.opencontainers.image.title".into(), v.name.to_string());
    annotations.insert("org.opencontainers.image.version".into(), v.label.clone());
    annotations.insert(
        "org.opencontainers.image.created".into(),
        v.registered_at.clone(),
    );
    if let Some(l) = &v.license_id {
        annotations.insert("org.opencontainers.image.licenses".into(), l.clone());
    }
    if let Some(u) = &v.source_url {
        annotations.insert("org.opencontainers.image.source".into(), u.clone());
    }
    if let Some(r) = &v.revision {
        annotations.insert("org.opencontainers.image.revision".into(), r.clone());
    }
    annotations.insert(
        "dev.airlock.manifest-digest".into(),
        format!("sha256:{}", v.manifest_digest),
    );
    let manifest = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST.into()),
        artifact_type: Some(MODEL_ARTIFACT.into()),
        config: Descriptor::of(
            MODEL_CONFIG,
            &Sha256Digest::of(&config),
            config.len() as u64,
        ),
        layers,
        subject: None,
        annotations,
    };
    let manifest = serde_json::to_vec(&manifest).expect("plain JSON");
    let manifest_digest = Sha256Digest::of(&manifest);
    let mut ref_layers = vec![Descriptor::of(
        DSSE_LAYER,
        &Sha256Digest::of(&envelope),
        envelope.len() as u64,
    )];
    if let Some(l) = v.license_sha256 {
        let size = reg
            .store
            .stat(&l)?
            .ok_or_else(|| Error::not_found("licence blob", l.to_hex()))?
            .size;
        ref_layers.push(Descriptor::of(LICENSE_LAYER, &l, size));
        if seen.insert(l) {
            blobs.push((l, size));
        }
    }
    let mut subject = Descriptor::of(MANIFEST, &manifest_digest, manifest.len() as u64);
    subject.artifact_type = Some(MODEL_ARTIFACT.into());
    let referrer_of = |artifact_type: &str, layers: Vec<Descriptor>| {
        let m = Manifest {
            schema_version: 2,
            media_type: Some(MANIFEST.into()),
            artifact_type: Some(artifact_type.into()),
            config: Descriptor::of(
                EMPTY,
                &Sha256Digest::of(EMPTY_BYTES),
                EMPTY_BYTES.len() as u64,
            ),
            layers,
            subject: Some(subject.clone()),
            annotations: BTreeMap::new(),
        };
        serde_json::to_vec(&m).expect("plain JSON")
    };
    let referrer = referrer_of(STATEMENT_ARTIFACT, ref_layers);
    let revocation = reg
        .db
        .revocation(v.name.as_str(), &v.label, &v.manifest_digest.to_hex())?
        .map(|row| {
            let env = crate::trust::revocation::Revocation::from_row(&row)?.bytes();
            let layer = Descriptor::of(DSSE_LAYER, &Sha256Digest::of(&env), env.len() as u64);
            let m = referrer_of(REVOCATION_ARTIFACT, vec![layer]);
            Ok::<_, Error>((env, m))
        })
        .transpose()?;
    Ok(Artifact {
        subject: format!("{}@{}", v.name, v.label),
        tag: default_tag(&v.label),
        config,
        manifest,
        manifest_digest,
        envelope,
        referrer,
        blobs,
        approvals: approvals.len(),
        revocation,
    })
}

/// The referrers tag of a manifest (the fallback for registries without the
/// referrers API): `sha256-<hex>`.
pub fn referrers_tag(d: &Sha256Digest) -> String {
    format!("sha256-{d}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
        let r: OciRef = "oci://127.0.0.1:5000/team/llama:v1".parse().unwrap();
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/llama");
        assert_eq!(r.tag.as_deref(), Some("v1"));
        let d = "a".repeat(64);
        let r: OciRef = format!("oci://reg.example/m@sha256:{d}").parse().unwrap();
        assert_eq!(r.digest.unwrap().to_hex(), d);
        assert_eq!(r.tag, None);
        for bad in [
            "reg/x",
            "oci://reg",
            "oci://reg/Upper",
            "oci://reg/x:-bad",
            "oci://reg:port/x",
            "oci://reg/x@sha256:12",
            "oci://reg/a//b",
        ] {
            assert!(bad.parse::<OciRef>().is_err(), "{bad}");
        }
    }

    #[test]
    fn tags() {
        assert!(is_tag("v1.0_rc-2"));
        assert!(!is_tag(".hidden"));
        assert_eq!(default_tag("-x"), "v-x");
        assert!(!is_tag(&"a".repeat(129)));
    }
}
