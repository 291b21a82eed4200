//! Static file serving: what a request for a path gets back.
//!
//! [`Site::serve`] runs one pipeline top to bottom, where a step that can answer early returns.
//! It answers with a [`Reply`]: the protocol-neutral response, and the file version it was made
//! from, which the response cache (`crate::cache`, between the connection and this module) needs
//! to keep and revalidate it. A listing that must be built first is answered [`Served::Later`]:
//! a [`Later`] reply that the connection awaits, while its other work goes on, before it
//! encodes the head; step 11 applies to it when it is ready.
//!
//! 1. method: GET and HEAD go on; OPTIONS is answered; others get 405 or 501.
//! 2. target: origin-form or absolute-form, split from its query (`path::split_target`).
//! 3. path: percent-decoded once, dot segments removed, never above the root (`path::resolve`);
//!    then the site's redirects (`rules.rs`).
//! 4. hidden: dotfiles and dot-directories are 404 unless `--hidden`.
//! 5. open: one confined open and fstat (`open.rs`); errno to status (`error::file_error`).
//! 6. directory: 301 to its own URL (slash form, no dot segments), else its `index.html`, else
//!    a listing (`listing/`: a kept page at once, else built on a listing thread, or 503 when
//!    their queue is full) or 404.
//! 7. representation: identity, a precompressed sibling or a compressed copy
//!    (`representation.rs`, with `encoding.rs` and `compress.rs`), with its validators:
//!    Last-Modified and a content ETag (`etag.rs`).
//! 8. conditional: 304 or 412 by RFC 9110 §13.2.2, and whether If-Range holds
//!    (`conditional.rs`).
//! 9. range: the whole, one range, several (multipart), or 416 (`range.rs` parses).
//! 10. body: the response that carries it (`body.rs`).
//! 11. site rules: the configured error page for an error status, and the first header rule
//!     whose glob matches the path (`rules.rs`).
//!
//! A missing path may instead get the site's SPA fallback file (step 5), and a directory tries
//! each of the site's index names in order (step 6).

mod body;
mod builtin;
pub mod compress;
mod conditional;
pub mod encoding;
pub mod etag;
mod listing;
pub mod mime;
pub(crate) mod open;
pub mod path;
pub mod range;
mod representation;
mod root;
pub mod rules;
pub mod version;
pub mod watch;

use std::borrow::Cow;
use std::cell::RefCell;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};

use tracing::{Level, event};

use crate::http::{Body, Method, Request, Response, Status};
use crate::{error, limits};
use compress::CompressCache;
use conditional::Precondition;
use encoding::{Accepted, Coding};
use etag::Etags;
pub use etag::SharedTags;
use open::{Opened, RootDir};
use path::Resolved;
use root::FollowedRoot;
use version::Version;
use watch::{Validity, Watched, Watcher};

/// What the methods a static server allows are, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The file served for a directory's URL, unless the site names others.
pub const INDEX_FILE: &str = "index.html";
/// The site's own 404 page, unless the site names another.
const NOT_FOUND_FILE: &str = "404.html";

/// What a worker serves, and how. Cloned cheaply (everything in it is shared): a listing
/// that is built later takes a clone to finish its reply with.
#[derive(Clone, Debug)]
pub struct Site {
    root: Root,
    options: Rc<SiteOptions>,
    /// Content ETags per file version.
    etags: Rc<Etags>,
    /// Compressed copies made for `--compress`.
    compressed: Rc<CompressCache>,
    /// The worker's inotify watches.
    watcher: Rc<Watcher>,
    /// The lookups of the request being served, while the response cache wants them
    /// (`serve_recorded`): what its answer depends on.
    looked: Rc<RefCell<Option<Vec<Lookup>>>>,
    /// The worker's listing threads and kept listing pages.
    listings: Rc<listing::Listings>,
    /// This site's number among the worker's, in the listing cache's keys.
    listing_site: u32,
}

/// One lookup the pipeline made beneath the root: the path, and the version it found there
/// (`None`: nothing was there).
#[derive(Debug)]
struct Lookup {
    relative: Vec<u8>,
    found: Option<Version>,
}

/// Whether, and how, an answer may be kept (`Site::keep`).
#[derive(Debug)]
pub enum Keep {
    /// Until this flag clears: every path the answer depends on is watched.
    Watched(Vec<Rc<Validity>>),
    /// Only while its file version is checked again from time to time (no watch possible).
    Revalidated,
    /// Not at all: it changed already, or its paths cannot be watched.
    Never,
}

