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
    /// The download layout the first import read (`hf-cache`,
    /// `hf-local-dir`, `plain`, …): signed, so a registry the version
    /// crosses to still knows it came from the Hub's tools. Absent in
    /// statements made before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<String>,
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
                    layout: Some(v.layout.clone()),
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

    /// The exact bytes of the statement of a version, from its records:
    /// the same bytes as `Statement::of(v, files).to_bytes()`, written one
    /// file at a time (a statement of a hundred thousand files is not built
    /// as a value first). The statement without files is serialised, and
    /// each list is written into its empty brackets: a string value cannot
    /// hold an unescaped `"subject":[]` or `"files":[]`, so the first
    /// occurrence of each is the key.
    pub fn bytes_of(v: &VersionRecord, files: &[FileRecord]) -> Vec<u8> {
        let mut sorted: Vec<&FileRecord> = files.iter().collect();
        sorted.sort_by(|a, b| a.path.as_str().as_bytes().cmp(b.path.as_str().as_bytes()));
        let shell = serde_json::to_vec(&Statement::of(v, &[])).expect("plain JSON");
        let find = |key: &[u8]| {
            shell
                .windows(key.len())
                .position(|w| w == key)
                .map(|at| at + key.len() - 1)
                .expect("the shell has the key")
        };
        let (subjects_at, files_at) = (find(br#""subject":[]"#), find(br#""files":[]"#));
        let estimate = shell.len()
            + sorted
                .iter()
                .map(|f| 2 * f.path.as_str().len() + 220)
                .sum::<usize>();
        let mut out = Vec::with_capacity(estimate);
        out.extend_from_slice(&shell[..subjects_at]);
        for (i, f) in sorted.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let s = Subject {
                name: f.path.to_string(),
                digest: SubjectDigest {
                    sha256: f.sha256.to_hex(),
                },
            };
            serde_json::to_writer(&mut out, &s).expect("plain JSON");
        }
        out.extend_from_slice(&shell[subjects_at..files_at]);
        for (i, f) in sorted.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let pf = PredicateFile {
                path: f.path.to_string(),
                sha256: f.sha256.to_hex(),
                size: f.size,
                pieces: f.pieces.clone(),
            };
            serde_json::to_writer(&mut out, &pf).expect("plain JSON");
        }
        out.extend_from_slice(&shell[files_at..]);
        out
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
    /// manifest digest is the digest of the files. The files come back as
    /// records; the returned statement's `subject` and `predicate.files`
    /// are left empty (the exact bytes stay the statement of record), so a
    /// statement of a hundred thousand files is held once, not three times.
    pub fn parse(bytes: &[u8], what: &str) -> Result<(Statement, Vec<FileRecord>)> {
        let st = serde_json::from_slice(bytes).map_err(|e| Error::Hostile {
            what: what.to_string(),
            reason: format!("not a statement: {e}"),
        })?;
        Self::checked(st, what)
    }

    /// [`Statement::parse`] of bytes read from `r` (a statement kept on
    /// disk, parsed without being loaded whole).
    pub fn parse_from(
        r: &mut dyn std::io::Read,
        what: &str,
    ) -> Result<(Statement, Vec<FileRecord>)> {
        let st = serde_json::from_reader(r).map_err(|e| Error::Hostile {
            what: what.to_string(),
            reason: format!("not a statement: {e}"),
        })?;
        Self::checked(st, what)
    }

    fn checked(st: incoming::Statement, what: &str) -> Result<(Statement, Vec<FileRecord>)> {
        let hostile = |reason: String| Error::Hostile {
            what: what.to_string(),
            reason,
        };
        if st.statement_type != STATEMENT_TYPE || st.predicate_type != PREDICATE_TYPE {
            return Err(hostile(format!(
                "unexpected statement type `{}` / predicate type `{}`",
                st.statement_type, st.predicate_type
            )));
        }
        let p = st.predicate;
        let files = p.files;
        if let Some(e) = files.error {
            return Err(e);
        }
        let recs = files.records;
        check_unique(&recs)?;
        let digest = crate::manifest::digest(&recs);
        if digest.to_hex() != p.manifest_digest {
            return Err(hostile(format!(
                "manifest digest {} does not match its files ({digest})",
                p.manifest_digest
            )));
        }
        if let Some(t) = &p.registered_at
            && crate::clock::parse_canonical(t).is_none()
        {
            return Err(hostile(format!(
                "registered_at `{t}` is not a time like 2026-11-29T19:01:09Z"
            )));
        }
        if st.subject.count != files.listed.count || st.subject.digest != files.listed.digest {
            return Err(hostile("subjects and predicate files disagree".into()));
        }
        let meta = Statement {
            statement_type: st.statement_type,
            subject: Vec::new(),
            predicate_type: st.predicate_type,
            predicate: Predicate {
                name: p.name,
                version: p.version,
                manifest_digest: p.manifest_digest,
                files: Vec::new(),
                source: p.source,
                license: p.license,
                data_disclosure: p.data_disclosure,
                owner: p.owner,
                registered_at: p.registered_at,
            },
        };
        Ok((meta, recs))
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

impl PredicateFile {
    /// This file as a record (format unknown until the bytes are seen).
    fn record(&self) -> Result<FileRecord> {
        let f = self;
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
    }
}

/// A path listed twice is hostile (sorted indices, not a set of strings).
fn check_unique(recs: &[FileRecord]) -> Result<()> {
    let mut order: Vec<u32> = (0..recs.len() as u32).collect();
    order.sort_unstable_by(|&a, &b| {
        recs[a as usize]
            .path
            .as_str()
            .cmp(recs[b as usize].path.as_str())
    });
    for w in order.windows(2) {
        let (a, b) = (&recs[w[0] as usize], &recs[w[1] as usize]);
        if a.path == b.path {
            return Err(Error::Hostile {
                what: b.path.to_string(),
                reason: "duplicate file in statement".into(),
            });
        }
    }
    Ok(())
}

/// The shape of a statement as it is read from outside: the subject list
/// folded into a count and a digest as it streams past, the predicate's
/// files turned into records one at a time.
mod incoming {
    use serde::Deserialize;
    use serde::de::{SeqAccess, Visitor};

    use super::{PredicateDisclosure, PredicateFile, PredicateLicense, PredicateSource, Subject};
    use crate::digest::{Hasher, Sha256Digest};
    use crate::error::Error;
    use crate::records::FileRecord;

    #[derive(Deserialize)]
    pub(super) struct Statement {
        #[serde(rename = "_type")]
        pub(super) statement_type: String,
        pub(super) subject: Listed,
        #[serde(rename = "predicateType")]
        pub(super) predicate_type: String,
        pub(super) predicate: Predicate,
    }

    #[derive(Deserialize)]
    pub(super) struct Predicate {
        pub(super) name: String,
        pub(super) version: String,
        pub(super) manifest_digest: String,
        pub(super) files: Files,
        pub(super) source: PredicateSource,
        pub(super) license: PredicateLicense,
        pub(super) data_disclosure: PredicateDisclosure,
        pub(super) owner: Option<String>,
        #[serde(default)]
        pub(super) registered_at: Option<String>,
    }

    /// A list of (path, sha256) pairs as a count and the digest of the
    /// sequence (each part length-prefixed): two lists agree exactly when
    /// both match.
    pub(super) struct Listed {
        pub(super) count: u64,
        pub(super) digest: Sha256Digest,
    }

    struct Fold {
        count: u64,
        h: Hasher,
    }

    impl Fold {
        fn new() -> Fold {
            Fold {
                count: 0,
                h: Hasher::new(),
            }
        }
        fn add(&mut self, path: &str, sha256: &str) {
            self.count += 1;
            for part in [path, sha256] {
                self.h.update(&(part.len() as u64).to_le_bytes());
                self.h.update(part.as_bytes());
            }
        }
        fn done(self) -> Listed {
            Listed {
                count: self.count,
                digest: self.h.finish(),
            }
        }
    }

    impl<'de> Deserialize<'de> for Listed {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Listed, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Listed;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a list of subjects")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Listed, A::Error> {
                    let mut fold = Fold::new();
                    while let Some(s) = seq.next_element::<Subject>()? {
                        fold.add(&s.name, &s.digest.sha256);
                    }
                    Ok(fold.done())
                }
            }
            d.deserialize_seq(V)
        }
    }

    /// The predicate's files: records, the listing folded as for the
    /// subjects, and the first file that is not a valid record.
    pub(super) struct Files {
        pub(super) records: Vec<FileRecord>,
        pub(super) listed: Listed,
        pub(super) error: Option<Error>,
    }

    impl<'de> Deserialize<'de> for Files {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Files, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = Files;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a list of files")
                }
                fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Files, A::Error> {
                    let mut fold = Fold::new();
                    let mut records = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(1 << 16));
                    let mut error = None;
                    while let Some(f) = seq.next_element::<PredicateFile>()? {
                        fold.add(&f.path, &f.sha256);
                        match f.record() {
                            Ok(r) if error.is_none() => records.push(r),
                            Ok(_) => {}
                            Err(e) => {
                                error.get_or_insert(e);
                            }
                        }
                    }
                    records.shrink_to_fit();
                    Ok(Files {
                        records,
                        listed: fold.done(),
                        error,
                    })
                }
            }
            d.deserialize_seq(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Disclosure, Origin};

    fn version(name: &str, files: &[FileRecord]) -> VersionRecord {
        VersionRecord {
            id: 1,
            name: "org/model".parse().unwrap(),
            label: name.into(),
            manifest_digest: crate::manifest::digest(files),
            total_size: files.iter().map(|f| f.size).sum(),
            imported_at: "2026-12-02T10:00:00Z".into(),
            imported_by: "tester".into(),
            registry: "here".into(),
            origin: Origin::Directory,
            layout: "plain".into(),
            source_url: Some(r#"https://example.org/"subject":[]"#.into()),
            revision: None,
            license_id: Some("apache-2.0".into()),
            license_sha256: Some(Sha256Digest::of(b"licence")),
            disclosure: Disclosure::Partial,
            disclosure_notes: Some(r#"notes with "files":[] inside"#.into()),
            owner: Some("team \\ \"ml\"".into()),
            bundle_id: None,
            registered_at: "2026-12-02T10:00:00Z".into(),
        }
    }

    fn file(path: &str, size: u64, pieces: bool) -> FileRecord {
        FileRecord {
            path: path.parse().unwrap(),
            size,
            sha256: Sha256Digest::of(path.as_bytes()),
            format: crate::formats::Format::Other,
            upstream_check: None,
            safety: None,
            pieces: pieces.then(|| crate::digest::Pieces {
                size: crate::digest::CHUNK as u64 * 2,
                sha256: vec![Sha256Digest::of(b"a"), Sha256Digest::of(b"b")],
            }),
        }
    }

    #[test]
    fn streamed_bytes_are_the_serialised_statement_and_parse_back() {
        let files = vec![
            file("z/last.bin", 3 << 20, true),
            file("a \"quoted\" name.txt", 3, false),
            file("ünï/côdé.json", 7, false),
            file("files.json", 0, false),
        ];
        for v in [version("v1", &files), version("v\"2", &files)] {
            let streamed = Statement::bytes_of(&v, &files);
            assert_eq!(
                String::from_utf8(streamed.clone()).unwrap(),
                String::from_utf8(Statement::of(&v, &files).to_bytes()).unwrap()
            );
            let (meta, recs) = Statement::parse(&streamed, "test").unwrap();
            assert_eq!(meta.predicate.name, "org/model");
            let mut want = files.clone();
            want.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
            let got: Vec<_> = recs
                .iter()
                .map(|r| (r.path.to_string(), r.sha256, r.size, r.pieces.clone()))
                .collect();
            let want: Vec<_> = want
                .iter()
                .map(|r| (r.path.to_string(), r.sha256, r.size, r.pieces.clone()))
                .collect();
            assert_eq!(got, want);
        }
        let empty = version("v0", &[]);
        assert_eq!(
            Statement::bytes_of(&empty, &[]),
            Statement::of(&empty, &[]).to_bytes()
        );
    }

    #[test]
    fn subjects_that_disagree_with_the_files_are_refused() {
        let files = vec![file("a.bin", 1, false), file("b.bin", 2, false)];
        let v = version("v1", &files);
        let good = String::from_utf8(Statement::bytes_of(&v, &files)).unwrap();
        // The second subject renamed: same count, different list.
        let bad = good.replacen(r#"{"name":"b.bin""#, r#"{"name":"c.bin""#, 1);
        assert_ne!(bad, good);
        let err = Statement::parse(bad.as_bytes(), "member `s`").unwrap_err();
        assert!(
            err.to_string()
                .contains("subjects and predicate files disagree"),
            "{err}"
        );
        // A file listed twice (subjects and files alike) is refused by name.
        let twice = vec![file("a.bin", 1, false), file("a.bin", 1, false)];
        let v2 = version("v2", &twice);
        let dup = Statement::of(&v2, &twice).to_bytes();
        let err = Statement::parse(&dup, "member `s`").unwrap_err();
        assert!(
            err.to_string().contains("duplicate file in statement"),
            "{err}"
        );
    }
}
