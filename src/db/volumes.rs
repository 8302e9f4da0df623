//! SQL for volume sets: on the isolated side the volumes of a set as they
//! arrive and the blobs they keep until the set completes; on the
//! connected side how an export was split, for `export --volumes N`.

use rusqlite::{OptionalExtension, Transaction, params};

use super::{BlobRows, Ctx, Db, upsert_blobs};
use crate::digest::Sha256Digest;
use crate::error::Result;
use crate::event::EventDraft;

/// One volume of a set, accepted.
#[derive(Debug, Clone)]
pub(crate) struct VolumeArrival {
    pub(crate) bundle_id: String,
    pub(crate) origin: String,
    pub(crate) sequence: u64,
    pub(crate) count: u32,
    pub(crate) expires: String,
    pub(crate) number: u32,
    pub(crate) index_sha256: String,
    pub(crate) imported_by: String,
}

/// A set's state here: complete or not, and each volume accepted with its
/// index's sha256.
pub(crate) type SetState = (bool, Vec<(u32, String)>);

/// A set still waiting for volumes, as recorded.
#[derive(Debug, Clone)]
pub(crate) struct WaitingSet {
    pub(crate) bundle_id: String,
    pub(crate) origin: String,
    pub(crate) sequence: u64,
    pub(crate) count: u32,
    pub(crate) expires: String,
    pub(crate) received: Vec<u32>,
    pub(crate) missing: Vec<u32>,
    pub(crate) kept_blobs: u64,
}

/// How an export was split into volumes.
#[derive(Debug, Clone)]
pub(crate) struct ExportVolumes {
    pub(crate) volume_size: u64,
    pub(crate) count: u32,
    pub(crate) plan_sha256: String,
    /// `name@label` of each version, as exported, as a JSON array.
    pub(crate) versions: String,
}

/// A recorded volume-set export, found again for `export --volumes`.
#[derive(Debug, Clone)]
pub(crate) struct RecordedSet {
    pub(crate) bundle_id: String,
    pub(crate) sequence: u64,
    pub(crate) created: String,
    pub(crate) expires: String,
    pub(crate) count: u32,
    pub(crate) plan_sha256: String,
}

/// Record the arrival of a volume (and its set, on the first); a volume
/// that completes its set marks it complete and releases the blobs kept
/// for it (the versions now recorded hold them).
pub(super) fn record_arrival(
    tx: &Transaction<'_>,
    a: &VolumeArrival,
    now: &str,
    complete: bool,
) -> Result<()> {
    tx.execute(
        "INSERT INTO volume_sets (bundle_id, origin, sequence, count, expires)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (bundle_id) DO NOTHING",
        params![a.bundle_id, a.origin, a.sequence as i64, a.count, a.expires],
    )
    .ctx("record volume set")?;
    tx.execute(
        "INSERT INTO volume_arrivals (bundle_id, number, index_sha256, imported_at, imported_by)
         VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (bundle_id, number) DO NOTHING",
        params![a.bundle_id, a.number, a.index_sha256, now, a.imported_by],
    )
    .ctx("record volume arrival")?;
    if complete {
        tx.execute(
            "UPDATE volume_sets SET completed_at = ?2 WHERE bundle_id = ?1",
            params![a.bundle_id, now],
        )
        .ctx("complete volume set")?;
        tx.execute(
            "DELETE FROM volume_blobs WHERE bundle_id = ?1",
            [&a.bundle_id],
        )
        .ctx("release kept blobs")?;
    }
    Ok(())
}

impl Db {
    /// A volume that does not complete its set: its blobs (and parts),
    /// verified and in the store, recorded and kept for the set; its
    /// arrival; its event — one transaction.
    pub(crate) fn receive_volume(
        &self,
        blobs: &mut BlobRows<'_>,
        kept: &[Sha256Digest],
        arrival: &VolumeArrival,
        now: &str,
        event: &EventDraft,
    ) -> Result<()> {
        let tx = self.write_tx().ctx("begin volume")?;
        upsert_blobs(&tx, blobs, now)?;
        record_arrival(&tx, arrival, now, false)?;
        {
            let mut st = tx
                .prepare(
                    "INSERT INTO volume_blobs (bundle_id, sha256) VALUES (?1, ?2)
                     ON CONFLICT DO NOTHING",
                )
                .ctx("prepare kept blob insert")?;
            for d in kept {
                st.execute(params![arrival.bundle_id, d.to_hex()])
                    .ctx("keep blob for its set")?;
            }
        }
        super::audit::append_event(&tx, event)?;
        tx.commit().ctx("commit volume")
    }

