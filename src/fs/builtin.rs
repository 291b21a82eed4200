//! The welcome site compiled into the binary, served when no folder is given: the `fs`
//! pipeline's answer for `Root::Builtin`, after the path is resolved.

use crate::fs::path::Resolved;
use crate::http::{Body, Response, Status};

const INDEX: &[u8] = include_bytes!("../../site/index.html");
const NOT_FOUND: &[u8] = include_bytes!("../../site/404.html");
/// Browsers ask for `/favicon.ico` on a first visit whatever the page says; a 404 there is an
/// error in every browser console and every access log.
const FAVICON: &[u8] = include_bytes!("../../site/favicon.ico");
const HTML: &str = "text/html; charset=utf-8";

/// `/` and `/index.html` are the welcome page, `/favicon.ico` its icon; everything else is the
/// built-in 404 page.
pub(crate) fn serve(resolved: &Resolved) -> Response {
    let file = match resolved.segments.as_slice() {
        [] => Some((INDEX, HTML)),
        [name] if !resolved.trailing_slash => match name.as_slice() {
            b"index.html" => Some((INDEX, HTML)),
            b"favicon.ico" => Some((FAVICON, "image/vnd.microsoft.icon")),
            _ => None,
        },
        _ => None,
    };
    match file {
        Some((body, content_type)) => {
            Response::new(Status::OK, Body::Static(body)).with_header("Content-Type", content_type)
        }
        None => not_found(),
    }
}

/// The built-in 404 page, also used for sites whose folder has no `404.html`.
pub(crate) fn not_found() -> Response {
    Response::new(Status::NOT_FOUND, Body::Static(NOT_FOUND)).with_header("Content-Type", HTML)
}
