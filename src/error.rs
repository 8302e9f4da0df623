//! The library's error type and its mapping onto the contract's exit codes.
//!
//! Every variant names the thing it is about (a path, a member, a digest, a
//! reference) so a message can be acted on without a debugger. Integrity
//! problems are their own variants because scripts depend on exit code 3.
//! This module does no I/O.

use std::path::{Path, PathBuf};

use crate::digest::Sha256Digest;

/// What kind of failure an error is, as the contract's exit codes see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// Exit 1: bad input, I/O failure, not found, locked.
    Operational,
    /// Exit 3: digest mismatch, bad signature, hostile input.
    Integrity,
    /// Exit 4: a policy forbids it.
    Policy,
}

impl Class {
    /// The process exit code the contract assigns to this class.
    pub fn exit_code(self) -> u8 {
        match self {
            Class::Operational => 1,
            Class::Integrity => 3,
            Class::Policy => 4,
        }
    }
}

/// Everything that can go wrong inside the library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{op} `{path}`: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("database: {0}")]
    Db(#[from] DbError),

    #[error("{0}")]
    Input(String),

    #[error("{what} not found: `{name}`")]
    NotFound { what: &'static str, name: String },

    #[error(
        "`{name}@{label}` already exists with other content (manifest {existing}, this import {new}); a version is immutable"
    )]
    VersionConflict {
        name: String,
        label: String,
        existing: Sha256Digest,
        new: Sha256Digest,
        /// Conflicts arriving in a signed bundle are integrity failures.
        integrity: bool,
    },

    #[error("digest mismatch for `{what}`: expected sha256 {expected}, found {found}")]
    DigestMismatch {
        what: String,
        expected: String,
        found: String,
    },

    #[error(
        "upstream hash mismatch for `{path}`: {source_of_hash} says {algo} {expected}, the bytes hash to {found}"
    )]
    UpstreamMismatch {
        path: String,
        source_of_hash: String,
        algo: &'static str,
        expected: String,
        found: String,
    },

    #[error("refusing `{path}`: {reason}")]
    Unsafe { path: PathBuf, reason: String },

    #[error("hostile input `{what}`: {reason}")]
    Hostile { what: String, reason: String },

    #[error("untrusted `{what}`: {reason}")]
    Untrusted { what: String, reason: String },

    #[error("policy forbids `{what}`: {reason}")]
    Policy { what: String, reason: String },

    #[error("the home `{path}` is locked by another airlock process")]
    Locked { path: PathBuf },
}

impl Error {
    /// Wrap an I/O error with the operation and the path it concerns.
    pub fn io(op: &'static str, path: impl AsRef<Path>, source: std::io::Error) -> Error {
        Error::Io {
            op,
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub fn input(msg: impl Into<String>) -> Error {
        Error::Input(msg.into())
    }

    pub fn not_found(what: &'static str, name: impl Into<String>) -> Error {
        Error::NotFound {
            what,
            name: name.into(),
        }
    }

    /// How the contract classifies this error.
    pub fn class(&self) -> Class {
        match self {
            Error::DigestMismatch { .. }
            | Error::UpstreamMismatch { .. }
            | Error::Hostile { .. }
            | Error::Untrusted { .. } => Class::Integrity,
            Error::Policy { .. } => Class::Policy,
            Error::VersionConflict { integrity, .. } => {
                if *integrity {
                    Class::Integrity
                } else {
                    Class::Operational
                }
            }
            Error::Io { .. }
            | Error::Db(_)
            | Error::Input(_)
            | Error::NotFound { .. }
            | Error::Unsafe { .. }
            | Error::Locked { .. } => Class::Operational,
        }
    }

    /// A next step for the user, where there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        match self {
            Error::VersionConflict { .. } => {
                Some("import it under another label with `--version LABEL`".into())
            }
            Error::UpstreamMismatch { .. } => Some(
                "the download is corrupt or was modified; download the file again before importing"
                    .into(),
            ),
            Error::NotFound {
                what: "version", ..
            }
            | Error::NotFound { what: "model", .. } => {
                Some("`airlock list` shows what is registered".into())
            }
            Error::Locked { .. } => Some("wait for the other process to finish".into()),
            Error::Unsafe { .. } => {
                Some("copy the file into the folder as a regular file, or remove it".into())
            }
            Error::Untrusted { reason, .. } if reason.contains("exporter") => Some(
                "`airlock trust list` shows the trusted keys; `airlock trust add PUBFILE --role exporter` trusts an exporter".into(),
            ),
            Error::Untrusted { reason, .. } if reason.contains("approval") => Some(
                "approve on the connected side with keys this registry trusts (`airlock trust list`), then export again".into(),
            ),
            Error::Hostile { .. } | Error::DigestMismatch { .. } => Some(
                "do not use this copy; get a fresh one from the source and compare its sha256".into(),
            ),
            _ => None,
        }
    }
}

/// A database failure. The database layer (`db`) converts its driver's
/// errors into this, so nothing outside `db` names the driver.
#[derive(Debug, thiserror::Error)]
#[error("{context}: {source}")]
pub struct DbError {
    context: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl DbError {
    /// What was being done, and the driver's error.
    pub fn new(
        context: impl Into<String>,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> DbError {
        DbError {
            context: context.into(),
            source: Box::new(source),
        }
    }
}

/// The library's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
