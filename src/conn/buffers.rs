//! A worker's pool of connection buffers.
//!
//! A connection holds a read and a write buffer only while it has bytes to handle, and gives
//! them back whenever it waits on the client. With thousands of idle keep-alive connections the
//! worker then holds buffers for the few that are active, and the buffers are recycled instead
//! of freed (which would leave holes between the connections' other allocations that the
//! allocator cannot return to the system).
//!
//! A worker serves its connections on one thread, so the pool belongs to that thread and takes
//! no lock: it is used four times per request, and a mutex's two atomic instructions per use
//! were 0.9% of a worker's CPU time on 404s (perf).

use crate::limits::{BUFFER_POOL_BYTES, POOLED_BUFFER_MAX};
use std::cell::RefCell;

/// A fresh buffer's capacity: most request heads and small responses fit.
pub(crate) const INITIAL_CAPACITY: usize = 2048;

#[derive(Debug)]
struct Free {
    buffers: Vec<Vec<u8>>,
    /// Capacity of the buffers kept.
    bytes: usize,
}

thread_local! {
    static FREE: RefCell<Free> = const {
        RefCell::new(Free {
            buffers: Vec::new(),
            bytes: 0,
        })
    };
}

/// An empty buffer with room for at least `INITIAL_CAPACITY` bytes.
pub(crate) fn take() -> Vec<u8> {
    FREE.with_borrow_mut(|free| match free.buffers.pop() {
        Some(buffer) => {
            free.bytes -= buffer.capacity();
            buffer
        }
        None => Vec::with_capacity(INITIAL_CAPACITY),
    })
}

/// Takes back a buffer that is no longer needed; its contents are dropped.
pub(crate) fn give(mut buffer: Vec<u8>) {
    if buffer.capacity() < INITIAL_CAPACITY || buffer.capacity() > POOLED_BUFFER_MAX {
        return;
    }
    buffer.clear();
    FREE.with_borrow_mut(|free| {
        if free.bytes + buffer.capacity() <= BUFFER_POOL_BYTES {
            free.bytes += buffer.capacity();
            free.buffers.push(buffer);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept() -> (usize, usize) {
        FREE.with_borrow(|free| (free.buffers.len(), free.bytes))
    }

    #[test]
    fn buffers_are_recycled_within_bounds() {
        // Each test runs on its own thread, so this pool starts empty.
        let mut buffer = take();
        buffer.extend_from_slice(b"request");
        let address = buffer.as_ptr();
        give(buffer);
        let again = take();
        assert_eq!(again.as_ptr(), address, "the same allocation comes back");
        assert!(again.is_empty());
        give(Vec::with_capacity(POOLED_BUFFER_MAX * 2));
        give(Vec::new());
        assert_eq!(kept().0, 0, "oversized and empty buffers are not kept");
        for _ in 0..(BUFFER_POOL_BYTES / INITIAL_CAPACITY + 10) {
            give(Vec::with_capacity(INITIAL_CAPACITY));
        }
        assert!(
            kept().1 <= BUFFER_POOL_BYTES,
            "the pool's memory is bounded"
        );
    }
}
