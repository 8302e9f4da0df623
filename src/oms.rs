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
    let sig = key.sign_der(&crate::signing::pae(PAYLOAD_TYPE, &payload));
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

/// The file name OMS tools write a model's signature to.
pub const SIGNATURE_NAME: &str = "model.sig";
/// Cap on a signature file read into memory.
pub const SIG_CAP: u64 = 16 << 20;
/// The registry setting holding the OMS policy.
const POLICY_KEY: &str = "oms_policy";

/// How OpenSSF model signatures are judged at import (`trust policy --oms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OmsPolicy {
    /// A signature present must verify with a trusted model signer and
    /// cover exactly the files (the default).
    Verify,
    /// A signature present is checked and the result recorded, but a
    /// failure is only a warning.
    Informative,
    /// Like `verify`, and a model without a signature is refused (exit 4).
    Required,
}

impl OmsPolicy {
    /// The policy as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            OmsPolicy::Verify => "verify",
            OmsPolicy::Informative => "informative",
            OmsPolicy::Required => "required",
        }
    }
}

/// This registry's OMS policy.
pub fn policy(reg: &Registry) -> Result<OmsPolicy> {
    Ok(match reg.db.get_setting(POLICY_KEY)?.as_deref() {
        Some("informative") => OmsPolicy::Informative,
        Some("required") => OmsPolicy::Required,
        _ => OmsPolicy::Verify,
    })
}

/// Set the OMS policy (logged).
pub fn set_policy(reg: &Registry, p: OmsPolicy) -> Result<()> {
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustPolicy,
        POLICY_KEY,
        json!({ "oms": p.as_str() }),
    );
    reg.db.set_setting_logged(POLICY_KEY, p.as_str(), &event)
}

/// A verifying key of a trusted signer.
enum Verifier {
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
}

impl Verifier {
    fn from_pem(pem: &str) -> Option<Verifier> {
        use p256::pkcs8::DecodePublicKey;
        if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_pem(pem.trim()) {
            return Some(Verifier::P256(k));
        }
        p384::ecdsa::VerifyingKey::from_public_key_pem(pem.trim())
            .ok()
            .map(Verifier::P384)
    }

    fn pem(&self) -> Option<String> {
        match self {
            Verifier::P256(k) => k.to_public_key_pem(LineEnding::LF).ok(),
            Verifier::P384(k) => k.to_public_key_pem(LineEnding::LF).ok(),
        }
    }

    fn verify(&self, msg: &[u8], der: &[u8]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        match self {
            Verifier::P256(k) => {
                p256::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
            Verifier::P384(k) => {
                p384::ecdsa::Signature::from_der(der).is_ok_and(|s| k.verify(msg, &s).is_ok())
            }
        }
    }
}

/// Trust the ECDSA public key in `pubfile` as a model signer.
pub fn trust_signer(
    reg: &Registry,
    pubfile: &Path,
    name: &str,
) -> Result<(crate::records::OmsSigner, bool)> {
    let text = crate::fsio::read_small(pubfile, 64 << 10)?;
    let v = Verifier::from_pem(&text).ok_or_else(|| {
        Error::input(format!(
            "`{}` is not an ECDSA P-256 or P-384 public key (SPKI PEM), which OMS model signers use",
            pubfile.display()
        ))
    })?;
    let pem = v
        .pem()
        .ok_or_else(|| Error::system("encode the public key", "PEM"))?;
    let signer = crate::records::OmsSigner {
        key_id: Sha256Digest::of(pem.as_bytes()).to_hex(),
        algorithm: match v {
            Verifier::P256(_) => "p256",
            Verifier::P384(_) => "p384",
        }
        .into(),
        public_pem: pem,
        name: name.to_string(),
        added_at: crate::clock::now_rfc3339(),
        revoked: false,
    };
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustAdd,
        signer.key_id.clone(),
        json!({ "name": name, "role": "model-signer", "algorithm": signer.algorithm }),
    );
    let added = reg
        .db
        .add_oms_signer(&signer, &crate::actor::actor(), &event)?;
    Ok((signer, added))
}

/// Stop trusting a model signer; `None` when no signer has that id.
pub fn revoke_signer(
    reg: &Registry,
    key_id: &str,
    reason: Option<&str>,
) -> Result<Option<crate::records::OmsSigner>> {
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustRevoke,
        key_id.to_string(),
        json!({ "role": "model-signer", "reason": reason }),
    );
    reg.db.revoke_oms_signer(
        &key_id.to_ascii_lowercase(),
        &crate::clock::now_rfc3339(),
        reason,
        &event,
    )
}

