//! Step 7 of the file pipeline: which representation of a file to send, and where its bytes
//! are. A precompressed sibling (`app.js.br`) the client accepts comes first, then a copy
//! compressed on the fly (`--compress`, `compress.rs`), then the file itself; each with its own
//! validators (`etag.rs`).

use std::borrow::Cow;
use std::rc::Rc;
use std::time::SystemTime;

use crate::http::Body;
use crate::http::response::{HeaderValue, Segment, Source};

use super::Site;
use super::conditional::Validators;
use super::encoding::{Accepted, Coding};
use super::etag::Version;
use super::open::{Opened, RootDir};
use super::range::ByteRange;

impl Site {
    /// The best representation the client accepts: a precompressed sibling (`app.js.br`), a
    /// compressed copy (with `--compress`), or the file itself.
    pub(super) fn select_representation(
        &self,
        root: &RootDir,
        accepted: &Accepted,
        opened: Opened,
        relative: &[u8],
        compressible: bool,
    ) -> Representation {
        let (ranked, count) = accepted.ranked_array();
        for &coding in &ranked[..count] {
            if coding == Coding::Identity {
                break;
            }
            let sibling = [relative, coding.extension().as_bytes()].concat();
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
}

/// The representation chosen for a file request.
pub(super) struct Representation {
    pub(super) coding: Coding,
    /// The version of the file the bytes come from (the original, for a compressed copy).
    pub(super) version: Version,
    /// Known once hashed; see `etag.rs`.
    pub(super) etag: Option<Rc<str>>,
    pub(super) last_modified: Option<SystemTime>,
    pub(super) len: u64,
    pub(super) content: Content,
}

impl Representation {
    pub(super) fn validators(&self) -> Validators<'_> {
        Validators {
            etag: self.etag.as_deref(),
            last_modified: self.last_modified,
        }
    }

    /// The fields every answer about this representation carries, 304 included (RFC 9110
    /// §15.4.5): its validators, the site's Cache-Control, and Vary when another coding of
    /// the same file could have been chosen.
    pub(super) fn fields(
        &self,
        cache_control: Option<&str>,
        compressible: bool,
    ) -> Vec<(&'static str, HeaderValue)> {
        let mut fields: Vec<(&'static str, HeaderValue)> = Vec::with_capacity(8);
        if let Some(etag) = &self.etag {
            fields.push(("ETag", Cow::Owned(etag.to_string())));
        }
        if let Some(modified) = self.last_modified {
            fields.push((
                "Last-Modified",
                Cow::Owned(httpdate::fmt_http_date(modified)),
            ));
        }
        if let Some(cache_control) = cache_control {
            fields.push(("Cache-Control", Cow::Owned(cache_control.to_owned())));
        }
        if compressible || self.coding != Coding::Identity {
            fields.push(("Vary", Cow::Borrowed("Accept-Encoding")));
        }
        fields
    }
}

/// Where a representation's bytes are.
pub(super) enum Content {
    File(std::fs::File),
    Shared(Rc<[u8]>),
}

impl Content {
    pub(super) fn whole(self, len: u64) -> Body {
        // An empty file has no byte range; its body is simply empty.
        if len == 0 {
            return Body::Empty;
        }
        self.range(ByteRange {
            first: 0,
            last: len - 1,
        })
    }

    pub(super) fn range(self, range: ByteRange) -> Body {
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
    pub(super) fn multipart(
        self,
        ranges: &[ByteRange],
        boundary: &str,
        content_type: &str,
        len: u64,
    ) -> Body {
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
