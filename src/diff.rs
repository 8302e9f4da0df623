//! `diff REF1 REF2`: what differs between two versions, from the records
//! and the stored bytes' headers: files added, removed and changed (sizes
//! and digests), tensors whose dtype or shape changed (safetensors and GGUF
//! headers read from the store; for other weight formats the recorded
//! tensor counts, parameters and dtypes), the licence, the disclosure, the owner,
//! the source and the approvals. Read-only; nothing is hashed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::formats::Format;
use crate::formats::{TensorInfo, tensor_table};
use crate::records::{FileRecord, VersionRecord};
use crate::registry::Registry;

/// How a file or tensor differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    /// Only in the second version.
    Added,
    /// Only in the first.
    Removed,
    /// In both, different.
    Changed,
}

impl Change {
    /// The mark shown in the table.
    pub fn mark(self) -> char {
        match self {
            Change::Added => '+',
            Change::Removed => '-',
            Change::Changed => '~',
        }
    }
}

/// One side of a file.
#[derive(Debug, Clone, Serialize)]
pub struct FileSide {
    /// Size in bytes.
    pub size: u64,
    /// sha256, hex.
    pub sha256: String,
}

/// A file that differs.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    /// The path in the model.
    pub path: String,
    /// Added, removed or changed.
    pub change: Change,
    /// In the first version.
    pub from: Option<FileSide>,
    /// In the second.
    pub to: Option<FileSide>,
}

/// A tensor that differs (or, for a weight format whose tensors are not
/// listed, the file's recorded summary, as tensor `*`).
#[derive(Debug, Clone, Serialize)]
pub struct TensorDiff {
    /// The file holding it.
    pub file: String,
    /// The tensor's name.
    pub tensor: String,
    /// Added, removed or changed.
    pub change: Change,
    /// dtype and shape in the first version (`F16 [4096, 4096]`).
    pub from: Option<String>,
    /// In the second.
    pub to: Option<String>,
}

/// A recorded field that differs.
#[derive(Debug, Clone, Serialize)]
pub struct FieldDiff {
    /// `license_id`, `license_text_sha256`, `disclosure`, …
    pub field: String,
    /// In the first version (`null`: not set).
    pub from: Option<String>,
    /// In the second.
    pub to: Option<String>,
}

/// Who approved which version.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ApprovalDiff {
    /// Approvers (name and key id) of the first version only.
    pub only_from: Vec<String>,
    /// Of the second only.
    pub only_to: Vec<String>,
    /// Of both.
    pub both: Vec<String>,
}

/// What `diff` found.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    /// The first version, `name@label`.
    pub from: String,
    /// The second.
    pub to: String,
    /// Whether the two hold the same bytes (equal manifest digests).
    pub same_content: bool,
    /// Files in both with equal digests.
    pub unchanged_files: usize,
    /// Files that differ, by path.
    pub files: Vec<FileDiff>,
    /// Tensors that differ, by file then tensor.
    pub tensors: Vec<TensorDiff>,
    /// Recorded fields that differ.
    pub fields: Vec<FieldDiff>,
    /// The approvals of each.
    pub approvals: ApprovalDiff,
}

impl DiffReport {
    /// Whether anything differs.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.tensors.is_empty()
            && self.fields.is_empty()
            && self.approvals.only_from.is_empty()
            && self.approvals.only_to.is_empty()
    }
}

/// Compare version `a` with version `b`.
pub fn diff(reg: &Registry, a: &VersionRecord, b: &VersionRecord) -> Result<DiffReport> {
    let (fa, fb) = (reg.files(a)?, reg.files(b)?);
    let side = |f: &FileRecord| FileSide {
        size: f.size,
        sha256: f.sha256.to_hex(),
    };
    let ia: BTreeMap<&str, &FileRecord> = fa.iter().map(|f| (f.path.as_str(), f)).collect();
    let ib: BTreeMap<&str, &FileRecord> = fb.iter().map(|f| (f.path.as_str(), f)).collect();
    let paths: BTreeSet<&str> = ia.keys().chain(ib.keys()).copied().collect();
    let mut files = Vec::new();
    let mut tensors = Vec::new();
    let mut unchanged = 0;
    for p in paths {
        let (x, y) = (ia.get(p).copied(), ib.get(p).copied());
        let change = match (x, y) {
            (Some(x), Some(y)) if x.sha256 == y.sha256 => {
                unchanged += 1;
                continue;
            }
            (Some(_), Some(_)) => Change::Changed,
            (None, _) => Change::Added,
            (_, None) => Change::Removed,
        };
        files.push(FileDiff {
            path: p.to_string(),
            change,
            from: x.map(side),
            to: y.map(side),
        });
        tensors.extend(tensor_changes(reg, p, x, y));
    }
    Ok(DiffReport {
        from: format!("{}@{}", a.name, a.label),
        to: format!("{}@{}", b.name, b.label),
        same_content: a.manifest_digest == b.manifest_digest,
        unchanged_files: unchanged,
        files,
        tensors,
        fields: field_changes(a, b),
        approvals: approval_changes(reg, a, b)?,
    })
}

