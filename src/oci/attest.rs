//! Host attestation reports over an OCI registry.
//!
//! On a serving host, `audit push REPORT oci://HOST/REPO[:TAG|@sha256:D]`
//! attaches a signed report (`verify --path … --attest`) to the model's
//! manifest as a referrer: a manifest of artifact type [`ATTEST_ARTIFACT`]
//! whose one layer is the report's DSSE envelope and whose subject is the
//! model manifest (listed under the referrers tag where the registry has no
//! referrers API). On the registry side, `audit ingest oci://…` lists the
//! referrers of that manifest, fetches every report among them (each
//! capped and checked against its digest) and ingests each exactly as a
//! report file: signature by a trusted host key, the version and its
//! manifest digest, the deployment it names. The registry is only a
//! carrier: nothing it says is believed without the host's signature.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::client::{Body, Client};
use super::{
    Connection, DSSE_LAYER, Descriptor, EMPTY, EMPTY_BYTES, MANIFEST, MANIFEST_CAP, Manifest,
    OciRef, SMALL_CAP,
};
use crate::attest::{Ingested, REPORT_CAP};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// The artifact type of a referrer carrying a host's verification report.
pub const ATTEST_ARTIFACT: &str = "application/vnd.airlock.host-attestation.v1+json";
/// The most reports collected from one manifest in one run.
pub const MAX_REPORTS: usize = 1000;

/// What `audit push` did.
#[derive(Debug, Serialize)]
pub struct PushedReport {
    /// `host[:port]`.
    pub registry: String,
    /// The repository.
    pub repository: String,
    /// The model manifest the report is attached to (`sha256:…`).
    pub subject: String,
    /// The referrer manifest's digest (`sha256:…`).
    pub referrer: String,
    /// Whether the registry indexed it itself (the referrers API), else
    /// it was listed under the referrers tag.
    pub referrers_api: bool,
}

/// One report found attached to a manifest, and what its ingest said.
#[derive(Debug, Serialize)]
pub struct CollectedReport {
    /// The referrer manifest (`sha256:…`).
    pub referrer: String,
    /// The report, recorded (or recorded before), when it was accepted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ingested: Option<Ingested>,
    /// Why it was refused, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
    /// The exit code its refusal maps to.
    #[serde(skip)]
    pub refusal_code: Option<u8>,
}

/// What `audit ingest oci://…` did.
#[derive(Debug, Serialize)]
pub struct Collected {
    /// `host[:port]`.
    pub registry: String,
    /// The repository.
    pub repository: String,
    /// The model manifest whose referrers were read (`sha256:…`).
    pub subject: String,
    /// Every report found, in the registry's order.
    pub reports: Vec<CollectedReport>,
}

/// The manifest `r` names and its digest (a digest given must match).
fn subject_of(client: &Client, r: &OciRef) -> Result<(Vec<u8>, Sha256Digest)> {
    let reference = match (&r.digest, &r.tag) {
        (Some(d), _) => format!("sha256:{d}"),
        (None, Some(t)) => t.clone(),
        (None, None) => {
            return Err(Error::Usage(format!(
                "`{r}` names no manifest: add the model's tag or @sha256:DIGEST"
            )));
        }
    };
    let bytes = client
        .get_manifest(&reference, MANIFEST_CAP)?
        .ok_or_else(|| Error::Registry {
            registry: r.registry.clone(),
            repository: r.repository.clone(),
            status: Some(404),
            what: format!("no manifest `{reference}`"),
            hint: Some("check the tag or digest; `skopeo list-tags` shows the tags"),
        })?
        .0;
    let d = Sha256Digest::of(&bytes);
    if let Some(asked) = &r.digest
        && *asked != d
    {
        return Err(Error::DigestMismatch {
            what: format!("manifest of {}/{}", r.registry, r.repository),
            expected: asked.to_hex(),
            found: d.to_hex(),
        });
    }
    Ok((bytes, d))
}

