//! Rendering an access log line, with no I/O: the two formats, the escaping that keeps a request
//! from forging a line, and the timestamps.
//!
//! A line is rendered in two steps (see the module above): [`render_request`] writes the head
//! (everything before the status) and the tail (everything after the response's numbers) into one
//! buffer; [`complete`] joins head, numbers and tail. Timestamps are formatted once a second per
//! worker, as `http::date` does for the Date field, so a line costs a copy of them.
//!
//! Escaping: no byte of a request reaches the log raw unless it is printable, so a request can
//! never end a line or fake one. `combined` writes every other byte, and `"` and `\`, as `\xHH`,
//! as nginx does. `json` uses JSON's escapes; bytes that are not UTF-8 are written as `\u00XX` of
//! their value. That keeps every line valid JSON and every byte visible in the raw line (a
//! reader can take the string as Latin-1 for those bytes), though a parsed value cannot tell an
//! invalid byte 0xFF from a real `ÿ`; valid UTF-8 passes through as it is.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::IpAddr;

use nix::time::{ClockId, clock_gettime};

use super::{Format, RequestFields};

pub(super) use crate::limits::ACCESS_LOG_FIELD_BYTES as MAX_FIELD_BYTES;

/// Room the response's numbers take in a line, at most:
/// `"status":65535,"bytes":18446744073709551615,"duration_us":18446744073709551615,`.
pub(super) const NUMBERS_MAX: usize = 80;

/// A wall-clock instant, to the millisecond.
#[derive(Clone, Copy, Debug)]
pub(super) struct Time {
    pub(super) secs: u64,
    pub(super) millis: u16,
}

impl Time {
    /// From the coarse wall clock (see `clock.rs`): its few milliseconds of resolution are
    /// plenty for a log, and it is read twice per line.
    pub(super) fn now() -> Time {
        clock_gettime(ClockId::CLOCK_REALTIME_COARSE).map_or(Time { secs: 0, millis: 0 }, |now| {
            Time {
                secs: now.tv_sec().max(0) as u64,
                millis: (now.tv_nsec().clamp(0, 999_999_999) / 1_000_000) as u16,
            }
        })
    }
}

/// Writes the request's side of a line into `out` (empty) and answers where the tail starts.
pub(super) fn render_request(
    format: Format,
    fields: &RequestFields<'_>,
    time: Time,
    out: &mut Vec<u8>,
) -> usize {
    match format {
        // $remote_addr - $remote_user [$time_local] "$request" | $status $body_bytes_sent |
        // "$http_referer" "$http_user_agent"
        Format::Combined => {
            push_ip(out, fields.peer);
            out.extend_from_slice(b" - ");
            combined_or_dash(out, fields.user);
            out.extend_from_slice(b" [");
            with_stamps(time.secs, |stamps| {
                out.extend_from_slice(stamps.local.as_bytes())
            });
            out.extend_from_slice(b"] \"");
            combined_or_dash(out, fields.request_line);
            out.extend_from_slice(b"\" ");
            let split = out.len();
            out.extend_from_slice(b" \"");
            combined_or_dash(out, fields.referer);
            out.extend_from_slice(b"\" \"");
            combined_or_dash(out, fields.user_agent);
            out.push(b'"');
            split
        }
        Format::Json => {
            out.extend_from_slice(b"{\"time\":\"");
            push_rfc3339_ms(out, time);
            out.extend_from_slice(b"\",\"client\":\"");
            push_ip(out, fields.peer);
            out.extend_from_slice(b"\",\"site\":");
            json_string(out, fields.site.as_bytes());
            out.extend_from_slice(b",\"method\":");
            json_or_null(out, fields.method);
            out.extend_from_slice(b",\"target\":");
            json_or_null(out, fields.target);
            out.extend_from_slice(b",\"protocol\":");
            json_or_null(out, fields.protocol.map(str::as_bytes));
            out.push(b',');
            let split = out.len();
            out.extend_from_slice(b"\"user\":");
            json_or_null(out, fields.user);
            out.extend_from_slice(b",\"referer\":");
            json_or_null(out, fields.referer);
            out.extend_from_slice(b",\"user_agent\":");
            json_or_null(out, fields.user_agent);
            out.push(b'}');
            split
        }
    }
}