/// What a worker's sites share: the ETags and compressed copies of files. Both are keyed by the
/// file's version (device, inode, size, modification time), so a file served by two sites is
/// hashed and compressed once, and the memory bound is the worker's, not each site's. Also the
/// listing threads and kept listing pages (`listing/`).
#[derive(Clone, Debug)]
pub struct FileCaches {
    etags: Rc<Etags>,
    compressed: Rc<CompressCache>,
    watcher: Rc<Watcher>,
    listings: Rc<listing::Listings>,
}

impl FileCaches {
    /// `compress_cache_bytes` bounds the compressed copies; `shared_tags` is the instance's
    /// table of large files' ETags, if the master made one.
    pub fn new(compress_cache_bytes: usize, shared_tags: Option<SharedTags>) -> FileCaches {
        let watcher = Rc::new(Watcher::new());
        FileCaches {
            etags: Rc::new(Etags::new(shared_tags)),
            compressed: Rc::new(CompressCache::new(compress_cache_bytes)),
            listings: Rc::new(listing::Listings::new(
                limits::LISTING_CACHE_BYTES,
                watcher.clone(),
            )),
            watcher,
        }
    }
}

/// What the pipeline answers: the response, and what the layers around it need to know of it.
#[derive(Debug)]
pub struct Reply {
    pub response: Response,
    /// The version of the file the body comes from. `Some` means the response may be cached
    /// and is revalidated by comparing versions; `None` means it is made for this request
    /// (listings, errors), except compiled-in pages, which never change.
    pub version: Option<Version>,
    /// The file served, relative to the root, when it is not the request's path (a directory's
    /// index, the SPA fallback) and the site has header rules: they match either path.
    served: Option<Vec<u8>>,
    /// The lookups beneath the root it was made from, when recorded (`serve_recorded`).
    looked: Vec<Lookup>,
    /// A listing being built: `response` is nothing yet, and `Site::serve` answers
    /// `Served::Later` with this page's reply.
    listing: Option<listing::Pending>,
}

/// What [`Site::serve`] answers: a reply now, or one that must be waited for.
#[derive(Debug)]
pub enum Served {
    Now(Reply),
    Later(Later),
}

/// A reply that is not ready yet (a listing being built on a listing thread): a future, run on
/// the worker's thread, of the reply the pipeline gives once it is, site rules (step 11)
/// applied. It never has a file version: nothing is cached of it but the listing cache's page.
pub struct Later(Pin<Box<dyn Future<Output = Reply>>>);

impl Future for Later {
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        self.0.as_mut().poll(cx)
    }
}

impl std::fmt::Debug for Later {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Later")
    }
}

/// Fields an error's answer must keep when a configured page replaces its body: 405's `Allow`
/// (RFC 9110 §15.5.6), 416's `Content-Range` (§15.5.17), 401's `WWW-Authenticate` (§15.5.2),
/// and the `Retry-After` of a 503 (§10.2.3).
const ERROR_FIELDS: [&str; 4] = ["Allow", "Content-Range", "WWW-Authenticate", "Retry-After"];

impl Reply {
    /// This error page, with the fields of `error` that its status requires.
    pub fn carrying(mut self, error: Response) -> Reply {
        for (name, value) in error.headers {
            if ERROR_FIELDS.iter().any(|f| f.eq_ignore_ascii_case(name)) {
                self.response.headers.push((name, value));
            }
        }
        self
    }
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply {
            response,
            version: None,
            served: None,
            looked: Vec::new(),
            listing: None,
        }
    }
}

#[derive(Clone, Debug)]
enum Root {
    /// The welcome site compiled into the binary.
    Builtin,
    /// Shared with the worker's listing threads (`RootDir`s), which resolve links through it.
    Dir(Rc<FollowedRoot>),
}

