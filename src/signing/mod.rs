//! ed25519 keys, key ids, DSSE pre-authentication encoding, verification.
//!
//! Key files: private keys are PKCS#8 PEM (mode 0600; a file group or others
//! can read is refused, as ssh does), public keys SPKI PEM. A [`KeyId`] is
//! the sha256 of the raw 32-byte public key — always computed, never read
//! from input. Signing goes through the [`KeySource`] trait so a hardware
//! token can stand in for a file later. Verification is `verify_strict` and
//! weak (small-order) public keys are rejected.

use std::fmt;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::digest::Sha256Digest;
use crate::error::{Error, Result};

/// The id of a public key: sha256 of its 32 raw bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(Sha256Digest);

impl KeyId {
    /// The id of `key`.
    pub fn of(key: &PublicKey) -> KeyId {
        KeyId(Sha256Digest::of(key.0.as_bytes()))
    }

    /// 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// The first 16 hex characters, for people.
    pub fn short(&self) -> String {
        self.0.short(16)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.0.short(16))
    }
}

impl FromStr for KeyId {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        s.parse::<Sha256Digest>()
            .map(KeyId)
            .map_err(|_| Error::input(format!("`{s}` is not a key id (64 hex characters)")))
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A checked ed25519 public key (not weak).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(VerifyingKey);

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", KeyId::of(self).short())
    }
}

impl PublicKey {
    /// A key from its 32 raw bytes (weak keys refused).
    pub fn from_raw(bytes: &[u8]) -> Result<PublicKey> {
        let arr: [u8; 32] = bytes
            .try_into()
            .map_err(|_| Error::input("a public key must be 32 bytes"))?;
        let vk = VerifyingKey::from_bytes(&arr)
            .map_err(|_| Error::input("not a valid ed25519 public key"))?;
        Self::checked(vk)
    }

    fn checked(vk: VerifyingKey) -> Result<PublicKey> {
        if vk.is_weak() {
            return Err(Error::Untrusted {
                what: hex::encode(vk.to_bytes()),
                reason: "weak (small-order) ed25519 public key".into(),
            });
        }
        Ok(PublicKey(vk))
    }

    /// Parse SPKI PEM; text before the PEM block (our comment line) is ignored.
    pub fn from_pem(text: &str, what: &Path) -> Result<PublicKey> {
        let start = text
            .find("-----BEGIN")
            .ok_or_else(|| Error::input(format!("`{}` holds no PEM public key", what.display())))?;
        let vk = VerifyingKey::from_public_key_pem(text[start..].trim_end()).map_err(|e| {
            Error::input(format!(
                "`{}` is not an ed25519 public key: {e}",
                what.display()
            ))
        })?;
        Self::checked(vk)
    }

    /// Load an SPKI PEM public key file.
    pub fn load(path: &Path) -> Result<PublicKey> {
        let text = read_key_file(path)?;
        Self::from_pem(&text, path)
    }

    /// The 32 raw bytes.
    pub fn raw(&self) -> [u8; 32] {
        self.0.to_bytes()
    }

    /// The key's id.
    pub fn id(&self) -> KeyId {
        KeyId::of(self)
    }

    /// SPKI PEM.
    pub fn to_pem(&self) -> String {
        self.0
            .to_public_key_pem(LineEnding::LF)
            .expect("encoding a valid public key cannot fail")
    }

    /// `verify_strict` of `sig` over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Ok(arr) = <[u8; 64]>::try_from(sig) else {
            return false;
        };
        let sig = Signature::from_bytes(&arr);
        self.0.verify_strict(msg, &sig).is_ok()
    }
}

/// Something that can sign: a key file today, a hardware token tomorrow.
pub trait KeySource {
    /// The public half.
    fn public_key(&self) -> PublicKey;
    /// Sign `msg` (the exact bytes; callers pass a DSSE PAE).
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>>;
    /// A name for messages (the file path, the token label).
    fn describe(&self) -> String;
    /// The holder's name, where the source knows it.
    fn holder(&self) -> Option<String> {
        None
    }
}

/// An ed25519 private key read from a PKCS#8 PEM file.
pub struct FileKey {
    key: SigningKey,
    path: PathBuf,
}

