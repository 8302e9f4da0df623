//! Host keys and ingested attestations.

use rusqlite::{OptionalExtension, params};

use super::{Ctx, Db};
use crate::error::Result;
use crate::event::EventDraft;
use crate::records::DeployStatus;

/// A trusted serving host's key.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct HostKey {
    pub(crate) key_id: String,
    pub(crate) name: String,
    pub(crate) public_key: String,
    pub(crate) revoked: bool,
}

/// An attestation to record.
#[derive(Debug, Clone)]
pub(crate) struct AttestationRow {
    pub(crate) deployment_id: i64,
    pub(crate) verified_at: String,
    pub(crate) matches: bool,
    pub(crate) key_id: String,
    pub(crate) report_sha256: String,
    pub(crate) envelope: Vec<u8>,
}

impl Db {
    /// Trust a host key (insert-or-nothing, its event only when inserted).
    pub(crate) fn add_host_key(&self, k: &HostKey, by: &str, event: &EventDraft) -> Result<bool> {
        let tx = self.write_tx().ctx("begin transaction")?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO host_keys (key_id, name, public_key, added_at, added_by)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![k.key_id, k.name, k.public_key, event.time, by],
            )
            .ctx("trust host key")?;
        if n == 1 {
            super::audit::append_event(&tx, event)?;
        }
        tx.commit().ctx("commit host key")?;
        Ok(n == 1)
    }

    /// Every host key.
    pub(crate) fn host_keys(&self) -> Result<Vec<HostKey>> {
        let mut st = self
            .conn
            .prepare("SELECT key_id, name, public_key, revoked_at IS NOT NULL FROM host_keys ORDER BY name")
            .ctx("prepare host keys query")?;
        st.query_map([], |r| {
            Ok(HostKey {
                key_id: r.get(0)?,
                name: r.get(1)?,
                public_key: r.get(2)?,
                revoked: r.get(3)?,
            })
        })
        .ctx("query host keys")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read host keys")
    }

    /// Record an attestation; when it is newer than the deployment's last
    /// verification, it becomes that verification. False when the same
    /// report was ingested before (nothing written).
    pub(crate) fn add_attestation(
        &self,
        a: &AttestationRow,
        status: DeployStatus,
        by: &str,
        event: &EventDraft,
    ) -> Result<bool> {
        let tx = self.write_tx().ctx("begin transaction")?;
        let n = tx
            .execute(
                "INSERT OR IGNORE INTO attestations (deployment_id, verified_at, matches, key_id,
                   report_sha256, ingested_at, ingested_by, envelope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    a.deployment_id,
                    a.verified_at,
                    a.matches,
                    a.key_id,
                    a.report_sha256,
                    event.time,
                    by,
                    a.envelope
                ],
            )
            .ctx("record attestation")?;
        if n == 0 {
            return Ok(false);
        }
        tx.execute(
            "UPDATE deployments SET last_status = ?2, last_verified_at = ?3
             WHERE id = ?1 AND (last_verified_at IS NULL OR last_verified_at <= ?3)",
            params![a.deployment_id, status.as_str(), a.verified_at],
        )
        .ctx("mark deployment")?;
        super::audit::append_event(&tx, event)?;
        tx.commit().ctx("commit attestation")?;
        Ok(true)
    }

    /// Every ingested attestation: `(deployment id, report sha256)`.
    pub(crate) fn attestation_digests(&self) -> Result<Vec<(i64, String)>> {
        let mut st = self
            .conn
            .prepare("SELECT deployment_id, report_sha256 FROM attestations ORDER BY id")
            .ctx("prepare attestation digests query")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .ctx("query attestation digests")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read attestation digests")
    }

    /// The newest attestation of a deployment: (verified_at, key id, matches).
    pub(crate) fn last_attestation(
        &self,
        deployment_id: i64,
    ) -> Result<Option<(String, String, bool)>> {
        self.conn
            .query_row(
                "SELECT verified_at, key_id, matches FROM attestations WHERE deployment_id = ?1
                 ORDER BY verified_at DESC, id DESC LIMIT 1",
                [deployment_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .ctx("read attestation")
    }
}
