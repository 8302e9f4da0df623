//! Typed sha256 digests and the streaming hasher every byte passes through.
//!
//! A [`Sha256Digest`] is always 32 bytes, printed as 64 lowercase hex. The
//! [`HashingReader`] hashes exactly the bytes handed to the caller, so "one
//! pass" is structural: whoever reads through it has hashed what they read.
//! [`Hasher::update_pair`] feeds two streams through one core at once
//! ([`two_lane`]). No I/O of its own.

use std::fmt;
use std::io::{self, Read};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

mod two_lane;

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

/// Incremental sha256: the state words, the bytes of a block not yet full,
/// and the length so far. Blocks are compressed by `sha2` (which picks the
/// CPU's instructions), two streams at once by [`Hasher::update_pair`].
#[derive(Clone)]
pub(crate) struct Hasher {
    state: [u32; 8],
    block: [u8; 64],
    held: usize,
    total: u64,
}

/// The initial state (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

impl Default for Hasher {
    fn default() -> Self {
        Hasher::new()
    }
}

impl Hasher {
    pub(crate) fn new() -> Self {
        Hasher {
            state: IV,
            block: [0; 64],
            held: 0,
            total: 0,
        }
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        let rest = self.top_up(bytes);
        self.absorb(rest);
    }

    /// Hash `x` into `a` and `y` into `b`: the same as `a.update(x);
    /// b.update(y)`, with the blocks both have compressed side by side on
    /// this core (see [`two_lane`]).
    pub(crate) fn update_pair(a: &mut Hasher, x: &[u8], b: &mut Hasher, y: &[u8]) {
        let x = a.top_up(x);
        let y = b.top_up(y);
        let n = (x.len() / 64).min(y.len() / 64);
        if n > 0 {
            let (xb, _) = x[..n * 64].as_chunks::<64>();
            let (yb, _) = y[..n * 64].as_chunks::<64>();
            two_lane::compress_pair(&mut a.state, xb, &mut b.state, yb);
        }
        a.absorb(&x[n * 64..]);
        b.absorb(&y[n * 64..]);
    }

