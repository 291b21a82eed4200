//! The master's side of the metrics: it maps the memory before its first fork, keeps the site
//! index (every site name it has seen, in the order it first saw them), hands out worker rows
//! and process slots, and writes the words that only it knows (start time, reloads, restarts).
//!
//! None of this state is shared: workers get what they need through fork, in a [`Plan`]
//! computed just before each fork, so nothing here takes a lock or waits for a worker.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::Ordering::{Relaxed, Release};

use nix::unistd::Pid;

use super::layout::{self, Layout};
use super::{LAYOUT, Mapping};

/// What a process slot holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Process {
    Free,
    /// Taken for a fork that has not returned yet.
    Forking,
    Live(Pid),
}

/// The master's book of who counts where.
#[derive(Debug)]
pub(crate) struct Registry {
    /// `None` if the mapping could not be made: nothing is counted, `/metrics` says little.
    mapping: Option<Mapping>,
    layout: Layout,
    /// Site names by index: every name seen since start, never reordered or dropped, so a
    /// reload that reorders, adds or removes sites never moves a site's counters.
    names: Vec<String>,
    index: HashMap<String, usize>,
    /// The worker row of each (worker id, site index) that has one.
    rows: HashMap<(usize, usize), usize>,
    processes: Vec<Process>,
}

/// What one worker needs to count and to answer `/metrics`, computed by the master before the
/// fork and moved into the worker.
#[derive(Debug)]
pub(crate) struct Plan {
    pub(super) mapping: Option<Mapping>,
    pub(super) layout: Layout,
    /// For each site of the configuration, in its order (the worker's host index): the row the
    /// worker adds its requests to.
    pub(super) rows: Vec<Range<usize>>,
    pub(super) worker: Option<Range<usize>>,
    /// Its process slot, if one was free.
    pub(super) process: Option<usize>,
    /// The site names known at the fork, for the labels of a page it serves.
    pub(super) names: Vec<String>,
    /// The `[metrics]` socket, given in the child after the fork.
    pub(super) listener: Option<std::net::TcpListener>,
}

impl Registry {
    /// Maps the counters (warning if it cannot) and notes the start time. Called once, before
    /// the first fork.
    pub(crate) fn new() -> Registry {
        let mapping = Mapping::new(&LAYOUT)
            .inspect_err(|e| {
                tracing::warn!(
                    "cannot map the metrics counters ({e}); /metrics shows build info only"
                )
            })
            .ok();
        Registry::with(mapping, LAYOUT)
    }

    fn with(mapping: Option<Mapping>, layout: Layout) -> Registry {
        if let Some(mapping) = &mapping {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            mapping.word(layout::START_TIME).store(now, Relaxed);
        }
        Registry {
            mapping,
            layout,
            names: Vec::new(),
            index: HashMap::new(),
            rows: HashMap::new(),
            processes: Vec::new(),
        }
    }

    /// The index of site `name`, given it now if it is new; past the table's size, the
    /// `(other)` index.
    pub(crate) fn site(&mut self, name: &str) -> usize {
        if let Some(&index) = self.index.get(name) {
            return index;
        }
        if self.names.len() >= self.layout.sites {
            return self.layout.other();
        }
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// The row worker `id` adds site index `site`'s requests to: its own, or (once every worker
    /// row is taken) the site's shared row.
    fn row(&mut self, id: usize, site: usize) -> Range<usize> {
        if let Some(&row) = self.rows.get(&(id, site)) {
            return self.layout.worker_row(row);
        }
        let Some(mapping) = &self.mapping else {
            return self.layout.site_row(site);
        };
        let used = self.rows.len();
        if used >= self.layout.rows {
            return self.layout.site_row(site);
        }
        // The row's site first, then the count that makes it visible to a scrape.
        mapping
            .word(self.layout.row_site(used))
            .store(site as u64 + 1, Relaxed);
        mapping
            .word(layout::ROWS_USED)
            .store(used as u64 + 1, Release);
        self.rows.insert((id, site), used);
        self.layout.worker_row(used)
    }

    /// Everything worker `id` (1-based) needs to serve the sites named `sites` (in the
    /// configuration's order), with a process slot taken for it. Give the plan back with
    /// [`Registry::forked`] or [`Registry::fork_failed`].
    pub(crate) fn plan<'a>(&mut self, id: usize, sites: impl IntoIterator<Item = &'a str>) -> Plan {
        let rows = sites
            .into_iter()
            .map(|name| {
                let index = self.site(name);
                self.row(id, index)
            })
            .collect();
        let worker = (1..=self.layout.workers).contains(&id).then(|| {
            self.raise(layout::WORKERS_SEEN, id);
            self.layout.worker(id)
        });
        let process = self.take_process();
        Plan {
            mapping: self.mapping,
            layout: self.layout,
            rows,
            worker,
            process,
            names: self.names.clone(),
            listener: None,
        }
    }

    /// The fork of `plan`'s worker returned `pid`.
    pub(crate) fn forked(&mut self, plan: &Plan, pid: Pid) {
        if let Some(slot) = plan.process {
            self.processes[slot] = Process::Live(pid);
        }
    }

    /// The fork of `plan`'s worker failed: its process slot is free again.
    pub(crate) fn fork_failed(&mut self, plan: &Plan) {
        if let Some(slot) = plan.process {
            self.processes[slot] = Process::Free;
        }
    }

