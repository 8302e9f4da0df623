//! `log --verify`: recompute the chain, check every signed checkpoint, and
//! cross-check the chain against the tables. Problems are findings; the
//! first bad event is named.
//!
//! 1. [`check_chain`]: every event's sequence, link and hash.
//! 2. [`check_checkpoints`]: each checkpoint signed by a trusted, unrevoked
//!    key, and the event it signed still hashing to what it signed.
//! 3. [`check_logged`]: every version, approval, deployment and trusted key
//!    has the event that recorded it.

use std::collections::HashSet;

use serde::Serialize;

use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::event::{
    CHECKPOINT_PAYLOAD_TYPE, Event, EventKind, checkpoint_payload, expected_hash, genesis,
};
use crate::finding::{Finding, FindingKind};
use crate::records::TrustedKey;
use crate::registry::Registry;
use crate::signing::{PublicKey, pae};

/// What `log --verify` found.
#[derive(Debug, Default, Serialize)]
pub struct LogReport {
    /// Events in the log.
    pub events: usize,
    /// The hash of the last event.
    pub head: Option<String>,
    /// Checkpoints recorded.
    pub checkpoints: usize,
    /// Checkpoints that verify and still match the chain.
    pub checkpoints_valid: usize,
    /// The first event whose hash or link is wrong, if any.
    pub first_bad_event: Option<u64>,
    /// Every problem found.
    pub findings: Vec<Finding>,
}

fn finding(path: String, kind: FindingKind, detail: String) -> Finding {
    Finding::error(kind, "log", path, detail)
}

/// Verify the log of `reg`.
pub fn verify(reg: &Registry) -> Result<LogReport> {
    let events = reg.db.events()?;
    let trusted = reg.db.trusted_keys()?;
    let mut r = LogReport {
        events: events.len(),
        head: events.last().map(|e| e.hash.clone()),
        ..Default::default()
    };
    check_chain(&events, &mut r);
    check_checkpoints(reg, &events, &trusted, &mut r)?;
    check_logged(reg, &events, &trusted, &mut r)?;
    Ok(r)
}

/// 1. Sequence numbers without gaps, each event linked to its predecessor's
///    hash, each hash the hash of its contents. Stops at the first break.
fn check_chain(events: &[Event], r: &mut LogReport) {
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
            return;
        }
        prev = e
            .hash
            .parse()
            .unwrap_or_else(|_| Sha256Digest::from_bytes([0xff; 32]));
    }
}

/// 2. Checkpoints: signed by a trusted, unrevoked key, and the event at
///    their sequence number still has the hash they signed.
fn check_checkpoints(
    reg: &Registry,
    events: &[Event],
    trusted: &[TrustedKey],
    r: &mut LogReport,
) -> Result<()> {
    for c in reg.db.checkpoints()? {
        r.checkpoints += 1;
        let what = format!("checkpoint at event {}", c.seq);
        let key = PublicKey::from_raw(&c.public_key).ok();
        let signed = key.is_some_and(|k| {
            k.verify(
                &pae(
                    CHECKPOINT_PAYLOAD_TYPE,
                    &checkpoint_payload(reg.name(), c.seq, &c.head_hash),
                ),
                &c.signature,
            )
        });
        if !signed {
            r.findings.push(finding(
                what,
                FindingKind::Checkpoint,
                "its signature does not verify".into(),
            ));
            continue;
        }
        let id = key.map(|k| k.id());
        match trusted.iter().find(|t| Some(t.key_id) == id) {
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
                format!(
                    "event {} now hashes to {}, the signed checkpoint says {}: history was rewritten",
                    c.seq,
                    short(&e.hash),
                    short(&c.head_hash)
                ),
            )),
            None => r.findings.push(finding(
                what,
                FindingKind::Rewritten,
                format!("event {} is gone: history was truncated", c.seq),
            )),
        }
    }
    Ok(())
}

