//! A worker's pool of connection buffers.
//!
//! A connection holds a read and a write buffer only while it has bytes to handle, and gives
//! them back whenever it waits on the client. With thousands of idle keep-alive connections the
//! worker then holds buffers for the few that are active, and the buffers are recycled instead
//! of freed (which would leave holes between the connections' other allocations that the
//! allocator cannot return to the system).

use std::sync::Mutex;

/// A fresh buffer's capacity: most request heads and small responses fit.
pub const INITIAL_CAPACITY: usize = 2048;

/// Buffers that grew past this are freed instead of pooled: the output buffer of a pipelined
/// batch reaches about 64 KiB before it is flushed, and is worth keeping.
const MAX_POOLED_CAPACITY: usize = 80 * 1024;

/// Most bytes of buffers kept for reuse per worker.
const MAX_FREE_BYTES: usize = 2 << 20;

#[derive(Debug, Default)]
pub struct BufferPool {
    free: Mutex<Free>,
}

#[derive(Debug, Default)]
struct Free {
    buffers: Vec<Vec<u8>>,
    /// Capacity of the buffers kept.
    bytes: usize,
}

impl BufferPool {
    /// An empty buffer with room for at least `INITIAL_CAPACITY` bytes.
    pub fn take(&self) -> Vec<u8> {
        let mut free = self.lock();
        match free.buffers.pop() {
            Some(buffer) => {
                free.bytes -= buffer.capacity();
                buffer
            }
            None => Vec::with_capacity(INITIAL_CAPACITY),
        }
    }

    /// Takes back a buffer that is no longer needed; its contents are dropped.
    pub fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() < INITIAL_CAPACITY || buffer.capacity() > MAX_POOLED_CAPACITY {
            return;
        }
        buffer.clear();
        let mut free = self.lock();
        if free.bytes + buffer.capacity() <= MAX_FREE_BYTES {
            free.bytes += buffer.capacity();
            free.buffers.push(buffer);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Free> {
        self.free
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_are_recycled_within_bounds() {
        let pool = BufferPool::default();
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"request");
        let address = buffer.as_ptr();
        pool.give(buffer);
        let again = pool.take();
        assert_eq!(again.as_ptr(), address, "the same allocation comes back");
        assert!(again.is_empty());
        pool.give(Vec::with_capacity(MAX_POOLED_CAPACITY * 2));
        pool.give(Vec::new());
        assert_eq!(
            pool.lock().buffers.len(),
            0,
            "oversized and empty buffers are not kept"
        );
        for _ in 0..(MAX_FREE_BYTES / INITIAL_CAPACITY + 10) {
            pool.give(Vec::with_capacity(INITIAL_CAPACITY));
        }
        assert!(
            pool.lock().bytes <= MAX_FREE_BYTES,
            "the pool's memory is bounded"
        );
    }
}