/// Attach the report at `report` to the manifest `r` names.
pub fn push_report(report: &Path, r: &OciRef, conn: &Connection) -> Result<PushedReport> {
    let bytes = crate::fsio::read_small_bytes(report, REPORT_CAP)?;
    crate::attest::check_shape(&bytes, &report.display().to_string())?;
    let client = Client::new(r, conn, true, &[])?;
    let (subject_bytes, subject) = subject_of(&client, r)?;
    let report_d = Sha256Digest::of(&bytes);
    let empty_d = Sha256Digest::of(EMPTY_BYTES);
    for (b, d) in [(&bytes[..], report_d), (EMPTY_BYTES, empty_d)] {
        if !client.has_blob(&d)? {
            client.upload(
                &d,
                &Body::Bytes(b),
                b.len() as u64,
                super::push::chunk_size(),
            )?;
        }
    }
    let m = Manifest {
        schema_version: 2,
        media_type: Some(MANIFEST.into()),
        artifact_type: Some(ATTEST_ARTIFACT.into()),
        config: Descriptor::of(EMPTY, &empty_d, EMPTY_BYTES.len() as u64),
        layers: vec![Descriptor::of(DSSE_LAYER, &report_d, bytes.len() as u64)],
        subject: Some(Descriptor::of(
            MANIFEST,
            &subject,
            subject_bytes.len() as u64,
        )),
        annotations: BTreeMap::new(),
    };
    let mb = serde_json::to_vec(&m).expect("plain JSON");
    let md = Sha256Digest::of(&mb);
    let indexed = client.put_manifest(&format!("sha256:{md}"), MANIFEST, &mb)?;
    if !indexed {
        let mut desc = Descriptor::of(MANIFEST, &md, mb.len() as u64);
        desc.artifact_type = Some(ATTEST_ARTIFACT.into());
        client.index_referrers(&subject, vec![desc])?;
    }
    Ok(PushedReport {
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        subject: format!("sha256:{subject}"),
        referrer: format!("sha256:{md}"),
        referrers_api: indexed,
    })
}

/// Every report attached to the manifest `r` names, each ingested as a
/// report file is; a report refused does not stop the others.
pub fn collect(reg: &Registry, r: &OciRef, conn: &Connection) -> Result<Collected> {
    let client = Client::new(r, conn, false, &[])?;
    let (_, subject) = subject_of(&client, r)?;
    let (listed, _) = client.referrers(&subject)?;
    let mut out = Collected {
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        subject: format!("sha256:{subject}"),
        reports: Vec::new(),
    };
    for desc in listed
        .iter()
        .filter(|d| d.artifact_type.as_deref() == Some(ATTEST_ARTIFACT))
        .take(MAX_REPORTS)
    {
        let got = fetch_report(&client, desc)
            .and_then(|(bytes, what)| crate::attest::ingest_bytes(reg, bytes, what));
        out.reports.push(match got {
            Ok(i) => CollectedReport {
                referrer: desc.digest.clone(),
                ingested: Some(i),
                refused: None,
                refusal_code: None,
            },
            Err(e) => CollectedReport {
                referrer: desc.digest.clone(),
                ingested: None,
                refused: Some(e.to_string()),
                refusal_code: Some(e.class().exit_code()),
            },
        });
    }
    Ok(out)
}

/// The report a referrer carries: its manifest (capped, its digest
/// checked), then its one DSSE layer (capped, its digest checked).
fn fetch_report(client: &Client, desc: &Descriptor) -> Result<(Vec<u8>, String)> {
    let d = desc.sha256("referrer")?;
    let what = format!(
        "report referrer sha256:{d} in {}/{}",
        client.registry, client.repository
    );
    let hostile = |reason: String| Error::Hostile {
        what: what.clone(),
        reason,
    };
    let bytes = client
        .get_manifest(&format!("sha256:{d}"), SMALL_CAP)?
        .ok_or_else(|| hostile("listed, but the registry has no such manifest".into()))?
        .0;
    if Sha256Digest::of(&bytes) != d {
        return Err(Error::DigestMismatch {
            what,
            expected: d.to_hex(),
            found: Sha256Digest::of(&bytes).to_hex(),
        });
    }
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| hostile(format!("not an OCI image manifest: {e}")))?;
    let [layer] = &m.layers[..] else {
        return Err(hostile(format!("{} layers, expected one", m.layers.len())));
    };
    if layer.media_type != DSSE_LAYER || layer.size > REPORT_CAP {
        return Err(hostile(format!(
            "its layer is {} of {} bytes, not a DSSE envelope of at most {REPORT_CAP}",
            layer.media_type, layer.size
        )));
    }
    let ld = layer.sha256(&what)?;
    let report = client.get_blob(&ld)?.bytes(REPORT_CAP, &what)?;
    if Sha256Digest::of(&report) != ld || report.len() as u64 != layer.size {
        return Err(Error::DigestMismatch {
            what: format!("{what}, its report layer"),
            expected: ld.to_hex(),
            found: Sha256Digest::of(&report).to_hex(),
        });
    }
    Ok((report, what))
}
