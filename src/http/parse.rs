//! One request head from the front of a byte buffer (RFC 9112 §2-§3, §6), validated strictly.
//!
//! `httparse` does the tokenizing; this module adds the rules it leaves to the caller: Host and
//! an absolute-form target's authority (`target.rs`), Content-Length and Transfer-Encoding
//! framing, connection persistence, and the limits. Anything ambiguous is rejected rather than
//! guessed at, because a guess that differs from a proxy's in front of us is how request
//! smuggling works (RFC 9112 §11.2).

use std::mem::MaybeUninit;

use httparse::Header;

use crate::http::target;

/// Why a request could not be read. Each kind maps to exactly one status in `error.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParseError {
    /// Syntax or framing the RFC forbids; the reason is for the debug log.
    Malformed(&'static str),
    /// The request line alone is longer than the head limit.
    RequestLineTooLong,
    /// The head is longer than the limit, or has too many fields.
    HeadTooLarge,
    /// An HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
    /// A transfer coding other than chunked.
    TransferCodingNotImplemented,
    /// A declared or actual body longer than the body limit.
    BodyTooLarge,
    /// An `Expect` value other than `100-continue`.
    ExpectationFailed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Options,
    /// Defined by RFC 9110 or RFC 5789, but not something a static server does.
    NotAllowed,
    /// Any other token: 501.
    Unknown,
}

impl Method {
    pub(crate) fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "OPTIONS" => Method::Options,
            "POST" | "PUT" | "DELETE" | "PATCH" | "CONNECT" | "TRACE" => Method::NotAllowed,
            _ => Method::Unknown,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
    /// Built by `conn::h2` from a stream's fields, never parsed here.
    Http2,
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Framing {
    None,
    Length(u64),
    Chunked,
}

/// Limits that apply while parsing a head.
#[derive(Clone, Copy, Debug)]
pub struct HeadLimits {
    pub max_head_bytes: usize,
    pub max_headers: usize,
    pub max_body_bytes: u64,
}

/// A parsed request head, borrowing the connection's buffer.
#[derive(Debug)]
pub struct Request<'b, 'h> {
    pub method: Method,
    pub target: &'b str,
    pub version: Version,
    pub headers: &'h [Header<'b>],
    pub framing: Framing,
    /// Whether the client wants the connection kept open after this exchange.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
}

impl<'b> Request<'b, '_> {
    /// The value of the single field `name`, or `None` if absent. When a field appears more
    /// than once, the first wins: use it only for fields that hold one value, and
    /// [`Request::header_lines`] for lists. The fields that matter for framing are checked for
    /// duplicates during parsing.
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value)
    }

    /// The value of `name` as text, if present and valid UTF-8.
    pub fn header_str(&self, name: &str) -> Option<&'b str> {
        self.header(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The value of every field line named `name` (given in lowercase), in order. RFC 9110 §5.3: several lines of a
    /// list field are one list, as if joined with commas, so a list must be read from all of
    /// them; a proxy may split one line in two or merge two in one.
    pub fn header_lines<'s>(&'s self, name: &'s str) -> HeaderLines<'b, 's> {
        HeaderLines {
            headers: self.headers.iter(),
            name,
        }
    }

    /// [`Request::header_lines`] as text; a line that is not valid UTF-8 is left out.
    pub fn header_lines_str<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'b str> + 's {
        self.header_lines(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
    }

    /// The authority the request is for: the absolute-form target's if it has one, else the
    /// `Host` field's (RFC 9112 §3.2.2: an origin server ignores Host when the target has an
    /// authority). `None` when neither names one (HTTP/1.0 without Host, or an empty Host).
    /// Both were checked to be `uri-host [ ":" port ]`. Choosing a site by name must use this,
    /// never the Host field alone, or a request could be served from another site than the one
    /// a proxy in front of us checked it against.
    ///
    /// Found again when asked for rather than kept from parsing: a request that never asks (all
    /// of them, until sites are chosen by name) pays nothing for it.
    pub fn authority(&self) -> Option<&'b str> {
        let target: &'b str = self.target;
        match target::absolute_authority(target) {
            Ok(Some(authority)) => Some(authority),
            _ => self.header_str("host").filter(|host| !host.is_empty()),
        }
    }
}

