//! Built listing pages, kept per worker, so that a large folder that does not change is read
//! and rendered once, not for every request.
//!
//! - Key: the site (its root, `hidden` and `listing_limit`), the folder (device and inode), its
//!   path (the page shows it), the order asked for, and the content coding of the body.
//! - Version: the folder's `version::Version`, from the fstat the pipeline already made when it
//!   opened the folder; a page of another version is dropped.
//! - Freshness ([`Freshness`]): before the folder is read, the worker watches it
//!   (`watch::Watcher::watch_folder_entries`: the path to it, the folder, and every entry in
//!   it, written in place included). A page is kept until the first event on any of those, so
//!   a request that arrives after a change completed never gets the page from before it.
//!   inotify does not report what happens inside a subfolder (its date on the page) or to a
//!   link's target: a page that shows either is trusted for [`UNWATCHED_MS`] only, as is every
//!   page where inotify cannot help (a network file system, the watch limit), and those are
//!   not kept at all when the folder's version was racy when it was read.
//! - Bounds: [`crate::limits::LISTING_CACHE_BYTES`] per worker, oldest first out.

use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use super::Page;
use super::sort::Order;
use crate::fs::encoding::Coding;
use crate::fs::version::Version;
use crate::fs::watch::Validity;

/// How long a page that no watch covers whole is trusted: the response cache's revalidation
/// period (`crate::cache::REVALIDATE_AFTER`), the same bound as for files that cannot be
/// watched.
pub(crate) const UNWATCHED_MS: u64 = 1_000;

/// How far a page is known to follow its folder.
#[derive(Clone, Debug)]
pub(crate) enum Freshness {
    /// Until this flag clears; `whole`: every entry's row is covered, else the page is trusted
    /// for [`UNWATCHED_MS`] too (it shows subfolders or links).
    Watched { validity: Rc<Validity>, whole: bool },
    /// Not watched: for [`UNWATCHED_MS`], and only if the folder's version was not racy.
    Unwatched { racy: bool },
    /// Not to be kept: the folder changed while it was being watched, or a symbolic link to a
    /// folder is on its path.
    Never,
}

/// Which page of which folder.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Key {
    /// The site's number among the worker's sites: its root, `hidden` and `listing_limit`.
    pub site: u32,
    pub dev: u64,
    pub ino: u64,
    /// The folder's path beneath the root, which the page shows.
    pub path: Box<[u8]>,
    pub order: Order,
    pub coding: Coding,
}

#[derive(Debug)]
struct Kept {
    version: Version,
    page: Page,
    /// Cleared by a change the page does not show; `None`: not watched.
    validity: Option<Rc<Validity>>,
    /// Served until then, on `clock::monotonic_ms`; `None`: for as long as `validity` holds.
    until_ms: Option<u64>,
    cost: usize,
    /// Its place in `Cache::order`.
    sequence: u64,
}

impl Kept {
    fn is_fresh(&self, version: &Version, now_ms: u64) -> bool {
        self.version == *version
            && self.validity.as_ref().is_none_or(|v| v.is_valid())
            && self.until_ms.is_none_or(|until| now_ms < until)
    }
}

/// The worker's kept pages; it belongs to the worker's one thread.
#[derive(Debug)]
pub(crate) struct Cache {
    entries: HashMap<Key, Kept>,
    /// Keys by age, each with the sequence number of the page it was pushed for: a key whose
    /// page was replaced or dropped since is skipped when it comes up.
    order: VecDeque<(Key, u64)>,
    bytes: usize,
    max_bytes: usize,
    next_sequence: u64,
}

