//! Deployments and the audit: which weights run where, under which licence,
//! approved by whom — and are the deployed bytes still the approved bytes.
//!
//! `deploy` is a verified checkout plus a record; `--record-only` records a
//! copy placed by other means; `undeploy` ends a record (history is kept).
//! Each change appends its event in the same transaction. `audit --verify`
//! re-hashes the deployed copies on this host (every file, in parallel,
//! bounded buffers) and marks each `ok`, `drift` or `missing`.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::actor::{actor, hostname};
use crate::checkout::{CheckoutOptions, CheckoutOutcome, checkout};
use crate::clock::now_rfc3339;
use crate::error::{Error, Result};
use crate::event::EventDraft;
use crate::finding::{Finding, FindingKind, Severity};
use crate::license::{Policy, check};
use crate::pending::OutputKind;
use crate::progress::ProgressFactory;
use crate::records::Deployment;
use crate::records::{DeployStatus, VersionRecord};
use crate::registry::Registry;
use crate::trust::ApprovalStatus;
use crate::verify::check_folder;

/// Where and why a deployment is recorded.
#[derive(Debug, Clone, Default)]
pub struct Target {
    /// The host [default: this host].
    pub host: Option<String>,
    /// The environment (`prod`, `staging`, …).
    pub environment: Option<String>,
    /// A free note.
    pub note: Option<String>,
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io("resolve", p, e))
}

fn record(
    reg: &Registry,
    v: &VersionRecord,
    host: String,
    path: String,
    t: &Target,
    record_only: bool,
    shared: bool,
) -> Result<Deployment> {
    if host.is_empty() || host.len() > 255 || host.chars().any(char::is_control) {
        return Err(Error::input(format!("invalid host `{host}`")));
    }
    let mut d = Deployment {
        id: 0,
        version_id: v.id,
        host,
        path,
        environment: t.environment.clone(),
        note: t.note.clone(),
        record_only,
        deployed_at: now_rfc3339(),
        deployed_by: actor(),
        ended_at: None,
        ended_by: None,
        last_verified_at: None,
        last_status: None,
    };
    let event = EventDraft::new(
        crate::event::EventKind::Deploy,
        format!("{}@{}", v.name, v.label),
        serde_json::json!({
            "host": d.host, "path": d.path, "environment": d.environment, "note": d.note,
            "record_only": record_only, "manifest_digest": v.manifest_digest.to_hex(),
        }),
    );
    d.id = reg.db.add_deployment(&d, shared, &event)?;
    Ok(d)
}

/// Check out `v` at `dir` and record the deployment.
pub fn deploy(
    reg: &mut Registry,
    v: &VersionRecord,
    dir: &Path,
    t: &Target,
    opts: CheckoutOptions,
    progress: &dyn ProgressFactory,
) -> Result<(CheckoutOutcome, Deployment)> {
    if t.environment.as_deref() == Some("prod") {
        crate::eval::check_prod_gate(reg, v)?;
    }
    let shared = opts.layout == crate::checkout::CheckoutLayout::Hf;
    // The folder the user named (for `hf`, the shared cache: audit finds the
    // model's repo in it by name), so `undeploy --path DIR` matches it.
    let path = absolute(dir)?.display().to_string();
    let host = t.host.clone().unwrap_or_else(hostname);
    // A deploy to this folder killed after its copy was in place and before
    // its record: finish it now. If it was this very deployment, done.
    let dead: Vec<_> = crate::pending::leftovers(reg)?
        .into_iter()
        .filter(|l| l.kind == OutputKind::Deploy && l.target == path)
        .collect();
    for l in dead {
        if let Some(d) = finish_dead(reg, &l, progress)?
            && d.version_id == v.id
            && d.host == host
        {
            let out = crate::checkout::existing_outcome(reg, v, dir, opts.layout, opts.link)?;
            return Ok((out, d));
        }
    }
    // The intent first: what to record once the copy is in place.
    let pending = crate::pending::begin(
        reg,
        OutputKind::Deploy,
        dir,
        serde_json::json!({
            "version_id": v.id, "host": host, "environment": t.environment,
            "note": t.note, "shared": shared,
        }),
    )?;
    let out = checkout(reg, v, dir, opts, progress)?;
    // Deployed already (a rerun): the copy verified in place and the record
    // exists, so nothing new is recorded.
    if out.unchanged
        && let Some(d) = reg
            .db
            .deployments(true)?
            .into_iter()
            .find(|d| d.version_id == v.id && d.host == host && d.path == path)
    {
        pending.finish()?;
        return Ok((out, d));
    }
    let d = record(reg, v, host, path, t, false, shared)?;
    pending.finish()?;
    Ok((out, d))
}

