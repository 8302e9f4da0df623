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

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct EventDraft {
    pub time: String,
    pub actor: String,
    pub command: String,
    pub subject: String,
    pub details: serde_json::Value,
}

impl EventDraft {
    /// An event now, by the current actor.
    pub fn new(
        command: &str,
        subject: impl Into<String>,
        details: serde_json::Value,
    ) -> EventDraft {
        EventDraft {
            time: now_rfc3339(),
            actor: actor(),
            command: command.into(),
            subject: subject.into(),
            details,
        }
    }

    /// The details as stored: compact JSON, keys sorted.
    pub fn details_text(&self) -> String {
        serde_json::to_string(&self.details).expect("JSON values serialise")
    }
}

/// A recorded event.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub seq: u64,
    pub time: String,
    pub actor: String,
    pub command: String,
    pub subject: String,
    pub details: String,
    pub prev_hash: String,
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
