//! Prometheus metrics: counters in memory the master maps before its first fork (`crate::shm`),
//! added to by every worker without a lock, and summed by whichever worker a scrape reaches.
//!
//! - `layout.rs`: where each number lives in the mapping.
//! - `registry.rs`: the master's side: the site index by name, worker rows, process slots, and
//!   the words only the master writes (start time, reloads, restarts).
//! - this file: a worker's side, its [`Recorder`]: one per process, installed right after the
//!   fork, used by the connection code where requests finish, TLS handshakes end and
//!   connections open, close or go idle.
//! - `page.rs`: the sums as a page; `text.rs`: the exposition format.
//!
//! Counters are per worker id (the id a respawned or next-generation worker takes again) and
//! only ever grow, with `fetch_add(Relaxed)`: an old worker draining after a reload shares its
//! id, and its rows, with its successor, and both adds land. No counter is ever reset, so a
//! scrape never sees one fall, across worker deaths and reloads alike. Gauges are per process,
//! stored by that process alone and zeroed by the master when it reaps it. A request costs two
//! atomic adds on a cache line no other process writes.

mod layout;
mod page;
mod registry;
mod text;

pub(crate) use page::render;
pub(crate) use registry::{Plan, Registry};
pub(crate) use text::CONTENT_TYPE;

use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::task::{Context, Poll};

use layout::Layout;

use crate::http::Method;
use crate::limits;

/// The sizes the server maps: about 9 MiB of address space, of which only the pages that are
/// written (or read by a scrape) take memory.
pub(crate) const LAYOUT: Layout = Layout {
    sites: limits::METRICS_SITES,
    rows: limits::METRICS_ROWS,
    workers: limits::MAX_WORKERS,
    processes: limits::METRICS_PROCESSES,
};

/// The label of the site index that counts for every site name past `limits::METRICS_SITES`.
/// Not a host name (server names have no parentheses), so it cannot be mistaken for a site.
pub(crate) const OTHER_SITE: &str = "(other)";

/// The metrics mapping: atomic words shared by the master and all its workers.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping {
    words: &'static [AtomicU64],
}

impl Mapping {
    fn new(layout: &Layout) -> std::io::Result<Mapping> {
        Ok(Mapping {
            words: crate::shm::words(layout.words())?,
        })
    }

    fn word(&self, at: usize) -> &'static AtomicU64 {
        &self.words[at]
    }

    fn words(&self, range: Range<usize>) -> &'static [AtomicU64] {
        &self.words[range]
    }

    fn row(&self, range: Range<usize>) -> &'static Row {
        self.words(range)
            .try_into()
            .expect("the layout's rows are ROW_WORDS long")
    }
}

/// How a request is counted by method: `GET`, `HEAD`, or any other.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MethodClass {
    Get = 0,
    Head = 1,
    Other = 2,
}

impl MethodClass {
    pub(crate) fn of(method: Method) -> MethodClass {
        match method {
            Method::Get => MethodClass::Get,
            Method::Head => MethodClass::Head,
            _ => MethodClass::Other,
        }
    }

    /// The class of a request line that did not parse, by its first word.
    pub(crate) fn of_line(line: Option<&[u8]>) -> MethodClass {
        match line.and_then(|line| line.split(|&b| b == b' ').next()) {
            Some(b"GET") => MethodClass::Get,
            Some(b"HEAD") => MethodClass::Head,
            _ => MethodClass::Other,
        }
    }
}

/// A row of counters: requests by method and status class, then body bytes. Its size is in
/// its type, so counting needs no bounds check.
type Row = [AtomicU64; layout::ROW_WORDS];

/// A worker's places in the mapping. One per process: the worker installs its own right after
/// the fork ([`Plan::install`]); any other process (the master, unit tests) counts into spare
/// words that nobody reads.
#[derive(Debug)]
pub(crate) struct Recorder {
    /// For each site of the worker's configuration (its host index), the row its requests
    /// are added to.
    rows: Vec<&'static Row>,
    /// The worker id's TLS and HTTP/2 counters.
    worker: &'static [AtomicU64],
    /// This process's gauges.
    process: &'static [AtomicU64],
    /// The whole mapping and the site names known at the fork, for a scrape.
    mapping: Option<Mapping>,
    layout: Layout,
    names: Vec<String>,
}

