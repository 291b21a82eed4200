//! Where each number lives in the metrics mapping: offsets only, no memory, so that the master
//! and every worker compute the same places and the arithmetic is tested on its own.
//!
//! ```text
//! header          8 words    written by the master: start time, reloads, restarts, and how
//!                            far the tables below are in use
//! site rows       (SITES + 1) x 16 words, one per site index, the last for `(other)`: added
//!                            to by any worker whose own row could not be had (shared, so
//!                            contended, but never lost)
//! worker rows     ROWS x 16 words, handed out by the master, one per (worker id, site index)
//!                            when a worker with that id first serves that site
//! worker words    WORKERS x 8 words, one group per worker id: TLS handshakes, failed TLS
//!                            handshakes, HTTP/2 streams
//! process words   PROCESSES x 8 words, one group per live worker process: its open and idle
//!                            connections, stored by that process alone, zeroed when it is reaped
//! row sites       ROWS words: the site index (+ 1) each worker row counts for
//! ```
//!
//! A row is 16 words (two cache lines, aligned, since the mapping is page-aligned and every
//! region before it is a multiple of 64 bytes): the 15 request counters by method and status
//! class, then body bytes. Groups of 8 words are one cache line each, so no two processes'
//! hot words share a line.

use std::ops::Range;

/// Header words, each written by the master only.
pub(crate) const START_TIME: usize = 0;
pub(crate) const RELOADS: usize = 1;
pub(crate) const RESTARTS: usize = 2;
/// Worker rows handed out so far (published after their row-site words).
pub(crate) const ROWS_USED: usize = 3;
/// Highest worker id given a worker-word group so far.
pub(crate) const WORKERS_SEEN: usize = 4;
/// Process slots used so far (the highest index + 1).
pub(crate) const PROCESSES_SEEN: usize = 5;
const HEADER_WORDS: usize = 8;

/// Request methods counted apart: GET, HEAD, and every other.
pub(crate) const METHODS: usize = 3;
/// Status classes 1xx to 5xx.
pub(crate) const CLASSES: usize = 5;
pub(crate) const ROW_WORDS: usize = 16;
/// The body bytes word of a row, after the `METHODS x CLASSES` request counters.
pub(crate) const BYTES: usize = METHODS * CLASSES;

/// Words of a worker-word group.
pub(crate) const TLS_HANDSHAKES: usize = 0;
pub(crate) const TLS_FAILURES: usize = 1;
pub(crate) const HTTP2_STREAMS: usize = 2;
pub(crate) const GROUP_WORDS: usize = 8;

/// Words of a process group.
pub(crate) const OPEN: usize = 0;
pub(crate) const IDLE: usize = 1;

/// The sizes of the tables, fixed when the mapping is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Named site indices; index `sites` is `(other)`.
    pub sites: usize,
    /// Worker rows.
    pub rows: usize,
    /// Worker ids, 1 to `workers`.
    pub workers: usize,
    /// Process slots.
    pub processes: usize,
}

impl Layout {
    /// The site index that counts for every name past the first `sites`.
    pub(crate) fn other(&self) -> usize {
        self.sites
    }

    fn site_rows_start(&self) -> usize {
        HEADER_WORDS
    }

    fn worker_rows_start(&self) -> usize {
        self.site_rows_start() + (self.sites + 1) * ROW_WORDS
    }

    fn worker_words_start(&self) -> usize {
        self.worker_rows_start() + self.rows * ROW_WORDS
    }

    fn process_words_start(&self) -> usize {
        self.worker_words_start() + self.workers * GROUP_WORDS
    }

    fn row_sites_start(&self) -> usize {
        self.process_words_start() + self.processes * GROUP_WORDS
    }

    /// Words in the whole mapping.
    pub(crate) fn words(&self) -> usize {
        self.row_sites_start() + self.rows
    }

    /// The shared row of site index `site` (`other()` included).
    pub(crate) fn site_row(&self, site: usize) -> Range<usize> {
        assert!(site <= self.sites, "site index {site} out of range");
        let start = self.site_rows_start() + site * ROW_WORDS;
        start..start + ROW_WORDS
    }

    /// Worker row `row`.
    pub(crate) fn worker_row(&self, row: usize) -> Range<usize> {
        assert!(row < self.rows, "row {row} out of range");
        let start = self.worker_rows_start() + row * ROW_WORDS;
        start..start + ROW_WORDS
    }

