//! All SQL lives here. The registry database is `registry.db` in the home:
//! WAL journal, foreign keys on, a busy timeout so a second process waits.
//!
//! Migrations are the numbered files in `schema/`, embedded at build time and
//! applied in order by a `PRAGMA user_version` loop, each in a transaction.
//! Callers get plain records (`crate::records`); rusqlite never leaks out.

use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, params};

use crate::digest::Sha256Digest;
use crate::error::{DbError, Error, Result};
use crate::formats::{Format, Verdict};
use crate::name::{ModelName, VersionSelector};
use crate::records::{FileRecord, FileSafety, NewVersion, VersionRecord};
use crate::store::BlobStat;

mod alias;
mod attest;
mod audit;
mod eval;
mod oci;
mod oms;
mod pending;
mod trust;
mod volumes;
pub(crate) use attest::{AttestationRow, HostKey};
pub(crate) use eval::EvalRow;
pub(crate) use oci::OciLocationRow;
pub(crate) use pending::PendingRow;
pub(crate) use trust::{AcceptedBundle, ExportRecord, RevocationRow, RootApplication};
pub(crate) use volumes::{ExportVolumes, VolumeArrival};

use crate::event::EventDraft;

trait Ctx<T> {
    fn ctx(self, context: &str) -> Result<T>;
}

impl<T> Ctx<T> for rusqlite::Result<T> {
    fn ctx(self, context: &str) -> Result<T> {
        self.map_err(|source| Error::Db(DbError::new(context, source)))
    }
}

/// How versions being recorded arrived, besides their own records.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Arrival<'a> {
    /// The bundle they came in.
    pub(crate) bundle: Option<&'a AcceptedBundle>,
    /// The revocations it carried.
    pub(crate) revocations: &'a [RevocationRow],
    /// Where they were pulled from.
    pub(crate) oci: &'a [OciLocationRow],
    /// Evaluation records carried: `(name, label, record)`.
    pub(crate) evals: &'a [(String, String, EvalRow)],
    /// The volume whose arrival completed its set.
    pub(crate) volume: Option<&'a VolumeArrival>,
}

/// The embedded migrations, in order. The number is the `user_version` a
/// database has once the file is applied.
const MIGRATIONS: &[(u32, &str, &str)] = &[
    (1, "0001_init", include_str!("../../schema/0001_init.sql")),
    (2, "0002_trust", include_str!("../../schema/0002_trust.sql")),
    (
        3,
        "0003_safety",
        include_str!("../../schema/0003_safety.sql"),
    ),
    (4, "0004_audit", include_str!("../../schema/0004_audit.sql")),
    (
        5,
        "0005_trust_root",
        include_str!("../../schema/0005_trust_root.sql"),
    ),
    (
        6,
        "0006_identity",
        include_str!("../../schema/0006_identity.sql"),
    ),
    (
        7,
        "0007_pending",
        include_str!("../../schema/0007_pending.sql"),
    ),
    (
        8,
        "0008_pieces",
        include_str!("../../schema/0008_pieces.sql"),
    ),
    (9, "0009_oci", include_str!("../../schema/0009_oci.sql")),
    (10, "0010_oms", include_str!("../../schema/0010_oms.sql")),
    (
        11,
        "0011_oms_cas",
        include_str!("../../schema/0011_oms_cas.sql"),
    ),
    (
        12,
        "0012_statements",
        include_str!("../../schema/0012_statements.sql"),
    ),
    (
        13,
        "0013_aliases",
        include_str!("../../schema/0013_aliases.sql"),
    ),
    (
        14,
        "0014_evals",
        include_str!("../../schema/0014_evals.sql"),
    ),
    (
        15,
        "0015_attestations",
        include_str!("../../schema/0015_attestations.sql"),
    ),
    (
        16,
        "0016_volumes",
        include_str!("../../schema/0016_volumes.sql"),
    ),
];

/// SQLite's `application_id` of a registry database: "ARLK".
const APPLICATION_ID: i32 = 0x4152_4C4B;

/// The newest schema written before the application id: such a database is
/// recognised by its tables instead.
const LEGACY_NEWEST: u32 = 5;

/// Tables every airlock database has had since the first schema.
const CORE_TABLES: &[&str] = &["registry", "models", "versions", "files", "blobs", "events"];

/// How a database is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// Read and write: WAL, migrations.
    Write,
    /// Read only: nothing written, nothing migrated (a read-only home too).
    Read,
}

