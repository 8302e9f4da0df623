//! OpenSSF model signing (OMS): ECDSA P-256 / P-384 keys, and an OMS
//! signature of a version written from the stored digests — no byte of the
//! model is read again — that `model_signing verify key` accepts on a plain
//! checkout of the version.
//!
//! The signature is what model-signing 1.1.1 writes in key mode: a Sigstore
//! bundle (`application/vnd.dev.sigstore.bundle.v0.3+json`) whose
//! verification material is the public key's hint (sha256 of its SPKI PEM)
//! and whose DSSE envelope (`application/vnd.in-toto+json`) holds an in-toto
//! statement: one subject (the model's folder name, and the sha256 of its
//! resources' raw digests concatenated in order), predicate type
//! `https://model_signing/signature/v1.0`, predicate `{"serialization":
//! {"method":"files","hash_type":"sha256","allow_symlinks":false,
//! "ignore_paths":[…]}, "resources":[{"name","algorithm":"sha256","digest"}]}`
//! with the resources sorted by path component. The signature is ECDSA over
//! the DSSE PAE with SHA-256 (P-256) or SHA-384 (P-384), DER-encoded.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use base64::Engine;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use serde::Serialize;
use serde_json::json;

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};
use crate::records::VersionRecord;
use crate::registry::Registry;

/// The in-toto payload type OMS signs.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The OMS predicate type.
pub const PREDICATE_TYPE: &str = "https://model_signing/signature/v1.0";
/// The Sigstore bundle media type OMS writes.
pub const BUNDLE_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
/// Paths OMS leaves out of a model by default (and so does the statement).
pub const IGNORED: [&str; 4] = [".gitattributes", ".github", ".git", ".gitignore"];

/// An ECDSA curve OMS accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256, signatures over SHA-256.
    P256,
    /// NIST P-384, signatures over SHA-384.
    P384,
}

/// An ECDSA private key loaded from a PKCS#8 PEM file.
pub enum EcKey {
    /// A P-256 key.
    P256(p256::ecdsa::SigningKey),
    /// A P-384 key.
    P384(p384::ecdsa::SigningKey),
}

/// A new key pair's files.
#[derive(Debug, Serialize)]
pub struct GeneratedEcKey {
    /// `p256` or `p384`.
    pub algorithm: &'static str,
    /// The OMS key hint: sha256 of the public key's SPKI PEM (hex).
    pub key_id: String,
    /// The private key file (mode 0600).
    pub private_key: String,
    /// The public key file (plain SPKI PEM, what OMS tools read).
    pub public_key: String,
}

impl EcKey {
    /// Load a private key file (the signer's own, mode 0600).
    pub fn load(path: &Path) -> Result<EcKey> {
        let text = crate::signing::private_key_text(path)?;
        if let Ok(k) = p256::ecdsa::SigningKey::from_pkcs8_pem(text.trim()) {
            return Ok(EcKey::P256(k));
        }
        if let Ok(k) = p384::ecdsa::SigningKey::from_pkcs8_pem(text.trim()) {
            return Ok(EcKey::P384(k));
        }
        Err(Error::input(format!(
            "`{}` is not an ECDSA P-256 or P-384 PKCS#8 private key (OMS signatures need one: `airlock keys generate --algorithm p256`)",
            path.display()
        )))
    }

    /// The public key as SPKI PEM (LF line ends, as OMS tools write it).
    pub fn public_pem(&self) -> Result<String> {
        let pem = match self {
            EcKey::P256(k) => k.verifying_key().to_public_key_pem(LineEnding::LF),
            EcKey::P384(k) => k.verifying_key().to_public_key_pem(LineEnding::LF),
        };
        pem.map_err(|e| Error::system("encode the public key", e))
    }

    /// The OMS key hint: sha256 of the public key's PEM.
    pub fn hint(&self) -> Result<String> {
        Ok(Sha256Digest::of(self.public_pem()?.as_bytes()).to_hex())
    }

