//! Two independent sha256 streams compressed side by side on one core.
//!
//! One sha256 stream is a chain: each round of the x86 SHA extensions
//! waits for the one before. Two unrelated streams interleaved instruction
//! by instruction fill the gaps, so one core hashes two streams faster than
//! it hashes them one after the other (measured in `docs/benchmarks.md`).
//! No kept crate offers this for incremental streams (`sha2` compresses one
//! state at a time), so the kernel is here: the FIPS 180-4 round function
//! on the `sha256rnds2` / `sha256msg1` / `sha256msg2` instructions, written
//! for two states at once. Every other CPU, and debug builds (where the
//! intrinsics are not inlined and run 30× slower; the unit tests still
//! use the kernel), compress each stream with `sha2` in turn: the same
//! digests, checked against `sha2` by the tests.
#![allow(unsafe_code)] // audited: SHA-NI intrinsics behind a CPU check, SAFETY below

/// Compress the blocks `a` into `sa` and the blocks `b` into `sb`: as many
/// as both have side by side, the rest of the longer one alone.
pub(super) fn compress_pair(sa: &mut [u32; 8], a: &[[u8; 64]], sb: &mut [u32; 8], b: &[[u8; 64]]) {
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if (cfg!(test) || !cfg!(debug_assertions)) && sha_ni::available() {
        // SAFETY: the CPU has the instructions the kernel is compiled for.
        unsafe { sha_ni::compress_pair(sa, &a[..n], sb, &b[..n]) };
        sha2::block_api::compress256(sa, &a[n..]);
        sha2::block_api::compress256(sb, &b[n..]);
        return;
    }
    sha2::block_api::compress256(sa, a);
    sha2::block_api::compress256(sb, b);
}

