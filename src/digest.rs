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

/// The piece size new imports record: 256 MiB (`AIRLOCK_PIECE_MIB`
/// overrides it, at least 1 MiB, a whole number of chunks).
pub const PIECE_SIZE: u64 = 256 << 20;

/// The piece size for new records.
pub fn piece_size() -> u64 {
    std::env::var("AIRLOCK_PIECE_MIB")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|m| (1..=1 << 20).contains(m))
        .map_or(PIECE_SIZE, |m| m << 20)
}

/// The sha256 of each fixed-size piece of a file (the last one may be
/// shorter). Recorded beside the file's own sha256 for files larger than
/// one piece, so a single large file can be verified on every core: the
/// pieces were derived from the bytes whose whole digest matched, so
/// checking every piece proves the same bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pieces {
    /// The piece size in bytes.
    pub size: u64,
    /// The digest of each piece, in order.
    pub sha256: Vec<Sha256Digest>,
}

impl Pieces {
    /// How many pieces of `size` bytes a file of `len` bytes has.
    pub fn count(len: u64, size: u64) -> u64 {
        if size == 0 { 0 } else { len.div_ceil(size) }
    }

    /// Byte range of piece `i` of a file of `len` bytes.
    pub fn range(&self, i: usize, len: u64) -> (u64, u64) {
        let start = i as u64 * self.size;
        (start, (start + self.size).min(len))
    }

    /// Whether the list fits a file of `len` bytes (right count, sane size).
    pub fn fits(&self, len: u64) -> bool {
        self.size >= CHUNK as u64
            && len > self.size
            && Pieces::count(len, self.size) == self.sha256.len() as u64
    }
}

/// Hashes pieces as bytes stream past (the same pass as the whole digest).
pub(crate) struct PieceHasher {
    size: u64,
    current: Hasher,
    filled: u64,
    done: Vec<Sha256Digest>,
    total: u64,
}

impl PieceHasher {
    pub(crate) fn new(size: u64) -> Self {
        PieceHasher {
            size: size.max(1),
            current: Hasher::new(),
            filled: 0,
            done: Vec::new(),
            total: 0,
        }
    }

    pub(crate) fn update(&mut self, mut bytes: &[u8]) {
        self.total += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = (self.size - self.filled) as usize;
            let take = room.min(bytes.len());
            self.current.update(&bytes[..take]);
            self.filled += take as u64;
            bytes = &bytes[take..];
            if self.filled == self.size {
                let h = std::mem::take(&mut self.current);
                self.done.push(h.finish());
                self.filled = 0;
            }
        }
    }

    /// The pieces, or `None` for a file of one piece or less.
    pub(crate) fn finish(mut self) -> Option<Pieces> {
        if self.total <= self.size {
            return None;
        }
        if self.filled > 0 {
            self.done.push(self.current.finish());
        }
        Some(Pieces {
            size: self.size,
            sha256: self.done,
        })
    }
}

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

    proptest::proptest! {
        /// Pieces agree with whole-file hashing: for any size, piece size and
        /// split of the stream, each piece digest is the digest of exactly
        /// its byte range; the list is absent for a file of one piece or
        /// less; and a changed byte changes the whole digest and exactly the
        /// piece that holds it.
        #[test]
        fn pieces_and_whole_file_agree(
            data in proptest::collection::vec(proptest::num::u8::ANY, 0..5000),
            size in 1u64..700,
            cuts in proptest::collection::vec(0usize..5000, 0..10),
            flip in 0usize..5000,
        ) {
            let hash = |bytes: &[u8]| {
                let mut cuts: Vec<usize> = cuts.iter().map(|c| (*c).min(bytes.len())).collect();
                cuts.sort();
                let mut p = PieceHasher::new(size);
                let mut at = 0;
                for c in cuts.into_iter().chain([bytes.len()]) {
                    p.update(&bytes[at..c]);
                    at = c;
                }
                p.finish()
            };
            let got = hash(&data);
            if data.len() as u64 <= size {
                proptest::prop_assert!(got.is_none());
                return Ok(());
            }
            let got = got.unwrap();
            proptest::prop_assert_eq!(got.sha256.len() as u64, Pieces::count(data.len() as u64, size));
            for (k, d) in got.sha256.iter().enumerate() {
                let (a, b) = got.range(k, data.len() as u64);
                proptest::prop_assert_eq!(*d, Sha256Digest::of(&data[a as usize..b as usize]));
            }
            let at = flip % data.len();
            let mut changed = data.clone();
            changed[at] ^= 0x5a;
            let other = hash(&changed).unwrap();
            let differing: Vec<usize> = got
                .sha256
                .iter()
                .zip(&other.sha256)
                .enumerate()
                .filter(|(_, (a, b))| a != b)
                .map(|(k, _)| k)
                .collect();
            proptest::prop_assert_eq!(differing, vec![at / size as usize]);
            proptest::prop_assert_ne!(Sha256Digest::of(&data), Sha256Digest::of(&changed));
        }
    }
}