/// The model signers, revoked ones included.
pub fn signers(reg: &Registry) -> Result<Vec<crate::records::OmsSigner>> {
    reg.db.oms_signers()
}

fn hostile(what: &str, reason: impl Into<String>) -> Error {
    Error::Hostile {
        what: what.to_string(),
        reason: reason.into(),
    }
}

/// Verify an OMS signature (`what` names it) against the trusted signers
/// and the files it must cover (their stored digests: no byte is read
/// again). Returns the signer.
fn verify_against(
    bytes: &[u8],
    what: &str,
    files: &[crate::records::FileRecord],
    signers: &[crate::records::OmsSigner],
    cas: &[(String, String, String)],
) -> Result<crate::records::OmsSigner> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let doc: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| hostile(what, format!("not a JSON Sigstore bundle: {e}")))?;
    let media = doc.get("mediaType").and_then(|m| m.as_str()).unwrap_or("");
    if !media.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(hostile(
            what,
            format!("media type `{media}` is not a Sigstore bundle"),
        ));
    }
    let material = doc.get("verificationMaterial").cloned().unwrap_or_default();
    let chain = certificate_chain(&material, what)?;
    let hint = material
        .pointer("/publicKey/hint")
        .and_then(|h| h.as_str())
        .filter(|h| !h.is_empty());
    let env = doc
        .get("dsseEnvelope")
        .ok_or_else(|| hostile(what, "no DSSE envelope"))?;
    if env.get("payloadType").and_then(|t| t.as_str()) != Some(PAYLOAD_TYPE) {
        return Err(hostile(what, format!("payload type is not {PAYLOAD_TYPE}")));
    }
    let payload = env
        .get("payload")
        .and_then(|p| p.as_str())
        .and_then(|p| b64.decode(p).ok())
        .ok_or_else(|| hostile(what, "the payload is not base64"))?;
    let sigs: Vec<Vec<u8>> = env
        .get("signatures")
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .take(16)
                .filter_map(|s| s.get("sig").and_then(|x| x.as_str()))
                .filter_map(|s| b64.decode(s).ok())
                .collect()
        })
        .unwrap_or_default();
    if sigs.is_empty() {
        return Err(hostile(what, "no signature in the envelope"));
    }
    let msg = crate::signing::pae(PAYLOAD_TYPE, &payload);
    let cert_signer;
    let signer = if let Some(chain) = chain {
        cert_signer = verify_chain(&chain, cas, what)?;
        if !sigs.iter().any(|d| cert_signer.1.verify(&msg, d)) {
            return Err(Error::Untrusted {
                what: what.into(),
                reason: format!(
                    "the signature does not verify with the key of its certificate `{}`",
                    cert_signer.0.name
                ),
            });
        }
        &cert_signer.0
    } else {
        key_signer(signers, hint, &sigs, &msg, what)?
    };
    check_statement(&payload, what, files)?;
    Ok(signer.clone())
}

/// Key mode: the trusted signer (by hint) whose key verifies a signature.
fn key_signer<'s>(
    signers: &'s [crate::records::OmsSigner],
    hint: Option<&str>,
    sigs: &[Vec<u8>],
    msg: &[u8],
    what: &str,
) -> Result<&'s crate::records::OmsSigner> {
    let candidates: Vec<&crate::records::OmsSigner> = signers
        .iter()
        .filter(|s| !s.revoked && hint.is_none_or(|h| h.eq_ignore_ascii_case(&s.key_id)))
        .collect();
    if candidates.is_empty() {
        return Err(Error::UnknownSigner {
            what: what.into(),
            reason: format!(
                "signed by {}, not a model signer this registry trusts (`airlock trust add KEY.pub --role model-signer`; `trust policy --oms informative` makes OMS signatures informative)",
                hint.map_or("an unnamed key".to_string(), |h| format!(
                    "the key with hint {h}"
                ))
            ),
        });
    }
    candidates
        .iter()
        .copied()
        .find(|s| {
            Verifier::from_pem(&s.public_pem).is_some_and(|v| sigs.iter().any(|d| v.verify(msg, d)))
        })
        .ok_or_else(|| Error::Untrusted {
            what: what.into(),
            reason: format!(
                "the signature does not verify with {}: the signed statement was changed, or another key signed it",
                candidates.iter().map(|s| format!("`{}` ({})", s.name, &s.key_id[..16])).collect::<Vec<_>>().join(", ")
            ),
        })
}

