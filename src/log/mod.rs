//! The tamper-evident event log: every state-changing command appends an
//! event (`crate::event`) in the same transaction as the change it records.
//! `log --verify` recomputes the chain, cross-checks it against the tables,
//! and checks every signed checkpoint against the trust store, so rewriting
//! the whole chain consistently is detected too.

use crate::clock::now_rfc3339;
use crate::error::{Error, Result};
use crate::event::{CHECKPOINT_PAYLOAD_TYPE, Event, EventDraft, checkpoint_payload};
use crate::name::ModelName;
use crate::registry::Registry;

pub mod verify;

/// Which events `log` lists. Every condition given must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Events about this model (any of its versions).
    pub model: Option<ModelName>,
    /// Events about this host: a deployment's `host`, or made by an actor
    /// on this host (`user@host`). Compared exactly.
    pub host: Option<String>,
    /// Events at or after this time.
    pub since: Option<time::OffsetDateTime>,
}

impl Filter {
    /// `--since`: an RFC 3339 time, or a date `YYYY-MM-DD` (midnight UTC).
    /// Anything else is a usage error (exit 2).
    pub fn parse_since(s: &str) -> Result<time::OffsetDateTime> {
        crate::clock::parse_flag("--since", s)
    }

    fn admits(&self, e: &Event) -> bool {
        if let Some(m) = &self.model {
            let m = m.as_str();
            let about = e.subject == m
                || e.subject
                    .strip_prefix(m)
                    .is_some_and(|rest| rest.starts_with('@'));
            if !about {
                return false;
            }
        }
        if let Some(h) = &self.host {
            let details: serde_json::Value = serde_json::from_str(&e.details).unwrap_or_default();
            let by_host = e.actor.rsplit_once('@').is_some_and(|(_, host)| host == h);
            if details["host"].as_str() != Some(h.as_str()) && !by_host {
                return false;
            }
        }
        if let Some(since) = self.since {
            // A recorded time that does not parse is shown rather than hidden;
            // `log --verify` is what judges the records themselves.
            let rfc3339 = &time::format_description::well_known::Rfc3339;
            if time::OffsetDateTime::parse(&e.time, rfc3339).is_ok_and(|t| t < since) {
                return false;
            }
        }
        true
    }
}

/// The events of the log that `filter` admits, oldest first.
pub fn events(reg: &Registry, filter: &Filter) -> Result<Vec<Event>> {
    Ok(reg
        .db
        .events()?
        .into_iter()
        .filter(|e| filter.admits(e))
        .collect())
}

/// Sign the current head of the log and record the checkpoint (itself an
/// event, covered by the next checkpoint).
pub fn checkpoint(
    reg: &Registry,
    key: &dyn crate::signing::KeySource,
) -> Result<crate::records::Checkpoint> {
    let events = reg.db.events()?;
    let head = events
        .last()
        .ok_or_else(|| Error::input("the event log is empty; nothing to checkpoint"))?;
    let payload = checkpoint_payload(reg.name(), head.seq, &head.hash);
    let sig = key.sign(&crate::signing::pae(CHECKPOINT_PAYLOAD_TYPE, &payload))?;
    let public = key.public_key();
    let c = crate::records::Checkpoint {
        seq: head.seq,
        head_hash: head.hash.clone(),
        key_id: public.id().to_hex(),
        public_key: public.raw().to_vec(),
        signature: sig,
        signed_at: now_rfc3339(),
    };
    let event = EventDraft::new(
        crate::event::EventKind::Checkpoint,
        format!("event {}", head.seq),
        serde_json::json!({ "head": head.hash, "key_id": c.key_id }),
    );
    reg.db.add_checkpoint(&c, &event)?;
    Ok(c)
}