/// The first bytes of the file must be an SQLite database's: an empty file
/// or any other file is not a registry (and SQLite would happily write one).
fn check_header(path: &Path) -> Result<()> {
    let not = |reason: &str| Error::NotARegistry {
        path: path.to_path_buf(),
        reason: reason.into(),
    };
    let mut head = [0u8; 16];
    let got = crate::fsio::read_head(path, &mut head)?;
    if got == 0 {
        return Err(not("the file is empty"));
    }
    if &head[..got] != b"SQLite format 3\0" {
        return Err(not("the file is not an SQLite database"));
    }
    Ok(())
}

/// Prove the database is an airlock registry; its schema version.
fn identify(conn: &Connection, path: &Path) -> Result<u32> {
    let not = |reason: String| Error::NotARegistry {
        path: path.to_path_buf(),
        reason,
    };
    // Both read in one read transaction (one snapshot), the version first:
    // another process may be upgrading this very database, one committed
    // migration at a time, and the id it sets at schema 6 must not be seen
    // missing beside a version that is already past it.
    let (app, version): (i32, u32) = {
        let tx = conn
            .unchecked_transaction()
            .ctx("begin reading the header")?;
        let version = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx("read user_version")?;
        let app = tx
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .ctx("read application_id")?;
        tx.commit().ctx("end reading the header")?;
        (app, version)
    };
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if app == APPLICATION_ID {
        if version > newest {
            return Err(Error::input(format!(
                "the registry database `{}` has schema version {version}, newer than this airlock knows ({newest})",
                path.display()
            )));
        }
        return Ok(version);
    }
    if app != 0 {
        return Err(not(format!(
            "its application id is {:#010x}, not airlock's {APPLICATION_ID:#010x} (another application's database)",
            app as u32
        )));
    }
    // Written before the application id: known by its schema and tables.
    let mut st = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .ctx("read the schema")?;
    let tables: HashSet<String> = st
        .query_map([], |r| r.get(0))
        .ctx("read the schema")?
        .collect::<rusqlite::Result<_>>()
        .ctx("read the schema")?;
    if tables.is_empty() {
        return Err(not("an SQLite database with no tables".into()));
    }
    let missing: Vec<&str> = CORE_TABLES
        .iter()
        .copied()
        .filter(|t| !tables.contains(*t))
        .collect();
    if !missing.is_empty() || !(1..=LEGACY_NEWEST).contains(&version) {
        return Err(not(format!(
            "an SQLite database without airlock's application id or tables (schema version {version}{})",
            if missing.is_empty() {
                String::new()
            } else {
                format!("; no `{}` table", missing.join("`, `"))
            }
        )));
    }
    Ok(version)
}

/// Record a version's statement (first writer wins): a zero-filled blob
/// ending its row, then the bytes written into it in place. Binding
/// megabytes of statement as a parameter would copy them, and a zero blob
/// followed by other columns is expanded in memory (schema 0012).
pub(crate) fn write_statement(
    tx: &rusqlite::Transaction<'_>,
    version_id: i64,
    bytes: &[u8],
) -> Result<()> {
    if let Some(mut blob) = new_statement_blob(tx, version_id, bytes.len() as u64)? {
        std::io::Write::write_all(&mut blob, bytes)
            .map_err(|e| Error::Db(DbError::new("write statement", e)))?;
    }
    Ok(())
}

/// The zero blob of a new statement row of `len` bytes, open for writing;
/// `None` when the version's statement is recorded already.
fn new_statement_blob<'t>(
    tx: &'t rusqlite::Transaction<'_>,
    version_id: i64,
    len: u64,
) -> Result<Option<rusqlite::blob::Blob<'t>>> {
    let n = tx
        .execute(
            "INSERT OR IGNORE INTO statements (version_id, bytes) VALUES (?1, zeroblob(?2))",
            params![version_id, len as i64],
        )
        .ctx("record statement")?;
    if n == 0 {
        return Ok(None);
    }
    tx.blob_open(rusqlite::MAIN_DB, "statements", "bytes", version_id, false)
        .ctx("open statement blob")
        .map(Some)
}

/// [`write_statement`] from a spilled copy, streamed into the zero blob and
/// re-hashed on the way: bytes that are not the ones checked are refused
/// (the transaction is then rolled back by the caller's error).
fn write_spilled_statement(
    tx: &rusqlite::Transaction<'_>,
    version_id: i64,
    file: &std::fs::File,
    len: u64,
    sha256: &Sha256Digest,
) -> Result<()> {
    let Some(mut blob) = new_statement_blob(tx, version_id, len)? else {
        return Ok(());
    };
    let mut f = file;
    let spilled = std::path::Path::new("the spilled statement");
    std::io::Seek::rewind(&mut f).map_err(|e| Error::io("rewind", spilled, e))?;
    let mut r = crate::digest::HashingReader::new(std::io::Read::take(f, len));
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let k = std::io::Read::read(&mut r, &mut buf).map_err(|e| Error::io("read", spilled, e))?;
        if k == 0 {
            break;
        }
        std::io::Write::write_all(&mut blob, &buf[..k])
            .map_err(|e| Error::Db(DbError::new("write statement", e)))?;
    }
    let (found, read) = r.finish();
    if found != *sha256 || read != len {
        return Err(Error::DigestMismatch {
            what: "the statement kept for recording".into(),
            expected: sha256.to_hex(),
            found: format!("{found} ({read} of {len} bytes)"),
        });
    }
    Ok(())
}

