//! SQL for the trust store, approvals, statements and bundle bookkeeping.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{Ctx, Db, conv};
use crate::error::{DbError, Error, Result};
use crate::records::{ApprovalRecord, Roles, TrustSource, TrustedKey};
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
    /// How it was split, for an export with `--volume-size`.
    pub(crate) volumes: Option<super::ExportVolumes>,
}

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrustedKey> {
    let raw: Vec<u8> = r.get(1)?;
    let public_key = conv(PublicKey::from_raw(&raw))?;
    let revoked_at: Option<String> = r.get(10)?;
    let origins: Option<String> = r.get(6)?;
    Ok(TrustedKey {
        key_id: conv(r.get::<_, String>(0)?.parse::<KeyId>())?,
        public_key,
        name: r.get(2)?,
        roles: Roles {
            root: r.get::<_, i64>(3)? == 1,
            exporter: r.get::<_, i64>(4)? == 1,
            approver: r.get::<_, i64>(5)? == 1,
        },
        origins: origins
            .map(|o| conv(serde_json::from_str::<Vec<String>>(&o)))
            .transpose()?,
        source: match r.get::<_, String>(7)?.as_str() {
            "root" => TrustSource::Root,
            _ => TrustSource::Local,
        },
        added_at: r.get(8)?,
        added_by: r.get(9)?,
        revoked: revoked_at.is_some(),
        revoked_at,
        revoked_reason: r.get(11)?,
    })
}

fn upsert_key(tx: &Transaction<'_>, k: &TrustedKey) -> Result<()> {
    tx.execute(
        "INSERT INTO trusted_keys (key_id, public_key, name, is_root, is_exporter, is_approver,
           origins, source, added_at, added_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (key_id) DO UPDATE SET name = excluded.name, is_root = excluded.is_root,
           is_exporter = excluded.is_exporter, is_approver = excluded.is_approver,
           origins = excluded.origins, source = excluded.source",
        params![
            k.key_id.to_hex(),
            k.public_key.raw().to_vec(),
            k.name,
            k.roles.root as i64,
            k.roles.exporter as i64,
            k.roles.approver as i64,
            k.origins
                .as_ref()
                .map(|o| serde_json::to_string(o).expect("plain JSON")),
            k.source.as_str(),
            k.added_at,
            k.added_by
        ],
    )
    .ctx("record trusted key")?;
    Ok(())
}

fn revocation_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RevocationRow> {
    Ok(RevocationRow {
        name: r.get(0)?,
        label: r.get(1)?,
        manifest_digest: r.get(2)?,
        envelope: r.get(3)?,
        local: r.get::<_, i64>(4)? == 1,
    })
}

fn bundle_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AcceptedBundle> {
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
}

/// A version revocation as stored (the envelope with every signature
/// gathered so far).
#[derive(Debug, Clone)]
pub(crate) struct RevocationRow {
    pub(crate) name: String,
    pub(crate) label: String,
    pub(crate) manifest_digest: String,
    pub(crate) envelope: Vec<u8>,
    pub(crate) local: bool,
}

pub(super) fn put_revocation(tx: &Transaction<'_>, r: &RevocationRow, at: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO revocations (name, label, manifest_digest, envelope, local, recorded_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (name, label, manifest_digest) DO UPDATE SET envelope = excluded.envelope,
           local = MAX(local, excluded.local)",
        params![
            r.name,
            r.label,
            r.manifest_digest,
            r.envelope,
            r.local as i64,
            at
        ],
    )
    .ctx("record revocation")?;
    Ok(())
}

/// A trust root version as stored.
#[derive(Debug, Clone)]
pub(crate) struct StoredRoot {
    pub(crate) version: u64,
    pub(crate) envelope: Vec<u8>,
    pub(crate) applied_at: String,
    pub(crate) how: String,
}

/// What applying a root version changes in the key table.
pub(crate) struct RootApplication<'a> {
    pub(crate) version: u64,
    pub(crate) envelope: &'a [u8],
    pub(crate) how: &'a str,
    pub(crate) at: &'a str,
    pub(crate) by: &'a str,
    /// Every key the root gives a role, as rows with source `root`.
    pub(crate) keys: &'a [TrustedKey],
    /// Keys the root revokes: (id, time, reason).
    pub(crate) revoked: &'a [(KeyId, String, String)],
}