/// The values of every field line with one name: see [`Request::header_lines`].
pub struct HeaderLines<'b, 's> {
    headers: std::slice::Iter<'s, Header<'b>>,
    name: &'s str,
}

impl<'b> Iterator for HeaderLines<'b, '_> {
    type Item = &'b [u8];

    #[inline]
    fn next(&mut self) -> Option<&'b [u8]> {
        let name = self.name;
        // `name` is lowercase (debug-asserted), so only the field's side is folded: this loop
        // visits every field of the head, not just the first match as `header` does.
        debug_assert!(!name.bytes().any(|b| b.is_ascii_uppercase()));
        self.headers
            .find(|h| {
                h.name.len() == name.len()
                    && h.name
                        .bytes()
                        .zip(name.bytes())
                        .all(|(a, b)| a.to_ascii_lowercase() == b)
            })
            .map(|h| h.value)
    }
}

/// Storage for the header array, kept on the caller's stack.
pub type HeaderSlots<'b> = [MaybeUninit<Header<'b>>; crate::limits::MAX_HEADERS_CEILING];

pub fn header_slots<'b>() -> HeaderSlots<'b> {
    [const { MaybeUninit::uninit() }; crate::limits::MAX_HEADERS_CEILING]
}

/// Parses one request head from the front of `buf`.
///
/// `Ok(None)` means the head is not complete yet and more bytes are needed. On success returns
/// the request and the number of bytes its head took.
pub fn parse<'b, 'h>(
    buf: &'b [u8],
    slots: &'h mut HeaderSlots<'b>,
    limits: &HeadLimits,
) -> Result<Option<(Request<'b, 'h>, usize)>, ParseError> {
    let max_headers = limits.max_headers.min(slots.len());
    let mut raw = httparse::Request::new(&mut []);
    let status = httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut raw,
        buf,
        &mut slots[..max_headers],
    );
    let head_len = match status {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            check_partial_size(buf, limits)?;
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => return Err(ParseError::HeadTooLarge),
        Err(httparse::Error::Version) => return Err(version_error(buf)),
        Err(_) => {
            // A head that is already too long is reported as such even if it is also broken
            // further on: the size is what the client needs to fix.
            check_partial_size(buf, limits)?;
            return Err(ParseError::Malformed("invalid request syntax"));
        }
    };
    if head_len > limits.max_head_bytes {
        return Err(if request_line_len(buf) > limits.max_head_bytes {
            ParseError::RequestLineTooLong
        } else {
            ParseError::HeadTooLarge
        });
    }
    check_line_endings(&buf[..head_len])?;

    let method_token = raw.method.unwrap_or_default();
    let target = raw.path.unwrap_or_default();
    let version = if raw.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    // RFC 9112 §3.2.2: the authority of an absolute-form target decides, so it must be valid.
    target::absolute_authority(target).map_err(ParseError::Malformed)?;
    let headers: &'h [Header<'b>] = raw.headers;
    let fields = read_fields(headers, version, limits)?;

    let keep_alive = match version {
        Version::Http11 | Version::Http2 => !fields.connection_close,
        Version::Http10 => fields.connection_keep_alive && !fields.connection_close,
    };
    let request = Request {
        method: Method::from_token(method_token),
        target,
        version,
        headers,
        framing: fields.framing,
        keep_alive,
        expect_continue: fields.expect_continue,
    };
    Ok(Some((request, head_len)))
}

/// An incomplete head that already exceeds the limit will never become acceptable.
fn check_partial_size(buf: &[u8], limits: &HeadLimits) -> Result<(), ParseError> {
    if request_line_len(buf) > limits.max_head_bytes {
        return Err(ParseError::RequestLineTooLong);
    }
    if buf.len() > limits.max_head_bytes {
        return Err(ParseError::HeadTooLarge);
    }
    Ok(())
}