/// A recorded piece list, if it is one that fits a blob of `len` bytes
/// (anything else is ignored: the blob is then hashed whole).
fn pieces_of(json: Option<String>, len: u64) -> Option<crate::digest::Pieces> {
    let p: crate::digest::Pieces = serde_json::from_str(&json?).ok()?;
    p.fits(len).then_some(p)
}

/// Apply the migrations newer than `current`, each in its own write
/// transaction that re-reads the version first: processes opening an old
/// database at once apply each step once (the others wait, then skip it).
fn migrate(conn: &mut Connection, current: u32) -> Result<()> {
    for (number, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .ctx("begin migration")?;
        let now: u32 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx("read user_version")?;
        if now >= *number {
            continue;
        }
        tx.execute_batch(sql)
            .ctx(&format!("apply migration {name}"))?;
        tx.pragma_update(None, "user_version", number)
            .ctx("set user_version")?;
        tx.commit().ctx(&format!("commit migration {name}"))?;
    }
    Ok(())
}

/// `file:PATH?immutable=1`, the path percent-encoded where a URI needs it.
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(b as char);
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

/// A blob row: its size and the stat it had when last known good.
#[derive(Debug, Clone)]
pub(crate) struct BlobRow {
    pub(crate) sha256: Sha256Digest,
    pub(crate) size: u64,
    pub(crate) stat: BlobStat,
    /// Piece digests, when known (kept once recorded).
    pub(crate) pieces: Option<crate::digest::Pieces>,
}

/// An open registry database.
pub(crate) struct Db {
    conn: Connection,
    /// The schema version the database had before this open migrated it
    /// (`None` when nothing was migrated; 0 for a new database).
    pub(crate) migrated_from: Option<u32>,
}

pub(crate) const VERSION_COLS: &str = "v.id, m.name, v.label, v.manifest_digest, v.total_size, v.imported_at, \
     v.imported_by, v.registry, v.origin, v.layout, v.source_url, v.revision, v.license_id, \
     v.license_sha256, v.disclosure, v.disclosure_notes, v.owner, v.bundle_id, v.registered_at";

