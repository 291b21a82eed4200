//! A worker process: built after the fork, it serves every listen socket it inherited on its
//! own single-threaded event loop (a tokio `LocalRuntime`: tasks are spawned with `spawn_local`
//! and share the worker's state through `Rc`) until told to stop.
//!
//! - On a socket whose sites take the PROXY protocol, a connection's task first reads the
//!   header (`conn::serve_proxied`), then starts as on any other socket.
//! - Connections are capped by a semaphore: an accept loop takes a permit before it accepts, so
//!   at the limit the worker simply stops accepting and the kernel's backlog holds the rest.
//! - SIGTERM, SIGINT or SIGQUIT start a drain: the accept loops close their sockets, idle
//!   connections close, busy ones finish their current response; when the last connection has
//!   given its permit back, the worker exits 0.
//! - The master's `process::REOPEN` (SIGUSR2) reopens the log file and the access logs. SIGHUP
//!   and SIGUSR1 are ignored: they are the operator's, for the master.
//! - The access logs are written at least once a second (on a timerfd) and before the worker
//!   exits.
//! - One task sweeps the connections' deadlines (`conn::deadlines`) on a timerfd (`timer`); the
//!   runtime has no timer driver. If the sweeper stops, the worker exits 1 to be replaced.

use std::future::Future;
use std::net::SocketAddr;
use std::net::TcpListener as StdListener;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{Semaphore, watch};
use tracing::{debug, error, info, warn};

use crate::access_log::AccessLogs;
use crate::cache::ResponseCache;
use crate::config::Config;
use crate::conn::{self, Shared};
use crate::fs::{FileCaches, Site};
use crate::metrics::counted;
use crate::process;
use crate::proxy_proto::Cidr;
use crate::vhost::{Route, VirtualHost};
use timer::Timer;

pub(crate) mod timer;

/// Exit code of a worker that cannot run its configuration; the master does not respawn it.
pub(crate) const EXIT_FATAL: i32 = 2;

/// Exit code of a worker that cannot go on but whose replacement may: the master respawns it.
const EXIT_RESPAWN: i32 = 1;

/// Pause after the process runs out of file descriptors before accepting again.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A shortage of descriptors is one episode (one warning) until none is seen for this long;
/// at the limit, each freed descriptor is taken again at once, and that is not news.
const EXHAUSTION_EPISODE_GAP: Duration = Duration::from_secs(5);

/// How often buffered access log lines are written at the latest.
const ACCESS_LOG_FLUSH: Duration = Duration::from_secs(1);

/// Runs worker number `id` (1-based) on `listeners` and returns its exit code. `metrics` is
/// where it counts, and the `[metrics]` socket if there is one.
pub(crate) fn run(
    id: usize,
    config: &Config,
    listeners: Vec<StdListener>,
    instance: crate::shm::Instance,
    metrics: crate::metrics::Plan,
) -> i32 {
    let metrics_listener = metrics.install();
    let mut hosts = Vec::with_capacity(config.sites.len());
    let caches = FileCaches::new(config.compress_cache_bytes, instance.etags);
    let stopping = instance
        .stopping
        .unwrap_or_else(crate::shm::StopFlag::private);
    for site in &config.sites {
        match Site::open(site.root.as_deref(), site.options.clone(), &caches) {
            Ok(files) => hosts.push(VirtualHost {
                name: site.name.clone(),
                files,
                auth: site.auth.clone(),
                access_log: site.access_log,
                https_port: site
                    .https_socket
                    .and_then(|socket| listeners.get(socket)?.local_addr().ok())
                    .map(|addr| addr.port()),
                hsts_line: site.hsts.as_ref().map(|value| {
                    format!("Strict-Transport-Security: {value}\r\n")
                        .into_bytes()
                        .into()
                }),
                acme_challenges: site
                    .acme
                    .as_ref()
                    .map(|order| crate::acme::store::challenge_folder(&order.state)),
                health: site.health.clone().map(|check| (check, stopping)),
            }),
            Err(e) => {
                error!(
                    "worker {id}: cannot open the root of site {}: {e}",
                    site.name
                );
                return EXIT_FATAL;
            }
        }
    }
    let logs = match AccessLogs::open(&config.access_logs) {
        Ok(logs) => logs,
        Err(e) => {
            error!("worker {id}: cannot open an access log: {e}");
            return EXIT_FATAL;
        }
    };
    // No timer driver: the worker's few timers are timerfds (see `timer`). A local runtime:
    // every task of the worker runs on this one thread, so per-worker state is shared through
    // `Rc` and `RefCell`, with no lock or atomic on the request path. (A `LocalSet` on an
    // ordinary runtime does the same at about 1,370 more instructions per request (callgrind, bench/profile.sh): its own
    // task queue is polled on top of the runtime's.)
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build_local(tokio::runtime::LocalOptions::default())
    {
        Ok(runtime) => runtime,
        Err(e) => {
            error!("worker {id}: cannot start its event loop: {e}");
            return EXIT_FATAL;
        }
    };
    let shared = Shared::new(
        hosts,
        logs,
        ResponseCache::new(config.file_cache_bytes),
        config.conn,
    );
    let shared = Rc::new(shared);
    runtime.block_on(serve(id, config, shared, listeners, metrics_listener))
}

