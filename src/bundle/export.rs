//! `export REF… --key K --out FILE [--volume-size SIZE]`: write a signed bundle.
//!
//! Everything small (index, statements) is built in memory first; blobs are
//! then streamed from the store into the tar, each re-hashed as it is read,
//! so a corrupted store cannot be exported silently (the partial output is
//! discarded and the command fails with exit 3). Memory stays flat.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::PathBuf;

use serde::Serialize;

use super::volumes::VolumeWriter;
use super::{
    DEFAULT_EXPIRY_DAYS, FORMAT, INDEX_NAME, INDEX_PAYLOAD_TYPE, Index, IndexApproval, IndexMember,
    IndexSignature, IndexVersion, SIG_NAME,
};
use crate::actor::actor;
use crate::db::ExportRecord;
use crate::digest::{HashingReader, Sha256Digest};
use crate::error::{Error, Result};
use crate::progress::ProgressFactory;
use crate::records::VersionRecord;
use crate::registry::Registry;
use crate::signing::{KeySource, pae};
use crate::statement::{Envelope, EnvelopeSignature, PAYLOAD_TYPE};

#[derive(Debug, Clone)]
pub struct ExportOptions {
    pub out: PathBuf,
    pub volume_size: Option<u64>,
    pub expires_in_days: u32,
}

impl ExportOptions {
    pub fn new(out: PathBuf) -> ExportOptions {
        ExportOptions {
            out,
            volume_size: None,
            expires_in_days: DEFAULT_EXPIRY_DAYS,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct ExportOutcome {
    pub bundle_id: String,
    pub origin: String,
    pub sequence: u64,
    pub created: String,
    pub expires: String,
    pub exporter_key_id: String,
    pub versions: Vec<String>,
    pub blobs: usize,
    pub bytes: u64,
    pub files: Vec<String>,
}

fn header(name: &str, size: u64) -> Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(name)
        .map_err(|e| Error::input(format!("member name `{name}`: {e}")))?;
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    Ok(h)
}

/// Write a bundle of `versions`, signed by `key`.
pub fn export(
    reg: &Registry,
    versions: &[VersionRecord],
    key: &dyn KeySource,
    opts: &ExportOptions,
    progress: &dyn ProgressFactory,
) -> Result<ExportOutcome> {
    if versions.is_empty() {
        return Err(Error::input("name at least one version to export"));
    }
    if opts.expires_in_days == 0 || opts.expires_in_days > 3650 {
        return Err(Error::input("--expires-in-days must be between 1 and 3650"));
    }
    // 1. Statements with their approvals, and the blobs they need.
    let mut statements: Vec<(String, Vec<u8>)> = Vec::new();
    let mut index_versions = Vec::new();
    let mut blobs: Vec<(String, Sha256Digest, u64)> = Vec::new();
    let mut licences: Vec<(String, Sha256Digest, u64)> = Vec::new();
    let mut seen = HashSet::new();
    for (i, v) in versions.iter().enumerate() {
        let payload = crate::trust::statement_bytes(reg, v)?;
        let approvals = reg.db.approvals(v.id)?;
        let sigs: Vec<_> = approvals
            .iter()
            .map(|a| (a.key_id, a.signature.clone()))
            .collect();
        let env = Envelope::new(PAYLOAD_TYPE, &payload, &sigs);
        let name = format!("statements/{i}.dsse.json");
        statements.push((name.clone(), serde_json::to_vec(&env).expect("plain JSON")));
        index_versions.push(IndexVersion {
            name: v.name.to_string(),
            version: v.label.clone(),
            manifest_digest: v.manifest_digest.to_hex(),
            statement: name,
            approvals: approvals
                .iter()
                .map(|a| IndexApproval {
                    key_id: a.key_id.to_hex(),
                    name: a.name.clone(),
                    signed_at: a.signed_at.clone(),
                })
                .collect(),
        });
        let files = reg.files(v)?;
        for f in &files {
            if seen.insert(f.sha256) {
                blobs.push((format!("blobs/{}", f.sha256), f.sha256, f.size));
            }
        }
        if let Some(l) = v.license_sha256
            && seen.insert(l)
        {
            let size = reg
                .store
                .stat(&l)?
                .ok_or_else(|| Error::not_found("licence blob", l.to_hex()))?
                .size;
            licences.push((format!("licenses/{l}"), l, size));
        }
    }
    // 2. The index, signed.
    let created_t = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .expect("0 ns is valid");
    let expires_t = created_t + time::Duration::days(i64::from(opts.expires_in_days));
    let fmt = &time::format_description::well_known::Rfc3339;
    let created = created_t.format(fmt).expect("formattable");
    let expires = expires_t.format(fmt).expect("formattable");
    let mut id = [0u8; 16];
    getrandom::fill(&mut id).map_err(|e| Error::system("read system randomness", e))?;
    let bundle_id = hex::encode(id);
    let sequence = reg.db.next_export_sequence()?;
    let exporter = key.public_key().id();
    let mut members: Vec<IndexMember> = statements
        .iter()
        .map(|(n, b)| IndexMember {
            name: n.clone(),
            size: b.len() as u64,
            sha256: Sha256Digest::of(b).to_hex(),
        })
        .collect();
    for (n, d, size) in licences.iter().chain(&blobs) {
        members.push(IndexMember {
            name: n.clone(),
            size: *size,
            sha256: d.to_hex(),
        });
    }
    let index = Index {
        format: FORMAT.into(),
        bundle_id: bundle_id.clone(),
        origin: reg.name().to_string(),
        sequence,
        created: created.clone(),
        expires: expires.clone(),
        exporter_key_id: exporter.to_hex(),
        versions: index_versions,
        members,
    };
    let index_bytes = serde_json::to_vec_pretty(&index).expect("plain JSON");
    let sig = key.sign(&pae(INDEX_PAYLOAD_TYPE, &index_bytes))?;
    let sig_doc = IndexSignature {
        payload_type: INDEX_PAYLOAD_TYPE.into(),
        signatures: vec![EnvelopeSignature {
            keyid: exporter.to_hex(),
            sig: base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &sig),
        }],
    };
    let sig_bytes = serde_json::to_vec_pretty(&sig_doc).expect("plain JSON");
    // The sequence is spent even if writing fails below: gaps are harmless,
    // reuse is not.
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::Export,
        bundle_id.clone(),
        serde_json::json!({
            "sequence": sequence,
            "origin": reg.name(),
            "exporter": exporter.to_hex(),
            "expires": expires,
            "versions": versions.iter().map(|v| format!("{}@{}", v.name, v.label)).collect::<Vec<_>>(),
            "out": opts.out.display().to_string(),
        }),
    );
    reg.db.record_export(
        &ExportRecord {
            bundle_id: bundle_id.clone(),
            sequence,
            created: created.clone(),
            expires: expires.clone(),
            exporter,
            path: opts.out.display().to_string(),
            exported_by: actor(),
        },
        &event,
    )?;

