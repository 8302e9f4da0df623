//! `show REF`: everything recorded about one version, assembled in one
//! place — files, provenance, licence, disclosure, owner, approvals as the
//! trust store sees them now, deployments.

use serde::Serialize;

use crate::error::Result;
use crate::records::{Allowance, FileRecord, VersionRecord};
use crate::registry::Registry;

#[derive(Debug, Serialize)]
pub struct Source {
    pub url: Option<String>,
    pub revision: Option<String>,
    pub layout: String,
}

#[derive(Debug, Serialize)]
pub struct License {
    pub id: Option<String>,
    pub text_sha256: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct DataDisclosure {
    pub status: String,
    pub notes: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VersionDetails {
    pub name: String,
    pub version: String,
    pub manifest_digest: String,
    pub size: u64,
    pub files: Vec<FileRecord>,
    pub source: Source,
    pub license: License,
    pub data_disclosure: DataDisclosure,
    pub owner: Option<String>,
    pub imported_at: String,
    pub imported_by: String,
    pub registry: String,
    pub origin: String,
    pub bundle_id: Option<String>,
    pub unsafe_allowance: Option<Allowance>,
    pub approvals_required: u32,
    pub approvals_live: usize,
    pub approvals: Vec<crate::trust::ApprovalView>,
    pub deployments: Vec<crate::db::Deployment>,
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
    })
}