    /// A child exited: if it was a worker, its gauges leave the sums and its slot is free.
    pub(crate) fn reaped(&mut self, pid: Pid) {
        let Some(slot) = self.processes.iter().position(|p| *p == Process::Live(pid)) else {
            return;
        };
        if let Some(mapping) = &self.mapping {
            for word in mapping.words(self.layout.process(slot)) {
                word.store(0, Relaxed);
            }
        }
        self.processes[slot] = Process::Free;
    }

    /// A reload took effect.
    pub(crate) fn reloaded(&self) {
        self.add(layout::RELOADS);
    }

    /// A worker that exited unexpectedly is to be replaced.
    pub(crate) fn restarting(&self) {
        self.add(layout::RESTARTS);
    }

    fn add(&self, word: usize) {
        if let Some(mapping) = &self.mapping {
            mapping.word(word).fetch_add(1, Relaxed);
        }
    }

    /// Makes header word `word` at least `value`.
    fn raise(&self, word: usize, value: usize) {
        if let Some(mapping) = &self.mapping {
            mapping.word(word).fetch_max(value as u64, Relaxed);
        }
    }

    /// A free process slot (zeroed when its last process was reaped), if any is left: with
    /// every slot taken (thousands of draining workers), the worker's gauges stay its own.
    fn take_process(&mut self) -> Option<usize> {
        let slot = match self.processes.iter().position(|p| *p == Process::Free) {
            Some(slot) => slot,
            None if self.processes.len() < self.layout.processes => {
                self.processes.push(Process::Free);
                self.processes.len() - 1
            }
            None => return None,
        };
        self.processes[slot] = Process::Forking;
        self.raise(layout::PROCESSES_SEEN, slot + 1);
        Some(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: Layout = Layout {
        sites: 3,
        rows: 4,
        workers: 2,
        processes: 2,
    };

    fn registry() -> Registry {
        Registry::with(Some(Mapping::new(&SMALL).unwrap()), SMALL)
    }

    #[test]
    fn a_name_keeps_its_index_whatever_the_order_and_extra_names_share_other() {
        let mut registry = registry();
        assert_eq!(registry.site("a"), 0);
        assert_eq!(registry.site("b"), 1);
        assert_eq!(registry.site("a"), 0);
        assert_eq!(registry.site("c"), 2);
        assert_eq!(registry.site("d"), SMALL.other());
        assert_eq!(registry.site("e"), SMALL.other());
        assert_eq!(registry.site("b"), 1);
        assert_eq!(registry.names, ["a", "b", "c"]);
    }

    #[test]
    fn each_worker_id_and_site_gets_its_own_row_until_they_run_out() {
        let mut registry = registry();
        let first = registry.plan(1, ["a", "b"]);
        // A reload that swaps the sites: the same rows, by name.
        let again = registry.plan(1, ["b", "a"]);
        assert_eq!(first.rows[0], again.rows[1]);
        assert_eq!(first.rows[1], again.rows[0]);
        let second = registry.plan(2, ["a", "b"]);
        assert_ne!(first.rows[0], second.rows[0]);
        // Four rows are taken; a new site's rows are then the shared ones.
        let late = registry.plan(1, ["c"]);
        assert_eq!(late.rows[0], SMALL.site_row(2));
        let mapping = registry.mapping.unwrap();
        assert_eq!(mapping.word(layout::ROWS_USED).load(Relaxed), 4);
        let sites_of_rows: Vec<u64> = (0..4)
            .map(|row| mapping.word(SMALL.row_site(row)).load(Relaxed))
            .collect();
        assert_eq!(sites_of_rows, [1, 2, 1, 2]);
        assert_eq!(mapping.word(layout::WORKERS_SEEN).load(Relaxed), 2);
    }

    #[test]
    fn process_slots_are_reused_once_reaped_and_zeroed() {
        let mut registry = registry();
        let mapping = registry.mapping.unwrap();
        let one = registry.plan(1, []);
        let two = registry.plan(2, []);
        let (pid1, pid2) = (Pid::from_raw(101), Pid::from_raw(102));
        registry.forked(&one, pid1);
        registry.forked(&two, pid2);
        assert_eq!((one.process, two.process), (Some(0), Some(1)));
        // Every slot taken: a third worker counts its gauges for itself.
        let third = registry.plan(1, []);
        assert_eq!(third.process, None);
        registry.fork_failed(&third);
        mapping
            .word(SMALL.process(0).start + layout::OPEN)
            .store(5, Relaxed);
        registry.reaped(Pid::from_raw(999));
        assert_eq!(mapping.word(SMALL.process(0).start).load(Relaxed), 5);
        registry.reaped(pid1);
        assert_eq!(mapping.word(SMALL.process(0).start).load(Relaxed), 0);
        let next = registry.plan(1, []);
        assert_eq!(next.process, Some(0));
        registry.fork_failed(&next);
        assert_eq!(registry.plan(1, []).process, Some(0));
        assert_eq!(mapping.word(layout::PROCESSES_SEEN).load(Relaxed), 2);
    }

    #[test]
    fn without_a_mapping_nothing_is_written_and_plans_still_come() {
        let mut registry = Registry::with(None, SMALL);
        let plan = registry.plan(1, ["a"]);
        assert_eq!(plan.rows.len(), 1);
        assert!(plan.mapping.is_none());
        registry.reloaded();
        registry.restarting();
    }
}
