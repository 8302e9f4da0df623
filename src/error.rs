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
    /// Exit 2: flags or values that do not fit together.
    Usage,
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
            Class::Usage => 2,
            Class::Integrity => 3,
            Class::Policy => 4,
        }
    }
}

/// Everything that can go wrong inside the library. The variant decides the
/// exit code ([`Error::class`]) and the hint ([`Error::hint`]); messages
/// are never inspected for either.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O operation on a path failed.
    #[error("{op} `{path}`: {source}")]
    Io {
        /// What was being done (`open`, `write`, …).
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },

    /// The registry database failed.
    #[error("database: {0}")]
    Db(#[from] DbError),

    /// Bad input: a name, a file, a value that cannot be used.
    #[error("{0}")]
    Input(String),

    /// Flags or values that do not fit together (exit 2).
    #[error("{0}")]
    Usage(String),

    /// The machine could not do its part (no system randomness, an encoder
    /// that failed): not the user's input.
    #[error("{what}: {reason}")]
    System {
        /// What was being done.
        what: String,
        /// What failed.
        reason: String,
    },

    /// Something named does not exist.
    #[error("{what} not found: `{name}`{}", if known.is_empty() { String::new() } else { format!(" (there are: {})", known.join(", ")) })]
    NotFound {
        /// What kind of thing (`version`, `model`, `key`, …).
        what: &'static str,
        /// The name it was looked up by.
        name: String,
        /// What does exist of that kind, where it is short to say.
        known: Vec<String>,
    },

    /// The home holds no registry yet.
    #[error("no registry at `{}`", path.display())]
    NoRegistry {
        /// The home that was looked in.
        path: PathBuf,
    },

    /// A `registry.db` that is not an airlock registry (empty, another
    /// application's, damaged at its header), or missing beside a store that
    /// holds blobs. Never written.
    #[error("`{}` is not an airlock registry: {reason}; nothing was written", path.display())]
    NotARegistry {
        /// The database file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// `gc` refuses: the records that say which blobs are needed look
    /// damaged or lost, so deleting by them could delete everything.
    #[error("gc deletes nothing: {reason}")]
    RecordsLost {
        /// What looks wrong.
        reason: String,
    },

    /// A version label already names other content.
    #[error(
        "`{name}@{label}` already exists with other content (manifest {existing}, this import {new}); a version is immutable"
    )]
    VersionConflict {
        /// The model.
        name: String,
        /// The label.
        label: String,
        /// The manifest digest registered under the label.
        existing: Sha256Digest,
        /// The manifest digest of what was being imported.
        new: Sha256Digest,
        /// Conflicts arriving in a signed bundle are integrity failures.
        integrity: bool,
    },

    /// Bytes whose sha256 is not the recorded one.
    #[error("digest mismatch for `{what}`: expected sha256 {expected}, found {found}")]
    DigestMismatch {
        /// The file, member or blob.
        what: String,
        /// The digest the records or the signed index name.
        expected: String,
        /// The digest of the bytes.
        found: String,
    },

    /// A download whose bytes differ from what the hub said they are.
    #[error(
        "upstream hash mismatch for `{path}`: {source_of_hash} says {algo} {expected}, the bytes hash to {found}"
    )]
    UpstreamMismatch {
        /// The file in the model.
        path: String,
        /// Where the expected hash came from.
        source_of_hash: String,
        /// `sha256`, `git-sha1` or `size`.
        algo: &'static str,
        /// What upstream says.
        expected: String,
        /// What the bytes are.
        found: String,
    },

    /// A source entry airlock will not read (a link out of the folder, a FIFO).
    #[error("refusing `{path}`: {reason}")]
    Unsafe {
        /// The entry.
        path: PathBuf,
        /// Why it is refused.
        reason: String,
    },

    /// Input built to break a reader: malformed headers, traversal, bombs.
    #[error("hostile input `{what}`: {reason}")]
    Hostile {
        /// The file or member.
        what: String,
        /// What is wrong with it.
        reason: String,
    },

    /// A file given as a bundle that is not one.
    #[error("`{}` is not an airlock bundle: {reason}", path.display())]
    NotABundle {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },

    /// A trust failure: rollback, expiry, a revoked or weak key, a reused id.
    #[error("untrusted `{what}`: {reason}")]
    Untrusted {
        /// What is not trusted.
        what: String,
        /// Why.
        reason: String,
    },

    /// Signed, but by no key this registry trusts for the role.
    #[error("untrusted `{what}`: {reason}")]
    UnknownSigner {
        /// What was signed.
        what: String,
        /// Which keys were tried and what the signature claims.
        reason: String,
    },

    /// A version without the approvals the policy requires.
    #[error("untrusted `{what}`: {reason}")]
    NotApproved {
        /// The version.
        what: String,
        /// How many approvals count, and how many are needed.
        reason: String,
    },

    /// A policy forbids it (exit 4).
    #[error("policy forbids `{what}`: {reason}")]
    Policy {
        /// What is forbidden.
        what: String,
        /// Which rule, and how to get past it where allowed.
        reason: String,
    },

    /// A registry refused or failed a request.
    #[error("registry `{registry}` repository `{repository}`: {what}{}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Registry {
        /// `host[:port]`.
        registry: String,
        /// The repository.
        repository: String,
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// What was being done and what came back.
        what: String,
        /// The next step, where there is one.
        hint: Option<&'static str>,
    },

    /// Another airlock process holds the writer lock.
    #[error("the home `{}` is locked by another airlock process ({holder}) and stayed locked while this one waited", path.display())]
    Locked {
        /// The home.
        path: PathBuf,
        /// Who holds it, as the lock file records: pid, command, since when.
        holder: String,
    },
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

    /// Bad input (exit 1).
    pub fn input(msg: impl Into<String>) -> Error {
        Error::Input(msg.into())
    }

    /// Flags or values that do not fit (exit 2).
    pub fn usage(msg: impl Into<String>) -> Error {
        Error::Usage(msg.into())
    }

    /// The machine failed at `what`.
    pub fn system(what: impl Into<String>, reason: impl std::fmt::Display) -> Error {
        Error::System {
            what: what.into(),
            reason: reason.to_string(),
        }
    }

    /// `what` named `name` does not exist.
    pub fn not_found(what: &'static str, name: impl Into<String>) -> Error {
        Error::NotFound {
            what,
            name: name.into(),
            known: Vec::new(),
        }
    }

    /// How the contract classifies this error.
    pub fn class(&self) -> Class {
        match self {
            Error::DigestMismatch { .. }
            | Error::UpstreamMismatch { .. }
            | Error::Hostile { .. }
            | Error::NotABundle { .. }
            | Error::NotARegistry { .. }
            | Error::RecordsLost { .. }
            | Error::Untrusted { .. }
            | Error::UnknownSigner { .. }
            | Error::NotApproved { .. } => Class::Integrity,
            Error::Policy { .. } => Class::Policy,
            Error::Usage(_) => Class::Usage,
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
            | Error::System { .. }
            | Error::NotFound { .. }
            | Error::NoRegistry { .. }
            | Error::Unsafe { .. }
            | Error::Locked { .. }
            | Error::Registry { .. } => Class::Operational,
        }
    }

    /// A stable name of the variant, for scripts (`--json` errors).
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Io { .. } => "io",
            Error::Db(_) => "database",
            Error::Input(_) => "input",
            Error::Usage(_) => "usage",
            Error::System { .. } => "system",
            Error::NotFound { .. } => "not-found",
            Error::NoRegistry { .. } => "no-registry",
            Error::NotARegistry { .. } => "not-a-registry",
            Error::RecordsLost { .. } => "records-lost",
            Error::VersionConflict { .. } => "version-conflict",
            Error::DigestMismatch { .. } => "digest-mismatch",
            Error::UpstreamMismatch { .. } => "upstream-mismatch",
            Error::Unsafe { .. } => "unsafe",
            Error::Hostile { .. } => "hostile",
            Error::NotABundle { .. } => "not-a-bundle",
            Error::Untrusted { .. } => "untrusted",
            Error::UnknownSigner { .. } => "unknown-signer",
            Error::NotApproved { .. } => "not-approved",
            Error::Policy { .. } => "policy",
            Error::Locked { .. } => "locked",
            Error::Registry { .. } => "registry",
        }
    }

    /// A next step for the user, where there is an obvious one.
    pub fn hint(&self) -> Option<String> {
        let s = match self {
            Error::VersionConflict { .. } => "import it under another label with `--version LABEL`",
            Error::UpstreamMismatch { .. } => {
                "the download is corrupt or was modified; download the file again before importing"
            }
            Error::NotFound {
                what: "version" | "model",
                ..
            } => "`airlock list` shows what is registered",
            Error::NoRegistry { .. } => {
                "run `airlock init` (or import a model) to create it, or point `--home` at an existing one"
            }
            Error::Locked { .. } => {
                "wait for that process to finish, then run the command again (writers take turns; reads never wait)"
            }
            Error::Db(e) if e.is_busy() => {
                "another process kept the registry database busy for 30 s; run the command again when it has finished"
            }
            Error::RecordsLost { .. } => {
                "`airlock fsck` and `airlock log --verify` show what is wrong; restore `registry.db` from a backup"
            }
            Error::NotARegistry { .. } => {
                "restore `registry.db` from a backup (the store's blobs are untouched), or point `--home` at the right folder"
            }
            Error::Unsafe { .. } => "copy the file into the folder as a regular file, or remove it",
            Error::UnknownSigner { .. } => {
                "`airlock trust list` shows the trusted keys; `airlock trust add PUBFILE --role exporter` trusts an exporter"
            }
            Error::NotApproved { .. } => {
                "approve on the connected side with keys this registry trusts (`airlock trust list`), then export again"
            }
            Error::NotABundle { .. } => {
                "a model folder is imported by its folder path; a bundle is the `.airlock` file (or any of its `.NNN` volumes)"
            }
            Error::Registry { hint: Some(h), .. } => h,
            Error::Hostile { .. } | Error::DigestMismatch { .. } => {
                "do not use this copy; get a fresh one from the source and compare its sha256"
            }
            _ => return None,
        };
        Some(s.to_string())
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
    /// Whether the database stayed locked by another process past the busy
    /// timeout.
    pub fn is_busy(&self) -> bool {
        let s = self.source.to_string();
        s.contains("database is locked") || s.contains("database table is locked")
    }

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
