//! From a request target to a path relative to the site root (RFC 9112 §3.2, RFC 3986 §5.2.4).
//!
//! The path is percent-decoded exactly once, segment by segment, so an encoded `/` can never
//! create a new segment and an encoded `..` is treated like a plain one: it removes the segment
//! before it and is refused if there is none. Nothing here touches the file system; `open.rs`
//! then opens the result with the kernel confining it beneath the root.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, percent_encode};

use crate::http::Status;
use crate::http::target::is_pct_encoded;

/// The parts of a request target a static server uses.
#[derive(Debug, PartialEq, Eq)]
pub struct Target<'a> {
    /// The path, still percent-encoded, starting with `/`.
    pub path: &'a str,
    /// The query without its `?`, as sent.
    pub query: Option<&'a str>,
}

/// Splits an origin-form (`/a?b`) or absolute-form (`http://host/a?b`) target. The authority of
/// an absolute-form target was checked while parsing (`http::target`) and is what
/// `Request::authority` returns; here it is only skipped.
///
/// A `#` anywhere is 400: a request target has no fragment (RFC 9112 §3.2). `httparse`
/// accepts one, and a proxy in front of us may cut the target at it or pass it on whole, so
/// serving either reading could serve another file than the one the proxy checked.
pub fn split_target(target: &str) -> Result<Target<'_>, Status> {
    let after_authority = if target.starts_with('/') {
        target
    } else {
        let rest = strip_prefix_ignore_case(target, "http://")
            .or_else(|| strip_prefix_ignore_case(target, "https://"))
            .ok_or(Status::BAD_REQUEST)?;
        let path_start = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        &rest[path_start..]
    };
    // One scan finds where the path ends; the query, rarely there, gets its own.
    let (path, query) = match after_authority.find(['?', '#']) {
        None => (after_authority, None),
        Some(end) if after_authority.as_bytes()[end] == b'#' => return Err(Status::BAD_REQUEST),
        Some(end) => {
            let query = &after_authority[end + 1..];
            if query.contains('#') {
                return Err(Status::BAD_REQUEST);
            }
            (&after_authority[..end], Some(query))
        }
    };
    let path = if path.is_empty() { "/" } else { path };
    if !path.starts_with('/') {
        return Err(Status::BAD_REQUEST);
    }
    Ok(Target { path, query })
}

fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

/// A request path after decoding and dot-segment removal.
#[derive(Debug, PartialEq, Eq)]
pub struct Resolved {
    /// Decoded segments, none empty, none `.` or `..`, none holding `/`, `\` or NUL.
    pub segments: Vec<Vec<u8>>,
    /// The path named a directory: it ended in `/` (or in a dot segment), or it is the root.
    pub trailing_slash: bool,
    /// The path held `.` or `..` segments: it is not the directory's own URL, and relative
    /// links on a page served at it would resolve somewhere else.
    pub dot_segments: bool,
}

impl Resolved {
    /// The path relative to the root, as bytes: `a/b/c`, or empty for the root itself.
    pub fn relative(&self) -> Vec<u8> {
        self.segments.join(&b'/')
    }

    /// The path of `name` inside this directory, relative to the root: `a/b/name`, or `name`
    /// in the root.
    pub fn child(&self, name: &[u8]) -> Vec<u8> {
        let mut path = self.relative();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(name);
        path
    }

    /// The path as site rules see it: `/`, the decoded segments joined by `/`, and a final
    /// `/` for a directory's URL.
    pub fn decoded(&self) -> Vec<u8> {
        let mut path = vec![b'/'];
        path.extend_from_slice(&self.relative());
        if self.trailing_slash && !self.segments.is_empty() {
            path.push(b'/');
        }
        path
    }

    /// A dotfile or dot-directory is somewhere on the path. `.well-known` (RFC 8615) is not
    /// counted: it holds ACME challenges and other files meant to be public.
    pub fn is_hidden(&self) -> bool {
        self.segments.iter().enumerate().any(|(i, segment)| {
            segment.first() == Some(&b'.') && !(i == 0 && segment == b".well-known")
        })
    }

    /// The path percent-encoded again, with a leading `/`; safe to put in a `Location` field.
    pub fn encoded(&self) -> String {
        let mut path = String::from("/");
        for (i, segment) in self.segments.iter().enumerate() {
            if i > 0 {
                path.push('/');
            }
            path.extend(percent_encode(segment, PATH_SEGMENT));
        }
        path
    }
}