/// 3. Every record has its event: versions their import, approvals their
///    `sign` (or the bundle import that brought them), deployments their
///    `deploy`, trusted keys their `trust-add`.
fn check_logged(
    reg: &Registry,
    events: &[Event],
    trusted: &[TrustedKey],
    r: &mut LogReport,
) -> Result<()> {
    for gone in vanished_in(reg, events)? {
        r.findings.push(finding(
            gone,
            FindingKind::Missing,
            "the log records its import but the version record is gone".into(),
        ));
    }
    let seen: HashSet<(EventKind, &str)> = events
        .iter()
        .filter_map(|e| Some((e.kind()?, e.subject.as_str())))
        .collect();
    let has =
        |kinds: &[EventKind], subject: &str| kinds.iter().any(|k| seen.contains(&(*k, subject)));
    let mut unlogged = |path: String, what: String| {
        r.findings.push(finding(path, FindingKind::Unlogged, what));
    };
    for v in reg.versions()? {
        let subject = format!("{}@{}", v.name, v.label);
        if !has(&[EventKind::Import, EventKind::ImportBundle], &subject) {
            unlogged(subject, "a version without its import event".into());
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
                && match e.kind() {
                    Some(EventKind::Sign) => d["key_id"] == key.as_str(),
                    Some(EventKind::ImportBundle) => d["approvals"]
                        .as_array()
                        .is_some_and(|a| a.iter().any(|k| k == key.as_str())),
                    _ => false,
                }
        });
        if !logged {
            unlogged(
                subject,
                format!("an approval by key {} without its event", short(&key)),
            );
        }
    }
    for d in reg.db.deployments(false)? {
        let logged = events
            .iter()
            .zip(&details)
            .any(|(e, x)| e.kind() == Some(EventKind::Deploy) && x["deployment_id"] == d.id);
        if !logged {
            unlogged(
                format!("deployment {} ({}:{})", d.id, d.host, d.path),
                "a deployment without its event".into(),
            );
        }
    }
    for (subject, what) in crate::alias::unlogged(reg, events)? {
        unlogged(subject, what);
    }
    // Evaluation records and host attestations: each with the event that
    // recorded it (its own, or the accepted bundle's that carried it).
    let mut logged_digests: HashSet<&str> = HashSet::new();
    for (e, d) in events.iter().zip(&details) {
        match e.kind() {
            Some(EventKind::Eval) => logged_digests.extend(d["envelope_sha256"].as_str()),
            Some(EventKind::Attest) => logged_digests.extend(d["report_sha256"].as_str()),
            Some(EventKind::AcceptBundle) => logged_digests.extend(
                d["evaluations"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|x| x.as_str()),
            ),
            _ => {}
        }
    }
    for (subject, digest) in reg.db.eval_digests()? {
        if !logged_digests.contains(digest.as_str()) {
            unlogged(
                subject,
                format!(
                    "an evaluation record ({}) without its event",
                    short(&digest)
                ),
            );
        }
    }
    for (id, digest) in reg.db.attestation_digests()? {
        if !logged_digests.contains(digest.as_str()) {
            unlogged(
                format!("deployment {id}"),
                format!("a host attestation ({}) without its event", short(&digest)),
            );
        }
    }
    for k in trusted {
        let id = k.key_id.to_hex();
        let by_root = events.iter().zip(&details).any(|(e, d)| {
            e.kind() == Some(EventKind::TrustRoot)
                && d["keys"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x == id.as_str()))
        });
        if !by_root && !has(&[EventKind::TrustAdd], &id) {
            unlogged(
                format!("key {}", k.key_id),
                "a trusted key without its event".into(),
            );
        }
    }
    Ok(())
}

/// Imported versions (`name@label`) the log names that the records no
/// longer hold: rows deleted behind airlock's back (no command removes a
/// version).
pub(crate) fn vanished(reg: &Registry) -> Result<Vec<String>> {
    vanished_in(reg, &reg.db.events()?)
}

fn vanished_in(reg: &Registry, events: &[Event]) -> Result<Vec<String>> {
    let held: HashSet<String> = reg
        .versions()?
        .iter()
        .map(|v| format!("{}@{}", v.name, v.label))
        .collect();
    let mut gone: Vec<String> = events
        .iter()
        .filter(|e| matches!(e.kind(), Some(EventKind::Import | EventKind::ImportBundle)))
        .map(|e| e.subject.clone())
        .filter(|s| !held.contains(s))
        .collect();
    gone.sort();
    gone.dedup();
    Ok(gone)
}

/// The first 16 characters of a recorded hash, for messages (a tampered
/// record need not be hex, so this counts characters, not bytes).
pub fn short(h: &str) -> String {
    h.chars().take(16).collect()
}
