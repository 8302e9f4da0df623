//! The tamper-evident event log: every state-changing command appends an
//! event (`crate::event`) in the same transaction as the change it records.
//! `log --verify` recomputes the chain, cross-checks it against the tables,
//! and checks every signed checkpoint against the trust store, so rewriting
//! the whole chain consistently is detected too.

use crate::clock::now_rfc3339;
use crate::event::{CHECKPOINT_PAYLOAD_TYPE, EventDraft, checkpoint_payload};

pub mod verify;

/// Sign the current head of the log and record the checkpoint (itself an
/// event, covered by the next checkpoint).
pub fn checkpoint(
    reg: &crate::registry::Registry,
    key: &dyn crate::signing::KeySource,
) -> crate::error::Result<crate::db::Checkpoint> {
    let events = reg.db.events()?;
    let head = events.last().ok_or_else(|| {
        crate::error::Error::input("the event log is empty; nothing to checkpoint")
    })?;
    let payload = checkpoint_payload(reg.name(), head.seq, &head.hash);
    let sig = key.sign(&crate::signing::pae(CHECKPOINT_PAYLOAD_TYPE, &payload))?;
    let public = key.public_key();
    let c = crate::db::Checkpoint {
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