impl Cache {
    pub(crate) fn new(max_bytes: usize) -> Cache {
        Cache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            max_bytes,
            next_sequence: 0,
        }
    }

    /// The page kept for `key`, if it was built from this `version` of the folder and is still
    /// fresh at `now_ms`. One that is not is dropped.
    pub(crate) fn get(&mut self, key: &Key, version: &Version, now_ms: u64) -> Option<Page> {
        let kept = self.entries.get(key)?;
        if kept.is_fresh(version, now_ms) {
            return Some(kept.page.clone());
        }
        self.remove(key);
        None
    }

    /// Keeps `page`, built from `version` of the folder at `now_ms`, for as long as
    /// `freshness` allows; not if that is not at all, or the page is larger than the cache.
    pub(crate) fn put(
        &mut self,
        key: Key,
        version: Version,
        freshness: Freshness,
        page: Page,
        now_ms: u64,
    ) {
        let cost = page.body.len() + key.path.len() + 160;
        let (validity, until_ms) = match freshness {
            Freshness::Watched { validity, .. } if !validity.is_valid() => return,
            Freshness::Watched { validity, whole } => {
                (Some(validity), (!whole).then_some(now_ms + UNWATCHED_MS))
            }
            Freshness::Unwatched { racy: false } => (None, Some(now_ms + UNWATCHED_MS)),
            Freshness::Unwatched { racy: true } | Freshness::Never => return,
        };
        if cost > self.max_bytes {
            return;
        }
        self.remove(&key);
        while self.bytes + cost > self.max_bytes {
            let Some((old, sequence)) = self.order.pop_front() else {
                break;
            };
            if self
                .entries
                .get(&old)
                .is_some_and(|k| k.sequence == sequence)
            {
                self.remove(&old);
            }
        }
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        self.bytes += cost;
        self.order.push_back((key.clone(), sequence));
        let kept = Kept {
            version,
            page,
            validity,
            until_ms,
            cost,
            sequence,
        };
        self.entries.insert(key, kept);
        // Keys of replaced pages stay behind in `order`; drop them before they pile up.
        if self.order.len() > 2 * self.entries.len() + 64 {
            let entries = &self.entries;
            self.order
                .retain(|(k, s)| entries.get(k).is_some_and(|kept| kept.sequence == *s));
        }
    }

    fn remove(&mut self, key: &Key) {
        if let Some(kept) = self.entries.remove(key) {
            self.bytes -= kept.cost;
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fs::watch::Watcher;

    fn version(ino: u64, mtime: i64) -> Version {
        Version {
            dev: 1,
            ino,
            size: 4096,
            mtime,
            mtime_nsec: 5,
            ctime: mtime,
            ctime_nsec: 5,
        }
    }

    fn key(ino: u64, order: Order) -> Key {
        Key {
            site: 0,
            dev: 1,
            ino,
            path: b"photos".to_vec().into(),
            order,
            coding: Coding::Identity,
        }
    }

    fn page(len: usize) -> Page {
        Page {
            body: Rc::from(vec![b'x'; len]),
            coding: Coding::Identity,
        }
    }

    fn watched(whole: bool) -> (Rc<Validity>, Freshness) {
        let validity = Watcher::validity();
        let freshness = Freshness::Watched {
            validity: validity.clone(),
            whole,
        };
        (validity, freshness)
    }

    #[test]
    fn a_page_is_served_for_its_folder_version_only() {
        let mut cache = Cache::new(1 << 20);
        let quiet = version(7, 1_000);
        let (_validity, freshness) = watched(true);
        cache.put(key(7, Order::DEFAULT), quiet, freshness, page(100), 0);
        assert!(cache.get(&key(7, Order::DEFAULT), &quiet, 5).is_some());
        // Another order, another folder: other pages.
        let by_size = Order {
            column: super::super::sort::Column::Size,
            descending: true,
        };
        assert!(cache.get(&key(7, by_size), &quiet, 5).is_none());
        assert!(cache.get(&key(8, Order::DEFAULT), &quiet, 5).is_none());
        // An entry added, removed or renamed: the folder's times move.
        let changed = Version {
            mtime: 1_020,
            ctime: 1_020,
            ..quiet
        };
        assert!(cache.get(&key(7, Order::DEFAULT), &changed, 6).is_none());
        assert!(
            cache.get(&key(7, Order::DEFAULT), &quiet, 7).is_none(),
            "the old page was dropped"
        );
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_watched_page_is_kept_until_its_flag_clears() {
        let mut cache = Cache::new(1 << 20);
        let quiet = version(7, 1_000);
        let (validity, freshness) = watched(true);
        cache.put(key(7, Order::DEFAULT), quiet, freshness, page(100), 0);
        let a_day = 86_400_000;
        assert!(cache.get(&key(7, Order::DEFAULT), &quiet, a_day).is_some());
        validity.clear();
        assert!(cache.get(&key(7, Order::DEFAULT), &quiet, a_day).is_none());
        // A flag cleared while the page was built: the page is not kept.
        let (validity, freshness) = watched(true);
        validity.clear();
        cache.put(key(7, Order::DEFAULT), quiet, freshness, page(100), 0);
        assert!(cache.get(&key(7, Order::DEFAULT), &quiet, 1).is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn a_page_no_watch_covers_whole_is_trusted_for_a_second() {
        let mut cache = Cache::new(1 << 20);
        let quiet = version(7, 1_000);
        let (_validity, freshness) = watched(false);
        for freshness in [freshness, Freshness::Unwatched { racy: false }] {
            cache.put(key(7, Order::DEFAULT), quiet, freshness, page(100), 1_000);
            let last = 1_000 + UNWATCHED_MS - 1;
            assert!(cache.get(&key(7, Order::DEFAULT), &quiet, last).is_some());
            assert!(
                cache
                    .get(&key(7, Order::DEFAULT), &quiet, last + 1)
                    .is_none()
            );
        }
        for freshness in [Freshness::Unwatched { racy: true }, Freshness::Never] {
            cache.put(key(7, Order::DEFAULT), quiet, freshness, page(100), 1_000);
            assert!(cache.get(&key(7, Order::DEFAULT), &quiet, 1_000).is_none());
        }
    }

    #[test]
    fn the_cache_keeps_within_its_bytes() {
        let mut cache = Cache::new(10_000);
        let (validity, _) = watched(true);
        let fresh = || Freshness::Watched {
            validity: validity.clone(),
            whole: true,
        };
        for ino in 0..100 {
            cache.put(
                key(ino, Order::DEFAULT),
                version(ino, 1_000),
                fresh(),
                page(1_000),
                0,
            );
            assert!(cache.bytes() <= 10_000);
            // The same page again replaces it, without counting it twice.
            cache.put(
                key(ino, Order::DEFAULT),
                version(ino, 1_000),
                fresh(),
                page(1_000),
                0,
            );
            assert!(cache.bytes() <= 10_000);
        }
        assert!(
            cache
                .get(&key(99, Order::DEFAULT), &version(99, 1_000), 1)
                .is_some()
        );
        assert!(
            cache
                .get(&key(0, Order::DEFAULT), &version(0, 1_000), 1)
                .is_none()
        );
        assert!(cache.order.len() <= 2 * cache.entries.len() + 65);
        cache.put(
            key(500, Order::DEFAULT),
            version(500, 1_000),
            fresh(),
            page(20_000),
            0,
        );
        assert!(
            cache
                .get(&key(500, Order::DEFAULT), &version(500, 1_000), 1)
                .is_none()
        );
    }
}
