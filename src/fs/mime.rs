//! Content-Type from a file name: the `fs` pipeline's representation step asks here once per
//! file (the response cache keeps the answer for small files).
//!
//! The files a website is made of are looked up in our own table, which follows the IANA media
//! type registry and, where browsers depend on it, the WHATWG (`.js` and `.mjs` are
//! `text/javascript` by RFC 9239 and the HTML standard). mime_guess's table answers for every
//! other extension; its entries for web files lag the registry (`.mjs`
//! `application/javascript`, `.woff` `application/font-woff`, `.m4a` `audio/m4a`, `.map`
//! `text/plain`), which is why the web files come first.

use std::borrow::Cow;

/// Unknown types are sent as bytes for the client to save, never sniffed (we also send
/// `X-Content-Type-Options: nosniff`).
pub(crate) const FALLBACK: &str = "application/octet-stream";

/// Web files by extension (lower case), sorted for binary search. Text types carry
/// `charset=utf-8`: without it old clients read them as US-ASCII or ISO-8859-1, and sites today
/// are written in UTF-8. XML types carry none: their own encoding declaration must win
/// (RFC 7303 §3).
const WEB_TYPES: &[(&str, &str)] = &[
    ("aac", "audio/aac"),
    ("apng", "image/apng"),
    ("atom", "application/atom+xml"),
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("eot", "application/vnd.ms-fontobject"),
    ("epub", "application/epub+zip"),
    ("flac", "audio/flac"),
    ("gif", "image/gif"),
    ("glb", "model/gltf-binary"),
    ("gltf", "model/gltf+json"),
    ("gz", "application/gzip"),
    ("htm", "text/html; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("ico", "image/vnd.microsoft.icon"),
    ("ics", "text/calendar; charset=utf-8"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("jsonld", "application/ld+json"),
    ("jxl", "image/jxl"),
    ("m4a", "audio/mp4"),
    ("m4v", "video/mp4"),
    ("map", "application/json"),
    ("md", "text/markdown; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("opus", "audio/ogg"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("rss", "application/rss+xml"),
    ("svg", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain; charset=utf-8"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml"),
    ("xml", "application/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
    ("zst", "application/zstd"),
];

/// A site's table of types: what `content_type` answers, with the site's own additions.
#[derive(Clone, Debug, Default)]
pub struct Types {}

impl Types {
    /// The Content-Type this site sends for a file named `name`.
    pub(crate) fn content_type(&self, name: &[u8]) -> Cow<'static, str> {
        content_type(name)
    }
}

/// The Content-Type for a file named `name`.
pub(crate) fn content_type(name: &[u8]) -> Cow<'static, str> {
    let extension = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => return Cow::Borrowed(FALLBACK),
    };
    let Ok(extension) = std::str::from_utf8(extension) else {
        return Cow::Borrowed(FALLBACK);
    };
    if let Some(known) = web_type(extension) {
        return Cow::Borrowed(known);
    }
    match mime_guess::from_ext(extension).first_raw() {
        Some(mime) if mime.starts_with("text/") => Cow::Owned(format!("{mime}; charset=utf-8")),
        Some(mime) => Cow::Borrowed(mime),
        None => Cow::Borrowed(FALLBACK),
    }
}

fn web_type(extension: &str) -> Option<&'static str> {
    // Extensions in the table are at most 11 bytes; longer ones cannot match.
    let mut lower = [0u8; 12];
    let lower = lower.get_mut(..extension.len())?;
    lower.copy_from_slice(extension.as_bytes());
    lower.make_ascii_lowercase();
    WEB_TYPES
        .binary_search_by(|(ext, _)| ext.as_bytes().cmp(lower))
        .ok()
        .map(|i| WEB_TYPES[i].1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_and_lower_case() {
        for pair in WEB_TYPES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (ext, _) in WEB_TYPES {
            assert_eq!(*ext, ext.to_ascii_lowercase());
            assert!(ext.len() < 12);
        }
    }

    /// The common extensions of the web, checked against the IANA registry (and nginx's
    /// `mime.types` where it agrees with it; where not, the registry is named).
    #[test]
    fn common_web_extensions() {
        let expected = [
            ("index.html", "text/html; charset=utf-8"),
            ("old.htm", "text/html; charset=utf-8"),
            ("page.xhtml", "application/xhtml+xml"),
            ("site.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("module.mjs", "text/javascript; charset=utf-8"), // RFC 9239
            ("legacy.cjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json"),
            ("app.js.map", "application/json"), // source maps are JSON
            ("ld.jsonld", "application/ld+json"),
            ("site.webmanifest", "application/manifest+json"),
            ("feed.xml", "application/xml"), // RFC 7303; nginx: text/xml
            ("feed.atom", "application/atom+xml"),
            ("feed.rss", "application/rss+xml"),
            ("readme.txt", "text/plain; charset=utf-8"),
            ("table.csv", "text/csv; charset=utf-8"),
            ("notes.md", "text/markdown; charset=utf-8"), // RFC 7763
            ("subs.vtt", "text/vtt; charset=utf-8"),
            ("cal.ics", "text/calendar; charset=utf-8"),
            ("conf.yaml", "application/yaml"), // RFC 9512
            ("conf.yml", "application/yaml"),
            ("logo.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("a.PNG", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.jpeg", "image/jpeg"),
            ("a.gif", "image/gif"),
            ("a.webp", "image/webp"),
            ("a.avif", "image/avif"),
            ("a.apng", "image/apng"),
            ("a.jxl", "image/jxl"),
            ("favicon.ico", "image/vnd.microsoft.icon"), // nginx: image/x-icon
            ("a.bmp", "image/bmp"),
            ("a.tiff", "image/tiff"),
            ("a.tif", "image/tiff"),
            ("f.woff", "font/woff"),   // RFC 8081; nginx: font/woff
            ("f.woff2", "font/woff2"), // RFC 8081
            ("f.ttf", "font/ttf"),
            ("f.otf", "font/otf"),
            ("f.eot", "application/vnd.ms-fontobject"),
            ("v.mp4", "video/mp4"),
            ("v.m4v", "video/mp4"), // nginx: video/x-m4v, unregistered
            ("v.webm", "video/webm"),
            ("v.ogv", "video/ogg"),
            ("v.mov", "video/quicktime"),
            ("s.mp3", "audio/mpeg"),
            ("s.m4a", "audio/mp4"), // RFC 4337; nginx: audio/x-m4a
            ("s.aac", "audio/aac"),
            ("s.ogg", "audio/ogg"),
            ("s.oga", "audio/ogg"),
            ("s.opus", "audio/ogg"), // RFC 7845
            ("s.flac", "audio/flac"),
            ("s.wav", "audio/wav"),
            ("m.wasm", "application/wasm"),
            ("doc.pdf", "application/pdf"),
            ("a.zip", "application/zip"),
            ("a.gz", "application/gzip"),  // RFC 6713
            ("a.zst", "application/zstd"), // RFC 8878
            ("a.tar", "application/x-tar"),
            ("book.epub", "application/epub+zip"),
            ("m.glb", "model/gltf-binary"),
            ("m.gltf", "model/gltf+json"),
            ("a.7z", "application/x-7z-compressed"),
            (
                "a.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
        ];
        assert!(expected.len() >= 60);
        for (name, mime) in expected {
            assert_eq!(content_type(name.as_bytes()), mime, "{name}");
        }
    }

    #[test]
    fn unknown_and_extensionless_names_are_bytes() {
        assert_eq!(content_type(b"archive.unknownext"), FALLBACK);
        assert_eq!(content_type(b"Makefile"), FALLBACK);
        assert_eq!(content_type(b".bashrc"), FALLBACK);
        assert_eq!(content_type(b"trailing."), FALLBACK);
        assert_eq!(content_type(b"x.averyveryverylongextension"), FALLBACK);
        assert_eq!(content_type(b"bad.\xff"), FALLBACK);
    }
}
