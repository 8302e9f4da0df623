//! `log --verify`: recompute the chain, cross-check it against the tables,
//! and check every signed checkpoint. Problems are findings; the first bad
//! event is named.

use std::collections::HashSet;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::finding::{Finding, FindingKind};
use crate::registry::Registry;
use crate::signing::{PublicKey, pae};

use crate::event::{
    CHECKPOINT_PAYLOAD_TYPE, EventKind, checkpoint_payload, expected_hash, genesis,
};

#[derive(Debug, Default, Serialize)]
pub struct LogReport {
    pub events: usize,
    pub head: Option<String>,
    pub checkpoints: usize,
    pub checkpoints_valid: usize,
    /// The first event whose hash or link is wrong, if any.
    pub first_bad_event: Option<u64>,
    pub findings: Vec<Finding>,
}

fn finding(path: String, kind: FindingKind, detail: String) -> Finding {
    Finding::error(kind, "log", path, detail)
}

pub fn verify(reg: &Registry) -> Result<LogReport> {
    let events = reg.db.events()?;
    let mut r = LogReport {
        events: events.len(),
        ..Default::default()
    };
    // 1. The chain.
    let mut prev = genesis();
    for (i, e) in events.iter().enumerate() {
        let want_seq = i as u64 + 1;
        let bad = if e.seq != want_seq {
            Some(format!(
                "sequence {} where {want_seq} was expected (an event was deleted or inserted)",
                e.seq
            ))
        } else if e.prev_hash != prev.to_hex() {
            Some(format!(
                "its previous hash {} is not the hash of event {} ({prev})",
                short(&e.prev_hash),
                e.seq.saturating_sub(1)
            ))
        } else {
            let h = expected_hash(e, &prev);
            (h.to_hex() != e.hash)
                .then(|| format!("its contents hash to {h}, the log says {}", e.hash))
        };
        if let Some(why) = bad {
            r.first_bad_event = Some(e.seq.min(want_seq));
            r.findings
                .push(finding(format!("event {}", e.seq), FindingKind::Chain, why));
            break;
        }
        prev = e
            .hash
            .parse()
            .unwrap_or_else(|_| Sha256Digest::from_bytes([0xff; 32]));
    }
    r.head = events.last().map(|e| e.hash.clone());

    // 2. Checkpoints: signed by a trusted key, and the event at their seq
    //    still has the hash they signed.
    let trusted = reg.db.trusted_keys()?;
    for c in reg.db.checkpoints()? {
        r.checkpoints += 1;
        let what = format!("checkpoint at event {}", c.seq);
        let key = PublicKey::from_raw(&c.public_key).ok();
        let id = key.map(|k| k.id());
        let signed = key.is_some_and(|k| {
            k.verify(
                &pae(
                    CHECKPOINT_PAYLOAD_TYPE,
                    &checkpoint_payload(reg.name(), c.seq, &c.head_hash),
                ),
                &c.signature,
            )
        });
        let trust = trusted.iter().find(|t| Some(t.key_id) == id);
        if !signed {
            r.findings.push(finding(
                what,
                FindingKind::Checkpoint,
                "its signature does not verify".into(),
            ));
            continue;
        }
        match trust {
            None => {
                r.findings.push(finding(
                    what,
                    FindingKind::Checkpoint,
                    format!(
                        "signed by key {}, which is not in the trust store",
                        c.key_id
                    ),
                ));
                continue;
            }
            Some(t) if t.revoked => {
                r.findings.push(finding(
                    what,
                    FindingKind::Checkpoint,
                    format!(
                        "signed by key {} (`{}`), which is revoked",
                        t.key_id, t.name
                    ),
                ));
                continue;
            }
            Some(_) => {}
        }
        match events.iter().find(|e| e.seq == c.seq) {
            Some(e) if e.hash == c.head_hash => r.checkpoints_valid += 1,
            Some(e) => r.findings.push(finding(
                what,
                FindingKind::Rewritten,
                format!("event {} now hashes to {}, the signed checkpoint says {}: history was rewritten", c.seq, short(&e.hash), short(&c.head_hash)),
            )),
            None => r.findings.push(finding(what, FindingKind::Rewritten, format!("event {} is gone: history was truncated", c.seq))),
        }
    }

    // 3. Every record has its event.
    let seen: HashSet<(EventKind, &str)> = events
        .iter()
        .filter_map(|e| Some((e.kind()?, e.subject.as_str())))
        .collect();
    let has =
        |kinds: &[EventKind], subject: &str| kinds.iter().any(|k| seen.contains(&(*k, subject)));
    for v in reg.versions()? {
        let subject = format!("{}@{}", v.name, v.label);
        if !has(&[EventKind::Import, EventKind::ImportBundle], &subject) {
            r.findings.push(finding(
                subject,
                FindingKind::Unlogged,
                "a version without its import event".into(),
            ));
        }
    }
    let details: Vec<serde_json::Value> = events
        .iter()
        .map(|e| serde_json::from_str(&e.details).unwrap_or_default())
        .collect();
    for (vid, key) in reg.db.approval_pairs()? {
        let v = reg.db.version_by_id(vid)?;
        let subject = format!("{}@{}", v.name, v.label);
        let logged = events.iter().zip(&details).any(|(e, d)| {
            e.subject == subject
                && ((e.kind() == Some(EventKind::Sign) && d["key_id"] == key.as_str())
                    || (e.kind() == Some(EventKind::ImportBundle)
                        && d["approvals"]
                            .as_array()
                            .is_some_and(|a| a.iter().any(|k| k == key.as_str()))))
        });
        if !logged {
            r.findings.push(finding(
                subject,
                FindingKind::Unlogged,
                format!("an approval by key {} without its event", short(&key)),
            ));
        }
    }
    for d in reg.db.deployments(false)? {
        let logged = events
            .iter()
            .zip(&details)
            .any(|(e, x)| e.kind() == Some(EventKind::Deploy) && x["deployment_id"] == d.id);
        if !logged {
            r.findings.push(finding(
                format!("deployment {} ({}:{})", d.id, d.host, d.path),
                FindingKind::Unlogged,
                "a deployment without its event".into(),
            ));
        }
    }
    for k in &trusted {
        if !has(&[EventKind::TrustAdd], &k.key_id.to_hex()) {
            r.findings.push(finding(
                format!("key {}", k.key_id),
                FindingKind::Unlogged,
                "a trusted key without its event".into(),
            ));
        }
    }
    Ok(r)
}

/// The first 16 characters of a recorded hash, for messages (a tampered
/// record need not be hex, so this counts characters, not bytes).
pub fn short(h: &str) -> String {
    h.chars().take(16).collect()
}
