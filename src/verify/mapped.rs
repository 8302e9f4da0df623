//! Windows of a file mapped read-only, for hashing without a copy.
//!
//! `pread` copies every byte from the page cache into a buffer before the
//! hash reads it; a mapped window lets the hash read the page cache itself
//! (measured in `docs/benchmarks.md`). The catch of mapping is a file that
//! shrinks while mapped: touching a page past its new end raises `SIGBUS`,
//! which kills the process by default. Here a process-wide handler (chained
//! to whatever handler was there before, Rust's own stack-overflow handler
//! among them) looks the faulting address up among the windows in use; if
//! it is in one, zeros are mapped over the rest of that window, the window
//! is marked *lost*, and the read goes on. The owner sees [`Window::lost`]
//! and reports the file as changed while it was read — the hash of those
//! bytes is never used. A fault anywhere else goes to the previous handler.
//!
//! Windows are small ([`WINDOW`]) and unmapped as soon as they are hashed,
//! so the pages they touch do not pile up in the process's resident size.
#![allow(unsafe_code)] // audited: mmap, munmap and sigaction; SAFETY on each block

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Bytes mapped at a time per stream: one huge page, so the kernel can map
/// a window of cached file with one page-table entry (a fifth of the system
/// time of 1 MiB windows, measured), small enough that the resident size
/// (mapped pages count in it) stays flat: two windows per core.
pub(crate) const WINDOW: usize = 2 << 20;

/// Bytes asked of the disk ahead of the window being hashed. A fault on a
/// mapped page that is not cached reads only a little ahead and waits;
/// asking for the next 16 MiB first
/// ([`crate::fsio::advise_will_need`]) keeps a cold read as fast as `pread`'s
/// own readahead (measured), and costs a cache lookup when it is warm.
pub(crate) const AHEAD: u64 = 16 << 20;

/// Windows mapped at once, process-wide (eight cores' worth: 32 MiB of
/// mapped pages at most in the resident size); past this, callers read
/// instead.
const SLOTS: usize = 16;

/// One window in use: its address range and whether part of it was lost.
struct Slot {
    used: AtomicBool,
    start: AtomicUsize,
    end: AtomicUsize,
    lost: AtomicBool,
}

#[allow(clippy::declare_interior_mutable_const)] // the initialiser of each slot
const FREE: Slot = Slot {
    used: AtomicBool::new(false),
    start: AtomicUsize::new(0),
    end: AtomicUsize::new(0),
    lost: AtomicBool::new(false),
};

static WINDOWS: [Slot; SLOTS] = [FREE; SLOTS];

/// The handler that was installed before ours, and the page size; set once.
struct Installed {
    previous: libc::sigaction,
    page: usize,
}

// SAFETY: `libc::sigaction` is plain data (a function address, a mask,
// flags); it is written once before it is shared and only read after.
unsafe impl Sync for Installed {}
unsafe impl Send for Installed {}

static INSTALLED: OnceLock<Option<Installed>> = OnceLock::new();

/// Install the `SIGBUS` handler once; `None` when that failed (callers
/// then read instead of mapping).
fn installed() -> Option<&'static Installed> {
    INSTALLED
        .get_or_init(|| {
            // SAFETY: sysconf has no preconditions.
            let page = usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).ok()?;
            if page == 0 || !page.is_power_of_two() {
                return None;
            }
            // SAFETY: both structs are fully initialised (zeroed, then the
            // fields sigaction reads are set); sigaction only reads `ours`
            // and writes `previous`.
            unsafe {
                let mut ours: libc::sigaction = std::mem::zeroed();
                ours.sa_sigaction = on_sigbus as *const () as libc::sighandler_t;
                ours.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut ours.sa_mask);
                let mut previous: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(libc::SIGBUS, &ours, &mut previous) != 0 {
                    return None;
                }
                Some(Installed { previous, page })
            }
        })
        .as_ref()
}

/// The `SIGBUS` handler: only async-signal-safe work (atomics, `mmap`,
/// `sigaction`, a call of the previous handler).
extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: the kernel hands a valid siginfo to an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    let Some(Some(inst)) = INSTALLED.get() else {
        return;
    };
    for slot in &WINDOWS {
        let (start, end) = (
            slot.start.load(Ordering::Acquire),
            slot.end.load(Ordering::Acquire),
        );
        if start <= addr && addr < end {
            let page = addr & !(inst.page - 1);
            // SAFETY: `page..end` lies inside a window this process mapped
            // and has not unmapped (the slot is cleared before munmap);
            // MAP_FIXED replaces those pages with private zero pages.
            let r = unsafe {
                libc::mmap(
                    page as *mut libc::c_void,
                    end - page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if r != libc::MAP_FAILED {
                slot.lost.store(true, Ordering::Release);
                return;
            }
        }
    }
    // Not one of ours: what would have happened without us.
    let prev = &inst.previous;
    let handler = prev.sa_sigaction;
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // SAFETY: restoring the default action; returning re-runs the
        // faulting access, which then ends the process as it would have.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut dfl.sa_mask);
            libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut());
        }
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so
        // it has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { std::mem::transmute(handler) };
        f(sig, info, ctx);
    } else {
        // SAFETY: a plain handler takes the signal number only.
        let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
        f(sig);
    }
}