/// The signed statement: its resources must be exactly the files (their
/// stored digests), the subject the digest of the resources.
fn check_statement(payload: &[u8], what: &str, files: &[crate::records::FileRecord]) -> Result<()> {
    let st: serde_json::Value = serde_json::from_slice(payload)
        .map_err(|e| hostile(what, format!("the statement is not JSON: {e}")))?;
    let ptype = st
        .get("predicateType")
        .and_then(|t| t.as_str())
        .unwrap_or("");
    if ptype != PREDICATE_TYPE {
        return Err(hostile(
            what,
            format!("predicate type `{ptype}` is not {PREDICATE_TYPE}"),
        ));
    }
    let resources = st
        .pointer("/predicate/resources")
        .and_then(|r| r.as_array())
        .ok_or_else(|| hostile(what, "the statement lists no resources"))?;
    let mut root = Vec::with_capacity(resources.len() * 32);
    let mut signed: std::collections::HashMap<&str, Sha256Digest> =
        std::collections::HashMap::new();
    for r in resources {
        let name = r
            .get("name")
            .and_then(|n| n.as_str())
            .ok_or_else(|| hostile(what, "a resource without a name"))?;
        if r.get("algorithm").and_then(|a| a.as_str()) != Some("sha256") {
            return Err(hostile(
                what,
                format!("resource `{name}` is not hashed with sha256"),
            ));
        }
        let d: Sha256Digest = r
            .get("digest")
            .and_then(|d| d.as_str())
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| hostile(what, format!("resource `{name}` has no sha256 digest")))?;
        root.extend_from_slice(d.as_bytes());
        if signed.insert(name, d).is_some() {
            return Err(hostile(what, format!("resource `{name}` is listed twice")));
        }
    }
    let subject = st
        .pointer("/subject/0/digest/sha256")
        .and_then(|d| d.as_str())
        .unwrap_or("");
    if subject != Sha256Digest::of(&root).to_hex() {
        return Err(hostile(
            what,
            "the subject digest is not the digest of the resources",
        ));
    }
    let mut covered = 0;
    for f in files.iter().filter(|f| !ignored(f.path.as_str())) {
        match signed.get(f.path.as_str()) {
            Some(d) if *d == f.sha256 => covered += 1,
            Some(d) => {
                return Err(Error::DigestMismatch {
                    what: format!("file `{}` (OpenSSF model signature {what})", f.path),
                    expected: d.to_hex(),
                    found: f.sha256.to_hex(),
                });
            }
            None => {
                return Err(hostile(
                    what,
                    format!(
                        "file `{}` is not covered by the signature (added after signing?)",
                        f.path
                    ),
                ));
            }
        }
    }
    if covered != signed.len() {
        let present: std::collections::HashSet<&str> =
            files.iter().map(|f| f.path.as_str()).collect();
        let missing = signed
            .keys()
            .find(|k| !present.contains(**k))
            .copied()
            .unwrap_or("?");
        return Err(hostile(
            what,
            format!("file `{missing}` is signed but missing"),
        ));
    }
    Ok(())
}

/// The DER certificates of a certificate-mode signature (leaf first), if
/// it is one.
fn certificate_chain(material: &serde_json::Value, what: &str) -> Result<Option<Vec<Vec<u8>>>> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let raw: Vec<&serde_json::Value> = if let Some(list) = material
        .pointer("/x509CertificateChain/certificates")
        .and_then(|c| c.as_array())
    {
        list.iter().take(10).collect()
    } else if let Some(c) = material.get("certificate") {
        vec![c]
    } else {
        return Ok(None);
    };
    let certs = raw
        .iter()
        .map(|c| {
            c.get("rawBytes")
                .and_then(|r| r.as_str())
                .and_then(|r| b64.decode(r).ok())
                .ok_or_else(|| hostile(what, "a certificate that is not base64 DER"))
        })
        .collect::<Result<Vec<_>>>()?;
    if certs.is_empty() {
        return Err(hostile(what, "an empty certificate chain"));
    }
    Ok(Some(certs))
}

/// A certificate's public key, as a verifier (P-256 or P-384).
fn cert_key(c: &x509_cert::Certificate) -> Option<Verifier> {
    use p256::pkcs8::DecodePublicKey;
    use x509_cert::der::Encode;
    let spki = c
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .ok()?;
    if let Ok(k) = p256::ecdsa::VerifyingKey::from_public_key_der(&spki) {
        return Some(Verifier::P256(k));
    }
    p384::ecdsa::VerifyingKey::from_public_key_der(&spki)
        .ok()
        .map(Verifier::P384)
}