/// Length of the first line, or of the whole buffer if it has no line end yet.
fn request_line_len(buf: &[u8]) -> usize {
    buf.iter().position(|&b| b == b'\n').unwrap_or(buf.len())
}

/// `HTTP/2.0` or `HTTP/1.2` is a well-formed version we do not speak (505); anything else in
/// that place is a malformed request line (400).
fn version_error(buf: &[u8]) -> ParseError {
    let line = &buf[..request_line_len(buf)];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut parts = line.split(|&b| b == b' ');
    let (Some(_method), Some(_target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return ParseError::Malformed("invalid request line");
    };
    match version {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            ParseError::VersionNotSupported
        }
        _ => ParseError::Malformed("invalid HTTP version"),
    }
}

/// RFC 9112 §2.2 lets a recipient accept a bare LF as a line end; we do not, because a proxy
/// in front of us that reads it differently would see different requests than we do.
/// (`httparse` accepts one.) Only the line ends are visited: a browser's head is about 500
/// bytes but 12 lines, and a byte-by-byte loop here was the largest cost of parsing it.
fn check_line_endings(head: &[u8]) -> Result<(), ParseError> {
    for at in memchr::memchr_iter(b'\n', head) {
        if at == 0 || head[at - 1] != b'\r' {
            return Err(ParseError::Malformed("bare LF in request head"));
        }
    }
    Ok(())
}

/// What the header fields say about framing and persistence.
struct Fields {
    framing: Framing,
    connection_close: bool,
    connection_keep_alive: bool,
    expect_continue: bool,
}

fn read_fields(
    headers: &[Header<'_>],
    version: Version,
    limits: &HeadLimits,
) -> Result<Fields, ParseError> {
    let mut hosts = 0;
    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = TransferEncoding::default();
    let mut fields = Fields {
        framing: Framing::None,
        connection_close: false,
        connection_keep_alive: false,
        expect_continue: false,
    };

    // No value holds NUL, CR or LF: httparse refuses them (`malformed_inputs_are_rejected`
    // pins that), so they are not scanned for again here.
    for header in headers {
        let name = header.name;
        let value = header.value;
        if name.eq_ignore_ascii_case("host") {
            hosts += 1;
            // RFC 9112 §3.2: an invalid Host is 400 even when an absolute-form target makes
            // its value irrelevant.
            if !target::is_valid_host(value) {
                return Err(ParseError::Malformed("invalid Host"));
            }
        } else if name.eq_ignore_ascii_case("content-length") {
            // RFC 9110 §8.6 allows merging identical repeated values; rejecting them is
            // stricter and removes one more way for two parsers to disagree.
            if content_length.is_some() {
                return Err(ParseError::Malformed("repeated Content-Length"));
            }
            content_length = Some(parse_content_length(value)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding.add(value)?;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in list_tokens(value) {
                if token.eq_ignore_ascii_case(b"close") {
                    fields.connection_close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") {
                    fields.connection_keep_alive = true;
                }
            }
        } else if name.eq_ignore_ascii_case("expect") {
            if !trim(value).eq_ignore_ascii_case(b"100-continue") {
                return Err(ParseError::ExpectationFailed);
            }
            fields.expect_continue = true;
        }
    }

    match (version, hosts) {
        (Version::Http11, 0) => return Err(ParseError::Malformed("missing Host")),
        (_, n) if n > 1 => return Err(ParseError::Malformed("repeated Host")),
        _ => {}
    }

    fields.framing = match (content_length, transfer_encoding.seen) {
        (Some(_), true) => {
            return Err(ParseError::Malformed(
                "both Content-Length and Transfer-Encoding",
            ));
        }
        (Some(0), false) | (None, false) => Framing::None,
        (Some(length), false) => {
            if length > limits.max_body_bytes {
                return Err(ParseError::BodyTooLarge);
            }
            Framing::Length(length)
        }
        (None, true) => {
            // RFC 9112 §6.1: HTTP/1.0 has no chunked coding, so a 1.0 message with
            // Transfer-Encoding has faulty framing.
            if version == Version::Http10 {
                return Err(ParseError::Malformed("Transfer-Encoding in HTTP/1.0"));
            }
            transfer_encoding.framing()?
        }
    };
    Ok(fields)
}

/// Content-Length = 1*DIGIT (RFC 9110 §8.6): no sign, no spaces inside, no list, no hex.
fn parse_content_length(value: &[u8]) -> Result<u64, ParseError> {
    let digits = trim(value);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::Malformed("invalid Content-Length"));
    }
    digits.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)
            .and_then(|acc| acc.checked_add(u64::from(d - b'0')))
            .ok_or(ParseError::Malformed("Content-Length overflows"))
    })
}

