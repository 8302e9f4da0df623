//! Writing a new blob at disk speed: a writer thread per file, fed full
//! chunks through a small pool of aligned buffers, writing with `O_DIRECT`.
//!
//! Why: a blob must be on disk before it is renamed into place, so its bytes
//! go to the disk anyway. Writing them through the page cache first costs a
//! copy into freshly allocated cache pages (and, on a virtual machine whose
//! idle memory is handed back to the host, a host fault for each of those
//! pages), then the writeback, then the fsync's wait. `O_DIRECT` sends the
//! buffer to the disk from where it is, and the writer thread lets the reader
//! hash the next chunk while the disk takes this one (see
//! `docs/benchmarks.md` for the measured difference).
//!
//! Where the file system refuses direct writes (tmpfs, some network file
//! systems), the same thread writes through the page cache instead and
//! starts writeback as it goes, so the fsync waits for the tail only. The
//! last, partial chunk of a file is always written through the page cache.
//! Memory: at most four chunks per file being written (`POOL`).

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, channel, sync_channel};

use super::Sink;
use crate::digest::CHUNK;
use crate::error::{Error, Result};

/// Buffer address, length and file offset alignment for direct writes; a
/// multiple of every common logical block size.
const ALIGN: usize = 4096;

/// Chunks per file in flight: one being filled, one queued, one being written,
/// one spare so the reader rarely waits for the writer to hand one back.
const POOL: usize = 4;

/// How much is written through the page cache before its writeback is
/// started (only when direct writes are refused).
const WRITEBACK_STEP: u64 = 8 << 20;

/// Run `body` with a sink whose bytes a writer thread writes to `file` (new
/// and empty) from offset 0. Returns once every byte `body` handed over is
/// written (not yet fsynced: the caller does that). `direct = false` skips
/// the attempt at `O_DIRECT`. An error of the writer wins over the error it
/// caused in `body`.
pub(crate) fn write_through<R>(
    file: &File,
    path: &Path,
    direct: bool,
    body: impl FnOnce(&mut dyn Sink) -> Result<R>,
) -> Result<R> {
    let direct = direct && set_direct(file, true).is_ok();
    std::thread::scope(|s| {
        let (full_tx, full_rx) = sync_channel::<(Block, usize)>(1);
        let (free_tx, free_rx) = channel::<Block>();
        let writer = s.spawn(move || write_blocks(file, path, direct, full_rx, free_tx));
        let mut pipe = Pipe {
            full: full_tx,
            free: free_rx,
            made: 0,
            current: None,
            path,
        };
        let r = body(&mut pipe);
        drop(pipe); // ends the writer's loop once the queue is written
        let w = writer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        w.and(r)
    })
}

/// A chunk-sized buffer whose start is aligned for direct writes.
struct Block {
    mem: Vec<u8>,
    start: usize,
}

impl Block {
    fn new() -> Block {
        let mem = vec![0u8; CHUNK + ALIGN];
        let start = mem.as_ptr().align_offset(ALIGN);
        Block { mem, start }
    }

    fn bytes(&mut self) -> &mut [u8] {
        &mut self.mem[self.start..self.start + CHUNK]
    }

    fn filled(&self, n: usize) -> &[u8] {
        &self.mem[self.start..self.start + n]
    }
}

/// The reader's side: hands out free blocks and queues filled ones.
struct Pipe<'a> {
    full: SyncSender<(Block, usize)>,
    free: Receiver<Block>,
    made: usize,
    current: Option<Block>,
    path: &'a Path,
}

impl Pipe<'_> {
    /// The writer has stopped; its own error is what gets reported.
    fn stopped(&self) -> Error {
        Error::io(
            "write",
            self.path,
            std::io::Error::other("the writer stopped"),
        )
    }
}

impl Sink for Pipe<'_> {
    fn space(&mut self) -> Result<&mut [u8]> {
        let block = match self.current.take() {
            Some(b) => b,
            None => match self.free.try_recv() {
                Ok(b) => b,
                Err(_) if self.made < POOL => {
                    self.made += 1;
                    Block::new()
                }
                Err(_) => self.free.recv().map_err(|_| self.stopped())?,
            },
        };
        Ok(self.current.insert(block).bytes())
    }

    fn filled(&mut self, n: usize) -> Result<()> {
        let Some(block) = self.current.take() else {
            return Ok(());
        };
        self.full.send((block, n)).map_err(|_| self.stopped())
    }
}