/// Whether `issuer`'s key made `cert`'s signature (ECDSA with SHA-256 or
/// SHA-384, as the key's curve signs).
fn issued_by(cert: &x509_cert::Certificate, issuer: &x509_cert::Certificate) -> bool {
    use x509_cert::der::Encode;
    if cert.tbs_certificate().issuer() != issuer.tbs_certificate().subject() {
        return false;
    }
    let (Some(key), Ok(tbs)) = (cert_key(issuer), cert.tbs_certificate().to_der()) else {
        return false;
    };
    let Some(sig) = cert.signature().as_bytes() else {
        return false;
    };
    key.verify(&tbs, sig)
}

fn is_ca(c: &x509_cert::Certificate) -> bool {
    matches!(
        c.tbs_certificate().get_extension::<x509_cert::ext::pkix::BasicConstraints>(),
        Ok(Some((_, b))) if b.ca
    )
}

/// Certificate mode: the leaf must chain (through the intermediates the
/// signature carries) to a CA trusted with `trust add-ca`, every
/// certificate valid when the leaf was issued (the time model-signing
/// judges at), the leaf allowed to sign (digitalSignature or codeSigning).
/// Returns the signer and its key.
fn verify_chain(
    chain: &[Vec<u8>],
    cas: &[(String, String, String)],
    what: &str,
) -> Result<(crate::records::OmsSigner, Verifier)> {
    use x509_cert::der::{Decode, DecodePem};
    let certs = chain
        .iter()
        .map(|d| x509_cert::Certificate::from_der(d))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| hostile(what, format!("a certificate that does not parse: {e}")))?;
    let anchors: Vec<(String, x509_cert::Certificate)> = cas
        .iter()
        .filter_map(|(_, name, pem)| {
            x509_cert::Certificate::from_pem(pem.as_bytes())
                .ok()
                .map(|c| (name.clone(), c))
        })
        .collect();
    let leaf = &certs[0];
    let subject = leaf.tbs_certificate().subject().to_string();
    let untrusted = |reason: String| Error::Untrusted {
        what: what.into(),
        reason,
    };
    if anchors.is_empty() {
        return Err(untrusted(format!(
            "a certificate-mode signature by `{subject}`, and this registry trusts no CA for model signatures (`airlock trust add-ca CA.pem --name N`)"
        )));
    }
    let at = leaf
        .tbs_certificate()
        .validity()
        .not_before
        .to_unix_duration();
    let valid = |c: &x509_cert::Certificate| {
        let v = c.tbs_certificate().validity();
        v.not_before.to_unix_duration() <= at && at <= v.not_after.to_unix_duration()
    };
    let mut current = leaf;
    let mut anchor_name = None;
    for _ in 0..8 {
        if !valid(current) {
            return Err(untrusted(format!(
                "certificate `{}` was not valid when the signing certificate was issued",
                current.tbs_certificate().subject()
            )));
        }
        if let Some((name, _)) = anchors
            .iter()
            .find(|(_, a)| valid(a) && issued_by(current, a))
        {
            anchor_name = Some(name.clone());
            break;
        }
        match certs[1..]
            .iter()
            .find(|c| !std::ptr::eq(*c, current) && is_ca(c) && issued_by(current, c))
        {
            Some(next) => current = next,
            None => break,
        }
    }
    let Some(anchor) = anchor_name else {
        return Err(untrusted(format!(
            "the certificate `{subject}` does not chain to a CA this registry trusts for model signatures"
        )));
    };
    let may_sign = matches!(
        leaf.tbs_certificate().get_extension::<x509_cert::ext::pkix::KeyUsage>(),
        Ok(Some((_, k))) if k.digital_signature()
    ) || matches!(
        leaf.tbs_certificate().get_extension::<x509_cert::ext::pkix::ExtendedKeyUsage>(),
        Ok(Some((_, e))) if e.0.iter().any(|o| o.to_string() == "1.3.6.1.5.5.7.3.3")
    );
    if !may_sign {
        return Err(untrusted(format!(
            "the certificate `{subject}` may not sign (neither digitalSignature nor codeSigning)"
        )));
    }
    let key = cert_key(leaf).ok_or_else(|| {
        untrusted(format!(
            "the certificate `{subject}` has no P-256 or P-384 key"
        ))
    })?;
    Ok((
        crate::records::OmsSigner {
            key_id: Sha256Digest::of(&chain[0]).to_hex(),
            algorithm: match key {
                Verifier::P256(_) => "p256",
                Verifier::P384(_) => "p384",
            }
            .into(),
            public_pem: String::new(),
            name: format!("{subject} (CA `{anchor}`)"),
            added_at: String::new(),
            revoked: false,
        },
        key,
    ))
}

