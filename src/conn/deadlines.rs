//! The worker's register of connections and their deadlines, swept by one task in place of a
//! timer per connection.
//!
//! Every connection holds a slot from accept to close: its socket, the deadline of the wait it
//! is in, and what it waits for. A sweep runs every tick. A connection whose deadline has passed
//! is marked expired and its socket shut down, which ends its wait from the inside:
//! - waiting for request bytes, the read side is shut down; the read returns end of stream, the
//!   connection sees its slot expired and can still answer 408;
//! - waiting for the client to read, both sides are shut down and the write fails.
//!
//! Draining shuts down the read side of every connection idle between requests the same way: the
//! wait ends with end of stream and the connection closes with nothing in flight.
//!
//! Why not tokio's timers: a `Sleep` in every connection's future made each one about 150 bytes
//! larger (paid by every idle connection) and cost a timer-wheel insert and removal per request.
//! A slot is 16 bytes and arming it is one uncontended lock. The price is precision: a deadline
//! fires up to one tick (a tenth of the shortest timeout, at most a second) plus the coarse
//! clock's resolution after its time, never before.
//!
//! A slot is removed before its socket is closed, and the sweep runs on the same thread as the
//! connections, so a descriptor in the register is always still its connection's.

use std::os::fd::RawFd;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::socket::{Shutdown, shutdown};
use slab::Slab;

/// Longest and shortest sweep interval.
const TICK_MAX: Duration = Duration::from_secs(1);
const TICK_MIN: Duration = Duration::from_millis(10);

/// What a connection is waiting for, and so how its deadline ends the wait.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// Nothing with a deadline: the connection is working, not waiting.
    None,
    /// Bytes of a request, or of a lingering close.
    Read,
    /// The next request on a keep-alive connection: also ended by a drain.
    Idle,
    /// The client to read what we sent.
    Write,
}

#[derive(Debug)]
struct Slot {
    fd: RawFd,
    wait: Wait,
    expired: bool,
    /// On `clock::monotonic_ms`.
    deadline: u64,
}

#[derive(Debug)]
pub struct Deadlines {
    tick: Duration,
    /// Added to every deadline: how far the coarse clock may lag, so none fires early.
    slack_ms: u64,
    draining: AtomicBool,
    slots: Mutex<Slab<Slot>>,
}

impl Deadlines {
    /// A register whose sweep is frequent enough for `shortest`, the shortest timeout in use.
    pub fn new(shortest: Duration) -> Deadlines {
        Deadlines {
            slack_ms: crate::clock::resolution_ms(),
            tick: (shortest / 10).clamp(TICK_MIN, TICK_MAX),
            draining: AtomicBool::new(false),
            slots: Mutex::new(Slab::new()),
        }
    }

    /// How often `sweep` must run.
    pub fn tick(&self) -> Duration {
        self.tick
    }

    /// Gives a new connection's socket a slot, with no deadline yet.
    pub fn register(&self, fd: RawFd) -> u32 {
        let key = self.lock().insert(Slot {
            fd,
            wait: Wait::None,
            expired: false,
            deadline: 0,
        });
        // Bounded by the worker's connection limit, far below u32::MAX.
        key as u32
    }

    /// Frees a slot; must come before its socket is closed.
    pub fn unregister(&self, key: u32) {
        self.lock().try_remove(key as usize);
    }

    /// The deadline `timeout` from now, for `arm`.
    pub fn after(&self, timeout: Duration) -> u64 {
        crate::clock::monotonic_ms() + millis(timeout) + self.slack_ms
    }

    /// Starts a wait of kind `wait` that ends at `deadline` (from `after`), forgetting whether
    /// an earlier one expired. `false` if an idle wait is refused because the worker is draining.
    pub fn arm(&self, key: u32, wait: Wait, deadline: u64) -> bool {
        let mut slots = self.lock();
        // Checked under the lock: `drain` cannot slip between the check and the arming.
        if wait == Wait::Idle && self.is_draining() {
            return false;
        }
        if let Some(slot) = slots.get_mut(key as usize) {
            *slot = Slot {
                fd: slot.fd,
                wait,
                expired: false,
                deadline,
            };
        }
        true
    }

    /// Whether the slot's last wait ended because its deadline passed.
    pub fn expired(&self, key: u32) -> bool {
        self.lock()
            .get(key as usize)
            .is_some_and(|slot| slot.expired)
    }

    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    /// Ends every wait whose deadline has passed.
    pub fn sweep(&self) {
        let now = crate::clock::monotonic_ms();
        for (_, slot) in self.lock().iter_mut() {
            if slot.wait != Wait::None && slot.deadline <= now {
                let how = if slot.wait == Wait::Write {
                    Shutdown::Both
                } else {
                    Shutdown::Read
                };
                let _ = shutdown(slot.fd, how);
                slot.wait = Wait::None;
                slot.expired = true;
            }
        }
    }

    /// Marks the worker as draining and ends every idle wait with end of stream.
    pub fn drain(&self) {
        let mut slots = self.lock();
        self.draining.store(true, Ordering::Relaxed);
        for (_, slot) in slots.iter_mut() {
            if slot.wait == Wait::Idle {
                // Only the read side: nothing is in flight, and the connection closes itself.
                let _ = shutdown(slot.fd, Shutdown::Read);
                slot.wait = Wait::None;
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Slab<Slot>> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Rounded up, so a deadline is never reached early.
fn millis(duration: Duration) -> u64 {
    duration.as_nanos().div_ceil(1_000_000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    fn pair() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        (client, server)
    }

    fn read_side_shut(socket: &TcpStream) -> bool {
        socket.set_nonblocking(true).unwrap();
        // End of stream at once, with the client having sent nothing: our read side is shut.
        matches!(std::io::Read::read(&mut &*socket, &mut [0; 1]), Ok(0))
    }

    #[test]
    fn a_passed_deadline_shuts_the_read_side_and_marks_the_slot() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (_client, server) = pair();
        let key = deadlines.register(server.as_raw_fd());
        // A deadline already in the past.
        assert!(deadlines.arm(key, Wait::Read, 0));
        deadlines.sweep();
        assert!(deadlines.expired(key));
        assert!(read_side_shut(&server));
        deadlines.unregister(key);
    }

    #[test]
    fn a_future_deadline_is_left_alone_and_rearming_clears_expiry() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (_client, server) = pair();
        let key = deadlines.register(server.as_raw_fd());
        deadlines.arm(key, Wait::Read, deadlines.after(Duration::from_secs(3600)));
        deadlines.sweep();
        assert!(!deadlines.expired(key));
        assert!(!read_side_shut(&server));
        deadlines.arm(key, Wait::Read, 0);
        deadlines.sweep();
        assert!(deadlines.expired(key));
        deadlines.arm(key, Wait::None, 0);
        assert!(!deadlines.expired(key));
    }

    #[test]
    fn drain_ends_idle_waits_only_and_refuses_new_ones() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (_a, idle) = pair();
        let (_b, busy) = pair();
        let far = deadlines.after(Duration::from_secs(3600));
        let idle_key = deadlines.register(idle.as_raw_fd());
        let busy_key = deadlines.register(busy.as_raw_fd());
        deadlines.arm(idle_key, Wait::Idle, far);
        deadlines.arm(busy_key, Wait::Read, far);
        deadlines.drain();
        assert!(read_side_shut(&idle));
        assert!(!read_side_shut(&busy));
        assert!(!deadlines.expired(idle_key), "a drain is not a timeout");
        assert!(!deadlines.arm(busy_key, Wait::Idle, far));
    }
}
