//! The request target and the authority it is for (RFC 9112 §3.2, RFC 3986 §3.2): the checks
//! `httparse` leaves to us.
//!
//! `httparse` accepts any visible byte in a target and any value in `Host`. A static server
//! behind a proxy must not read a request differently from that proxy, so whatever is not a
//! valid URI component here is refused (400) instead of being served as some guess:
//!
//! - a `Host` value or an absolute-form authority that is not `uri-host [ ":" port ]`
//!   (userinfo, a second port, a port that is not digits, an unclosed or invalid IP literal);
//! - a fragment (`#`): RFC 9112 §3.2 has none in a request target, and a proxy may strip it or
//!   forward it, so the two could name different files;
//! - a `%` in the path not followed by two hex digits (RFC 3986 §2.1): decoding it one way or
//!   another (or not at all) is again a guess that two parsers can make differently.
//!
//! The query is not checked for `%`: a static server does not read it (nginx and Caddy ignore
//! it too), browsers send a stray `%` in a query as it is (the WHATWG URL parser does not
//! encode it), and refusing those would turn real links away. Code that reads the query (the
//! listing's `?sort=`) compares it to fixed values and never decodes it.
//!
//! Every request passes through here, so each check is one pass over a few bytes, and nothing
//! allocates.

use std::net::Ipv6Addr;

/// What is wrong with a target; the reason goes to the debug log with the 400.
pub type Invalid = &'static str;

