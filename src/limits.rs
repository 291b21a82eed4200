//! Every limit the server enforces, with the reason for its default.
//!
//! Limits that an operator may need to change are also command-line flags (see `config.rs`);
//! the constants here are their defaults and the bounds that stay fixed. Every bound on what a
//! client can make a worker hold or do lives here; constants that only tune a mechanism (the
//! deadline sweep's tick, a fresh buffer's capacity, the size of one sendfile call) stay beside
//! the code they tune.

use std::time::Duration;

/// Largest request head (request line + headers + blank line) a connection buffers. 32 KiB is
/// nginx's default total (`large_client_header_buffers 4 8k`): browsers with large cookies and
/// requests that passed several proxies (each adding `Via`, `X-Forwarded-*`, tracing fields)
/// send heads of 10 to 20 KiB, and turning them away breaks real sites. The buffer only grows
/// to this while a head needs it (`conn::io::try_read` doubles it from 2 KiB), so an idle or
/// small-request connection costs no more than with a smaller limit. Over it: 431, or 414 if
/// the request line alone does not fit.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;

/// Most header fields in one request head. Browsers send 10 to 20, but proxies add their own
/// and nginx counts none (only bytes); 256 leaves room for any real request within
/// `MAX_HEAD_BYTES` while still bounding the parser's work on a head of tiny fields. Over it:
/// 431.
pub const MAX_HEADERS: usize = 256;

/// The parser's header array is on the stack of a synchronous function (`conn`'s
/// `next_exchange`, never held across an await, so the connection's future does not carry it):
/// this is its fixed size and the ceiling for `--max-headers`. 512 slots of 32 bytes are 16 KiB
/// of stack, left uninitialised; room to double the default for an operator who also raises
/// `--max-head-bytes`.
pub const MAX_HEADERS_CEILING: usize = 512;

/// Largest request body the server will read and discard to keep a connection usable. A static
/// server has no use for bodies; 1 MiB is nginx's `client_max_body_size`. Over it: 413, close.
pub const MAX_BODY_BYTES: u64 = 1024 * 1024;

/// Longest chunk-size line (size, extensions, CRLF) in a chunked body. Extensions carry nothing
/// we use, and unbounded ones are a known way to make servers buffer without limit.
pub const MAX_CHUNK_LINE_BYTES: usize = 1024;

/// Most bytes of trailer fields after the last chunk; they are read and dropped.
pub const MAX_TRAILER_BYTES: usize = 8 * 1024;

/// Time a client has to send a whole request head, counted from its first byte (not reset per
/// byte, so a slowloris client cannot stretch it). nginx's `client_header_timeout` is 60 s; 10 s
/// is ample for any real client on any real network.
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Time an idle keep-alive connection is kept open between requests; nginx uses 75 s, but an
/// idle connection costs memory and a descriptor, and browsers reconnect cheaply.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(15);

/// Time a single write may wait for the client to read; a client that stops reading mid-download
/// is dropped after it. nginx's `send_timeout` is 60 s.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests served on one connection before it is closed politely (nginx: 1000). Bounds how
/// long one client can pin a worker's connection and spreads long-lived clients across workers.
pub const MAX_REQUESTS_PER_CONNECTION: u32 = 1000;

/// Open connections per worker. At the limit a worker stops accepting; the kernel's listen
/// backlog holds the rest until a connection ends.
pub const MAX_CONNECTIONS: usize = 10_000;

/// After an error response we half-close and read what the client still sends for at most this
/// long, so its pending bytes do not make the kernel reset the connection before our response is
/// read (RFC 9112 §9.6, "lingering close").
pub const LINGER_TIMEOUT: Duration = Duration::from_secs(2);

/// Most bytes read and dropped during a lingering close.
pub const LINGER_MAX_BYTES: usize = 64 * 1024;

/// Response bodies up to this size are copied into the connection's output buffer after their
/// head, from a file (pread) or from memory, so a response (and a pipelined batch of them) leaves
/// in one write. Larger ones are sent from where they are: sendfile from a file, writev from
/// memory, never copied. Copying 32 KiB costs less than the extra system call it saves.
pub const INLINE_BODY_MAX: u64 = 32 * 1024;

/// Largest body the response cache keeps per entry. Above it a file goes out with sendfile,
/// which needs no copy in memory; up to it, a cache hit saves the open, fstat and read.
pub const CACHED_BODY_MAX: u64 = 64 * 1024;

