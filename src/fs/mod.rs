//! Static file serving: what a request for a path gets back.
//!
//! One pipeline, run top to bottom by [`Site::serve`]; a step that can answer early returns:
//!
//! 1. method: GET and HEAD go on; OPTIONS is answered; others get 405 or 501.
//! 2. target: origin-form or absolute-form, split from its query (`path::split_target`).
//! 3. path: percent-decoded once, dot segments removed, never above the root (`path::resolve`).
//! 4. hidden: dotfiles and dot-directories are 404 unless `--hidden`.
//! 5. open: one confined open and fstat (`open.rs`); errno to status (`error::file_error`).
//! 6. directory: 301 to the slash form, else its `index.html`, else a listing or 404.
//! 7. file: Content-Type (`mime.rs`), Last-Modified, and the body as an open file.

pub mod builtin;
pub mod listing;
pub mod mime;
pub mod open;
pub mod path;

use std::path::{Path, PathBuf};

use tracing::{Level, event};

use crate::error;
use crate::http::{Body, Method, Request, Response, Status};
use open::{Opened, RootDir};
use path::Resolved;

/// What the methods a static server allows are, for `Allow`.
pub const ALLOW: &str = "GET, HEAD, OPTIONS";

const INDEX_FILE: &str = "index.html";
const NOT_FOUND_FILE: &[u8] = b"404.html";

/// What a worker serves, and how.
#[derive(Debug)]
pub struct Site {
    root: Root,
    options: SiteOptions,
}

#[derive(Debug)]
enum Root {
    /// The welcome site compiled into the binary.
    Builtin,
    Dir(RootDir),
}

/// Per-site switches from the command line.
#[derive(Clone, Debug, Default)]
pub struct SiteOptions {
    /// Serve an HTML listing for directories without an index file.
    pub listing: bool,
    /// Serve dotfiles and dot-directories.
    pub hidden: bool,
}

impl Site {
    /// Opens the site; `None` is the built-in welcome site.
    pub fn open(root: Option<&Path>, options: SiteOptions) -> std::io::Result<Site> {
        let root = match root {
            None => Root::Builtin,
            Some(path) => Root::Dir(RootDir::open(path)?),
        };
        Ok(Site { root, options })
    }

    /// The canonical root folder, or `None` for the built-in site.
    pub fn root_path(&self) -> Option<PathBuf> {
        match &self.root {
            Root::Builtin => None,
            Root::Dir(dir) => Some(dir.path().to_owned()),
        }
    }

    /// Runs the pipeline for one request.
    pub fn serve(&self, request: &Request<'_, '_>) -> Response {
        // 1. method
        match request.method {
            Method::Get | Method::Head => {}
            Method::Options => {
                return Response::new(Status::NO_CONTENT, Body::Empty).with_header("Allow", ALLOW);
            }
            Method::NotAllowed => {
                return Response::error(Status::METHOD_NOT_ALLOWED).with_header("Allow", ALLOW);
            }
            Method::Unknown => return Response::error(Status::NOT_IMPLEMENTED),
        }
        // 2. target, 3. path
        let target = match path::split_target(request.target) {
            Ok(target) => target,
            Err(status) => return Response::error(status),
        };
        let resolved = match path::resolve(target.path) {
            Ok(resolved) => resolved,
            Err(status) => return Response::error(status),
        };
        // 4. hidden
        if resolved.is_hidden() && !self.options.hidden {
            return self.not_found();
        }
        let root = match &self.root {
            Root::Builtin => return builtin::serve(&resolved),
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
                return redirect_to_directory(&resolved, target.query);
            }
            return self.serve_directory(root, opened, &resolved);
        }
        if !opened.meta.is_file() || resolved.trailing_slash {
            return self.not_found();
        }
        // 7. file
        file_response(
            Status::OK,
            opened,
            resolved.segments.last().map_or(&[][..], |s| s),
        )
    }

    fn serve_directory(&self, root: &RootDir, dir: Opened, resolved: &Resolved) -> Response {
        let mut index = resolved.relative();
        if !index.is_empty() {
            index.push(b'/');
        }
        index.extend_from_slice(INDEX_FILE.as_bytes());
        match root.open_beneath(&index) {
            Ok(opened) if opened.meta.is_file() => {
                return file_response(Status::OK, opened, INDEX_FILE.as_bytes());
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
        match listing::render(root, &dir.file, resolved, self.options.hidden) {
            Ok(page) => Response::new(Status::OK, Body::Bytes(page.into_bytes()))
                .with_header("Content-Type", "text/html; charset=utf-8"),
            Err(e) => self.file_error(&e, resolved),
        }
    }

    fn file_error(&self, error: &std::io::Error, resolved: &Resolved) -> Response {
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
            Response::error(status)
        }
    }

    /// 404 with the site's own `404.html` if it has one, else the built-in page.
    pub fn not_found(&self) -> Response {
        if let Root::Dir(root) = &self.root
            && let Ok(opened) = root.open_beneath(NOT_FOUND_FILE)
            && opened.meta.is_file()
        {
            return file_response(Status::NOT_FOUND, opened, NOT_FOUND_FILE);
        }
        builtin::not_found()
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

fn file_response(status: Status, opened: Opened, name: &[u8]) -> Response {
    let len = opened.meta.len();
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
    response.with_header("X-Content-Type-Options", "nosniff")
}