    /// The word that says which site index (+ 1) worker row `row` counts for.
    pub(crate) fn row_site(&self, row: usize) -> usize {
        assert!(row < self.rows, "row {row} out of range");
        self.row_sites_start() + row
    }

    /// The worker-word group of worker `id` (1-based, as the log lines say).
    pub(crate) fn worker(&self, id: usize) -> Range<usize> {
        assert!(
            (1..=self.workers).contains(&id),
            "worker id {id} out of range"
        );
        let start = self.worker_words_start() + (id - 1) * GROUP_WORDS;
        start..start + GROUP_WORDS
    }

    /// The group of process slot `slot`.
    pub(crate) fn process(&self, slot: usize) -> Range<usize> {
        assert!(slot < self.processes, "process slot {slot} out of range");
        let start = self.process_words_start() + slot * GROUP_WORDS;
        start..start + GROUP_WORDS
    }
}

/// The counter of a row for a request of method class `method` (0 GET, 1 HEAD, 2 other)
/// answered with `status`. Codes outside 100 to 599 count with the nearest class.
pub(crate) fn request_word(method: usize, status: u16) -> usize {
    let class = usize::from(status / 100).clamp(1, CLASSES) - 1;
    method * CLASSES + class
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Layout = Layout {
        sites: 3,
        rows: 5,
        workers: 2,
        processes: 4,
    };

    /// Every range of the layout, in order.
    fn regions(layout: &Layout) -> Vec<Range<usize>> {
        let header: Range<usize> = 0..HEADER_WORDS;
        let mut all = Vec::new();
        all.push(header);
        all.extend((0..=layout.sites).map(|s| layout.site_row(s)));
        all.extend((0..layout.rows).map(|r| layout.worker_row(r)));
        all.extend((1..=layout.workers).map(|id| layout.worker(id)));
        all.extend((0..layout.processes).map(|p| layout.process(p)));
        all.extend((0..layout.rows).map(|r| {
            let word = layout.row_site(r);
            word..word + 1
        }));
        all
    }

    #[test]
    fn regions_tile_the_mapping_without_overlap_or_gap() {
        for layout in [SMALL, crate::metrics::LAYOUT] {
            let all = regions(&layout);
            for pair in all.windows(2) {
                assert_eq!(pair[0].end, pair[1].start, "{pair:?}");
            }
            assert_eq!(all.last().unwrap().end, layout.words());
        }
    }

    #[test]
    fn rows_and_groups_start_on_cache_lines() {
        // The mapping is page-aligned; 8 words are 64 bytes.
        let layout = crate::metrics::LAYOUT;
        for site in 0..=layout.sites {
            assert_eq!(layout.site_row(site).start % 8, 0);
        }
        for row in [0, 1, layout.rows - 1] {
            assert_eq!(layout.worker_row(row).start % 8, 0);
        }
        for id in [1, 2, layout.workers] {
            assert_eq!(layout.worker(id).start % 8, 0);
        }
        for slot in [0, 1, layout.processes - 1] {
            assert_eq!(layout.process(slot).start % 8, 0);
        }
    }

    #[test]
    fn the_full_layout_stays_a_few_mebibytes_of_address_space() {
        let bytes = crate::metrics::LAYOUT.words() * 8;
        assert!(bytes < 12 << 20, "{bytes} bytes");
    }

    #[test]
    fn worker_ids_are_one_based() {
        assert_eq!(SMALL.worker(1).start + GROUP_WORDS, SMALL.worker(2).start);
        assert!(std::panic::catch_unwind(|| SMALL.worker(0)).is_err());
        assert!(std::panic::catch_unwind(|| SMALL.worker(3)).is_err());
        assert_eq!(SMALL.other(), 3);
        assert!(std::panic::catch_unwind(|| SMALL.site_row(4)).is_err());
    }

    #[test]
    fn request_words_cover_the_row_once() {
        let mut seen = std::collections::BTreeSet::new();
        for method in 0..METHODS {
            for status in [100, 200, 301, 404, 503] {
                assert!(seen.insert(request_word(method, status)));
            }
        }
        assert_eq!(
            seen.into_iter().collect::<Vec<_>>(),
            (0..BYTES).collect::<Vec<_>>()
        );
        assert_eq!(request_word(0, 200), 1);
        assert_eq!(request_word(1, 404), CLASSES + 3);
        assert_eq!(request_word(2, 599), 2 * CLASSES + 4);
        // Out of range: the nearest class, never another row's word.
        assert_eq!(request_word(0, 42), request_word(0, 100));
        assert_eq!(request_word(2, 999), request_word(2, 500));
    }
}