    /// The volumes of set `bundle_id` accepted here, with each index's
    /// sha256; and whether the set is complete.
    pub(crate) fn volume_set(&self, bundle_id: &str) -> Result<Option<SetState>> {
        let complete: Option<bool> = self
            .conn
            .query_row(
                "SELECT completed_at IS NOT NULL FROM volume_sets WHERE bundle_id = ?1",
                [bundle_id],
                |r| r.get(0),
            )
            .optional()
            .ctx("read volume set")?;
        let Some(complete) = complete else {
            return Ok(None);
        };
        let mut st = self
            .conn
            .prepare(
                "SELECT number, index_sha256 FROM volume_arrivals WHERE bundle_id = ?1 ORDER BY number",
            )
            .ctx("prepare volume arrivals query")?;
        let arrived = st
            .query_map([bundle_id], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("query volume arrivals")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read volume arrivals")?;
        Ok(Some((complete, arrived)))
    }

    /// Every set still waiting for volumes, oldest first.
    pub(crate) fn incomplete_sets(&self) -> Result<Vec<WaitingSet>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT s.bundle_id, s.origin, s.sequence, s.count, s.expires,
                        (SELECT group_concat(number) FROM volume_arrivals a WHERE a.bundle_id = s.bundle_id),
                        (SELECT count(*) FROM volume_blobs b WHERE b.bundle_id = s.bundle_id)
                 FROM volume_sets s WHERE s.completed_at IS NULL ORDER BY s.rowid",
            )
            .ctx("prepare incomplete sets query")?;
        st.query_map([], |r| {
            let count: u32 = r.get(3)?;
            let got: Option<String> = r.get(5)?;
            let mut received: Vec<u32> = got
                .unwrap_or_default()
                .split(',')
                .filter_map(|n| n.parse().ok())
                .collect();
            received.sort_unstable();
            let missing = (1..=count).filter(|n| !received.contains(n)).collect();
            Ok(WaitingSet {
                bundle_id: r.get(0)?,
                origin: r.get(1)?,
                sequence: r.get::<_, i64>(2)? as u64,
                count,
                expires: r.get(4)?,
                received,
                missing,
                kept_blobs: r.get::<_, i64>(6)? as u64,
            })
        })
        .ctx("query incomplete sets")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read incomplete sets")
    }

    /// Stop keeping the blobs of sets that expired before `now` without
    /// completing (no volume of theirs can be accepted any more); returns
    /// how many sets were let go.
    pub(crate) fn release_expired_sets(&self, now: &str, event: &EventDraft) -> Result<usize> {
        let expired: Vec<String> = {
            let mut st = self
                .conn
                .prepare(
                    "SELECT DISTINCT s.bundle_id FROM volume_sets s JOIN volume_blobs b USING (bundle_id)
                     WHERE s.completed_at IS NULL AND s.expires <= ?1",
                )
                .ctx("prepare expired sets query")?;
            st.query_map([now], |r| r.get(0))
                .ctx("query expired sets")?
                .collect::<rusqlite::Result<Vec<_>>>()
                .ctx("read expired sets")?
        };
        if expired.is_empty() {
            return Ok(0);
        }
        self.logged(event, |tx| {
            for id in &expired {
                tx.execute("DELETE FROM volume_blobs WHERE bundle_id = ?1", [id])
                    .ctx("release kept blobs")?;
            }
            Ok(expired.len())
        })
    }

    /// Of `ds`, those that no version's file or licence refers to and no
    /// incomplete set keeps.
    pub(crate) fn unreferenced(&self, ds: &[Sha256Digest]) -> Result<Vec<Sha256Digest>> {
        let mut st = self
            .conn
            .prepare(
                "SELECT EXISTS (SELECT 1 FROM files WHERE sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM versions WHERE license_sha256 = ?1)
                     OR EXISTS (SELECT 1 FROM volume_blobs WHERE sha256 = ?1)",
            )
            .ctx("prepare reference query")?;
        let mut out = Vec::new();
        for d in ds {
            let used: bool = st
                .query_row([d.to_hex()], |r| r.get(0))
                .ctx("query references")?;
            if !used {
                out.push(*d);
            }
        }
        Ok(out)
    }

    /// The newest export of exactly `versions` (a JSON array of
    /// `name@label`) split at `volume_size`.
    pub(crate) fn recorded_set(
        &self,
        versions: &str,
        volume_size: u64,
    ) -> Result<Option<RecordedSet>> {
        self.conn
            .query_row(
                "SELECT e.bundle_id, e.sequence, e.created, e.expires, v.count, v.plan_sha256
                 FROM export_volumes v JOIN exports e USING (bundle_id)
                 WHERE v.versions = ?1 AND v.volume_size = ?2
                 ORDER BY e.sequence DESC LIMIT 1",
                params![versions, volume_size as i64],
                |r| {
                    Ok(RecordedSet {
                        bundle_id: r.get(0)?,
                        sequence: r.get::<_, i64>(1)? as u64,
                        created: r.get(2)?,
                        expires: r.get(3)?,
                        count: r.get(4)?,
                        plan_sha256: r.get(5)?,
                    })
                },
            )
            .optional()
            .ctx("read recorded volume set")
    }
}

