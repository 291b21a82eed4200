//! The worker's register of connections and their deadlines, swept by one task in place of a
//! timer per connection.
//!
//! Every connection holds a slot from accept to close. When it is about to sleep on its socket
//! (for request bytes, or for the client to read), it arms its slot with the deadline of that
//! wait and its task's waker. A sweep runs every tick: a slot whose deadline has passed is marked
//! expired and its task woken; the wait sees the mark and ends (408, or a silent close, or a
//! dropped download). Draining marks and wakes every idle HTTP/2 connection the same way, and
//! shortens the wait of every HTTP/1.1 connection idle between requests to the drain grace
//! (see [`Wait::KeepAlive`]). A wait whose socket is ready on the first look never touches the
//! register.
//!
//! Why not tokio's timers: a `Sleep` in every connection's future made each one about 150 bytes
//! larger (paid by every idle connection) and cost a timer-wheel insert and removal per request.
//! A slot is 32 bytes and arming it is a store into the register. The register belongs to the
//! worker's one thread (connections run on its `LocalSet`), so it needs no lock. The price is precision: a deadline
//! fires up to one tick (a tenth of the shortest timeout, at most a second) plus the coarse
//! clock's resolution after its time, never before.
//!
//! The register also knows which connections are idle, for the metrics: those whose last wait
//! was for a next request (HTTP/1.1 between requests, `Wait::KeepAlive`) or a first stream
//! (HTTP/2 with none open, `Wait::Idle` with a deadline). It keeps the count as waits are armed
//! and end, and stores it in the worker's metrics slot when it changes: no work per request on
//! a connection that stays busy or stays idle. A connection counts as idle from the moment it
//! waits so until its next wait of another kind, so one answering a request that arrived counts
//! as idle meanwhile (on this one thread, no scrape can see the difference while it runs).

use std::cell::{Cell, RefCell, RefMut};
use std::task::Waker;
use std::time::Duration;

use slab::Slab;

/// Longest and shortest sweep interval.
const TICK_MAX: Duration = Duration::from_secs(1);
const TICK_MIN: Duration = Duration::from_millis(10);

/// What a connection is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Nothing with a deadline.
    None,
    /// Bytes of a request, or of a lingering close.
    Read,
    /// An HTTP/2 connection with no stream open: ended at once by a drain (it then sends
    /// GOAWAY, which tells the client which streams were taken, so nothing is lost).
    Idle,
    /// An HTTP/1.1 connection between requests. A drain does not end it at once: it shortens
    /// it to the drain grace, so that a request already on its way is answered (with
    /// `Connection: close`) instead of meeting the close (`limits::DRAIN_IDLE_GRACE`).
    KeepAlive,
    /// The client to read what we sent.
    Write,
}

/// What [`Deadlines::hold`] decided for a wait whose stream is not ready.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Sleep: the task is woken by the stream or by the sweep.
    Waiting,
    /// The deadline passed (or a drain ended an idle wait).
    Expired,
    /// An idle wait was refused: the worker is draining.
    Refused,
}

#[derive(Debug)]
struct Slot {
    /// The connection's task; kept between waits, since it never changes.
    waker: Option<Waker>,
    /// On `clock::monotonic_ms`.
    deadline: u64,
    wait: Wait,
    expired: bool,
}

#[derive(Debug)]
pub(crate) struct Deadlines {
    tick: Duration,
    /// Added to every deadline: how far the coarse clock may lag, so none fires early.
    slack_ms: u64,
    draining: Cell<bool>,
    /// When a drain began, the time by which every keep-alive wait ends; else `u64::MAX`.
    drain_deadline: Cell<u64>,
    slots: RefCell<Slab<Slot>>,
    /// Slots whose wait is idle (`Slot::is_idle`).
    idle: Cell<u64>,
}

impl Deadlines {
    /// A register whose sweep is frequent enough for `shortest`, the shortest timeout in use.
    pub(crate) fn new(shortest: Duration) -> Deadlines {
        Deadlines {
            tick: (shortest / 10).clamp(TICK_MIN, TICK_MAX),
            slack_ms: crate::clock::resolution_ms(),
            draining: Cell::new(false),
            drain_deadline: Cell::new(u64::MAX),
            slots: RefCell::new(Slab::new()),
            idle: Cell::new(0),
        }
    }

