//! Coarse clocks for the request path: the Date field, connection deadlines and the response
//! cache's freshness all need time per request, none finer than a few milliseconds.
//!
//! The kernel's coarse clocks return the time of its last tick without reading the hardware
//! counter; on the machines we measured, the precise clock was about 2% of a worker's CPU time
//! serving small files, read three times per request. Their resolution is the kernel tick (1 to
//! 10 ms), which [`resolution_ms`] reports so that a deadline can allow for it.

use nix::time::{ClockId, clock_getres, clock_gettime};

/// Milliseconds on the coarse monotonic clock (from an unspecified start; never goes back).
pub(crate) fn monotonic_ms() -> u64 {
    millis(ClockId::CLOCK_MONOTONIC_COARSE)
}

/// Microseconds on the precise monotonic clock: for durations worth logging, read only when
/// an access log asks for them.
pub(crate) fn monotonic_us() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |now| {
        now.tv_sec().max(0) as u64 * 1_000_000 + now.tv_nsec().max(0) as u64 / 1000
    })
}

/// Whole seconds since the Unix epoch, from the coarse wall clock.
pub(crate) fn unix_seconds() -> u64 {
    clock_gettime(ClockId::CLOCK_REALTIME_COARSE).map_or(0, |now| now.tv_sec().max(0) as u64)
}

/// How far `monotonic_ms` may lag the precise clock, rounded up to whole milliseconds.
pub(crate) fn resolution_ms() -> u64 {
    clock_getres(ClockId::CLOCK_MONOTONIC_COARSE).map_or(10, |res| {
        let nanos = res.tv_sec().max(0) as u64 * 1_000_000_000 + res.tv_nsec().max(0) as u64;
        nanos.div_ceil(1_000_000)
    })
}

fn millis(clock: ClockId) -> u64 {
    // These clocks exist on every Linux since 2.6.32; the error case is unreachable in practice.
    clock_gettime(clock).map_or(0, |now| {
        now.tv_sec().max(0) as u64 * 1000 + now.tv_nsec().max(0) as u64 / 1_000_000
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clocks_agree_with_the_precise_ones() {
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(unix_seconds().abs_diff(wall) <= 1);
        let before = monotonic_ms();
        std::thread::sleep(std::time::Duration::from_millis(30));
        let elapsed = monotonic_ms() - before;
        assert!(elapsed >= 30 - resolution_ms(), "{elapsed} ms");
        assert!((1..=100).contains(&resolution_ms()));
    }
}