async fn serve(
    id: usize,
    config: &Config,
    shared: Rc<Shared>,
    listeners: Vec<StdListener>,
    metrics_listener: Option<StdListener>,
) -> i32 {
    // Handlers first, then unblock: a stop signal sent while we were starting is still
    // pending and is delivered to the handler, not lost or fatal.
    let (Ok(mut term), Ok(mut int), Ok(mut quit), Ok(mut reopen)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::quit()),
        signal(SignalKind::from_raw(process::REOPEN as i32)),
    ) else {
        error!("worker {id}: cannot install signal handlers");
        return EXIT_FATAL;
    };
    process::unblock_signals();

    let (drain_tx, drain_rx) = watch::channel(false);
    let permits = Arc::new(Semaphore::new(config.max_connections));
    // A timer is a descriptor: failing to make one is a shortage, not a bad configuration, so
    // the master may try again (and gives up if every fresh worker fails the same way).
    let sweeper_ticks = match Timer::new() {
        Ok(timer) => timer,
        Err(e) => {
            error!("worker {id}: cannot create a timer: {e}");
            return EXIT_RESPAWN;
        }
    };
    let mut sweeper = tokio::task::spawn_local(sweep_deadlines(shared.clone(), sweeper_ticks));
    if !shared.logs.is_empty() {
        match Timer::new() {
            Ok(ticks) => {
                tokio::task::spawn_local(flush_access_logs(shared.clone(), ticks));
            }
            Err(e) => {
                error!("worker {id}: cannot create a timer: {e}");
                return EXIT_RESPAWN;
            }
        }
    }
    let sockets =
        (listeners.into_iter().zip(&config.routes).zip(&config.tls)).zip(&config.proxy_protocol);
    for (index, (((listener, route), tls), proxy)) in sockets.enumerate() {
        let backoff = match Timer::new() {
            Ok(timer) => timer,
            Err(e) => {
                error!("worker {id}: cannot create a timer: {e}");
                return EXIT_RESPAWN;
            }
        };
        let listener = match listener
            .set_nonblocking(true)
            .and_then(|()| TcpListener::from_std(listener))
        {
            Ok(listener) => listener,
            Err(e) => {
                error!("worker {id}: cannot use a listen socket: {e}");
                return EXIT_FATAL;
            }
        };
        let socket = Socket {
            route: Rc::new(route.clone()),
            protocol: match tls {
                Some(tls) => Protocol::Tls(tls.clone()),
                None if config.http2_cleartext.get(index) == Some(&true) => Protocol::Cleartext,
                None => Protocol::Http1,
            },
            proxy: proxy.clone(),
        };
        tokio::task::spawn_local(accept_loop(
            listener,
            backoff,
            shared.clone(),
            socket,
            permits.clone(),
            drain_rx.clone(),
        ));
    }
    if let Some(listener) = metrics_listener {
        // Scrapes: whichever worker accepts one answers it, with every worker's counts.
        let scrapes = Timer::new().and_then(|backoff| {
            listener.set_nonblocking(true)?;
            Ok((TcpListener::from_std(listener)?, backoff))
        });
        match scrapes {
            Ok((listener, backoff)) => {
                let scrapes = Socket {
                    route: Rc::new(Route::default()),
                    protocol: Protocol::Metrics,
                    proxy: None,
                };
                let (permits, drain) = (permits.clone(), drain_rx.clone());
                let accept =
                    accept_loop(listener, backoff, shared.clone(), scrapes, permits, drain);
                tokio::task::spawn_local(accept);
            }
            Err(e) => {
                error!("worker {id}: cannot serve the metrics socket: {e}");
                return EXIT_RESPAWN;
            }
        }
    }
    info!(
        "worker {id} pid {} (parent {}) started",
        std::process::id(),
        nix::unistd::getppid()
    );

    loop {
        tokio::select! {
            _ = &mut sweeper => {
                // No deadline would fire again; a fresh worker from the master has a sweeper.
                error!("worker {id}: its deadline sweeper stopped; exiting");
                return EXIT_RESPAWN;
            }
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = quit.recv() => break,
            _ = reopen.recv() => {
                if let Some(path) = &config.log_file
                    && let Err(e) = crate::log::reopen(path)
                {
                    error!("worker {id}: cannot reopen log file {}: {e}", path.display());
                }
                shared.logs.reopen();
            }
        }
    }
    info!("worker {id} draining");
    let _ = drain_tx.send(true);
    shared
        .deadlines
        .drain(crate::limits::DRAIN_IDLE_GRACE.min(config.conn.keepalive_timeout));
    // Every connection holds a permit until it ends; having them all back means none is left.
    let all = u32::try_from(config.max_connections).unwrap_or(u32::MAX);
    let _ = permits.acquire_many(all).await;
    shared.logs.flush();
    info!("worker {id} stopped");
    0
}