/// Most bytes of response waiting in a connection's output buffer before it is flushed, so a
/// long pipeline of requests cannot grow it without bound.
pub const OUTPUT_FLUSH_BYTES: usize = 64 * 1024;

/// How long an idle HTTP/1.1 keep-alive connection stays open once its worker drains (a reload
/// or a stop), at most its keep-alive timeout. Closing it at once races with a request the client
/// is already sending, and a client that does not retry (Python's `http.client`, many scripts)
/// fails that request. Kept open, a client that goes on using the connection sends its next
/// request within this time, gets its answer with `Connection: close`, and opens its next
/// connection to the new workers. A second is far longer than the gap between a busy client's
/// requests and adds at most that much to a reload's overlap.
pub const DRAIN_IDLE_GRACE: Duration = Duration::from_secs(1);

/// How long a graceful stop may take before the master kills the workers that remain.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// Listen backlog; the kernel caps it at `net.core.somaxconn`. Deep enough to hold a reload's or
/// a connection-limit pause's worth of arrivals.
pub const LISTEN_BACKLOG: i32 = 4096;

/// Most ranges (after coalescing) served as multipart/byteranges; past this the whole
/// representation is sent, so a Range field cannot turn one file into thousands of parts.
pub const MAX_RANGES: usize = 16;

/// Most range specs read from one Range field; a longer list is ignored as abuse.
pub const MAX_RANGE_SPECS: usize = 100;

/// Most response-cache entries per worker: bounds memory for the many small 404s a scanner
/// causes.
pub const CACHE_MAX_ENTRIES: usize = 10_000;

/// Default memory for the response cache's bodies and heads per worker
/// (`--file-cache-bytes`).
pub const FILE_CACHE_BYTES: usize = 64 << 20;

/// Files smaller than this are not compressed on the fly: they gain too little to be worth a
/// Content-Encoding.
pub const COMPRESS_MIN_BYTES: u64 = 1024;

/// Larger files are not compressed on the fly: the work would stall the worker's event loop.
/// Precompressed siblings have no size limit.
pub const COMPRESS_MAX_BYTES: u64 = 8 << 20;

/// Default memory for compressed copies per worker (`--compress-cache-bytes`).
pub const COMPRESS_CACHE_BYTES: usize = 64 << 20;

/// Files up to this size are hashed for their ETag in the request that first needs it: about a
/// millisecond at BLAKE3's speed. Larger ones are hashed by the worker's hasher thread.
pub const INLINE_HASH_MAX: u64 = 4 << 20;

/// Most files waiting for the worker's ETag hasher, each holding a descriptor. A file that
/// changes on every request (a growing log) would otherwise queue a hash per request; past the
/// bound a response simply goes without an ETag, and Last-Modified still validates it.
pub const ETAG_HASH_QUEUE: usize = 64;

/// Most ETags (file versions) remembered per worker; when full the table starts over.
pub const ETAG_MAX_ENTRIES: usize = 50_000;

/// Large files' ETags kept in the table the workers of an instance share (`fs::SharedTags`):
/// 80 bytes each, 1.25 MiB in all, of which only the slots in use are ever touched. A site with
/// more large files than this still serves them all; a tag pushed out is hashed again.
pub const ETAG_SHARED_SLOTS: usize = 16_384;

/// Connection buffers that grew past this are freed instead of pooled: the output buffer of a pipelined
/// batch reaches about 64 KiB before it is flushed, and is worth keeping. A read buffer that
/// held a head near the 32 KiB default limit has doubled to 64 KiB too; it is kept within
/// `BUFFER_POOL_BYTES` like any other, and only an active connection borrows it.
pub const POOLED_BUFFER_MAX: usize = 80 * 1024;

/// Most bytes of connection buffers kept for reuse per worker.
pub const BUFFER_POOL_BYTES: usize = 2 << 20;

/// Most bytes of a PROXY protocol v2 header after its 16 fixed bytes (the addresses and TLVs),
/// so a whole header is at most 4112 bytes. The length field allows 65535, but addresses take
/// at most 216 bytes (two AF_UNIX paths) and the TLVs real proxies add (AWS's VPC endpoint ID,
/// Azure's link ID, GCP's PSC connection, HAProxy's ALPN, authority and TLS fields) a few
/// hundred; only a trusted proxy may send one at all. A longer header is refused as soon as its
/// length field arrives, and the connection closed.
pub const PROXY_V2_MAX_PAYLOAD: usize = 4096;

/// Most bytes asked of the stream per read.
pub const READ_CHUNK: usize = 16 * 1024;