    /// How often `sweep` must run.
    pub(crate) fn tick(&self) -> Duration {
        self.tick
    }

    /// Gives a new connection a slot, with no deadline yet.
    pub(crate) fn register(&self) -> u32 {
        let key = self.slots_mut().insert(Slot {
            waker: None,
            deadline: 0,
            wait: Wait::None,
            expired: false,
        });
        // Bounded by the worker's connection limit, far below u32::MAX.
        key as u32
    }

    pub(crate) fn unregister(&self, key: u32) {
        let removed = self.slots_mut().try_remove(key as usize);
        if removed.is_some_and(|slot| slot.is_idle()) {
            self.count_idle(-1);
        }
    }

    /// Adds `delta` to the idle connections and tells the metrics.
    fn count_idle(&self, delta: i64) {
        let idle = self.idle.get().wrapping_add_signed(delta);
        self.idle.set(idle);
        crate::metrics::recorder().set_idle(idle);
    }

    /// Idle connections now.
    #[cfg(test)]
    fn idle(&self) -> u64 {
        self.idle.get()
    }

    /// The deadline `timeout` from now, for `arm`.
    pub(crate) fn after(&self, timeout: Duration) -> u64 {
        let millis = timeout.as_nanos().div_ceil(1_000_000) as u64;
        crate::clock::monotonic_ms() + millis + self.slack_ms
    }

    /// Starts a wait of kind `wait` that ends at `deadline` (from `after`) by waking `waker`,
    /// forgetting whether an earlier one expired. `false` if an idle wait is refused because
    /// the worker is draining; a keep-alive wait then ends by the drain grace at the latest.
    pub(crate) fn arm(&self, key: u32, wait: Wait, deadline: u64, waker: &Waker) -> bool {
        if wait == Wait::Idle && self.is_draining() {
            return false;
        }
        let deadline = if wait == Wait::KeepAlive {
            deadline.min(self.drain_deadline.get())
        } else {
            deadline
        };
        let mut slots = self.slots_mut();
        let mut change = 0;
        if let Some(slot) = slots.get_mut(key as usize) {
            if !slot.waker.as_ref().is_some_and(|w| w.will_wake(waker)) {
                slot.waker = Some(waker.clone());
            }
            let was_idle = slot.is_idle();
            slot.deadline = deadline;
            slot.wait = wait;
            slot.expired = false;
            change = i64::from(slot.is_idle()) - i64::from(was_idle);
        }
        drop(slots);
        if change != 0 {
            self.count_idle(change);
        }
        true
    }

    /// What a wait does when its stream is not ready: the first time, it arms its slot (with the
    /// deadline `deadline` gives, asked only then) and sleeps; afterwards it sleeps until the
    /// slot has expired. `armed` is the wait's own record of the first time.
    pub(crate) fn hold(
        &self,
        armed: &mut bool,
        key: u32,
        wait: Wait,
        deadline: impl FnOnce() -> u64,
        waker: &Waker,
    ) -> Hold {
        if !*armed {
            *armed = true;
            if !self.arm(key, wait, deadline(), waker) {
                return Hold::Refused;
            }
        } else if self.expired(key) {
            return Hold::Expired;
        }
        Hold::Waiting
    }

    /// Whether the slot's wait has been ended by its deadline or by a drain.
    pub(crate) fn expired(&self, key: u32) -> bool {
        self.slots_mut()
            .get(key as usize)
            .is_some_and(|slot| slot.expired)
    }

    pub(crate) fn is_draining(&self) -> bool {
        self.draining.get()
    }

    /// Ends every wait whose deadline has passed.
    pub(crate) fn sweep(&self) {
        self.sweep_at(crate::clock::monotonic_ms());
    }

    fn sweep_at(&self, now: u64) {
        let mut ended_idle = 0;
        for (_, slot) in self.slots_mut().iter_mut() {
            if slot.wait != Wait::None && slot.deadline <= now {
                ended_idle += i64::from(slot.is_idle());
                slot.end();
            }
        }
        if ended_idle > 0 {
            self.count_idle(-ended_idle);
        }
    }

