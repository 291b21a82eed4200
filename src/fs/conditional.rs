//! Conditional requests (RFC 9110 §13): preconditions evaluated in the order of §13.2.2.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::Request;

/// What the preconditions decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Precondition {
    /// Serve the representation (perhaps a range of it).
    Proceed,
    /// 304: the client's cached copy is current.
    NotModified,
    /// 412: a precondition of a state-changing or strict request failed.
    Failed,
}

/// The validators of the selected representation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Validators<'a> {
    /// Strong entity tag with its quotes, if known.
    pub etag: Option<&'a str>,
    pub last_modified: Option<SystemTime>,
    /// The file's ctime, if known: when anything last changed it, mtime restored or not. Equal
    /// to `last_modified` when the last change was the write that set it.
    pub changed: Option<SystemTime>,
}

/// RFC 9110 §13.2.2, steps 1 to 4; step 5 is [`if_range_holds`], asked only when the
/// preconditions let the request proceed and it has a Range.
///
/// If-Match and If-None-Match are lists: every field line counts, as one list (RFC 9110 §5.3).
/// If-Unmodified-Since and If-Modified-Since hold one date: a value that is not an HTTP-date,
/// or more than one field line, and the field is ignored (§13.1.3, §13.1.4), so it never
/// causes a 304 or a 412 on its own.
pub(crate) fn evaluate(
    request: &Request<'_, '_>,
    validators: &Validators<'_>,
    safe_method: bool,
) -> Precondition {
    // A date says whether the file changed since; its mtime alone cannot, since a rewrite may
    // set it back (`cp -p`, `touch -r`, rsync). The later of mtime and ctime is when the file
    // last changed in any way: a file left alone since its write has the two equal.
    let last_change = validators.last_modified.max(validators.changed);
    // 1. If-Match: the tag must match strongly; "*" matches any current representation.
    if request.header_lines("if-match").next().is_some() {
        let lines = request.header_lines_str("if-match");
        if !matches_lines(lines, validators.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(since) = single_date(request, "if-unmodified-since") {
        // 2. If-Unmodified-Since, only without If-Match.
        if last_change.is_some_and(|changed| seconds(changed) > since) {
            return Precondition::Failed;
        }
    }
    // 3. If-None-Match: a weak match means the client has it.
    if request.header_lines("if-none-match").next().is_some() {
        let lines = request.header_lines_str("if-none-match");
        if matches_lines(lines, validators.etag, Comparison::Weak) {
            return if safe_method {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if safe_method
        && let Some(since) = single_date(request, "if-modified-since")
        && last_change.is_some_and(|changed| seconds(changed) <= since)
    {
        // 4. If-Modified-Since, only for GET/HEAD and only without If-None-Match.
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

/// The date of a field that holds exactly one HTTP-date: `None` if it is absent, invalid, or
/// sent on several lines (which one would count is a guess two caches could make differently).
fn single_date(request: &Request<'_, '_>, name: &str) -> Option<u64> {
    let mut lines = request.header_lines(name);
    let value = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    parse_date(std::str::from_utf8(value).ok()?)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Comparison {
    /// Both tags strong and identical (§8.8.3.2).
    Strong,
    /// Identical opaque tags, W/ prefixes ignored.
    Weak,
}

/// Whether `current` matches the field value `list` (`*` or a list of entity tags).
pub(crate) fn matches_list(list: &str, current: Option<&str>, comparison: Comparison) -> bool {
    matches_lines(std::iter::once(list), current, comparison)
}

/// Whether `current` matches the list that the field lines `lines` make together
/// (`*` or a list of entity tags). Several lines give the answer one line with the same
/// members gives: `*` counts only as the list's sole member, and the list ends at its first
/// malformed member, whichever line it is on.
pub(crate) fn matches_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    current: Option<&str>,
    comparison: Comparison,
) -> bool {
    // Empty list elements (stray commas, empty lines) are not members (RFC 9110 §5.6.1).
    let mut lines = lines
        .map(|line| line.trim_matches([' ', '\t', ',']))
        .filter(|line| !line.is_empty());
    let Some(first) = lines.next() else {
        return false;
    };
    if first == "*" {
        return lines.next().is_none();
    }
    let Some(current) = current else {
        return false;
    };
    let current_opaque = current.strip_prefix("W/").unwrap_or(current);
    let matches = |weak: bool, opaque: &str| match comparison {
        Comparison::Strong => !weak && !current.starts_with("W/") && opaque == current_opaque,
        Comparison::Weak => opaque == current_opaque,
    };
    for line in std::iter::once(first).chain(lines) {
        let mut tags = EntityTags { rest: line };
        for (weak, opaque) in &mut tags {
            if matches(weak, opaque) {
                return true;
            }
        }
        if !tags.rest.is_empty() {
            // A malformed member ends the whole list, not just its line.
            return false;
        }
    }
    false
}

/// The entity tags of one list, as (weak, `"opaque"` with quotes), stopping at the first
/// malformed one; after the iteration, `rest` is empty if the list ended well and
/// holds the malformed member where it stopped otherwise.
struct EntityTags<'a> {
    rest: &'a str,
}

impl<'a> Iterator for EntityTags<'a> {
    type Item = (bool, &'a str);

    fn next(&mut self) -> Option<(bool, &'a str)> {
        let rest = self.rest.trim_start_matches([' ', '\t', ',']);
        self.rest = rest;
        if rest.is_empty() {
            return None;
        }
        let weak = rest.starts_with("W/");
        let tag_start = if weak { &rest[2..] } else { rest };
        if !tag_start.starts_with('"') {
            return None;
        }
        let close = tag_start[1..].find('"')? + 2;
        let opaque = &tag_start[..close];
        self.rest = &tag_start[close..];
        Some((weak, opaque))
    }
}

/// RFC 9110 §13.2.2 step 5, If-Range (§13.1.5): the Range applies only if the validator still
/// matches: a strong ETag compared strongly (a representation whose tag is not known yet never
/// matches), or a date equal to Last-Modified when nothing but the write that set the mtime has
/// changed the file (its ctime is the mtime, to the nanosecond, as a write leaves them). The
/// second condition is ours: a rewrite that restores the mtime (`cp -p`, `touch -r`, rsync)
/// keeps Last-Modified, and a resumed download would splice new bytes onto an old prefix; the
/// ctime gives it away. (Two writes within one second remain invisible to a date, which is why
/// RFC 9110 §8.8.2.2 lets clients use one only when it is a second older than its response.) If-Range holds one validator; several field lines of it do not match.
/// Not matching sends the whole representation, which is always a correct answer to a range
/// request.
pub(crate) fn if_range_holds(request: &Request<'_, '_>, validators: &Validators<'_>) -> bool {
    let mut lines = request.header_lines("if-range");
    let Some(value) = lines.next() else {
        return true;
    };
    if lines.next().is_some() {
        return false;
    }
    let Ok(value) = std::str::from_utf8(value).map(str::trim) else {
        return false;
    };
    if value.starts_with('"') || value.starts_with("W/") {
        return matches_list(value, validators.etag, Comparison::Strong);
    }
    match (parse_date(value), validators.last_modified) {
        (Some(date), Some(modified)) => {
            seconds(modified) == date && validators.changed == Some(modified)
        }
        _ => false,
    }
}

/// An HTTP-date, as whole seconds since the epoch; `None` when it does not parse.
pub(crate) fn parse_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text.trim()).ok().map(seconds)
}

/// Dates in HTTP have one-second resolution; file times have nanoseconds.
pub(crate) fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists() {
        let tags: Vec<_> = EntityTags {
            rest: r#""a", W/"b" ,"c,d""#,
        }
        .collect();
        assert_eq!(
            tags,
            vec![(false, "\"a\""), (true, "\"b\""), (false, "\"c,d\"")]
        );
        assert!(matches_list(r#"W/"x""#, Some("\"x\""), Comparison::Weak));
        assert!(!matches_list(r#"W/"x""#, Some("\"x\""), Comparison::Strong));
        assert!(matches_list(
            r#""y", "x""#,
            Some("\"x\""),
            Comparison::Strong
        ));
        assert!(matches_list("*", None, Comparison::Strong));
        assert!(!matches_list(r#""x""#, None, Comparison::Weak));
        assert!(!matches_list("garbage", Some("\"x\""), Comparison::Weak));
    }

    #[test]
    fn several_lines_are_one_list() {
        let x = Some("\"x\"");
        let cases: &[(&[&str], bool)] = &[
            (&["\"y\"", "\"x\""], true),
            (&["\"y\", \"z\"", "W/\"x\""], true),
            (&["\"y\"", "\"z\""], false),
            (&["\"y\", garbage", "\"x\""], false),
            (&["*"], true),
            (&["*", ""], true),
            (&["", " , *,"], true),
            (&["*", "\"x\""], false),
            (&["\"x\"", "*"], true),
            (&["\"y\"", "*"], false),
            (&[""], false),
        ];
        for (lines, expected) in cases {
            let joined = lines.join(", ");
            let one = matches_lines(std::iter::once(joined.as_str()), x, Comparison::Weak);
            let several = matches_lines(lines.iter().copied(), x, Comparison::Weak);
            assert_eq!(one, *expected, "one line: {joined}");
            assert_eq!(several, *expected, "lines: {lines:?}");
        }
    }
}
