//! How a worker learns that files changed, without a stat per request: one inotify instance per
//! worker, watching the inodes that what it keeps depends on (the response cache's entries, the
//! roots' paths). Each thing kept holds a [`Validity`], a flag that an event on any inode it
//! depends on clears; checking it is one load.
//!
//! The guarantee: [`Watcher::sync`] reads every event the kernel has queued, and the kernel
//! queues an event inside the system call that makes the change (`write`, `rename`, `unlink`,
//! `truncate`, `chmod`...), before that call returns. The cache calls `sync` before it answers
//! from memory, so a request that arrives after a change completed is never answered with what
//! the change replaced.
//!
//! What a cached file depends on, for `a/b/c.txt` beneath the root:
//! - the file's own inode (content, attributes, links), watched through its descriptor;
//! - each folder on the way, for the one name that leads on (`a` in the root, `b` in `a`, and in
//!   `b` every name that starts with `c.txt`, which takes in its precompressed siblings): a
//!   rename, a delete, a new entry or a symlink swap there changes what the path means;
//! - the folders themselves (deleted, moved, their permissions).
//!
//! A path with a symbolic link to a folder on its way is not watched (the link's target could
//! change beyond what is watched): its answers are not kept, and every request reads the disk.
//! When inotify cannot help (no instance, the watch limit reached, a network file system whose
//! other clients' changes the kernel never sees), [`Watcher::watch`] says so and the caller
//! falls back to looking at the file again (`crate::cache`'s revalidation period). A full event
//! queue (`IN_Q_OVERFLOW`) clears every flag.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::{Rc, Weak};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use tracing::warn;

use super::open::RootDir;
use super::version::Version;

/// Whether what holds it is still true to the disk: cleared by the first event on any inode it
/// depends on, never set again.
#[derive(Debug)]
pub struct Validity(Cell<bool>);

impl Validity {
    pub fn is_valid(&self) -> bool {
        self.0.get()
    }

    pub(crate) fn clear(&self) {
        self.0.set(false);
    }
}

/// One holder of a watch: its flag, and which of the watch's events concern it.
#[derive(Debug)]
struct Dependent {
    interest: Interest,
    validity: Weak<Validity>,
}

/// Which events of a watch clear a flag. Events on the watched inode itself (a file's content,
/// a folder deleted or moved) concern every dependent; events on a folder's entries, by name:
#[derive(Debug)]
enum Interest {
    /// The entry of this name.
    Named(Box<[u8]>),
    /// Entries whose name starts with this: a file and its precompressed siblings.
    Prefixed(Box<[u8]>),
    /// No entry: only the inode itself.
    Itself,
    /// Every entry, and the inode itself: a folder's listing shows them all.
    Any,
}

impl Interest {
    fn concerns(&self, entry: Option<&[u8]>) -> bool {
        match (self, entry) {
            (_, None) => true,
            (Interest::Named(wanted), Some(name)) => name == &wanted[..],
            (Interest::Prefixed(prefix), Some(name)) => name.starts_with(prefix),
            (Interest::Itself, Some(_)) => false,
            (Interest::Any, Some(_)) => true,
        }
    }
}

/// Whether what a lookup found is watched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Watched {
    /// Any change from now on clears the flag.
    Yes,
    /// It changed since the pipeline looked: what it answered must not be kept.
    Changed,
    /// A symbolic link to a folder is on the way: its target's own path is not watched, so
    /// what was answered must not be kept.
    Never,
    /// inotify cannot help here (not available, the watch limit, a network file system): what
    /// is kept must be looked at again from time to time.
    NotNow,
}

/// One inotify watch and what depends on it.
#[derive(Debug)]
struct Watch {
    descriptor: WatchDescriptor,
    dependents: Vec<Dependent>,
}

/// `struct inotify_event` without its name.
const EVENT_HEAD: usize = 16;
/// Room for many events per read; inotify(7) asks for at least one with the longest name.
const EVENT_BUFFER: usize = 16 * 1024;

