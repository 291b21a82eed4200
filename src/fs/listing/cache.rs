//! Built listing pages, kept per worker by folder version, so that a large folder that does
//! not change is read and rendered once, not for every request.
//!
//! - Key: the site (its root, `hidden` and `listing_limit`), the folder (device and inode), its
//!   path (the page shows it), the order asked for, and the content coding of the body.
//! - Version: the folder's mtime and ctime, to the nanosecond, from the fstat the pipeline
//!   already made when it opened the folder. A hit costs nothing more: the version is compared,
//!   and a different one drops the page.
//! - Racy pages are not kept: a folder whose mtime or ctime is within [`RACY_WINDOW`] of the
//!   time it was read could change again within the same timestamp (the kernel stamps with a
//!   coarse clock; some file systems keep seconds), and the page would never be seen as stale.
//! - Bounds: [`limits::LISTING_CACHE_BYTES`] per worker, oldest first out; a page is served for
//!   [`limits::LISTING_CACHE_MAX_AGE`] at most before its folder is read again.
//!
//! What a client can rely on: an entry added, removed or renamed changes its folder's version,
//! so it shows at once. A file written in place changes only its own size and time, not its
//! folder's: on a kept page that shows within the maximum age, and at once when whoever
//! watches the folders (inotify) calls [`Cache::forget_folder`].

use std::collections::{HashMap, VecDeque};
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::Page;
use super::sort::Order;
use crate::fs::encoding::Coding;
use crate::limits;

/// How recent a folder's change may be, when it was read, for its page to be kept: past the
/// granularity of any timestamp a Linux file system keeps (FAT's two seconds is the coarsest).
pub(crate) const RACY_WINDOW: Duration = Duration::from_secs(2);

