//! Reading a folder for its listing, in one system call per entry: the names come from
//! getdents64 (many per call, through `nix::dir::Dir` on the folder's own descriptor), then each
//! entry is stat'ed relative to that descriptor without following links (`fstatat` with
//! `AT_SYMLINK_NOFOLLOW`): no path is resolved again from the root, and nothing is opened.
//!
//! Confinement stays the pipeline's: a name in a folder beneath the root is beneath the root,
//! so only a symbolic link can point elsewhere. A link alone is resolved through the confined
//! open of `open.rs` (openat2 `RESOLVE_BENEATH`), so one pointing outside the root is left
//! out and one pointing inside is described by its target, as a request for it would see it.
//!
//! The calls go through [`Kernel`], so that a test counts them.

use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::fcntl::AtFlags;
use nix::sys::stat::{FileStat, SFlag, fstatat};

use super::Entry;
use crate::fs::open::RootDir;

/// What a listing shows of an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Meta {
    pub is_dir: bool,
    /// A symbolic link: its target is described instead, if it is inside the root.
    pub is_link: bool,
    pub size: u64,
    pub modified: Option<SystemTime>,
}

impl Meta {
    fn of_stat(stat: &FileStat) -> Meta {
        let kind = SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT;
        Meta {
            is_dir: kind == SFlag::S_IFDIR,
            is_link: kind == SFlag::S_IFLNK,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            modified: time(stat.st_mtime, stat.st_mtime_nsec),
        }
    }

    fn of_metadata(meta: &Metadata) -> Meta {
        Meta {
            is_dir: meta.is_dir(),
            is_link: false,
            size: meta.size(),
            modified: time(meta.mtime(), meta.mtime_nsec()),
        }
    }
}

/// A time from seconds and nanoseconds since the epoch, before it too.
fn time(secs: i64, nsecs: i64) -> Option<SystemTime> {
    let nanos = u32::try_from(nsecs).ok()?;
    match u64::try_from(secs) {
        Ok(secs) => UNIX_EPOCH.checked_add(Duration::new(secs, nanos)),
        Err(_) => UNIX_EPOCH
            .checked_sub(Duration::from_secs(secs.unsigned_abs()))?
            .checked_add(Duration::from_nanos(u64::from(nanos))),
    }
}

