//! The per-worker response cache, between the connection and the file pipeline (`fs`): small
//! files (and 404 pages) kept in memory with their HTTP/1.1 head already encoded (all but Date
//! and Connection), so that serving one again costs no system call but the socket write, and no
//! formatting but those two fields.
//!
//! An entry is made only here, from a `fs::Reply`, with its head encoded from that same reply:
//! the encoded head, the status and the body cannot disagree. (HTTP/2 will need a variant of its
//! own: HPACK rules out a pre-encoded head.)
//!
//! - Key: the site, the request target as sent, and the client's ranking of content codings
//!   (two clients that rank them alike get the same representation). Requests with conditional or
//!   Range fields always take the full pipeline.
//! - Freshness: an entry is trusted until a change on disk that its answer depends on, learnt
//!   from the worker's inotify watches (`fs::watch`). Every lookup the pipeline made for it (the
//!   file, the folders on its way, the siblings and index names it tried, the 404 page) is
//!   watched before the entry is kept, and the watches' events are taken in before any entry is
//!   served (`Site::sync`), so a request that arrives after a change completed never gets what
//!   the change replaced. A racy file version (`fs::version`) is never kept. Where a path
//!   cannot be watched (no inotify, the watch limit, a network file system), its entry is
//!   trusted for [`REVALIDATE_AFTER`], then the next request runs the pipeline again (one open
//!   and fstat) and the entry is kept if the file version is unchanged, replaced if not; a path
//!   with a symbolic link to a folder on its way is not kept at all.
//! - Bounds: bodies up to `limits::CACHED_BODY_MAX` bytes each, at most [`CACHE_MAX_ENTRIES`] entries and
//!   `--file-cache-bytes` in all per worker; the oldest entries are evicted first.

use std::cell::{Cell, OnceCell, RefCell, RefMut};
use std::collections::{HashMap, VecDeque};
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::time::Duration;

use tracing::warn;

use crate::fs::version::Version;
use crate::fs::watch::Validity;
use crate::fs::{Keep, Later, Reply, Served, Site, encoding};
use crate::http::encode::{
    Persistence, http2_fields, write_head, write_head_end, write_head_prefix,
};
use crate::http::response::HeaderValue;
use crate::http::{Body, Method, Request, Response, Status};
use crate::limits::{CACHE_MAX_ENTRIES, CACHED_BODY_MAX};

