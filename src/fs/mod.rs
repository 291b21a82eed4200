//! Static file serving: what a request for a path gets back.
//!
//! [`Site::serve`] runs one pipeline top to bottom, where a step that can answer early returns.
//! It answers with a [`Reply`]: the protocol-neutral response, and the file version it was made
//! from, which the response cache (`crate::cache`, between the connection and this module) needs
//! to keep and revalidate it.
//!
//! 1. method: GET and HEAD go on; OPTIONS is answered; others get 405 or 501.
//! 2. target: origin-form or absolute-form, split from its query (`path::split_target`).
//! 3. path: percent-decoded once, dot segments removed, never above the root (`path::resolve`).
//! 4. hidden: dotfiles and dot-directories are 404 unless `--hidden`.
//! 5. open: one confined open and fstat (`open.rs`); errno to status (`error::file_error`).
//! 6. directory: 301 to the slash form, else its `index.html`, else a listing or 404.
//! 7. representation: identity, a precompressed sibling or a compressed copy (`encoding.rs`,
//!    `compress.rs`), with its validators: Last-Modified and a content ETag (`etag.rs`).
//! 8. conditional: 304 or 412 by RFC 9110 §13.2.2 (`conditional.rs`).
//! 9. range: 206 (single or multipart), 416, or the whole body (`range.rs`).

mod builtin;
pub mod compress;
mod conditional;
pub mod encoding;
pub mod etag;
mod listing;
mod mime;
pub(crate) mod open;
pub mod path;
pub mod range;

use std::borrow::Cow;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use tracing::{Level, event};

use crate::error;
use crate::http::response::{HeaderValue, Segment, Source};
use crate::http::{Body, Method, Request, Response, Status};
use compress::CompressCache;
use conditional::{Comparison, Precondition, Validators};
use encoding::Coding;
use etag::{Etags, Version};
use open::{Opened, RootDir};
use path::Resolved;
use range::{ByteRange, Ranges};

/// What the methods a static server allows are, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

/// The file served for a directory's URL.
pub const INDEX_FILE: &str = "index.html";
const NOT_FOUND_FILE: &[u8] = b"404.html";

/// What a worker serves, and how.
#[derive(Debug)]
pub struct Site {
    root: Root,
    options: SiteOptions,
    /// Content ETags per file version.
    etags: Etags,
    /// Compressed copies made for `--compress`.
    compressed: CompressCache,
}

/// What the pipeline answers: the response, and what the layers around it need to know of it.
#[derive(Debug)]
pub struct Reply {
    pub response: Response,
    /// The version of the file the body comes from. `Some` means the response may be cached
    /// and is revalidated by comparing versions; `None` means it is made for this request
    /// (listings, errors), except compiled-in pages, which never change.
    pub version: Option<Version>,
}

impl From<Response> for Reply {
    fn from(response: Response) -> Reply {
        Reply {
            response,
            version: None,
        }
    }
}

#[derive(Debug)]
enum Root {
    /// The welcome site compiled into the binary.
    Builtin,
    Dir(RootDir),
}

/// Per-site switches from the command line.
#[derive(Clone, Debug)]
pub struct SiteOptions {
    /// Serve an HTML listing for directories without an index file.
    pub listing: bool,
    /// Serve dotfiles and dot-directories.
    pub hidden: bool,
    /// Compress compressible files on the fly when no precompressed sibling exists.
    pub compress: bool,
    /// Memory for compressed copies, per worker.
    pub compress_cache_bytes: usize,
    /// `Cache-Control` value for files.
    pub cache_control: Option<String>,
}

impl Site {
    /// Opens the site; `None` is the built-in welcome site.
    pub fn open(root: Option<&Path>, options: SiteOptions) -> std::io::Result<Site> {
        let root = match root {
            None => Root::Builtin,
            Some(path) => Root::Dir(RootDir::open(path)?),
        };
        let compressed = CompressCache::new(options.compress_cache_bytes);
        Ok(Site {
            root,
            options,
            etags: Etags::default(),
            compressed,
        })
    }

