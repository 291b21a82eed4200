//! When to respawn a worker that exited: the policy that keeps a broken worker from becoming
//! a fork storm, kept free of system calls so it can be tested with made-up times.

use std::time::Duration;

/// A worker that exits sooner than this after its start counts as failing to start.
pub(crate) const QUICK_EXIT: Duration = Duration::from_secs(2);

/// First delay before respawning a worker that failed to start; doubles with each failure.
pub(crate) const FIRST_DELAY: Duration = Duration::from_millis(100);

/// Consecutive quick failures after which the slot is given up.
pub(crate) const MAX_QUICK_FAILURES: u32 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Respawn after this delay (zero: now).
    RespawnAfter(Duration),
    /// Keeps dying right after start: stop trying, say so loudly.
    GiveUp,
    /// Exited with the fatal code: its configuration cannot work, respawning cannot help.
    Fatal,
}

/// A slot's record of recent failures.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Backoff {
    quick_failures: u32,
}

impl Backoff {
    /// Decides what to do about a worker that ran for `ran_for` and exited, fatally or not.
    pub(crate) fn on_exit(&mut self, ran_for: Duration, fatal: bool) -> Decision {
        if fatal {
            return Decision::Fatal;
        }
        if ran_for >= QUICK_EXIT {
            // It served for a while: a crash, not a start-up failure. Replace it at once.
            self.quick_failures = 0;
            return Decision::RespawnAfter(Duration::ZERO);
        }
        self.quick_failures += 1;
        if self.quick_failures >= MAX_QUICK_FAILURES {
            return Decision::GiveUp;
        }
        Decision::RespawnAfter(FIRST_DELAY * 2u32.pow(self.quick_failures - 1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_after_running_respawns_now() {
        let mut backoff = Backoff::default();
        assert_eq!(
            backoff.on_exit(Duration::from_secs(60), false),
            Decision::RespawnAfter(Duration::ZERO)
        );
    }

    #[test]
    fn quick_failures_back_off_then_give_up() {
        let mut backoff = Backoff::default();
        let quick = Duration::from_millis(10);
        let delays: Vec<Decision> = (0..MAX_QUICK_FAILURES)
            .map(|_| backoff.on_exit(quick, false))
            .collect();
        assert_eq!(
            delays,
            vec![
                Decision::RespawnAfter(Duration::from_millis(100)),
                Decision::RespawnAfter(Duration::from_millis(200)),
                Decision::RespawnAfter(Duration::from_millis(400)),
                Decision::RespawnAfter(Duration::from_millis(800)),
                Decision::GiveUp,
            ]
        );
    }

    #[test]
    fn a_healthy_run_forgives_earlier_failures() {
        let mut backoff = Backoff::default();
        for _ in 0..MAX_QUICK_FAILURES - 1 {
            backoff.on_exit(Duration::ZERO, false);
        }
        backoff.on_exit(Duration::from_secs(30), false);
        assert_eq!(
            backoff.on_exit(Duration::ZERO, false),
            Decision::RespawnAfter(FIRST_DELAY)
        );
    }

    #[test]
    fn fatal_is_never_respawned() {
        assert_eq!(
            Backoff::default().on_exit(Duration::from_secs(60), true),
            Decision::Fatal
        );
    }
}