static RECORDER: OnceLock<Recorder> = OnceLock::new();
static SPARE_WORKER: [AtomicU64; layout::GROUP_WORDS] =
    [const { AtomicU64::new(0) }; layout::GROUP_WORDS];
static SPARE_PROCESS: [AtomicU64; layout::GROUP_WORDS] =
    [const { AtomicU64::new(0) }; layout::GROUP_WORDS];
static UNSHARED: Recorder = Recorder {
    rows: Vec::new(),
    worker: &SPARE_WORKER,
    process: &SPARE_PROCESS,
    mapping: None,
    layout: LAYOUT,
    names: Vec::new(),
};

/// This process's recorder.
#[inline]
pub(crate) fn recorder() -> &'static Recorder {
    RECORDER.get().unwrap_or(&UNSHARED)
}

impl Plan {
    /// Gives the worker the `[metrics]` socket to answer scrapes on.
    pub(crate) fn with_listener(mut self, listener: Option<std::net::TcpListener>) -> Plan {
        self.listener = listener;
        self
    }

    /// Makes this plan the process's recorder (once, in the worker, right after the fork) and
    /// returns the `[metrics]` socket if there is one.
    pub(crate) fn install(self) -> Option<std::net::TcpListener> {
        let Plan {
            mapping,
            layout,
            rows,
            worker,
            process,
            names,
            listener,
        } = self;
        let recorder = match mapping {
            Some(mapping) => Recorder {
                rows: rows.into_iter().map(|row| mapping.row(row)).collect(),
                worker: worker.map_or(&SPARE_WORKER[..], |group| mapping.words(group)),
                process: process.map_or(&SPARE_PROCESS[..], |slot| {
                    mapping.words(layout.process(slot))
                }),
                mapping: Some(mapping),
                layout,
                names,
            },
            None => Recorder {
                rows: Vec::new(),
                worker: &SPARE_WORKER,
                process: &SPARE_PROCESS,
                mapping: None,
                layout,
                names,
            },
        };
        if RECORDER.set(recorder).is_err() {
            tracing::error!("metrics: a recorder was already installed in this process");
        }
        listener
    }
}

impl Recorder {
    /// A response of site `site` (the worker's host index) to a request of method `method`
    /// finished with `status` and `body_bytes` bytes of body sent.
    #[inline]
    pub(crate) fn request(&self, site: usize, method: MethodClass, status: u16, body_bytes: u64) {
        let Some(row) = self.rows.get(site) else {
            return;
        };
        row[layout::request_word(method as usize, status)].fetch_add(1, Relaxed);
        if body_bytes > 0 {
            row[layout::BYTES].fetch_add(body_bytes, Relaxed);
        }
    }

    /// A TLS handshake completed, or failed (an error, or the header timeout).
    pub(crate) fn tls_handshake(&self, completed: bool) {
        let word = if completed {
            layout::TLS_HANDSHAKES
        } else {
            layout::TLS_FAILURES
        };
        self.worker[word].fetch_add(1, Relaxed);
    }

    /// An HTTP/2 stream was accepted, to be answered.
    pub(crate) fn http2_stream(&self) {
        self.worker[layout::HTTP2_STREAMS].fetch_add(1, Relaxed);
    }

    /// How many of the worker's connections are idle now (`conn::deadlines` keeps the count).
    /// A plain store: this process is the slot's only writer.
    #[inline]
    pub(crate) fn set_idle(&self, idle: u64) {
        self.process[layout::IDLE].store(idle, Relaxed);
    }

    /// Adds `delta` to the open connections. A load and a store, not an atomic add: this
    /// process, on its one thread, is the slot's only writer.
    fn add_open(&self, delta: i64) {
        let open = &self.process[layout::OPEN];
        open.store(open.load(Relaxed).wrapping_add_signed(delta), Relaxed);
    }
}

