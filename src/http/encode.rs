//! A response head as bytes: status line, fields, blank line (RFC 9112 §4, §5).

use std::io::Write;

use crate::http::date;
use crate::http::response::Response;

/// The server's name in the `Server` field.
pub const SERVER: &str = concat!("forkhttpd/", env!("CARGO_PKG_VERSION"));

/// What the `Connection` field must say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Persistence {
    /// HTTP/1.1 and staying open: no field needed.
    KeepAlive,
    /// HTTP/1.0 and staying open: must be said, 1.0 closes by default.
    KeepAlive10,
    Close,
}

/// Appends the head of `response` to `out`.
pub fn write_head(out: &mut Vec<u8>, response: &Response, persistence: Persistence) {
    write_head_prefix(out, response);
    write_head_end(out, persistence);
}

/// Ends a head begun by [`write_head_prefix`], now or from a cache: Date, Connection and the
/// blank line, the only parts that change from one request to the next. Field order carries no
/// meaning (RFC 9110 §5.3), so they go last.
pub fn write_head_end(out: &mut Vec<u8>, persistence: Persistence) {
    date::with_now(|now| {
        out.extend_from_slice(b"Date: ");
        out.extend_from_slice(now.as_bytes());
        out.extend_from_slice(b"\r\n");
    });
    match persistence {
        Persistence::KeepAlive => {}
        Persistence::KeepAlive10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        Persistence::Close => out.extend_from_slice(b"Connection: close\r\n"),
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends the status line and every field that does not change from one request to the next:
/// all but Date and Connection.
pub fn write_head_prefix(out: &mut Vec<u8>, response: &Response) {
    let status = response.status;
    // Writing to a Vec cannot fail.
    let _ = write!(out, "HTTP/1.1 {} {}\r\n", status.code(), status.reason());
    out.extend_from_slice(b"Server: ");
    out.extend_from_slice(SERVER.as_bytes());
    out.extend_from_slice(b"\r\n");
    write_fields(out, &response.headers);
    if status.allows_body() {
        let _ = write!(out, "Content-Length: {}\r\n", response.body.len());
    }
}

/// Appends `Name: value\r\n` for each field.
pub fn write_fields(
    out: &mut Vec<u8>,
    fields: &[(&'static str, crate::http::response::HeaderValue)],
) {
    for (name, value) in fields {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
}

/// The fields of a response for HTTP/2, whose HPACK encodes each field itself: `Server`, the
/// response's own fields, and `Content-Length` where a body is allowed; not `Date` (added per
/// response) and never the connection's own fields, which HTTP/2 forbids (RFC 9113 §8.2.2).
/// A field that is not valid as a header value is left out (the file pipeline makes none).
pub fn http2_fields(
    status: crate::http::Status,
    headers: &[(&'static str, crate::http::response::HeaderValue)],
    body_len: u64,
) -> ::http::HeaderMap {
    let mut fields = ::http::HeaderMap::with_capacity(headers.len() + 3);
    fields.insert(
        ::http::header::SERVER,
        ::http::HeaderValue::from_static(SERVER),
    );
    for (name, value) in headers {
        let name = ::http::HeaderName::from_bytes(name.as_bytes());
        let value = ::http::HeaderValue::from_str(value);
        if let (Ok(name), Ok(value)) = (name, value) {
            fields.append(name, value);
        }
    }
    if status.allows_body() {
        fields.insert(::http::header::CONTENT_LENGTH, body_len.into());
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Body, Status};

    #[test]
    fn head_has_required_fields_in_order() {
        let response = Response::new(Status::OK, Body::Static(b"hello"))
            .with_header("Content-Type", "text/plain");
        let mut out = Vec::new();
        write_head(&mut out, &response, Persistence::Close);
        let text = String::from_utf8(out).unwrap();
        assert!(text.starts_with("HTTP/1.1 200 OK\r\nServer: forkhttpd/"));
        assert!(text.contains("\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"));
        assert!(text.contains("\r\nDate: "));
        assert!(text.ends_with("Connection: close\r\n\r\n"));
    }

    #[test]
    fn not_modified_has_no_content_length() {
        let response = Response::new(Status::NOT_MODIFIED, Body::Empty);
        let mut out = Vec::new();
        write_head(&mut out, &response, Persistence::KeepAlive);
        assert!(!String::from_utf8(out).unwrap().contains("Content-Length"));
    }
}
