//! Strong ETags derived from file content (RFC 9110 §8.8.3), so that every server of a fleet,
//! and the same server after a restart, gives the same bytes the same tag. nginx's tags are
//! mtime-size and differ between two copies of one file.
//!
//! The content hash (BLAKE3, 128 bits shown) is computed once per file version, where a version
//! is (device, inode, size, mtime to the nanosecond), and cached per worker. Small files are
//! hashed on their first request; larger ones by one background thread per worker, and until
//! that is done their responses carry Last-Modified alone. So no request ever waits for more
//! than a small file's hash.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use crate::limits::{ETAG_HASH_QUEUE, ETAG_MAX_ENTRIES, INLINE_HASH_MAX};
use tracing::warn;

/// What identifies one version of a file's content without reading it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Version {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: i64,
    mtime_nsec: i64,
}

impl Version {
    pub fn of(meta: &Metadata) -> Version {
        Version {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime: meta.mtime(),
            mtime_nsec: meta.mtime_nsec(),
        }
    }
}

#[derive(Clone, Debug)]
enum Entry {
    Ready(Rc<str>),
    /// Being hashed in the background.
    Pending,
}

/// A worker's ETag cache. It belongs to the worker's thread; the background hasher owns
/// nothing of it and talks through two channels: files to hash in, tags out.
#[derive(Debug, Default)]
pub struct Etags {
    entries: RefCell<HashMap<Version, Entry>>,
    /// The background hasher, started on first need.
    hasher: OnceCell<Hasher>,
}

#[derive(Debug)]
struct Hasher {
    jobs: SyncSender<(Version, File)>,
    done: Receiver<(Version, io::Result<String>)>,
}

impl Etags {
    /// The ETag of `file`, if known or cheap to know now.
    pub fn get(&self, file: &File, meta: &Metadata) -> Option<Rc<str>> {
        let version = Version::of(meta);
        // Cloned out, so the borrow ends before `collect` or `insert` borrows again.
        let known = self.entries.borrow().get(&version).cloned();
        match known {
            Some(Entry::Ready(tag)) => return Some(tag),
            Some(Entry::Pending) => return self.collect(version),
            None => {}
        }
        if meta.size() <= INLINE_HASH_MAX {
            let tag: Rc<str> = match hash_file(file, meta.size()) {
                Ok(tag) => tag.into(),
                Err(e) => {
                    // Served without an ETag (Last-Modified still validates); hashed again
                    // on the next request.
                    warn!("cannot hash a file for its ETag: {e}");
                    return None;
                }
            };
            self.insert(version, Entry::Ready(tag.clone()));
            return Some(tag);
        }
        let copy = match file.try_clone() {
            Ok(copy) => copy,
            Err(e) => {
                warn!("cannot hand a file to the ETag hasher: {e}");
                return None;
            }
        };
        let hasher = self.hasher.get_or_init(spawn_hasher);
        match hasher.jobs.try_send((version, copy)) {
            Ok(()) => self.insert(version, Entry::Pending),
            // Full: no ETag this time; a later request queues it. Disconnected: no hasher.
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {}
        }
        None
    }

    /// Takes in the tags the hasher has finished, and answers for `version`. Runs only while
    /// some tag is pending, so the common path never touches the channel.
    fn collect(&self, version: Version) -> Option<Rc<str>> {
        let hasher = self.hasher.get()?;
        while let Ok((done, result)) = hasher.done.try_recv() {
            match result {
                Ok(tag) => self.insert(done, Entry::Ready(tag.into())),
                Err(e) => {
                    warn!("cannot hash a file for its ETag: {e}");
                    self.entries.borrow_mut().remove(&done);
                }
            }
        }
        let entries = self.entries.borrow();
        match entries.get(&version) {
            Some(Entry::Ready(tag)) => Some(tag.clone()),
            _ => None,
        }
    }

    fn insert(&self, version: Version, entry: Entry) {
        let mut entries = self.entries.borrow_mut();
        if entries.len() >= ETAG_MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(version, entry);
    }
}

/// Starts the worker's hasher thread. If it cannot start, the job channel is closed at once:
/// large files are then served without an ETag, and nothing waits.
fn spawn_hasher() -> Hasher {
    let (jobs, incoming) = mpsc::sync_channel::<(Version, File)>(ETAG_HASH_QUEUE);
    let (finished, done) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("etag-hasher".into())
        .spawn(move || {
            for (version, file) in incoming {
                if finished
                    .send((version, hash_file(&file, version.size)))
                    .is_err()
                {
                    return;
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the ETag hasher thread: {e}");
    }
    Hasher { jobs, done }
}

/// The ETag for `len` bytes of `file`, read with pread (the file's offset is shared with any
/// other user of the descriptor).
pub fn hash_file(file: &File, len: u64) -> io::Result<String> {
    let mut hasher = blake3::Hasher::new();
    let mut buffer = vec![0u8; 256 * 1024];
    let mut offset = 0;
    while offset < len {
        let want = buffer.len().min((len - offset) as usize);
        let read = file.read_at(&mut buffer[..want], offset)?;
        if read == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        hasher.update(&buffer[..read]);
        offset += read as u64;
    }
    Ok(format_tag(hasher.finalize()))
}

/// The ETag for bytes in memory.
pub fn hash_bytes(bytes: &[u8]) -> String {
    format_tag(blake3::hash(bytes))
}

fn format_tag(hash: blake3::Hash) -> String {
    let hex = hash.to_hex();
    format!("\"{}\"", &hex.as_str()[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_depends_on_content_only() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let b = dir.path().join("b");
        std::fs::write(&a, b"same bytes").unwrap();
        std::fs::write(&b, b"same bytes").unwrap();
        let tag_a = hash_file(&File::open(&a).unwrap(), 10).unwrap();
        let tag_b = hash_file(&File::open(&b).unwrap(), 10).unwrap();
        assert_eq!(tag_a, tag_b);
        assert_eq!(tag_a, hash_bytes(b"same bytes"));
        assert_eq!(tag_a.len(), 34);
        assert_ne!(tag_a, hash_bytes(b"other bytes"));
    }

    #[test]
    fn large_file_tag_arrives_from_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("large");
        std::fs::write(&path, vec![7u8; (INLINE_HASH_MAX + 1) as usize]).unwrap();
        let file = File::open(&path).unwrap();
        let meta = file.metadata().unwrap();
        let etags = Etags::default();
        assert_eq!(
            etags.get(&file, &meta),
            None,
            "not computed on the request path"
        );
        let mut tag = None;
        for _ in 0..500 {
            tag = etags.get(&file, &meta);
            if tag.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            tag.as_deref(),
            Some(hash_file(&file, meta.size()).unwrap().as_str())
        );
    }
}