/// The system calls a listing makes per entry, one method each.
pub(crate) trait Kernel {
    /// `fstatat(dir, name, AT_SYMLINK_NOFOLLOW)`: one call.
    fn stat_at(&mut self, dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Meta>;
    /// The confined open of `relative` and an fstat of what it opened (openat2, statx, close),
    /// for a symbolic link only.
    fn open_beneath(&mut self, root: &RootDir, relative: &[u8]) -> io::Result<Meta>;
}

/// The real calls, counted for the debug line each listing logs.
#[derive(Debug, Default)]
pub(crate) struct Real {
    pub stats: usize,
    pub opens: usize,
}

impl Kernel for Real {
    fn stat_at(&mut self, dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Meta> {
        self.stats += 1;
        let stat = fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        Ok(Meta::of_stat(&stat))
    }

    fn open_beneath(&mut self, root: &RootDir, relative: &[u8]) -> io::Result<Meta> {
        self.opens += 1;
        let opened = root.open_beneath(relative)?;
        Ok(Meta::of_metadata(&opened.meta))
    }
}

/// The entries of `dir`, the folder at `relative` beneath `root`: dotfiles only if `hidden`.
/// An entry that vanishes between the two reads, cannot be stat'ed, or is a link leading out
/// of the root (or nowhere) is left out; failing to read the folder itself is the error.
pub(crate) fn entries(
    dir: File,
    root: &RootDir,
    relative: &[u8],
    hidden: bool,
    kernel: &mut impl Kernel,
) -> io::Result<Vec<Entry>> {
    let mut folder = nix::dir::Dir::from_fd(OwnedFd::from(dir))?;
    let mut names = Vec::new();
    for entry in folder.iter() {
        let entry = entry?;
        let name = entry.file_name().to_bytes();
        if name == b"." || name == b".." || (name.first() == Some(&b'.') && !hidden) {
            continue;
        }
        names.push(name.to_vec());
    }
    let mut entries = Vec::with_capacity(names.len());
    let mut path = relative.to_vec();
    if !path.is_empty() {
        path.push(b'/');
    }
    let base = path.len();
    for name in names {
        let Ok(mut meta) = kernel.stat_at(folder.as_fd(), &name) else {
            continue;
        };
        if meta.is_link {
            path.truncate(base);
            path.extend_from_slice(&name);
            match kernel.open_beneath(root, &path) {
                Ok(target) => meta = target,
                Err(_) => continue,
            }
        }
        entries.push(Entry::new(name, &meta));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The real calls, counted by kind.
    #[derive(Default)]
    struct Counting {
        real: Real,
        stat_names: Vec<Vec<u8>>,
        opened: Vec<Vec<u8>>,
    }

    impl Kernel for Counting {
        fn stat_at(&mut self, dir: BorrowedFd<'_>, name: &[u8]) -> io::Result<Meta> {
            self.stat_names.push(name.to_vec());
            self.real.stat_at(dir, name)
        }

        fn open_beneath(&mut self, root: &RootDir, relative: &[u8]) -> io::Result<Meta> {
            self.opened.push(relative.to_vec());
            self.real.open_beneath(root, relative)
        }
    }

    fn open_dir(root: &RootDir, relative: &[u8]) -> File {
        root.open_beneath(relative).unwrap().file
    }

    #[test]
    fn one_stat_per_entry_and_an_open_only_for_links() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir_all(base.join("root/big/sub")).unwrap();
        std::fs::write(base.join("secret"), "outside").unwrap();
        let big = base.join("root/big");
        const FILES: usize = 10_000;
        for i in 0..FILES {
            std::fs::write(big.join(format!("IMG_{i:06}.jpg")), [b'x'; 3]).unwrap();
        }
        std::fs::write(big.join(".hidden"), "h").unwrap();
        std::os::unix::fs::symlink("IMG_000007.jpg", big.join("link-in")).unwrap();
        std::os::unix::fs::symlink("sub", big.join("link-dir")).unwrap();
        std::os::unix::fs::symlink("../../secret", big.join("link-out")).unwrap();
        std::os::unix::fs::symlink("nowhere", big.join("link-dangling")).unwrap();
        let root = RootDir::open(&base.join("root")).unwrap();

        let mut kernel = Counting::default();
        let entries = entries(open_dir(&root, b"big"), &root, b"big", false, &mut kernel).unwrap();
        // Every entry but the dotfile is stat'ed once, and nothing else is: the files, the
        // folder and four links.
        assert_eq!(kernel.stat_names.len(), FILES + 5);
        let mut names = kernel.stat_names.clone();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), FILES + 5, "no entry is stat'ed twice");
        assert!(!names.contains(&b".hidden".to_vec()));
        // Only the links are opened, through the confined open, by their path from the root.
        kernel.opened.sort();
        assert_eq!(
            kernel.opened,
            [
                &b"big/link-dangling"[..],
                b"big/link-dir",
                b"big/link-in",
                b"big/link-out"
            ]
        );
        // The link out of the root and the dangling one are left out; those inside are
        // described by their targets.
        let shown = |name: &str| entries.iter().find(|e| e.name == name.as_bytes());
        assert_eq!(entries.len(), FILES + 3);
        assert!(shown("link-out").is_none());
        assert!(shown("link-dangling").is_none());
        let link_in = shown("link-in").unwrap();
        assert_eq!((link_in.is_dir, link_in.size), (false, 3));
        assert!(shown("link-dir").unwrap().is_dir);
        assert!(shown("sub").unwrap().is_dir);
        assert_eq!(kernel.real.stats, FILES + 5);
        assert_eq!(kernel.real.opens, 4);

        // With hidden entries shown, the dotfile costs its one stat too.
        let mut kernel = Counting::default();
        let all = super::entries(open_dir(&root, b"big"), &root, b"big", true, &mut kernel);
        assert_eq!(kernel.stat_names.len(), FILES + 6);
        assert_eq!(all.unwrap().len(), FILES + 4);
    }

    #[test]
    fn entries_of_the_root_are_opened_by_their_own_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("a.txt", dir.path().join("b")).unwrap();
        let root = RootDir::open(dir.path()).unwrap();
        let mut kernel = Counting::default();
        let found = entries(open_dir(&root, b""), &root, b"", false, &mut kernel).unwrap();
        assert_eq!(kernel.opened, [b"b".to_vec()]);
        assert_eq!(found.len(), 2);
    }

    #[test]
    fn times_before_the_epoch_are_kept() {
        assert_eq!(time(0, 5), Some(UNIX_EPOCH + Duration::from_nanos(5)));
        assert_eq!(
            time(-2, 500_000_000),
            Some(UNIX_EPOCH - Duration::from_millis(1500))
        );
        assert_eq!(time(1, -1), None);
    }
}