/// The transfer codings of every Transfer-Encoding field, in order.
#[derive(Default)]
struct TransferEncoding {
    seen: bool,
    codings: u32,
    /// Position (1-based) of `chunked` in the list, if present.
    chunked_at: Option<u32>,
    unknown: bool,
    chunked_twice: bool,
}

impl TransferEncoding {
    fn add(&mut self, value: &[u8]) -> Result<(), ParseError> {
        self.seen = true;
        let mut any = false;
        for token in list_tokens(value) {
            any = true;
            self.codings += 1;
            if token.eq_ignore_ascii_case(b"chunked") {
                if self.chunked_at.is_some() {
                    self.chunked_twice = true;
                }
                self.chunked_at = Some(self.codings);
            } else {
                self.unknown = true;
            }
        }
        if !any {
            return Err(ParseError::Malformed("empty Transfer-Encoding"));
        }
        Ok(())
    }

    /// RFC 9112 §6.3: with Transfer-Encoding, the body is chunked only if chunked is the final
    /// coding, applied once; otherwise the length cannot be known and the request is rejected.
    fn framing(&self) -> Result<Framing, ParseError> {
        let chunked_last = self.chunked_at == Some(self.codings);
        if self.chunked_twice || (self.chunked_at.is_some() && !chunked_last) {
            return Err(ParseError::Malformed(
                "chunked is not the final transfer coding once",
            ));
        }
        if self.unknown {
            return Err(ParseError::TransferCodingNotImplemented);
        }
        Ok(Framing::Chunked)
    }
}

/// Elements of a comma-separated list (RFC 9110 §5.6.1), trimmed, empty ones skipped.
pub fn list_tokens(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim)
        .filter(|t| !t.is_empty())
}