/// Bytes `offset..offset + len` of a file, mapped read-only.
pub(crate) struct Window {
    base: *mut libc::c_void,
    mapped: usize,
    skip: usize,
    slot: &'static Slot,
}

impl Window {
    /// Map `len` bytes of `file` from `offset` (any offset; the mapping
    /// starts at the page below). `None` when mapping is not possible here
    /// (a file system without mmap, no free slot, a failed handler): the
    /// caller reads instead. The bytes must lie within the file's length
    /// as the caller last saw it.
    pub(crate) fn map(file: &File, offset: u64, len: usize) -> Option<Window> {
        let inst = installed()?;
        if len == 0 {
            return None;
        }
        let skip = (offset % inst.page as u64) as usize;
        let mapped = len.checked_add(skip)?;
        let from = libc::off_t::try_from(offset - skip as u64).ok()?;
        let slot = WINDOWS.iter().find(|s| {
            s.used
                .compare_exchange(false, true, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        })?;
        // SAFETY: a fresh read-only shared mapping of an open file; the
        // kernel picks the address. Nothing else aliases it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                mapped,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                from,
            )
        };
        if base == libc::MAP_FAILED {
            slot.used.store(false, Ordering::Release);
            return None;
        }
        // SAFETY: advice only; the range is the mapping just made.
        unsafe { libc::madvise(base, mapped, libc::MADV_SEQUENTIAL) };
        slot.lost.store(false, Ordering::Relaxed);
        slot.end.store(base as usize + mapped, Ordering::Release);
        slot.start.store(base as usize, Ordering::Release);
        Some(Window {
            base,
            mapped,
            skip,
            slot,
        })
    }

    /// The window's bytes. If the file shrinks or cannot be read while
    /// mapped, the missing part reads as zeros and [`Window::lost`] turns
    /// true; bytes another process writes meanwhile may show. Either way a
    /// digest of them is only good when `lost` is false after the reading.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: `base..base + mapped` is mapped readable for the life of
        // `self` (pages lost are replaced, never unmapped, by the handler).
        unsafe {
            std::slice::from_raw_parts(
                self.base.cast::<u8>().add(self.skip),
                self.mapped - self.skip,
            )
        }
    }

    /// Whether part of the window could not be read from the file (it
    /// shrank, or the disk failed) since it was mapped.
    pub(crate) fn lost(&self) -> bool {
        self.slot.lost.load(Ordering::Acquire)
    }
}

impl Drop for Window {
    fn drop(&mut self) {
        self.slot.start.store(0, Ordering::Release);
        self.slot.end.store(0, Ordering::Release);
        // SAFETY: the mapping made in `map`, unmapped once; the slot no
        // longer names it, so the handler will not touch it.
        unsafe { libc::munmap(self.base, self.mapped) };
        self.slot.used.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A window gives the file's bytes from any offset.
    #[test]
    fn windows_give_the_files_bytes() {
        let mut f = tempfile::tempfile().unwrap();
        let bytes: Vec<u8> = (0..3 * WINDOW + 77).map(|i| (i * 7 % 251) as u8).collect();
        f.write_all(&bytes).unwrap();
        for (at, len) in [
            (0, WINDOW),
            (5, 100),
            (4095, 4098),
            (WINDOW + 3, 2 * WINDOW + 74),
        ] {
            let w = Window::map(&f, at as u64, len).expect("mapping works here");
            assert_eq!(w.bytes(), &bytes[at..at + len], "{at}+{len}");
            assert!(!w.lost());
        }
    }

    /// A file cut short while mapped: the missing pages read as zeros, the
    /// window says it lost them, and the process lives on.
    #[test]
    fn a_file_shrinking_under_a_window_is_survived_and_told() {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&vec![0xA5u8; 4 * 65536]).unwrap();
        let w = Window::map(&f, 0, 4 * 65536).expect("mapping works here");
        assert_eq!(w.bytes()[65536], 0xA5);
        f.set_len(65536).unwrap();
        let tail: u64 = w.bytes()[2 * 65536..].iter().map(|&b| b as u64).sum();
        assert_eq!(tail, 0, "the vanished pages read as zeros");
        assert!(w.lost(), "the window tells that bytes went missing");
        drop(w);
        let again = Window::map(&f, 0, 65536).expect("slots are reused");
        assert!(!again.lost());
        assert_eq!(again.bytes()[100], 0xA5);
    }
}