impl FileKey {
    /// Load a private key, refusing (as ssh does) a file that another user
    /// owns or that group or others can read. The checks are made on the
    /// opened file, so the file judged is the file read.
    pub fn load(path: &Path) -> Result<FileKey> {
        let text = private_key_text(path)?;
        let key = SigningKey::from_pkcs8_pem(text.trim()).map_err(|e| {
            Error::input(format!(
                "`{}` is not an ed25519 PKCS#8 private key: {e}",
                path.display()
            ))
        })?;
        Ok(FileKey {
            key,
            path: path.to_path_buf(),
        })
    }
}

impl KeySource for FileKey {
    fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key())
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>> {
        use ed25519_dalek::Signer;
        Ok(self.key.sign(msg).to_bytes().to_vec())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    /// The name `keys generate --name` wrote into the sibling `.pub` file.
    fn holder(&self) -> Option<String> {
        let pub_path = self.path.with_extension("pub");
        PublicKey::load(&pub_path)
            .ok()
            .filter(|k| *k == self.public_key())?;
        key_file_name(&pub_path)
    }
}

/// The name `keys generate --name` wrote into a public key file's comment
/// line, if there is one.
pub fn key_file_name(pub_path: &Path) -> Option<String> {
    let text = read_key_file(pub_path).ok()?;
    let first = text.lines().next()?;
    let start = first.find('`')? + 1;
    let end = start + first[start..].find('`')?;
    Some(first[start..end].to_string()).filter(|n| !n.is_empty())
}

fn read_key_file(path: &Path) -> Result<String> {
    let f = crate::fsio::open_regular(path)?;
    let mut s = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(f, 64 * 1024), &mut s)
        .map_err(|e| Error::io("read key", path, e))?;
    Ok(s)
}

/// What `keys generate` wrote.
#[derive(Debug, Serialize)]
pub struct GeneratedKey {
    /// The new key's id.
    pub key_id: KeyId,
    /// The private key file.
    pub private_key: String,
    /// The public key file.
    pub public_key: String,
    /// The name written into the public key file.
    pub name: Option<String>,
}

/// The text of a private key file, refused unless it is the signer's own
/// (owned by this process's user, not readable by group or others) and not
/// a public key given by mistake.
pub fn private_key_text(path: &Path) -> Result<String> {
    use std::os::unix::fs::MetadataExt;
    let f = crate::fsio::open_regular(path)?;
    let meta = f.metadata().map_err(|e| Error::io("stat", path, e))?;
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(f, 64 * 1024), &mut text)
        .map_err(|e| Error::io("read key", path, e))?;
    if text.contains("-----BEGIN PUBLIC KEY-----") {
        return Err(Error::input(format!(
            "`{}` is a public key; `--key` takes the private key file (the `.key` of the pair)",
            path.display()
        )));
    }
    let me = crate::actor::euid();
    if meta.uid() != me {
        return Err(Error::input(format!(
            "private key `{}` belongs to another user (uid {}, this process runs as uid {me}); a key file must be the signer's own",
            path.display(),
            meta.uid()
        )));
    }
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(Error::input(format!(
            "private key `{}` is readable by group or others (mode {:o}); run `chmod 600 {}`",
            path.display(),
            mode & 0o777,
            path.display()
        )));
    }
    Ok(text)
}

/// A new key pair at `PREFIX.key` (0600) and `PREFIX.pub`. Refuses to
/// overwrite either file.
pub fn generate(prefix: &Path, name: Option<&str>) -> Result<GeneratedKey> {
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(seed.as_mut()).map_err(|e| Error::system("read system randomness", e))?;
    write_pair(prefix, &SigningKey::from_bytes(&seed), name)
}

fn write_pair(prefix: &Path, key: &SigningKey, name: Option<&str>) -> Result<GeneratedKey> {
    let priv_path = PathBuf::from(format!("{}.key", prefix.display()));
    let pub_path = PathBuf::from(format!("{}.pub", prefix.display()));
    let public = PublicKey(key.verifying_key());
    let id = public.id();
    let pem = key
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| Error::system("encode the private key", e))?;
    if let Some(parent) = priv_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|e| Error::io("create directory", parent, e))?;
    }
    for p in [&priv_path, &pub_path] {
        if p.exists() {
            return Err(Error::input(format!(
                "`{}` exists; refusing to overwrite a key",
                p.display()
            )));
        }
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&priv_path)
        .map_err(|e| Error::io("create", &priv_path, e))?;
    f.write_all(pem.as_bytes())
        .map_err(|e| Error::io("write", &priv_path, e))?;
    f.sync_all()
        .map_err(|e| Error::io("fsync", &priv_path, e))?;
    let comment = match name {
        Some(n) => format!("# airlock ed25519 public key `{n}`, key id {id}\n"),
        None => format!("# airlock ed25519 public key, key id {id}\n"),
    };
    fs::write(&pub_path, format!("{comment}{}", public.to_pem()))
        .map_err(|e| Error::io("write", &pub_path, e))?;
    // Public keys are meant to be read by others, whatever the umask.
    fs::set_permissions(&pub_path, fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io("chmod", &pub_path, e))?;
    Ok(GeneratedKey {
        key_id: id,
        private_key: priv_path.display().to_string(),
        public_key: pub_path.display().to_string(),
        name: name.map(str::to_string),
    })
}

