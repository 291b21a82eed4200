//! forkhttpd: a prefork static web server (HTTP/1.1 and HTTP/2, over TLS or not).
//!
//! # Layout
//!
//! A master process binds every listen address, forks worker processes and supervises them;
//! each worker serves HTTP/1.1 and HTTP/2 on its own single-threaded event loop.
//!
//! - [`access_log`]: the access log: lines rendered per response, buffered per worker, written
//!   to a file, stdout or syslog.
//! - [`acme`]: certificates from an ACME CA, ordered by a helper process the master forks.
//! - [`cache`]: the response cache between `conn` and `fs`: small answers with their
//!   HTTP/1.1 head already encoded.
//! - [`clock`]: coarse clocks for the per-request path.
//! - [`config`]: the command line, validated into a [`config::Config`].
//! - [`master`]: the supervisor (fork, reap, respawn, stop, reload), single-threaded.
//! - [`metrics`]: Prometheus counters in memory shared by the master and its workers, and the
//!   page `/metrics` answers with.
//! - [`process`]: how to fork, signal and reap one process (used by master and worker).
//! - [`shm`]: memory the master shares with every worker it forks (large files' ETags).
//! - [`privileges`]: workers that run as an unprivileged user (`user`, `group`).
//! - [`proxy_proto`]: the PROXY protocol header (versions 1 and 2), pure; and the address
//!   ranges trusted to send it.
//! - [`worker`]: a worker's event loop, accept loops and drain.
//! - [`conn`]: one connection's life: buffers, deadlines, keep-alive, pipelining; TLS handshakes and
//!   HTTP/2 connections (`h2`) hand their streams to the same site pipeline.
//! - [`http`]: pure HTTP/1.1 syntax: parsing heads, framing bodies, encoding responses.
//! - [`fs`]: the static file pipeline: path, open, directory, MIME, listing.
//! - [`error`]: every error kind's status and log level.
//! - [`limits`]: every limit, with the reason for its default.
//! - [`log`]: log lines to stderr or a file, from every process.

pub(crate) mod access_log;
pub(crate) mod acme;
pub(crate) mod auth;
pub mod cache;
pub(crate) mod clock;
pub mod config;
pub(crate) mod conn;
pub(crate) mod error;
pub mod fs;
pub mod http;
pub mod limits;
pub mod log;
pub mod master;
pub(crate) mod metrics;
pub mod privileges;
pub mod process;
pub mod proxy_proto;
pub mod shm;
pub(crate) mod tls;
pub(crate) mod vhost;
pub(crate) mod worker;
