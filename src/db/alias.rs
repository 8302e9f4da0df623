//! Where each alias points now (`aliases`); the history is the log.

use rusqlite::{OptionalExtension, params};

use super::{Ctx, Db};
use crate::error::Result;
use crate::event::EventDraft;
use crate::name::ModelName;

/// An alias as recorded: the version's id and label, when and by whom.
#[derive(Debug, Clone)]
pub(crate) struct AliasRow {
    pub(crate) alias: String,
    pub(crate) version_id: i64,
    pub(crate) label: String,
    pub(crate) set_at: String,
    pub(crate) set_by: String,
}

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AliasRow> {
    Ok(AliasRow {
        alias: r.get(0)?,
        version_id: r.get(1)?,
        label: r.get(2)?,
        set_at: r.get(3)?,
        set_by: r.get(4)?,
    })
}

const SELECT: &str = "SELECT a.alias, a.version_id, v.label, a.set_at, a.set_by, m.name
     FROM aliases a JOIN versions v ON v.id = a.version_id JOIN models m ON m.id = a.model_id";

impl Db {
    /// Point `alias` of `name` at the version `version_id` (which must be
    /// of that model), with its event, in one transaction.
    pub(crate) fn set_alias(
        &self,
        name: &ModelName,
        alias: &str,
        version_id: i64,
        event: &EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| {
            tx.execute(
                "INSERT INTO aliases (model_id, alias, version_id, set_at, set_by)
                 SELECT m.id, ?2, ?3, ?4, ?5 FROM models m WHERE m.name = ?1
                 ON CONFLICT (model_id, alias) DO UPDATE SET
                   version_id = excluded.version_id, set_at = excluded.set_at, set_by = excluded.set_by",
                params![name.as_str(), alias, version_id, event.time, event.actor],
            )
            .ctx("record alias")?;
            Ok(())
        })
    }

    /// Remove `alias` of `name`, with its event; false when there was none.
    pub(crate) fn remove_alias(
        &self,
        name: &ModelName,
        alias: &str,
        event: &EventDraft,
    ) -> Result<bool> {
        let tx = self.write_tx().ctx("begin transaction")?;
        let n = tx
            .execute(
                "DELETE FROM aliases WHERE alias = ?2
                   AND model_id = (SELECT id FROM models WHERE name = ?1)",
                params![name.as_str(), alias],
            )
            .ctx("remove alias")?;
        if n == 0 {
            return Ok(false);
        }
        super::audit::append_event(&tx, event)?;
        tx.commit().ctx("commit alias removal")?;
        Ok(true)
    }

    /// Where `alias` of `name` points now.
    pub(crate) fn alias(&self, name: &ModelName, alias: &str) -> Result<Option<AliasRow>> {
        self.conn
            .query_row(
                &format!("{SELECT} WHERE m.name = ?1 AND a.alias = ?2"),
                params![name.as_str(), alias],
                row,
            )
            .optional()
            .ctx("read alias")
    }

    /// Every alias of `name` (every model's with `None`), by model then alias,
    /// with the model's name.
    pub(crate) fn aliases(&self, name: Option<&ModelName>) -> Result<Vec<(String, AliasRow)>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "{SELECT} WHERE ?1 IS NULL OR m.name = ?1 ORDER BY m.name, a.alias"
            ))
            .ctx("prepare aliases query")?;
        st.query_map(params![name.map(ModelName::as_str)], |r| {
            Ok((r.get(5)?, row(r)?))
        })
        .ctx("query aliases")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read aliases")
    }
}
