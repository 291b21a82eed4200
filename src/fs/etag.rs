//! Strong ETags derived from file content (RFC 9110 §8.8.3), so that every server of a fleet,
//! and the same server after a restart, gives the same bytes the same tag. nginx's tags are
//! mtime-size and differ between two copies of one file.
//!
//! The content hash (BLAKE3, 128 bits shown) is computed once per file version (`version.rs`:
//! device, inode, size, mtime and ctime to the nanosecond), and cached per worker. Small files
//! are hashed on their first request; larger ones by one background thread per worker, and until
//! that is done their responses carry Last-Modified alone. So no request ever waits for more
//! than a small file's hash.
//!
//! A tag is kept only when it is known to be the hash of that version: the file is stat'ed again
//! after hashing, and a version that moved meanwhile gets no tag from that hash; a racy version
//! (`version.rs`) is hashed for the request that asked and not kept. Files small enough for the
//! response cache are hashed from the very bytes the response carries (`of_bytes`).
//!
//! A large file's tag is also written to [`SharedTags`], a table in memory the master mapped
//! before its first fork: every worker of the instance, and every worker of later generations
//! (reloads), finds it there, so the same URL does not alternate between answers with and
//! without an ETag across workers and reloads.

use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};

use crate::limits::{ETAG_HASH_QUEUE, ETAG_MAX_ENTRIES, INLINE_HASH_MAX};
use tracing::warn;

pub use super::version::Version;

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
    /// Large files' tags, shared with the instance's other workers and later generations.
    shared: Option<SharedTags>,
}

#[derive(Debug)]
struct Hasher {
    jobs: SyncSender<(Version, File)>,
    done: Receiver<(Version, io::Result<String>)>,
}

impl Etags {
    /// A worker's cache, in front of the instance's shared table.
    pub fn new(shared: Option<SharedTags>) -> Etags {
        Etags {
            shared,
            ..Etags::default()
        }
    }

