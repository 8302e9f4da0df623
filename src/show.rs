//! `show REF` and `list`: what is recorded about versions, assembled in one
//! place — files, provenance, licence, disclosure, owner, approvals as the
//! trust store sees them now, deployments.

use serde::Serialize;

use crate::error::Result;
use crate::records::{Allowance, FileRecord, VersionRecord};
use crate::registry::Registry;

/// Where a version came from.
#[derive(Debug, Serialize)]
pub struct Source {
    /// The source URL.
    pub url: Option<String>,
    /// The upstream revision.
    pub revision: Option<String>,
    /// The source layout.
    pub layout: String,
}

/// A version's licence.
#[derive(Debug, Serialize)]
pub struct License {
    /// The licence id.
    pub id: Option<String>,
    /// The sha256 of the kept text.
    pub text_sha256: Option<String>,
}

/// What is known about the training data.
#[derive(Debug, Serialize)]
pub struct DataDisclosure {
    /// The status.
    pub status: String,
    /// Notes.
    pub notes: Option<String>,
}

/// Everything recorded about one version (`show --json`).
#[derive(Debug, Serialize)]
pub struct VersionDetails {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest (hex).
    pub manifest_digest: String,
    /// Bytes over all files.
    pub size: u64,
    /// The files, by path.
    pub files: Vec<FileRecord>,
    /// Provenance.
    pub source: Source,
    /// Licence.
    pub license: License,
    /// Training-data disclosure.
    pub data_disclosure: DataDisclosure,
    /// Who answers for the model.
    pub owner: Option<String>,
    /// When it was imported here.
    pub imported_at: String,
    /// Who imported it.
    pub imported_by: String,
    /// This registry's name at import.
    pub registry: String,
    /// How it arrived (`directory` or `bundle`).
    pub origin: String,
    /// The bundle it arrived in.
    pub bundle_id: Option<String>,
    /// An `--allow-unsafe` recorded at import.
    pub unsafe_allowance: Option<Allowance>,
    /// Approvals the policy requires for bundle imports.
    pub approvals_required: u32,
    /// Approvals that count now.
    pub approvals_live: usize,
    /// Every approval, with whether it counts.
    pub approvals: Vec<crate::trust::ApprovalView>,
    /// Its deployments, ended ones included.
    pub deployments: Vec<crate::records::Deployment>,
    /// A signed revocation of it, recorded here (in force or not).
    pub revoked: Option<crate::trust::revocation::RevocationView>,
    /// Where it was pushed to and pulled from over OCI, oldest first.
    pub oci_locations: Vec<crate::records::OciLocation>,
    /// The OpenSSF model signatures its files were checked against.
    pub oms_signatures: Vec<crate::records::OmsCheck>,
}

/// The details of `v`.
pub fn show(reg: &Registry, v: &VersionRecord) -> Result<VersionDetails> {
    let files = reg.files(v)?;
    let (approvals, live) = crate::trust::approval_status(reg, v)?;
    Ok(VersionDetails {
        name: v.name.to_string(),
        version: v.label.clone(),
        manifest_digest: v.manifest_digest.to_hex(),
        size: v.total_size,
        files,
        source: Source {
            url: v.source_url.clone(),
            revision: v.revision.clone(),
            layout: v.layout.clone(),
        },
        license: License {
            id: v.license_id.clone(),
            text_sha256: v.license_sha256.map(|d| d.to_hex()),
        },
        data_disclosure: DataDisclosure {
            status: v.disclosure.to_string(),
            notes: v.disclosure_notes.clone(),
        },
        owner: v.owner.clone(),
        imported_at: v.imported_at.clone(),
        imported_by: v.imported_by.clone(),
        registry: v.registry.clone(),
        origin: v.origin.as_str().to_string(),
        bundle_id: v.bundle_id.clone(),
        unsafe_allowance: reg.allowance(v)?,
        approvals_required: crate::trust::approvals_required(reg)?,
        approvals_live: live,
        approvals,
        deployments: crate::deploy::of_version(reg, v)?,
        revoked: crate::trust::revocation::of_version(reg, v)?,
        oci_locations: reg.db.oci_locations(v.id)?,
        oms_signatures: reg.db.oms_checks(v.id)?,
    })
}

/// One version as `list` shows it.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest (hex).
    pub manifest_digest: String,
    /// Bytes over all files.
    pub size: u64,
    /// The licence id.
    pub license: Option<String>,
    /// The training-data disclosure status.
    pub disclosure: String,
    /// Approvals that count now.
    pub approvals: usize,
    /// When it was imported here.
    pub imported_at: String,
    /// Whether a revocation of it is in force.
    pub revoked: bool,
    /// Where it came from over OCI (`host/repository@sha256:…`), if it did.
    pub pulled_from: Option<String>,
}

/// Every version, by name then import order, with its live approvals.
pub fn list(reg: &Registry) -> Result<Vec<Listed>> {
    // One query each: approvals by keys trusted to approve now, counted per
    // version (their signatures were checked when recorded; `show`,
    // `verify` and `checkout` check them again), and which versions have a
    // revocation at all — so ten thousand versions list in well under 0.2 s.
    let approved = reg.db.trusted_approval_counts()?;
    let pulled = reg.db.pulled_from()?;
    let revocable: std::collections::HashSet<(String, String, String)> = reg
        .db
        .revocations()?
        .into_iter()
        .map(|r| (r.name, r.label, r.manifest_digest))
        .collect();
    reg.versions()?
        .into_iter()
        .map(|v| {
            let live = approved.get(&v.id).copied().unwrap_or(0);
            let revoked = revocable.contains(&(
                v.name.to_string(),
                v.label.clone(),
                v.manifest_digest.to_hex(),
            )) && crate::trust::revocation::in_force(reg, &v)?.is_some();
            Ok(Listed {
                name: v.name.to_string(),
                version: v.label,
                manifest_digest: v.manifest_digest.to_hex(),
                size: v.total_size,
                license: v.license_id,
                disclosure: v.disclosure.to_string(),
                approvals: live,
                revoked,
                pulled_from: pulled.get(&v.id).cloned(),
                imported_at: v.imported_at,
            })
        })
        .collect()
}