/// DSSE pre-authentication encoding: the exact bytes that are signed.
/// `"DSSEv1" SP len(type) SP type SP len(body) SP body`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    pae_owned(payload_type, payload.to_vec())
}

/// [`pae`] made in the payload's own buffer: a statement of a hundred
/// thousand files is tens of megabytes, and is not held twice.
pub fn pae_owned(payload_type: &str, mut payload: Vec<u8>) -> Vec<u8> {
    let head = format!(
        "DSSEv1 {} {payload_type} {} ",
        payload_type.len(),
        payload.len()
    );
    let n = payload.len();
    payload.reserve_exact(head.len());
    payload.resize(n + head.len(), 0);
    payload.copy_within(0..n, head.len());
    payload[..head.len()].copy_from_slice(head.as_bytes());
    payload
}

/// Which of `keys` signed PAE(`payload_type`, `payload`) among `sigs`,
/// each with the signature that verified. The one place signers are
/// counted, with bounded work: a key is looked up by the id a signature
/// claims and verified at most once (the claim only selects; the signature
/// must verify under the listed key, with `verify_strict`); signatures that
/// claim no key of `keys` cost nothing; each key counts once however many
/// signatures it made; keys come only from `keys`, never from the input.
pub fn signers<'k, K>(
    payload_type: &str,
    payload: &[u8],
    sigs: &[EnvelopeSignature],
    keys: &'k [K],
    id_of: impl Fn(&K) -> KeyId,
    public: impl Fn(&K) -> &PublicKey,
) -> Vec<(&'k K, Vec<u8>)> {
    signers_of(&pae(payload_type, payload), sigs, keys, id_of, public)
}

/// [`signers`] over a message already in PAE form (so a caller that also
/// checks each signature itself builds the message once).
pub fn signers_of<'k, K>(
    msg: &[u8],
    sigs: &[EnvelopeSignature],
    keys: &'k [K],
    id_of: impl Fn(&K) -> KeyId,
    public: impl Fn(&K) -> &PublicKey,
) -> Vec<(&'k K, Vec<u8>)> {
    let mut seen = std::collections::HashSet::new();
    keys.iter()
        .filter_map(|k| {
            let id = id_of(k);
            if !seen.insert(id) {
                return None;
            }
            let hex = id.to_hex();
            let sig = sigs
                .iter()
                .find(|s| s.keyid.eq_ignore_ascii_case(&hex))
                .and_then(|s| B64.decode(&s.sig).ok())?;
            public(k).verify(msg, &sig).then_some((k, sig))
        })
        .collect()
}

/// One signature in a DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvelopeSignature {
    /// The key id the signer claims: used only to look the key up among
    /// trusted keys; the signature must still verify under that key.
    pub keyid: String,
    /// The signature, base64.
    pub sig: String,
}

/// A DSSE envelope.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Envelope {
    /// The payload, base64.
    pub payload: String,
    /// What the payload is.
    #[serde(rename = "payloadType")]
    pub payload_type: String,
    /// The signatures over its PAE.
    pub signatures: Vec<EnvelopeSignature>,
}

impl Envelope {
    /// An envelope of `payload` with `sigs` (key id, signature bytes).
    pub fn new(payload_type: &str, payload: &[u8], sigs: &[(KeyId, Vec<u8>)]) -> Envelope {
        Envelope {
            payload: B64.encode(payload),
            payload_type: payload_type.into(),
            signatures: sigs
                .iter()
                .map(|(k, s)| EnvelopeSignature {
                    keyid: k.to_hex(),
                    sig: B64.encode(s),
                })
                .collect(),
        }
    }