/// One open connection, from accept until its task ends (or is dropped with the worker).
#[derive(Debug)]
pub(crate) struct Open(());

impl Open {
    pub(crate) fn new() -> Open {
        recorder().add_open(1);
        Open(())
    }
}

impl Drop for Open {
    fn drop(&mut self) {
        recorder().add_open(-1);
    }
}

pin_project_lite::pin_project! {
    /// A connection's task, counted open for as long as it lives. A struct rather than an
    /// `async` block: the block would store the connection's future twice (captured, then
    /// awaited), and every idle connection would pay for it; this adds nothing to its size.
    pub(crate) struct Counted<F> {
        #[pin]
        serve: F,
        open: Open,
    }
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        self.project().serve.poll(cx)
    }
}

/// `serve`, counted as an open connection from now until it ends.
pub(crate) fn counted<F: Future>(serve: F) -> Counted<F> {
    Counted {
        serve,
        open: Open::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_counted_future_is_no_larger_than_its_connection() {
        async fn connection() {
            let held = [0u8; 200];
            std::future::ready(()).await;
            std::hint::black_box(held);
        }
        assert_eq!(
            std::mem::size_of_val(&counted(connection())),
            std::mem::size_of_val(&connection())
        );
    }

    #[test]
    fn method_classes() {
        assert_eq!(MethodClass::of(Method::Get), MethodClass::Get);
        assert_eq!(MethodClass::of(Method::Head), MethodClass::Head);
        assert_eq!(MethodClass::of(Method::Options), MethodClass::Other);
        assert_eq!(
            MethodClass::of_line(Some(b"HEAD / HTTP/1.1")),
            MethodClass::Head
        );
        assert_eq!(MethodClass::of_line(Some(b"GET")), MethodClass::Get);
        assert_eq!(
            MethodClass::of_line(Some(b"get / HTTP/1.1")),
            MethodClass::Other
        );
        assert_eq!(MethodClass::of_line(None), MethodClass::Other);
    }

    #[test]
    fn a_plan_installed_counts_into_the_mapping_and_the_page_sums_it() {
        // One process plays master and worker: the plan of worker 1 for two sites.
        let mut registry = Registry::new();
        let plan = registry.plan(1, ["a.test", "b.test"]);
        let mapping = plan.mapping.unwrap();
        let recorder = Recorder {
            rows: plan.rows.iter().map(|r| mapping.row(r.clone())).collect(),
            worker: mapping.words(plan.worker.clone().unwrap()),
            process: mapping.words(LAYOUT.process(plan.process.unwrap())),
            mapping: Some(mapping),
            layout: LAYOUT,
            names: plan.names.clone(),
        };
        recorder.request(0, MethodClass::Get, 200, 10);
        recorder.request(0, MethodClass::Get, 200, 5);
        recorder.request(1, MethodClass::Head, 404, 0);
        recorder.request(7, MethodClass::Get, 200, 5);
        recorder.tls_handshake(true);
        recorder.tls_handshake(false);
        recorder.http2_stream();
        recorder.add_open(1);
        recorder.set_idle(1);
        registry.reloaded();
        let page = String::from_utf8(render(&recorder)).unwrap();
        for line in [
            "forkhttpd_requests_total{site=\"a.test\",method=\"GET\",code=\"2xx\"} 2",
            "forkhttpd_requests_total{site=\"b.test\",method=\"HEAD\",code=\"4xx\"} 1",
            "forkhttpd_response_bytes_total{site=\"a.test\"} 15",
            "forkhttpd_response_bytes_total{site=\"b.test\"} 0",
            "forkhttpd_tls_handshakes_total 1",
            "forkhttpd_tls_handshake_failures_total 1",
            "forkhttpd_http2_streams_total 1",
            "forkhttpd_connections_open 1",
            "forkhttpd_connections_idle 1",
            "forkhttpd_reloads_total 1",
            "forkhttpd_worker_restarts_total 0",
        ] {
            assert!(page.lines().any(|l| l == line), "no {line:?} in:\n{page}");
        }
        assert!(!page.contains("(other)"), "nothing counted there:\n{page}");
    }
}