/// Finish a deploy whose process died: its copy is complete or absent
/// (checkouts are atomic), so the deployment is recorded if the copy is in
/// place and verifies against the version, and the intent is forgotten
/// either way. Returns the deployment recorded.
pub fn finish_dead(
    reg: &Registry,
    l: &crate::pending::Leftover,
    progress: &dyn ProgressFactory,
) -> Result<Option<Deployment>> {
    let d = &l.details;
    let mut recorded = None;
    let dir = Path::new(&l.target);
    if let (Some(vid), Some(host)) = (d["version_id"].as_i64(), d["host"].as_str())
        && dir.exists()
    {
        let v = reg.db.version_by_id(vid)?;
        let name = v.name.to_string();
        let intact = crate::source::resolve_repo(dir, v.revision.as_deref(), Some(&name))
            .and_then(|src| check_folder(&name, dir, &src.files, &reg.files(&v)?, progress))
            .is_ok_and(|rep| !crate::finding::failed(&rep.findings));
        if intact {
            let t = Target {
                host: Some(host.to_string()),
                environment: d["environment"].as_str().map(str::to_string),
                note: d["note"].as_str().map(str::to_string),
            };
            let shared = d["shared"].as_bool().unwrap_or(false);
            recorded = Some(record(
                reg,
                &v,
                host.to_string(),
                l.target.clone(),
                &t,
                false,
                shared,
            )?);
        }
    }
    crate::pending::clean(reg, l)?;
    Ok(recorded)
}

/// Record a copy placed by other means.
pub fn record_only(
    reg: &mut Registry,
    v: &VersionRecord,
    host: &str,
    path: &str,
    t: &Target,
) -> Result<Deployment> {
    if path.is_empty() {
        return Err(Error::input("`--path` must not be empty"));
    }
    if t.environment.as_deref() == Some("prod") {
        crate::eval::check_prod_gate(reg, v)?;
    }
    record(reg, v, host.to_string(), path.to_string(), t, true, false)
}

/// End the active deployment of `v` at host and path.
pub fn undeploy(reg: &mut Registry, v: &VersionRecord, host: &str, path: &str) -> Result<usize> {
    let given = if Path::new(path).is_absolute() || host != hostname() {
        path.to_string()
    } else {
        absolute(Path::new(path))?.display().to_string()
    };
    // Earlier releases recorded an hf checkout by its snapshot folder
    // (`DIR/models--org--name/snapshots/REV`); the cache DIR names it too.
    let snapshots = format!(
        "{}/{}/snapshots/",
        given.trim_end_matches('/'),
        v.name.hf_cache_folder()
    );
    let abs = of_version(reg, v)?
        .into_iter()
        .filter(|d| d.ended_at.is_none() && d.host == host)
        .map(|d| d.path)
        .find(|p| *p == given || p.starts_with(&snapshots))
        .unwrap_or(given);
    let event = EventDraft::new(
        crate::event::EventKind::Undeploy,
        format!("{}@{}", v.name, v.label),
        serde_json::json!({ "host": host, "path": abs }),
    );
    let n = reg
        .db
        .end_deployment(v.id, host, &abs, &now_rfc3339(), &actor(), &event)?;
    if n == 0 {
        return Err(Error::not_found(
            "deployment",
            format!("{}@{} on {host} at {abs}", v.name, v.label),
        ));
    }
    Ok(n)
}

/// A version's deployments (all, history included).
pub fn of_version(reg: &Registry, v: &VersionRecord) -> Result<Vec<Deployment>> {
    Ok(reg
        .db
        .deployments(false)?
        .into_iter()
        .filter(|d| d.version_id == v.id)
        .collect())
}

