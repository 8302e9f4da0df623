//! SQL for pending outputs (schema 7): announced before the first byte,
//! deleted when complete.

use rusqlite::params;

use super::{Ctx, Db};
use crate::error::Result;

/// One pending output row.
#[derive(Debug, Clone)]
pub(crate) struct PendingRow {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) token: String,
    pub(crate) target: String,
    pub(crate) leftovers: Vec<String>,
    pub(crate) details: serde_json::Value,
    pub(crate) pid: i64,
    pub(crate) started_at: String,
    pub(crate) started_by: String,
}

impl Db {
    /// Announce an output; returns its id.
    pub(crate) fn add_pending(
        &self,
        kind: &str,
        token: &str,
        target: &str,
        details: &serde_json::Value,
        started_at: &str,
        started_by: &str,
    ) -> Result<i64> {
        let tx = self.write_tx().ctx("begin pending output")?;
        tx.execute(
            "INSERT INTO pending_outputs (kind, token, target, details, pid, started_at, started_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                kind,
                token,
                target,
                details.to_string(),
                i64::from(std::process::id()),
                started_at,
                started_by
            ],
        )
        .ctx("record pending output")?;
        let id = tx.last_insert_rowid();
        tx.commit().ctx("commit pending output")?;
        Ok(id)
    }

    /// Add a path the run has created (or is about to) to its leftovers.
    pub(crate) fn add_pending_path(&self, id: i64, path: &str) -> Result<()> {
        let tx = self.write_tx().ctx("begin pending path")?;
        tx.execute(
            "UPDATE pending_outputs SET leftovers = json_insert(leftovers, '$[#]', ?2) WHERE id = ?1",
            params![id, path],
        )
        .ctx("record pending path")?;
        tx.commit().ctx("commit pending path")?;
        Ok(())
    }

    /// Replace the run's list of paths.
    pub(crate) fn set_pending_paths(&self, id: i64, paths: &[String]) -> Result<()> {
        let json = serde_json::to_string(paths).expect("plain JSON");
        self.conn
            .execute(
                "UPDATE pending_outputs SET leftovers = ?2 WHERE id = ?1",
                params![id, json],
            )
            .ctx("record pending paths")?;
        Ok(())
    }

    /// The output is complete (or cleaned up): forget it.
    pub(crate) fn remove_pending(&self, id: i64) -> Result<()> {
        self.conn
            .execute("DELETE FROM pending_outputs WHERE id = ?1", [id])
            .ctx("remove pending output")?;
        Ok(())
    }

    /// Every pending output row, oldest first.
    pub(crate) fn pending(&self) -> Result<Vec<PendingRow>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT id, kind, token, target, leftovers, details, pid, started_at, started_by
                 FROM pending_outputs ORDER BY id",
            )
            .ctx("read pending outputs")?;
        let rows = st
            .query_map([], |r| {
                let leftovers: String = r.get(4)?;
                let details: String = r.get(5)?;
                Ok(PendingRow {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    token: r.get(2)?,
                    target: r.get(3)?,
                    leftovers: serde_json::from_str(&leftovers).unwrap_or_default(),
                    details: serde_json::from_str(&details).unwrap_or_default(),
                    pid: r.get(6)?,
                    started_at: r.get(7)?,
                    started_by: r.get(8)?,
                })
            })
            .ctx("read pending outputs")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read pending outputs")?;
        Ok(rows)
    }
}
