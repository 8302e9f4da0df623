//! OMS signers (`oms_signers`) and the OMS checks recorded per version
//! (`oms_verifications`).

use rusqlite::{OptionalExtension, params};

use super::{Ctx, Db};
use crate::error::Result;
use crate::records::{OmsCheck, OmsSigner};

pub(super) fn insert(tx: &rusqlite::Transaction<'_>, version_id: i64, c: &OmsCheck) -> Result<()> {
    tx.execute(
        "INSERT INTO oms_verifications (version_id, path, key_id, signer, status, detail, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            version_id, c.path, c.key_id, c.signer, c.status, c.detail, c.at
        ],
    )
    .ctx("record OMS check")?;
    Ok(())
}

fn signer(r: &rusqlite::Row<'_>) -> rusqlite::Result<OmsSigner> {
    Ok(OmsSigner {
        key_id: r.get(0)?,
        algorithm: r.get(1)?,
        public_pem: r.get(2)?,
        name: r.get(3)?,
        added_at: r.get(4)?,
        revoked: r.get::<_, Option<String>>(5)?.is_some(),
    })
}

impl Db {
    /// Every model signer, revoked ones included.
    pub(crate) fn oms_signers(&self) -> Result<Vec<OmsSigner>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key_id, algorithm, public_pem, name, added_at, revoked_at FROM oms_signers ORDER BY key_id",
            )
            .ctx("read model signers")?;
        st.query_map([], signer)
            .ctx("read model signers")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read model signers")
    }

    /// Trust a model signer (with its event); false when already trusted.
    pub(crate) fn add_oms_signer(
        &self,
        s: &OmsSigner,
        by: &str,
        event: &crate::event::EventDraft,
    ) -> Result<bool> {
        self.logged(event, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO oms_signers (key_id, algorithm, public_pem, name, added_at, added_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key_id) DO NOTHING",
                    params![s.key_id, s.algorithm, s.public_pem, s.name, s.added_at, by],
                )
                .ctx("trust model signer")?;
            Ok(n == 1)
        })
    }

    /// Revoke a model signer by key id; its record if there was one.
    pub(crate) fn revoke_oms_signer(
        &self,
        key_id: &str,
        at: &str,
        reason: Option<&str>,
        event: &crate::event::EventDraft,
    ) -> Result<Option<OmsSigner>> {
        let found = self
            .conn
            .query_row(
                "SELECT key_id, algorithm, public_pem, name, added_at, revoked_at FROM oms_signers WHERE key_id = ?1",
                [key_id],
                signer,
            )
            .optional()
            .ctx("read model signer")?;
        if found.is_some() {
            self.logged(event, |tx| {
                tx.execute(
                    "UPDATE oms_signers SET revoked_at = COALESCE(revoked_at, ?2), revoked_reason = ?3 WHERE key_id = ?1",
                    params![key_id, at, reason],
                )
                .ctx("revoke model signer")?;
                Ok(())
            })?;
        }
        Ok(found)
    }

    /// The OMS checks recorded for a version.
    pub(crate) fn oms_checks(&self, version_id: i64) -> Result<Vec<OmsCheck>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT path, key_id, signer, status, detail, at FROM oms_verifications WHERE version_id = ?1 ORDER BY id",
            )
            .ctx("read OMS checks")?;
        st.query_map([version_id], |r| {
            Ok(OmsCheck {
                path: r.get(0)?,
                key_id: r.get(1)?,
                signer: r.get(2)?,
                status: r.get(3)?,
                detail: r.get(4)?,
                at: r.get(5)?,
            })
        })
        .ctx("read OMS checks")?
        .collect::<rusqlite::Result<Vec<_>>>()
        .ctx("read OMS checks")
    }

    /// Trust a CA for certificate-mode OMS signatures; false when already.
    pub(crate) fn add_oms_ca(
        &self,
        key_id: &str,
        name: &str,
        subject: &str,
        pem: &str,
        event: &crate::event::EventDraft,
    ) -> Result<bool> {
        self.logged(event, |tx| {
            let n = tx
                .execute(
                    "INSERT INTO oms_cas (key_id, name, subject, cert_pem, added_at, added_by)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key_id) DO NOTHING",
                    params![key_id, name, subject, pem, event.time, event.actor],
                )
                .ctx("trust CA")?;
            Ok(n == 1)
        })
    }

    /// The CAs trusted for OMS signatures: (key id, name, PEM), unrevoked.
    pub(crate) fn oms_cas(&self) -> Result<Vec<(String, String, String)>> {
        let mut st = self
            .conn
            .prepare_cached(
                "SELECT key_id, name, cert_pem FROM oms_cas WHERE revoked_at IS NULL ORDER BY key_id",
            )
            .ctx("read CAs")?;
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .ctx("read CAs")?
            .collect::<rusqlite::Result<Vec<_>>>()
            .ctx("read CAs")
    }
}