/// One row of the audit.
#[derive(Debug, Clone, Serialize)]
pub struct AuditRow {
    /// The deployment record's id.
    pub deployment_id: i64,
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest (hex).
    pub manifest_digest: String,
    /// The host it runs on.
    pub host: String,
    /// Where on that host.
    pub path: String,
    /// The environment, if named.
    pub environment: Option<String>,
    /// The note, if any.
    pub note: Option<String>,
    /// True when the copy was placed by other means.
    pub record_only: bool,
    /// When it was recorded.
    pub deployed_at: String,
    /// Who recorded it.
    pub deployed_by: String,
    /// The licence id.
    pub license: Option<String>,
    /// The licence policy's verdict.
    pub license_verdict: crate::license::Verdict,
    /// Why, where the verdict is not `allowed`.
    pub license_reasons: Vec<String>,
    /// What the licence asks of the deployer (attribution, acceptable use).
    pub license_duties: Vec<String>,
    /// The training-data disclosure status.
    pub data_disclosure: String,
    /// Notes on the training data.
    pub data_notes: Option<String>,
    /// Who answers for the model.
    pub owner: Option<String>,
    /// Live approvals, as `name (key id)`.
    pub approvals: Vec<String>,
    /// When the copy was last re-hashed.
    pub last_verified_at: Option<String>,
    /// What the last check of the copy found.
    pub status: DeployStatus,
    /// The version's revocation, when one is in force: the deployment must go.
    pub revoked: Option<crate::trust::revocation::RevocationView>,
    /// What the last check found wrong with the copy.
    pub findings: Vec<Finding>,
    /// Where the version came from over OCI (`registry/repository@sha256:…`).
    pub pulled_from: Option<String>,
    /// The signer of the OpenSSF model signature its files were verified
    /// against, if any.
    pub oms_signer: Option<String>,
    /// The version's latest validly signed evaluation (of the suite prod
    /// deploys require, when the policy names one).
    pub latest_evaluation: Option<crate::eval::EvalView>,
    /// The host's latest signed report ingested for this deployment:
    /// `(verified_at, signing key's name, every byte matched)`.
    pub proven: Option<(String, String, bool)>,
}

/// The audit: active deployments, filtered.
#[derive(Debug, Default, Serialize)]
pub struct Audit {
    /// One row per deployment.
    pub deployments: Vec<AuditRow>,
    /// True when local copies were re-hashed in this run.
    pub verified: bool,
}

impl Audit {
    /// Whether any deployed copy is no longer the approved bytes, or runs a
    /// revoked version.
    pub fn drifted(&self) -> bool {
        self.deployments
            .iter()
            .any(|r| r.status.is_drift() || r.revoked.is_some())
    }
}

/// The audit of active deployments, filtered; with `verify`, local copies
/// are re-hashed and their status recorded.
pub fn audit(
    reg: &Registry,
    host: Option<&str>,
    model: Option<&str>,
    verify: bool,
    progress: &dyn ProgressFactory,
) -> Result<Audit> {
    let policy = Policy::of_home(reg.home())?;
    let here = hostname();
    let mut out = Audit {
        verified: verify,
        ..Default::default()
    };
    let pulled = reg.db.pulled_from()?;
    let prod_suite = crate::eval::policy(reg)?.required_for_prod;
    for d in reg.db.deployments(true)? {
        if host.is_some_and(|h| h != d.host) {
            continue;
        }
        let v = reg.db.version_by_id(d.version_id)?;
        if model.is_some_and(|m| m != v.name.as_str()) {
            continue;
        }
        let lic = check(&v, &policy);
        let (views, _) = crate::trust::approval_status(reg, &v)?;
        let approvals = views
            .iter()
            .filter(|a| a.status == ApprovalStatus::Valid)
            .map(|a| format!("{} ({})", a.name, a.key_id.short()))
            .collect();
        let mut row = AuditRow {
            deployment_id: d.id,
            name: v.name.to_string(),
            version: v.label.clone(),
            manifest_digest: v.manifest_digest.to_hex(),
            host: d.host.clone(),
            path: d.path.clone(),
            environment: d.environment.clone(),
            note: d.note.clone(),
            record_only: d.record_only,
            deployed_at: d.deployed_at.clone(),
            deployed_by: d.deployed_by.clone(),
            license: v.license_id.clone(),
            license_verdict: lic.verdict,
            license_reasons: lic.reasons,
            license_duties: lic.duties,
            data_disclosure: v.disclosure.to_string(),
            data_notes: v.disclosure_notes.clone(),
            owner: v.owner.clone(),
            approvals,
            last_verified_at: d.last_verified_at.clone(),
            status: d.last_status.unwrap_or(DeployStatus::Unverified),
            revoked: crate::trust::revocation::in_force(reg, &v)?,
            findings: Vec::new(),
            pulled_from: pulled.get(&v.id).cloned(),
            oms_signer: reg
                .db
                .oms_checks(v.id)?
                .into_iter()
                .find(|c| c.status == "verified")
                .and_then(|c| c.signer),
            latest_evaluation: crate::eval::latest_of_suite(reg, &v, prod_suite.as_deref())?,
            proven: crate::attest::last_proof(reg, d.id)?,
        };
        if verify {
            if d.host != here {
                row.status = DeployStatus::NotLocal;
            } else {
                let subject = format!("{}@{}", v.name, v.label);
                let dir = Path::new(&d.path);
                let status = if !dir.exists() {
                    row.findings.push(Finding {
                        subject: subject.clone(),
                        path: d.path.clone(),
                        kind: FindingKind::Missing,
                        severity: Severity::Error,
                        detail: "the deployed folder is gone".into(),
                    });
                    DeployStatus::Missing
                } else {
                    let name = v.name.to_string();
                    let found =
                        crate::source::resolve_repo(dir, v.revision.as_deref(), Some(&name))?;
                    let rep = check_folder(&subject, dir, &found.files, &reg.files(&v)?, progress)?;
                    row.findings = rep.findings;
                    if !crate::finding::failed(&row.findings) {
                        DeployStatus::Ok
                    } else {
                        DeployStatus::Drift
                    }
                };
                row.status = status;
                // Recorded where the home can be written; reported either way.
                if reg.writable() {
                    let now = now_rfc3339();
                    reg.db.mark_deployment(d.id, status, &now)?;
                    row.last_verified_at = Some(now);
                }
            }
        }
        out.deployments.push(row);
    }
    Ok(out)
}

