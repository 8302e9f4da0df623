//! Fleet attestations: a serving host proves what it has deployed.
//!
//! On the host, `verify --path DIR REF --attest --key HOST.key --out
//! REPORT` checks the folder against the version (the same check as
//! `verify --path`) and writes a signed report: a DSSE envelope of an
//! in-toto statement whose subject is the version (by its manifest digest)
//! and whose predicate ([`ATTEST_PREDICATE`]) says which host, which
//! folder, when, whether every byte matched, and what did not. The report
//! is written whether or not the copy matches: a host reporting drift is
//! news the registry needs.
//!
//! On the registry, `audit ingest REPORT` checks the signature against the
//! host keys it trusts (`trust add HOST.pub --role host`), that the report
//! names a version it holds by the same manifest digest, and that the
//! version is deployed at that host and folder; it then records the report
//! as that deployment's latest verification (unless a newer one is
//! recorded already). A report ingested twice is recorded once. `audit`
//! shows, for every deployment, when its bytes were last proven and by
//! which key.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::event::{EventDraft, EventKind};
use crate::records::{DeployStatus, VersionRecord};
use crate::registry::Registry;
use crate::signing::{Envelope, KeySource, PublicKey, pae};
use crate::verify::PathReport;

/// The in-toto predicate type of a host's verification report.
pub const ATTEST_PREDICATE: &str = "urn:airlock:predicate:deployment-verification:v1";
const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The largest report read.
pub const REPORT_CAP: u64 = 16 << 20;

/// One thing the host found wrong.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ReportedFinding {
    /// The file.
    pub path: String,
    /// `modified`, `missing`, `extra`, …
    pub kind: String,
    /// What was found.
    pub detail: String,
}

/// What a host reports.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct HostReport {
    /// The version, `name@label`.
    pub version: String,
    /// The host that checked.
    pub host: String,
    /// The folder checked (absolute).
    pub path: String,
    /// When (RFC 3339).
    pub verified_at: String,
    /// Whether every file matched.
    pub matches: bool,
    /// Files the version has.
    pub files: usize,
    /// Bytes hashed.
    pub hashed_bytes: u64,
    /// What did not match.
    pub findings: Vec<ReportedFinding>,
}

/// Write the signed report of `report` (a `verify --path` of `v` on this
/// host) to `out`, signed by `key`.
pub fn write_report(
    v: &VersionRecord,
    report: &PathReport,
    key: &dyn KeySource,
    out: &Path,
) -> Result<HostReport> {
    let path = std::path::absolute(&report.path)
        .map_err(|e| Error::io("resolve", Path::new(&report.path), e))?;
    let r = HostReport {
        version: format!("{}@{}", v.name, v.label),
        host: crate::actor::hostname(),
        path: path.display().to_string(),
        verified_at: crate::clock::now_rfc3339(),
        matches: !crate::finding::failed(&report.findings),
        files: report.files,
        hashed_bytes: report.hashed_bytes,
        findings: report
            .findings
            .iter()
            .map(|f| ReportedFinding {
                path: f.path.clone(),
                kind: f.kind.to_string(),
                detail: f.detail.clone(),
            })
            .collect(),
    };
    let statement = serde_json::json!({
        "_type": crate::statement::STATEMENT_TYPE,
        "subject": [{"name": r.version, "digest": {"sha256": v.manifest_digest.to_hex()}}],
        "predicateType": ATTEST_PREDICATE,
        "predicate": r,
    });
    let payload = serde_json::to_vec(&statement).expect("plain JSON");
    let public = key.public_key();
    let sig = key.sign(&pae(PAYLOAD_TYPE, &payload))?;
    let env = Envelope::bytes_of(PAYLOAD_TYPE, &payload, &[(public.id(), sig)]);
    crate::store::write_atomic(out, &env)?;
    Ok(r)
}

/// A host key as listed.
#[derive(Debug, Clone, Serialize)]
pub struct HostKeyView {
    /// The key id.
    pub key_id: String,
    /// Its name.
    pub name: String,
}

/// Trust an ed25519 public key as a serving host's (`trust add --role host`).
pub fn trust_host(reg: &Registry, pubfile: &Path, name: &str) -> Result<(HostKeyView, bool)> {
    let k = PublicKey::load(pubfile)?;
    let row = crate::db::HostKey {
        key_id: k.id().to_hex(),
        name: name.to_string(),
        public_key: hex::encode(k.raw()),
        revoked: false,
    };
    let event = EventDraft::new(
        EventKind::TrustAdd,
        row.key_id.clone(),
        serde_json::json!({ "name": name, "role": "host" }),
    );
    let added = reg.db.add_host_key(&row, &crate::actor::actor(), &event)?;
    Ok((
        HostKeyView {
            key_id: row.key_id,
            name: row.name,
        },
        added,
    ))
}

/// What `audit ingest` recorded.
#[derive(Debug, Serialize)]
pub struct Ingested {
    /// What the host reported.
    pub report: HostReport,
    /// The host key that signed it.
    pub key_id: String,
    /// Its name here.
    pub signer: String,
    /// The deployment it verified.
    pub deployment_id: i64,
    /// False when this very report was ingested before.
    pub recorded: bool,
}