fn parse_digest(s: String) -> rusqlite::Result<Sha256Digest> {
    s.parse().map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn conv<T, E: std::error::Error + Send + Sync + 'static>(
    r: std::result::Result<T, E>,
) -> rusqlite::Result<T> {
    r.map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

pub(crate) fn version_from_row(r: &Row<'_>) -> rusqlite::Result<VersionRecord> {
    Ok(VersionRecord {
        id: r.get(0)?,
        name: conv(r.get::<_, String>(1)?.parse::<ModelName>())?,
        label: r.get(2)?,
        manifest_digest: parse_digest(r.get(3)?)?,
        total_size: r.get::<_, i64>(4)? as u64,
        imported_at: r.get(5)?,
        imported_by: r.get(6)?,
        registry: r.get(7)?,
        origin: conv(r.get::<_, String>(8)?.parse())?,
        layout: r.get(9)?,
        source_url: r.get(10)?,
        revision: r.get(11)?,
        license_id: r.get(12)?,
        license_sha256: r
            .get::<_, Option<String>>(13)?
            .map(parse_digest)
            .transpose()?,
        disclosure: conv(r.get::<_, String>(14)?.parse())?,
        disclosure_notes: r.get(15)?,
        owner: r.get(16)?,
        bundle_id: r.get(17)?,
        registered_at: r
            .get::<_, Option<String>>(18)?
            .unwrap_or_else(|| String::from("1970-01-01T00:00:00Z")),
    })
}

/// Blob rows made one at a time as the transaction records them (a model
/// of many files needs no list of them beside its file records).
pub(crate) type BlobRows<'a> = dyn Iterator<Item = Result<BlobRow>> + 'a;

/// Record blobs (or their stat as known good, for blobs already recorded).
fn upsert_blobs(tx: &rusqlite::Transaction<'_>, blobs: &mut BlobRows<'_>, now: &str) -> Result<()> {
    let mut st = tx
        .prepare(
            "INSERT INTO blobs (sha256, size, stored_at, stat_ino, stat_mtime_ns, stat_ctime_ns, verified_at, pieces)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?3, ?7)
             ON CONFLICT (sha256) DO UPDATE SET stat_ino = excluded.stat_ino,
               stat_mtime_ns = excluded.stat_mtime_ns, stat_ctime_ns = excluded.stat_ctime_ns,
               verified_at = excluded.verified_at, pieces = COALESCE(blobs.pieces, excluded.pieces)",
        )
        .ctx("prepare blob upsert")?;
    for b in blobs {
        let b = b?;
        st.execute(params![
            b.sha256.to_hex(),
            b.size as i64,
            now,
            b.stat.ino as i64,
            b.stat.mtime_ns,
            b.stat.ctime_ns,
            b.pieces
                .as_ref()
                .map(|p| serde_json::to_string(p).expect("plain JSON"))
        ])
        .ctx("record blob")?;
    }
    Ok(())
}

fn insert_one(tx: &rusqlite::Transaction<'_>, v: &NewVersion, now: &str) -> Result<i64> {
    tx.execute(
        "INSERT INTO models (name, created_at) VALUES (?1, ?2) ON CONFLICT (name) DO NOTHING",
        params![v.name.as_str(), now],
    )
    .ctx("record model")?;
    let model_id: i64 = tx
        .query_row(
            "SELECT id FROM models WHERE name = ?1",
            [v.name.as_str()],
            |r| r.get(0),
        )
        .ctx("find model")?;
    let total: u64 = v.files.iter().map(|f| f.size).sum();
    tx.execute(
            "INSERT INTO versions (model_id, label, manifest_digest, total_size, imported_at,
               imported_by, registry, origin, layout, source_url, revision, license_id,
               license_sha256, disclosure, disclosure_notes, owner, bundle_id, registered_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                model_id,
                v.label,
                v.manifest_digest.to_hex(),
                total as i64,
                v.imported_at,
                v.imported_by,
                v.registry,
                v.origin.as_str(),
                v.layout,
                v.source_url,
                v.revision,
                v.license_id,
                v.license_sha256.map(|d| d.to_hex()),
                v.disclosure.as_str(),
                v.disclosure_notes,
                v.owner,
                v.bundle_id,
                v.registered_at,
            ],
        )
        .ctx("record version")?;
    let version_id = tx.last_insert_rowid();
    if let Some(c) = &v.oms {
        oms::insert(tx, version_id, c)?;
    }
    match &v.statement {
        crate::records::StatementBytes::None => {}
        crate::records::StatementBytes::Memory(b) => write_statement(tx, version_id, b)?,
        crate::records::StatementBytes::Spilled { file, len, sha256 } => {
            write_spilled_statement(tx, version_id, file, *len, sha256)?;
        }
    }
    {
        let mut st = tx
            .prepare(
                "INSERT INTO files (version_id, path, size, sha256, format, upstream_check,
                   verdict, findings, tensors, parameters, dtypes)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .ctx("prepare file insert")?;
        for f in &v.files {
            let s = f.safety.as_ref();
            st.execute(params![
                version_id,
                f.path.as_str(),
                f.size as i64,
                f.sha256.to_hex(),
                f.format.as_str(),
                f.upstream_check,
                s.map(|s| s.verdict.as_str()),
                s.map(|s| serde_json::to_string(&s.findings).expect("plain JSON")),
                s.map(|s| s.tensors as i64),
                s.map(|s| s.parameters as i64),
                s.map(|s| serde_json::to_string(&s.dtypes).expect("plain JSON")),
            ])
            .ctx("record file")?;
        }
    }
    for a in &v.approvals {
        trust::insert_approval(tx, version_id, a)?;
    }
    if let Some((a, files)) = &v.allowance {
        tx.execute(
            "INSERT INTO unsafe_allowances (version_id, actor, reason, at, files) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![version_id, a.actor, a.reason, now, serde_json::to_string(files).expect("plain JSON")],
        )
        .ctx("record allowance")?;
    }
    Ok(version_id)
}

