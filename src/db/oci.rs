//! Where versions went to and came from over OCI (`oci_locations`).

use rusqlite::params;

use super::{Ctx, Db};
use crate::error::Result;
use crate::name::ModelName;
use crate::records::OciLocation;

/// A location to record for the version `name@label`.
#[derive(Debug, Clone)]
pub(crate) struct OciLocationRow {
    pub(crate) name: ModelName,
    pub(crate) label: String,
    pub(crate) location: OciLocation,
}

pub(super) fn insert(tx: &rusqlite::Transaction<'_>, rows: &[OciLocationRow]) -> Result<()> {
    for r in rows {
        let l = &r.location;
        tx.execute(
            "INSERT INTO oci_locations (version_id, direction, registry, repository, tag, manifest_digest, at, by)
             SELECT v.id, ?3, ?4, ?5, ?6, ?7, ?8, ?9 FROM versions v JOIN models m ON m.id = v.model_id
             WHERE m.name = ?1 AND v.label = ?2",
            params![
                r.name.as_str(),
                r.label,
                l.direction,
                l.registry,
                l.repository,
                l.tag,
                l.manifest_digest,
                l.at,
                l.by
            ],
        )
        .ctx("record OCI location")?;
    }
    Ok(())
}

impl Db {
    /// Record pushes or pulls of versions already recorded, with their
    /// events, in one transaction.
    pub(crate) fn record_oci(
        &self,
        rows: &[OciLocationRow],
        events: &[crate::event::EventDraft],
    ) -> Result<()> {
        let tx = self.write_tx().ctx("begin transaction")?;
        insert(&tx, rows)?;
        for e in events {
            super::audit::append_event(&tx, e)?;
        }
        tx.commit().ctx("commit OCI locations")
    }

    /// Every recorded push and pull of a version, oldest first.
    pub(crate) fn oci_locations(&self, version_id: i64) -> Result<Vec<OciLocation>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT direction, registry, repository, tag, manifest_digest, at, by
                 FROM oci_locations WHERE version_id = ?1 ORDER BY id",
            )
            .ctx("read OCI locations")?;
        st.query_map([version_id], |r| {
            Ok(OciLocation {
                direction: r.get(0)?,
                registry: r.get(1)?,
                repository: r.get(2)?,
                tag: r.get(3)?,
                manifest_digest: r.get(4)?,
                at: r.get(5)?,
                by: r.get(6)?,
            })
        })
        .ctx("read OCI locations")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read OCI locations")
    }

    /// Repositories of `registry` that received a push of any blob of
    /// these versions (cross-repository mount sources), newest first.
    pub(crate) fn pushed_repositories(&self, registry: &str) -> Result<Vec<String>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT repository FROM oci_locations WHERE registry = ?1
                 GROUP BY repository ORDER BY MAX(id) DESC LIMIT 8",
            )
            .ctx("read OCI locations")?;
        st.query_map([registry], |r| r.get(0))
            .ctx("read OCI locations")?
            .collect::<rusqlite::Result<Vec<String>>>()
            .ctx("read OCI locations")
    }

    /// For each version that arrived over OCI: where from, as
    /// `registry/repository@sha256:<hex>` (the first pull).
    pub(crate) fn pulled_from(&self) -> Result<std::collections::HashMap<i64, String>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT version_id, registry, repository, manifest_digest FROM oci_locations
                 WHERE direction = 'pull' ORDER BY id DESC",
            )
            .ctx("read OCI locations")?;
        let rows = st
            .query_map([], |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    format!(
                        "{}/{}@sha256:{}",
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, String>(3)?
                    ),
                ))
            })
            .ctx("read OCI locations")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read OCI locations")?;
        Ok(rows.into_iter().collect())
    }
}
