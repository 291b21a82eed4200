//! Memory shared by the master and every worker it forks, of every generation: an anonymous
//! `MAP_SHARED` mapping made by the master before its first fork and never unmapped, so that it
//! outlives any worker and any reload. Its only content is atomic words, the one kind of value
//! that processes may read and write at once without a lock or undefined behaviour.
//!
//! Users: the ETags of large files (`fs::etag`), hashed once per instance instead of once per
//! worker and generation; the flag that tells every worker the instance is stopping
//! ([`StopFlag`], for health checks); the metrics counters (`metrics`, a mapping of their own).

use std::sync::atomic::{AtomicU64, Ordering};

/// What the master shares with every worker of every generation, made before the first fork.
#[derive(Clone, Copy, Debug, Default)]
pub struct Instance {
    /// Large files' ETags.
    pub etags: Option<crate::fs::SharedTags>,
    /// Set by the master when a graceful stop begins.
    pub stopping: Option<StopFlag>,
}

impl Instance {
    /// Maps what can be mapped; a part that cannot is left out (and logged), and what it serves
    /// works per worker instead.
    pub fn new() -> Instance {
        let etags = crate::fs::SharedTags::new(crate::limits::ETAG_SHARED_SLOTS)
            .inspect_err(|e| {
                tracing::warn!("cannot map the shared ETag table ({e}); each worker hashes alone")
            })
            .ok();
        let stopping = words(1)
            .inspect_err(|e| {
                tracing::warn!(
                    "cannot map the stop flag ({e}); health checks answer 200 until the end"
                )
            })
            .ok()
            .map(|words| StopFlag(&words[0]));
        Instance { etags, stopping }
    }
}

/// Whether the instance is stopping: written by the master, read by workers' health checks.
#[derive(Clone, Copy, Debug)]
pub struct StopFlag(&'static AtomicU64);

impl StopFlag {
    pub fn set(&self) {
        self.0.store(1, Ordering::Release);
    }

    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire) != 0
    }

    /// A flag for this process alone (tests, and workers whose master could not map one).
    pub fn private() -> StopFlag {
        StopFlag(Box::leak(Box::new(AtomicU64::new(0))))
    }
}

/// `count` zeroed atomic words shared with every process forked from this one from now on.
/// Lives as long as the process: the mapping is never unmapped (it is made once, at start).
pub fn words(count: usize) -> std::io::Result<&'static [AtomicU64]> {
    let bytes = count
        .checked_mul(std::mem::size_of::<AtomicU64>())
        .filter(|&bytes| bytes > 0)
        .ok_or(std::io::ErrorKind::InvalidInput)?;
    // SAFETY: an anonymous mapping at an address of the kernel's choosing; no existing memory is
    // touched. The result is checked against MAP_FAILED below.
    let address = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            bytes,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if address == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the mapping is `bytes` long, page-aligned (so aligned for AtomicU64), zero-filled
    // by the kernel (a valid AtomicU64 is any 8 bytes), never unmapped (so 'static holds), and
    // only ever accessed through these atomics, in this process and in those forked from it.
    Ok(unsafe { std::slice::from_raw_parts(address.cast::<AtomicU64>(), count) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering;

    #[test]
    fn a_forked_child_writes_what_the_parent_reads() {
        let shared = words(4).unwrap();
        assert!(shared.iter().all(|w| w.load(Ordering::Relaxed) == 0));
        // SAFETY: the child only stores to an atomic and calls _exit, both async-signal-safe,
        // so forking from the multi-threaded test runner is sound.
        match unsafe { libc::fork() } {
            0 => {
                shared[2].store(42, Ordering::Release);
                // SAFETY: ends the child at once, running nothing of the parent's.
                unsafe { libc::_exit(0) };
            }
            child => {
                assert!(child > 0, "fork failed");
                let mut status = 0;
                // SAFETY: waits for the child just forked.
                unsafe { libc::waitpid(child, &mut status, 0) };
                assert_eq!(shared[2].load(Ordering::Acquire), 42);
            }
        }
    }
}
