//! The event chain's types and hashing, pure: what an event is, its
//! canonical bytes, and how each event's hash covers its predecessor.
//!
//! `hash = sha256(previous hash || canonical event bytes)`, the first event's
//! previous hash being 32 zero bytes. The canonical bytes are compact JSON
//! with fields in exactly this order: `{"seq","time","actor","command",
//! "subject","details"}` where `details` is itself a JSON string (compact,
//! keys sorted). The database appends events (`db`), the log verifies them
//! (`log`); both build on this module.

use serde::Serialize;

use crate::actor::actor;
use crate::clock::now_rfc3339;
use crate::digest::{Hasher, Sha256Digest};

/// The DSSE payload type a checkpoint signature is made under.
pub const CHECKPOINT_PAYLOAD_TYPE: &str = "application/vnd.airlock.log-checkpoint.v1";

/// What kind of change an event records. The log stores its text form
/// (`as_str`), which is part of the hashed canonical bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EventKind {
    /// The home was created and named.
    Init,
    /// A version was imported from a folder.
    Import,
    /// A version arrived in a bundle.
    ImportBundle,
    /// A bundle was accepted (one per bundle, after its versions).
    AcceptBundle,
    /// A volume of a set was verified and its blobs kept; the set is not
    /// complete yet.
    ReceiveVolume,
    /// An approval was added.
    Sign,
    /// A bundle was written (its sequence number spent).
    Export,
    /// A key was trusted.
    TrustAdd,
    /// A key was revoked.
    TrustRevoke,
    /// The approval policy changed.
    TrustPolicy,
    /// A deployment was recorded.
    Deploy,
    /// A deployment was ended.
    Undeploy,
    /// The log's head was signed.
    Checkpoint,
    /// Unreferenced blobs were removed.
    Gc,
    /// A trust root version was applied (the ceremony, an update, a bundle).
    TrustRoot,
    /// A version revocation was signed here or arrived.
    Revoke,
    /// The clock was found behind the registry's time mark.
    ClockBehind,
    /// A version was pushed to an OCI registry or written as an OCI layout.
    Push,
    /// A version arrived from an OCI registry or an OCI layout.
    Pull,
    /// An alias was set or moved.
    AliasSet,
    /// An alias was removed.
    AliasRemove,
    /// An evaluation result was recorded.
    Eval,
    /// A host's signed verification report was ingested.
    Attest,
}

impl EventKind {
    /// Every kind, for parsing.
    pub const ALL: [EventKind; 23] = [
        EventKind::Init,
        EventKind::Import,
        EventKind::ImportBundle,
        EventKind::AcceptBundle,
        EventKind::ReceiveVolume,
        EventKind::Sign,
        EventKind::Export,
        EventKind::TrustAdd,
        EventKind::TrustRevoke,
        EventKind::TrustPolicy,
        EventKind::Deploy,
        EventKind::Undeploy,
        EventKind::Checkpoint,
        EventKind::Gc,
        EventKind::TrustRoot,
        EventKind::Revoke,
        EventKind::ClockBehind,
        EventKind::Push,
        EventKind::Pull,
        EventKind::AliasSet,
        EventKind::AliasRemove,
        EventKind::Eval,
        EventKind::Attest,
    ];

    /// The kind as recorded in the log.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Init => "init",
            EventKind::Import => "import",
            EventKind::ImportBundle => "import-bundle",
            EventKind::AcceptBundle => "accept-bundle",
            EventKind::ReceiveVolume => "receive-volume",
            EventKind::Sign => "sign",
            EventKind::Export => "export",
            EventKind::TrustAdd => "trust-add",
            EventKind::TrustRevoke => "trust-revoke",
            EventKind::TrustPolicy => "trust-policy",
            EventKind::Deploy => "deploy",
            EventKind::Undeploy => "undeploy",
            EventKind::Checkpoint => "checkpoint",
            EventKind::Gc => "gc",
            EventKind::TrustRoot => "trust-root",
            EventKind::Revoke => "revoke",
            EventKind::ClockBehind => "clock-behind",
            EventKind::Push => "push",
            EventKind::Pull => "pull",
            EventKind::AliasSet => "alias-set",
            EventKind::AliasRemove => "alias-rm",
            EventKind::Eval => "eval",
            EventKind::Attest => "attest",
        }
    }

    /// The kind a recorded command names, if it is one this airlock writes.
    pub fn parse(s: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct EventDraft {
    /// When (RFC 3339).
    pub time: String,
    /// Who (`user@host`).
    pub actor: String,
    /// What kind of change.
    pub command: EventKind,
    /// What it is about (`name@label`, a key id, a bundle id, …).
    pub subject: String,
    /// The specifics, stored as compact JSON.
    pub details: serde_json::Value,
}

impl EventDraft {
    /// An event now, by the current actor.
    pub fn new(
        command: EventKind,
        subject: impl Into<String>,
        details: serde_json::Value,
    ) -> EventDraft {
        EventDraft {
            time: now_rfc3339(),
            actor: actor(),
            command,
            subject: subject.into(),
            details,
        }
    }

    /// The details as stored: compact JSON, keys sorted.
    pub fn details_text(&self) -> String {
        serde_json::to_string(&self.details).expect("JSON values serialise")
    }
}

impl Event {
    /// The kind of change, if the recorded command is one this airlock writes.
    pub fn kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.command)
    }
}

/// A recorded event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Position in the chain, from 1.
    pub seq: u64,
    /// When (RFC 3339).
    pub time: String,
    /// Who (`user@host`).
    pub actor: String,
    /// The kind of change as recorded (see [`EventKind`]).
    pub command: String,
    /// What it is about.
    pub subject: String,
    /// The specifics, compact JSON.
    pub details: String,
    /// The previous event's hash (hex).
    pub prev_hash: String,
    /// This event's hash (hex).
    pub hash: String,
}

#[derive(Serialize)]
struct Canonical<'a> {
    seq: u64,
    time: &'a str,
    actor: &'a str,
    command: &'a str,
    subject: &'a str,
    details: &'a str,
}

/// The canonical bytes of an event.
pub fn canonical_bytes(
    seq: u64,
    time: &str,
    actor: &str,
    command: &str,
    subject: &str,
    details: &str,
) -> Vec<u8> {
    serde_json::to_vec(&Canonical {
        seq,
        time,
        actor,
        command,
        subject,
        details,
    })
    .expect("plain JSON")
}

/// `sha256(prev || canonical)`.
pub fn chain_hash(prev: &Sha256Digest, canonical: &[u8]) -> Sha256Digest {
    let mut h = Hasher::new();
    h.update(prev.as_bytes());
    h.update(canonical);
    h.finish()
}

/// The hash an event should have, given its fields and its predecessor.
pub fn expected_hash(e: &Event, prev: &Sha256Digest) -> Sha256Digest {
    chain_hash(
        prev,
        &canonical_bytes(e.seq, &e.time, &e.actor, &e.command, &e.subject, &e.details),
    )
}

/// The previous hash of the first event.
pub fn genesis() -> Sha256Digest {
    Sha256Digest::from_bytes([0u8; 32])
}

/// The bytes a checkpoint signs (under [`CHECKPOINT_PAYLOAD_TYPE`]).
pub fn checkpoint_payload(registry: &str, seq: u64, head: &str) -> Vec<u8> {
    format!("airlock log checkpoint\nregistry {registry}\nseq {seq}\nhead {head}\n").into_bytes()
}
