//! Typed sha256 digests and the streaming hasher every byte passes through.
//!
//! A [`Sha256Digest`] is always 32 bytes, printed as 64 lowercase hex. The
//! [`HashingReader`] hashes exactly the bytes handed to the caller, so "one
//! pass" is structural: whoever reads through it has hashed what they read.
//! No I/O of its own.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// A sha256 digest (typed, never a bare string).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256Digest([u8; 32]);

impl Sha256Digest {
    /// A digest from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256Digest(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// One-shot digest of a byte slice (for small, in-memory documents).
    pub fn of(bytes: &[u8]) -> Self {
        let mut h = Hasher::new();
        h.update(bytes);
        h.finish()
    }

    /// 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// `sha256:<hex>`, the form used in references and documents.
    pub fn prefixed(&self) -> String {
        format!("sha256:{}", self.to_hex())
    }

    /// The first `n` hex characters (for short display).
    pub fn short(&self, n: usize) -> String {
        let mut s = self.to_hex();
        s.truncate(n);
        s
    }
}

impl fmt::Display for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256Digest({})", self.to_hex())
    }
}

/// Error returned when text is not 64 hex characters.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a sha256 digest (64 hex characters)")]
pub struct ParseDigestError(pub String);

impl FromStr for Sha256Digest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let hex_part = s.strip_prefix("sha256:").unwrap_or(s);
        if hex_part.len() != 64 {
            return Err(ParseDigestError(s.to_string()));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_part.to_ascii_lowercase(), &mut out)
            .map_err(|_| ParseDigestError(s.to_string()))?;
        Ok(Sha256Digest(out))
    }
}

impl Serialize for Sha256Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for Sha256Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Incremental sha256.
#[derive(Clone, Default)]
pub(crate) struct Hasher(Sha256);

impl Hasher {
    pub(crate) fn new() -> Self {
        Hasher(Sha256::new())
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn finish(self) -> Sha256Digest {
        let out = self.0.finalize();
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(out.as_slice());
        Sha256Digest(bytes)
    }
}

/// The git blob id (sha1 of `blob <len>\0` + content), which the Hugging Face
/// hub uses as the etag / blob name of files not stored in LFS.
pub(crate) struct GitBlobHasher(sha1::Sha1);

impl GitBlobHasher {
    pub(crate) fn new(len: u64) -> Self {
        use sha1::Digest as _;
        let mut h = sha1::Sha1::new();
        h.update(format!("blob {len}\0").as_bytes());
        GitBlobHasher(h)
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        use sha1::Digest as _;
        self.0.update(bytes);
    }

    /// 40 lowercase hex.
    pub(crate) fn finish(self) -> String {
        use sha1::Digest as _;
        hex::encode(self.0.finalize().as_slice())
    }
}

/// A reader that hashes every byte it hands out.
pub(crate) struct HashingReader<R> {
    inner: R,
    hasher: Hasher,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    pub(crate) fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: Hasher::new(),
            bytes: 0,
        }
    }

    pub(crate) fn finish(self) -> (Sha256Digest, u64) {
        (self.hasher.finish(), self.bytes)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Size of the buffer each worker streams through. Bounded, so memory does
/// not grow with the model.
pub const CHUNK: usize = 1 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector() {
        assert_eq!(
            Sha256Digest::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn git_blob_id_matches_git() {
        // `printf 'hello\n' | git hash-object --stdin`
        let mut h = GitBlobHasher::new(6);
        h.update(b"hello\n");
        assert_eq!(h.finish(), "ce013625030ba8dba906f756967f9e9ca394464a");
    }

    proptest::proptest! {
        /// Streaming hash == one-shot hash, however the bytes are split.
        #[test]
        fn streaming_equals_one_shot(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..5000),
            cuts in proptest::collection::vec(0usize..5000, 0..10),
        ) {
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort();
            let mut h = Hasher::new();
            let mut g = GitBlobHasher::new(data.len() as u64);
            let mut at = 0;
            for c in cuts.into_iter().chain([data.len()]) {
                h.update(&data[at..c]);
                g.update(&data[at..c]);
                at = c;
            }
            proptest::prop_assert_eq!(h.finish(), Sha256Digest::of(&data));
            let mut one = GitBlobHasher::new(data.len() as u64);
            one.update(&data);
            proptest::prop_assert_eq!(g.finish(), one.finish());
            // And through the reader, in whatever chunks `read_to_end` uses.
            let mut r = HashingReader::new(&data[..]);
            let mut sink = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut sink).unwrap();
            let (d, n) = r.finish();
            proptest::prop_assert_eq!(d, Sha256Digest::of(&data));
            proptest::prop_assert_eq!(n, data.len() as u64);
        }

        /// Hex round trip for any digest.
        #[test]
        fn hex_round_trip(bytes in proptest::array::uniform32(proptest::num::u8::ANY)) {
            let d = Sha256Digest::from_bytes(bytes);
            proptest::prop_assert_eq!(d.to_hex().parse::<Sha256Digest>().unwrap(), d);
        }
    }

    #[test]
    fn parse_round_trip() {
        let d = Sha256Digest::of(b"x");
        assert_eq!(d.to_hex().parse::<Sha256Digest>().unwrap(), d);
        assert_eq!(d.prefixed().parse::<Sha256Digest>().unwrap(), d);
        assert!("abc".parse::<Sha256Digest>().is_err());
        assert!("z".repeat(64).parse::<Sha256Digest>().is_err());
    }
}