pub fn trim(value: &[u8]) -> &[u8] {
    value.trim_ascii()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: HeadLimits = HeadLimits {
        max_head_bytes: 8192,
        max_headers: 100,
        max_body_bytes: 1 << 20,
    };

    fn parse_all(buf: &[u8]) -> Result<Option<(Method, Framing, bool, usize)>, ParseError> {
        let mut slots = header_slots();
        parse(buf, &mut slots, &LIMITS)
            .map(|o| o.map(|(r, n)| (r.method, r.framing, r.keep_alive, n)))
    }

    fn rejected(buf: &[u8]) -> ParseError {
        parse_all(buf).expect_err(&String::from_utf8_lossy(buf))
    }

    #[test]
    fn simple_get_is_complete() {
        let req = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            parse_all(req),
            Ok(Some((Method::Get, Framing::None, true, req.len())))
        );
    }

    #[test]
    fn every_prefix_needs_more() {
        let req = b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n";
        for end in 0..req.len() {
            assert_eq!(parse_all(&req[..end]), Ok(None), "prefix {end}");
        }
    }

    #[test]
    fn http10_keep_alive_rules() {
        let close = parse_all(b"GET / HTTP/1.0\r\n\r\n").unwrap().unwrap();
        assert!(!close.2);
        let keep = parse_all(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(keep.2);
        let close11 = parse_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: x, close\r\n\r\n");
        assert!(!close11.unwrap().unwrap().2);
    }

    #[test]
    fn framing_rules() {
        let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: CHUNKED\r\n\r\n";
        assert_eq!(parse_all(chunked).unwrap().unwrap().1, Framing::Chunked);
        let length = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n";
        assert_eq!(parse_all(length).unwrap().unwrap().1, Framing::Length(12));
    }

    #[test]
    fn malformed_inputs_are_rejected() {
        let cases: &[&[u8]] = &[
            b"GET / HTTP/1.1\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n",
            b"GET / HTTP/1.1\nHost: a\n\n",
            b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.1 x\r\nHost: a\r\n\r\n",
            b"GET / HTTP/1.x\r\nHost: a\r\n\r\n",
            b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x10\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n",
            b"GET / HTTP/1.1\r\nHost: [::1\r\n\r\n",
            b"GET / HTTP/1.0\r\nHost: a:b\r\n\r\n",
            b"GET http://u@a/ HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n",
            b"GET http://a/ HTTP/1.1\r\nHost: a b\r\n\r\n",
        ];
        for case in cases {
            assert!(
                matches!(rejected(case), ParseError::Malformed(_)),
                "{}",
                String::from_utf8_lossy(case)
            );
        }
    }

    fn authority_of(buf: &[u8]) -> Option<String> {
        let mut slots = header_slots();
        let (request, _) = parse(buf, &mut slots, &LIMITS).unwrap().unwrap();
        request.authority().map(str::to_owned)
    }

    #[test]
    fn authority_is_the_targets_else_the_hosts() {
        assert_eq!(
            authority_of(b"GET / HTTP/1.1\r\nHost: a.example:8080\r\n\r\n").as_deref(),
            Some("a.example:8080")
        );
        assert_eq!(
            authority_of(b"GET http://b.example/x HTTP/1.1\r\nHost: a\r\n\r\n").as_deref(),
            Some("b.example")
        );
        assert_eq!(
            authority_of(b"GET http://[::1]:80?q HTTP/1.1\r\nHost:\r\n\r\n").as_deref(),
            Some("[::1]:80")
        );
        assert_eq!(authority_of(b"GET / HTTP/1.1\r\nHost:\r\n\r\n"), None);
        assert_eq!(authority_of(b"GET / HTTP/1.0\r\n\r\n"), None);
    }

    #[test]
    fn list_fields_are_read_from_every_line() {
        let buf = b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\nx: 3\r\n\r\n";
        let mut slots = header_slots();
        let (request, _) = parse(buf, &mut slots, &LIMITS).unwrap().unwrap();
        let lines: Vec<&str> = request.header_lines_str("x").collect();
        assert_eq!(lines, ["1", "3"]);
        assert_eq!(request.header_str("X"), Some("1"));
        assert_eq!(request.header_lines("z").count(), 0);
    }

    #[test]
    fn status_specific_errors() {
        assert_eq!(
            rejected(b"GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
            ParseError::VersionNotSupported
        );
        assert_eq!(
            rejected(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
            ParseError::VersionNotSupported
        );
        assert_eq!(
            rejected(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
            ParseError::TransferCodingNotImplemented
        );
        assert_eq!(
            rejected(b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n"),
            ParseError::ExpectationFailed
        );
        assert_eq!(
            rejected(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2000000\r\n\r\n"),
            ParseError::BodyTooLarge
        );
        let long_line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(9000));
        assert_eq!(
            rejected(long_line.as_bytes()),
            ParseError::RequestLineTooLong
        );
        let long_partial = format!("GET /{}", "a".repeat(9000));
        assert_eq!(
            rejected(long_partial.as_bytes()),
            ParseError::RequestLineTooLong
        );
        let big_head = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
            "a".repeat(9000)
        );
        assert_eq!(rejected(big_head.as_bytes()), ParseError::HeadTooLarge);
        let many: String = (0..101).map(|i| format!("X-{i}: 1\r\n")).collect();
        let many = format!("GET / HTTP/1.1\r\nHost: a\r\n{many}\r\n");
        assert_eq!(rejected(many.as_bytes()), ParseError::HeadTooLarge);
    }
}
