//! Steps 9 and 10 of the file pipeline: the part of the representation the request asks for
//! (RFC 9110 §14: the whole, one range, several as multipart/byteranges, or 416) and the
//! response that carries it.

use std::borrow::Cow;
use std::hash::{BuildHasher, RandomState};

use crate::http::response::HeaderValue;
use crate::http::{Method, Request, Response, Status};

use super::range::{self, ByteRange, Ranges};
use super::representation::Representation;

/// The response for `chosen`, whole or the ranges the request asks for. `fields` are the
/// representation's own; `range_applies` is whether If-Range holds (`conditional.rs`).
pub(super) fn respond(
    request: &Request<'_, '_>,
    chosen: Representation,
    content_type: Cow<'static, str>,
    mut fields: Vec<(&'static str, HeaderValue)>,
    range_applies: bool,
) -> Response {
    let len = chosen.len;
    // Ranges only for GET (RFC 9110 §14.2), and only while If-Range holds.
    let ranges = match request.header_str("range") {
        Some(range) if request.method == Method::Get && range_applies => {
            range::evaluate(range, len)
        }
        _ => Ranges::Whole,
    };
    let (status, content_type, body) = match ranges {
        Ranges::Whole => (Status::OK, content_type, chosen.content.whole(len)),
        Ranges::Unsatisfiable => {
            let mut response = Response::error(Status::RANGE_NOT_SATISFIABLE)
                .with_header("Content-Range", format!("bytes */{len}"));
            // The body is this error page, not the representation: it has no coding.
            let fields = fields.into_iter();
            response
                .headers
                .extend(fields.filter(|(name, _)| *name != "Content-Encoding"));
            return response;
        }
        Ranges::Partial(ranges) if ranges.len() == 1 => {
            let ByteRange { first, last } = ranges[0];
            fields.push((
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
    response.headers.extend(fields);
    response
}

/// A boundary no file is likely to contain: 128 random bits.
fn multipart_boundary() -> String {
    let state = RandomState::new();
    format!("{:016x}{:016x}", state.hash_one(1u8), state.hash_one(2u8))
}
