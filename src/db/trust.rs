//! SQL for the trust store, approvals, statements and bundle bookkeeping.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Ctx, Db, conv};
use crate::error::Result;
use crate::records::{ApprovalRecord, Role, TrustedKey};
use crate::signing::{KeyId, PublicKey};

/// A bundle accepted by this registry.
#[derive(Debug, Clone)]
pub(crate) struct AcceptedBundle {
    pub(crate) bundle_id: String,
    pub(crate) origin: String,
    pub(crate) sequence: u64,
    pub(crate) created: String,
    pub(crate) expires: String,
    pub(crate) index_sha256: String,
    pub(crate) exporter: KeyId,
    pub(crate) imported_at: String,
    pub(crate) imported_by: String,
}

/// A bundle this registry wrote.
#[derive(Debug, Clone)]
pub(crate) struct ExportRecord {
    pub(crate) bundle_id: String,
    pub(crate) sequence: u64,
    pub(crate) created: String,
    pub(crate) expires: String,
    pub(crate) exporter: KeyId,
    pub(crate) path: String,
    pub(crate) exported_by: String,
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrustedKey> {
    let raw: Vec<u8> = r.get(1)?;
    let public_key = conv(PublicKey::from_raw(&raw))?;
    let revoked_at: Option<String> = r.get(6)?;
    Ok(TrustedKey {
        key_id: conv(r.get::<_, String>(0)?.parse::<KeyId>())?,
        public_key,
        name: r.get(2)?,
        role: conv(r.get::<_, String>(3)?.parse::<Role>())?,
        added_at: r.get(4)?,
        added_by: r.get(5)?,
        revoked: revoked_at.is_some(),
        revoked_at,
        revoked_reason: r.get(7)?,
    })
}

pub(super) fn insert_approval(
    tx: &Transaction<'_>,
    version_id: i64,
    a: &ApprovalRecord,
) -> Result<()> {
    tx.execute(
        "INSERT INTO approvals (version_id, key_id, public_key, name, signature, signed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (version_id, key_id) DO NOTHING",
        params![
            version_id,
            a.key_id.to_hex(),
            a.public_key.raw().to_vec(),
            a.name,
            a.signature,
            a.signed_at
        ],
    )
    .ctx("record approval")?;
    Ok(())
}

pub(super) fn record_bundle(tx: &Transaction<'_>, b: &AcceptedBundle) -> Result<()> {
    tx.execute(
        "INSERT INTO bundles (bundle_id, origin, sequence, created, expires, index_sha256, exporter,
           imported_at, imported_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (bundle_id) DO NOTHING",
        params![
            b.bundle_id,
            b.origin,
            b.sequence as i64,
            b.created,
            b.expires,
            b.index_sha256,
            b.exporter.to_hex(),
            b.imported_at,
            b.imported_by
        ],
    )
    .ctx("record bundle")?;
    Ok(())
}

const KEY_COLS: &str =
    "key_id, public_key, name, role, added_at, added_by, revoked_at, revoked_reason";

impl Db {
    pub(crate) fn trusted_keys(&self) -> Result<Vec<TrustedKey>> {
        let mut st = self
            .conn
            .prepare(&format!(
                "SELECT {KEY_COLS} FROM trusted_keys ORDER BY added_at, key_id"
            ))
            .ctx("prepare trust query")?;
        st.query_map([], key_from_row)
            .ctx("query trust store")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read trust store")
    }

