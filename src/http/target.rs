//! The authority a request is for: the `Host` field and the authority of an absolute-form
//! target (RFC 9112 §3.2, RFC 3986 §3.2), checked where `httparse` does not.
//!
//! `httparse` accepts any visible byte in a target and any value in `Host`. A static server
//! behind a proxy must not read a request differently from that proxy, so an authority that is
//! not `uri-host [ ":" port ]` is refused (400): userinfo, a second port, a port that is not
//! digits, an unclosed or invalid IP literal, bytes outside the URI character set.
//!
//! The path's own checks (a fragment, a broken percent-encoding) are made where the path is
//! split and decoded, `fs::path`: that pass reads every byte of it anyway, and a request
//! answered from the response cache, keyed by the exact target, never needs them again.
//!
//! Every request's Host passes through here, so the check is one pass over a few bytes, and
//! nothing allocates.

use std::net::Ipv6Addr;

/// What is wrong with a target; the reason goes to the debug log with the 400.
pub type Invalid = &'static str;

/// The authority of an absolute-form target (`http://authority/path`), which then decides what
/// the request is for (RFC 9112 §3.2.2); `None` for any other form.
///
/// Origin-form (`/a?b`, nearly every request) is known by its first byte and costs nothing
/// more. A target of another form (asterisk, authority-form, another scheme) is left to the
/// caller: a method it does not allow is answered as such before the target matters.
#[inline]
pub fn absolute_authority(target: &str) -> Result<Option<&str>, Invalid> {
    if target.as_bytes().first() == Some(&b'/') {
        return Ok(None);
    }
    other_form_authority(target)
}

/// [`absolute_authority`] of a target that is not origin-form.
fn other_form_authority(target: &str) -> Result<Option<&str>, Invalid> {
    let Some(rest) = strip_http_scheme(target) else {
        return Ok(None);
    };
    // RFC 9110 §4.2.1, §4.2.2: an http(s) URI has an authority, and its host is not empty.
    let Some(rest) = rest.strip_prefix("//") else {
        return Err("absolute-form target without authority");
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
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
#[inline]
pub fn is_valid_host(value: &[u8]) -> bool {
    // A plain name, what nearly every request sends, passes the first loop: one table load per
    // byte, inlined into the parser. Anything else (a port, a literal, `%`) takes the full check.
    value.iter().all(|&b| REG_NAME_BYTES[usize::from(b)]) || is_valid_authority(value)
}

/// `uri-host [ ":" port ]` with a non-empty host (RFC 3986 §3.2.2, §3.2.3; RFC 9110 §4.2.1:
/// an http URI with an empty host is invalid). No userinfo: RFC 9110 §4.2.4 deprecates it and
/// asks recipients to treat it as an error. In one pass over the bytes.
pub fn is_valid_authority(value: &[u8]) -> bool {
    let end = reg_name_len(value);
    match value.get(end) {
        None => end > 0,
        Some(b':') => end > 0 && is_port_suffix(&value[end + 1..]),
        Some(b'[') if end == 0 => is_ip_literal_authority(value),
        Some(_) => false,
    }
}

/// `"[" ( IPv6address / IPvFuture ) "]" [ ":" port ]`.
fn is_ip_literal_authority(value: &[u8]) -> bool {
    let Some(close) = memchr::memchr(b']', value) else {
        return false;
    };
    is_ip_literal(&value[1..close])
        && match &value[close + 1..] {
            [] => true,
            [b':', port @ ..] => is_port_suffix(port),
            _ => false,
        }
}

/// Length of the reg-name at the front of `value` (RFC 3986 §3.2.2): unreserved characters,
/// sub-delims and percent-encodings. IPv4 addresses have the same characters and need no
/// separate case. The caller looks at the byte that ends it.
#[inline]
fn reg_name_len(value: &[u8]) -> usize {
    let mut at = 0;
    loop {
        at += value[at..]
            .iter()
            .position(|&b| !REG_NAME_BYTES[usize::from(b)])
            .unwrap_or(value.len() - at);
        if at < value.len() && is_pct_encoded(&value[at..]) {
            at += 3;
        } else {
            return at;
        }
    }
}

/// `pct-encoded = "%" HEXDIG HEXDIG` at the front of `bytes`.
pub fn is_pct_encoded(bytes: &[u8]) -> bool {
    matches!(bytes, [b'%', high, low, ..] if high.is_ascii_hexdigit() && low.is_ascii_hexdigit())
}

/// `port = *DIGIT` after the host's `:` (RFC 3986 §3.2.3; an empty port is valid and means
/// the scheme's default). A port above 65535 names no TCP port; it is refused rather than
/// wrapped or truncated, as a proxy might.
fn is_port_suffix(digits: &[u8]) -> bool {
    // Leading zeros change nothing (RFC 3986 §6.2.3 normalises them away); past them, five
    // digits bound the value before it is computed.
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
    fn absolute_form() {
        let authority = absolute_authority;
        assert_eq!(authority("/a?b"), Ok(None));
        assert_eq!(
            authority("//a/b"),
            Ok(None),
            "origin-form with an empty segment"
        );
        assert_eq!(authority("*"), Ok(None));
        assert_eq!(authority("http://a.example/x"), Ok(Some("a.example")));
        assert_eq!(authority("HTTPS://[::1]:8443?q"), Ok(Some("[::1]:8443")));
        assert_eq!(authority("http://a"), Ok(Some("a")));
        assert_eq!(
            authority("http://a#f"),
            Ok(Some("a")),
            "the fragment is fs's to refuse"
        );
        assert_eq!(authority("ftp://a/b"), Ok(None), "left to the caller");
        assert_eq!(authority("a.example:443"), Ok(None), "left to the caller");
        for invalid in [
            "http:/a",
            "http:a",
            "http:",
            "http://",
            "http:///a",
            "http://u@a/",
            "http://a:b/",
            "http://a b/",
            "https://[::1/",
            "http://a%zz/",
            "http://:80/",
        ] {
            assert!(authority(invalid).is_err(), "{invalid}");
        }
    }
}