    /// Marks the worker as draining: ends every idle wait, and every keep-alive wait `grace`
    /// from now at the latest.
    pub(crate) fn drain(&self, grace: Duration) {
        self.draining.set(true);
        let drain_deadline = self.after(grace);
        self.drain_deadline.set(drain_deadline);
        let mut ended_idle = 0;
        for (_, slot) in self.slots_mut().iter_mut() {
            match slot.wait {
                Wait::Idle => {
                    ended_idle += i64::from(slot.is_idle());
                    slot.end();
                }
                Wait::KeepAlive => slot.deadline = slot.deadline.min(drain_deadline),
                Wait::None | Wait::Read | Wait::Write => {}
            }
        }
        if ended_idle > 0 {
            self.count_idle(-ended_idle);
        }
    }

    /// The slots, borrowed for one call: no method holds them across an await or calls out to
    /// code that could borrow them again. A waker woken under the borrow only queues its task.
    fn slots_mut(&self) -> RefMut<'_, Slab<Slot>> {
        self.slots.borrow_mut()
    }
}

impl Slot {
    /// Whether the connection waits for a request it has no part of yet: HTTP/1.1 between
    /// requests, or HTTP/2 with no stream open (with streams open it waits `Idle` with no
    /// deadline, which only a drain ends).
    fn is_idle(&self) -> bool {
        match self.wait {
            Wait::KeepAlive => true,
            Wait::Idle => self.deadline != u64::MAX,
            Wait::None | Wait::Read | Wait::Write => false,
        }
    }

    fn end(&mut self) {
        self.wait = Wait::None;
        self.expired = true;
        if let Some(waker) = &self.waker {
            // On this worker's own thread: this only queues the task.
            waker.wake_by_ref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    #[derive(Default)]
    struct Wakes(AtomicUsize);

    impl Wake for Wakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn waker() -> (Arc<Wakes>, Waker) {
        let wakes = Arc::new(Wakes::default());
        (wakes.clone(), Waker::from(wakes))
    }

    #[test]
    fn a_passed_deadline_wakes_and_marks_the_slot_once() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (wakes, waker) = waker();
        let key = deadlines.register();
        // A deadline already in the past.
        assert!(deadlines.arm(key, Wait::Read, 0, &waker));
        deadlines.sweep();
        deadlines.sweep();
        assert!(deadlines.expired(key));
        assert_eq!(wakes.0.load(Ordering::Relaxed), 1);
        deadlines.unregister(key);
    }

    #[test]
    fn a_future_deadline_is_left_alone_and_rearming_clears_expiry() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (wakes, waker) = waker();
        let key = deadlines.register();
        let far = deadlines.after(Duration::from_secs(3600));
        deadlines.arm(key, Wait::Write, far, &waker);
        deadlines.sweep();
        assert!(!deadlines.expired(key));
        assert_eq!(wakes.0.load(Ordering::Relaxed), 0);
        deadlines.arm(key, Wait::Read, 0, &waker);
        deadlines.sweep();
        assert!(deadlines.expired(key));
        deadlines.arm(key, Wait::Read, far, &waker);
        assert!(!deadlines.expired(key));
    }