    // 3. The tar stream.
    let out = VolumeWriter::new(&opts.out, opts.volume_size)?;
    let mut tar = tar::Builder::new(std::io::BufWriter::with_capacity(crate::digest::CHUNK, out));
    let io = |e: std::io::Error| Error::io("write bundle", &opts.out, e);
    tar.append(
        &header(INDEX_NAME, index_bytes.len() as u64)?,
        &index_bytes[..],
    )
    .map_err(io)?;
    tar.append(&header(SIG_NAME, sig_bytes.len() as u64)?, &sig_bytes[..])
        .map_err(io)?;
    for (n, b) in &statements {
        tar.append(&header(n, b.len() as u64)?, &b[..])
            .map_err(io)?;
    }
    let total: u64 = licences.iter().chain(&blobs).map(|b| b.2).sum();
    let bar = progress.start("export", total);
    for (n, d, size) in licences.iter().chain(&blobs) {
        let f = std::io::BufReader::with_capacity(crate::digest::CHUNK, reg.store.open_blob(d)?);
        let mut r = HashingReader::new(f.take(*size));
        let counting = ProgressReader {
            inner: &mut r,
            bar: &*bar,
        };
        tar.append(&header(n, *size)?, counting).map_err(io)?;
        let (found, read) = r.finish();
        if found != *d || read != *size {
            return Err(Error::DigestMismatch {
                what: format!(
                    "stored blob {} (export aborted, nothing written)",
                    reg.store.blob_path(d).display()
                ),
                expected: d.to_hex(),
                found: format!("{found} ({read} of {size} bytes)"),
            });
        }
    }
    bar.finish();
    let buffered = tar.into_inner().map_err(io)?;
    let mut out = buffered.into_inner().map_err(|e| io(e.into_error()))?;
    out.flush().map_err(io)?;
    let files = out.finish()?;
    Ok(ExportOutcome {
        bundle_id,
        origin: reg.name().to_string(),
        sequence,
        created,
        expires,
        exporter_key_id: exporter.to_hex(),
        versions: versions
            .iter()
            .map(|v| format!("{}@{}", v.name, v.label))
            .collect(),
        blobs: licences.len() + blobs.len(),
        bytes: total,
        files: files.iter().map(|p| p.display().to_string()).collect(),
    })
}

struct ProgressReader<'a, R> {
    inner: R,
    bar: &'a dyn crate::progress::Progress,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.bar.inc(n as u64);
        Ok(n)
    }
}