impl Db {
    /// Create the database at `path`, which must not exist: built under a
    /// temporary name with its identity and schema, then linked into place,
    /// so a crash never leaves a half-made `registry.db`.
    pub(crate) fn create(path: &Path) -> Result<Db> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        // The schema, its WAL and shared memory take about half a MiB: a
        // disk without that room is said to be full, not left to SQLite's
        // "disk I/O error" halfway through.
        crate::fsio::ensure_room(dir, 512 << 10, "a new registry database")?;
        let tmp = tempfile::Builder::new()
            .prefix(".registry.db.new-")
            .tempfile_in(dir)
            .map_err(|e| Error::io("create database in", dir, e))?
            .into_temp_path();
        {
            let mut conn = Connection::open(&tmp).ctx(&format!("create `{}`", tmp.display()))?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)
                .ctx("set application_id")?;
            conn.pragma_update(None, "journal_mode", "WAL")
                .ctx("enable WAL")?;
            conn.pragma_update(None, "synchronous", "FULL")
                .ctx("set synchronous")?;
            migrate(&mut conn, 0)?;
            // Closing checkpoints the WAL into the file and removes it.
            conn.close()
                .map_err(|(_, e)| Error::Db(DbError::new("close new database", e)))?;
        }
        std::fs::hard_link(&tmp, path).map_err(|e| Error::io("link new database", path, e))?;
        drop(tmp);
        crate::store::sync_dir(dir)?;
        let mut db = Db::open(path, Access::Write)?;
        db.migrated_from = Some(0);
        Ok(db)
    }

    /// Open the existing database at `path`. Before anything is written it
    /// must prove to be an airlock registry (`NotARegistry` otherwise);
    /// `Write` then migrates it, `Read` refuses a schema older than this
    /// airlock's and falls back to SQLite's `immutable` mode where the home
    /// cannot be written at all (a read-only mount).
    pub(crate) fn open(path: &Path, access: Access) -> Result<Db> {
        check_header(path)?;
        let flags = match access {
            Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
            Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
        } | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI;
        let opened = Connection::open_with_flags(path, flags)
            .ctx(&format!("open `{}`", path.display()))
            .and_then(|c| identify(&c, path).map(|v| (c, v)));
        let (mut conn, version) = match (opened, access) {
            (Ok(c), _) => c,
            (Err(Error::Db(_)), Access::Read) => {
                let conn = Connection::open_with_flags(immutable_uri(path), flags)
                    .ctx(&format!("open `{}` read-only", path.display()))?;
                let v = identify(&conn, path)?;
                (conn, v)
            }
            (Err(e), _) => return Err(e),
        };
        conn.busy_timeout(Duration::from_secs(30))
            .ctx("set busy timeout")?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .ctx("enable foreign keys")?;
        let newest = MIGRATIONS.last().map_or(0, |m| m.0);
        let mut migrated_from = None;
        match access {
            Access::Write => {
                conn.pragma_update(None, "journal_mode", "WAL")
                    .ctx("enable WAL")?;
                conn.pragma_update(None, "synchronous", "FULL")
                    .ctx("set synchronous")?;
                if version < newest {
                    migrated_from = Some(version);
                    migrate(&mut conn, version)?;
                }
            }
            Access::Read if version < newest => {
                return Err(Error::input(format!(
                    "the registry database `{}` has schema version {version}, older than this airlock's ({newest}); reading commands never upgrade it — run `airlock init` once to upgrade",
                    path.display()
                )));
            }
            Access::Read => {}
        }
        Ok(Db {
            conn,
            migrated_from,
        })
    }

    #[cfg(test)]
    fn schema_version(&self) -> Result<u32> {
        self.conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .ctx("read user_version")
    }

    pub(crate) fn get_setting(&self, key: &str) -> Result<Option<String>> {
        self.conn
            .query_row("SELECT value FROM registry WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ctx("read registry setting")
    }

    /// A write transaction that takes SQLite's write lock at once
    /// (`BEGIN IMMEDIATE`), so two writers appending events serialise
    /// instead of racing for the same sequence number.
    fn write_tx(&self) -> rusqlite::Result<rusqlite::Transaction<'_>> {
        rusqlite::Transaction::new_unchecked(&self.conn, rusqlite::TransactionBehavior::Immediate)
    }

    /// Run `f` and append `event` in one transaction: the change and its
    /// record are visible together or not at all.
    pub(crate) fn logged<T>(
        &self,
        event: &EventDraft,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let tx = self.write_tx().ctx("begin transaction")?;
        let out = f(&tx)?;
        audit::append_event(&tx, event)?;
        tx.commit().ctx("commit transaction")?;
        Ok(out)
    }

    /// Every setting whose key starts with `prefix`, by key.
    pub(crate) fn settings_with_prefix(&self, prefix: &str) -> Result<Vec<(String, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT key, value FROM registry WHERE substr(key, 1, length(?1)) = ?1 ORDER BY key")
            .ctx("prepare settings query")?;
        st.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("query settings")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read settings")
    }

    /// Set a registry setting and log it.
    pub(crate) fn set_setting_logged(
        &self,
        key: &str,
        value: &str,
        event: &EventDraft,
    ) -> Result<()> {
        self.logged(event, |tx| {
            tx.execute(
                "INSERT INTO registry (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .ctx("write registry setting")?;
            Ok(())
        })
    }

    /// Set `key` (and `also`) with its event unless `key` is already set:
    /// check and write in one write transaction. Returns the value that
    /// was already there, if any (then nothing was written).
    pub(crate) fn claim_setting(
        &self,
        key: &str,
        value: &str,
        also: &[(&str, &str)],
        event: &EventDraft,
    ) -> Result<Option<String>> {
        let tx = self.write_tx().ctx("begin setting")?;
        let existing: Option<String> = tx
            .query_row("SELECT value FROM registry WHERE key = ?1", [key], |r| {
                r.get(0)
            })
            .optional()
            .ctx("read registry setting")?;
        if existing.is_some() {
            return Ok(existing);
        }
        for (k, v) in std::iter::once((key, value)).chain(also.iter().copied()) {
            tx.execute(
                "INSERT INTO registry (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![k, v],
            )
            .ctx("write registry setting")?;
        }
        audit::append_event(&tx, event)?;
        tx.commit().ctx("commit setting")?;
        Ok(None)
    }

    /// Every version of `name`, oldest first.
    pub(crate) fn versions_of(&self, name: &ModelName) -> Result<Vec<VersionRecord>> {
        let sql = format!(
            "SELECT {VERSION_COLS} FROM versions v JOIN models m ON m.id = v.model_id
             WHERE m.name = ?1 ORDER BY v.registered_at, v.id"
        );
        let mut st = self.conn.prepare(&sql).ctx("prepare versions query")?;
        st.query_map([name.as_str()], version_from_row)
            .ctx("query versions")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read versions")
    }

    /// Every version, by name then import order.
    pub(crate) fn all_versions(&self) -> Result<Vec<VersionRecord>> {
        let sql = format!(
            "SELECT {VERSION_COLS} FROM versions v JOIN models m ON m.id = v.model_id
             ORDER BY m.name, v.registered_at, v.id"
        );
        let mut st = self.conn.prepare(&sql).ctx("prepare versions query")?;
        st.query_map([], version_from_row)
            .ctx("query versions")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read versions")
    }

    /// The version a reference selects, if any.
    pub(crate) fn find_version(
        &self,
        name: &ModelName,
        sel: &VersionSelector,
    ) -> Result<Option<VersionRecord>> {
        let all = self.versions_of(name)?;
        Ok(match sel {
            VersionSelector::Newest => all.into_iter().next_back(),
            VersionSelector::Label(l) => all.into_iter().find(|v| v.label == l.as_str()),
            VersionSelector::DigestPrefix(p) => {
                let mut hits: Vec<_> = all
                    .into_iter()
                    .filter(|v| v.manifest_digest.to_hex().starts_with(p.as_str()))
                    .collect();
                if hits.len() > 1 {
                    return Err(Error::input(format!(
                        "`{name}@sha256:{p}` is ambiguous: {} versions match; give more hex digits",
                        hits.len()
                    )));
                }
                hits.pop()
            }
        })
    }

    pub(crate) fn files(&self, version_id: i64) -> Result<Vec<FileRecord>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT f.path, f.size, f.sha256, f.format, f.upstream_check, f.verdict, f.findings,
                   f.tensors, f.parameters, f.dtypes, b.pieces
                 FROM files f LEFT JOIN blobs b ON b.sha256 = f.sha256
                 WHERE f.version_id = ?1 ORDER BY f.path",
            )
            .ctx("prepare files query")?;
        st.query_map([version_id], |r| {
            Ok(FileRecord {
                path: conv(r.get::<_, String>(0)?.parse())?,
                size: r.get::<_, i64>(1)? as u64,
                sha256: parse_digest(r.get(2)?)?,
                format: conv(
                    Format::parse(&r.get::<_, String>(3)?)
                        .ok_or(Error::input("unknown file format in the database")),
                )?,
                upstream_check: r.get(4)?,
                safety: match r.get::<_, Option<String>>(5)? {
                    None => None,
                    Some(verdict) => Some(FileSafety {
                        verdict: Verdict::parse(&verdict),
                        findings: conv(serde_json::from_str(&r.get::<_, String>(6)?))?,
                        tensors: r.get::<_, i64>(7)? as u64,
                        parameters: r.get::<_, i64>(8)? as u64,
                        dtypes: conv(serde_json::from_str(&r.get::<_, String>(9)?))?,
                    }),
                },
                pieces: pieces_of(r.get(10)?, r.get::<_, i64>(1)? as u64),
            })
        })
        .ctx("query files")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read files")
    }

    /// A version's file count and its distinct blobs with their sizes (what
    /// `verify` needs, without a record per file).
    pub(crate) fn version_blobs(
        &self,
        version_id: i64,
    ) -> Result<(usize, Vec<(Sha256Digest, u64)>)> {
        let files: i64 = self
            .conn
            .query_row(
                "SELECT COUNT(*) FROM files WHERE version_id = ?1",
                [version_id],
                |r| r.get(0),
            )
            .ctx("count files")?;
        let mut st = self
            .conn
            .prepare("SELECT DISTINCT sha256, size FROM files WHERE version_id = ?1")
            .ctx("prepare blob query")?;
        let blobs = st
            .query_map([version_id], |r| {
                Ok((parse_digest(r.get(0)?)?, r.get::<_, i64>(1)? as u64))
            })
            .ctx("query blobs")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read blobs")?;
        Ok((files as usize, blobs))
    }

    /// The `--allow-unsafe` recorded for a version, if any.
    pub(crate) fn allowance(&self, version_id: i64) -> Result<Option<crate::records::Allowance>> {
        self.conn
            .query_row(
                "SELECT actor, reason FROM unsafe_allowances WHERE version_id = ?1 ORDER BY at LIMIT 1",
                [version_id],
                |r| Ok(crate::records::Allowance { actor: r.get(0)?, reason: r.get(1)? }),
            )
            .optional()
            .ctx("read allowance")
    }

    /// Record a version, its files and its blobs in one transaction.
    pub(crate) fn insert_version(
        &self,
        v: &NewVersion,
        blobs: &mut BlobRows<'_>,
        now: &str,
        event: &EventDraft,
    ) -> Result<i64> {
        Ok(self.insert_versions(
            std::slice::from_ref(v),
            blobs,
            now,
            &Arrival::default(),
            std::slice::from_ref(event),
        )?[0])
    }

    /// Record versions, their files, approvals and blobs, how they came
    /// (the bundle and the revocations it carried, or the OCI location), in
    /// one transaction: all visible at once or none.
    pub(crate) fn insert_versions(
        &self,
        vs: &[NewVersion],
        blobs: &mut BlobRows<'_>,
        now: &str,
        arrival: &Arrival<'_>,
        events: &[EventDraft],
    ) -> Result<Vec<i64>> {
        let Arrival {
            bundle,
            revocations,
            oci: oci_rows,
            evals,
            volume,
        } = *arrival;
        let tx = self.write_tx().ctx("begin import transaction")?;
        upsert_blobs(&tx, blobs, now)?;
        let mut ids = Vec::new();
        for v in vs {
            ids.push(insert_one(&tx, v, now)?);
        }
        oci::insert(&tx, oci_rows)?;
        if let Some(b) = bundle {
            trust::record_bundle(&tx, b)?;
        }
        for r in revocations {
            trust::put_revocation(&tx, r, now)?;
        }
        for (name, label, e) in evals {
            eval::insert_eval(&tx, e, Some((name, label)))?;
        }
        if let Some(v) = volume {
            volumes::record_arrival(&tx, v, now, true)?;
        }
        for e in events {
            audit::append_event(&tx, e)?;
        }
        tx.commit().ctx("commit import")?;
        Ok(ids)
    }

    /// Record blobs just verified (a heal), without a version.
    pub(crate) fn record_blobs(&self, blobs: &mut BlobRows<'_>, now: &str) -> Result<()> {
        let tx = self.write_tx().ctx("begin transaction")?;
        upsert_blobs(&tx, blobs, now)?;
        tx.commit().ctx("commit blobs")
    }

    pub(crate) fn blob(&self, d: &Sha256Digest) -> Result<Option<BlobRow>> {
        self.conn
            .query_row(
                "SELECT size, stat_ino, stat_mtime_ns, stat_ctime_ns, pieces FROM blobs WHERE sha256 = ?1",
                [d.to_hex()],
                |r| {
                    let size = r.get::<_, i64>(0)? as u64;
                    Ok(BlobRow {
                        sha256: *d,
                        size,
                        stat: BlobStat {
                            size,
                            ino: r.get::<_, i64>(1)? as u64,
                            mtime_ns: r.get(2)?,
                            ctime_ns: r.get(3)?,
                        },
                        pieces: pieces_of(r.get(4)?, size),
                    })
                },
            )
            .optional()
            .ctx("read blob")
    }

    /// The recorded stat of every blob (read once before a parallel pass).
    pub(crate) fn blob_stats(&self) -> Result<std::collections::HashMap<Sha256Digest, BlobStat>> {
        let mut st = self
            .conn
            .prepare("SELECT sha256, size, stat_ino, stat_mtime_ns, stat_ctime_ns FROM blobs")
            .ctx("prepare blob stats query")?;
        st.query_map([], |r| {
            Ok((
                parse_digest(r.get(0)?)?,
                BlobStat {
                    size: r.get::<_, i64>(1)? as u64,
                    ino: r.get::<_, i64>(2)? as u64,
                    mtime_ns: r.get(3)?,
                    ctime_ns: r.get(4)?,
                },
            ))
        })
        .ctx("query blob stats")?
        .collect::<rusqlite::Result<_>>()
        .ctx("read blob stats")
    }

    /// After a successful re-hash: remember the blob's current stat.
    /// Remember the stat of blobs just re-hashed good, in one transaction.
    pub(crate) fn mark_blobs_verified(
        &self,
        marks: &[(Sha256Digest, BlobStat)],
        now: &str,
    ) -> Result<()> {
        if marks.is_empty() {
            return Ok(());
        }
        let tx = self.write_tx().ctx("begin blob stats")?;
        {
            let mut st = tx
                .prepare(
                    "UPDATE blobs SET stat_ino = ?2, stat_mtime_ns = ?3, stat_ctime_ns = ?4, verified_at = ?5
                     WHERE sha256 = ?1",
                )
                .ctx("prepare blob stat")?;
            for (d, stat) in marks {
                st.execute(params![
                    d.to_hex(),
                    stat.ino as i64,
                    stat.mtime_ns,
                    stat.ctime_ns,
                    now
                ])
                .ctx("update blob stat")?;
            }
        }
        tx.commit().ctx("commit blob stats")
    }

    /// Blobs that some version needs (files and licence texts).
    pub(crate) fn referenced_blobs(&self) -> Result<HashSet<Sha256Digest>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT sha256 FROM files UNION SELECT license_sha256 FROM versions
                 WHERE license_sha256 IS NOT NULL UNION SELECT sha256 FROM volume_blobs",
            )
            .ctx("prepare referenced blobs query")?;
        st.query_map([], |r| parse_digest(r.get(0)?))
            .ctx("query referenced blobs")?
            .collect::<rusqlite::Result<HashSet<_>>>()
            .ctx("read referenced blobs")
    }

    /// Every blob row.
    pub(crate) fn blob_rows(&self) -> Result<Vec<(Sha256Digest, u64)>> {
        let mut st = self
            .conn
            .prepare("SELECT sha256, size FROM blobs ORDER BY sha256")
            .ctx("prepare blobs query")?;
        st.query_map([], |r| {
            Ok((parse_digest(r.get(0)?)?, r.get::<_, i64>(1)? as u64))
        })
        .ctx("query blobs")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read blobs")
    }

    /// Forget a blob that nothing references (gc).
    /// Forget blobs that nothing references (gc), with its event.
    pub(crate) fn delete_blob_rows(&self, ds: &[Sha256Digest], event: &EventDraft) -> Result<()> {
        self.logged(event, |tx| {
            for d in ds {
                tx.execute("DELETE FROM blobs WHERE sha256 = ?1", [d.to_hex()])
                    .ctx("delete blob row")?;
            }
            Ok(())
        })
    }

    /// SQLite's own consistency checks; each returned line is a problem.
    /// SQLite's integrity and foreign-key checks, as problem lines; a check
    /// that cannot run (a damaged page) is itself a problem line.
    pub(crate) fn integrity_problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let checks: [(&str, &str); 2] = [
            ("PRAGMA integrity_check", "integrity check"),
            ("PRAGMA foreign_key_check", "foreign key check"),
        ];
        for (sql, what) in checks {
            let rows = self.conn.prepare(sql).and_then(|mut st| {
                st.query_map([], |r| {
                    if what == "integrity check" {
                        r.get::<_, String>(0)
                    } else {
                        Ok(format!(
                            "foreign key violation in table `{}`",
                            r.get::<_, String>(0)?
                        ))
                    }
                })?
                .collect::<rusqlite::Result<Vec<String>>>()
            });
            match rows {
                Ok(lines) => out.extend(lines.into_iter().filter(|l| l != "ok")),
                Err(e) => out.push(format!("the {what} cannot run: {e}")),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_apply_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.db");
        let db = Db::create(&p).unwrap();
        assert_eq!(db.schema_version().unwrap(), MIGRATIONS.last().unwrap().0);
        let e = EventDraft::new(crate::event::EventKind::Init, "a", serde_json::json!({}));
        assert_eq!(db.claim_setting("name", "a", &[], &e).unwrap(), None);
        assert_eq!(
            db.claim_setting("name", "b", &[], &e).unwrap().as_deref(),
            Some("a")
        );
        drop(db);
        let db = Db::open(&p, Access::Write).unwrap();
        assert_eq!(db.get_setting("name").unwrap().as_deref(), Some("a"));
    }
}
