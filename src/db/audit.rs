//! SQL for the event log, checkpoints and deployments.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Ctx, Db};
use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::event::{Event, EventDraft, canonical_bytes, chain_hash, genesis};
use crate::records::{Checkpoint, DeployStatus, Deployment};

/// Append an event inside `tx`, chained to the current head.
pub(crate) fn append_event(tx: &Transaction<'_>, e: &EventDraft) -> Result<Event> {
    let head: Option<(i64, String, String)> = tx
        .query_row(
            "SELECT seq, hash, time FROM events ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()
        .ctx("read log head")?;
    // The log never runs backwards: an event recorded while the clock is
    // behind the head carries the head's time (the clock-behind event says so).
    let mut time = e.time.clone();
    let (seq, prev) = match head {
        Some((s, h, t)) => {
            if t > time {
                time = t;
            }
            (
                s as u64 + 1,
                h.parse::<Sha256Digest>().map_err(|_| Error::Hostile {
                    what: format!("event {s}"),
                    reason: "its hash is not a digest".into(),
                })?,
            )
        }
        None => (1, genesis()),
    };
    let details = e.details_text();
    let hash = chain_hash(
        &prev,
        &canonical_bytes(
            seq,
            &time,
            &e.actor,
            e.command.as_str(),
            &e.subject,
            &details,
        ),
    );
    tx.execute(
        "INSERT INTO events (seq, time, actor, command, subject, details, prev_hash, hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            seq as i64,
            time,
            e.actor,
            e.command.as_str(),
            e.subject,
            details,
            prev.to_hex(),
            hash.to_hex()
        ],
    )
    .ctx("append event")?;
    Ok(Event {
        seq,
        time,
        actor: e.actor.clone(),
        command: e.command.as_str().to_string(),
        subject: e.subject.clone(),
        details,
        prev_hash: prev.to_hex(),
        hash: hash.to_hex(),
    })
}

const DEP_COLS: &str = "id, version_id, host, path, environment, note, record_only, deployed_at, deployed_by, \
     ended_at, ended_by, last_verified_at, last_status";

fn dep_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Deployment> {
    Ok(Deployment {
        id: r.get(0)?,
        version_id: r.get(1)?,
        host: r.get(2)?,
        path: r.get(3)?,
        environment: r.get(4)?,
        note: r.get(5)?,
        record_only: r.get::<_, i64>(6)? == 1,
        deployed_at: r.get(7)?,
        deployed_by: r.get(8)?,
        ended_at: r.get(9)?,
        ended_by: r.get(10)?,
        last_verified_at: r.get(11)?,
        last_status: r
            .get::<_, Option<String>>(12)?
            .map(|s| DeployStatus::parse(&s)),
    })
}

impl Db {
    /// The time of the newest event, if any.
    pub(crate) fn last_event_time(&self) -> Result<Option<String>> {
        self.conn
            .query_row(
                "SELECT time FROM events ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()
            .ctx("read log head time")
    }

    pub(crate) fn events(&self) -> Result<Vec<Event>> {
        let mut st = self
            .conn
            .prepare("SELECT seq, time, actor, command, subject, details, prev_hash, hash FROM events ORDER BY seq")
            .ctx("prepare events query")?;
        st.query_map([], |r| {
            Ok(Event {
                seq: r.get::<_, i64>(0)? as u64,
                time: r.get(1)?,
                actor: r.get(2)?,
                command: r.get(3)?,
                subject: r.get(4)?,
                details: r.get(5)?,
                prev_hash: r.get(6)?,
                hash: r.get(7)?,
            })
        })
        .ctx("query events")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read events")
    }

    pub(crate) fn add_checkpoint(&self, c: &Checkpoint, event: &EventDraft) -> Result<()> {
        let tx = self.write_tx().ctx("begin checkpoint")?;
        tx.execute(
            "INSERT INTO checkpoints (seq, head_hash, key_id, public_key, signature, signed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                c.seq as i64,
                c.head_hash,
                c.key_id,
                c.public_key,
                c.signature,
                c.signed_at
            ],
        )
        .ctx("record checkpoint")?;
        append_event(&tx, event)?;
        tx.commit().ctx("commit checkpoint")
    }

    pub(crate) fn checkpoints(&self) -> Result<Vec<Checkpoint>> {
        let mut st = self
            .conn
            .prepare("SELECT seq, head_hash, key_id, public_key, signature, signed_at FROM checkpoints ORDER BY seq")
            .ctx("prepare checkpoints query")?;
        st.query_map([], |r| {
            Ok(Checkpoint {
                seq: r.get::<_, i64>(0)? as u64,
                head_hash: r.get(1)?,
                key_id: r.get(2)?,
                public_key: r.get(3)?,
                signature: r.get(4)?,
                signed_at: r.get(5)?,
            })
        })
        .ctx("query checkpoints")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read checkpoints")
    }

