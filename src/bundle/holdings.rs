//! What a registry holds, for a delta bundle: `holdings --out FILE` on the
//! isolated side, `export … --delta-against FILE` on the connected side.
//!
//! The file lists every blob the registry holds (by sha256), its versions
//! and the last bundle sequence accepted from each origin. It needs no
//! signature: it can only make the exporter leave blobs out, and the
//! receiver refuses a bundle that relies on a blob it does not hold
//! (exit 3, naming it) — a wrong holdings file costs a re-export, never
//! integrity.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::registry::Registry;

/// The format name written into a holdings file.
pub const HOLDINGS_FORMAT: &str = "airlock-holdings/v1";
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
}

/// Write this registry's holdings to `out` (all or nothing).
pub fn write(reg: &Registry, out: &Path) -> Result<HoldingsOutcome> {
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
    crate::store::write_atomic(out, &bytes)?;
    Ok(HoldingsOutcome {
        out: out.display().to_string(),
        versions: h.versions.len(),
        blobs: h.blobs.len(),
    })
}

/// The blobs a holdings file says its registry holds.
pub fn read_blobs(path: &Path) -> Result<(Holdings, HashSet<Sha256Digest>)> {
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
    Ok((h, blobs))
}