/// A report a compliance reviewer can read.
pub fn markdown(a: &Audit, registry: &str) -> String {
    let mut s = format!("# Model deployment audit — registry `{registry}`\n\n");
    s.push_str(&format!("Generated {} by {}.", now_rfc3339(), actor()));
    s.push_str(if a.verified {
        " Local copies were re-hashed.\n\n"
    } else {
        " Copies were not re-hashed (run with `--verify`).\n\n"
    });
    if a.deployments.is_empty() {
        s.push_str("No active deployments.\n");
        return s;
    }
    s.push_str("| model | version | host | path | environment | licence | status |\n|---|---|---|---|---|---|---|\n");
    for r in &a.deployments {
        s.push_str(&format!(
            "| {} | {} | {} | `{}` | {} | {} ({}) | {} |\n",
            r.name,
            r.version,
            r.host,
            r.path,
            r.environment.as_deref().unwrap_or("-"),
            r.license.as_deref().unwrap_or("none"),
            r.license_verdict,
            if r.revoked.is_some() {
                format!("{} — REVOKED", r.status)
            } else {
                r.status.to_string()
            }
        ));
    }
    for r in &a.deployments {
        s.push_str(&format!("\n## {}@{} on {}\n\n", r.name, r.version, r.host));
        s.push_str(&format!(
            "- **Path:** `{}`{}\n",
            r.path,
            if r.record_only {
                " (recorded, placed by other means)"
            } else {
                ""
            }
        ));
        s.push_str(&format!(
            "- **Manifest digest:** `sha256:{}`\n",
            r.manifest_digest
        ));
        s.push_str(&format!(
            "- **Deployed:** {} by {}\n",
            r.deployed_at, r.deployed_by
        ));
        s.push_str(&format!(
            "- **Owner:** {}\n",
            r.owner.as_deref().unwrap_or("not named")
        ));
        s.push_str(&format!(
            "- **Licence:** {} — {}\n",
            r.license.as_deref().unwrap_or("none recorded"),
            r.license_verdict
        ));
        for x in &r.license_reasons {
            s.push_str(&format!("  - reason: {x}\n"));
        }
        for x in &r.license_duties {
            s.push_str(&format!("  - duty: {x}\n"));
        }
        s.push_str(&format!(
            "- **Training-data disclosure:** {}{}\n",
            r.data_disclosure,
            r.data_notes
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        ));
        if r.approvals.is_empty() {
            s.push_str("- **Approved by:** nobody (no valid approval)\n");
        } else {
            s.push_str(&format!("- **Approved by:** {}\n", r.approvals.join(", ")));
        }
        s.push_str(&format!(
            "- **Status:** {}{}\n",
            r.status,
            r.last_verified_at
                .as_deref()
                .map(|t| format!(" (verified {t})"))
                .unwrap_or_default()
        ));
        if let Some(rv) = &r.revoked {
            s.push_str(&format!(
                "- **REVOKED** at {}: {} — remove this deployment\n",
                rv.revoked_at, rv.reason
            ));
        }
        for f in &r.findings {
            s.push_str(&format!("  - {} `{}`: {}\n", f.kind, f.path, f.detail));
        }
    }
    s
}
