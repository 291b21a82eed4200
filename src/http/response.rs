//! The response value that the file pipeline builds and the connection sends.

use std::borrow::Cow;
use std::fs::File;
use std::sync::Arc;

use crate::http::Status;

/// A header value: usually a static string or one built for this response.
pub type HeaderValue = Cow<'static, str>;

#[derive(Debug)]
pub struct Response {
    pub status: Status,
    /// Fields other than the ones the connection adds itself (Date, Server, Content-Length,
    /// Connection).
    pub headers: Vec<(&'static str, HeaderValue)>,
    pub body: Body,
    /// The server wants the connection closed after this response (e.g. after a framing error),
    /// whatever the client asked for.
    pub close: bool,
    /// The head already encoded but for Date and Connection (see
    /// `encode::write_head_prefix`), written instead of `status` and `headers`, which it must
    /// agree with: the response cache builds it once per entry.
    pub head_prefix: Option<Arc<[u8]>>,
    /// The version of the file the body comes from, for the response cache to revalidate.
    pub version: Option<crate::fs::etag::Version>,
}

#[derive(Debug)]
pub enum Body {
    Empty,
    Static(&'static [u8]),
    Bytes(Vec<u8>),
    /// `len` bytes of `file` from `offset`, sent inline if small or with sendfile if not.
    File {
        file: File,
        offset: u64,
        len: u64,
    },
    /// A slice of bytes shared with a cache (compressed representations).
    Shared {
        bytes: Arc<[u8]>,
        offset: usize,
        len: usize,
    },
    /// A multipart/byteranges body: literal part headers between ranges of one source.
    Multipart {
        source: Source,
        segments: Vec<Segment>,
    },
}

/// Where the ranges of a multipart body come from.
#[derive(Debug)]
pub enum Source {
    File(File),
    Shared(Arc<[u8]>),
}

#[derive(Debug)]
pub enum Segment {
    Literal(Vec<u8>),
    Range { offset: u64, len: u64 },
}

impl Body {
    pub fn len(&self) -> u64 {
        match self {
            Body::Empty => 0,
            Body::Static(bytes) => bytes.len() as u64,
            Body::Bytes(bytes) => bytes.len() as u64,
            Body::File { len, .. } => *len,
            Body::Shared { len, .. } => *len as u64,
            Body::Multipart { segments, .. } => segments
                .iter()
                .map(|segment| match segment {
                    Segment::Literal(bytes) => bytes.len() as u64,
                    Segment::Range { len, .. } => *len,
                })
                .sum(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Response {
    pub fn new(status: Status, body: Body) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body,
            close: false,
            head_prefix: None,
            version: None,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<HeaderValue>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// The value of a header this response already has.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_ref())
    }

    /// A small HTML page naming the status, as every error response carries.
    pub fn error(status: Status) -> Response {
        let page = format!(
            "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{code} {reason}</title></head>\n\
             <body><h1>{code} {reason}</h1><hr><p>forkhttpd</p></body></html>\n",
            code = status.code(),
            reason = status.reason()
        );
        Response::new(status, Body::Bytes(page.into_bytes()))
            .with_header("Content-Type", "text/html; charset=utf-8")
    }

    /// An error after which the connection is closed.
    pub fn fatal(status: Status) -> Response {
        Response {
            close: true,
            ..Response::error(status)
        }
    }
}
