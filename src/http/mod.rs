//! HTTP/1.1 syntax, with no I/O and no file system: bytes in, typed request heads out;
//! response heads in, bytes out (RFC 9110 semantics, RFC 9112 message syntax).
//!
//! - `parse`: one request head from the front of a buffer, validated strictly.
//! - `body`: request body framing (Content-Length or chunked) to read and discard bodies.
//! - `response`: the response value the rest of the server builds.
//! - `encode`: a response head as bytes.
//! - `date`: the `Date` header value, formatted once a second.
//! - `status`: status codes and reason phrases.
//! - `target`: the request target and Host checks, and the authority a request is for.

pub mod body;
pub(crate) mod date;
pub mod encode;
pub mod parse;
pub mod response;
pub mod status;
pub mod target;

pub use parse::{Method, ParseError, Request, Version};
pub use response::{Body, Response};
pub use status::Status;
