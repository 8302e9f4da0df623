//! What a registry holds, for a delta bundle: `holdings --out FILE` on the
//! isolated side, `export … --delta-against FILE` on the connected side.
//!
//! The file lists every blob the registry holds (by sha256), its versions
//! and the last bundle sequence accepted from each origin. It needs no
//! signature for integrity: it can only make the exporter leave blobs out,
//! and the receiver refuses a bundle that relies on a blob it does not hold
//! (exit 3, naming it) — a wrong holdings file costs a re-export. With
//! `--key` it is signed anyway (a DSSE envelope over the same JSON), so the
//! connected side knows which registry it describes: the export checks the
//! signature against the keys it trusts (any role, or a host key) and
//! refuses a signed file no trusted key signed (exit 3).

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// The format name written into a holdings file.
pub const HOLDINGS_FORMAT: &str = "airlock-holdings/v1";
/// The DSSE payload type of a signed holdings file.
pub const HOLDINGS_PAYLOAD_TYPE: &str = "application/vnd.airlock.holdings.v1+json";
/// The largest holdings file read (about 15 million blobs).
pub const HOLDINGS_CAP: u64 = 1 << 30;

/// A version the registry holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeldVersion {
    /// The model.
    pub name: String,
    /// The label.
    pub version: String,
    /// The manifest digest (hex).
    pub manifest_digest: String,
}

/// What a registry holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Holdings {
    /// [`HOLDINGS_FORMAT`].
    pub format: String,
    /// The registry's name.
    pub registry: String,
    /// When it was written (RFC 3339).
    pub created: String,
    /// The last bundle sequence accepted from each origin.
    pub sequences: BTreeMap<String, u64>,
    /// Every version.
    pub versions: Vec<HeldVersion>,
    /// Every blob (sha256 hex), sorted.
    pub blobs: Vec<String>,
}

/// What `holdings --out` wrote.
#[derive(Debug, Serialize)]
pub struct HoldingsOutcome {
    /// The file.
    pub out: String,
    /// Versions listed.
    pub versions: usize,
    /// Blobs listed.
    pub blobs: usize,
    /// The id of the key that signed it, when one did.
    pub signed_by: Option<String>,
}

/// Who signed a holdings file, as the reading side trusts them.
#[derive(Debug, Clone, Serialize)]
pub struct HoldingsSigner {
    /// The key id.
    pub key_id: String,
    /// Its name in this registry's trust store.
    pub name: String,
}

/// Write this registry's holdings to `out` (all or nothing), signed by
/// `key` if one is given.
pub fn write(
    reg: &Registry,
    out: &Path,
    key: Option<&dyn crate::signing::KeySource>,
) -> Result<HoldingsOutcome> {
    let versions: Vec<HeldVersion> = reg
        .versions()?
        .into_iter()
        .map(|v| HeldVersion {
            name: v.name.to_string(),
            version: v.label,
            manifest_digest: v.manifest_digest.to_hex(),
        })
        .collect();
    let mut blobs: Vec<String> = reg
        .db
        .blob_rows()?
        .into_iter()
        .map(|(d, _)| d.to_hex())
        .collect();
    blobs.sort();
    let h = Holdings {
        format: HOLDINGS_FORMAT.into(),
        registry: reg.name().to_string(),
        created: crate::clock::now_rfc3339(),
        sequences: reg.db.last_sequences()?.into_iter().collect(),
        versions,
        blobs,
    };
    let bytes = serde_json::to_vec_pretty(&h).expect("plain JSON");
    let signed_by = match key {
        None => {
            crate::store::write_atomic(out, &bytes)?;
            None
        }
        Some(k) => {
            let public = k.public_key();
            let sig = k.sign(&crate::signing::pae(HOLDINGS_PAYLOAD_TYPE, &bytes))?;
            let env = crate::statement::Envelope::bytes_of(
                HOLDINGS_PAYLOAD_TYPE,
                &bytes,
                &[(public.id(), sig)],
            );
            crate::store::write_atomic(out, &env)?;
            Some(public.id().to_hex())
        }
    };
    Ok(HoldingsOutcome {
        out: out.display().to_string(),
        versions: h.versions.len(),
        blobs: h.blobs.len(),
        signed_by,
    })
}

