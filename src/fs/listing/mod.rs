//! An HTML index of a directory that has no index file, when `--listing` is on (step 6 of the
//! pipeline in `fs/mod.rs`), built off the worker's thread.
//!
//! - `read.rs`: the folder's entries, one getdents64 per batch of names and one `fstatat` per
//!   entry relative to the folder's descriptor; only links go through the confined open, so a
//!   link pointing outside the root is left out, not described.
//! - `sort.rs`: the `?sort=&order=` query and natural name order, directories first.
//! - `html.rs`: the page itself, escaped, styled once in the head, readable without script;
//!   at most the site's `listing_limit` rows, and a note saying how many were left out.
//! - `pool.rs`: the worker's listing threads and their bounded queue.
//! - `cache.rs`: pages kept by folder version, and what that guarantees.
//!
//! [`Listings::list`] runs on the worker's thread with the folder the pipeline opened and its
//! fstat: a kept page of that folder version is the answer at once; otherwise a [`Job`] goes to
//! a listing thread, which reads, sorts, renders and compresses, and the request gets a
//! [`Pending`] page to await, so a slow folder stalls no other connection of the worker. A full
//! queue is [`Listed::Busy`] (`503`). The response cache never keeps a listing (it has no file
//! version); this module's cache does.

mod cache;
mod href;
mod html;
mod pool;
mod read;
pub(crate) mod sort;

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};

use tokio::sync::oneshot;
use tracing::{debug, warn};

use crate::fs::compress;
use crate::fs::encoding::Coding;
use crate::fs::open::{Opened, RootDir};
use crate::fs::path::Resolved;
use crate::fs::version::Version;
use crate::fs::watch::{Validity, Watched, Watcher};
use crate::limits;
use cache::{Cache, Freshness, Key};
use read::Meta;
use sort::Order;

/// A listing runs no script and loads nothing: should a name ever slip through unescaped, the
/// browser still refuses to run it. Styles are inline in the page; icons would be `data:`.
pub(crate) const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Folder and file names can be private; a listing's URL is never sent to another site, even
/// if a future page gains an outside link. Costs only the Referer of clicks within the listing.
pub(crate) const REFERRER_POLICY: &str = "no-referrer";

/// One directory entry, as listed.
pub(crate) struct Entry {
    /// The name as the file system has it: linked to byte for byte.
    name: Vec<u8>,
    /// The name as shown and sorted: see [`display_text`].
    text: String,
    /// `text`'s natural sort key (`sort::natural_key`).
    key: Box<[u8]>,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

impl Entry {
    fn new(name: Vec<u8>, meta: &Meta) -> Entry {
        let text = display_text(&name);
        Entry {
            key: sort::natural_key(&text),
            text,
            name,
            is_dir: meta.is_dir,
            size: meta.size,
            modified: meta.modified,
        }
    }
}

/// What a site asks of a listing, besides the folder.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Asked {
    /// The site's number among the worker's (`Listings::site_number`), for the cache's key.
    pub site: u32,
    pub order: Order,
    pub hidden: bool,
    /// Most rows on the page.
    pub limit: usize,
    /// The coding to compress the page with, if it is worth it; `Identity` for none.
    pub coding: Coding,
}

/// A built page: its body and the coding it is in.
#[derive(Clone, Debug)]
pub(crate) struct Page {
    pub body: Rc<[u8]>,
    pub coding: Coding,
}

/// What [`Listings::list`] answers.
pub(crate) enum Listed {
    /// A kept page of this folder version.
    Ready(Page),
    /// Being built on a listing thread.
    Later(Pending),
    /// The listing threads are busy and their queue is full: `503`, try again later.
    Busy,
    /// It cannot be built at all (no listing thread could start).
    Failed(io::Error),
}

/// A page being built: awaited on the worker's thread, it is the page, or the error reading
/// the folder met.
pub(crate) struct Pending(Pin<Box<dyn Future<Output = io::Result<Page>>>>);

impl Future for Pending {
    type Output = io::Result<Page>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pending")
    }
}

/// A worker's listings: the kept pages and the listing threads, shared by its sites. It
/// belongs to the worker's one thread.
#[derive(Debug)]
pub(crate) struct Listings {
    cache: RefCell<Cache>,
    /// The worker's inotify watches, which say until when a kept page holds.
    watcher: Rc<Watcher>,
    /// Pages being built, by key: a request for one joins its build (`Build`).
    building: RefCell<HashMap<Key, Rc<Build>>>,
    /// Started on the first listing that is not kept.
    pool: OnceCell<pool::Pool>,
    /// Numbers handed to sites so far.
    sites: Cell<u32>,
    /// When a full queue was last logged at warn, on `clock::monotonic_ms`: once a second at
    /// most, so that a flood of listing requests does not flood the log too.
    busy_logged_ms: Cell<Option<u64>>,
}