/// Checks a request target and returns the authority of an absolute-form one
/// (`http://authority/path`), which then decides what the request is for (RFC 9112 §3.2.2).
///
/// Origin-form (`/a?b`) and asterisk-form (`*`) have no authority. A target of another form
/// (authority-form, another scheme) is left to the caller to refuse: a method it does not
/// allow is answered as such before the target matters.
pub fn check(target: &str) -> Result<Option<&str>, Invalid> {
    let bytes = target.as_bytes();
    let mut in_query = false;
    for at in memchr::memchr3_iter(b'#', b'?', b'%', bytes) {
        match bytes[at] {
            b'#' => return Err("fragment in request target"),
            b'?' => in_query = true,
            _ if !in_query && !is_pct_encoded(&bytes[at..]) => {
                return Err("invalid percent-encoding in request path");
            }
            _ => {}
        }
    }
    if bytes.first() == Some(&b'/') {
        return Ok(None);
    }
    let Some(rest) = strip_http_scheme(target) else {
        return Ok(None);
    };
    // RFC 9110 §4.2.1, §4.2.2: an http(s) URI has an authority, and its host is not empty.
    let Some(rest) = rest.strip_prefix("//") else {
        return Err("absolute-form target without authority");
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    if !is_valid_authority(authority.as_bytes()) {
        return Err("invalid authority in request target");
    }
    Ok(Some(authority))
}

/// The target after `http:` or `https:`, in any case (RFC 3986 §3.1), if it starts with one.
fn strip_http_scheme(target: &str) -> Option<&str> {
    ["http:", "https:"].into_iter().find_map(|scheme| {
        let head = target.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    })
}

/// `Host = uri-host [ ":" port ]` (RFC 9110 §7.2). An empty value is valid: RFC 9112 §3.2 has
/// a client send it when the target URI has no authority, and this server then serves its
/// default site.
pub fn is_valid_host(value: &[u8]) -> bool {
    value.is_empty() || is_valid_authority(value)
}

/// `uri-host [ ":" port ]` with a non-empty host (RFC 3986 §3.2.2, §3.2.3; RFC 9110 §4.2.1:
/// an http URI with an empty host is invalid). No userinfo: RFC 9110 §4.2.4 deprecates it and
/// asks recipients to treat it as an error. In one pass over the bytes.
pub fn is_valid_authority(value: &[u8]) -> bool {
    let (host_valid, rest) = if let [b'[', inside @ ..] = value {
        let Some(close) = memchr::memchr(b']', inside) else {
            return false;
        };
        (is_ip_literal(&inside[..close]), &inside[close + 1..])
    } else {
        let end = reg_name_len(value);
        (end > 0, &value[end..])
    };
    host_valid && is_port_suffix(rest)
}

/// Length of the reg-name at the front of `value` (RFC 3986 §3.2.2): unreserved characters,
/// sub-delims and percent-encodings. IPv4 addresses have the same characters and need no
/// separate case. The caller looks at the byte that ends it.
fn reg_name_len(value: &[u8]) -> usize {
    let mut at = 0;
    while let Some(&byte) = value.get(at) {
        if REG_NAME_BYTES[usize::from(byte)] {
            at += 1;
        } else if byte == b'%' && is_pct_encoded(&value[at..]) {
            at += 3;
        } else {
            break;
        }
    }
    at
}

/// `pct-encoded = "%" HEXDIG HEXDIG` at the front of `bytes`.
fn is_pct_encoded(bytes: &[u8]) -> bool {
    matches!(bytes, [b'%', high, low, ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit())
}

/// What follows the host: nothing, or `":" port` with `port = *DIGIT` (RFC 3986 §3.2.3; an
/// empty port is valid and means the scheme's default). A port above 65535 names no TCP port;
/// it is refused rather than wrapped or truncated, as a proxy might.
fn is_port_suffix(rest: &[u8]) -> bool {
    match rest {
        [] => true,
        [b':', digits @ ..] => {
            // Leading zeros change nothing (RFC 3986 §6.2.3 normalises them away); past them,
            // five digits bound the value before it is computed.
            let start = digits
                .iter()
                .position(|&d| d != b'0')
                .unwrap_or(digits.len());
            let significant = &digits[start..];
            digits.iter().all(u8::is_ascii_digit)
                && significant.len() <= 5
                && significant
                    .iter()
                    .fold(0u32, |port, &d| port * 10 + u32::from(d - b'0'))
                    <= u32::from(u16::MAX)
        }
        _ => false,
    }
}

/// The inside of `[...]`: an IPv6 address, parsed by std, or an IPvFuture
/// (`"v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`, RFC 3986 §3.2.2). A zone
/// identifier (`%25eth0`, RFC 6874) is refused: it means nothing to a server, and RFC 9844
/// withdrew it from URIs.
fn is_ip_literal(inside: &[u8]) -> bool {
    if let [b'v' | b'V', rest @ ..] = inside {
        let Some(dot) = memchr::memchr(b'.', rest) else {
            return false;
        };
        let (version, address) = (&rest[..dot], &rest[dot + 1..]);
        return !version.is_empty()
            && version.iter().all(u8::is_ascii_hexdigit)
            && !address.is_empty()
            && address
                .iter()
                .all(|&b| b == b':' || REG_NAME_BYTES[usize::from(b)]);
    }
    std::str::from_utf8(inside).is_ok_and(|text| text.parse::<Ipv6Addr>().is_ok())
}

/// `unreserved / sub-delims` (RFC 3986 §2.2, §2.3), as a table: one load per byte.
const REG_NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
            );
        byte += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts() {
        for valid in [
            "a",
            "a:",
            "a:80",
            "a:065535",
            "a:0000000000080",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[::ffff:1.2.3.4]",
            "[v1.x]",
            "[V7.a:b!]:1",
            "xn--bcher-kva.example",
            "a.b_c~d",
            "a%20b",
            "a%C3%a9",
            "!$&'()*+,;=",
        ] {
            assert!(is_valid_host(valid.as_bytes()), "{valid}");
        }
        assert!(is_valid_host(b""));
        for invalid in [
            "a:b",
            "a:80:80",
            "a:8o",
            "a:65536",
            "a:123456",
            ":80",
            ":",
            "[::1",
            "[::g]",
            "[::1]x",
            "[::1]:x",
            "[::1]]",
            "[]",
            "[::1%25eth0]",
            "[1.2.3.4]",
            "[v.x]",
            "[v1.]",
            "[v1x]",
            "[vg.x]",
            "u@a",
            "u:p@a",
            "a b",
            " a",
            "a/b",
            "a\\b",
            "a%zz",
            "a%2",
            "a%",
            "a[",
            "a]",
            "a#b",
            "a?b",
            "é",
        ] {
            assert!(!is_valid_host(invalid.as_bytes()), "{invalid}");
        }
        assert!(!is_valid_authority(b""));
    }

    #[test]
    fn targets() {
        assert_eq!(check("/a?b"), Ok(None));
        assert_eq!(check("*"), Ok(None));
        assert_eq!(check("/%41%2f?%zz"), Ok(None), "the query is not checked");
        assert_eq!(check("/a?b%"), Ok(None));
        assert_eq!(check("http://a.example/x"), Ok(Some("a.example")));
        assert_eq!(check("HTTPS://[::1]:8443?q"), Ok(Some("[::1]:8443")));
        assert_eq!(check("http://a"), Ok(Some("a")));
        assert_eq!(check("ftp://a/b"), Ok(None), "left to the caller");
        assert_eq!(check("a.example:443"), Ok(None), "left to the caller");
        for invalid in [
            "/a#b",
            "/#",
            "/a?b#c",
            "/%zz",
            "/a%",
            "/a%4",
            "/a%4/",
            "http://a/%g0",
            "http:/a",
            "http:a",
            "http://",
            "http:///a",
            "http://u@a/",
            "http://a:b/",
            "http://a b/",
            "https://[::1/",
            "http://a%zz/",
        ] {
            assert!(check(invalid).is_err(), "{invalid}");
        }
    }
}
