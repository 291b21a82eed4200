//! The master's signals, read as events from a signalfd.
//!
//! The signals are blocked and read from a descriptor in the main loop, so no handler code runs
//! at an arbitrary point and nothing is lost between two waits. Workers unblock them after the
//! fork (see `process::unblock_signals`).

use std::os::fd::AsFd;
use std::time::Duration;

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// The signals the master acts on, and `process::REOPEN`, which it only sends: blocked here
/// (and so in a child until it has its handler), so that a child told to reopen its logs just
/// after the fork is not killed by the signal's default action.
pub(crate) const HANDLED: [Signal; 7] = [
    Signal::SIGCHLD,
    Signal::SIGTERM,
    Signal::SIGINT,
    Signal::SIGQUIT,
    Signal::SIGHUP,
    Signal::SIGUSR1,
    crate::process::REOPEN,
];

pub(crate) fn handled_set() -> SigSet {
    let mut set = SigSet::empty();
    for signal in HANDLED {
        set.add(signal);
    }
    set
}

pub(crate) struct Signals {
    fd: SignalFd,
}

impl Signals {
    /// Blocks the handled signals for this process and opens a descriptor that reads them.
    pub(crate) fn open() -> nix::Result<Signals> {
        let set = handled_set();
        set.thread_block()?;
        let fd = SignalFd::with_flags(&set, SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC)?;
        Ok(Signals { fd })
    }

    /// Waits up to `timeout` (forever if `None`) and returns the signals received, in order.
    pub(crate) fn wait(&mut self, timeout: Option<Duration>) -> Vec<Signal> {
        let timeout = match timeout {
            None => PollTimeout::NONE,
            // Round up so a deadline a few microseconds away is not polled in a busy loop.
            Some(t) => PollTimeout::try_from(t.as_millis().saturating_add(1).min(60_000) as i32)
                .unwrap_or(PollTimeout::MAX),
        };
        let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
        // EINTR (a stop/continue) is just an early wake-up.
        let _ = poll(&mut fds, timeout);
        let mut received = Vec::new();
        while let Ok(Some(info)) = self.fd.read_signal() {
            if let Ok(signal) = Signal::try_from(info.ssi_signo as i32) {
                received.push(signal);
            }
        }
        received
    }
}