/// Appends the whole line, without its newline, to `out`.
pub(super) fn complete(
    format: Format,
    head: &[u8],
    tail: &[u8],
    status: u16,
    body_bytes: u64,
    duration_us: u64,
    out: &mut Vec<u8>,
) {
    out.extend_from_slice(head);
    match format {
        Format::Combined => {
            push_decimal(out, u64::from(status));
            out.push(b' ');
            push_decimal(out, body_bytes);
        }
        Format::Json => {
            out.extend_from_slice(b"\"status\":");
            push_decimal(out, u64::from(status));
            out.extend_from_slice(b",\"bytes\":");
            push_decimal(out, body_bytes);
            out.extend_from_slice(b",\"duration_us\":");
            push_decimal(out, duration_us);
            out.push(b',');
        }
    }
    out.extend_from_slice(tail);
}

/// `n` in decimal. By hand, like `push_ip`: `core::fmt` costs a few hundred instructions a
/// number, and a line has up to three numbers and an address (callgrind, bench/profile.sh).
fn push_decimal(out: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[start..]);
}

/// The client's address as text; IPv6 (rare behind most deployments) through `Display`.
fn push_ip(out: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                push_decimal(out, u64::from(octet));
            }
        }
        IpAddr::V6(v6) => {
            let _ = write!(out, "{v6}");
        }
    }
}

/// `2026-12-02T01:40:45.123Z` (RFC 3339, UTC, milliseconds), for json and syslog.
pub(super) fn push_rfc3339_ms(out: &mut Vec<u8>, time: Time) {
    with_stamps(time.secs, |stamps| {
        out.extend_from_slice(stamps.rfc3339.as_bytes())
    });
    let _ = write!(out, ".{:03}Z", time.millis);
}

/// One second's timestamps, formatted when the second changes.
struct Stamps {
    second: u64,
    /// `02/Dec/2026:01:40:45 +0000`: nginx's `$time_local`, in UTC so that no process reads the
    /// time zone (and lines agree whatever TZ each worker was started with).
    local: String,
    /// `2026-12-02T01:40:45`: the milliseconds are added per line.
    rfc3339: String,
}

thread_local! {
    // Each worker is single-threaded, so this is one cache per worker and no lock.
    static STAMPS: RefCell<Stamps> = const {
        RefCell::new(Stamps { second: u64::MAX, local: String::new(), rfc3339: String::new() })
    };
}

fn with_stamps<R>(secs: u64, f: impl FnOnce(&Stamps) -> R) -> R {
    STAMPS.with_borrow_mut(|stamps| {
        if stamps.second != secs {
            let Civil {
                year,
                month,
                day,
                hour,
                minute,
                second,
            } = Civil::from_unix(secs);
            let name = MONTHS[month - 1];
            stamps.second = secs;
            stamps.local.clear();
            let _ = write!(
                stamps.local,
                "{day:02}/{name}/{year:04}:{hour:02}:{minute:02}:{second:02} +0000"
            );
            stamps.rfc3339.clear();
            let _ = write!(
                stamps.rfc3339,
                "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}"
            );
        }
        f(stamps)
    })
}

/// A UTC calendar date and time of day.
struct Civil {
    year: u64,
    month: usize,
    day: u64,
    hour: u64,
    minute: u64,
    second: u64,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl Civil {
    /// Howard Hinnant's `civil_from_days`, for days since 1970 (never negative here): years
    /// counted from March, so the leap day ends the year, in 400-year eras.
    fn from_unix(secs: u64) -> Civil {
        let (days, of_day) = (secs / 86_400, secs % 86_400);
        let z = days + 719_468;
        let era = z / 146_097;
        let day_of_era = z % 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let march_month = (5 * day_of_year + 2) / 153; // 0 = March
        let month = if march_month < 10 {
            march_month + 3
        } else {
            march_month - 9
        };
        Civil {
            year: era * 400 + year_of_era + u64::from(month <= 2),
            month: month as usize,
            day: day_of_year - (153 * march_month + 2) / 5 + 1,
            hour: of_day / 3600,
            minute: of_day / 60 % 60,
            second: of_day % 60,
        }
    }
}

/// Bytes `combined` writes as they are: printable ASCII but `"` and `\` (nginx's set).
const COMBINED_PLAIN: [bool; 256] = byte_class(false);
/// Bytes a JSON string holds as they are, within valid UTF-8: the same ASCII, and every byte of
/// a non-ASCII character.
const JSON_PLAIN: [bool; 256] = byte_class(true);

const fn byte_class(non_ascii: bool) -> [bool; 256] {
    let mut class = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        class[byte] = match byte as u8 {
            b'"' | b'\\' => false,
            0x20..=0x7E => true,
            0x80..=0xFF => non_ascii,
            _ => false,
        };
        byte += 1;
    }
    class
}

