//! On-the-fly compression (`--compress`): brotli, zstd or gzip of compressible files, computed
//! once per file version and encoding, and kept in a per-worker cache with a memory bound.
//!
//! A copy is kept only if the file was the same version before and after it was read, and that
//! version is not racy (`version.rs`): a copy of a file read while it was being written is
//! never served again.

use std::cell::{RefCell, RefMut};
use std::collections::{HashMap, VecDeque};
use std::fs::{File, Metadata};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::rc::Rc;

use tracing::warn;

use crate::fs::encoding::Coding;
use crate::fs::etag;
use crate::fs::version::Version;
use crate::limits::{COMPRESS_MAX_BYTES, COMPRESS_MIN_BYTES};

/// A compressed representation and its own strong ETag.
#[derive(Debug)]
pub struct Compressed {
    pub bytes: Rc<[u8]>,
    pub etag: Rc<str>,
}

/// Types worth compressing: text, and the structured text formats sent as `application/`.
pub fn is_compressible(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or("").trim();
    mime.starts_with("text/")
        || mime.ends_with("+xml")
        || mime.ends_with("+json")
        || matches!(
            mime,
            "application/javascript"
                | "application/json"
                | "application/xml"
                | "application/yaml"
                | "application/wasm"
        )
}

#[derive(Debug)]
struct Cache {
    /// `None`: compressing did not make it smaller; sent as identity.
    entries: HashMap<(Version, Coding), Option<Rc<Compressed>>>,
    /// Insertion order, for evicting the oldest first.
    order: VecDeque<(Version, Coding)>,
    bytes: usize,
}

/// The worker's compressed copies; it belongs to the worker's one thread.
#[derive(Debug)]
pub struct CompressCache {
    cache: RefCell<Cache>,
    max_bytes: usize,
}

impl CompressCache {
    pub fn new(max_bytes: usize) -> CompressCache {
        let cache = Cache {
            entries: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
        };
        CompressCache {
            cache: RefCell::new(cache),
            max_bytes,
        }
    }

    /// `file` compressed with `coding`, from the cache or compressed now. `None` if the file is
    /// outside the size window, changed while it was read, or compression would not make it
    /// smaller. `read_at` is the clock read before `meta` was (`version::now`).
    pub fn get(
        &self,
        file: &File,
        meta: &Metadata,
        coding: Coding,
        read_at: i128,
    ) -> Option<Rc<Compressed>> {
        if coding == Coding::Identity
            || !(COMPRESS_MIN_BYTES..=COMPRESS_MAX_BYTES).contains(&meta.len())
        {
            return None;
        }
        let key = (Version::of(meta), coding);
        if let Some(entry) = self.cache().entries.get(&key) {
            return entry.clone();
        }
        let mut original = vec![0u8; meta.len() as usize];
        // On failure the file is sent as it is, and compressing is tried again next time.
        if let Err(e) = file.read_exact_at(&mut original, 0) {
            warn!("cannot read a file to compress it: {e}");
            return None;
        }
        if file.metadata().map(|now| Version::of(&now)).ok() != Some(key.0) {
            // Changed while it was read: sent as it is now, and compressed once it settles.
            return None;
        }
        let encoded = match compress(&original, coding) {
            Ok(encoded) => encoded,
            Err(e) => {
                warn!("cannot compress a file with {}: {e}", coding.token());
                return None;
            }
        };
        let entry = (encoded.len() < original.len()).then(|| {
            let etag = etag::hash_bytes(&encoded).into();
            Rc::new(Compressed {
                bytes: encoded.into(),
                etag,
            })
        });
        if !key.0.is_racy_at(read_at) {
            self.insert(key, entry.clone());
        }
        entry
    }

    /// Borrowed for one statement or one insertion at a time, never across a call out.
    fn cache(&self) -> RefMut<'_, Cache> {
        self.cache.borrow_mut()
    }

    fn insert(&self, key: (Version, Coding), entry: Option<Rc<Compressed>>) {
        let size = entry.as_ref().map_or(0, |c| c.bytes.len());
        if size > self.max_bytes {
            return;
        }
        let mut cache = self.cache();
        while cache.bytes + size > self.max_bytes
            && let Some(oldest) = cache.order.pop_front()
        {
            if let Some(Some(evicted)) = cache.entries.remove(&oldest) {
                cache.bytes -= evicted.bytes.len();
            }
        }
        cache.bytes += size;
        cache.order.push_back(key);
        cache.entries.insert(key, entry);
    }
}

/// Compression levels: the result is cached, so we pay for better ratios once; these stay
/// within a few tens of milliseconds for the largest file compressed on the fly.
pub fn compress(input: &[u8], coding: Coding) -> std::io::Result<Vec<u8>> {
    match coding {
        Coding::Br => {
            let mut output = Vec::with_capacity(input.len() / 3);
            let params = brotli::enc::BrotliEncoderParams {
                quality: 6,
                lgwin: 22,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &input[..], &mut output, &params)?;
            Ok(output)
        }
        Coding::Zstd => zstd::bulk::compress(input, 9),
        Coding::Gzip => {
            let mut encoder = flate2::write::GzEncoder::new(
                Vec::with_capacity(input.len() / 3),
                flate2::Compression::new(6),
            );
            encoder.write_all(input)?;
            encoder.finish()
        }
        Coding::Identity => Ok(input.to_vec()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_types() {
        assert!(is_compressible("text/html; charset=utf-8"));
        assert!(is_compressible("application/javascript"));
        assert!(is_compressible("image/svg+xml"));
        assert!(is_compressible("application/wasm"));
        assert!(!is_compressible("image/png"));
        assert!(!is_compressible("application/octet-stream"));
    }

    #[test]
    fn cache_respects_its_bound() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompressCache::new(4000);
        for i in 0..20 {
            let path = dir.path().join(format!("f{i}"));
            let text: String = (0..3000)
                .map(|j| char::from(b'a' + ((i * 7 + j * 13) % 26) as u8))
                .collect();
            std::fs::write(&path, text).unwrap();
            let file = File::open(&path).unwrap();
            let meta = file.metadata().unwrap();
            let settled = crate::fs::version::now() + 10_000_000_000;
            assert!(cache.get(&file, &meta, Coding::Gzip, settled).is_some());
            assert!(cache.cache().bytes <= 4000);
        }
    }
}
