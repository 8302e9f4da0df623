//! airlock: carry open-weights ML models into isolated networks with proof
//! of what they are.
//!
//! This crate is the whole library; the `airlock` binary (`src/main.rs`,
//! `src/cli/`, `src/commands/`, `src/printer.rs`, `src/reporter.rs`) parses
//! flags, calls one function here per command and renders the result.
//!
//! # Module map (each layer uses only the ones below it)
//!
//! | where | what it owns |
//! | --- | --- |
//! | [`registry`] | the façade: an opened home (database, store, name, writer lock) |
//! | [`import`] | `import DIR`: source layouts ([`import::source`]) and the one-pass ingest |
//! | [`bundle`] | signed bundles: [`bundle::export`], [`bundle::import`] (the isolated side's steps), [`bundle::volumes`] |
//! | [`trust`] | trust store, approval policy, `sign`, which approvals still count |
//! | [`verify`] | re-checking stored blobs and folders; findings |
//! | [`checkout`] | verified read-only copies, plain or Hugging Face cache layout |
//! | [`deploy`] | deployments and the audit |
//! | [`license`] | the licence catalogue (data) and the policy check |
//! | [`log`] | the hash-chained event log, its verification and checkpoints |
//! | [`scan`] | identifying a folder's files by hash |
//! | [`bom`] | CycloneDX 1.6 ML-BOM from the records |
//! | [`maintenance`] | `fsck` and `gc` |
//! | [`demo`] | the generated demo model |
//! | [`formats`] | what a weight file is: sniffing and the safetensors, GGUF, pickle, zip, npy parsers |
//! | [`safety`] | the model-file safety policy (malformed → 3, unsafe → 4 unless allowed) |
//! | [`store`] | content-addressed blobs, atomic writes; the one streaming loop ([`store::stream`]) and its `O_DIRECT` writer ([`store::direct`]) |
//! | [`db`] | all SQL; migrations from `schema/` |
//! | [`signing`] | ed25519 keys, key ids, DSSE PAE, the `KeySource` trait |
//! | [`manifest`] | the canonical bytes that name a version's content |
//! | [`statement`] | a version's in-toto statement and DSSE envelopes |
//! | [`records`] | the records as plain values |
//! | [`digest`], [`name`], [`parallel`], [`progress`], [`error`] | pure helpers |
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
//!     allow_unsafe: None,
//! };
//! let out = import::import_dir(&mut reg, &model, &opts, &NoProgress).unwrap();
//! assert_eq!(out.version, "v1");
//! assert_eq!(out.license_id.as_deref(), Some("apache-2.0"));
//! let v = reg.resolve(&"acme/tiny".parse().unwrap()).unwrap();
//! let report = verify::verify_store(&reg, &[v], true, &NoProgress).unwrap();
//! assert!(report.findings.is_empty());
//! ```

pub mod actor;
pub mod bom;
pub mod bundle;
pub mod checkout;
pub mod clock;
pub mod db;
pub mod demo;
pub mod deploy;
pub mod digest;
pub mod error;
pub mod event;
pub mod finding;
pub mod formats;
pub mod fsio;
pub mod import;
pub mod license;
pub mod log;
pub mod maintenance;
pub mod manifest;
pub mod name;
pub mod parallel;
pub mod progress;
pub mod records;
pub mod registry;
pub mod safety;
pub mod scan;
pub mod show;
pub mod signing;
pub mod source;
pub mod statement;
pub mod store;
pub mod trust;
pub mod verify;

pub use error::{Error, Result};