/// Record how export `bundle_id` was split (in its export transaction).
pub(super) fn record_export_volumes(
    tx: &Transaction<'_>,
    bundle_id: &str,
    v: &ExportVolumes,
) -> Result<()> {
    tx.execute(
        "INSERT INTO export_volumes (bundle_id, volume_size, count, plan_sha256, versions)
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![
            bundle_id,
            v.volume_size as i64,
            v.count,
            v.plan_sha256,
            v.versions
        ],
    )
    .ctx("record export volumes")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Access, BlobRow};
    use crate::event::{EventDraft, EventKind};
    use crate::store::BlobStat;

    fn arrival(id: &str, number: u32, expires: &str) -> VolumeArrival {
        VolumeArrival {
            bundle_id: id.into(),
            origin: "conn".into(),
            sequence: 7,
            count: 3,
            expires: expires.into(),
            number,
            index_sha256: format!("{number:064}"),
            imported_by: "t@h".into(),
        }
    }

    fn keep(db: &Db, a: &VolumeArrival, d: Sha256Digest) {
        let row = BlobRow {
            sha256: d,
            size: 1,
            stat: BlobStat {
                size: 1,
                ino: 1,
                mtime_ns: 0,
                ctime_ns: 0,
            },
            pieces: None,
        };
        let e = EventDraft::new(
            EventKind::ReceiveVolume,
            a.bundle_id.clone(),
            serde_json::json!({}),
        );
        db.receive_volume(
            &mut std::iter::once(Ok(row)),
            &[d],
            a,
            "2026-12-01T00:00:00Z",
            &e,
        )
        .unwrap();
    }

    /// Blobs a waiting set keeps count as referenced (gc keeps them) until
    /// the set completes or, incomplete, expires.
    #[test]
    fn kept_blobs_live_until_the_set_completes_or_expires() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.db");
        drop(Db::create(&p).unwrap());
        let db = Db::open(&p, Access::Write).unwrap();
        let (x, y) = (Sha256Digest::of(b"x"), Sha256Digest::of(b"y"));
        let soon = arrival("aa", 1, "2026-12-10T00:00:00Z");
        keep(&db, &soon, x);
        let later = arrival("bb", 2, "2027-06-01T00:00:00Z");
        keep(&db, &later, y);
        let refd = db.referenced_blobs().unwrap();
        assert!(refd.contains(&x) && refd.contains(&y));
        let waiting = db.incomplete_sets().unwrap();
        assert_eq!(waiting.len(), 2);
        assert_eq!(
            (waiting[0].received.clone(), waiting[0].missing.clone()),
            (vec![1], vec![2, 3])
        );
        assert_eq!(db.volume_set("aa").unwrap().unwrap().1.len(), 1);
        // Past the first set's expiry only its blobs are let go.
        let gc = EventDraft::new(EventKind::Gc, "volume sets", serde_json::json!({}));
        assert_eq!(
            db.release_expired_sets("2027-01-01T00:00:00Z", &gc)
                .unwrap(),
            1
        );
        let refd = db.referenced_blobs().unwrap();
        assert!(!refd.contains(&x) && refd.contains(&y));
        // Completion releases the rest.
        let tx = db.write_tx().unwrap();
        record_arrival(
            &tx,
            &arrival("bb", 1, "2027-06-01T00:00:00Z"),
            "2027-01-02T00:00:00Z",
            true,
        )
        .unwrap();
        tx.commit().unwrap();
        assert!(!db.referenced_blobs().unwrap().contains(&y));
        assert_eq!(
            db.incomplete_sets().unwrap().len(),
            1,
            "only the expired one still waits"
        );
        assert!(db.volume_set("bb").unwrap().unwrap().0, "complete");
        assert_eq!(db.unreferenced(&[x, y]).unwrap(), vec![x, y]);
    }
}