#[cfg(target_arch = "x86_64")]
pub(super) mod sha_ni {
    use core::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_alignr_epi8, _mm_blend_epi16, _mm_loadu_si128, _mm_set_epi64x,
        _mm_sha256msg1_epu32, _mm_sha256msg2_epu32, _mm_sha256rnds2_epu32, _mm_shuffle_epi8,
        _mm_shuffle_epi32, _mm_storeu_si128,
    };

    /// Whether this CPU has the SHA extensions and the SSE levels the
    /// kernel uses (std caches the answer).
    pub(crate) fn available() -> bool {
        std::arch::is_x86_feature_detected!("sha")
            && std::arch::is_x86_feature_detected!("sse4.1")
            && std::arch::is_x86_feature_detected!("ssse3")
    }

    /// The 64 round constants (FIPS 180-4, 4.2.2), four per 4-round step.
    const K: [[u32; 4]; 16] = [
        [0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5],
        [0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5],
        [0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3],
        [0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174],
        [0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc],
        [0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da],
        [0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7],
        [0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967],
        [0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13],
        [0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85],
        [0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3],
        [0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070],
        [0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5],
        [0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3],
        [0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208],
        [0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2],
    ];

    /// One stream's working state in the order the instructions want:
    /// (A, B, E, F) and (C, D, G, H).
    #[derive(Clone, Copy)]
    struct Lane {
        abef: __m128i,
        cdgh: __m128i,
    }

    impl Lane {
        /// From the eight state words (a..h).
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        fn load(s: &[u32; 8]) -> Lane {
            // SAFETY: `s` is 32 readable bytes; unaligned loads.
            let (abcd, efgh) = unsafe {
                let p = s.as_ptr().cast::<__m128i>();
                (_mm_loadu_si128(p), _mm_loadu_si128(p.add(1)))
            };
            let badc = _mm_shuffle_epi32(abcd, 0xB1);
            let hgfe = _mm_shuffle_epi32(efgh, 0x1B);
            Lane {
                abef: _mm_alignr_epi8(badc, hgfe, 8),
                cdgh: _mm_blend_epi16(hgfe, badc, 0xF0),
            }
        }

        /// Back into the eight state words.
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        fn store(self, s: &mut [u32; 8]) {
            let feba = _mm_shuffle_epi32(self.abef, 0x1B);
            let dchg = _mm_shuffle_epi32(self.cdgh, 0xB1);
            let abcd = _mm_blend_epi16(feba, dchg, 0xF0);
            let efgh = _mm_alignr_epi8(dchg, feba, 8);
            // SAFETY: `s` is 32 writable bytes; unaligned stores.
            unsafe {
                let p = s.as_mut_ptr().cast::<__m128i>();
                _mm_storeu_si128(p, abcd);
                _mm_storeu_si128(p.add(1), efgh);
            }
        }

        /// Four rounds with message words `w` (step `i` of 16).
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        #[inline]
        fn rounds(&mut self, w: __m128i, k: __m128i) {
            let m = _mm_add_epi32(w, k);
            self.cdgh = _mm_sha256rnds2_epu32(self.cdgh, self.abef, m);
            self.abef = _mm_sha256rnds2_epu32(self.abef, self.cdgh, _mm_shuffle_epi32(m, 0x0E));
        }

        /// Add the state from before the block (the feed-forward).
        #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
        #[inline]
        fn add(&mut self, before: Lane) {
            self.abef = _mm_add_epi32(self.abef, before.abef);
            self.cdgh = _mm_add_epi32(self.cdgh, before.cdgh);
        }
    }

    /// The next four schedule words from the sixteen before them, held as
    /// `w[0..4]` oldest first; the new words replace `w[0]`.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn schedule(w0: __m128i, w1: __m128i, w2: __m128i, w3: __m128i) -> __m128i {
        let t = _mm_add_epi32(_mm_sha256msg1_epu32(w0, w1), _mm_alignr_epi8(w3, w2, 4));
        _mm_sha256msg2_epu32(t, w3)
    }

    /// A block's sixteen words, big-endian as sha256 reads them.
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    #[inline]
    fn words(block: &[u8; 64], swap: __m128i) -> [__m128i; 4] {
        // SAFETY: the block is 64 readable bytes; unaligned loads.
        unsafe {
            let p = block.as_ptr().cast::<__m128i>();
            [
                _mm_shuffle_epi8(_mm_loadu_si128(p), swap),
                _mm_shuffle_epi8(_mm_loadu_si128(p.add(1)), swap),
                _mm_shuffle_epi8(_mm_loadu_si128(p.add(2)), swap),
                _mm_shuffle_epi8(_mm_loadu_si128(p.add(3)), swap),
            ]
        }
    }

    /// Both streams, block by block, their instructions interleaved (as
    /// many blocks as the shorter has).
    ///
    /// # Safety
    ///
    /// The CPU must have the SHA extensions, SSSE3 and SSE4.1
    /// ([`available`]).
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    pub(crate) unsafe fn compress_pair(
        sa: &mut [u32; 8],
        a: &[[u8; 64]],
        sb: &mut [u32; 8],
        b: &[[u8; 64]],
    ) {
        let swap = _mm_set_epi64x(0x0c0d_0e0f_0809_0a0b, 0x0405_0607_0001_0203);
        // SAFETY: `K` is 256 readable bytes; unaligned loads.
        let k: [__m128i; 16] =
            std::array::from_fn(|i| unsafe { _mm_loadu_si128(K[i].as_ptr().cast::<__m128i>()) });
        let mut x = Lane::load(sa);
        let mut y = Lane::load(sb);
        for (ba, bb) in a.iter().zip(b) {
            let (x0, y0) = (x, y);
            let mut u = words(ba, swap);
            let mut v = words(bb, swap);
            for i in 0..4 {
                x.rounds(u[i], k[i]);
                y.rounds(v[i], k[i]);
            }
            for step in 1..4 {
                for i in 0..4 {
                    u[i] = schedule(u[i], u[(i + 1) % 4], u[(i + 2) % 4], u[(i + 3) % 4]);
                    v[i] = schedule(v[i], v[(i + 1) % 4], v[(i + 2) % 4], v[(i + 3) % 4]);
                    x.rounds(u[i], k[step * 4 + i]);
                    y.rounds(v[i], k[step * 4 + i]);
                }
            }
            x.add(x0);
            y.add(y0);
        }
        x.store(sa);
        y.store(sb);
    }
}