/// A signed holdings file's payload, if a key `reg` trusts (any role, or a
/// host key; not revoked) signed it; otherwise it is refused.
fn open_signed(reg: &Registry, path: &Path, text: Vec<u8>) -> Result<(Vec<u8>, HoldingsSigner)> {
    let what = path.display().to_string();
    let (payload_type, sigs, payload) = crate::statement::Envelope::open(text, &what)?;
    if payload_type != HOLDINGS_PAYLOAD_TYPE {
        return Err(Error::Hostile {
            what,
            reason: format!("payload type `{payload_type}`, expected `{HOLDINGS_PAYLOAD_TYPE}`"),
        });
    }
    let mut keys: Vec<(String, crate::signing::PublicKey)> = reg
        .db
        .trusted_keys()?
        .into_iter()
        .filter(|k| !k.revoked)
        .map(|k| (k.name, k.public_key))
        .collect();
    keys.extend(
        reg.db
            .host_keys()?
            .into_iter()
            .filter(|k| !k.revoked)
            .filter_map(|k| {
                let pk =
                    crate::signing::PublicKey::from_raw(&hex::decode(&k.public_key).ok()?).ok()?;
                Some((k.name, pk))
            }),
    );
    let msg = crate::signing::pae(HOLDINGS_PAYLOAD_TYPE, &payload);
    let signers = crate::signing::signers_of(&msg, &sigs, &keys, |(_, pk)| pk.id(), |(_, pk)| pk);
    let Some(((name, pk), _)) = signers.into_iter().next() else {
        return Err(Error::Untrusted {
            what,
            reason: format!(
                "a signed holdings file with no signature by a key this registry trusts ({} signature(s), key id(s) {}); `airlock trust add RECEIVER.pub --role host` trusts the receiving registry's key",
                sigs.len(),
                sigs.iter()
                    .map(|s| s.keyid.chars().take(16).collect::<String>())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        });
    };
    let signer = HoldingsSigner {
        key_id: pk.id().to_hex(),
        name: name.clone(),
    };
    Ok((payload, signer))
}

/// The blobs a holdings file says its registry holds, and who signed it
/// (a signed file must verify against a key `reg` trusts).
pub fn read_blobs(
    reg: &Registry,
    path: &Path,
) -> Result<(Holdings, HashSet<Sha256Digest>, Option<HoldingsSigner>)> {
    let f = crate::fsio::open_regular(path)?;
    let mut text = Vec::new();
    f.take(HOLDINGS_CAP + 1)
        .read_to_end(&mut text)
        .map_err(|e| Error::io("read", path, e))?;
    let bad = |reason: String| {
        Error::input(format!(
            "`{}` is not a holdings file (`airlock holdings --out FILE` on the receiving side writes one): {reason}",
            path.display()
        ))
    };
    if text.len() as u64 > HOLDINGS_CAP {
        return Err(bad(format!("larger than {HOLDINGS_CAP} bytes")));
    }
    // A signed file is a DSSE envelope (its first key is `payloadType`).
    let signed = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&text)
        .is_ok_and(|m| m.contains_key("payloadType"));
    let (text, signer) = if signed {
        let (payload, signer) = open_signed(reg, path, text)?;
        (payload, Some(signer))
    } else {
        (text, None)
    };
    let h: Holdings = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
    drop(text);
    if h.format != HOLDINGS_FORMAT {
        return Err(bad(format!(
            "format `{}`, expected `{HOLDINGS_FORMAT}`",
            h.format
        )));
    }
    let blobs = h
        .blobs
        .iter()
        .map(|b| {
            b.parse::<Sha256Digest>()
                .map_err(|e| bad(format!("blob `{b}`: {e}")))
        })
        .collect::<Result<HashSet<_>>>()?;
    Ok((h, blobs, signer))
}
