//! Opening a file beneath the site root: one open and one fstat per request.
//!
//! On Linux 5.6+ `openat2(RESOLVE_BENEATH)` makes the kernel refuse any resolution that leaves
//! the root (a `..` or a symlink pointing outside), with no race between checking and opening.
//! RESOLVE_BENEATH also refuses absolute symlinks, even ones that point back inside the root;
//! those, and kernels without openat2, go through a canonical-path check instead.

use std::ffi::OsStr;
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{OFlag, OpenHow, ResolveFlag, open, openat2};
use nix::sys::stat::Mode;

/// The directory a site is served from, held open for the worker's life.
#[derive(Debug)]
pub(crate) struct RootDir {
    fd: OwnedFd,
    /// Canonical path of the root, for the fallback check and for messages.
    path: PathBuf,
    /// The kernel has openat2; probed once when the root is opened.
    has_openat2: bool,
}

/// An open file or directory and its metadata from the same descriptor.
#[derive(Debug)]
pub(crate) struct Opened {
    pub file: File,
    pub meta: Metadata,
    /// The wall clock just before `meta` was read, for the racy-version rule
    /// (`version::Version::is_racy_at`).
    pub read_at: i128,
}

/// O_NONBLOCK so that opening a FIFO someone left in the root cannot block the worker.
fn open_flags() -> OFlag {
    OFlag::O_RDONLY | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOCTTY
}

impl RootDir {
    pub(crate) fn open(path: &Path) -> io::Result<RootDir> {
        let path = std::fs::canonicalize(path)?;
        let fd = open(&path, open_flags() | OFlag::O_DIRECTORY, Mode::empty())?;
        let has_openat2 = !matches!(
            openat2(&fd, ".", OpenHow::new().flags(open_flags())),
            Err(Errno::ENOSYS)
        );
        Ok(RootDir {
            fd,
            path,
            has_openat2,
        })
    }

    /// The root's descriptor, which every open beneath it starts from.
    pub(crate) fn fd(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.as_fd()
    }

    /// Which folder this is: its device and inode.
    pub(crate) fn identity(&self) -> Option<(u64, u64)> {
        let stat = nix::sys::stat::fstat(&self.fd).ok()?;
        Some((stat.st_dev, stat.st_ino))
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Opens `relative` (bytes of a path with no leading `/`; empty for the root itself).
    pub(crate) fn open_beneath(&self, relative: &[u8]) -> io::Result<Opened> {
        let relative = as_path(relative);
        let fd = if self.has_openat2 {
            match self.openat2_beneath(relative, ResolveFlag::empty()) {
                Err(Errno::EXDEV) => self.open_canonical(relative)?,
                other => other?,
            }
        } else {
            self.open_canonical(relative)?
        };
        let file = File::from(fd);
        let read_at = super::version::now();
        let meta = file.metadata()?;
        Ok(Opened {
            file,
            meta,
            read_at,
        })
    }

    fn openat2_beneath(&self, relative: &Path, extra: ResolveFlag) -> Result<OwnedFd, Errno> {
        let how = OpenHow::new()
            .flags(open_flags())
            .resolve(ResolveFlag::RESOLVE_BENEATH | ResolveFlag::RESOLVE_NO_MAGICLINKS | extra);
        // EAGAIN: a concurrent rename somewhere on the path; the kernel asks us to retry.
        let mut result = openat2(&self.fd, relative, how);
        for _ in 0..3 {
            if !matches!(result, Err(Errno::EAGAIN)) {
                break;
            }
            result = openat2(&self.fd, relative, how);
        }
        result
    }

    /// Resolves every symlink, then opens the result only if it is inside the root. With openat2
    /// the final open refuses symlinks, so a link swapped in after the check is not followed.
    fn open_canonical(&self, relative: &Path) -> io::Result<OwnedFd> {
        let canonical = std::fs::canonicalize(self.path.join(relative))?;
        let inside = canonical
            .strip_prefix(&self.path)
            .map_err(|_| io::Error::from_raw_os_error(libc::EXDEV))?;
        if self.has_openat2 {
            Ok(self.openat2_beneath(
                as_path(inside.as_os_str().as_bytes()),
                ResolveFlag::RESOLVE_NO_SYMLINKS,
            )?)
        } else {
            Ok(open(&canonical, open_flags(), Mode::empty())?)
        }
    }
}

fn as_path(relative: &[u8]) -> &Path {
    if relative.is_empty() {
        Path::new(".")
    } else {
        Path::new(OsStr::from_bytes(relative))
    }
}
