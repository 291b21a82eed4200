//! A file version: what identifies one state of a file's content without reading it, and when
//! that identity can be trusted. The ETags (`etag.rs`), compressed copies (`compress.rs`) and the
//! response cache (`crate::cache`) all key what they keep by it.
//!
//! A version is (device, inode, size, mtime, ctime), the times to the nanosecond. The mtime alone
//! is not enough: `cp -p`, `touch -r`, tar, rsync and reproducible builds (SOURCE_DATE_EPOCH)
//! set it back to what it was. The ctime is set by the kernel on every change of content or
//! metadata, and no user call can set it.
//!
//! A version read close to a change is **racy**, as git calls an index entry stat'ed in the same
//! second it was written: a file system stores times with some granularity, so a second write
//! within the same tick as the first leaves every field of the version as it was. A version is
//! racy while its ctime or mtime is within [`granularity`] of the moment it was read; what was
//! read from a racy version (its bytes, its hash, a compressed copy) is served once and never
//! kept, and the next request looks again.

use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

/// What identifies one version of a file's content without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) size: u64,
    pub(crate) mtime: i64,
    pub(crate) mtime_nsec: i64,
    pub(crate) ctime: i64,
    pub(crate) ctime_nsec: i64,
}

/// The tick of a file system whose times carry nanoseconds. Linux stamps a write with its coarse
/// clock, which lags the real one by at most a scheduler tick (10 ms at HZ=100); five ticks of
/// margin cover a loaded machine. A racy file is only re-read, never served wrong, so a longer
/// window costs little.
const FINE_GRANULARITY: Duration = Duration::from_millis(50);

/// The tick of a file system whose times are whole seconds (ext2/ext3 with 128-byte inodes,
/// some network file systems) or two seconds (FAT's mtime).
const COARSE_GRANULARITY: Duration = Duration::from_secs(2);

impl Version {
    pub fn of(meta: &Metadata) -> Version {
        Version {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
            ctime: meta.ctime(),
            ctime_nsec: meta.ctime_nsec(),
        }
    }

    /// The version's identity as words, for tables in shared memory.
    pub(crate) fn words(&self) -> [u64; 7] {
        [
            self.dev,
            self.ino,
            self.size,
            self.mtime as u64,
            self.mtime_nsec as u64,
            self.ctime as u64,
            self.ctime_nsec as u64,
        ]
    }

    /// The file system's time granularity, as far as this version shows it: a ctime with no
    /// nanoseconds (one in a billion on a fine-grained file system) means whole seconds.
    pub fn granularity(&self) -> Duration {
        if self.ctime_nsec == 0 && self.mtime_nsec == 0 {
            COARSE_GRANULARITY
        } else {
            FINE_GRANULARITY
        }
    }

    /// Whether a change made after `read_at` (wall-clock nanoseconds since the epoch, read
    /// before the file was stat'ed, so never later than the stat) could leave this version as
    /// it is. A time in the future (a clock set back) is racy too.
    pub fn is_racy_at(&self, read_at: i128) -> bool {
        let granularity = self.granularity().as_nanos() as i128;
        let newest = nanos(self.ctime, self.ctime_nsec).max(nanos(self.mtime, self.mtime_nsec));
        newest + granularity > read_at
    }
}

fn nanos(seconds: i64, nanoseconds: i64) -> i128 {
    i128::from(seconds) * 1_000_000_000 + i128::from(nanoseconds)
}

/// The wall clock, in nanoseconds since the epoch: what file times are compared with.
pub fn now() -> i128 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    now.map_or(0, |d| d.as_nanos() as i128)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn version(ctime: i64, ctime_nsec: i64) -> Version {
        Version {
            dev: 1,
            ino: 2,
            size: 3,
            mtime: ctime,
            mtime_nsec: ctime_nsec,
            ctime,
            ctime_nsec,
        }
    }

    #[test]
    fn racy_within_the_granularity_of_the_read() {
        let second = 1_000_000_000i128;
        let fine = version(100, 500_000_000);
        let at = |s: i128, ns: i128| s * second + ns;
        assert!(
            fine.is_racy_at(at(100, 520_000_000)),
            "20 ms after the change"
        );
        assert!(!fine.is_racy_at(at(100, 600_000_000)), "100 ms after");
        assert!(fine.is_racy_at(at(99, 0)), "a clock behind the file");
        let coarse = version(100, 0);
        assert_eq!(coarse.granularity(), COARSE_GRANULARITY);
        assert!(coarse.is_racy_at(at(101, 900_000_000)));
        assert!(!coarse.is_racy_at(at(102, 1)));
    }

    #[test]
    fn a_rewrite_that_restores_mtime_is_another_version() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"one").unwrap();
        let before = Version::of(&std::fs::metadata(&path).unwrap());
        let mtime = std::fs::metadata(&path).unwrap().modified().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&path, b"two").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let after = Version::of(&std::fs::metadata(&path).unwrap());
        assert_eq!(
            (before.mtime, before.mtime_nsec),
            (after.mtime, after.mtime_nsec)
        );
        assert_ne!(before, after, "the ctime moved");
    }
}