    pub(crate) fn add_trusted_key(
        &self,
        k: &TrustedKey,
        event: &crate::event::EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| {
            tx.execute(
                "INSERT INTO trusted_keys (key_id, public_key, name, role, added_at, added_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    k.key_id.to_hex(),
                    k.public_key.raw().to_vec(),
                    k.name,
                    k.role.as_str(),
                    k.added_at,
                    k.added_by
                ],
            )
            .ctx("add trusted key")?;
            Ok(())
        })
    }

    pub(crate) fn revoke_key(
        &self,
        id: &KeyId,
        at: &str,
        by: &str,
        reason: Option<&str>,
        event: &crate::event::EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| {
            tx.execute(
                "UPDATE trusted_keys SET revoked_at = ?2, revoked_by = ?3, revoked_reason = ?4
                 WHERE key_id = ?1 AND revoked_at IS NULL",
                params![id.to_hex(), at, by, reason],
            )
            .ctx("revoke key")?;
            Ok(())
        })
    }

    pub(crate) fn approvals(&self, version_id: i64) -> Result<Vec<ApprovalRecord>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT key_id, public_key, name, signature, signed_at FROM approvals
                 WHERE version_id = ?1 ORDER BY signed_at, key_id",
            )
            .ctx("prepare approvals query")?;
        st.query_map([version_id], |r| {
            let raw: Vec<u8> = r.get(1)?;
            Ok(ApprovalRecord {
                key_id: conv(r.get::<_, String>(0)?.parse::<KeyId>())?,
                public_key: conv(PublicKey::from_raw(&raw))?,
                name: r.get(2)?,
                signature: r.get(3)?,
                signed_at: r.get(4)?,
            })
        })
        .ctx("query approvals")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read approvals")
    }

    pub(crate) fn add_approval(
        &self,
        version_id: i64,
        a: &ApprovalRecord,
        event: &crate::event::EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| insert_approval(tx, version_id, a))
    }

    /// The exact statement bytes recorded for a version, if any.
    pub(crate) fn statement(&self, version_id: i64) -> Result<Option<Vec<u8>>> {
        self.conn
            .query_row(
                "SELECT statement FROM versions WHERE id = ?1",
                [version_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("read statement")
            .map(Option::flatten)
    }

    pub(crate) fn set_statement(&self, version_id: i64, bytes: &[u8]) -> Result<()> {
        self.conn
            .execute(
                "UPDATE versions SET statement = ?2 WHERE id = ?1 AND statement IS NULL",
                params![version_id, bytes],
            )
            .ctx("record statement")?;
        Ok(())
    }

    pub(crate) fn bundle(&self, bundle_id: &str) -> Result<Option<AcceptedBundle>> {
        self.conn
            .query_row(
                "SELECT bundle_id, origin, sequence, created, expires, index_sha256, exporter, imported_at, imported_by
                 FROM bundles WHERE bundle_id = ?1",
                [bundle_id],
                |r| {
                    Ok(AcceptedBundle {
                        bundle_id: r.get(0)?,
                        origin: r.get(1)?,
                        sequence: r.get::<_, i64>(2)? as u64,
                        created: r.get(3)?,
                        expires: r.get(4)?,
                        index_sha256: r.get(5)?,
                        exporter: conv(r.get::<_, String>(6)?.parse::<KeyId>())?,
                        imported_at: r.get(7)?,
                        imported_by: r.get(8)?,
                    })
                },
            )
            .optional()
            .ctx("read bundle")
    }

    /// The highest sequence and newest `created` accepted from `origin`.
    pub(crate) fn origin_state(&self, origin: &str) -> Result<Option<(u64, String)>> {
        self.conn
            .query_row(
                "SELECT MAX(sequence), MAX(created) FROM bundles WHERE origin = ?1 HAVING COUNT(*) > 0",
                [origin],
                |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, String>(1)?)),
            )
            .optional()
            .ctx("read origin state")
    }

    /// The next export sequence number (1, 2, …), recorded with the export.
    pub(crate) fn next_export_sequence(&self) -> Result<u64> {
        self.conn
            .query_row(
                "SELECT COALESCE(MAX(sequence), 0) + 1 FROM exports",
                [],
                |r| r.get::<_, i64>(0),
            )
            .ctx("read export sequence")
            .map(|n| n as u64)
    }

    pub(crate) fn record_export(
        &self,
        e: &ExportRecord,
        event: &crate::event::EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| {
            tx.execute(
                "INSERT INTO exports (bundle_id, sequence, created, expires, exporter, path, exported_by)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![e.bundle_id, e.sequence as i64, e.created, e.expires, e.exporter.to_hex(), e.path, e.exported_by],
            )
            .ctx("record export")?;
            Ok(())
        })
    }
}