pub(super) fn insert_approval(
    tx: &Transaction<'_>,
    version_id: i64,
    a: &ApprovalRecord,
) -> Result<bool> {
    let n = tx
        .execute(
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
    Ok(n == 1)
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

const KEY_COLS: &str = "key_id, public_key, name, is_root, is_exporter, is_approver, origins, source, \
     added_at, added_by, revoked_at, revoked_reason";

/// The marker in `revoked_by` of keys a root version dropped from every role
/// (they come back if a later version lists them again).
const DROPPED_BY_ROOT: &str = "trust root";

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

    /// Trust `k` unless the key is already in the store (then nothing is
    /// written and false is returned): check and insert in one write
    /// transaction, so concurrent adds log one event.
    pub(crate) fn add_trusted_key(
        &self,
        k: &TrustedKey,
        event: &crate::event::EventDraft,
    ) -> Result<bool> {
        let tx = self.write_tx().ctx("begin trust add")?;
        let exists: bool = tx
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM trusted_keys WHERE key_id = ?1)",
                [k.key_id.to_hex()],
                |r| r.get(0),
            )
            .ctx("read trusted key")?;
        if exists {
            return Ok(false);
        }
        upsert_key(&tx, k)?;
        super::audit::append_event(&tx, event)?;
        tx.commit().ctx("commit trust add")?;
        Ok(true)
    }

    /// Record a trust root version and make the key table follow it, with
    /// its event, in one transaction: keys it lists get their roles (a key
    /// it dropped before comes back), keys of earlier root versions it no
    /// longer lists stop being trusted, and keys it revokes are revoked for
    /// good. Keys trusted by local commands are left as they are.
    pub(crate) fn apply_root(
        &self,
        a: &RootApplication<'_>,
        event: &crate::event::EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| {
            tx.execute(
                "INSERT INTO trust_roots (version, envelope, applied_at, applied_by, how)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![a.version as i64, a.envelope, a.at, a.by, a.how],
            )
            .ctx("record trust root")?;
            let listed: std::collections::HashSet<String> =
                a.keys.iter().map(|k| k.key_id.to_hex()).collect();
            let mut st = tx
                .prepare("SELECT key_id FROM trusted_keys WHERE source = 'root' AND revoked_at IS NULL")
                .ctx("prepare root keys query")?;
            let current: Vec<String> = st
                .query_map([], |r| r.get(0))
                .ctx("query root keys")?
                .collect::<rusqlite::Result<_>>()
                .ctx("read root keys")?;
            for id in current.iter().filter(|id| !listed.contains(*id)) {
                tx.execute(
                    "UPDATE trusted_keys SET revoked_at = ?2, revoked_by = ?3, revoked_reason = ?4
                     WHERE key_id = ?1",
                    params![
                        id,
                        a.at,
                        DROPPED_BY_ROOT,
                        format!("not in trust root version {}", a.version)
                    ],
                )
                .ctx("drop root key")?;
            }
            for k in a.keys {
                upsert_key(tx, k)?;
                tx.execute(
                    "UPDATE trusted_keys SET revoked_at = NULL, revoked_by = NULL, revoked_reason = NULL
                     WHERE key_id = ?1 AND revoked_by = ?2",
                    params![k.key_id.to_hex(), DROPPED_BY_ROOT],
                )
                .ctx("restore root key")?;
            }
            for (id, at, reason) in a.revoked {
                tx.execute(
                    "UPDATE trusted_keys SET revoked_at = ?2, revoked_by = ?3, revoked_reason = ?4
                     WHERE key_id = ?1 AND (revoked_at IS NULL OR revoked_by = ?5)",
                    params![
                        id.to_hex(),
                        at,
                        format!("trust root version {}", a.version),
                        reason,
                        DROPPED_BY_ROOT
                    ],
                )
                .ctx("revoke key by root")?;
            }
            Ok(())
        })
    }

    /// The revocation recorded for a version, if any.
    pub(crate) fn revocation(
        &self,
        name: &str,
        label: &str,
        manifest_digest: &str,
    ) -> Result<Option<RevocationRow>> {
        self.conn
            .query_row(
                "SELECT name, label, manifest_digest, envelope, local FROM revocations
                 WHERE name = ?1 AND label = ?2 AND manifest_digest = ?3",
                params![name, label, manifest_digest],
                revocation_from_row,
            )
            .optional()
            .ctx("read revocation")
    }

    /// Every revocation recorded, oldest first.
    pub(crate) fn revocations(&self) -> Result<Vec<RevocationRow>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT name, label, manifest_digest, envelope, local FROM revocations ORDER BY rowid",
            )
            .ctx("prepare revocations query")?;
        st.query_map([], revocation_from_row)
            .ctx("query revocations")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read revocations")
    }

    /// Record (or update) a revocation, with its event.
    pub(crate) fn put_revocation(
        &self,
        r: &RevocationRow,
        at: &str,
        event: &crate::event::EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| put_revocation(tx, r, at))
    }

    /// Every trust root version recorded, oldest first.
    pub(crate) fn roots(&self) -> Result<Vec<StoredRoot>> {
        let mut st = self
            .conn
            .prepare("SELECT version, envelope, applied_at, how FROM trust_roots ORDER BY version")
            .ctx("prepare trust roots query")?;
        st.query_map([], |r| {
            Ok(StoredRoot {
                version: r.get::<_, i64>(0)? as u64,
                envelope: r.get(1)?,
                applied_at: r.get(2)?,
                how: r.get(3)?,
            })
        })
        .ctx("query trust roots")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read trust roots")
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

    /// Record an approval unless that key already approved the version;
    /// returns whether it was added (one approval, one event, whatever
    /// runs at once).
    pub(crate) fn add_approval(
        &self,
        version_id: i64,
        a: &ApprovalRecord,
        event: &crate::event::EventDraft,
    ) -> Result<bool> {
        let tx = self.write_tx().ctx("begin approval")?;
        let added = insert_approval(&tx, version_id, a)?;
        if added {
            super::audit::append_event(&tx, event)?;
        }
        tx.commit().ctx("commit approval")?;
        Ok(added)
    }

    /// The exact statement bytes recorded for a version, if any.
    pub(crate) fn statement(&self, version_id: i64) -> Result<Option<Vec<u8>>> {
        // Read through blob I/O into a buffer of the exact size: a column
        // read would hold the megabytes twice (SQLite's copy and ours).
        // `length()` of a blob does not load it.
        let len: Option<i64> = self
            .conn
            .query_row(
                "SELECT length(bytes) FROM statements WHERE version_id = ?1",
                [version_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("find statement")?;
        let Some(len) = len else {
            return Ok(None);
        };
        let mut blob = self
            .conn
            .blob_open(rusqlite::MAIN_DB, "statements", "bytes", version_id, true)
            .ctx("open statement")?;
        let mut out = Vec::with_capacity(len.max(0) as usize);
        std::io::Read::read_to_end(&mut blob, &mut out)
            .map_err(|e| Error::Db(DbError::new("read statement", e)))?;
        Ok(Some(out))
    }

    /// Keep the statement made for a version (first writer wins).
    /// Run `f` over a reader of the recorded statement's bytes (blob I/O,
    /// nothing loaded whole); `None` when none is recorded.
    pub(crate) fn with_statement_reader<T>(
        &self,
        version_id: i64,
        f: &mut dyn FnMut(&mut dyn std::io::Read) -> T,
    ) -> Result<Option<T>> {
        let recorded: Option<i64> = self
            .conn
            .query_row(
                "SELECT version_id FROM statements WHERE version_id = ?1",
                [version_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("find statement")?;
        if recorded.is_none() {
            return Ok(None);
        }
        let mut blob = self
            .conn
            .blob_open(rusqlite::MAIN_DB, "statements", "bytes", version_id, true)
            .ctx("open statement")?;
        let mut r = std::io::BufReader::with_capacity(1 << 20, &mut blob);
        Ok(Some(f(&mut r)))
    }

    pub(crate) fn set_statement(&self, version_id: i64, bytes: &[u8]) -> Result<()> {
        let tx = self.write_tx().ctx("begin statement")?;
        super::write_statement(&tx, version_id, bytes)?;
        tx.commit().ctx("commit statement")
    }

    /// The highest sequence accepted from each origin.
    pub(crate) fn last_sequences(&self) -> Result<Vec<(String, u64)>> {
        let mut st = self
            .conn
            .prepare("SELECT origin, MAX(sequence) FROM bundles GROUP BY origin ORDER BY origin")
            .ctx("prepare sequences query")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))
            .ctx("query sequences")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read sequences")
    }

    pub(crate) fn bundle(&self, bundle_id: &str) -> Result<Option<AcceptedBundle>> {
        self.conn
            .query_row(
                "SELECT bundle_id, origin, sequence, created, expires, index_sha256, exporter, imported_at, imported_by
                 FROM bundles WHERE bundle_id = ?1",
                [bundle_id],
                bundle_from_row,
            )
            .optional()
            .ctx("read bundle")
    }

    /// Every bundle accepted, oldest first.
    pub(crate) fn bundles(&self) -> Result<Vec<AcceptedBundle>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT bundle_id, origin, sequence, created, expires, index_sha256, exporter, imported_at, imported_by
                 FROM bundles ORDER BY rowid",
            )
            .ctx("prepare bundles query")?;
        st.query_map([], bundle_from_row)
            .ctx("query bundles")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read bundles")
    }

    /// The next export sequence number (1, 2, …), recorded with the export.
    /// Allocate the next export sequence and record the export made with
    /// it, in one write transaction: concurrent exports each get their own
    /// number. `make` gets the number and returns the record, its event and
    /// whatever the caller wants back (the signed index).
    pub(crate) fn record_next_export<T>(
        &self,
        make: impl FnOnce(u64) -> Result<(ExportRecord, crate::event::EventDraft, T)>,
    ) -> Result<T> {
        let tx = self.write_tx().ctx("begin export")?;
        let next = tx
            .query_row(
                "SELECT COALESCE(MAX(sequence), 0) + 1 FROM exports",
                [],
                |r| r.get::<_, i64>(0),
            )
            .ctx("read export sequence")? as u64;
        let (e, event, out) = make(next)?;
        tx.execute(
            "INSERT INTO exports (bundle_id, sequence, created, expires, exporter, path, exported_by)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![e.bundle_id, e.sequence as i64, e.created, e.expires, e.exporter.to_hex(), e.path, e.exported_by],
        )
        .ctx("record export")?;
        if let Some(v) = &e.volumes {
            super::volumes::record_export_volumes(&tx, &e.bundle_id, v)?;
        }
        super::audit::append_event(&tx, &event)?;
        tx.commit().ctx("commit export")?;
        Ok(out)
    }
}