    /// Count `bytes` and fill the held block from them (compressing it once
    /// full); the rest, which is non-empty only when nothing is held.
    fn top_up<'a>(&mut self, bytes: &'a [u8]) -> &'a [u8] {
        self.total = self.total.wrapping_add(bytes.len() as u64);
        if self.held == 0 {
            return bytes;
        }
        let take = (64 - self.held).min(bytes.len());
        self.block[self.held..self.held + take].copy_from_slice(&bytes[..take]);
        self.held += take;
        if self.held == 64 {
            sha2::block_api::compress256(&mut self.state, std::slice::from_ref(&self.block));
            self.held = 0;
        }
        &bytes[take..]
    }

    /// Compress the whole blocks of `bytes` (already counted; nothing held)
    /// and hold the tail.
    fn absorb(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        debug_assert_eq!(self.held, 0);
        let (blocks, tail) = bytes.as_chunks::<64>();
        sha2::block_api::compress256(&mut self.state, blocks);
        self.block[..tail.len()].copy_from_slice(tail);
        self.held = tail.len();
    }

    pub(crate) fn finish(mut self) -> Sha256Digest {
        // Padding: 0x80, zeros, the length in bits as a big-endian u64.
        let mut last = [0u8; 128];
        last[..self.held].copy_from_slice(&self.block[..self.held]);
        last[self.held] = 0x80;
        let end = if self.held < 56 { 64 } else { 128 };
        last[end - 8..end].copy_from_slice(&self.total.wrapping_mul(8).to_be_bytes());
        let (blocks, _) = last[..end].as_chunks::<64>();
        sha2::block_api::compress256(&mut self.state, blocks);
        let mut bytes = [0u8; 32];
        for (out, word) in bytes.chunks_exact_mut(4).zip(self.state) {
            out.copy_from_slice(&word.to_be_bytes());
        }
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

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.feed(bytes, None);
    }

    /// [`PieceHasher::update`] and `whole.update(bytes)` on this core, the
    /// two streams side by side ([`Hasher::update_pair`]).
    pub(crate) fn update_beside(&mut self, whole: &mut Hasher, bytes: &[u8]) {
        self.feed(bytes, Some(whole));
    }

    fn feed(&mut self, mut bytes: &[u8], mut whole: Option<&mut Hasher>) {
        self.total += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = (self.size - self.filled) as usize;
            let take = room.min(bytes.len());
            match whole.as_deref_mut() {
                Some(w) => {
                    Hasher::update_pair(w, &bytes[..take], &mut self.current, &bytes[..take])
                }
                None => self.current.update(&bytes[..take]),
            }
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

    /// The digest by the `sha2` crate's own hasher.
    fn reference(data: &[u8]) -> Sha256Digest {
        use sha2::Digest as _;
        Sha256Digest::from_bytes(sha2::Sha256::digest(data).into())
    }

    #[test]
    fn known_vectors() {
        // FIPS 180-4 examples: one block, two blocks, a million "a".
        assert_eq!(
            Sha256Digest::of(b"abc").to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            Sha256Digest::of(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").to_hex(),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        );
        let a = vec![b'a'; 1_000_000];
        let mut x = Hasher::new();
        let mut y = Hasher::new();
        Hasher::update_pair(&mut x, &a, &mut y, &a[..999_999]);
        y.update(b"a");
        let want = "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
        assert_eq!(x.finish().to_hex(), want);
        assert_eq!(y.finish().to_hex(), want);
        assert_eq!(Hasher::new().finish(), reference(b""));
    }

    /// The SHA-NI kernel itself (release builds use it; debug builds, where
    /// it is slow, do not), block by block against `sha2`'s compression.
    #[cfg(target_arch = "x86_64")]
    #[test]
    #[allow(unsafe_code)] // calls the kernel after the CPU check, SAFETY below
    #[allow(clippy::print_stderr)] // says loudly that there was nothing to test
    fn sha_ni_kernel_matches_sha2() {
        if !two_lane::sha_ni::available() {
            eprintln!("NOTE: this CPU has no SHA extensions; the two-lane kernel is not used here");
            return;
        }
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut blocks = vec![[0u8; 64]; 40];
        for b in blocks.iter_mut().flatten() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        for n in [0, 1, 2, 7, 20] {
            let (a, b) = (&blocks[..n], &blocks[20..20 + n]);
            let (mut sa, mut sb) = (IV, [7u32, 6, 5, 4, 3, 2, 1, 0]);
            let (mut ra, mut rb) = (sa, sb);
            // SAFETY: `available` said the CPU has the instructions.
            unsafe { two_lane::sha_ni::compress_pair(&mut sa, a, &mut sb, b) };
            sha2::block_api::compress256(&mut ra, a);
            sha2::block_api::compress256(&mut rb, b);
            assert_eq!((sa, sb), (ra, rb), "{n} blocks");
        }
        // Unequal lengths: the shorter's count side by side, the rest alone.
        let (mut sa, mut sb) = (IV, IV);
        two_lane::compress_pair(&mut sa, &blocks[..5], &mut sb, &blocks[10..19]);
        let (mut ra, mut rb) = (IV, IV);
        sha2::block_api::compress256(&mut ra, &blocks[..5]);
        sha2::block_api::compress256(&mut rb, &blocks[10..19]);
        assert_eq!((sa, sb), (ra, rb), "5 and 9 blocks");
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
            proptest::prop_assert_eq!(h.finish(), reference(&data));
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

        /// Two streams fed side by side give each stream's own digest,
        /// however each is cut into updates and whatever their lengths.
        #[test]
        fn pair_updates_equal_single_streams(
            x in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            y in proptest::collection::vec(proptest::num::u8::ANY, 0..3000),
            cuts in proptest::collection::vec((0usize..3000, 0usize..3000), 0..8),
        ) {
            let mut cuts: Vec<(usize, usize)> =
                cuts.into_iter().map(|(a, b)| (a.min(x.len()), b.min(y.len()))).collect();
            cuts.sort_by_key(|c| c.0);
            let mut ys: Vec<usize> = cuts.iter().map(|c| c.1).collect();
            ys.sort();
            let (mut hx, mut hy) = (Hasher::new(), Hasher::new());
            let (mut ax, mut ay) = (0, 0);
            for (cx, cy) in cuts.iter().map(|c| c.0).zip(ys).chain([(x.len(), y.len())]) {
                Hasher::update_pair(&mut hx, &x[ax..cx], &mut hy, &y[ay..cy]);
                (ax, ay) = (cx, cy);
            }
            proptest::prop_assert_eq!(hx.finish(), reference(&x));
            proptest::prop_assert_eq!(hy.finish(), reference(&y));
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
            // The same pieces, and the whole digest, fed side by side.
            let mut p = PieceHasher::new(size);
            let mut whole = Hasher::new();
            for part in data.chunks(cuts.first().copied().unwrap_or(5000).max(1)) {
                p.update_beside(&mut whole, part);
            }
            proptest::prop_assert_eq!(whole.finish(), reference(&data));
            proptest::prop_assert_eq!(&p.finish(), &got);
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
