//! The per-worker response cache: small files (and 404 pages) kept in memory with their head
//! already encoded (all but Date and Connection), so that serving one again costs no system
//! call but the socket write, and no formatting but those two fields.
//!
//! - Key: the request target as sent, plus the client's ranking of content codings (two
//!   clients that rank them alike get the same representation). Requests with conditional or
//!   Range fields always take the full pipeline.
//! - Freshness: an entry is trusted for [`REVALIDATE_AFTER`]; after that the next request runs
//!   the full pipeline again (one open and fstat) and the entry is kept if the file version is
//!   unchanged, replaced if not. An edited file is served fresh within a second.
//! - Bounds: bodies up to `limits::CACHED_BODY_MAX` bytes each, at most [`MAX_ENTRIES`] entries and
//!   `--file-cache-bytes` in all per worker; the oldest entries are evicted first.

use std::cell::{Cell, RefCell, RefMut};
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use tracing::warn;

use crate::fs::etag::Version;
use crate::http::{Body, Method, Request, Response, Status};
use crate::limits::CACHED_BODY_MAX;

/// How long an entry is served without looking at the file again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

/// Most entries per worker: bounds memory for the many small 404s a scanner causes.
pub const MAX_ENTRIES: usize = 10_000;

/// Default memory for cached bodies and heads per worker.
pub const DEFAULT_BYTES: usize = 64 << 20;

/// Fields that make a response depend on more than the target and the codings.
const UNCACHEABLE_FIELDS: [&str; 6] = [
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
    "range",
    "if-range",
];

#[derive(Debug)]
pub struct Entry {
    status: Status,
    /// The status line and every field but Date and Connection, encoded.
    head_prefix: Arc<[u8]>,
    body: CachedBody,
    version: Option<Version>,
    /// When the entry was last known fresh, on `clock::monotonic_ms`.
    checked_ms: Cell<u64>,
}

#[derive(Debug, Clone)]
enum CachedBody {
    Static(&'static [u8]),
    Shared(Arc<[u8]>),
}

impl Entry {
    fn response(&self) -> Response {
        let body = match &self.body {
            CachedBody::Static(bytes) => Body::Static(bytes),
            CachedBody::Shared(bytes) => Body::Shared {
                bytes: bytes.clone(),
                offset: 0,
                len: bytes.len(),
            },
        };
        let mut response = Response::new(self.status, body);
        response.head_prefix = Some(self.head_prefix.clone());
        response.version = self.version;
        response
    }

    fn body_len(&self) -> usize {
        match &self.body {
            CachedBody::Static(bytes) => bytes.len(),
            CachedBody::Shared(bytes) => bytes.len(),
        }
    }

    fn cost(&self) -> usize {
        let body = match self.body {
            CachedBody::Static(_) => 0,
            CachedBody::Shared(_) => self.body_len(),
        };
        body + self.head_prefix.len() + 64
    }

    /// The pipeline's fresh answer is the same representation as this entry.
    fn matches(&self, response: &Response) -> bool {
        response.status == self.status
            && response.version == self.version
            && (self.version.is_some() || response.body.len() == self.body_len() as u64)
    }
}

type Key = (Box<[u8]>, u16);

/// The entries for one target, one per content-coding ranking (see `encoding::Accepted::variant`).
type Variants = Vec<(u16, Rc<Entry>)>;

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<Box<[u8]>, Variants>,
    order: VecDeque<Key>,
    bytes: usize,
    count: usize,
}

/// The worker's cache; it belongs to the worker's one thread.
#[derive(Debug)]
pub struct ResponseCache {
    entries: RefCell<Entries>,
    max_bytes: usize,
}

/// What a lookup found.
pub enum Lookup {
    Fresh(Response),
    /// Present but due for revalidation.
    Stale(Rc<Entry>),
    Miss,
}

impl ResponseCache {
    pub fn new(max_bytes: usize) -> ResponseCache {
        ResponseCache {
            entries: RefCell::new(Entries::default()),
            max_bytes,
        }
    }

    /// Whether `request` may be answered from, and stored in, the cache.
    pub fn eligible(&self, request: &Request<'_, '_>) -> bool {
        self.max_bytes > 0
            && matches!(request.method, Method::Get | Method::Head)
            && !request.headers.iter().any(|h| {
                UNCACHEABLE_FIELDS
                    .iter()
                    .any(|f| h.name.eq_ignore_ascii_case(f))
            })
    }

    fn now_ms(&self) -> u64 {
        crate::clock::monotonic_ms()
    }