/// What tells one state of a folder's entries from another without reading them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct FolderVersion {
    pub dev: u64,
    pub ino: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FolderVersion {
    pub(crate) fn of(meta: &Metadata) -> FolderVersion {
        FolderVersion {
            dev: meta.dev(),
            ino: meta.ino(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// Whether the folder changed within [`RACY_WINDOW`] of `read_at` (or after it: a clock
    /// that went back, a time set ahead), so that another change may carry the same version.
    pub(crate) fn is_racy(&self, read_at: SystemTime) -> bool {
        let Ok(read) = read_at.duration_since(UNIX_EPOCH) else {
            return true;
        };
        let read = i128::try_from(read.as_nanos()).unwrap_or(i128::MAX);
        let window = RACY_WINDOW.as_nanos() as i128;
        [self.mtime, self.ctime].into_iter().any(|(secs, nsecs)| {
            read - (i128::from(secs) * 1_000_000_000 + i128::from(nsecs)) < window
        })
    }
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
    version: FolderVersion,
    page: Page,
    /// When it was built, on `clock::monotonic_ms`.
    stored_ms: u64,
    cost: usize,
    /// Its place in `Cache::order`.
    sequence: u64,
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

    /// The page kept for `key`, if it was built from this `version` of the folder less than
    /// the maximum age before `now_ms`. A page of another version, or too old, is dropped.
    pub(crate) fn get(&mut self, key: &Key, version: &FolderVersion, now_ms: u64) -> Option<Page> {
        let kept = self.entries.get(key)?;
        let max_age = limits::LISTING_CACHE_MAX_AGE.as_millis() as u64;
        if kept.version == *version && now_ms.saturating_sub(kept.stored_ms) < max_age {
            return Some(kept.page.clone());
        }
        self.remove(key);
        None
    }

    /// Keeps `page`, read from `version` of the folder at `read_at`, unless that version was
    /// racy then or the page is larger than the whole cache.
    pub(crate) fn put(
        &mut self,
        key: Key,
        version: FolderVersion,
        read_at: SystemTime,
        page: Page,
        now_ms: u64,
    ) {
        let cost = page.body.len() + key.path.len() + 160;
        if version.is_racy(read_at) || cost > self.max_bytes {
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
            stored_ms: now_ms,
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

    /// Drops every page of the folder `dev`, `ino`: for a watcher that saw something in it
    /// change (a file written in place changes no version the cache compares).
    pub(crate) fn forget_folder(&mut self, dev: u64, ino: u64) {
        let mut freed = 0;
        self.entries.retain(|key, kept| {
            let keep = key.dev != dev || key.ino != ino;
            if !keep {
                freed += kept.cost;
            }
            keep
        });
        self.bytes -= freed;
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
    use std::rc::Rc;

    fn version(ino: u64, mtime: i64) -> FolderVersion {
        FolderVersion {
            dev: 1,
            ino,
            mtime: (mtime, 5),
            ctime: (mtime, 5),
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

    /// `secs` after the epoch.
    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_page_is_served_for_its_folder_version_only() {
        let mut cache = Cache::new(1 << 20);
        let quiet = version(7, 1_000);
        cache.put(key(7, Order::DEFAULT), quiet, at(1_010), page(100), 0);
        assert!(cache.get(&key(7, Order::DEFAULT), &quiet, 5).is_some());
        // Another order, another folder: other pages.
        let by_size = Order {
            column: super::super::sort::Column::Size,
            descending: true,
        };
        assert!(cache.get(&key(7, by_size), &quiet, 5).is_none());
        assert!(cache.get(&key(8, Order::DEFAULT), &quiet, 5).is_none());
        // An entry added, removed or renamed: the folder's mtime and ctime move.
        let changed = FolderVersion {
            mtime: (1_020, 0),
            ctime: (1_020, 0),
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
    fn a_page_read_soon_after_its_folder_changed_is_not_kept() {
        let mut cache = Cache::new(1 << 20);
        let recent = version(7, 1_000);
        for read in [999, 1_000, 1_001] {
            cache.put(key(7, Order::DEFAULT), recent, at(read), page(100), 0);
            assert!(
                cache.get(&key(7, Order::DEFAULT), &recent, 1).is_none(),
                "{read}"
            );
        }
        // Only the ctime recent (a chmod, a link count): racy all the same.
        let ctime_recent = FolderVersion {
            ctime: (1_009, 0),
            ..version(7, 900)
        };
        cache.put(
            key(7, Order::DEFAULT),
            ctime_recent,
            at(1_010),
            page(100),
            0,
        );
        assert!(
            cache
                .get(&key(7, Order::DEFAULT), &ctime_recent, 1)
                .is_none()
        );
        cache.put(key(7, Order::DEFAULT), recent, at(1_003), page(100), 0);
        assert!(cache.get(&key(7, Order::DEFAULT), &recent, 1).is_some());
    }

    #[test]
    fn pages_expire_and_can_be_forgotten() {
        let mut cache = Cache::new(1 << 20);
        let quiet = version(7, 1_000);
        let max_age = limits::LISTING_CACHE_MAX_AGE.as_millis() as u64;
        cache.put(key(7, Order::DEFAULT), quiet, at(2_000), page(100), 1_000);
        assert!(
            cache
                .get(&key(7, Order::DEFAULT), &quiet, 1_000 + max_age - 1)
                .is_some()
        );
        assert!(
            cache
                .get(&key(7, Order::DEFAULT), &quiet, 1_000 + max_age)
                .is_none()
        );
        cache.put(key(7, Order::DEFAULT), quiet, at(2_000), page(100), 0);
        cache.put(
            key(8, Order::DEFAULT),
            version(8, 1_000),
            at(2_000),
            page(100),
            0,
        );
        cache.forget_folder(1, 7);
        assert!(cache.get(&key(7, Order::DEFAULT), &quiet, 1).is_none());
        assert!(
            cache
                .get(&key(8, Order::DEFAULT), &version(8, 1_000), 1)
                .is_some()
        );
    }

    #[test]
    fn the_cache_keeps_within_its_bytes() {
        let mut cache = Cache::new(10_000);
        for ino in 0..100 {
            cache.put(
                key(ino, Order::DEFAULT),
                version(ino, 1_000),
                at(2_000),
                page(1_000),
                0,
            );
            assert!(cache.bytes() <= 10_000);
            // The same page again replaces it, without counting it twice.
            cache.put(
                key(ino, Order::DEFAULT),
                version(ino, 1_000),
                at(2_000),
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
            at(2_000),
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