/// Per-site switches from the command line or the configuration file.
#[derive(Clone, Debug)]
pub struct SiteOptions {
    /// Serve an HTML listing for directories without an index file.
    pub listing: bool,
    /// Most entries on a listing page; more are left out, and the page says how many.
    pub listing_limit: usize,
    /// Serve dotfiles and dot-directories.
    pub hidden: bool,
    /// Compress compressible files on the fly when no precompressed sibling exists.
    pub compress: bool,
    /// `Cache-Control` value for files.
    pub cache_control: Option<String>,
    /// File names tried, in order, for a directory's URL.
    pub index: Vec<String>,
    /// A file (relative to the root) served with 200 for a GET or HEAD of a missing path whose
    /// last segment has no extension: the routes of a single-page application.
    pub spa_fallback: Option<String>,
    /// Pages (relative to the root) served for error statuses.
    pub error_pages: Vec<(Status, String)>,
    pub rules: rules::Rules,
    /// Content types by file name: the built-in table and the site's `types` and
    /// `default_type`.
    pub types: mime::Types,
}

impl Default for SiteOptions {
    fn default() -> SiteOptions {
        SiteOptions {
            listing: false,
            listing_limit: limits::LISTING_LIMIT,
            hidden: false,
            compress: false,
            cache_control: None,
            index: vec![INDEX_FILE.to_string()],
            spa_fallback: None,
            error_pages: Vec::new(),
            rules: rules::Rules::default(),
            types: mime::Types::default(),
        }
    }
}

impl Site {
    /// Opens the site; `None` is the built-in welcome site. `caches` are the worker's.
    pub fn open(
        root: Option<&Path>,
        options: SiteOptions,
        caches: &FileCaches,
    ) -> std::io::Result<Site> {
        let root = match root {
            None => Root::Builtin,
            Some(path) => Root::Dir(Rc::new(FollowedRoot::open(path, caches.watcher.clone())?)),
        };
        Ok(Site {
            root,
            options: Rc::new(options),
            etags: caches.etags.clone(),
            compressed: caches.compressed.clone(),
            watcher: caches.watcher.clone(),
            looked: Rc::new(RefCell::new(None)),
            listings: caches.listings.clone(),
            listing_site: caches.listings.site_number(),
        })
    }

    /// Takes in the changes on disk reported so far (`watch.rs`): before anything kept is
    /// trusted.
    pub fn sync(&self) {
        self.watcher.sync();
    }

    /// The root folder as its path names it now; `None` for the built-in site or a root that is
    /// missing.
    fn root_dir(&self) -> Option<Arc<RootDir>> {
        match &self.root {
            Root::Builtin => None,
            Root::Dir(root) => root.current(),
        }
    }

    /// Opens `relative` beneath `root`, noting the lookup while it is being recorded.
    fn look_up(&self, root: &RootDir, relative: &[u8]) -> std::io::Result<Opened> {
        let opened = root.open_beneath(relative);
        if let Some(looked) = self.looked.borrow_mut().as_mut() {
            let found = match &opened {
                Ok(opened) => Some(Version::of(&opened.meta)),
                Err(e) if is_missing(e) => None,
                // Any other error is not cached (only 200 and 404 are), so it need not be noted.
                Err(_) => return opened,
            };
            looked.push(Lookup {
                relative: relative.to_vec(),
                found,
            });
        }
        opened
    }

    /// [`Site::serve`], noting every lookup beneath the root, for [`Site::keep`].
    /// A listing that comes later is never kept by the response cache, so nothing is noted
    /// of it.
    pub fn serve_recorded(&self, request: &Request<'_, '_>, accepted: &Accepted) -> Served {
        *self.looked.borrow_mut() = Some(Vec::new());
        let served = self.serve(request, accepted);
        let looked = self.looked.borrow_mut().take().unwrap_or_default();
        match served {
            Served::Now(mut reply) => {
                reply.looked = looked;
                Served::Now(reply)
            }
            later => later,
        }
    }

    /// Whether `reply` (from [`Site::serve_recorded`]) may be kept, and the flags that say until
    /// when: every lookup it made is watched, then made again, so a change at any moment since
    /// is either found now or reported later.
    pub fn keep(&self, reply: &Reply) -> Keep {
        let Root::Dir(followed) = &self.root else {
            // The compiled-in site never changes.
            return Keep::Revalidated;
        };
        let Some(root) = followed.current() else {
            return Keep::Never;
        };
        let validity = Watcher::validity();
        for lookup in &reply.looked {
            match self
                .watcher
                .watch(&root, &lookup.relative, lookup.found, &validity)
            {
                Watched::Yes => {}
                Watched::NotNow => return Keep::Revalidated,
                Watched::Changed | Watched::Never => return Keep::Never,
            }
        }
        Keep::Watched(vec![validity, followed.validity()])
    }