    /// An ECDSA signature over `msg` (SHA-256 or SHA-384 by curve), DER.
    pub fn sign_der(&self, msg: &[u8]) -> Vec<u8> {
        use p256::ecdsa::signature::Signer;
        match self {
            EcKey::P256(k) => {
                let s: p256::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
            EcKey::P384(k) => {
                let s: p384::ecdsa::Signature = k.sign(msg);
                s.to_der().as_bytes().to_vec()
            }
        }
    }
}

/// A new ECDSA key pair: `PREFIX.key` (PKCS#8 PEM, mode 0600) and
/// `PREFIX.pub` (SPKI PEM).
pub fn generate(prefix: &Path, curve: Curve) -> Result<GeneratedEcKey> {
    let priv_path = PathBuf::from(format!("{}.key", prefix.display()));
    let pub_path = PathBuf::from(format!("{}.pub", prefix.display()));
    for p in [&priv_path, &pub_path] {
        if p.exists() {
            return Err(Error::input(format!(
                "`{}` exists; refusing to overwrite a key",
                p.display()
            )));
        }
    }
    let key = loop {
        let mut seed = zeroize::Zeroizing::new([0u8; 48]);
        getrandom::fill(seed.as_mut()).map_err(|e| Error::system("read system randomness", e))?;
        // A scalar outside the curve's range is drawn again (vanishingly rare).
        let k = match curve {
            Curve::P256 => p256::ecdsa::SigningKey::from_slice(&seed[..32])
                .ok()
                .map(EcKey::P256),
            Curve::P384 => p384::ecdsa::SigningKey::from_slice(&seed[..48])
                .ok()
                .map(EcKey::P384),
        };
        if let Some(k) = k {
            break k;
        }
    };
    let pem = match &key {
        EcKey::P256(k) => k.to_pkcs8_pem(LineEnding::LF),
        EcKey::P384(k) => k.to_pkcs8_pem(LineEnding::LF),
    }
    .map_err(|e| Error::system("encode the private key", e))?;
    if let Some(parent) = priv_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&priv_path)
        .map_err(|e| Error::io("create", &priv_path, e))?;
    f.write_all(pem.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", &priv_path, e))?;
    fs::write(&pub_path, key.public_pem()?).map_err(|e| Error::io("write", &pub_path, e))?;
    fs::set_permissions(&pub_path, fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("chmod", &pub_path, e))?;
    Ok(GeneratedEcKey {
        algorithm: match curve {
            Curve::P256 => "p256",
            Curve::P384 => "p384",
        },
        key_id: key.hint()?,
        private_key: priv_path.display().to_string(),
        public_key: pub_path.display().to_string(),
    })
}

/// DSSE pre-authentication encoding (the same for every DSSE signer).
fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    )
    .into_bytes();
    out.extend_from_slice(payload);
    out
}

/// Whether OMS leaves `path` out of a model by default.
fn ignored(path: &str) -> bool {
    IGNORED
        .iter()
        .any(|i| path == *i || path.starts_with(&format!("{i}/")))
}

/// The OMS statement of a version: its resources from the stored digests.
pub fn statement(reg: &Registry, v: &VersionRecord) -> Result<Vec<u8>> {
    let mut files: Vec<(Vec<String>, String, Sha256Digest)> = reg
        .files(v)?
        .into_iter()
        .filter(|f| !ignored(f.path.as_str()))
        .map(|f| {
            let parts = f.path.as_str().split('/').map(str::to_string).collect();
            (parts, f.path.to_string(), f.sha256)
        })
        .collect();
    // The order OMS uses: paths compared component by component.
    files.sort_by(|a, b| a.0.cmp(&b.0));
    let mut root = Vec::with_capacity(files.len() * 32);
    for (_, _, d) in &files {
        root.extend_from_slice(d.as_bytes());
    }
    let resources: Vec<_> = files
        .iter()
        .map(|(_, p, d)| json!({ "name": p, "algorithm": "sha256", "digest": d.to_hex() }))
        .collect();
    let folder = v
        .name
        .as_str()
        .rsplit('/')
        .next()
        .unwrap_or(v.name.as_str());
    let doc = json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{ "name": folder, "digest": { "sha256": Sha256Digest::of(&root).to_hex() } }],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": {
                "method": "files",
                "hash_type": "sha256",
                "allow_symlinks": false,
                "ignore_paths": IGNORED,
            },
            "resources": resources,
        },
    });
    Ok(serde_json::to_vec(&doc).expect("plain JSON"))
}

/// What `sign --format oms` wrote.
#[derive(Debug, Serialize)]
pub struct OmsSignature {
    /// `name@label`.
    pub version: String,
    /// The file written.
    pub out: String,
    /// The signer's key hint.
    pub key_id: String,
    /// Files the signature covers.
    pub resources: usize,
}

/// Write the OMS signature of `v` by `key` to `out` (a new file).
pub fn sign(reg: &Registry, v: &VersionRecord, key: &EcKey, out: &Path) -> Result<OmsSignature> {
    let payload = statement(reg, v)?;
    let sig = key.sign_der(&pae(PAYLOAD_TYPE, &payload));
    let b64 = base64::engine::general_purpose::STANDARD;
    let bundle = json!({
        "mediaType": BUNDLE_TYPE,
        "verificationMaterial": { "publicKey": { "hint": key.hint()? }, "tlogEntries": [] },
        "dsseEnvelope": {
            "payload": b64.encode(&payload),
            "payloadType": PAYLOAD_TYPE,
            "signatures": [{ "sig": b64.encode(sig), "keyid": "" }],
        },
    });
    let bytes = serde_json::to_vec_pretty(&bundle).expect("plain JSON");
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
        .map_err(|e| Error::io("create", out, e))?;
    f.write_all(&bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| Error::io("write", out, e))?;
    let resources = reg
        .files(v)?
        .iter()
        .filter(|f| !ignored(f.path.as_str()))
        .count();
    Ok(OmsSignature {
        version: format!("{}@{}", v.name, v.label),
        out: out.display().to_string(),
        key_id: key.hint()?,
        resources,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_encoding() {
        assert_eq!(
            pae("application/vnd.in-toto+json", b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }

    #[test]
    fn ignores_what_oms_ignores() {
        assert!(ignored(".git/config") && ignored(".gitattributes"));
        assert!(!ignored(".gitattributes2") && !ignored("model/.git"));
    }
}