/// Most bytes of escaped output per access log field taken from a request (request line,
/// method, target, user, referer, user agent); a longer one is cut and ends in `...`. Bounding
/// the output rather than the input keeps a line under 60 KiB even if every byte needs a
/// six-byte escape, and so within one access log buffer and one UDP datagram.
pub const ACCESS_LOG_FIELD_BYTES: usize = 8 * 1024;

/// Streams one HTTP/2 connection may have open at once (RFC 9113 §6.5.2 suggests no fewer than
/// 100; nginx and h2o use 128).
pub const H2_MAX_CONCURRENT_STREAMS: u32 = 128;

/// Streams a client may reset before the server accepts them (Rapid Reset, CVE-2023-44487):
/// past this, `h2` ends the connection with ENHANCE_YOUR_CALM.
pub const H2_MAX_PENDING_RESETS: usize = 32;

/// Streams the server may reset for the client's errors on one connection (MadeYouReset,
/// CVE-2025-8671) before it ends the connection.
pub const H2_MAX_LOCAL_ERROR_RESETS: usize = 256;

/// Bytes of a body read and handed to `h2` at a time, and the most `h2` buffers per stream: a
/// stalled stream holds one chunk.
pub const H2_CHUNK: usize = 16 * 1024;

/// The receive windows a client's bodies get. A static server reads no body worth having, so
/// the default 64 KiB less one is plenty.
pub const H2_WINDOW: u32 = 65_535;

/// Most worker processes a configuration may ask for (`workers`, `-w`); also the number of
/// worker-id groups in the metrics mapping.
pub const MAX_WORKERS: usize = 1024;

/// Site names the metrics keep apart, counted since start across reloads (a name keeps its
/// place even after its site is removed). Past this, sites count together as `(other)`:
/// 1,024 covers the thousand-site configurations this server is benchmarked with, and bounds
/// how much of the mapping a scrape reads.
pub const METRICS_SITES: usize = 1024;

/// Per-worker counter rows (128 bytes each, one per worker id and site) in the metrics
/// mapping: 8 MiB of address space, of which only the rows in use take memory. 65,536 rows
/// are 64 workers for 1,024 sites; past them, a worker adds to its site's shared row (slower
/// under contention, never wrong).
pub const METRICS_ROWS: usize = 65_536;

/// Process slots for the metrics gauges: room for two full generations of `MAX_WORKERS` (the
/// current one and one draining after a reload), and a few to spare. A worker forked with every
/// slot taken keeps its gauges to itself until it exits.
pub const METRICS_PROCESSES: usize = 2 * MAX_WORKERS + 8;

/// Largest request head the `[metrics]` socket reads: a scraper sends a request line and a few
/// fields. Over it: 431, and the connection closes.
pub const METRICS_REQUEST_BYTES: usize = 8 * 1024;

/// Threads per worker that build directory listings, started on the worker's first listing.
/// A listing reads and stats every entry of its folder and renders a row for each, so a
/// 100,000-entry folder keeps a core busy for a fraction of a second: off the worker's one
/// thread, that time no longer stalls the worker's other connections. Two let a second folder
/// be listed while one is slow (a huge folder, a cold disk), and keep listings from taking
/// more than two cores from workers that are, by default, one per core.
pub const LISTING_THREADS: usize = 2;

/// Listings waiting for a listing thread, per worker; each holds its folder's descriptor and
/// its request's connection. A burst fits (a page of links to folders, ten tabs opened at
/// once); past it a listing request is answered `503` with `Retry-After` at once, instead of
/// joining a queue that a flood of listing requests could grow without bound.
pub const LISTING_QUEUE: usize = 16;

/// Entries on a listing page unless the site says otherwise (`listing_limit`,
/// `--listing-limit`). A row is about 110 bytes with a camera's 23-character names, so 10,000
/// rows are about 1.1 MB of HTML (about 2.5 MB with 100-character names), which a browser
/// still lays out in about a second; a 100,000-entry page would be ten times that, for a
/// table nobody scrolls through. A larger folder shows its first 10,000 entries in the order
/// asked for, and says how many were left out. nginx and Caddy set no limit by default.
pub const LISTING_LIMIT: usize = 10_000;

/// Memory per worker for built listing pages (their HTML, or its compressed copy), kept until
/// their folder changes (see `fs::listing::cache`): 16 MiB holds a 50,000-entry page three
/// times over, or the pages of thousands of small folders. The oldest pages go first.
pub const LISTING_CACHE_BYTES: usize = 16 << 20;