impl Listings {
    pub(crate) fn new(cache_bytes: usize, watcher: Rc<Watcher>) -> Listings {
        Listings {
            watcher,
            cache: RefCell::new(Cache::new(cache_bytes)),
            building: RefCell::new(HashMap::new()),
            pool: OnceCell::new(),
            sites: Cell::new(0),
            busy_logged_ms: Cell::new(None),
        }
    }

    /// A number for a new site, telling its pages from other sites' (roots, settings).
    pub(crate) fn site_number(&self) -> u32 {
        let number = self.sites.get();
        self.sites.set(number.wrapping_add(1));
        number
    }

    /// The listing of `dir`, the folder the pipeline opened at `resolved` beneath `root`.
    pub(crate) fn list(
        self: &Rc<Self>,
        root: &Arc<RootDir>,
        dir: Opened,
        resolved: &Resolved,
        asked: Asked,
    ) -> Listed {
        let version = Version::of(&dir.meta);
        let relative = resolved.relative();
        let key = Key {
            site: asked.site,
            dev: version.dev,
            ino: version.ino,
            path: relative.clone().into(),
            order: asked.order,
            coding: asked.coding,
        };
        let now_ms = crate::clock::monotonic_ms();
        if let Some(page) = self.cache.borrow_mut().get(&key, &version, now_ms) {
            debug!(path = %String::from_utf8_lossy(&relative), "listing served as kept");
            return Listed::Ready(page);
        }
        // The same page being built from this folder version, with no change since its
        // watches were added (before its folder was read): that build shows what this request
        // would see, so the request waits for it instead of reading the folder again.
        let joined = self.building.borrow().get(&key).cloned();
        if let Some(build) = joined.filter(|b| b.holds_for(&version)) {
            debug!(path = %String::from_utf8_lossy(&relative), "listing queued behind the same build");
            return Listed::Later(build.wait());
        }
        // Watched before the folder is read: a change from now on either shows in the page or
        // clears the flag it is kept with.
        let validity = Watcher::validity();
        let watched = (self.watcher).watch_folder_entries(root, &relative, version, &validity);
        let racy = version.is_racy_at(dir.read_at);
        let (answer, answered) = oneshot::channel();
        let job = Job {
            dir: dir.file,
            root: root.clone(),
            relative,
            segments: resolved.segments.clone(),
            asked,
            answer,
        };
        let path = String::from_utf8_lossy(&key.path).into_owned();
        match self.pool.get_or_init(pool::Pool::start).submit(job) {
            Ok(()) => debug!(path, "listing queued"),
            Err(pool::Refused::Full) => {
                if self
                    .busy_logged_ms
                    .get()
                    .is_none_or(|at| now_ms.saturating_sub(at) >= 1000)
                {
                    self.busy_logged_ms.set(Some(now_ms));
                    warn!(
                        "listing threads busy and {} listings queued: answering 503",
                        limits::LISTING_QUEUE
                    );
                }
                return Listed::Busy;
            }
            Err(pool::Refused::Gone) => {
                return Listed::Failed(io::Error::other("no listing thread is running"));
            }
        }
        let build = Rc::new(Build {
            version,
            validity,
            watched,
            waiters: RefCell::new(Vec::new()),
        });
        let pending = build.wait();
        (self.building.borrow_mut()).insert(key.clone(), build.clone());
        // Finished in a task of its own, not in the first request's: that request may be gone
        // (its client closed) while others wait for the same page.
        tokio::task::spawn_local(self.clone().finish(key, build, answered, racy));
        Listed::Later(pending)
    }

    /// Takes the built page from the listing thread, keeps it for as long as its watches say,
    /// and hands it to every request waiting for it.
    async fn finish(
        self: Rc<Self>,
        key: Key,
        build: Rc<Build>,
        answered: oneshot::Receiver<io::Result<Built>>,
        racy: bool,
    ) {
        let built = answered
            .await
            .map_err(|_| io::Error::other("a listing thread failed"))
            .and_then(|built| built);
        let current = self.building.borrow().get(&key).cloned();
        if current.is_some_and(|current| Rc::ptr_eq(&current, &build)) {
            self.building.borrow_mut().remove(&key);
        }
        let page = built.map(|built| {
            let page = Page {
                body: built.body.into(),
                coding: built.coding,
            };
            let freshness = match build.watched {
                Watched::Yes => Freshness::Watched {
                    validity: build.validity.clone(),
                    whole: !built.shows_unwatched,
                },
                Watched::NotNow => Freshness::Unwatched { racy },
                Watched::Changed | Watched::Never => Freshness::Never,
            };
            let now_ms = crate::clock::monotonic_ms();
            let version = build.version;
            (self.cache.borrow_mut()).put(key, version, freshness, page.clone(), now_ms);
            page
        });
        for waiter in build.waiters.take() {
            let answer = match &page {
                Ok(page) => Ok(page.clone()),
                Err(e) => Err(io::Error::new(e.kind(), e.to_string())),
            };
            // A waiter whose request is gone has dropped its end.
            let _ = waiter.send(answer);
        }
    }
}