/// Check a host's report and record it as its deployment's verification.
pub fn ingest(reg: &Registry, path: &Path) -> Result<Ingested> {
    let bytes = crate::fsio::read_small_bytes(path, REPORT_CAP)?;
    ingest_bytes(reg, bytes, path.display().to_string())
}

/// Whether `bytes` are shaped as a host report (a DSSE envelope of the
/// in-toto payload type); its signature is for the registry to judge.
pub fn check_shape(bytes: &[u8], what: &str) -> Result<()> {
    let (payload_type, _, _) = Envelope::open(bytes.to_vec(), what)?;
    if payload_type != PAYLOAD_TYPE {
        return Err(Error::Hostile {
            what: what.to_string(),
            reason: format!("payload type `{payload_type}`, expected `{PAYLOAD_TYPE}`"),
        });
    }
    Ok(())
}

/// [`ingest`] of a report's bytes read from `what`.
pub fn ingest_bytes(reg: &Registry, bytes: Vec<u8>, what: String) -> Result<Ingested> {
    let hostile = |reason: String| Error::Hostile {
        what: what.clone(),
        reason,
    };
    let report_sha256 = Sha256Digest::of(&bytes).to_hex();
    let (payload_type, sigs, payload) = Envelope::open(bytes.clone(), &what)?;
    if payload_type != PAYLOAD_TYPE {
        return Err(hostile(format!(
            "payload type `{payload_type}`, expected `{PAYLOAD_TYPE}`"
        )));
    }
    let keys: Vec<(crate::db::HostKey, PublicKey)> = reg
        .db
        .host_keys()?
        .into_iter()
        .filter(|k| !k.revoked)
        .filter_map(|k| {
            let pk = PublicKey::from_raw(&hex::decode(&k.public_key).ok()?).ok()?;
            Some((k, pk))
        })
        .collect();
    let msg = pae(PAYLOAD_TYPE, &payload);
    let signers = crate::signing::signers_of(&msg, &sigs, &keys, |(_, pk)| pk.id(), |(_, pk)| pk);
    let Some(((key, _), _)) = signers.into_iter().next() else {
        return Err(Error::Untrusted {
            what,
            reason: format!(
                "no signature by a host key this registry trusts ({} signature(s); `airlock trust add HOST.pub --role host`)",
                sigs.len()
            ),
        });
    };
    let doc: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|e| hostile(format!("not a statement: {e}")))?;
    if doc["predicateType"] != ATTEST_PREDICATE {
        return Err(hostile(format!(
            "predicate type {}, expected `{ATTEST_PREDICATE}`",
            doc["predicateType"]
        )));
    }
    let report: HostReport = serde_json::from_value(doc["predicate"].clone())
        .map_err(|e| hostile(format!("not a verification report: {e}")))?;
    let claimed = doc["subject"][0]["digest"]["sha256"].as_str().unwrap_or("");
    let v = reg.resolve(&report.version.parse()?)?;
    if claimed != v.manifest_digest.to_hex() {
        return Err(Error::Untrusted {
            what,
            reason: format!(
                "the report is about manifest sha256:{claimed}, but {} here is sha256:{}",
                report.version, v.manifest_digest
            ),
        });
    }
    if crate::clock::parse_canonical(&report.verified_at).is_none() {
        return Err(hostile(format!(
            "verified_at `{}` is not a time",
            report.verified_at
        )));
    }
    let deployment = reg
        .db
        .deployments(true)?
        .into_iter()
        .find(|d| d.version_id == v.id && d.host == report.host && d.path == report.path)
        .ok_or_else(|| {
            Error::not_found(
                "deployment",
                format!(
                    "{} at {}:{} (`airlock deploy … --record-only --host {} --path {}` records it)",
                    report.version, report.host, report.path, report.host, report.path
                ),
            )
        })?;
    let status = if report.matches {
        DeployStatus::Ok
    } else {
        DeployStatus::Drift
    };
    let row = crate::db::AttestationRow {
        deployment_id: deployment.id,
        verified_at: report.verified_at.clone(),
        matches: report.matches,
        key_id: key.key_id.clone(),
        report_sha256,
        envelope: bytes,
    };
    let event = EventDraft::new(
        EventKind::Attest,
        report.version.clone(),
        serde_json::json!({
            "deployment_id": deployment.id, "host": report.host, "path": report.path,
            "verified_at": report.verified_at, "matches": report.matches,
            "key_id": key.key_id, "report_sha256": row.report_sha256,
        }),
    );
    let recorded = reg
        .db
        .add_attestation(&row, status, &crate::actor::actor(), &event)?;
    Ok(Ingested {
        report,
        key_id: key.key_id.clone(),
        signer: key.name.clone(),
        deployment_id: deployment.id,
        recorded,
    })
}

/// When a deployment's bytes were last proven by a host's report, and by
/// which key: `(verified_at, key name or id, matched)`.
pub fn last_proof(reg: &Registry, deployment_id: i64) -> Result<Option<(String, String, bool)>> {
    let Some((at, key_id, matches)) = reg.db.last_attestation(deployment_id)? else {
        return Ok(None);
    };
    let name = reg
        .db
        .host_keys()?
        .into_iter()
        .find(|k| k.key_id == key_id)
        .map_or_else(|| key_id.chars().take(16).collect(), |k| k.name);
    Ok(Some((at, name, matches)))
}
