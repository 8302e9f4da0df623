//! Evaluation records (`evals`).

use rusqlite::params;

use super::{Ctx, Db};
use crate::error::Result;
use crate::event::EventDraft;

/// One recorded evaluation result.
#[derive(Debug, Clone)]
pub(crate) struct EvalRow {
    pub(crate) version_id: i64,
    pub(crate) suite: String,
    pub(crate) metric: String,
    pub(crate) value: f64,
    pub(crate) higher_is_better: bool,
    pub(crate) cost_per_1k_outputs: Option<f64>,
    pub(crate) currency: Option<String>,
    pub(crate) notes: Option<String>,
    pub(crate) recorded_at: String,
    pub(crate) recorded_by: String,
    pub(crate) key_id: String,
    pub(crate) public_key: String,
    pub(crate) envelope: Vec<u8>,
}

/// Insert an evaluation (nothing when the same signed statement is kept
/// already); `version` when given picks the version by `(name, label)`
/// instead of `e.version_id`. True when inserted.
pub(super) fn insert_eval(
    tx: &rusqlite::Transaction<'_>,
    e: &EvalRow,
    version: Option<(&str, &str)>,
) -> Result<bool> {
    let version_id: i64 = match version {
        None => e.version_id,
        Some((name, label)) => tx
            .query_row(
                "SELECT v.id FROM versions v JOIN models m ON m.id = v.model_id
                 WHERE m.name = ?1 AND v.label = ?2",
                params![name, label],
                |r| r.get(0),
            )
            .ctx("find evaluated version")?,
    };
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO evals (version_id, suite, metric, value, higher_is_better,
               cost_per_1k_outputs, currency, notes, recorded_at, recorded_by, key_id,
               public_key, envelope_sha256, envelope)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
            params![
                version_id,
                e.suite,
                e.metric,
                e.value,
                e.higher_is_better,
                e.cost_per_1k_outputs,
                e.currency,
                e.notes,
                e.recorded_at,
                e.recorded_by,
                e.key_id,
                e.public_key,
                crate::digest::Sha256Digest::of(&e.envelope).to_hex(),
                e.envelope
            ],
        )
        .ctx("record evaluation")?;
    Ok(n == 1)
}

impl Db {
    /// Record an evaluation with its event, in one transaction.
    pub(crate) fn add_eval(&self, e: &EvalRow, event: &EventDraft) -> Result<()> {
        self.logged(event, |tx| {
            insert_eval(tx, e, None)?;
            Ok(())
        })
    }

    /// Every evaluation record: `(name@label, envelope sha256)`.
    pub(crate) fn eval_digests(&self) -> Result<Vec<(String, String)>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT m.name || '@' || v.label, e.envelope_sha256 FROM evals e
                 JOIN versions v ON v.id = e.version_id JOIN models m ON m.id = v.model_id
                 ORDER BY e.id",
            )
            .ctx("prepare evaluation digests query")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("query evaluation digests")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read evaluation digests")
    }

    /// A version's evaluations, oldest first.
    pub(crate) fn evals(&self, version_id: i64) -> Result<Vec<EvalRow>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT version_id, suite, metric, value, higher_is_better, cost_per_1k_outputs,
                   currency, notes, recorded_at, recorded_by, key_id, public_key, envelope
                 FROM evals WHERE version_id = ?1 ORDER BY id",
            )
            .ctx("prepare evaluations query")?;
        st.query_map([version_id], |r| {
            Ok(EvalRow {
                version_id: r.get(0)?,
                suite: r.get(1)?,
                metric: r.get(2)?,
                value: r.get(3)?,
                higher_is_better: r.get(4)?,
                cost_per_1k_outputs: r.get(5)?,
                currency: r.get(6)?,
                notes: r.get(7)?,
                recorded_at: r.get(8)?,
                recorded_by: r.get(9)?,
                key_id: r.get(10)?,
                public_key: r.get(11)?,
                envelope: r.get(12)?,
            })
        })
        .ctx("query evaluations")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read evaluations")
    }
}