/// Writes the buffered access log lines once a second, so a quiet server's last lines are
/// not held back; a busy one writes whenever a buffer fills as well.
async fn flush_access_logs(shared: Rc<Shared>, ticks: Timer) {
    if let Err(e) = ticks.repeat(ACCESS_LOG_FLUSH) {
        error!("access log timer: {e}");
        return;
    }
    while ticks.fired().await.is_ok() {
        shared.logs.flush();
    }
}

/// Ends the waits of the worker's connections whose deadline has passed, every tick, until the
/// event loop stops; returns only if its timer fails.
async fn sweep_deadlines(shared: Rc<Shared>, ticks: Timer) {
    let failure = match ticks.repeat(shared.deadlines.tick()) {
        Err(e) => e,
        Ok(()) => loop {
            if let Err(e) = ticks.fired().await {
                break e;
            }
            shared.deadlines.sweep();
        },
    };
    error!("deadline sweeper: {failure}");
}

/// What a listen socket serves, and how its connections start.
struct Socket {
    /// Which of its sites answers which name.
    route: Rc<Route>,
    protocol: Protocol,
    /// The proxies trusted to send a PROXY header first, if its sites take one.
    proxy: Option<Rc<[Cidr]>>,
}

/// What a listen socket speaks.
enum Protocol {
    /// Plain HTTP/1.1.
    Http1,
    /// Plain HTTP/1.1, or HTTP/2 with prior knowledge (`http2_cleartext`).
    Cleartext,
    /// TLS, then HTTP/1.1 or HTTP/2 by ALPN.
    Tls(Arc<rustls::ServerConfig>),
    /// `GET /metrics`, one request per connection (`[metrics]`).
    Metrics,
}

/// Runs a connection's task: `serve` at once, or once a trusted proxy's PROXY header has named
/// the client, on a socket whose sites take one. Generic over what `serve` starts, so a
/// connection's task holds the header's state only where a header is read.
fn start<F, Fut>(
    stream: TcpStream,
    peer: SocketAddr,
    proxy: Option<&[Cidr]>,
    shared: &Rc<Shared>,
    serve: F,
) where
    F: FnOnce(TcpStream, SocketAddr) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    // A client connection counts as open from here (after its PROXY header, if any) to its end.
    let serve = move |stream, peer| counted(serve(stream, peer));
    match proxy {
        None => {
            tokio::task::spawn_local(serve(stream, peer));
        }
        Some(trusted) => {
            let proxied = conn::serve_proxied(stream, peer, trusted, shared.clone(), serve);
            tokio::task::spawn_local(proxied);
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    backoff: Timer,
    shared: Rc<Shared>,
    socket: Socket,
    permits: Arc<Semaphore>,
    mut drain: watch::Receiver<bool>,
) {
    let mut last_exhausted: Option<std::time::Instant> = None;
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => return,
            },
            _ = drain.changed() => return,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = drain.changed() => return,
        };
        match accepted {
            Ok((stream, peer)) => {
                let proxy = socket.proxy.as_deref();
                let (conn_shared, route) = (shared.clone(), socket.route.clone());
                match &socket.protocol {
                    Protocol::Tls(tls) => {
                        let tls = tls.clone();
                        start(stream, peer, proxy, &shared, move |stream, peer| {
                            conn::serve_tls(stream, peer, conn_shared, route, tls, permit)
                        });
                    }
                    Protocol::Cleartext => start(stream, peer, proxy, &shared, |stream, peer| {
                        let origin = conn::Origin::plain(peer, route);
                        conn::serve_cleartext(stream, origin, conn_shared, permit)
                    }),
                    Protocol::Http1 => start(stream, peer, proxy, &shared, |stream, peer| {
                        let origin = conn::Origin::plain(peer, route);
                        conn::serve(stream, origin, conn_shared, permit)
                    }),
                    // Not counted as a client connection.
                    Protocol::Metrics => {
                        tokio::task::spawn_local(conn::serve_scrape(stream, conn_shared, permit));
                    }
                }
            }
            Err(e)
                if matches!(
                    e.raw_os_error(),
                    Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
                ) =>
            {
                // The pending connection stays in the backlog; retrying at once would spin.
                let now = std::time::Instant::now();
                if last_exhausted.is_none_or(|at| now - at > EXHAUSTION_EPISODE_GAP) {
                    warn!("accept: {e}; pausing accepts until descriptors are free");
                }
                last_exhausted = Some(now);
                if backoff.sleep(ACCEPT_BACKOFF).await.is_err() {
                    tokio::task::yield_now().await;
                }
            }
            Err(e) => debug!("accept: {e}"),
        }
    }
}