    #[test]
    fn drain_ends_idle_waits_only_and_refuses_new_ones() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let far = deadlines.after(Duration::from_secs(3600));
        let (idle_wakes, idle_waker) = waker();
        let (busy_wakes, busy_waker) = waker();
        let idle = deadlines.register();
        let busy = deadlines.register();
        deadlines.arm(idle, Wait::Idle, far, &idle_waker);
        deadlines.arm(busy, Wait::Read, far, &busy_waker);
        deadlines.drain(Duration::from_secs(3600));
        assert!(deadlines.expired(idle));
        assert_eq!(idle_wakes.0.load(Ordering::Relaxed), 1);
        assert!(!deadlines.expired(busy));
        assert_eq!(busy_wakes.0.load(Ordering::Relaxed), 0);
        assert!(!deadlines.arm(busy, Wait::Idle, far, &busy_waker));
    }

    #[test]
    fn drain_shortens_keep_alive_waits_to_the_grace() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let far = deadlines.after(Duration::from_secs(3600));
        let (wakes, waker) = waker();
        let before = deadlines.register();
        let after = deadlines.register();
        let reading = deadlines.register();
        deadlines.arm(before, Wait::KeepAlive, far, &waker);
        deadlines.arm(reading, Wait::Read, far, &waker);
        deadlines.drain(Duration::from_secs(1));
        // Not ended by the drain itself: a request may be on its way.
        assert!(!deadlines.expired(before));
        assert_eq!(wakes.0.load(Ordering::Relaxed), 0);
        assert!(deadlines.arm(after, Wait::KeepAlive, far, &waker));
        let grace_end = deadlines.drain_deadline.get();
        assert!(grace_end < far);
        deadlines.sweep_at(grace_end - 1);
        assert!(!deadlines.expired(before) && !deadlines.expired(after));
        deadlines.sweep_at(grace_end);
        assert!(deadlines.expired(before) && deadlines.expired(after));
        assert!(
            !deadlines.expired(reading),
            "a request being read keeps its own deadline"
        );
        assert_eq!(wakes.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn a_held_wait_arms_once_then_ends_when_expired() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (_, waker) = waker();
        let key = deadlines.register();
        let mut armed = false;
        let mut asked = 0;
        let mut hold = |deadlines: &Deadlines| {
            deadlines.hold(
                &mut armed,
                key,
                Wait::Read,
                || {
                    asked += 1;
                    0
                },
                &waker,
            )
        };
        assert_eq!(
            hold(&deadlines),
            Hold::Waiting,
            "armed with a past deadline"
        );
        assert_eq!(hold(&deadlines), Hold::Waiting, "not swept yet");
        deadlines.sweep();
        assert_eq!(hold(&deadlines), Hold::Expired);
        assert_eq!(asked, 1, "the deadline is asked for once");
        let mut idle_armed = false;
        deadlines.drain(Duration::ZERO);
        let refused = deadlines.hold(&mut idle_armed, key, Wait::Idle, || 0, &waker);
        assert_eq!(refused, Hold::Refused);
    }

    #[test]
    fn idle_waits_are_counted_until_another_wait_an_expiry_or_the_end() {
        let deadlines = Deadlines::new(Duration::from_secs(1));
        let (_, waker) = waker();
        let far = deadlines.after(Duration::from_secs(3600));
        let h1 = deadlines.register();
        let h2 = deadlines.register();
        let busy_h2 = deadlines.register();
        deadlines.arm(h1, Wait::Read, far, &waker);
        assert_eq!(deadlines.idle(), 0, "a first request is not idle time");
        deadlines.arm(h1, Wait::KeepAlive, far, &waker);
        deadlines.arm(h1, Wait::KeepAlive, far, &waker);
        deadlines.arm(h2, Wait::Idle, far, &waker);
        deadlines.arm(busy_h2, Wait::Idle, u64::MAX, &waker);
        assert_eq!(deadlines.idle(), 2, "streams open: not idle");
        deadlines.arm(h1, Wait::Write, far, &waker);
        assert_eq!(deadlines.idle(), 1);
        deadlines.arm(h1, Wait::KeepAlive, 0, &waker);
        deadlines.sweep();
        assert_eq!(deadlines.idle(), 1, "the expired wait is no longer idle");
        deadlines.unregister(h1);
        assert_eq!(deadlines.idle(), 1);
        deadlines.drain(Duration::from_secs(1));
        assert_eq!(deadlines.idle(), 0, "the drain ended the idle HTTP/2 wait");
        deadlines.arm(h2, Wait::KeepAlive, far, &waker);
        deadlines.unregister(h2);
        deadlines.unregister(busy_h2);
        assert_eq!(deadlines.idle(), 0);
    }

    #[test]
    fn ticks_follow_the_shortest_timeout_within_bounds() {
        assert_eq!(Deadlines::new(Duration::from_secs(10)).tick(), TICK_MAX);
        assert_eq!(
            Deadlines::new(Duration::from_millis(500)).tick(),
            Duration::from_millis(50)
        );
        assert_eq!(Deadlines::new(Duration::ZERO).tick(), TICK_MIN);
    }
}
