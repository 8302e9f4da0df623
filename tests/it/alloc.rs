//! "Never allocates more than the file size allows": every parser of
//! untrusted bytes is run in-process under a counting allocator that records
//! the largest single allocation the current thread asks for, on arbitrary
//! bytes and on headers that declare absurd lengths.
//!
//! Audited unsafe: the allocator only counts and delegates to `System`.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Cursor;

use airlock::formats::{gguf, npy, pickle, safetensors, tar, zip};

struct Counting;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| {
        if size > l.get() {
            l.set(size);
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; only notes sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Fixed working memory a parser may use whatever the input (the zip
/// reader's end-of-directory window is the largest).
const SLACK: usize = 128 * 1024;

fn largest_while(f: impl FnOnce()) -> usize {
    LARGEST.with(|l| l.set(0));
    f();
    LARGEST.with(|l| l.get())
}

/// One parser run over the input.
type Run<'a> = Box<dyn Fn() + 'a>;

fn check_all(b: &[u8]) {
    let n = b.len() as u64;
    let cases: [(&str, Run<'_>); 6] = [
        (
            "safetensors",
            Box::new(|| drop(safetensors::inspect(&mut &b[..], n))),
        ),
        ("gguf", Box::new(|| drop(gguf::inspect(&mut &b[..], n)))),
        ("npy", Box::new(|| drop(npy::inspect(&mut &b[..], n)))),
        ("tar", Box::new(|| drop(tar::inspect(&mut &b[..], n)))),
        (
            "pickle",
            Box::new(|| drop(pickle::walk(&mut &b[..], n, true))),
        ),
        (
            "zip",
            Box::new(|| drop(zip::inspect(&mut Cursor::new(b), n))),
        ),
    ];
    for (name, f) in cases {
        let most = largest_while(f);
        assert!(
            most <= b.len() + SLACK,
            "{name} allocated {most} bytes at once for a {}-byte input",
            b.len()
        );
    }
}

#[test]
fn absurd_declared_lengths_do_not_allocate() {
    // safetensors: a 4 GiB header length in a tiny file.
    let mut st = (4u64 << 30).to_le_bytes().to_vec();
    st.extend_from_slice(b"{}");
    // GGUF: 2^40 tensors and a 2^50-byte string.
    let mut g = b"GGUF\x03\x00\x00\x00".to_vec();
    g.extend_from_slice(&(1u64 << 40).to_le_bytes());
    g.extend_from_slice(&1u64.to_le_bytes());
    g.extend_from_slice(&(1u64 << 50).to_le_bytes());
    // pickle: BINBYTES8 of 2^60 bytes, BINUNICODE of 2^31.
    let mut p = b"\x80\x05\x8e".to_vec();
    p.extend_from_slice(&(1u64 << 60).to_le_bytes());
    let mut p2 = b"\x80\x02X".to_vec();
    p2.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
    // npy: a v2 header of 2^31 bytes.
    let mut y = b"\x93NUMPY\x02\x00".to_vec();
    y.extend_from_slice(&0x7fff_ffffu32.to_le_bytes());
    // zip: an end record claiming a 4 GiB central directory.
    let mut z = b"PK\x05\x06\0\0\0\0\xff\xff\xff\xff".to_vec();
    z.extend_from_slice(&0xffff_fff0u32.to_le_bytes());
    z.extend_from_slice(&0u32.to_le_bytes());
    z.extend_from_slice(&0u16.to_le_bytes());
    // tar: a GNU long name of 2 GiB in a one-block file.
    let mut t = vec![0u8; 512];
    t[..13].copy_from_slice(b"././@LongLink");
    t[124..136].copy_from_slice(b"17777777777\0");
    t[156] = b'L';
    t[257..265].copy_from_slice(b"ustar  \0");
    let sum: u32 = t.iter().map(|&x| u32::from(x)).sum::<u32>() + 8 * u32::from(b' ');
    t[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    for b in [st, g, p, p2, y, z, t] {
        check_all(&b);
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
    #[test]
    fn arbitrary_bytes_allocate_within_their_size(b in proptest::collection::vec(proptest::num::u8::ANY, 0..3000)) {
        check_all(&b);
    }
}
