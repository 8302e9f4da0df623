//! A version's statement: what reviewers approve and bundles carry.
//!
//! An in-toto Statement v1 whose subjects are the version's files and whose
//! predicate records the version's identity and provenance. The statement is
//! serialised once into exact bytes (compact JSON, fields in a fixed order);
//! approvals are ed25519 signatures over the DSSE PAE of those bytes, and a
//! DSSE envelope carries payload and signatures. Pure: no I/O.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::records::{FileRecord, VersionRecord};
use crate::signing::KeyId;

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
            },
        }
    }

    /// The exact bytes that are signed.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("serialising strings and numbers cannot fail")
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

/// One signature in a DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// A claim only: never trusted to pick or count a key.
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    /// The payload, base64.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures over its PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// An envelope of `payload` with `sigs` (key id, signature bytes).
    pub fn new(payload_type: &str, payload: &[u8], sigs: &[(KeyId, Vec<u8>)]) -> Envelope {
        Envelope {
            payload: B64.encode(payload),
            payload_type: payload_type.into(),
            signatures: sigs
                .iter()
                .map(|(k, s)| EnvelopeSignature {
                    keyid: k.to_hex(),
                    sig: B64.encode(s),
                })
                .collect(),
        }
    }

    /// The payload bytes; not base64 is hostile input naming `what`.
    pub fn payload_bytes(&self, what: &str) -> Result<Vec<u8>> {
        B64.decode(&self.payload).map_err(|e| Error::Hostile {
            what: what.into(),
            reason: format!("payload is not base64: {e}"),
        })
    }

    /// Decoded signatures; undecodable ones are dropped (they verify nothing).
    pub fn signatures(&self) -> Vec<Vec<u8>> {
        self.signatures
            .iter()
            .filter_map(|s| B64.decode(&s.sig).ok())
            .collect()
    }
}