/// A page being built, and the requests waiting for it.
#[derive(Debug)]
struct Build {
    version: Version,
    /// Cleared by a change to the folder since the build's watches were added.
    validity: Rc<Validity>,
    watched: Watched,
    waiters: RefCell<Vec<oneshot::Sender<io::Result<Page>>>>,
}

impl Build {
    /// Whether a request that found `version` now may take this build's page: the same
    /// version, watched, and nothing changed since the watches were added.
    fn holds_for(&self, version: &Version) -> bool {
        self.version == *version && self.watched == Watched::Yes && self.validity.is_valid()
    }

    fn wait(&self) -> Pending {
        let (waiter, page) = oneshot::channel();
        self.waiters.borrow_mut().push(waiter);
        Pending(Box::pin(async move {
            page.await
                .map_err(|_| io::Error::other("a listing thread failed"))?
        }))
    }
}

/// A listing to build on a listing thread: everything it needs, owned.
pub(crate) struct Job {
    /// The folder, as the pipeline opened it (confined) and fstat'ed it.
    dir: File,
    /// For links: resolved through the confined open, from the site's root.
    root: Arc<RootDir>,
    /// The folder's path beneath the root.
    relative: Vec<u8>,
    /// The folder's URL path, decoded, for the page's heading.
    segments: Vec<Vec<u8>>,
    asked: Asked,
    answer: oneshot::Sender<io::Result<Built>>,
}

/// What a listing thread sends back.
struct Built {
    body: Vec<u8>,
    coding: Coding,
    /// It shows a subfolder or a link's target, whose changes no watch on the folder reports.
    shows_unwatched: bool,
}

/// Builds `job`'s page and sends it back; runs on a listing thread.
fn run(job: Job) {
    let Job {
        dir,
        root,
        relative,
        segments,
        asked,
        answer,
    } = job;
    let started = Instant::now();
    let mut kernel = read::Real::default();
    let built =
        read::entries(dir, &root, &relative, asked.hidden, &mut kernel).map(|mut entries| {
            let read_ms = started.elapsed().as_millis() as u64;
            let shows_unwatched = kernel.opens > 0 || entries.iter().any(|e| e.is_dir);
            let total = entries.len();
            let left_out = asked.order.sort_first(&mut entries, asked.limit);
            let sorted_ms = started.elapsed().as_millis() as u64;
            let html = html::page(&segments, &entries, asked.order, left_out).into_bytes();
            let (body, coding) = compressed(html, asked.coding);
            debug!(
                path = %String::from_utf8_lossy(&relative),
                entries = total,
                shown = entries.len(),
                stats = kernel.stats,
                opens = kernel.opens,
                bytes = body.len(),
                read_ms,
                sort_ms = sorted_ms - read_ms,
                ms = started.elapsed().as_millis() as u64,
                "listing built"
            );
            Built {
                body,
                coding,
                shows_unwatched,
            }
        });
    // The request may be gone (its client closed); nothing is waiting then.
    let _ = answer.send(built);
}

/// The page in `coding` if that is smaller and the page is within `--compress`'s size window,
/// else as it is.
fn compressed(page: Vec<u8>, coding: Coding) -> (Vec<u8>, Coding) {
    let size = page.len() as u64;
    if coding == Coding::Identity
        || !(limits::COMPRESS_MIN_BYTES..=limits::COMPRESS_MAX_BYTES).contains(&size)
    {
        return (page, Coding::Identity);
    }
    match compress::compress(&page, coding) {
        Ok(encoded) if encoded.len() < page.len() => (encoded, coding),
        _ => (page, Coding::Identity),
    }
}

/// A name as text to show: invalid UTF-8 becomes U+FFFD, and so do control characters and
/// bidirectional overrides, which could make `x\u{202e}txt.exe` look like `xexe.txt`.
fn display_text(name: &[u8]) -> String {
    // Most names are printable ASCII, shown as they are.
    if name.iter().all(|b| (b' '..=b'~').contains(b)) {
        return String::from_utf8_lossy(name).into_owned();
    }
    String::from_utf8_lossy(name)
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// Unicode's bidirectional formatting characters (UAX #9 §2).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_text_is_safe_to_read() {
        assert_eq!(display_text(b"caf\xc3\xa9"), "café");
        assert_eq!(display_text(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(display_text("x\u{202e}y".as_bytes()), "x\u{fffd}y");
        assert_eq!(display_text(b"tab\there"), "tab\u{fffd}here");
    }
}
