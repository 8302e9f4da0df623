//! A version's statement: what reviewers approve and bundles carry.
//!
//! An in-toto Statement v1 whose subjects are the version's files and whose
//! predicate records the version's identity and provenance. The statement is
//! serialised once into exact bytes (compact JSON, fields in a fixed order);
//! approvals are ed25519 signatures over the DSSE PAE of those bytes, and a
//! DSSE envelope carries payload and signatures. Pure: no I/O.

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::records::{FileRecord, VersionRecord};
pub use crate::signing::{Envelope, EnvelopeSignature};

/// The in-toto Statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// airlock's predicate type: a model version's identity and provenance.
pub const PREDICATE_TYPE: &str = "urn:airlock:predicate:model-version:v1";
/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";

/// A subject's digests.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SubjectDigest {
    /// sha256, hex.
    pub sha256: String,
}

/// One subject: a file of the version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Subject {
    /// The file's path.
    pub name: String,
    /// Its digests.
    pub digest: SubjectDigest,
}

/// One file of the version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PredicateFile {
    /// The path.
    pub path: String,
    /// sha256, hex.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// The digests of its fixed-size pieces (files larger than one piece,
    /// imported with them): signed with the rest, so the isolated side can
    /// verify one large file on every core.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pieces: Option<crate::digest::Pieces>,
}

/// Where the version came from.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PredicateSource {
    /// The source URL.
    pub url: Option<String>,
    /// The upstream revision.
    pub revision: Option<String>,
}

/// The licence approved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PredicateLicense {
    /// The licence id.
    pub id: Option<String>,
    /// The sha256 of its text.
    pub text_sha256: Option<String>,
}

/// The training-data disclosure approved.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PredicateDisclosure {
    /// `full`, `partial`, `none` or `unknown`.
    pub status: String,
    /// Notes.
    pub notes: Option<String>,
}

/// What approvers approve about a version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Predicate {
    /// The model.
    pub name: String,
    /// The version label.
    pub version: String,
    /// The manifest digest (hex).
    pub manifest_digest: String,
    /// Every file.
    pub files: Vec<PredicateFile>,
    /// Provenance.
    pub source: PredicateSource,
    /// Licence.
    pub license: PredicateLicense,
    /// Training-data disclosure.
    pub data_disclosure: PredicateDisclosure,
    /// Who answers for the model.
    pub owner: Option<String>,
    /// When the version was registered where it was first imported (the
    /// one spelling of RFC 3339): the signed order of a model's versions.
    /// Absent in statements made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_at: Option<String>,
}

/// An in-toto Statement v1 about one version.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Statement {
    /// [`STATEMENT_TYPE`].
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The files.
    pub subject: Vec<Subject>,
    /// [`PREDICATE_TYPE`].
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// The version.
    pub predicate: Predicate,
}

impl Statement {
    /// The statement of a version, from its records.
    pub fn of(v: &VersionRecord, files: &[FileRecord]) -> Statement {
        let mut files: Vec<&FileRecord> = files.iter().collect();
        files.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
        Statement {
            statement_type: STATEMENT_TYPE.into(),
            subject: files
                .iter()
                .map(|f| Subject {
                    name: f.path.to_string(),
                    digest: SubjectDigest {
                        sha256: f.sha256.to_hex(),
                    },
                })
                .collect(),
            predicate_type: PREDICATE_TYPE.into(),
            predicate: Predicate {
                name: v.name.to_string(),
                version: v.label.clone(),
                manifest_digest: v.manifest_digest.to_hex(),
                files: files
                    .iter()
                    .map(|f| PredicateFile {
                        path: f.path.to_string(),
                        sha256: f.sha256.to_hex(),
                        size: f.size,
                        pieces: f.pieces.clone(),
                    })
                    .collect(),
                source: PredicateSource {
                    url: v.source_url.clone(),
                    revision: v.revision.clone(),
                },
                license: PredicateLicense {
                    id: v.license_id.clone(),
                    text_sha256: v.license_sha256.map(|d| d.to_hex()),
                },
                data_disclosure: PredicateDisclosure {
                    status: v.disclosure.to_string(),
                    notes: v.disclosure_notes.clone(),
                },
                owner: v.owner.clone(),
                registered_at: Some(v.registered_at.clone()),
            },
        }
    }