/// Bytes that are always escaped: those of invalid UTF-8 in a JSON string.
const NONE_PLAIN: [bool; 256] = [false; 256];

/// Copies `bytes` to `out`, runs of `plain` bytes as they are and every other byte as `escape`
/// spells it, but not past `limit`; false if it had to stop short. A cut never splits an escape
/// or a UTF-8 character.
fn escape_into(
    out: &mut Vec<u8>,
    bytes: &[u8],
    plain: &[bool; 256],
    escape: fn(u8) -> ([u8; 6], usize),
    limit: usize,
) -> bool {
    // Most fields need no escape. One branch-free pass, which the compiler vectorises, finds
    // that at a fraction of the cost of the byte-by-byte table walk below.
    let non_ascii_plain = plain[0x80];
    if plain[usize::from(b'a')]
        && bytes.len() <= limit - out.len()
        && bytes
            .iter()
            .fold(true, |all, &b| all & is_plain(b, non_ascii_plain))
    {
        out.extend_from_slice(bytes);
        return true;
    }
    let mut rest = bytes;
    loop {
        let run = rest
            .iter()
            .position(|&byte| !plain[usize::from(byte)])
            .unwrap_or(rest.len());
        let room = limit - out.len();
        if run > room {
            // Back to the start of a character: `rest[..run]` is ASCII or valid UTF-8.
            let mut end = room;
            while end > 0 && rest[end] & 0xC0 == 0x80 {
                end -= 1;
            }
            out.extend_from_slice(&rest[..end]);
            return false;
        }
        out.extend_from_slice(&rest[..run]);
        let Some((&byte, after)) = rest[run..].split_first() else {
            return true;
        };
        let (spelled, len) = escape(byte);
        if limit - out.len() < len {
            return false;
        }
        out.extend_from_slice(&spelled[..len]);
        rest = after;
    }
}

/// `COMBINED_PLAIN` (`non_ascii` false) or `JSON_PLAIN` (true) as arithmetic, for the
/// vectorised pass of `escape_into`.
#[inline(always)]
fn is_plain(b: u8, non_ascii: bool) -> bool {
    (b >= 0x20) & (b != 0x7F) & (b != b'"') & (b != b'\\') & (non_ascii | (b < 0x80))
}

fn hex(digits: &[u8; 16], byte: u8) -> [u8; 2] {
    [
        digits[usize::from(byte >> 4)],
        digits[usize::from(byte & 15)],
    ]
}

fn combined_or_dash(out: &mut Vec<u8>, field: Option<&[u8]>) {
    let Some(field) = field else {
        return out.push(b'-');
    };
    let limit = out.len() + MAX_FIELD_BYTES;
    let escape = |byte| {
        let [high, low] = hex(b"0123456789ABCDEF", byte);
        ([b'\\', b'x', high, low, 0, 0], 4)
    };
    if !escape_into(out, field, &COMBINED_PLAIN, escape, limit) {
        out.extend_from_slice(b"...");
    }
}

fn json_or_null(out: &mut Vec<u8>, field: Option<&[u8]>) {
    match field {
        Some(field) => json_string(out, field),
        None => out.extend_from_slice(b"null"),
    }
}

fn json_string(out: &mut Vec<u8>, field: &[u8]) {
    out.push(b'"');
    let limit = out.len() + MAX_FIELD_BYTES;
    let whole = field.utf8_chunks().all(|chunk| {
        let valid = chunk.valid().as_bytes();
        escape_into(out, valid, &JSON_PLAIN, json_escape, limit)
            && escape_into(out, chunk.invalid(), &NONE_PLAIN, json_escape, limit)
    });
    if !whole {
        out.extend_from_slice(b"...");
    }
    out.push(b'"');
}