    /// Runs the pipeline for one request; `accepted` is its Accept-Encoding, parsed once by the
    /// caller, which needs it too.
    pub fn serve(&self, request: &Request<'_, '_>, accepted: &Accepted) -> Served {
        let mut resolved = None;
        let mut reply = self.pipeline(request, accepted, &mut resolved);
        if let Some(pending) = reply.listing.take()
            && let Some(resolved) = resolved.take()
        {
            let site = self.clone();
            return Served::Later(Later(Box::pin(async move {
                let reply = match pending.await {
                    Ok(page) => site.listing_response(page).into(),
                    Err(e) => site.file_error(&e, &resolved),
                };
                site.apply_rules(reply, Some(&resolved))
            })));
        }
        Served::Now(self.apply_rules(reply, resolved.as_ref()))
    }

    /// 11. site rules: the error page for an error status, then the header rules for the path.
    fn apply_rules(&self, mut reply: Reply, resolved: Option<&Resolved>) -> Reply {
        if reply.response.status.code() >= 400
            && reply.response.status != Status::NOT_FOUND
            && let Some(page) = self.error_page(reply.response.status)
        {
            reply = page.carrying(reply.response);
        }
        if let Some(resolved) = resolved {
            let served = reply.served.as_deref();
            self.options
                .rules
                .apply_headers(resolved, served, &mut reply.response);
        }
        reply
    }

    /// Steps 1 to 10; `resolved` gets the decoded path once there is one.
    fn pipeline(
        &self,
        request: &Request<'_, '_>,
        accepted: &Accepted,
        resolved: &mut Option<Resolved>,
    ) -> Reply {
        // 1. method
        match request.method {
            Method::Get | Method::Head => {}
            Method::Options => {
                let allow =
                    Response::new(Status::NO_CONTENT, Body::Empty).with_header("Allow", ALLOW);
                return allow.into();
            }
            Method::NotAllowed => {
                let allow = Response::error(Status::METHOD_NOT_ALLOWED).with_header("Allow", ALLOW);
                return allow.into();
            }
            Method::Unknown => return Response::error(Status::NOT_IMPLEMENTED).into(),
        }
        // 2. target, 3. path
        let target = match path::split_target(request.target) {
            Ok(target) => target,
            Err(status) => return Response::error(status).into(),
        };
        let resolved = match path::resolve(target.path) {
            Ok(path) => resolved.insert(path),
            Err(status) => return Response::error(status).into(),
        };
        if let Some(redirect) = self.options.rules.redirect(resolved, target.query) {
            return redirect.into();
        }
        self.serve_path(request, accepted, resolved, target.query)
    }

    /// Steps 4 to 10.
    fn serve_path(
        &self,
        request: &Request<'_, '_>,
        accepted: &Accepted,
        resolved: &Resolved,
        query: Option<&str>,
    ) -> Reply {
        // 4. hidden
        if resolved.is_hidden() && !self.options.hidden {
            return self.not_found();
        }
        let root = match &self.root {
            Root::Builtin => return builtin::serve(resolved).into(),
            Root::Dir(followed) => match followed.current() {
                Some(root) => root,
                None => return builtin::not_found().into(),
            },
        };
        let root = &root;
        // 5. open
        let opened = match self.look_up(root, &resolved.relative()) {
            Ok(opened) => opened,
            Err(e) if is_missing(&e) && self.spa_route(request, resolved) => {
                return self.spa_fallback(root, request, accepted, resolved);
            }
            Err(e) => return self.file_error(&e, resolved),
        };
        // 6. directory
        if opened.meta.is_dir() {
            // A directory's page (its index or listing) is served only at its own URL, so its
            // relative links resolve beneath it: `/a/b/..` is sent to `/a/`.
            if !resolved.trailing_slash || resolved.dot_segments {
                return redirect_to_directory(resolved, query).into();
            }
            return self.serve_directory(root, request, accepted, opened, resolved, query);
        }
        if !opened.meta.is_file() || resolved.trailing_slash {
            return self.not_found();
        }
        let relative = resolved.relative();
        let name = resolved.segments.last().map_or(&[][..], |s| s);
        self.serve_file(root, request, accepted, opened, &relative, name)
    }