    /// The payload bytes; not base64 is hostile input naming `what`.
    pub fn payload_bytes(&self, what: &str) -> Result<Vec<u8>> {
        B64.decode(&self.payload).map_err(|e| Error::Hostile {
            what: what.into(),
            reason: format!("payload is not base64: {e}"),
        })
    }

    /// The JSON bytes of `Envelope::new(payload_type, payload, sigs)`,
    /// written straight into one buffer of the right size: the base64 of a
    /// statement of a hundred thousand files is tens of megabytes, and is
    /// not built as a string and then copied again while serialising.
    pub fn bytes_of(payload_type: &str, payload: &[u8], sigs: &[(KeyId, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::with_capacity(payload.len().div_ceil(3) * 4 + 160 * sigs.len() + 96);
        Envelope::write(&mut out, payload_type, &mut &payload[..], sigs)
            .expect("writing into memory cannot fail");
        out
    }

    /// The bytes of [`Envelope::bytes_of`], written to `out` as the payload
    /// is read from `payload` (base64-encoded on the way): an envelope of a
    /// statement of a hundred thousand files need not be held at all.
    pub fn write(
        out: &mut dyn Write,
        payload_type: &str,
        payload: &mut dyn std::io::Read,
        sigs: &[(KeyId, Vec<u8>)],
    ) -> std::io::Result<()> {
        let sigs: Vec<EnvelopeSignature> = sigs
            .iter()
            .map(|(k, s)| EnvelopeSignature {
                keyid: k.to_hex(),
                sig: B64.encode(s),
            })
            .collect();
        // Field order and spelling as serde writes `Envelope`; base64 has
        // no character JSON escapes.
        out.write_all(br#"{"payload":""#)?;
        let mut enc = base64::write::EncoderWriter::new(&mut *out, &B64);
        std::io::copy(payload, &mut enc)?;
        enc.finish()?;
        drop(enc);
        out.write_all(br#"","payloadType":"#)?;
        serde_json::to_writer(&mut *out, payload_type)?;
        out.write_all(br#","signatures":"#)?;
        serde_json::to_writer(&mut *out, &sigs)?;
        out.write_all(b"}")
    }

    /// Read an envelope from outside, its payload decoded in the bytes' own
    /// buffer: an envelope of a statement of a hundred thousand files is
    /// tens of megabytes, and is held once (not as bytes, then as a base64
    /// string, then decoded). Returns the payload type, the signatures and
    /// the payload; anything malformed is hostile input naming `what`.
    pub fn open(
        mut bytes: Vec<u8>,
        what: &str,
    ) -> Result<(String, Vec<EnvelopeSignature>, Vec<u8>)> {
        #[derive(Deserialize)]
        struct Incoming<'a> {
            #[serde(borrow)]
            payload: std::borrow::Cow<'a, str>,
            #[serde(rename = "payloadType")]
            payload_type: String,
            signatures: Vec<EnvelopeSignature>,
        }
        let hostile = |reason: String| Error::Hostile {
            what: what.into(),
            reason,
        };
        let env: Incoming<'_> = serde_json::from_slice(&bytes)
            .map_err(|e| hostile(format!("not a DSSE envelope: {e}")))?;
        let not_base64 =
            |e: base64::DecodeSliceError| hostile(format!("payload is not base64: {e}"));
        let (payload_type, signatures) = (env.payload_type, env.signatures);
        let range = match env.payload {
            std::borrow::Cow::Borrowed(b) => {
                let start = b.as_ptr() as usize - bytes.as_ptr() as usize;
                start..start + b.len()
            }
            // Escaped characters in the string: decoded from its own copy.
            std::borrow::Cow::Owned(o) => {
                let payload = B64
                    .decode(&o)
                    .map_err(|e| hostile(format!("payload is not base64: {e}")))?;
                return Ok((payload_type, signatures, payload));
            }
        };
        // Decode forwards in chunks of whole quanta, writing each chunk's
        // bytes at the front: the write position never passes the read one.
        let (mut at, mut written) = (range.start, 0);
        let mut out = [0u8; 3 * 1024];
        while at < range.end {
            let end = (at + 4 * 1024).min(range.end);
            let n = B64
                .decode_slice(&bytes[at..end], &mut out)
                .map_err(not_base64)?;
            bytes[written..written + n].copy_from_slice(&out[..n]);
            written += n;
            at = end;
        }
        bytes.truncate(written);
        bytes.shrink_to_fit();
        Ok((payload_type, signatures, bytes))
    }

    /// Add `key`'s signature over the payload (replacing one it made
    /// before).
    pub fn sign_with(&mut self, key: &dyn KeySource) -> Result<KeyId> {
        let payload = self.payload_bytes("envelope")?;
        let id = key.public_key().id();
        let sig = key.sign(&pae(&self.payload_type, &payload))?;
        if !key
            .public_key()
            .verify(&pae(&self.payload_type, &payload), &sig)
        {
            return Err(Error::Untrusted {
                what: key.describe(),
                reason: "the key produced a signature that does not verify".into(),
            });
        }
        self.signatures
            .retain(|s| !s.keyid.eq_ignore_ascii_case(&id.to_hex()));
        self.signatures.push(EnvelopeSignature {
            keyid: id.to_hex(),
            sig: B64.encode(sig),
        });
        Ok(id)
    }
}

/// A signature as stored with a key id (an approval), as an envelope
/// signature for [`signers`].
pub fn claimed(id: &KeyId, sig: &[u8]) -> EnvelopeSignature {
    EnvelopeSignature {
        keyid: id.to_hex(),
        sig: B64.encode(sig),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_matches_the_dsse_spec_example() {
        // From the DSSE protocol description: PAE("http://example.com/HelloWorld", "hello world")
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world".to_vec()
        );
    }

    #[test]
    fn envelopes_are_written_as_serde_writes_them_and_opened_in_place() {
        let id = KeyId(Sha256Digest::of(b"key"));
        for len in [0usize, 1, 2, 3, 4, 3071, 3072, 3073, 10_000] {
            let payload: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let sigs = [(id, vec![1u8, 2, 3])];
            let bytes = Envelope::bytes_of("application/x-test", &payload, &sigs);
            let via_serde =
                serde_json::to_vec(&Envelope::new("application/x-test", &payload, &sigs)).unwrap();
            assert_eq!(bytes, via_serde, "payload of {len} bytes");
            let (t, got_sigs, got) = Envelope::open(bytes, "test").unwrap();
            assert_eq!(
                (t.as_str(), got_sigs.len(), got),
                ("application/x-test", 1, payload)
            );
        }
        // `\/` is a legal JSON spelling of `/` (a base64 character): decoded
        // from its own copy.
        let escaped = br#"{"payload":"a\/8=","payloadType":"t","signatures":[]}"#.to_vec();
        assert_eq!(
            Envelope::open(escaped, "test").unwrap().2,
            B64.decode("a/8=").unwrap()
        );
        for bad in [
            &br#"{"payload":"a*b=","payloadType":"t","signatures":[]}"#[..],
            br#"{"payload":"abc","payloadType":"t","signatures":[]}"#,
            br#"{"payloadType":"t","signatures":[]}"#,
            b"not json",
        ] {
            let err = Envelope::open(bad.to_vec(), "member `x`").unwrap_err();
            assert!(err.to_string().contains("member `x`"), "{err}");
        }
    }

    #[test]
    fn generated_keys_round_trip_and_private_mode_is_enforced() {
        let dir = tempfile::tempdir().unwrap();
        let prefix = dir.path().join("alice");
        let g = generate(&prefix, Some("alice")).unwrap();
        let key = FileKey::load(Path::new(&g.private_key)).unwrap();
        let public = PublicKey::load(Path::new(&g.public_key)).unwrap();
        assert_eq!(key.public_key(), public);
        assert_eq!(public.id(), g.key_id);
        let sig = key.sign(b"msg").unwrap();
        assert!(public.verify(b"msg", &sig));
        assert!(!public.verify(b"msh", &sig));
        assert!(generate(&prefix, None).is_err(), "never overwrites");
        fs::set_permissions(&g.private_key, fs::Permissions::from_mode(0o644)).unwrap();
        let err = FileKey::load(Path::new(&g.private_key)).err().unwrap();
        assert!(err.to_string().contains("readable by group or others"));
    }

    #[test]
    fn weak_keys_are_rejected() {
        // The identity point (a small-order point) encodes as 1 followed by zeros.
        let mut weak = [0u8; 32];
        weak[0] = 1;
        assert!(PublicKey::from_raw(&weak).is_err());
    }
}