    /// Runs the pipeline for one request.
    pub fn serve(&self, request: &Request<'_, '_>) -> Reply {
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
            Ok(resolved) => resolved,
            Err(status) => return Response::error(status).into(),
        };
        // 4. hidden
        if resolved.is_hidden() && !self.options.hidden {
            return self.not_found();
        }
        let root = match &self.root {
            Root::Builtin => return builtin::serve(&resolved).into(),
            Root::Dir(root) => root,
        };
        // 5. open
        let opened = match root.open_beneath(&resolved.relative()) {
            Ok(opened) => opened,
            Err(e) => return self.file_error(&e, &resolved),
        };
        // 6. directory
        if opened.meta.is_dir() {
            if !resolved.trailing_slash {
                return redirect_to_directory(&resolved, target.query).into();
            }
            return self.serve_directory(root, request, opened, &resolved, target.query);
        }
        if !opened.meta.is_file() || resolved.trailing_slash {
            return self.not_found();
        }
        let relative = resolved.relative();
        let name = resolved.segments.last().map_or(&[][..], |s| s);
        self.serve_file(root, request, opened, &relative, name)
    }

    /// Steps 7 to 9 for a regular file.
    fn serve_file(
        &self,
        root: &RootDir,
        request: &Request<'_, '_>,
        opened: Opened,
        relative: &[u8],
        name: &[u8],
    ) -> Reply {
        // 7. representation
        let content_type = mime::content_type(name);
        let compressible = compress::is_compressible(&content_type);
        let chosen = self.select_representation(root, request, opened, relative, compressible);
        let validators = Validators {
            etag: chosen.etag.as_deref(),
            last_modified: chosen.last_modified,
        };
        let mut headers: Vec<(&'static str, HeaderValue)> = Vec::with_capacity(8);
        if let Some(etag) = &chosen.etag {
            headers.push(("ETag", Cow::Owned(etag.to_string())));
        }
        if let Some(modified) = chosen.last_modified {
            headers.push((
                "Last-Modified",
                Cow::Owned(httpdate::fmt_http_date(modified)),
            ));
        }
        if let Some(cache_control) = &self.options.cache_control {
            headers.push(("Cache-Control", Cow::Owned(cache_control.clone())));
        }
        if compressible || chosen.coding != Coding::Identity {
            headers.push(("Vary", Cow::Borrowed("Accept-Encoding")));
        }

        // 8. conditional
        let safe = matches!(request.method, Method::Get | Method::Head);
        match conditional::evaluate(request, &validators, safe) {
            Precondition::Proceed => {}
            Precondition::NotModified => {
                let mut response = Response::new(Status::NOT_MODIFIED, Body::Empty);
                response.headers = headers;
                return response.into();
            }
            Precondition::Failed => return Response::error(Status::PRECONDITION_FAILED).into(),
        }
        headers.push(("Accept-Ranges", Cow::Borrowed("bytes")));
        if chosen.coding != Coding::Identity {
            headers.push(("Content-Encoding", Cow::Borrowed(chosen.coding.token())));
        }
        headers.push(("X-Content-Type-Options", Cow::Borrowed("nosniff")));

        // 9. range: only for GET (RFC 9110 §14.2), and only while If-Range holds.
        let len = chosen.len;
        let ranges = match request.header_str("range") {
            Some(range)
                if request.method == Method::Get && if_range_holds(request, &validators) =>
            {
                range::evaluate(range, len)
            }
            _ => Ranges::Whole,
        };
        let (status, content_type, body) = match ranges {
            Ranges::Whole => (Status::OK, content_type, chosen.content.whole(len)),
            Ranges::Unsatisfiable => {
                let mut response = Response::error(Status::RANGE_NOT_SATISFIABLE)
                    .with_header("Content-Range", format!("bytes */{len}"));
                response.headers.extend(headers);
                return response.into();
            }
            Ranges::Partial(ranges) if ranges.len() == 1 => {
                let ByteRange { first, last } = ranges[0];
                headers.push((
                    "Content-Range",
                    Cow::Owned(format!("bytes {first}-{last}/{len}")),
                ));
                (
                    Status::PARTIAL_CONTENT,
                    content_type,
                    chosen.content.range(ranges[0]),
                )
            }
            Ranges::Partial(ranges) => {
                let boundary = multipart_boundary();
                let body = chosen
                    .content
                    .multipart(&ranges, &boundary, &content_type, len);
                let content_type = Cow::Owned(format!("multipart/byteranges; boundary={boundary}"));
                (Status::PARTIAL_CONTENT, content_type, body)
            }
        };
        let mut response = Response::new(status, body).with_header("Content-Type", content_type);
        response.headers.extend(headers);
        Reply {
            response,
            version: Some(chosen.version),
        }
    }

    /// The best representation the client accepts: a precompressed sibling (`app.js.br`), a
    /// compressed copy (with `--compress`), or the file itself.
    fn select_representation(
        &self,
        root: &RootDir,
        request: &Request<'_, '_>,
        opened: Opened,
        relative: &[u8],
        compressible: bool,
    ) -> Representation {
        let accepted = encoding::parse_lines(request.header_lines("accept-encoding"));
        for coding in accepted.ranked() {
            if coding == Coding::Identity {
                break;
            }
            let mut sibling = relative.to_vec();
            sibling.extend_from_slice(coding.extension().as_bytes());
            if let Ok(encoded) = root.open_beneath(&sibling)
                && encoded.meta.is_file()
            {
                return Representation {
                    coding,
                    version: Version::of(&encoded.meta),
                    etag: self.etags.get(&encoded.file, &encoded.meta),
                    last_modified: encoded.meta.modified().ok(),
                    len: encoded.meta.len(),
                    content: Content::File(encoded.file),
                };
            }
            if self.options.compress
                && compressible
                && let Some(compressed) = self.compressed.get(&opened.file, &opened.meta, coding)
            {
                return Representation {
                    coding,
                    version: Version::of(&opened.meta),
                    etag: Some(compressed.etag.clone()),
                    last_modified: opened.meta.modified().ok(),
                    len: compressed.bytes.len() as u64,
                    content: Content::Shared(compressed.bytes.clone()),
                };
            }
        }
        Representation {
            coding: Coding::Identity,
            version: Version::of(&opened.meta),
            etag: self.etags.get(&opened.file, &opened.meta),
            last_modified: opened.meta.modified().ok(),
            len: opened.meta.len(),
            content: Content::File(opened.file),
        }
    }

    fn serve_directory(
        &self,
        root: &RootDir,
        request: &Request<'_, '_>,
        dir: Opened,
        resolved: &Resolved,
        query: Option<&str>,
    ) -> Reply {
        let mut index = resolved.relative();
        if !index.is_empty() {
            index.push(b'/');
        }
        index.extend_from_slice(INDEX_FILE.as_bytes());
        match root.open_beneath(&index) {
            Ok(opened) if opened.meta.is_file() => {
                return self.serve_file(root, request, opened, &index, INDEX_FILE.as_bytes());
            }
            Ok(_) => return self.not_found(),
            Err(e) if e.raw_os_error() != Some(libc::ENOENT) => {
                return self.file_error(&e, resolved);
            }
            Err(_) => {}
        }
        if !self.options.listing {
            return self.not_found();
        }
        match listing::render(root, &dir.file, resolved, query, self.options.hidden) {
            Ok(page) => self.listing_response(request, page).into(),
            Err(e) => self.file_error(&e, resolved),
        }
    }

    /// A listing page as a response: the fields file responses carry and the listing's own
    /// policies, compressed in the client's best coding with `--compress`. It has no file
    /// version, so the response cache never keeps it: a listing is built for every request and
    /// never stale.
    fn listing_response(&self, request: &Request<'_, '_>, page: String) -> Response {
        let mut body = page.into_bytes();
        let mut coding = Coding::Identity;
        let size = body.len() as u64;
        if self.options.compress && (compress::MIN_SIZE..=compress::MAX_SIZE).contains(&size) {
            let accepted = encoding::parse_lines(request.header_lines("accept-encoding"));
            let (ranked, _) = accepted.ranked_array();
            if ranked[0] != Coding::Identity
                && let Ok(encoded) = compress::compress(&body, ranked[0])
                && encoded.len() < body.len()
            {
                body = encoded;
                coding = ranked[0];
            }
        }
        let mut response = Response::new(Status::OK, Body::Bytes(body))
            .with_header("Content-Type", "text/html; charset=utf-8");
        if coding != Coding::Identity {
            response = response.with_header("Content-Encoding", coding.token());
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

    /// 404 with the site's own `404.html` if it has one, else the built-in page.
    pub fn not_found(&self) -> Reply {
        if let Root::Dir(root) = &self.root
            && let Ok(opened) = root.open_beneath(NOT_FOUND_FILE)
            && opened.meta.is_file()
        {
            return file_response(Status::NOT_FOUND, opened, NOT_FOUND_FILE);
        }
        builtin::not_found().into()
    }
}

fn redirect_to_directory(resolved: &Resolved, query: Option<&str>) -> Response {
    // Built from the normalised, re-encoded path: it starts with exactly one `/` and holds no
    // `\`, so browsers cannot read it as another host (`//host` or `/\host`).
    let mut location = resolved.encoded();
    location.push('/');
    if let Some(query) = query {
        location.push('?');
        location.push_str(query);
    }
    Response::error(Status::MOVED_PERMANENTLY).with_header("Location", location)
}

fn file_response(status: Status, opened: Opened, name: &[u8]) -> Reply {
    let len = opened.meta.len();
    let version = Version::of(&opened.meta);
    let mut response = Response::new(
        status,
        Body::File {
            file: opened.file,
            offset: 0,
            len,
        },
    )
    .with_header("Content-Type", mime::content_type(name));
    if let Ok(modified) = opened.meta.modified() {
        response = response.with_header("Last-Modified", httpdate::fmt_http_date(modified));
    }
    Reply {
        response: response.with_header("X-Content-Type-Options", "nosniff"),
        version: Some(version),
    }
}

/// The representation chosen for a file request.
struct Representation {
    coding: Coding,
    /// The version of the file the bytes come from (the original, for a compressed copy).
    version: Version,
    /// Known once hashed; see `etag.rs`.
    etag: Option<Arc<str>>,
    last_modified: Option<SystemTime>,
    len: u64,
    content: Content,
}

/// Where a representation's bytes are.
enum Content {
    File(std::fs::File),
    Shared(Arc<[u8]>),
}

impl Content {
    fn whole(self, len: u64) -> Body {
        // An empty file has no byte range; its body is simply empty.
        if len == 0 {
            return Body::Empty;
        }
        self.range(ByteRange {
            first: 0,
            last: len - 1,
        })
    }

    fn range(self, range: ByteRange) -> Body {
        match self {
            Content::File(file) => Body::File {
                file,
                offset: range.first,
                len: range.size(),
            },
            Content::Shared(bytes) => Body::Shared {
                bytes,
                offset: range.first as usize,
                len: range.size() as usize,
            },
        }
    }

    /// A multipart/byteranges body (RFC 9110 §14.6): each part with its own Content-Type and
    /// Content-Range, the ranges sent from the file without copying.
    fn multipart(self, ranges: &[ByteRange], boundary: &str, content_type: &str, len: u64) -> Body {
        let mut segments = Vec::with_capacity(ranges.len() * 2 + 1);
        for (i, range) in ranges.iter().enumerate() {
            let separator = if i == 0 { "" } else { "\r\n" };
            let head = format!(
                "{separator}--{boundary}\r\nContent-Type: {content_type}\r\n\
                 Content-Range: bytes {}-{}/{len}\r\n\r\n",
                range.first, range.last
            );
            segments.push(Segment::Literal(head.into_bytes()));
            segments.push(Segment::Range {
                offset: range.first,
                len: range.size(),
            });
        }
        segments.push(Segment::Literal(
            format!("\r\n--{boundary}--\r\n").into_bytes(),
        ));
        let source = match self {
            Content::File(file) => Source::File(file),
            Content::Shared(bytes) => Source::Shared(bytes),
        };
        Body::Multipart { source, segments }
    }
}

/// If-Range (RFC 9110 §13.1.5): the Range applies only if the validator still matches: a strong
/// ETag compared strongly, or a date equal to Last-Modified. If-Range holds one validator;
/// several field lines of it do not match, and the whole representation is sent, which is
/// always a correct answer to a range request.
fn if_range_holds(request: &Request<'_, '_>, validators: &Validators<'_>) -> bool {
    let mut lines = request.header_lines("if-range");
    let Some(value) = lines.next() else {
        return true;
    };
    if lines.next().is_some() {
        return false;
    }
    let Ok(value) = std::str::from_utf8(value).map(str::trim) else {
        return false;
    };
    if value.starts_with('"') || value.starts_with("W/") {
        return conditional::matches_list(value, validators.etag, Comparison::Strong);
    }
    match (conditional::parse_date(value), validators.last_modified) {
        (Some(date), Some(modified)) => conditional::seconds(modified) == date,
        _ => false,
    }
}

/// A boundary no file is likely to contain: 128 random bits.
fn multipart_boundary() -> String {
    let state = RandomState::new();
    format!("{:016x}{:016x}", state.hash_one(1u8), state.hash_one(2u8))
}
