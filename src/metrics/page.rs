//! A scrape: every counter summed over all worker rows and slots, and written as one page.
//!
//! The sums are read word by word while workers keep adding, so a page is not a snapshot of
//! one instant; but each word only grows (or, for gauges, is one process's latest value), so
//! no counter on a page is ever lower than on an earlier page.
//!
//! Site labels come from the names this worker got at its fork. A row counted for a site
//! added by a later reload (which only a scrape that reached an old, draining worker could
//! meet) is left off that page rather than given a wrong label.

use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::{Acquire, Relaxed};

use super::layout::{self, ROW_WORDS};
use super::text::{Kind, Page};
use super::{Mapping, OTHER_SITE, Recorder};

const METHOD_LABELS: [&str; layout::METHODS] = ["GET", "HEAD", "other"];
const CLASS_LABELS: [&str; layout::CLASSES] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The page `/metrics` answers with.
pub(crate) fn render(recorder: &Recorder) -> Vec<u8> {
    let mut page = Page::default();
    if let Some(mapping) = &recorder.mapping {
        counters(&mut page, recorder, mapping);
    }
    page.family(
        "forkhttpd_build_info",
        Kind::Gauge,
        "Always 1; the version label says which forkhttpd is running.",
    );
    page.sample(
        "forkhttpd_build_info",
        &[("version", env!("CARGO_PKG_VERSION"))],
        1,
    );
    page.into_bytes()
}

fn counters(page: &mut Page, recorder: &Recorder, mapping: &Mapping) {
    let layout = &recorder.layout;
    let header = |word: usize| mapping.word(word).load(Relaxed);
    // Per site index: the site's shared row plus every worker row counted for it; the last
    // entry is `(other)`.
    let names = &recorder.names;
    let mut sites = vec![[0u64; ROW_WORDS]; names.len() + 1];
    let other = names.len();
    let mut add = |site: usize, row: &[AtomicU64]| {
        let at = if site == layout.other() {
            other
        } else if site < names.len() {
            site
        } else {
            return;
        };
        for (sum, word) in sites[at].iter_mut().zip(row) {
            *sum = sum.wrapping_add(word.load(Relaxed));
        }
    };
    for site in (0..names.len()).chain([layout.other()]) {
        add(site, mapping.words(layout.site_row(site)));
    }
    // Rows are published by the count after their site words (Release), so the count first.
    let rows = (mapping.word(layout::ROWS_USED).load(Acquire) as usize).min(layout.rows);
    for row in 0..rows {
        let site = mapping.word(layout.row_site(row)).load(Relaxed);
        if let Some(site) = (site as usize).checked_sub(1) {
            add(site, mapping.words(layout.worker_row(row)));
        }
    }

    let labels = names.iter().map(String::as_str).chain([OTHER_SITE]);
    let counted: Vec<(&str, &[u64; ROW_WORDS])> = labels
        .zip(&sites)
        .filter(|(_, row)| row[..layout::BYTES].iter().any(|&n| n > 0))
        .collect();
    page.family(
        "forkhttpd_requests_total",
        Kind::Counter,
        "Responses sent, by site, request method (GET, HEAD, other) and status class.",
    );
    for (site, row) in &counted {
        for (method, method_label) in METHOD_LABELS.iter().enumerate() {
            for (class, code) in CLASS_LABELS.iter().enumerate() {
                let count = row[method * layout::CLASSES + class];
                if count > 0 {
                    let labels = [("site", *site), ("method", *method_label), ("code", *code)];
                    page.sample("forkhttpd_requests_total", &labels, count);
                }
            }
        }
    }
    page.family(
        "forkhttpd_response_bytes_total",
        Kind::Counter,
        "Response body bytes sent, by site (heads not included).",
    );
    for (site, row) in &counted {
        let bytes = row[layout::BYTES];
        page.sample("forkhttpd_response_bytes_total", &[("site", site)], bytes);
    }

    let processes = (header(layout::PROCESSES_SEEN) as usize).min(layout.processes);
    let gauge = |word: usize| -> u64 {
        (0..processes)
            .map(|slot| mapping.words(layout.process(slot))[word].load(Relaxed))
            .fold(0, u64::wrapping_add)
    };
    page.family(
        "forkhttpd_connections_open",
        Kind::Gauge,
        "Client connections open now, TLS handshakes included (scrapes not included).",
    );
    page.sample("forkhttpd_connections_open", &[], gauge(layout::OPEN));
    page.family(
        "forkhttpd_connections_idle",
        Kind::Gauge,
        "Open connections waiting for a request: HTTP/1.1 between requests, HTTP/2 with no \
         stream open.",
    );
    page.sample("forkhttpd_connections_idle", &[], gauge(layout::IDLE));

    let workers = (header(layout::WORKERS_SEEN) as usize).min(layout.workers);
    let per_worker = |word: usize| -> u64 {
        (1..=workers)
            .map(|id| mapping.words(layout.worker(id))[word].load(Relaxed))
            .fold(0, u64::wrapping_add)
    };
    let totals = [
        (
            "forkhttpd_tls_handshakes_total",
            "TLS handshakes completed.",
            per_worker(layout::TLS_HANDSHAKES),
        ),
        (
            "forkhttpd_tls_handshake_failures_total",
            "TLS handshakes that failed or ran past the header timeout.",
            per_worker(layout::TLS_FAILURES),
        ),
        (
            "forkhttpd_http2_streams_total",
            "HTTP/2 streams accepted and answered.",
            per_worker(layout::HTTP2_STREAMS),
        ),
        (
            "forkhttpd_worker_restarts_total",
            "Workers respawned after an exit the master did not ask for.",
            header(layout::RESTARTS),
        ),
        (
            "forkhttpd_reloads_total",
            "Reloads (SIGHUP) that took effect.",
            header(layout::RELOADS),
        ),
    ];
    for (name, help, value) in totals {
        page.family(name, Kind::Counter, help);
        page.sample(name, &[], value);
    }
    page.family(
        "forkhttpd_start_time_seconds",
        Kind::Gauge,
        "When the master started, in seconds since the Unix epoch.",
    );
    page.sample(
        "forkhttpd_start_time_seconds",
        &[],
        header(layout::START_TIME),
    );
}