/// A worker's watches. It belongs to the worker's one thread.
#[derive(Debug)]
pub struct Watcher {
    /// `None` when inotify is not available: every `watch` fails and callers revalidate.
    inotify: Option<Inotify>,
    /// By the watch descriptor's number, as events name it.
    watches: RefCell<HashMap<i32, Watch>>,
    /// Where events are read into; kept, so that an empty read costs nothing else.
    buffer: RefCell<Box<[u8]>>,
    /// The watch limit was reached once: said once per worker, not once per file.
    warned: Cell<bool>,
}

/// Changes to a folder's entries and to the folder itself.
fn folder_events() -> AddWatchFlags {
    AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
        | AddWatchFlags::IN_ONLYDIR
}

/// Changes to a file's content or attributes (truncation is `IN_MODIFY`; a link count that
/// drops, as when the file is replaced by a rename, is `IN_ATTRIB`).
fn file_events() -> AddWatchFlags {
    AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_ATTRIB
        | AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

/// File systems whose files other machines change without this kernel's knowledge, so inotify
/// never reports it (`statfs(2)` magic numbers).
const REMOTE_FILE_SYSTEMS: [i64; 9] = [
    0x6969,      // NFS
    0xff53_4d42, // CIFS
    0xfe53_4d42, // SMB2
    0x517b,      // SMB
    0x6573_5546, // FUSE
    0x00c3_6400, // Ceph
    0x0102_1997, // 9P
    0x5346_414f, // AFS
    0x0bd0_0bd0, // Lustre
];

impl Default for Watcher {
    fn default() -> Watcher {
        Watcher::new()
    }
}

impl Watcher {
    pub fn new() -> Watcher {
        let inotify = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .inspect_err(|e| {
                warn!("cannot start inotify ({e}); cached files are looked at again every second")
            })
            .ok();
        Watcher {
            inotify,
            watches: RefCell::new(HashMap::new()),
            buffer: RefCell::new(vec![0; EVENT_BUFFER].into_boxed_slice()),
            warned: Cell::new(false),
        }
    }

    /// A fresh flag, valid until an event on what it is made to depend on.
    pub fn validity() -> Rc<Validity> {
        Rc::new(Validity(Cell::new(true)))
    }

    /// Takes in every event queued so far and clears the flags they concern. Called before
    /// every answer from memory, so the common case (nothing queued) is one `read` that fails
    /// with EAGAIN, into a buffer kept for it: nothing is zeroed or allocated.
    pub fn sync(&self) {
        let Some(inotify) = &self.inotify else {
            return;
        };
        let mut buffer = self.buffer.borrow_mut();
        loop {
            let read = match nix::unistd::read(inotify, &mut buffer[..]) {
                Ok(read) => read,
                Err(Errno::EINTR) => continue,
                Err(_) => return,
            };
            let mut events = &buffer[..read];
            // struct inotify_event: wd, mask, cookie, len (4 bytes each), then `len` bytes of
            // name, padded with NULs. The kernel writes whole events only.
            while events.len() >= EVENT_HEAD {
                let word = |at: usize| u32::from_ne_bytes(events[at..at + 4].try_into().unwrap());
                let (wd, mask, len) = (word(0) as i32, word(4), word(12) as usize);
                let end = (EVENT_HEAD + len).min(events.len());
                let name = &events[EVENT_HEAD..end];
                let name = name
                    .iter()
                    .position(|&b| b == 0)
                    .map_or(name, |nul| &name[..nul]);
                self.take(inotify, wd, mask, (!name.is_empty()).then_some(name));
                events = &events[end..];
            }
        }
    }

    /// Clears the flags one event concerns.
    fn take(&self, inotify: &Inotify, wd: i32, mask: u32, name: Option<&[u8]>) {
        let mut watches = self.watches.borrow_mut();
        if mask & libc::IN_Q_OVERFLOW != 0 {
            for watch in watches.values() {
                watch.dependents.iter().for_each(clear);
            }
            watches.clear();
            return;
        }
        let Some(watch) = watches.get_mut(&wd) else {
            return;
        };
        watch.dependents.retain(|dependent| {
            let concerned = dependent.interest.concerns(name);
            if concerned {
                clear(dependent);
            }
            !concerned && dependent.validity.strong_count() > 0
        });
        let ignored = mask & libc::IN_IGNORED != 0;
        if ignored || watch.dependents.is_empty() {
            // The kernel dropped the watch (the inode is gone), or nothing needs it.
            if let Some(watch) = watches.remove(&wd) {
                watch.dependents.iter().for_each(clear);
                if !ignored {
                    let _ = inotify.rm_watch(watch.descriptor);
                }
            }
        }
    }

    /// Makes `validity` depend on one lookup the pipeline made: `relative` beneath `root`
    /// (bytes of a path with no leading `/`, as `RootDir::open_beneath` takes) found as
    /// `found` (`None`: it was missing). The watches are added first and the lookup made again
    /// after, so a change at any moment after the pipeline's own lookup is either seen here
    /// (the answer is not kept) or reported later.
    pub(crate) fn watch(
        &self,
        root: &RootDir,
        relative: &[u8],
        found: Option<Version>,
        validity: &Rc<Validity>,
    ) -> Watched {
        if self.inotify.is_none() || is_remote(root.fd()) {
            return Watched::NotNow;
        }
        let mut components = relative
            .split(|&b| b == b'/')
            .filter(|c| !c.is_empty())
            .peekable();
        let mut folder: Option<OwnedFd> = None;
        let mut walked: Vec<u8> = Vec::with_capacity(relative.len());
        while let Some(name) = components.next() {
            let here = folder.as_ref().map_or(root.fd(), |f| f.as_fd());
            let last = components.peek().is_none();
            let interest = if last {
                Interest::Prefixed(name.into())
            } else {
                Interest::Named(name.into())
            };
            if !self.add(here, folder_events(), interest, validity) {
                return Watched::NotNow;
            }
            if last {
                break;
            }
            if !walked.is_empty() {
                walked.push(b'/');
            }
            walked.extend_from_slice(name);
            match open_folder(root.fd(), &walked) {
                Ok(next) => folder = Some(next),
                // Missing on the way: the watch on its parent sees it made. If the pipeline found
                // something there, it has gone since.
                Err(Errno::ENOENT | Errno::ENOTDIR) if found.is_none() => return Watched::Yes,
                Err(Errno::ENOENT | Errno::ENOTDIR) => return Watched::Changed,
                Err(Errno::ELOOP | Errno::EXDEV) => return Watched::Never,
                Err(_) => return Watched::NotNow,
            }
        }
        let again = root.open_beneath(relative);
        match (found, again) {
            (None, Err(e)) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => {
                Watched::Yes
            }
            (Some(version), Ok(opened)) if Version::of(&opened.meta) == version => {
                let events = if opened.meta.is_dir() {
                    folder_events()
                } else {
                    file_events()
                };
                // Watched before it is compared: a change after the comparison is reported.
                if !self.add(opened.file.as_fd(), events, Interest::Itself, validity) {
                    return Watched::NotNow;
                }
                match opened.file.metadata() {
                    Ok(meta) if Version::of(&meta) == version => Watched::Yes,
                    _ => Watched::Changed,
                }
            }
            _ => Watched::Changed,
        }
    }

    /// [`Watcher::watch`] for the folder at `relative`, found as `found`, and on top of it every
    /// entry in that folder: one added, removed or renamed, and a file in it written or its
    /// attributes changed (a listing shows each entry's size and date). Changes inside a
    /// subfolder, and a symbolic link's target, are not seen: their dates on a page are the
    /// caller's to bound.
    pub(crate) fn watch_folder_entries(
        &self,
        root: &RootDir,
        relative: &[u8],
        found: Version,
        validity: &Rc<Validity>,
    ) -> Watched {
        let watched = self.watch(root, relative, Some(found), validity);
        if watched != Watched::Yes {
            return watched;
        }
        let Ok(folder) = root.open_beneath(relative) else {
            return Watched::Changed;
        };
        let events = folder_events() | AddWatchFlags::IN_MODIFY | AddWatchFlags::IN_CLOSE_WRITE;
        if !self.add(folder.file.as_fd(), events, Interest::Any, validity) {
            return Watched::NotNow;
        }
        match folder.file.metadata() {
            Ok(meta) if Version::of(&meta) == found => Watched::Yes,
            _ => Watched::Changed,
        }
    }

    /// Makes `validity` depend on what the absolute `path` names: each folder on the way for
    /// the name that leads on, following symbolic links as the path does. Where the path stops
    /// existing, the last folder that exists is watched for the missing name, so that making it
    /// again is seen. `false`: not watched.
    pub fn watch_path(&self, path: &Path, validity: &Rc<Validity>) -> bool {
        if self.inotify.is_none() {
            return false;
        }
        let mut here = std::path::PathBuf::from("/");
        for component in path.components().skip(1) {
            let name = component.as_os_str();
            let Ok(folder) = std::fs::File::open(&here) else {
                return false;
            };
            if is_remote(folder.as_fd()) {
                return false;
            }
            let interest = Interest::Named(name.as_bytes().into());
            if !self.add(folder.as_fd(), folder_events(), interest, validity) {
                return false;
            }
            here.push(name);
            if !here.is_dir() {
                // Missing: watched for in its parent, which is enough to see it come back.
                return true;
            }
        }
        match std::fs::File::open(&here) {
            Ok(folder) => self.add(folder.as_fd(), folder_events(), Interest::Itself, validity),
            Err(_) => true,
        }
    }

    /// Adds a watch on the inode open as `fd`, with `mask`, for `validity`.
    fn add(
        &self,
        fd: BorrowedFd<'_>,
        mask: AddWatchFlags,
        interest: Interest,
        validity: &Rc<Validity>,
    ) -> bool {
        let Some(inotify) = &self.inotify else {
            return false;
        };
        // The descriptor's own inode, whatever path it was opened by. IN_MASK_ADD: an inode
        // watched already keeps the events its other dependents asked for (a folder on a
        // file's way, and listed).
        let path = format!("/proc/self/fd/{}", fd.as_raw_fd());
        let wd = match inotify.add_watch(path.as_str(), mask | mask_add()) {
            Ok(wd) => wd,
            Err(Errno::ENOSPC) => {
                if !self.warned.replace(true) {
                    warn!(
                        "the inotify watch limit is reached (fs.inotify.max_user_watches): files \
                         beyond it are looked at again every second"
                    );
                }
                return false;
            }
            Err(_) => return false,
        };
        let mut watches = self.watches.borrow_mut();
        let watch = watches.entry(wd.as_raw()).or_insert_with(|| Watch {
            descriptor: wd,
            dependents: Vec::new(),
        });
        let dependents = &mut watch.dependents;
        if dependents.len() >= 8 && dependents.len().is_power_of_two() {
            dependents.retain(|d| d.validity.strong_count() > 0);
        }
        dependents.push(Dependent {
            interest,
            validity: Rc::downgrade(validity),
        });
        true
    }
}

fn clear(dependent: &Dependent) {
    if let Some(validity) = dependent.validity.upgrade() {
        validity.clear();
    }
}

/// Opens a folder beneath `root` with no symbolic link on the way (`ELOOP` if there is one).
fn open_folder(root: BorrowedFd<'_>, relative: &[u8]) -> nix::Result<OwnedFd> {
    use nix::fcntl::{OFlag, OpenHow, ResolveFlag, openat2};
    let how = OpenHow::new()
        .flags(OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC)
        .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_SYMLINKS);
    openat2(root, Path::new(OsStr::from_bytes(relative)), how)
}

/// Whether `fd` lives on a file system that other machines may change.
fn is_remote(fd: BorrowedFd<'_>) -> bool {
    nix::sys::statfs::fstatfs(fd)
        // `f_type` is a C long: i64 here, narrower on 32-bit targets.
        .map(|fs| {
            #[allow(clippy::unnecessary_cast)]
            let magic = fs.filesystem_type().0 as i64;
            REMOTE_FILE_SYSTEMS.contains(&magic)
        })
        .unwrap_or(true)
}

/// `IN_MASK_ADD`, which nix does not name: the events asked for join those of the watch
/// already on the inode instead of replacing them.
fn mask_add() -> AddWatchFlags {
    AddWatchFlags::from_bits_retain(libc::IN_MASK_ADD)
}
