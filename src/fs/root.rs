//! A site's root that follows its configured path: a deploy that swaps a symbolic link
//! (`current -> release-N`) or deletes and makes the folder again is served from the new folder
//! without a reload, and a root that disappears answers 404 (warning once a minute) until it is
//! back.
//!
//! The folder is held open (`RootDir`), so requests resolve beneath one descriptor, confined by
//! openat2 as before; what follows the path is which descriptor that is. The path is watched
//! (`watch.rs`: each folder on the way, for the name that leads on), and the first request after
//! an event resolves it again. Where it cannot be watched, it is resolved again once a second.

use std::cell::{Cell, RefCell};
use std::io;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

use tracing::{info, warn};

use super::open::RootDir;
use super::watch::{Validity, Watcher};

/// How often a root that cannot be watched is resolved again, and the missing-root warning
/// repeated: the response cache's revalidation period, and nginx's habit of not flooding the log.
const UNWATCHED_CHECK_MS: u64 = 1_000;
const MISSING_WARNING_MS: u64 = 60_000;

#[derive(Debug)]
pub(crate) struct FollowedRoot {
    /// The path as configured, symbolic links and all: what is resolved again.
    configured: PathBuf,
    /// The folder it named when last resolved; `None` while it is missing.
    current: RefCell<Option<Arc<RootDir>>>,
    /// Cleared by a change on the configured path (or when the root moved, if unwatched);
    /// what is kept from this root holds it too.
    validity: RefCell<Rc<Validity>>,
    /// Whether `validity` is backed by watches; if not, the path is resolved again every
    /// `UNWATCHED_CHECK_MS`.
    watched: Cell<bool>,
    checked_ms: Cell<u64>,
    /// When the missing root was last warned about.
    warned_ms: Cell<Option<u64>>,
    watcher: Rc<Watcher>,
}

impl FollowedRoot {
    /// Opens the root at start (or reload), where a missing root is an error.
    pub(crate) fn open(path: &Path, watcher: Rc<Watcher>) -> io::Result<FollowedRoot> {
        let validity = Watcher::validity();
        let watched = watcher.watch_path(path, &validity);
        let dir = RootDir::open(path)?;
        Ok(FollowedRoot {
            configured: path.to_path_buf(),
            current: RefCell::new(Some(Arc::new(dir))),
            validity: RefCell::new(validity),
            watched: Cell::new(watched),
            checked_ms: Cell::new(crate::clock::monotonic_ms()),
            warned_ms: Cell::new(None),
            watcher,
        })
    }

    /// The folder the path names now, resolved again if the path changed; `None` while it is
    /// missing.
    pub(crate) fn current(&self) -> Option<Arc<RootDir>> {
        let stale = if self.watched.get() {
            !self.validity.borrow().is_valid()
        } else {
            crate::clock::monotonic_ms().saturating_sub(self.checked_ms.get()) >= UNWATCHED_CHECK_MS
        };
        if stale {
            self.resolve();
        }
        let current = self.current.borrow().clone();
        if current.is_none() {
            self.warn_missing(None);
        }
        current
    }

    /// The flag that what is kept from this root's files also holds: cleared when the root
    /// moves.
    pub(crate) fn validity(&self) -> Rc<Validity> {
        self.validity.borrow().clone()
    }

    fn resolve(&self) {
        let validity = Watcher::validity();
        // Watched before it is resolved: a swap after this is reported.
        self.watched
            .set(self.watcher.watch_path(&self.configured, &validity));
        self.checked_ms.set(crate::clock::monotonic_ms());
        let old = self.validity.replace(validity);
        let mut current = self.current.borrow_mut();
        match RootDir::open(&self.configured) {
            Ok(dir) => {
                let same = current.as_ref().is_some_and(|held| same_folder(held, &dir));
                if !same {
                    info!(
                        root = %self.configured.display(),
                        now = %dir.path().display(),
                        "the root now names another folder"
                    );
                    old.clear();
                    *current = Some(Arc::new(dir));
                    self.warned_ms.set(None);
                }
            }
            Err(e) => {
                old.clear();
                if current.take().is_some() {
                    self.warned_ms.set(None);
                }
                drop(current);
                self.warn_missing(Some(&e));
            }
        }
    }

    fn warn_missing(&self, error: Option<&io::Error>) {
        let now = crate::clock::monotonic_ms();
        if self
            .warned_ms
            .get()
            .is_some_and(|at| now.saturating_sub(at) < MISSING_WARNING_MS)
        {
            return;
        }
        self.warned_ms.set(Some(now));
        let why = error.map_or_else(|| "missing".to_owned(), ToString::to_string);
        warn!(
            root = %self.configured.display(),
            "the root cannot be opened ({why}); answering 404 until it is back"
        );
    }
}

fn same_folder(a: &RootDir, b: &RootDir) -> bool {
    a.identity().is_some_and(|held| Some(held) == b.identity())
}