fn json_escape(byte: u8) -> ([u8; 6], usize) {
    let short = |letter| ([b'\\', letter, 0, 0, 0, 0], 2);
    match byte {
        b'"' | b'\\' => short(byte),
        b'\n' => short(b'n'),
        b'\r' => short(b'r'),
        b'\t' => short(b't'),
        _ => {
            let [high, low] = hex(b"0123456789abcdef", byte);
            ([b'\\', b'u', b'0', b'0', high, low], 6)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    /// 2026-12-02T01:40:45.123Z
    const TIME: Time = Time {
        secs: 1_796_175_645,
        millis: 123,
    };

    fn fields() -> RequestFields<'static> {
        RequestFields {
            peer: IpAddr::from([203, 0, 113, 7]),
            user: Some(b"alice"),
            site: "example.com",
            request_line: Some(b"GET /index.html?q=1 HTTP/1.1"),
            method: Some(b"GET"),
            target: Some(b"/index.html?q=1"),
            protocol: Some("HTTP/1.1"),
            referer: Some(b"https://example.com/"),
            user_agent: Some(b"curl/8.5.0"),
        }
    }

    fn line(format: Format, fields: &RequestFields<'_>) -> Vec<u8> {
        let mut parts = Vec::new();
        let split = render_request(format, fields, TIME, &mut parts);
        let mut line = Vec::new();
        complete(
            format,
            &parts[..split],
            &parts[split..],
            200,
            1234,
            56,
            &mut line,
        );
        line
    }

    fn text(line: Vec<u8>) -> String {
        String::from_utf8(line).unwrap()
    }

    fn json(fields: &RequestFields<'_>) -> serde_json::Value {
        serde_json::from_slice(&line(Format::Json, fields)).unwrap()
    }

    #[test]
    fn the_fast_check_agrees_with_the_tables() {
        for byte in 0..=255u8 {
            assert_eq!(
                is_plain(byte, false),
                COMBINED_PLAIN[usize::from(byte)],
                "{byte}"
            );
            assert_eq!(
                is_plain(byte, true),
                JSON_PLAIN[usize::from(byte)],
                "{byte}"
            );
        }
    }

    #[test]
    fn numbers_and_addresses() {
        let mut out = Vec::new();
        for n in [0, 7, 10, 404, u64::MAX] {
            out.clear();
            push_decimal(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for ip in [
            "0.0.0.0",
            "127.0.0.1",
            "255.255.255.255",
            "::1",
            "2001:db8::7",
        ] {
            out.clear();
            push_ip(&mut out, ip.parse().unwrap());
            assert_eq!(out, ip.as_bytes());
        }
    }

    #[test]
    fn combined_is_nginx_s_line() {
        assert_eq!(
            text(line(Format::Combined, &fields())),
            "203.0.113.7 - alice [02/Dec/2026:01:40:45 +0000] \"GET /index.html?q=1 HTTP/1.1\" \
             200 1234 \"https://example.com/\" \"curl/8.5.0\""
        );
        let bare = RequestFields {
            peer: "2001:db8::1".parse().unwrap(),
            user: None,
            request_line: None,
            referer: None,
            user_agent: None,
            ..fields()
        };
        assert_eq!(
            text(line(Format::Combined, &bare)),
            "2001:db8::1 - - [02/Dec/2026:01:40:45 +0000] \"-\" 200 1234 \"-\" \"-\""
        );
    }

    #[test]
    fn combined_escapes_what_could_forge_a_line() {
        let user_agent = b"a\"\n\x1b\\\xffb\r\x7f";
        let forged = RequestFields {
            user: Some(b"bob smith\n"),
            user_agent: Some(user_agent),
            ..fields()
        };
        let line = text(line(Format::Combined, &forged));
        assert!(!line.contains('\n'), "{line}");
        assert!(line.contains(" - bob smith\\x0A ["), "{line}");
        assert!(
            line.ends_with("\"a\\x22\\x0A\\x1B\\x5C\\xFFb\\x0D\\x7F\""),
            "{line}"
        );
    }

    #[test]
    fn json_has_every_key_in_order() {
        let value = json(&fields());
        let keys: Vec<&str> = value
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        // serde_json sorts keys without its preserve_order feature, so the order is checked on
        // the text instead.
        assert_eq!(keys.len(), 12);
        let line = text(line(Format::Json, &fields()));
        assert_eq!(
            line,
            "{\"time\":\"2026-12-02T01:40:45.123Z\",\"client\":\"203.0.113.7\",\
             \"site\":\"example.com\",\"method\":\"GET\",\"target\":\"/index.html?q=1\",\
             \"protocol\":\"HTTP/1.1\",\"status\":200,\"bytes\":1234,\"duration_us\":56,\
             \"user\":\"alice\",\"referer\":\"https://example.com/\",\"user_agent\":\"curl/8.5.0\"}"
        );
        let unparsed = RequestFields {
            user: None,
            request_line: None,
            method: None,
            target: None,
            protocol: None,
            referer: None,
            user_agent: None,
            ..fields()
        };
        let value = json(&unparsed);
        for key in [
            "method",
            "target",
            "protocol",
            "user",
            "referer",
            "user_agent",
        ] {
            assert!(value[key].is_null(), "{key}");
        }
        assert_eq!(value["status"], 200);
        assert_eq!(value["bytes"], 1234);
        assert_eq!(value["duration_us"], 56);
    }

    #[test]
    fn json_escapes_controls_and_keeps_invalid_utf8_valid() {
        let target = b"/caf\xc3\xa9/\xff\xfe\"\\\n\r\t\x01\x1b\x7f/\xe2\x82";
        let odd = RequestFields {
            target: Some(target),
            ..fields()
        };
        let raw = line(Format::Json, &odd);
        assert!(!raw.contains(&b'\n') && !raw.contains(&0x1b));
        let raw = text(raw);
        assert!(
            raw.contains(
                "\"/café/\\u00ff\\u00fe\\\"\\\\\\n\\r\\t\\u0001\\u001b\\u007f/\\u00e2\\u0082\""
            ),
            "{raw}"
        );
        let value: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(
            value["target"],
            "/café/\u{ff}\u{fe}\"\\\n\r\t\u{1}\u{1b}\u{7f}/\u{e2}\u{82}"
        );
    }

    #[test]
    fn long_fields_are_cut() {
        let long = vec![b'a'; 20_000];
        let escaped = vec![b'\n'; 20_000];
        let huge = RequestFields {
            request_line: Some(&long),
            user_agent: Some(&escaped),
            ..fields()
        };
        let combined = text(line(Format::Combined, &huge));
        let expected = format!("\"{}...\" 200", "a".repeat(MAX_FIELD_BYTES));
        assert!(combined.contains(&expected));
        let expected = format!("\"{}...\"", "\\x0A".repeat(MAX_FIELD_BYTES / 4));
        assert!(combined.ends_with(&expected));

        // A cut never splits a character or an escape.
        let mut accented = "é".repeat(MAX_FIELD_BYTES).into_bytes();
        accented.insert(0, b'x');
        let huge = RequestFields {
            target: Some(&accented),
            user_agent: Some(&escaped),
            ..fields()
        };
        let value = json(&huge);
        let target = value["target"].as_str().unwrap();
        assert_eq!(
            target,
            format!("x{}...", "é".repeat(MAX_FIELD_BYTES / 2 - 1))
        );
        let user_agent = value["user_agent"].as_str().unwrap();
        assert_eq!(
            user_agent,
            format!("{}...", "\n".repeat(MAX_FIELD_BYTES / 2))
        );
        assert!(line(Format::Json, &huge).len() < 3 * MAX_FIELD_BYTES);
    }

    #[test]
    fn times_are_formatted_in_utc() {
        let cases = [
            (
                0,
                0,
                "01/Jan/1970:00:00:00 +0000",
                "1970-01-01T00:00:00.000Z",
            ),
            (
                951_868_799,
                999,
                "29/Feb/2000:23:59:59 +0000",
                "2000-02-29T23:59:59.999Z",
            ),
            (
                1_796_175_645,
                7,
                "02/Dec/2026:01:40:45 +0000",
                "2026-12-02T01:40:45.007Z",
            ),
            (
                4_107_542_400,
                10,
                "01/Mar/2100:00:00:00 +0000",
                "2100-03-01T00:00:00.010Z",
            ),
        ];
        for (secs, millis, local, rfc3339) in cases {
            let time = Time { secs, millis };
            assert_eq!(with_stamps(secs, |stamps| stamps.local.clone()), local);
            let mut out = Vec::new();
            push_rfc3339_ms(&mut out, time);
            assert_eq!(text(out), rfc3339);
        }
        let now = Time::now();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        assert!(now.secs.abs_diff(wall.as_secs()) <= 1 && now.millis < 1000);
    }

    proptest::proptest! {
        /// Whatever bytes a request carries, a combined line is printable ASCII and a json
        /// line is one valid object holding those bytes' fields: no input writes a line.
        #[test]
        fn no_field_forges_a_line(
            user in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
            target in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            agent in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
        ) {
            let fields = RequestFields {
                user: Some(&user),
                request_line: Some(&target),
                target: Some(&target),
                user_agent: Some(&agent),
                ..fields()
            };
            let combined = line(Format::Combined, &fields);
            proptest::prop_assert!(combined.iter().all(|b| (0x20..=0x7E).contains(b)));
            let json = line(Format::Json, &fields);
            proptest::prop_assert!(!json.contains(&b'\n'));
            let value: serde_json::Value = serde_json::from_slice(&json).unwrap();
            let agent_text = value["user_agent"].as_str().unwrap();
            // Valid UTF-8 comes back as it was sent.
            if let Ok(sent) = std::str::from_utf8(&agent) {
                proptest::prop_assert_eq!(agent_text, sent);
            }
        }
    }
}