/// Bytes that must be percent-encoded inside a path segment of a URL we send out.
pub const PATH_SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Decodes and normalises a path from `split_target`.
///
/// Refused with 400: a `%` not followed by two hex digits (RFC 3986 §2.1; serving it as a
/// literal `%`, as the decoder would, is a guess a proxy need not share), a segment that
/// decodes to something holding `/`, `\` or NUL, and any `..` that would climb above the root.
///
/// The query is not checked: a static server does not read it (nginx and Caddy ignore it too),
/// browsers send a stray `%` in a query as it is (the WHATWG URL parser does not encode it),
/// and refusing those would turn real links away. Code that reads the query (the listing's
/// `?sort=`) compares it with fixed values and never decodes it.
pub fn resolve(path: &str) -> Result<Resolved, Status> {
    let mut segments: Vec<Vec<u8>> = Vec::new();
    let mut ends_in_directory = true;
    let mut dot_segments = false;
    for raw in path.split('/').skip(1) {
        let bytes = raw.as_bytes();
        if !memchr::memchr_iter(b'%', bytes).all(|at| is_pct_encoded(&bytes[at..])) {
            return Err(Status::BAD_REQUEST);
        }
        let decoded: Cow<'_, [u8]> = percent_decode_str(raw).into();
        ends_in_directory = true;
        match decoded.as_ref() {
            b"" => {}
            b"." => dot_segments = true,
            b".." => {
                dot_segments = true;
                segments.pop().ok_or(Status::BAD_REQUEST)?;
            }
            bytes if bytes.iter().any(|&b| matches!(b, b'/' | b'\\' | 0)) => {
                return Err(Status::BAD_REQUEST);
            }
            bytes => {
                segments.push(bytes.to_vec());
                ends_in_directory = false;
            }
        }
    }
    Ok(Resolved {
        trailing_slash: ends_in_directory,
        dot_segments,
        segments,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative(path: &str) -> Result<String, Status> {
        resolve(path).map(|r| String::from_utf8_lossy(&r.relative()).into_owned())
    }

    #[test]
    fn targets() {
        assert_eq!(
            split_target("/a?b=c"),
            Ok(Target {
                path: "/a",
                query: Some("b=c")
            })
        );
        assert_eq!(
            split_target("HTTP://example.com"),
            Ok(Target {
                path: "/",
                query: None
            })
        );
        assert_eq!(
            split_target("http://example.com/x/y?z"),
            Ok(Target {
                path: "/x/y",
                query: Some("z")
            })
        );
        assert_eq!(split_target("*"), Err(Status::BAD_REQUEST));
        assert_eq!(split_target("ftp://x/y"), Err(Status::BAD_REQUEST));
        assert_eq!(split_target("example.com:80"), Err(Status::BAD_REQUEST));
        for fragment in ["/a#b", "/#", "/a?b#c", "http://a/b#c", "http://a#c"] {
            assert_eq!(
                split_target(fragment),
                Err(Status::BAD_REQUEST),
                "{fragment}"
            );
        }
        assert_eq!(
            split_target("/a?b%zz"),
            Ok(Target {
                path: "/a",
                query: Some("b%zz")
            })
        );
    }

    #[test]
    fn normalises_dots_and_slashes() {
        assert_eq!(relative("/"), Ok(String::new()));
        assert_eq!(relative("/a//b/./c"), Ok("a/b/c".into()));
        assert_eq!(relative("/a/b/../c"), Ok("a/c".into()));
        assert_eq!(relative("/a/%2e%2E/c"), Ok("c".into()));
        assert_eq!(relative("/%41%20b"), Ok("A b".into()));
        assert_eq!(relative("/%252e%252e/x"), Ok("%2e%2e/x".into()));
    }

    #[test]
    fn refuses_escapes() {
        for path in [
            "/..",
            "/../x",
            "/a/../../x",
            "/%2e%2e/x",
            "/a%2f..%2f..%2fx",
            "/a%5cb",
            "/a%00",
            "/%zz",
            "/a%",
            "/a%4",
            "/a%4/b",
            "/%%41",
            "/%u002e",
        ] {
            assert_eq!(relative(path), Err(Status::BAD_REQUEST), "{path}");
        }
    }

    #[test]
    fn children_join_with_one_slash() {
        assert_eq!(resolve("/").unwrap().child(b"index.html"), b"index.html");
        assert_eq!(resolve("/a/b/").unwrap().child(b"c"), b"a/b/c");
    }

    #[test]
    fn trailing_slash_and_hidden() {
        assert!(resolve("/a/").unwrap().trailing_slash);
        assert!(resolve("/a/.").unwrap().trailing_slash);
        assert!(!resolve("/a").unwrap().trailing_slash);
        assert!(resolve("/.git/config").unwrap().is_hidden());
        assert!(resolve("/a/.env").unwrap().is_hidden());
        assert!(!resolve("/.well-known/x").unwrap().is_hidden());
    }

    #[test]
    fn encoded_location_is_never_protocol_relative() {
        let resolved = resolve("/%2F%2Fevil.com").unwrap_err();
        assert_eq!(resolved, Status::BAD_REQUEST);
        let resolved = resolve("//evil.com/x").unwrap();
        assert_eq!(resolved.encoded(), "/evil.com/x");
        assert_eq!(resolve("/a b/%3F").unwrap().encoded(), "/a%20b/%3F");
    }
}
