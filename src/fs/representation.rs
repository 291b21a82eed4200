//! Step 7 of the file pipeline: which representation of a file to send, and where its bytes
//! are. A precompressed sibling (`app.js.br`) the client accepts comes first, then a copy
//! compressed on the fly (`--compress`, `compress.rs`), then the file itself; each with its own
//! validators (`etag.rs`).

use std::borrow::Cow;
use std::fs::{File, Metadata};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::rc::Rc;
use std::time::SystemTime;

use crate::http::Body;
use crate::http::response::{HeaderValue, Segment, Source};

use super::Site;
use super::conditional::Validators;
use super::encoding::{Accepted, Coding};
use super::open::{Opened, RootDir};
use super::range::ByteRange;
use super::version::Version;
use crate::limits::CACHED_BODY_MAX;

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
            if let Ok(encoded) = self.look_up(root, &sibling)
                && encoded.meta.is_file()
            {
                return self.file_representation(coding, encoded);
            }
            if self.options.compress
                && compressible
                && let Some(compressed) =
                    self.compressed
                        .get(&opened.file, &opened.meta, coding, opened.read_at)
            {
                let version = Version::of(&opened.meta);
                return Representation {
                    coding,
                    version,
                    racy: version.is_racy_at(opened.read_at),
                    etag: Some(compressed.etag.clone()),
                    last_modified: opened.meta.modified().ok(),
                    changed: changed(&opened.meta),
                    len: compressed.bytes.len() as u64,
                    content: Content::Shared(compressed.bytes.clone()),
                };
            }
        }
        self.file_representation(Coding::Identity, opened)
    }

    /// A file as it is on disk, in `coding`. A file small enough for the response cache is read
    /// into memory here and stat'ed again, so the body, its length and its ETag all come from
    /// one version: a file that changes between the stat and the read is read again. Larger
    /// files are sent from the file; their ETag is the hash of this version, checked the same way
    /// when it was made (`etag.rs`), and a file that shrinks while it is sent closes the
    /// connection (or resets the stream) before a byte of another length goes out.
    fn file_representation(&self, coding: Coding, opened: Opened) -> Representation {
        let Opened {
            file,
            mut meta,
            mut read_at,
        } = opened;
        if meta.len() > 0 && meta.len() <= CACHED_BODY_MAX {
            for _ in 0..READ_ATTEMPTS {
                match read_version(&file, &meta) {
                    Ok(bytes) => {
                        let version = Version::of(&meta);
                        let racy = version.is_racy_at(read_at);
                        return Representation {
                            coding,
                            version,
                            racy,
                            etag: Some(self.etags.of_bytes(version, &bytes, racy)),
                            last_modified: meta.modified().ok(),
                            changed: changed(&meta),
                            len: bytes.len() as u64,
                            content: Content::Shared(bytes.into()),
                        };
                    }
                    Err(Reread::Moved(now)) => {
                        read_at = super::version::now();
                        meta = *now;
                        if meta.len() == 0 || meta.len() > CACHED_BODY_MAX {
                            break;
                        }
                    }
                    Err(Reread::Failed) => break,
                }
            }
        }
        let version = Version::of(&meta);
        let racy = version.is_racy_at(read_at);
        Representation {
            coding,
            version,
            racy,
            etag: self.etags.get(&file, &meta, read_at),
            last_modified: meta.modified().ok(),
            changed: changed(&meta),
            len: meta.len(),
            content: Content::File(file),
        }
    }
}

/// Reads of a changing small file before it is sent from the file instead (where a change that
/// shrinks it closes the connection rather than sending another version's bytes).
const READ_ATTEMPTS: usize = 3;

/// Why a small file's bytes could not be taken as one version.
enum Reread {
    /// It changed while it was read; this is its metadata now.
    Moved(Box<Metadata>),
    Failed,
}

/// The whole of `file`, which `meta` describes, if it is still that version once read.
fn read_version(file: &File, meta: &Metadata) -> Result<Vec<u8>, Reread> {
    let mut bytes = vec![0u8; meta.len() as usize];
    let read = file.read_exact_at(&mut bytes, 0);
    let now = file.metadata().map_err(|_| Reread::Failed)?;
    if Version::of(&now) != Version::of(meta) {
        return Err(Reread::Moved(Box::new(now)));
    }
    match read {
        Ok(()) => Ok(bytes),
        // The same version, yet shorter than its size: a file system that lies; send from the
        // file, which closes the connection when it comes up short.
        Err(_) => Err(Reread::Failed),
    }
}

/// The file's ctime, which If-Range's date form is checked against too (`conditional.rs`).
fn changed(meta: &Metadata) -> Option<SystemTime> {
    let seconds = u64::try_from(meta.ctime()).ok()?;
    let since = std::time::Duration::new(seconds, meta.ctime_nsec().clamp(0, 999_999_999) as u32);
    SystemTime::UNIX_EPOCH.checked_add(since)
}

/// The representation chosen for a file request.
pub(super) struct Representation {
    pub(super) coding: Coding,
    /// The version of the file the bytes come from (the original, for a compressed copy).
    pub(super) version: Version,
    /// Read too close to a change to be kept (`version.rs`): served, never cached.
    pub(super) racy: bool,
    /// Known once hashed; see `etag.rs`.
    pub(super) etag: Option<Rc<str>>,
    pub(super) last_modified: Option<SystemTime>,
    /// The file's ctime: a date in If-Range only holds if nothing changed the file since.
    pub(super) changed: Option<SystemTime>,
    pub(super) len: u64,
    pub(super) content: Content,
}

impl Representation {
    pub(super) fn validators(&self) -> Validators<'_> {
        Validators {
            etag: self.etag.as_deref(),
            last_modified: self.last_modified,
            changed: self.changed,
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
