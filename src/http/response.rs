//! The response value that the file pipeline builds and a connection sends: status, fields and
//! body, and nothing about how it travels. HTTP/1.1's encoding of it is `encode.rs`; whether the
//! connection stays open is the connection's decision; what the response cache keeps is the
//! cache's.

use std::borrow::Cow;
use std::fs::File;
use std::rc::Rc;

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
        bytes: Rc<[u8]>,
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
    Shared(Rc<[u8]>),
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
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<HeaderValue>) -> Response {
        self.headers.push((name, value.into()));
        self
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
}
