//! airlock: carry open-weights ML models into isolated networks with proof
//! of what they are.
//!
//! This crate is the whole library; the `airlock` binary (`src/main.rs`,
//! `src/cli/`, `src/commands/`, `src/printer.rs`, `src/reporter.rs`) parses
//! flags, calls one function here per command and renders the result.
//!
//! # Module map
//!
//! Highest layer first; each module uses only its own layer and the ones
//! below (`docs/architecture.md` holds the same list, and
//! `tests/it/architecture.rs` enforces it).
//!
//! | layer | module | what it owns |
//! | --- | --- | --- |
//! | top | [`deploy`] | deployments and the audit (checkout + records + drift) |
//! | | [`show`] | everything about a version (`show`), and `list` |
//! | | [`demo`] | the generated demo model and the scenario `airlock demo` tells |
//! | | [`maintenance`] | `fsck` and `gc` (and finishing what dead runs left) |
//! | features | [`verify`] | re-checking stored blobs and folders; every byte check's hashing (two streams per core, files read through mapped windows: `verify/mapped.rs`) |
//! | | [`checkout`] | verified read-only copies, plain or Hugging Face cache layout |
//! | | [`bundle`] | signed bundles: [`bundle::export`], [`bundle::import`] (the isolated side's steps), [`bundle::volumes`] (self-verifying volumes), [`bundle::holdings`] (what a registry holds, for delta bundles) |
//! | | [`log`] | listing the event log, its verification and checkpoints |
//! | | [`scan`] | identifying a folder's files by hash |
//! | | [`bom`] | CycloneDX 1.6 ML-BOM from the records |
//! | | [`diff`] | what differs between two versions: files, tensors, licence, disclosure, approvals |
//! | | [`alias`] | aliases with history (`NAME@ALIAS`, `--at TIME` from the log) |
//! | | [`eval`] | signed evaluation and cost records, comparisons, the prod gate |
//! | | [`attest`] | fleet attestations: hosts' signed verification reports, and their ingest (over OCI: [`oci::attest`]) |
//! | | [`pending`] | outputs outside the store written all or nothing, and what dead runs left |
//! | | [`oci`] | versions as ModelPack artifacts: `push`, `pull`, OCI image layouts |
//! | inputs | [`import`] | `import DIR`: the one-pass ingest and the label rules |
//! | | [`trust`] | trust store, approval policy, `sign`, which approvals count |
//! | | [`license`] | the licence catalogue (data), the policy check, the kept text |
//! | | [`oms`] | OpenSSF model signing: ECDSA keys, signatures from the stored digests, their check at import |
//! | facade | [`registry`] | an opened home: database, store, name, writer lock |
//! | | [`safety`] | the model-file safety policy (malformed → 3, unsafe → 4 unless allowed), `inspect` |
//! | database | `db` | all SQL; migrations from `schema/` (internal) |
//! | store | `store` | content-addressed blobs, atomic writes, the streaming loop and its `O_DIRECT` writer (internal) |
//! | records | [`records`] | the records as plain values |
//! | | [`manifest`], [`statement`] | the canonical bytes that name and approve a version |
//! | parsers | [`formats`] | what a weight file is: sniffing and the safetensors, GGUF, pickle, zip, tar, npy parsers |
//! | | [`signing`] | ed25519 keys, key ids, DSSE PAE, counting signers, the `KeySource` trait |
//! | | `source` | a download folder's layout, hub cache roots, single files, upstream hashes (internal) |
//! | | [`card`] | the model card's YAML front matter (licence, datasets) |
//! | leaves | [`error`], [`digest`], [`name`], [`progress`], [`finding`], [`event`], [`clock`] | errors and exit classes, digests (two streams per core), names, progress, findings, the event chain, time |
//! | | `actor`, `fsio`, `parallel` | `user@host`, safe opening of untrusted files and process settings, the worker pool (internal) |
//!
//! # End to end
//!
//! ```
//! use airlock::{import, registry::Registry, progress::NoProgress, verify};
//! let tmp = tempfile::tempdir().unwrap();
//! let model = tmp.path().join("model");
//! airlock::demo::write_model(&model, 1).unwrap();
//! let mut reg = Registry::open_or_create(&tmp.path().join("home")).unwrap();
//! let opts = import::ImportOptions {
//!     name: "acme/tiny".parse().unwrap(),
//!     version: None, source_url: None, revision: None, license_id: None,
//!     license_file: None, disclosure: airlock::records::Disclosure::Unknown,
//!     data_notes: None, owner: Some("ml-platform".into()), link: false,
//!     allow_unsafe: None, oms_signature: None,
//! };
//! let out = import::import_dir(&mut reg, &model, &opts, &NoProgress).unwrap();
//! assert_eq!(out.version, "v1");
//! assert_eq!(out.license_id.as_deref(), Some("apache-2.0"));
//! let v = reg.resolve(&"acme/tiny".parse().unwrap()).unwrap();
//! let report = verify::verify_store(&reg, &[v], true, &NoProgress).unwrap();
//! assert!(report.findings.is_empty());
//! ```

pub(crate) mod actor;
pub mod alias;
pub mod attest;
pub mod bom;
pub mod bundle;
pub mod card;
pub mod checkout;
pub mod clock;
pub(crate) mod db;
pub mod demo;
pub mod deploy;
pub mod diff;
pub mod digest;
pub mod error;
pub mod eval;
pub mod event;
pub mod finding;
pub mod formats;
pub(crate) mod fsio;
pub mod import;
pub mod license;
pub mod log;
pub mod maintenance;
pub mod manifest;
pub mod name;
pub mod oci;
pub mod oms;
pub(crate) mod parallel;
pub mod pending;
pub mod progress;
pub mod records;
pub mod registry;
pub mod safety;
pub mod scan;
pub mod show;
pub mod signing;
pub(crate) mod source;
pub mod statement;
pub(crate) mod store;
pub mod trust;
pub mod verify;

pub use error::{Error, Result};

/// Process-wide settings every entry point wants before it writes: a
/// file-size limit (`ulimit -f`) must be an I/O error that cleans up, not a
/// `SIGXFSZ` that kills the process mid-write.
pub fn prepare_process() {
    fsio::ignore_file_size_signal();
    fsio::return_large_buffers();
}

/// `--actor LABEL`: recorded as a claim beside the OS account (never
/// instead of it) in every change this process records.
pub fn claim_actor(label: &str) {
    actor::claim(label);
}
