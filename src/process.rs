//! How to fork, signal and reap one process: the mechanism. When to do it is `master/mod.rs`;
//! the worker uses it only to undo what the master set up before the fork. Its own module so
//! that `master` and `worker` depend on it, not on each other's insides.

use std::fmt;

use nix::errno::Errno;
use nix::sys::signal::{SigSet, SigmaskHow, Signal, kill, sigprocmask};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, getppid};

/// Which side of a fork this is.
pub enum Forked {
    Parent(Pid),
    Child,
}

/// Forks this process. Only for a single-threaded caller such as the master: the child of a
/// multi-threaded process may only call async-signal-safe functions.
pub fn fork() -> nix::Result<Forked> {
    // SAFETY: the master is single-threaded (it starts no thread or async runtime), so the child
    // is a complete copy and no lock can be held by a thread that does not exist in the child.
    match unsafe { nix::unistd::fork() }? {
        ForkResult::Parent { child } => Ok(Forked::Parent(child)),
        ForkResult::Child => Ok(Forked::Child),
    }
}

/// In a freshly forked child: arrange to be killed when the master dies, so no worker outlives
/// it. Returns false if the master is already gone (it died before the arrangement was made).
pub fn die_with_parent(master: Pid) -> bool {
    if nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).is_err() {
        return false;
    }
    getppid() == master
}

/// The signal the master sends a child to reopen its log files: not SIGUSR1, which is the
/// operator's, so that `pkill -USR1 forkhttpd` (which reaches every process) reopens each
/// file once, through the master.
pub const REOPEN: Signal = Signal::SIGUSR2;

/// In a child, once its handlers are installed: ignores the operator's signals, which are the
/// master's to act on (SIGHUP reloads, SIGUSR1 reopens the logs and tells the children with
/// [`REOPEN`]; nginx's workers ignore them too, where their default action would kill the
/// process), then lets the signals the master blocked reach this process again.
pub fn unblock_signals() {
    for signal in [Signal::SIGHUP, Signal::SIGUSR1] {
        // SAFETY: installing SIG_IGN runs no code of ours in a signal context; it only changes
        // this process's disposition of the signal.
        let _ = unsafe { nix::sys::signal::signal(signal, nix::sys::signal::SigHandler::SigIgn) };
    }
    let _ = sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
}

/// Sends `signal` to `pid`; a process that is already gone is not an error.
pub fn send(pid: Pid, signal: Signal) {
    match kill(pid, signal) {
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(e) => tracing::warn!("cannot send {signal} to pid {pid}: {e}"),
    }
}

/// How a child ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Code(i32),
    Signal(Signal),
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exit::Code(code) => write!(f, "exit code {code}"),
            Exit::Signal(signal) => write!(f, "signal {signal}"),
        }
    }
}

/// Waits for the child `pid` to exit.
pub fn wait(pid: Pid) -> nix::Result<Exit> {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Ok(Exit::Code(code)),
            Ok(WaitStatus::Signaled(_, signal, _)) => return Ok(Exit::Signal(signal)),
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
}

/// Collects every child that has exited, without waiting. Called on each SIGCHLD: signals
/// coalesce, so one SIGCHLD may stand for several exits.
pub fn reap() -> Vec<(Pid, Exit)> {
    let mut exited = Vec::new();
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) => exited.push((pid, Exit::Code(code))),
            Ok(WaitStatus::Signaled(pid, signal, _)) => exited.push((pid, Exit::Signal(signal))),
            Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => return exited,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                tracing::error!("waitpid: {e}");
                return exited;
            }
        }
    }
}