/// Trust a CA (PEM certificate) for certificate-mode OMS signatures.
/// Returns its id (sha256 of its DER), subject, and whether it was new.
pub fn trust_ca(reg: &Registry, pem_file: &Path, name: &str) -> Result<(String, String, bool)> {
    use x509_cert::der::{DecodePem, Encode};
    let text = crate::fsio::read_small(pem_file, 256 << 10)?;
    let c = x509_cert::Certificate::from_pem(text.as_bytes()).map_err(|e| {
        Error::input(format!(
            "`{}` is not a PEM certificate: {e}",
            pem_file.display()
        ))
    })?;
    if !is_ca(&c) {
        return Err(Error::input(format!(
            "`{}` is not a CA certificate (basicConstraints CA:TRUE)",
            pem_file.display()
        )));
    }
    let der = c
        .to_der()
        .map_err(|e| Error::system("encode the certificate", e))?;
    let id = Sha256Digest::of(&der).to_hex();
    let subject = c.tbs_certificate().subject().to_string();
    let event = crate::event::EventDraft::new(
        crate::event::EventKind::TrustAdd,
        id.clone(),
        json!({ "name": name, "role": "model-signing-ca", "subject": subject }),
    );
    let added = reg.db.add_oms_ca(&id, name, &subject, &text, &event)?;
    Ok((id, subject, added))
}

/// Judge the OMS signature `bytes` of a model whose files are `files`
/// (the signature file itself left out) under this registry's policy: a
/// verified signature, or — under `informative` — a recorded failure.
pub(crate) fn check(
    reg: &Registry,
    what: &str,
    bytes: &[u8],
    files: &[crate::records::FileRecord],
    warnings: &mut Vec<String>,
) -> Result<crate::records::OmsCheck> {
    let policy = policy(reg)?;
    let at = crate::clock::now_rfc3339();
    match verify_against(
        bytes,
        what,
        files,
        &reg.db.oms_signers()?,
        &reg.db.oms_cas()?,
    ) {
        Ok(s) => Ok(crate::records::OmsCheck {
            path: what.to_string(),
            key_id: Some(s.key_id.clone()),
            signer: Some(s.name.clone()),
            status: "verified".into(),
            detail: format!(
                "{} files, signed by `{}` ({})",
                files.iter().filter(|f| !ignored(f.path.as_str())).count(),
                s.name,
                s.algorithm
            ),
            at,
        }),
        Err(e) if policy == OmsPolicy::Informative => {
            warnings.push(format!(
                "OpenSSF model signature not verified (policy: informative): {e}"
            ));
            Ok(crate::records::OmsCheck {
                path: what.to_string(),
                key_id: None,
                signer: None,
                status: "informative".into(),
                detail: e.to_string(),
                at,
            })
        }
        Err(e) => Err(e),
    }
}

/// For a model arriving with its files recorded (`files`, read through
/// `path_of`): the OMS check of its `model.sig`, if it has one, else
/// `None` — or a refusal when the policy requires one.
pub(crate) fn check_files(
    reg: &Registry,
    subject: &str,
    files: &[crate::records::FileRecord],
    path_of: &dyn Fn(&Sha256Digest) -> PathBuf,
    warnings: &mut Vec<String>,
) -> Result<Option<crate::records::OmsCheck>> {
    let Some(sig) = files.iter().find(|f| f.path.as_str() == SIGNATURE_NAME) else {
        if policy(reg)? == OmsPolicy::Required {
            return Err(Error::Policy {
                what: subject.to_string(),
                reason: format!(
                    "the OMS policy requires an OpenSSF model signature (`{SIGNATURE_NAME}`, or `--oms-signature FILE` at import) and there is none"
                ),
            });
        }
        return Ok(None);
    };
    let bytes = crate::fsio::read_small(&path_of(&sig.sha256), SIG_CAP)?;
    let rest: Vec<crate::records::FileRecord> = files
        .iter()
        .filter(|f| f.path.as_str() != SIGNATURE_NAME)
        .cloned()
        .collect();
    check(reg, SIGNATURE_NAME, bytes.as_bytes(), &rest, warnings).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_encoding() {
        assert_eq!(
            crate::signing::pae("application/vnd.in-toto+json", b"{}"),
            b"DSSEv1 28 application/vnd.in-toto+json 2 {}".to_vec()
        );
    }

    #[test]
    fn ignores_what_oms_ignores() {
        assert!(ignored(".git/config") && ignored(".gitattributes"));
        assert!(!ignored(".gitattributes2") && !ignored("model/.git"));
    }
}
