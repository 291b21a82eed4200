//! Test support: starts the real `forkhttpd` binary on free loopback ports, waits for its log
//! lines instead of sleeping, and speaks raw HTTP over real sockets. One file per purpose:
//! `server` (the process and its log), `client` (raw HTTP), `procfs` (what /proc says about
//! processes and sockets), `fixtures` (files on disk), `access_log` (reading what the access
//! log wrote), `tls` (certificates made at run time, and a TLS client), `h2` (an HTTP/2 client),
//! `metrics` (scraping the `[metrics]` endpoint).

#![allow(dead_code)]

mod access_log;
mod client;
mod fixtures;
mod h2;
mod metrics;
mod procfs;
mod server;
mod tls;

use std::time::{Duration, Instant};

// Each test file uses some of these; the rest would warn as unused imports.
#[allow(unused_imports)]
pub use {access_log::*, client::*, fixtures::*, h2::*, metrics::*, procfs::*, server::*, tls::*};

/// Upper bound on any wait in a test: a hung server fails the test instead of hanging it.
pub(crate) const WAIT: Duration = Duration::from_secs(20);

/// Polls `condition` until true or `WAIT` passes; returns whether it became true.
pub(crate) fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}