    /// Steps 7 to 10 for a regular file.
    fn serve_file(
        &self,
        root: &RootDir,
        request: &Request<'_, '_>,
        accepted: &Accepted,
        opened: Opened,
        relative: &[u8],
        name: &[u8],
    ) -> Reply {
        // 7. representation
        let content_type = self.options.types.content_type(name);
        let compressible = compress::is_compressible(&content_type);
        let chosen = self.select_representation(root, accepted, opened, relative, compressible);
        let mut fields = chosen.fields(self.options.cache_control.as_deref(), compressible);
        // 8. conditional
        let validators = chosen.validators();
        let safe = matches!(request.method, Method::Get | Method::Head);
        match conditional::evaluate(request, &validators, safe) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                let mut response = Response::new(Status::NOT_MODIFIED, Body::Empty);
                response.headers = fields;
                return response.into();
            }
            Precondition::Failed => return Response::error(Status::PRECONDITION_FAILED).into(),
        }
        let range_applies = conditional::if_range_holds(request, &validators);
        fields.push(("Accept-Ranges", Cow::Borrowed("bytes")));
        if chosen.coding != Coding::Identity {
            fields.push(("Content-Encoding", Cow::Borrowed(chosen.coding.token())));
        }
        fields.push(("X-Content-Type-Options", Cow::Borrowed("nosniff")));
        // 9. range, 10. body. A racy version is served, and never cached (`version.rs`).
        let version = (!chosen.racy).then_some(chosen.version);
        let response = body::respond(request, chosen, content_type, fields, range_applies);
        let served = (!self.options.rules.headers.rules.is_empty()).then(|| relative.to_vec());
        Reply {
            response,
            version,
            served,
            looked: Vec::new(),
            listing: None,
        }
    }

    fn serve_directory(
        &self,
        root: &Arc<RootDir>,
        request: &Request<'_, '_>,
        accepted: &Accepted,
        dir: Opened,
        resolved: &Resolved,
        query: Option<&str>,
    ) -> Reply {
        for name in &self.options.index {
            let index = resolved.child(name.as_bytes());
            match self.look_up(root, &index) {
                Ok(opened) if opened.meta.is_file() => {
                    return self.serve_file(
                        root,
                        request,
                        accepted,
                        opened,
                        &index,
                        name.as_bytes(),
                    );
                }
                Ok(_) => return self.not_found(),
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                    return self.file_error(&e, resolved);
                }
                Err(_) => {}
            }
        }
        if !self.options.listing {
            return self.not_found();
        }
        // Compressed in the client's best coding with `--compress`, on the listing thread.
        let coding = if self.options.compress {
            accepted.ranked_array().0[0]
        } else {
            Coding::Identity
        };
        let asked = listing::Asked {
            site: self.listing_site,
            order: listing::sort::Order::from_query(query),
            hidden: self.options.hidden,
            limit: self.options.listing_limit,
            coding,
        };
        match self.listings.list(root, dir, resolved, asked) {
            listing::Listed::Ready(page) => self.listing_response(page).into(),
            listing::Listed::Later(pending) => Reply {
                listing: Some(pending),
                ..Reply::from(Response::new(Status::OK, Body::Empty))
            },
            listing::Listed::Busy => Response::error(Status::SERVICE_UNAVAILABLE)
                .with_header("Retry-After", "1")
                .into(),
            listing::Listed::Failed(e) => self.file_error(&e, resolved),
        }
    }

    /// A listing page as a response: the fields file responses carry and the listing's own
    /// policies. It has no file version, so the response cache never keeps it: the listing
    /// cache keeps the page by its folder's version instead.
    fn listing_response(&self, page: listing::Page) -> Response {
        let len = page.body.len();
        let body = Body::Shared {
            bytes: page.body,
            offset: 0,
            len,
        };
        let mut response =
            Response::new(Status::OK, body).with_header("Content-Type", "text/html; charset=utf-8");
        if page.coding != Coding::Identity {
            response = response.with_header("Content-Encoding", page.coding.token());
        }
        if self.options.compress {
            response = response.with_header("Vary", "Accept-Encoding");
        }
        response
            .with_header("X-Content-Type-Options", "nosniff")
            .with_header("Content-Security-Policy", listing::CONTENT_SECURITY_POLICY)
            .with_header("Referrer-Policy", listing::REFERRER_POLICY)
    }

    fn file_error(&self, error: &std::io::Error, resolved: &Resolved) -> Reply {
        let (status, level) = error::file_error(error);
        let path = String::from_utf8_lossy(&resolved.relative()).into_owned();
        if level == Level::ERROR {
            event!(Level::ERROR, path, %error, "cannot open file");
        } else {
            event!(Level::DEBUG, path, %error, "cannot open file");
        }
        if status == Status::NOT_FOUND {
            self.not_found()
        } else {
            Response::error(status).into()
        }
    }

    /// 404 with the site's 404 page (its `404.html` unless configured) if it has one, else
    /// the built-in page.
    pub fn not_found(&self) -> Reply {
        self.error_page(Status::NOT_FOUND)
            .unwrap_or_else(|| builtin::not_found().into())
    }

    /// The site's page for an error status, if it has one and it can be opened: the page's
    /// fields, plus those of the error that RFC 9110 requires with its status (see
    /// `Reply::carrying`).
    pub fn error_page(&self, status: Status) -> Option<Reply> {
        let root = self.root_dir()?;
        let configured = self.options.error_pages.iter().find(|(s, _)| *s == status);
        let path = match configured {
            Some((_, path)) => path.as_str(),
            None if status == Status::NOT_FOUND => NOT_FOUND_FILE,
            None => return None,
        };
        let opened = self.look_up(&root, path.as_bytes()).ok()?;
        if !opened.meta.is_file() {
            return None;
        }
        let name = path.rsplit('/').next().unwrap_or(path);
        Some(file_response(
            status,
            opened,
            name.as_bytes(),
            &self.options.types,
        ))
    }

    /// Whether a missing path gets the SPA fallback: a GET or HEAD whose last segment has no
    /// extension (a route such as `/users/42`, not a missing `/app.js`).
    fn spa_route(&self, request: &Request<'_, '_>, resolved: &Resolved) -> bool {
        self.options.spa_fallback.is_some()
            && matches!(request.method, Method::Get | Method::Head)
            && resolved
                .segments
                .last()
                .is_none_or(|last| !last.contains(&b'.'))
    }

    fn spa_fallback(
        &self,
        root: &RootDir,
        request: &Request<'_, '_>,
        accepted: &Accepted,
        resolved: &Resolved,
    ) -> Reply {
        let Some(fallback) = &self.options.spa_fallback else {
            return self.not_found();
        };
        match self.look_up(root, fallback.as_bytes()) {
            Ok(opened) if opened.meta.is_file() => {
                let name = fallback.rsplit('/').next().unwrap_or(fallback);
                let relative = fallback.as_bytes();
                self.serve_file(root, request, accepted, opened, relative, name.as_bytes())
            }
            Ok(_) => self.not_found(),
            Err(e) => self.file_error(&e, resolved),
        }
    }
}