/// The tensors of one file, listed when it is safetensors (its header read
/// from the store); otherwise the recorded summary of a weight file.
enum Tensors {
    Listed(Vec<TensorInfo>),
    Summary(String),
}

fn tensors_of(reg: &Registry, f: &FileRecord) -> Option<Tensors> {
    if matches!(f.format, Format::Safetensors | Format::Gguf) {
        let path = reg.store.blob_path(&f.sha256);
        if let Ok(mut file) = crate::fsio::open_regular(&path)
            && let Some(t) = tensor_table(f.format, &mut std::io::BufReader::new(&mut file), f.size)
        {
            return Some(Tensors::Listed(t));
        }
    }
    let s = f.safety.as_ref().filter(|_| f.format.is_weights())?;
    Some(Tensors::Summary(format!(
        "{} tensors, {} parameters, {}",
        s.tensors,
        s.parameters,
        if s.dtypes.is_empty() {
            "-".to_string()
        } else {
            s.dtypes.join(",")
        }
    )))
}

fn describe(t: &TensorInfo) -> String {
    let dims: Vec<String> = t.shape.iter().map(u64::to_string).collect();
    format!("{} [{}]", t.dtype, dims.join(", "))
}

fn tensor_changes(
    reg: &Registry,
    path: &str,
    x: Option<&FileRecord>,
    y: Option<&FileRecord>,
) -> Vec<TensorDiff> {
    let (tx, ty) = (
        x.and_then(|f| tensors_of(reg, f)),
        y.and_then(|f| tensors_of(reg, f)),
    );
    let entry = |tensor: &str, change, from: Option<String>, to: Option<String>| TensorDiff {
        file: path.to_string(),
        tensor: tensor.to_string(),
        change,
        from,
        to,
    };
    match (tx, ty) {
        (None, None) => Vec::new(),
        (Some(Tensors::Listed(a)), Some(Tensors::Listed(b))) => {
            let ma: BTreeMap<&str, &TensorInfo> = a.iter().map(|t| (t.name.as_str(), t)).collect();
            let mb: BTreeMap<&str, &TensorInfo> = b.iter().map(|t| (t.name.as_str(), t)).collect();
            let names: BTreeSet<&str> = ma.keys().chain(mb.keys()).copied().collect();
            names
                .into_iter()
                .filter_map(|n| match (ma.get(n), mb.get(n)) {
                    (Some(p), Some(q)) if p.dtype == q.dtype && p.shape == q.shape => None,
                    (p, q) => Some(entry(
                        n,
                        match (p, q) {
                            (None, _) => Change::Added,
                            (_, None) => Change::Removed,
                            _ => Change::Changed,
                        },
                        p.map(|t| describe(t)),
                        q.map(|t| describe(t)),
                    )),
                })
                .collect()
        }
        (a, b) => {
            let text = |t: Option<Tensors>| {
                t.map(|t| match t {
                    Tensors::Summary(s) => s,
                    Tensors::Listed(l) => format!("{} tensors", l.len()),
                })
            };
            let (a, b) = (text(a), text(b));
            if a == b {
                return Vec::new();
            }
            let change = match (&a, &b) {
                (None, _) => Change::Added,
                (_, None) => Change::Removed,
                _ => Change::Changed,
            };
            vec![entry("*", change, a, b)]
        }
    }
}

fn field_changes(a: &VersionRecord, b: &VersionRecord) -> Vec<FieldDiff> {
    let hex = |d: &Option<Sha256Digest>| d.map(|d| d.to_hex());
    let fields = [
        ("license_id", a.license_id.clone(), b.license_id.clone()),
        (
            "license_text_sha256",
            hex(&a.license_sha256),
            hex(&b.license_sha256),
        ),
        (
            "disclosure",
            Some(a.disclosure.to_string()),
            Some(b.disclosure.to_string()),
        ),
        (
            "disclosure_notes",
            a.disclosure_notes.clone(),
            b.disclosure_notes.clone(),
        ),
        ("owner", a.owner.clone(), b.owner.clone()),
        ("source_url", a.source_url.clone(), b.source_url.clone()),
        ("revision", a.revision.clone(), b.revision.clone()),
        (
            "manifest_digest",
            Some(a.manifest_digest.to_hex()),
            Some(b.manifest_digest.to_hex()),
        ),
    ];
    fields
        .into_iter()
        .filter(|(_, x, y)| x != y)
        .map(|(field, from, to)| FieldDiff {
            field: field.into(),
            from,
            to,
        })
        .collect()
}

fn approval_changes(reg: &Registry, a: &VersionRecord, b: &VersionRecord) -> Result<ApprovalDiff> {
    let who = |v: &VersionRecord| -> Result<BTreeSet<String>> {
        Ok(reg
            .db
            .approvals(v.id)?
            .into_iter()
            .map(|r| format!("{} ({})", r.name, r.key_id.short()))
            .collect())
    };
    let (x, y) = (who(a)?, who(b)?);
    Ok(ApprovalDiff {
        only_from: x.difference(&y).cloned().collect(),
        only_to: y.difference(&x).cloned().collect(),
        both: x.intersection(&y).cloned().collect(),
    })
}
