//! Run one job per item on every core, with bounded memory.
//!
//! Workers pull the next index from a shared counter, so a few large files
//! and many small ones balance themselves. After the first error the
//! remaining items are skipped (fail fast); results keep the input order.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// The cores this process may use (asked once: the answer reads cgroup
/// files).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| {
        std::thread::available_parallelism()
            .map(|c| c.get())
            .unwrap_or(1)
    })
}

/// How many worker threads to use for `n` items.
pub(crate) fn workers(n: usize) -> usize {
    cores().min(n).max(1)
}

/// Apply `f` to every item in parallel; stop early on the first error.
/// Returns results in input order, or the first error met.
pub(crate) fn try_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    try_map_with(workers(items.len()), items, f)
}

/// [`try_map`] with `threads` workers (network transfers want more than
/// the cores).
pub(crate) fn try_map_with<T: Sync, R: Send>(
    threads: usize,
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let first_err: Mutex<Option<(usize, Error)>> = Mutex::new(None);
    let slots: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    std::thread::scope(|s| {
        for _ in 0..threads.min(items.len()).max(1) {
            s.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    match f(item) {
                        Ok(r) => *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r),
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            let mut g = first_err.lock().unwrap_or_else(|p| p.into_inner());
                            // Keep the error of the lowest index for a stable message.
                            if g.as_ref().is_none_or(|(j, _)| i < *j) {
                                *g = Some((i, e));
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some((_, e)) = first_err.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .expect("every slot is filled when no worker failed")
        })
        .collect())
}

/// Apply `f` to every item in parallel and keep every result (no early stop):
/// verification wants all findings, not the first.
pub(crate) fn map_all<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let r: Result<Vec<R>> = try_map(items, |t| Ok(f(t)));
    r.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_reports_errors() {
        let v: Vec<u32> = (0..100).collect();
        assert_eq!(try_map(&v, |x| Ok(x * 2)).unwrap()[99], 198);
        let e = try_map(&v, |x| {
            if *x == 7 {
                Err(Error::input("seven"))
            } else {
                Ok(*x)
            }
        })
        .unwrap_err();
        assert!(e.to_string().contains("seven"));
        assert_eq!(map_all(&v, |x| x + 1).len(), 100);
    }
}