/// How long an entry is served without looking at the file again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(1);

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
    head_prefix: Box<[u8]>,
    /// The same fields as values, for HTTP/2 (HPACK cannot use an encoded HTTP/1.1 head).
    fields: Box<[(&'static str, HeaderValue)]>,
    /// Those fields as HTTP/2 sends them, made the first time HTTP/2 asks.
    http2_fields: OnceCell<::http::HeaderMap>,
    body: CachedBody,
    version: Option<Version>,
    /// The flags of the watches the answer depends on (all must hold); empty when nothing
    /// watches it and it is revalidated by time instead.
    watched: Box<[Rc<Validity>]>,
    /// When the entry was last known fresh, on `clock::monotonic_ms`.
    checked_ms: Cell<u64>,
}

#[derive(Debug, Clone)]
enum CachedBody {
    Static(&'static [u8]),
    Shared(Rc<[u8]>),
}

/// A response on its way out: made for this request, taken from the cache, or still being
/// made (`Later`: a listing built off the worker's thread), which the connection awaits with
/// [`Outgoing::ready`] before it encodes anything.
#[derive(Debug)]
pub enum Outgoing {
    Built(Response),
    Cached(Rc<Entry>),
    Later(Later),
}

impl Outgoing {
    /// The response itself, once it is made: `Later` is awaited (the connection's other work
    /// goes on meanwhile); the others are ready already.
    pub async fn ready(self) -> Outgoing {
        match self {
            Outgoing::Later(later) => Outgoing::Built(later.await.response),
            ready => ready,
        }
    }

    pub fn status(&self) -> Status {
        match self {
            Outgoing::Built(response) => response.status,
            Outgoing::Cached(entry) => entry.status,
            Outgoing::Later(_) => unready().status,
        }
    }

    /// Appends the HTTP/1.1 head; a cached one only gains its Date and Connection.
    pub fn write_head(&self, out: &mut Vec<u8>, persistence: Persistence) {
        match self {
            Outgoing::Built(response) => write_head(out, response, persistence),
            Outgoing::Cached(entry) => {
                out.extend_from_slice(&entry.head_prefix);
                write_head_end(out, persistence);
            }
            Outgoing::Later(_) => write_head(out, &unready(), persistence),
        }
    }

    /// The status, fields and body as HTTP/2 sends them (`encode::http2_fields`); a cached
    /// entry's fields are converted once and cloned from then on.
    pub fn into_http2(self) -> (Status, ::http::HeaderMap, Body) {
        match self {
            Outgoing::Built(response) => {
                let len = response.body.len();
                let fields = http2_fields(response.status, &response.headers, len);
                (response.status, fields, response.body)
            }
            Outgoing::Cached(entry) => {
                let fields = entry
                    .http2_fields
                    .get_or_init(|| {
                        http2_fields(entry.status, &entry.fields, entry.body_len() as u64)
                    })
                    .clone();
                (entry.status, fields, Outgoing::Cached(entry).into_body())
            }
            Outgoing::Later(_) => Outgoing::Built(unready()).into_http2(),
        }
    }

    pub fn into_body(self) -> Body {
        match self {
            Outgoing::Built(response) => response.body,
            Outgoing::Cached(entry) => match &entry.body {
                CachedBody::Static(bytes) => Body::Static(bytes),
                CachedBody::Shared(bytes) => Body::Shared {
                    bytes: bytes.clone(),
                    offset: 0,
                    len: bytes.len(),
                },
            },
            Outgoing::Later(_) => unready().body,
        }
    }
}

/// What a `Later` encoded before it was awaited would say: never sent, since the connections
/// await `Outgoing::ready` first; were one not to, its client would get a whole 500, never a
/// head and body that disagree.
fn unready() -> Response {
    Response::error(Status::INTERNAL_SERVER_ERROR)
}

impl Entry {
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
        let fields: usize = (self.fields.iter())
            .map(|(name, value)| name.len() + value.len() + 24)
            .sum();
        body + self.head_prefix.len() + fields + 64
    }

    /// The pipeline's fresh answer is the same representation as this entry.
    fn matches(&self, reply: &Reply) -> bool {
        reply.response.status == self.status
            && reply.version == self.version
            && (self.version.is_some() || reply.response.body.len() == self.body_len() as u64)
    }
}

/// Which site, and which content-coding ranking (see `encoding::Accepted::variant`).
type Variant = (u32, u16);

type Key = (Box<[u8]>, Variant);

/// The entries for one target, one per site and ranking.
type Variants = Vec<(Variant, Rc<Entry>)>;

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
enum Lookup {
    Fresh(Rc<Entry>),
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

    /// The answer to `request`: from the cache when it holds a fresh one, else from `site`'s
    /// pipeline, kept for next time when it can be.
    /// `site_index` tells the worker's sites apart.
    pub fn serve(&self, site_index: usize, site: &Site, request: &Request<'_, '_>) -> Outgoing {
        // Changes on disk first: the site's root may have moved, an entry may be stale.
        site.sync();
        let accepted = encoding::parse_lines(request.header_lines("accept-encoding"));
        if !self.eligible(request) {
            return match site.serve(request, &accepted) {
                Served::Now(reply) => Outgoing::Built(reply.response),
                Served::Later(later) => Outgoing::Later(later),
            };
        }
        let target = request.target.as_bytes();
        let variant = (site_index as u32, accepted.variant());
        // A reply that comes later (a listing) has no file version: nothing to keep.
        match self.lookup(target, variant) {
            Lookup::Fresh(entry) => Outgoing::Cached(entry),
            Lookup::Stale(entry) => match site.serve_recorded(request, &accepted) {
                Served::Now(fresh) => self.revalidate(site, target, variant, &entry, fresh),
                Served::Later(later) => {
                    self.remove(target, variant);
                    Outgoing::Later(later)
                }
            },
            Lookup::Miss => match site.serve_recorded(request, &accepted) {
                Served::Now(fresh) => self.store(site, target, variant, fresh),
                Served::Later(later) => Outgoing::Later(later),
            },
        }
    }

    /// Whether `request` may be answered from, and stored in, the cache.
    fn eligible(&self, request: &Request<'_, '_>) -> bool {
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

    fn lookup(&self, target: &[u8], variant: Variant) -> Lookup {
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
        if !entry.watched.is_empty() {
            return if entry.watched.iter().all(|v| v.is_valid()) {
                Lookup::Fresh(entry)
            } else {
                Lookup::Miss
            };
        }
        if self.now_ms().saturating_sub(entry.checked_ms.get())
            < REVALIDATE_AFTER.as_millis() as u64
        {
            Lookup::Fresh(entry)
        } else {
            Lookup::Stale(entry)
        }
    }

    /// Takes the pipeline's fresh reply for a stale entry: if it is the same representation,
    /// the entry is trusted for another period and served; if not, it is replaced (or dropped).
    fn revalidate(
        &self,
        site: &Site,
        target: &[u8],
        variant: Variant,
        entry: &Rc<Entry>,
        fresh: Reply,
    ) -> Outgoing {
        if entry.matches(&fresh) {
            entry.checked_ms.set(self.now_ms());
            return Outgoing::Cached(entry.clone());
        }
        self.store(site, target, variant, fresh)
    }

    /// Keeps `reply` if it can be cached, and returns what to send.
    fn store(&self, site: &Site, target: &[u8], variant: Variant, reply: Reply) -> Outgoing {
        let watched = match self.cacheable(&reply).then(|| site.keep(&reply)) {
            Some(Keep::Watched(flags)) => flags.into_boxed_slice(),
            Some(Keep::Revalidated) => Box::default(),
            Some(Keep::Never) | None => {
                self.remove(target, variant);
                return Outgoing::Built(reply.response);
            }
        };
        let Some(entry) = self.entry_for(&reply, watched) else {
            self.remove(target, variant);
            return Outgoing::Built(reply.response);
        };
        let entry = Rc::new(entry);
        self.insert(target, variant, entry.clone());
        Outgoing::Cached(entry)
    }

    /// Whether `reply` is of a kind the cache keeps, before anything is watched for it: a 200
    /// or 404 whose body is in memory, compiled in, or a small file of a known version.
    fn cacheable(&self, reply: &Reply) -> bool {
        matches!(reply.response.status, Status::OK | Status::NOT_FOUND)
            && match (&reply.response.body, reply.version) {
                (Body::Static(_), _) => true,
                (Body::File { len, .. }, Some(_)) => *len <= CACHED_BODY_MAX,
                (Body::Shared { len, .. }, Some(_)) => *len as u64 <= CACHED_BODY_MAX,
                _ => false,
            }
    }

    fn entry_for(&self, reply: &Reply, watched: Box<[Rc<Validity>]>) -> Option<Entry> {
        let response = &reply.response;
        // Without a file version the entry could not be revalidated; only compiled-in pages
        // are safe that way.
        let body = match (&response.body, reply.version) {
            (Body::Static(bytes), _) => CachedBody::Static(bytes),
            (Body::File { file, offset, len }, Some(version)) if *len <= CACHED_BODY_MAX => {
                let mut bytes = vec![0u8; *len as usize];
                // Not cached, and sent from the file as it is: the response's own read will
                // meet the same fault and close the connection if it cannot keep its length.
                if let Err(e) = file.read_exact_at(&mut bytes, *offset) {
                    warn!("cannot read a file into the response cache: {e}");
                    return None;
                }
                // Read after its head was made: kept only if it is still that version.
                if file.metadata().map(|m| Version::of(&m)).ok() != Some(version) {
                    return None;
                }
                CachedBody::Shared(bytes.into())
            }
            (Body::Shared { bytes, offset, len }, Some(_)) if *len as u64 <= CACHED_BODY_MAX => {
                if *offset == 0 && *len == bytes.len() {
                    CachedBody::Shared(bytes.clone())
                } else {
                    CachedBody::Shared(bytes[*offset..offset + len].into())
                }
            }
            _ => return None,
        };
        let mut head_prefix = Vec::with_capacity(256);
        write_head_prefix(&mut head_prefix, response);
        Some(Entry {
            status: response.status,
            head_prefix: head_prefix.into(),
            fields: response.headers.clone().into(),
            http2_fields: OnceCell::new(),
            body,
            version: reply.version,
            watched,
            checked_ms: Cell::new(self.now_ms()),
        })
    }

    /// Borrowed for one lookup, insertion or removal at a time, never across a call out.
    fn entries_mut(&self) -> RefMut<'_, Entries> {
        self.entries.borrow_mut()
    }

    fn insert(&self, target: &[u8], variant: Variant, entry: Rc<Entry>) {
        let cost = entry.cost() + target.len();
        if cost > self.max_bytes {
            return;
        }
        self.remove(target, variant);
        let mut entries = self.entries_mut();
        while (entries.bytes + cost > self.max_bytes || entries.count >= CACHE_MAX_ENTRIES)
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

    fn remove(&self, target: &[u8], variant: Variant) {
        remove_locked(&mut self.entries_mut(), target, variant);
    }
}

fn remove_locked(entries: &mut Entries, target: &[u8], variant: Variant) {
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