    /// The ETag of `file`, if known or cheap to know now. `read_at` is the clock read before
    /// `meta` was (`version::now`).
    pub fn get(&self, file: &File, meta: &Metadata, read_at: i128) -> Option<Rc<str>> {
        let version = Version::of(meta);
        // Cloned out, so the borrow ends before `collect` or `insert` borrows again.
        let known = self.entries.borrow().get(&version).cloned();
        match known {
            Some(Entry::Ready(tag)) => return Some(tag),
            Some(Entry::Pending) => return self.collect(version),
            None => {}
        }
        let racy = version.is_racy_at(read_at);
        if meta.len() <= INLINE_HASH_MAX {
            let tag: Rc<str> = match hash_version(file, &version) {
                Ok(tag) => tag.into(),
                Err(e) => {
                    // Served without an ETag (Last-Modified still validates); hashed again
                    // on the next request.
                    if e.kind() != io::ErrorKind::Interrupted {
                        warn!("cannot hash a file for its ETag: {e}");
                    }
                    return None;
                }
            };
            if !racy {
                self.insert(version, Entry::Ready(tag.clone()));
            }
            return Some(tag);
        }
        if let Some(tag) = self.shared.as_ref().and_then(|shared| shared.get(&version)) {
            let tag: Rc<str> = tag.into();
            self.insert(version, Entry::Ready(tag.clone()));
            return Some(tag);
        }
        if racy {
            // Queued once it has settled: a tag hashed now could not be kept.
            return None;
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

    /// The ETag of `bytes`, read from `version` of a file: the tag the response carrying
    /// exactly these bytes gets. Kept for the version unless `racy`.
    pub fn of_bytes(&self, version: Version, bytes: &[u8], racy: bool) -> Rc<str> {
        if let Some(Entry::Ready(tag)) = self.entries.borrow().get(&version) {
            return tag.clone();
        }
        let tag: Rc<str> = hash_bytes(bytes).into();
        if !racy {
            self.insert(version, Entry::Ready(tag.clone()));
        }
        tag
    }

    /// Takes in the tags the hasher has finished, and answers for `version`. Runs only while
    /// some tag is pending, so the common path never touches the channel.
    fn collect(&self, version: Version) -> Option<Rc<str>> {
        let hasher = self.hasher.get()?;
        while let Ok((done, result)) = hasher.done.try_recv() {
            match result {
                Ok(tag) => {
                    if let Some(shared) = &self.shared {
                        shared.put(&done, &tag);
                    }
                    self.insert(done, Entry::Ready(tag.into()));
                }
                Err(e) => {
                    if e.kind() != io::ErrorKind::Interrupted {
                        warn!("cannot hash a file for its ETag: {e}");
                    }
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

/// Large files' tags in memory shared by the master and all its workers (`crate::shm`), so that
/// a file is hashed once per instance and its tag survives reloads.
///
/// A fixed table of slots of 8 words: a sequence number, the version (5 words) and the tag's
/// 128 bits. Each slot is a seqlock: a writer makes the sequence odd (claiming the slot, or
/// giving up if another process holds it), writes, and makes it even again; a reader keeps what
/// it read only if the sequence was the same even number before and after. No process ever
/// waits for another, and a slot being written is simply a miss. A version hashes to a group of
/// [`SHARED_PROBES`] slots; a new tag takes a free slot of its group, else the group's first.
#[derive(Clone, Copy, Debug)]
pub struct SharedTags {
    words: &'static [AtomicU64],
}

/// Words per slot: sequence, the version (7: dev, ino, size, mtime, mtime_nsec, ctime,
/// ctime_nsec), tag (2).
const SLOT_WORDS: usize = 10;
/// Words of a slot that hold the version, after the sequence.
const KEY_WORDS: usize = 7;
/// Slots a version may live in.
const SHARED_PROBES: usize = 4;

impl SharedTags {
    /// A table of `slots` slots, shared with every process forked from this one from now on.
    pub fn new(slots: usize) -> std::io::Result<SharedTags> {
        let words = crate::shm::words(slots.max(SHARED_PROBES) * SLOT_WORDS)?;
        Ok(SharedTags { words })
    }

    fn key(version: &Version) -> [u64; KEY_WORDS] {
        version.words()
    }

    /// The slots `version` may live in.
    fn group(&self, key: &[u64; KEY_WORDS]) -> impl Iterator<Item = &'static [AtomicU64]> {
        let slots = self.words.len() / SLOT_WORDS;
        // FNV-1a over the key's words: cheap, and spread enough for inode numbers.
        let hash = key.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, w| {
            (h ^ w).wrapping_mul(0x0100_0000_01b3)
        });
        let words = self.words;
        (0..SHARED_PROBES).map(move |probe| {
            let slot = (hash as usize).wrapping_add(probe) % slots;
            &words[slot * SLOT_WORDS..(slot + 1) * SLOT_WORDS]
        })
    }

    /// The tag stored for `version`, as `format_tag` wrote it.
    pub fn get(&self, version: &Version) -> Option<String> {
        let key = SharedTags::key(version);
        self.group(&key).find_map(|slot| {
            let before = slot[0].load(Ordering::Acquire);
            if before == 0 || before % 2 == 1 {
                return None;
            }
            let mut words = [0u64; SLOT_WORDS - 1];
            for (word, stored) in words.iter_mut().zip(&slot[1..]) {
                *word = stored.load(Ordering::Relaxed);
            }
            fence(Ordering::Acquire);
            if slot[0].load(Ordering::Relaxed) != before || words[..KEY_WORDS] != key {
                return None;
            }
            let tag = (u128::from(words[KEY_WORDS]) << 64) | u128::from(words[KEY_WORDS + 1]);
            Some(format!("\"{tag:032x}\""))
        })
    }

    /// Stores `tag` (as `format_tag` wrote it) for `version`, unless another process is writing
    /// the slot it would take.
    pub fn put(&self, version: &Version, tag: &str) {
        let Some(bits) = tag
            .strip_prefix('"')
            .and_then(|t| t.strip_suffix('"'))
            .and_then(|hex| u128::from_str_radix(hex, 16).ok())
        else {
            return;
        };
        let key = SharedTags::key(version);
        let mut group = self.group(&key);
        let first = group.next();
        let free = self.group(&key).find(|slot| {
            let sequence = slot[0].load(Ordering::Relaxed);
            sequence == 0
                || slot[1..=KEY_WORDS]
                    .iter()
                    .zip(&key)
                    .all(|(w, k)| w.load(Ordering::Relaxed) == *k)
        });
        let Some(slot) = free.or(first) else {
            return;
        };
        let sequence = slot[0].load(Ordering::Relaxed);
        if sequence % 2 == 1
            || slot[0]
                .compare_exchange(sequence, sequence + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        fence(Ordering::Release);
        let words = key.into_iter().chain([(bits >> 64) as u64, bits as u64]);
        for (stored, word) in slot[1..].iter().zip(words) {
            stored.store(word, Ordering::Relaxed);
        }
        slot[0].store(sequence + 2, Ordering::Release);
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
                    .send((version, hash_version(&file, &version)))
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

/// The ETag of `version` of `file`: its bytes hashed, then the file stat'ed again. A version that
/// moved meanwhile gets no tag from this hash (`Interrupted`): what was read may be part one
/// version and part another.
fn hash_version(file: &File, version: &Version) -> io::Result<String> {
    let tag = hash_file(file, version.size)?;
    if Version::of(&file.metadata()?) != *version {
        return Err(io::ErrorKind::Interrupted.into());
    }
    Ok(tag)
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

    fn version(ino: u64) -> Version {
        Version {
            dev: 1,
            ino,
            size: 8 << 20,
            mtime: 1_700_000_000,
            mtime_nsec: 5,
            ctime: 1_700_000_000,
            ctime_nsec: 7,
        }
    }

    #[test]
    fn shared_tags_keep_what_was_put_for_that_version_only() {
        let table = SharedTags::new(64).unwrap();
        let tag = hash_bytes(b"eight mebibytes, say");
        assert_eq!(table.get(&version(7)), None);
        table.put(&version(7), &tag);
        assert_eq!(table.get(&version(7)), Some(tag.clone()));
        assert_eq!(table.get(&version(8)), None);
        let changed = Version {
            ctime_nsec: 8,
            ..version(7)
        };
        assert_eq!(
            table.get(&changed),
            None,
            "a new version is not the old one's"
        );
        // Many more versions than slots: the table stays bounded, and what it answers is right.
        for ino in 100..1_000 {
            table.put(&version(ino), &hash_bytes(&ino.to_le_bytes()));
        }
        for ino in 100..1_000 {
            if let Some(found) = table.get(&version(ino)) {
                assert_eq!(found, hash_bytes(&ino.to_le_bytes()));
            }
        }
        assert!(
            table.get(&version(999)).is_some(),
            "the last one put is there"
        );
    }

    #[test]
    fn a_slot_being_written_is_a_miss_not_a_torn_read() {
        let table = SharedTags::new(4).unwrap();
        table.put(&version(1), &hash_bytes(b"a"));
        let slot = table
            .group(&SharedTags::key(&version(1)))
            .find(|slot| slot[2].load(Ordering::Relaxed) == 1)
            .unwrap();
        let sequence = slot[0].load(Ordering::Relaxed);
        slot[0].store(sequence + 1, Ordering::Relaxed);
        assert_eq!(table.get(&version(1)), None);
        table.put(&version(1), &hash_bytes(b"b"));
        slot[0].store(sequence, Ordering::Relaxed);
        assert_eq!(
            table.get(&version(1)),
            Some(hash_bytes(b"a")),
            "the writer gave up"
        );
    }

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
        let settled = super::super::version::now() + 10_000_000_000;
        assert_eq!(
            etags.get(&file, &meta, settled),
            None,
            "not computed on the request path"
        );
        let mut tag = None;
        for _ in 0..500 {
            tag = etags.get(&file, &meta, settled);
            if tag.is_some() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(
            tag.as_deref(),
            Some(hash_file(&file, meta.len()).unwrap().as_str())
        );
    }
}