/// The path does not exist (or a file stands where a directory was expected).
fn is_missing(error: &std::io::Error) -> bool {
    matches!(error.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR))
}

fn redirect_to_directory(resolved: &Resolved, query: Option<&str>) -> Response {
    // Built from the normalised, re-encoded path: it starts with exactly one `/` and holds no
    // `\`, so browsers cannot read it as another host (`//host` or `/\host`).
    let mut location = resolved.encoded();
    if !resolved.segments.is_empty() {
        // The root's URL is `/` already: another would make `//`, a host-relative reference.
        location.push('/');
    }
    if let Some(query) = query {
        location.push('?');
        location.push_str(query);
    }
    Response::error(Status::MOVED_PERMANENTLY).with_header("Location", location)
}

fn file_response(status: Status, opened: Opened, name: &[u8], types: &mime::Types) -> Reply {
    let len = opened.meta.len();
    let version = Version::of(&opened.meta);
    let version = (!version.is_racy_at(opened.read_at)).then_some(version);
    let mut response = Response::new(
        status,
        Body::File {
            file: opened.file,
            offset: 0,
            len,
        },
    )
    .with_header("Content-Type", types.content_type(name));
    if let Ok(modified) = opened.meta.modified() {
        response = response.with_header("Last-Modified", httpdate::fmt_http_date(modified));
    }
    Reply {
        response: response.with_header("X-Content-Type-Options", "nosniff"),
        version,
        served: None,
        looked: Vec::new(),
        listing: None,
    }
}