/// The writer thread: write each block at its offset, hand it back.
fn write_blocks(
    file: &File,
    path: &Path,
    mut direct: bool,
    blocks: Receiver<(Block, usize)>,
    free: Sender<Block>,
) -> Result<()> {
    let io = |e| Error::io("write", path, e);
    let mut at = 0u64;
    let mut flushed = 0u64;
    for (block, n) in blocks {
        let data = block.filled(n);
        if direct && n % ALIGN != 0 {
            set_direct(file, false).map_err(io)?;
            direct = false;
        }
        write_at(file, data, at, &mut direct).map_err(io)?;
        at += n as u64;
        if !direct && at - flushed >= WRITEBACK_STEP {
            start_writeback(file, flushed, at - flushed);
            flushed = at;
        }
        // The reader may have finished and gone; then the block is dropped.
        let _ = free.send(block);
    }
    Ok(())
}

/// Write `data` at offset `at`. When the file system took the `O_DIRECT`
/// flag but refuses the write, turn the flag off and write through the page
/// cache from here on (rewriting a partly written chunk is harmless).
fn write_at(file: &File, data: &[u8], at: u64, direct: &mut bool) -> std::io::Result<()> {
    match file.write_all_at(data, at) {
        Err(e) if *direct && e.raw_os_error() == Some(libc::EINVAL) => {
            set_direct(file, false)?;
            *direct = false;
            file.write_all_at(data, at)
        }
        r => r,
    }
}

/// Turn `O_DIRECT` on or off for an open file.
#[allow(unsafe_code)] // audited: fcntl on an owned descriptor, SAFETY below
fn set_direct(file: &File, on: bool) -> std::io::Result<()> {
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor valid for the life of `file`; only the
    // status flags change.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let want = if on {
            flags | libc::O_DIRECT
        } else {
            flags & !libc::O_DIRECT
        };
        if libc::fcntl(fd, libc::F_SETFL, want) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Ask the kernel to start writing a range back (no waiting). Advisory: an
/// error here changes nothing, the fsync before the rename is what counts.
#[allow(unsafe_code)] // audited: an advisory libc call, SAFETY below
pub(crate) fn start_writeback(f: &File, offset: u64, len: u64) {
    // SAFETY: a valid descriptor for the life of `f`; the call only hints.
    unsafe {
        libc::sync_file_range(
            f.as_raw_fd(),
            offset as i64,
            len as i64,
            libc::SYNC_FILE_RANGE_WRITE,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::NoProgress;

    /// Both ways of writing give back exactly the bytes, for sizes around
    /// the chunk and alignment boundaries.
    #[test]
    fn direct_and_buffered_write_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        for size in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            3 * CHUNK + 517,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
            for direct in [true, false] {
                let p = dir.path().join(format!("f{size}-{direct}"));
                let f = File::create(&p).unwrap();
                let s = write_through(&f, &p, direct, |sink| {
                    super::super::stream(&mut &data[..], "t", None, sink, &NoProgress)
                })
                .unwrap();
                assert_eq!(s.size, size as u64);
                assert_eq!(
                    std::fs::read(&p).unwrap(),
                    data,
                    "size {size} direct {direct}"
                );
            }
        }
    }

    /// A direct write the kernel refuses (here: a buffer address it will not
    /// take) is written through the page cache instead, and stays so.
    #[test]
    fn refused_direct_write_falls_back() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let f = File::create(&p).unwrap();
        set_direct(&f, true).unwrap();
        let mut block = Block::new();
        let bytes = block.bytes();
        bytes.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let odd = &bytes[1..=ALIGN]; // aligned length, misaligned address
        let mut direct = true;
        write_at(&f, odd, 0, &mut direct).unwrap();
        assert!(!direct, "the refusal turned direct writes off");
        assert_eq!(std::fs::read(&p).unwrap(), odd);
    }

    /// A failing reader stops the run with its own error; the writer ends.
    #[test]
    fn reader_error_is_reported() {
        struct Broken;
        impl std::io::Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk on fire"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        let f = File::create(&p).unwrap();
        let err = write_through(&f, &p, true, |sink| {
            super::super::stream(&mut Broken, "src-name", None, sink, &NoProgress)
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("src-name") && msg.contains("disk on fire"),
            "{msg}"
        );
    }

    /// A write error (a read-only descriptor) is the error reported, naming
    /// the file, not the reader's "writer stopped".
    #[test]
    fn writer_error_wins() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f");
        std::fs::write(&p, b"").unwrap();
        let f = File::open(&p).unwrap();
        let data = vec![7u8; 5 * CHUNK];
        let err = write_through(&f, &p, true, |sink| {
            super::super::stream(&mut &data[..], "t", None, sink, &NoProgress)
        })
        .unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("write") && msg.contains(&p.display().to_string()),
            "{msg}"
        );
        assert!(!msg.contains("writer stopped"), "{msg}");
    }
}