    pub fn lookup(&self, target: &[u8], variant: u16) -> Lookup {
        let entry = {
            let entries = self.entries_mut();
            let Some(variants) = entries.map.get(target) else {
                return Lookup::Miss;
            };
            let Some((_, entry)) = variants.iter().find(|(v, _)| *v == variant) else {
                return Lookup::Miss;
            };
            entry.clone()
        };
        if self.now_ms().saturating_sub(entry.checked_ms.get())
            < REVALIDATE_AFTER.as_millis() as u64
        {
            Lookup::Fresh(entry.response())
        } else {
            Lookup::Stale(entry)
        }
    }

    /// Takes the pipeline's fresh `response` for a stale entry: if it is the same
    /// representation, the entry is trusted for another period and served; if not, it is
    /// replaced (or dropped).
    pub fn revalidate(
        &self,
        target: &[u8],
        variant: u16,
        entry: &Entry,
        response: Response,
    ) -> Response {
        if entry.matches(&response) {
            entry.checked_ms.set(self.now_ms());
            return entry.response();
        }
        self.store(target, variant, response)
    }

    /// Keeps `response` if it can be cached, and returns what to send.
    pub fn store(&self, target: &[u8], variant: u16, response: Response) -> Response {
        let Some(entry) = self.entry_for(&response) else {
            self.remove(target, variant);
            return response;
        };
        let entry = Rc::new(entry);
        let answer = entry.response();
        self.insert(target, variant, entry);
        answer
    }

    fn entry_for(&self, response: &Response) -> Option<Entry> {
        if !matches!(response.status, Status::OK | Status::NOT_FOUND) || response.close {
            return None;
        }
        // Without a file version the entry could not be revalidated; only compiled-in pages
        // are safe that way.
        let body = match (&response.body, response.version) {
            (Body::Static(bytes), _) => CachedBody::Static(bytes),
            (Body::File { file, offset, len }, Some(_)) if *len <= CACHED_BODY_MAX => {
                let mut bytes = vec![0u8; *len as usize];
                // Not cached, and sent from the file as it is: the response's own read will
                // meet the same fault and close the connection if it cannot keep its length.
                if let Err(e) = file.read_exact_at(&mut bytes, *offset) {
                    warn!("cannot read a file into the response cache: {e}");
                    return None;
                }
                CachedBody::Shared(bytes.into())
            }
            (Body::Shared { bytes, offset, len }, Some(_)) if *len as u64 <= CACHED_BODY_MAX => {
                CachedBody::Shared(bytes[*offset..offset + len].into())
            }
            _ => return None,
        };
        let head_prefix = response.head_prefix.clone().unwrap_or_else(|| {
            let mut prefix = Vec::with_capacity(256);
            crate::http::encode::write_head_prefix(&mut prefix, response);
            prefix.into()
        });
        Some(Entry {
            status: response.status,
            head_prefix,
            body,
            version: response.version,
            checked_ms: Cell::new(self.now_ms()),
        })
    }

    /// Borrowed for one lookup, insertion or removal at a time, never across a call out.
    fn entries_mut(&self) -> RefMut<'_, Entries> {
        self.entries.borrow_mut()
    }

    fn insert(&self, target: &[u8], variant: u16, entry: Rc<Entry>) {
        let cost = entry.cost() + target.len();
        if cost > self.max_bytes {
            return;
        }
        self.remove(target, variant);
        let mut entries = self.entries_mut();
        while (entries.bytes + cost > self.max_bytes || entries.count >= MAX_ENTRIES)
            && let Some((old_target, old_variant)) = entries.order.pop_front()
        {
            remove_locked(&mut entries, &old_target, old_variant);
        }
        entries.bytes += cost;
        entries.count += 1;
        entries.order.push_back((target.into(), variant));
        entries
            .map
            .entry(target.into())
            .or_default()
            .push((variant, entry));
        // Replaced entries leave their old key behind in `order`; drop those before they pile
        // up, keeping the newest position of each live key.
        if entries.order.len() > 2 * entries.count + 64 {
            let Entries { map, order, .. } = &mut *entries;
            let mut seen = std::collections::HashSet::new();
            let live: Vec<Key> = order
                .drain(..)
                .rev()
                .filter(|(t, v)| {
                    map.get(t).is_some_and(|vs| vs.iter().any(|(x, _)| x == v))
                        && seen.insert((t.clone(), *v))
                })
                .collect();
            order.extend(live.into_iter().rev());
        }
    }

    fn remove(&self, target: &[u8], variant: u16) {
        remove_locked(&mut self.entries_mut(), target, variant);
    }
}

fn remove_locked(entries: &mut Entries, target: &[u8], variant: u16) {
    let Some(variants) = entries.map.get_mut(target) else {
        return;
    };
    let Some(index) = variants.iter().position(|(v, _)| *v == variant) else {
        return;
    };
    let (_, entry) = variants.swap_remove(index);
    if variants.is_empty() {
        entries.map.remove(target);
    }
    entries.bytes -= entry.cost() + target.len();
    entries.count -= 1;
    // The key may still sit in `order`; popping it later finds nothing and costs nothing.
}
