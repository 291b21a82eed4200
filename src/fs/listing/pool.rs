//! The worker's listing threads: [`limits::LISTING_THREADS`] of them, started on the worker's
//! first listing (never in the master, which must not have threads when it forks), taking
//! jobs from one queue of [`limits::LISTING_QUEUE`].
//!
//! The worker's thread only ever tries to queue a job (`try_send`: it never waits) and awaits
//! the job's answer on a `tokio::sync::oneshot`, which wakes its task on the worker's runtime;
//! the threads share nothing with it but what a job carries. They run at a lower priority
//! (nice [`NICE`]), so that when they and the worker want the same core the worker's other
//! connections go first. A job whose request is gone is still built (the page may be kept),
//! and its answer is dropped.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};

use tracing::error;

use super::Job;
use crate::limits;

/// The listing threads' nice value: below the worker's own (0), above nothing else.
const NICE: libc::c_int = 10;

/// Why a job was not queued.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Every thread is busy and the queue is full.
    Full,
    /// No listing thread could be started.
    Gone,
}

#[derive(Debug)]
pub(crate) struct Pool {
    jobs: SyncSender<Job>,
}

impl Pool {
    /// Starts the threads. If none can start, the queue is closed at once: every listing is
    /// then refused, and nothing waits for a thread that does not exist.
    pub(crate) fn start() -> Pool {
        let (jobs, incoming) = mpsc::sync_channel::<Job>(limits::LISTING_QUEUE);
        let incoming = Arc::new(Mutex::new(incoming));
        for index in 0..limits::LISTING_THREADS {
            let incoming = incoming.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("listing-{index}"))
                .spawn(move || serve(&incoming));
            if let Err(e) = spawned {
                error!("cannot start a listing thread: {e}");
            }
        }
        Pool { jobs }
    }

    /// Queues `job` if there is room, without waiting.
    pub(crate) fn submit(&self, job: Job) -> Result<(), Refused> {
        self.jobs.try_send(job).map_err(|e| match e {
            TrySendError::Full(_) => Refused::Full,
            TrySendError::Disconnected(_) => Refused::Gone,
        })
    }
}

/// One listing thread: jobs until the worker's end of the queue is gone.
fn serve(incoming: &Mutex<Receiver<Job>>) {
    // SAFETY: setpriority only changes the calling thread's nice value (a thread's own
    // attribute on Linux, named by its tid); no memory is involved.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, NICE);
    }
    loop {
        // The lock is held only while waiting for the next job: by a listing thread, never by
        // the worker's.
        let job = match incoming.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        let Ok(job) = job else {
            return;
        };
        // A bug in one listing must not take the thread, and every later listing, with it; the
        // request sees its answer channel dropped and gets a 500.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| super::run(job)));
    }
}
