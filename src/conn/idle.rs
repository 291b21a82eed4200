//! The worker's register of idle keep-alive connections, for draining them without a
//! per-connection future.
//!
//! An idle connection waits only for its socket to become readable (or its deadline). To stop
//! a worker, every registered connection's socket is shut down for reading: the wait ends with
//! end of stream and the connection closes, with no response in flight. Connections leave the
//! register before they read, and so before they can close, so a descriptor in it is always
//! still theirs.

use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use nix::sys::socket::{Shutdown, shutdown};
use slab::Slab;

#[derive(Debug, Default)]
pub struct IdleConnections {
    draining: AtomicBool,
    waiting: Mutex<Slab<RawFd>>,
}

impl IdleConnections {
    /// Registers an idle connection's socket; `None` if the worker is already draining.
    pub fn enter(&self, fd: RawFd) -> Option<usize> {
        let mut waiting = self.lock();
        // Checked under the lock: `drain` cannot slip between the check and the insert.
        if self.is_draining() {
            return None;
        }
        Some(waiting.insert(fd))
    }

    pub fn leave(&self, key: usize) {
        self.lock().try_remove(key);
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Marks the worker as draining and wakes every idle connection with end of stream.
    pub fn drain(&self) {
        let mut waiting = self.lock();
        self.draining.store(true, Ordering::Relaxed);
        for fd in waiting.drain() {
            // Only the read side: nothing is lost in flight, and the connection closes itself.
            let _ = shutdown(fd, Shutdown::Read);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slab<RawFd>> {
        self.waiting
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
