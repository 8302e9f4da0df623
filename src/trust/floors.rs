//! What accepted bundles teach this registry, held by the keys that taught
//! it: which exporter speaks for which origin, each origin's sequence floor
//! and newest `created`, and the time mark that keeps "now" from running
//! backwards.
//!
//! Nothing here is stored on its own: every value is computed from the
//! accepted bundles whose exporter key is still trusted. So when an exporter
//! key is revoked, the floors and marks it alone set fall back to what
//! still-trusted keys set (TUF §5.3.11): a compromised key that signed
//! sequence 2^62 or a `created` in 2099 cannot lock the registry out once it
//! is revoked.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use time::OffsetDateTime;

use crate::clock;
use crate::db::AcceptedBundle;
use crate::error::Result;
use crate::records::TrustedKey;
use crate::registry::Registry;
use crate::signing::KeyId;

/// How far a signed `created` may be ahead of this registry's clock.
pub const MAX_CLOCK_SKEW: time::Duration = time::Duration::minutes(5);

/// What one origin has taught this registry.
#[derive(Debug, Clone, Serialize)]
pub struct OriginState {
    /// The exporting registry's name.
    pub origin: String,
    /// The highest sequence accepted from it (the floor).
    pub sequence: u64,
    /// The newest `created` accepted from it.
    pub created: String,
    /// The key that set the floor.
    pub set_by: KeyId,
    /// Bundles accepted from it (from keys still trusted).
    pub bundles: usize,
}

fn trusted_exporters(keys: &[TrustedKey]) -> HashSet<KeyId> {
    keys.iter()
        .filter(|k| !k.revoked && k.roles.can_export())
        .map(|k| k.key_id)
        .collect()
}

/// Accepted bundles whose exporter key is still trusted.
fn live_bundles(reg: &Registry, keys: &[TrustedKey]) -> Result<Vec<AcceptedBundle>> {
    let live = trusted_exporters(keys);
    Ok(reg
        .db
        .bundles()?
        .into_iter()
        .filter(|b| live.contains(&b.exporter))
        .collect())
}

/// Every origin's state, by name.
pub fn origins(reg: &Registry, keys: &[TrustedKey]) -> Result<Vec<OriginState>> {
    let mut by: BTreeMap<String, OriginState> = BTreeMap::new();
    for b in live_bundles(reg, keys)? {
        let e = by.entry(b.origin.clone()).or_insert_with(|| OriginState {
            origin: b.origin.clone(),
            sequence: 0,
            created: String::new(),
            set_by: b.exporter,
            bundles: 0,
        });
        e.bundles += 1;
        if b.sequence >= e.sequence {
            e.sequence = b.sequence;
            e.set_by = b.exporter;
        }
        if b.created > e.created {
            e.created = b.created.clone();
        }
    }
    Ok(by.into_values().collect())
}

/// The state of one origin, from keys still trusted.
pub(crate) fn origin(
    reg: &Registry,
    keys: &[TrustedKey],
    name: &str,
) -> Result<Option<OriginState>> {
    Ok(origins(reg, keys)?.into_iter().find(|o| o.origin == name))
}

/// Whether `key` may sign bundles for `origin`: a key with origins listed
/// (by the root, or `trust add --origin`) speaks for those; a local key
/// without a list speaks for an origin no root key lists and no other
/// still-trusted exporter has already brought bundles for (bound on first
/// use). The answer's error says who holds the origin.
pub(crate) fn may_speak_for(
    reg: &Registry,
    keys: &[TrustedKey],
    key: &TrustedKey,
    origin: &str,
) -> Result<std::result::Result<(), String>> {
    if key.origins.is_some() {
        return Ok(if key.speaks_for(origin) {
            Ok(())
        } else {
            Err(format!(
                "key {} (`{}`) may speak for {} only, not for `{origin}`",
                key.key_id.short(),
                key.name,
                key.origins.as_deref().unwrap_or_default().join(", ")
            ))
        });
    }
    if let Some(owner) = keys.iter().find(|k| {
        !k.revoked
            && k.key_id != key.key_id
            && k.origins
                .as_ref()
                .is_some_and(|o| o.iter().any(|x| x == origin))
    }) {
        return Ok(Err(format!(
            "origin `{origin}` belongs to exporter key {} (`{}`)",
            owner.key_id.short(),
            owner.name
        )));
    }
    if let Some(b) = live_bundles(reg, keys)?
        .into_iter()
        .find(|b| b.origin == origin && b.exporter != key.key_id)
    {
        let owner = keys.iter().find(|k| k.key_id == b.exporter);
        return Ok(Err(format!(
            "origin `{origin}` belongs to exporter key {}{}, which brought its earlier bundles",
            b.exporter.short(),
            owner
                .map(|k| format!(" (`{}`)", k.name))
                .unwrap_or_default()
        )));
    }
    Ok(Ok(()))
}

/// The time this registry judges expiry by.
#[derive(Debug, Clone, Serialize)]
pub struct Now {
    /// The latest of the clock (or `--now`) and the mark: expiry is judged
    /// against this.
    pub now: String,
    /// The wall clock, or the time given with `--now`.
    pub clock: String,
    /// True when `--now` was given.
    pub given: bool,
    /// The newest trusted `created` of any origin and the newest event: a
    /// time this registry has already seen, so "now" never runs backwards.
    pub mark: Option<String>,
    /// True when the clock is behind the mark (set back, or wrong).
    pub clock_behind: bool,
}

impl Now {
    /// `now` as a time.
    pub fn now_time(&self) -> OffsetDateTime {
        clock::parse_canonical(&self.now).unwrap_or_else(clock::now)
    }
}

/// "Now" for this registry: the latest of the wall clock (or `given`) and
/// the mark, so an expired bundle stays expired when the clock is set back.
pub fn now(reg: &Registry, given: Option<OffsetDateTime>) -> Result<Now> {
    let keys = reg.db.trusted_keys()?;
    let clock_t = given.unwrap_or_else(clock::now);
    let created = live_bundles(reg, &keys)?
        .iter()
        .filter_map(|b| clock::parse_canonical(&b.created))
        .max();
    let event = reg
        .db
        .last_event_time()?
        .and_then(|t| clock::parse_canonical(&t));
    let mark = created.into_iter().chain(event).max();
    let now_t = mark.map_or(clock_t, |m| m.max(clock_t));
    Ok(Now {
        now: clock::format(now_t),
        clock: clock::format(clock_t),
        given: given.is_some(),
        mark: mark.map(clock::format),
        clock_behind: mark.is_some_and(|m| clock_t < m),
    })
}