    /// The exact bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Sized up front: a statement of 100,000 files is megabytes, and a
        // doubling buffer would hold twice that at its peak.
        let estimate = 1024
            + self
                .predicate
                .files
                .iter()
                .map(|f| f.path.len() + 120)
                .sum::<usize>();
        let mut out = Vec::with_capacity(estimate);
        serde_json::to_writer(&mut out, self).expect("serialising strings and numbers cannot fail");
        out
    }

    /// Parse statement bytes received from outside, checking their structure:
    /// the types, that subjects and predicate files agree, and that the
    /// manifest digest is the digest of the files.
    pub fn parse(bytes: &[u8], what: &str) -> Result<Statement> {
        let hostile = |reason: String| Error::Hostile {
            what: what.to_string(),
            reason,
        };
        let st: Statement =
            serde_json::from_slice(bytes).map_err(|e| hostile(format!("not a statement: {e}")))?;
        if st.statement_type != STATEMENT_TYPE || st.predicate_type != PREDICATE_TYPE {
            return Err(hostile(format!(
                "unexpected statement type `{}` / predicate type `{}`",
                st.statement_type, st.predicate_type
            )));
        }
        let recs = st.file_records()?;
        let digest = crate::manifest::digest(&recs);
        if digest.to_hex() != st.predicate.manifest_digest {
            return Err(hostile(format!(
                "manifest digest {} does not match its files ({digest})",
                st.predicate.manifest_digest
            )));
        }
        if let Some(t) = &st.predicate.registered_at
            && crate::clock::parse_canonical(t).is_none()
        {
            return Err(hostile(format!(
                "registered_at `{t}` is not a time like 2026-11-29T19:01:09Z"
            )));
        }
        if st.subject.len() != st.predicate.files.len()
            || st
                .subject
                .iter()
                .zip(&st.predicate.files)
                .any(|(s, f)| s.name != f.path || s.digest.sha256 != f.sha256)
        {
            return Err(hostile("subjects and predicate files disagree".into()));
        }
        Ok(st)
    }

    /// The files as records (format unknown until the bytes are seen).
    pub fn file_records(&self) -> Result<Vec<FileRecord>> {
        let mut seen = std::collections::HashSet::new();
        self.predicate
            .files
            .iter()
            .map(|f| {
                if !seen.insert(f.path.as_str()) {
                    return Err(Error::Hostile {
                        what: f.path.clone(),
                        reason: "duplicate file in statement".into(),
                    });
                }
                Ok(FileRecord {
                    path: f.path.parse()?,
                    size: f.size,
                    sha256: f
                        .sha256
                        .parse()
                        .map_err(|e: crate::digest::ParseDigestError| Error::Hostile {
                            what: f.path.clone(),
                            reason: e.to_string(),
                        })?,
                    format: crate::formats::Format::Other,
                    upstream_check: None,
                    safety: None,
                    pieces: match &f.pieces {
                        Some(p) if !p.fits(f.size) => {
                            return Err(Error::Hostile {
                                what: f.path.clone(),
                                reason: format!(
                                    "a piece list of {} digests of {} bytes does not fit a file of {} bytes",
                                    p.sha256.len(),
                                    p.size,
                                    f.size
                                ),
                            });
                        }
                        p => p.clone(),
                    },
                })
            })
            .collect()
    }

    /// The licence text's digest, checked to be one.
    pub fn license_digest(&self) -> Result<Option<Sha256Digest>> {
        self.predicate
            .license
            .text_sha256
            .as_deref()
            .map(|t| {
                t.parse()
                    .map_err(|e: crate::digest::ParseDigestError| Error::Hostile {
                        what: "statement licence".into(),
                        reason: e.to_string(),
                    })
            })
            .transpose()
    }
}