    /// Record a deployment (ending any active one at the same host and path).
    /// Record `d`, ending what it replaces: any deployment at the same host
    /// and path, or with `shared` (a Hugging Face cache holding many models)
    /// only those of the same model there.
    pub(crate) fn add_deployment(
        &self,
        d: &Deployment,
        shared: bool,
        event: &EventDraft,
    ) -> Result<i64> {
        let tx = self.write_tx().ctx("begin deployment")?;
        tx.execute(
            "UPDATE deployments SET ended_at = ?3, ended_by = ?4
             WHERE host = ?1 AND path = ?2 AND ended_at IS NULL
               AND (?5 = 0 OR version_id IN (SELECT id FROM versions WHERE model_id =
                    (SELECT model_id FROM versions WHERE id = ?6)))",
            params![
                d.host,
                d.path,
                d.deployed_at,
                d.deployed_by,
                i64::from(shared),
                d.version_id
            ],
        )
        .ctx("end previous deployment")?;
        tx.execute(
            "INSERT INTO deployments (version_id, host, path, environment, note, record_only, deployed_at, deployed_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![d.version_id, d.host, d.path, d.environment, d.note, i64::from(d.record_only), d.deployed_at, d.deployed_by],
        )
        .ctx("record deployment")?;
        let id = tx.last_insert_rowid();
        let mut e = event.clone();
        if let Some(obj) = e.details.as_object_mut() {
            obj.insert("deployment_id".into(), id.into());
        }
        append_event(&tx, &e)?;
        tx.commit().ctx("commit deployment")?;
        Ok(id)
    }

    /// End active deployments of `version_id` at host and path. Returns how many.
    pub(crate) fn end_deployment(
        &mut self,
        version_id: i64,
        host: &str,
        path: &str,
        at: &str,
        by: &str,
        event: &EventDraft,
    ) -> Result<usize> {
        let tx = self.write_tx().ctx("begin undeploy")?;
        let n = tx
            .execute(
                "UPDATE deployments SET ended_at = ?4, ended_by = ?5
                 WHERE version_id = ?1 AND host = ?2 AND path = ?3 AND ended_at IS NULL",
                params![version_id, host, path, at, by],
            )
            .ctx("end deployment")?;
        if n > 0 {
            append_event(&tx, event)?;
        }
        tx.commit().ctx("commit undeploy")?;
        Ok(n)
    }

    pub(crate) fn deployments(&self, active_only: bool) -> Result<Vec<Deployment>> {
        let filter = if active_only {
            "WHERE ended_at IS NULL"
        } else {
            ""
        };
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {DEP_COLS} FROM deployments {filter} ORDER BY id"
            ))
            .ctx("prepare deployments query")?;
        st.query_map([], dep_from_row)
            .ctx("query deployments")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read deployments")
    }

    pub(crate) fn mark_deployment(&self, id: i64, status: DeployStatus, at: &str) -> Result<()> {
        self.conn
            .execute(
                "UPDATE deployments SET last_status = ?2, last_verified_at = ?3 WHERE id = ?1",
                params![id, status.as_str(), at],
            )
            .ctx("mark deployment")?;
        Ok(())
    }

    /// (name@label, manifest digest) of a version id.
    pub(crate) fn version_by_id(&self, id: i64) -> Result<crate::records::VersionRecord> {
        let sql = format!(
            "SELECT {} FROM versions v JOIN models m ON m.id = v.model_id WHERE v.id = ?1",
            super::VERSION_COLS
        );
        self.conn
            .query_row(&sql, [id], super::version_from_row)
            .ctx("read version")
    }

    /// Every (version id, key id) approval pair.
    /// Per version, how many distinct keys trusted to approve (and not
    /// revoked) have an approval recorded.
    pub(crate) fn trusted_approval_counts(&self) -> Result<std::collections::HashMap<i64, usize>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT a.version_id, COUNT(DISTINCT a.key_id) FROM approvals a
                 JOIN trusted_keys k ON k.key_id = a.key_id
                 WHERE k.revoked_at IS NULL AND k.is_approver = 1
                 GROUP BY a.version_id",
            )
            .ctx("count approvals")?;
        let rows = st
            .query_map([], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)? as usize))
            })
            .ctx("count approvals")?
            .collect::<rusqlite::Result<_>>()
            .ctx("count approvals")?;
        Ok(rows)
    }

    pub(crate) fn approval_pairs(&self) -> Result<Vec<(i64, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT version_id, key_id FROM approvals")
            .ctx("prepare approvals")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("query approvals")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read approvals")
    }
}
