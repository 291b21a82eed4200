//! The welcome site compiled into the binary, served when no folder is given.

use crate::fs::path::Resolved;
use crate::http::{Body, Response, Status};

const INDEX: &[u8] = include_bytes!("../../site/index.html");
const NOT_FOUND: &[u8] = include_bytes!("../../site/404.html");
const HTML: &str = "text/html; charset=utf-8";

/// `/` and `/index.html` are the welcome page; everything else is the built-in 404 page.
pub fn serve(resolved: &Resolved) -> Response {
    let is_index = match resolved.segments.as_slice() {
        [] => true,
        [name] => name == b"index.html" && !resolved.trailing_slash,
        _ => false,
    };
    let (status, page) = if is_index {
        (Status::OK, INDEX)
    } else {
        (Status::NOT_FOUND, NOT_FOUND)
    };
    Response::new(status, Body::Static(page)).with_header("Content-Type", HTML)
}

/// The built-in 404 page, also used for sites whose folder has no `404.html`.
pub fn not_found() -> Response {
    Response::new(Status::NOT_FOUND, Body::Static(NOT_FOUND)).with_header("Content-Type", HTML)
}
