//! Conditional requests (RFC 9110 §13): preconditions evaluated in the order of §13.2.2.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::http::Request;

/// What the preconditions decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Serve the representation (perhaps a range of it).
    Proceed,
    /// 304: the client's cached copy is current.
    NotModified,
    /// 412: a precondition of a state-changing or strict request failed.
    Failed,
}

/// The validators of the selected representation.
#[derive(Clone, Copy, Debug)]
pub struct Validators<'a> {
    /// Strong entity tag with its quotes, if known.
    pub etag: Option<&'a str>,
    pub last_modified: Option<SystemTime>,
}

/// RFC 9110 §13.2.2, steps 1 to 4 (step 5, If-Range, belongs to the range step).
pub fn evaluate(
    request: &Request<'_, '_>,
    validators: &Validators<'_>,
    safe_method: bool,
) -> Precondition {
    // 1. If-Match: the tag must match strongly; "*" matches any current representation.
    if let Some(if_match) = request.header_str("if-match") {
        if !matches_list(if_match, validators.etag, Comparison::Strong) {
            return Precondition::Failed;
        }
    } else if let Some(since) = request
        .header_str("if-unmodified-since")
        .and_then(parse_date)
    {
        // 2. If-Unmodified-Since, only without If-Match; an invalid date is ignored.
        if validators
            .last_modified
            .is_some_and(|modified| seconds(modified) > since)
        {
            return Precondition::Failed;
        }
    }
    // 3. If-None-Match: a weak match means the client has it.
    if let Some(if_none_match) = request.header_str("if-none-match") {
        if matches_list(if_none_match, validators.etag, Comparison::Weak) {
            return if safe_method {
                Precondition::NotModified
            } else {
                Precondition::Failed
            };
        }
    } else if safe_method
        && let Some(since) = request.header_str("if-modified-since").and_then(parse_date)
        && validators
            .last_modified
            .is_some_and(|modified| seconds(modified) <= since)
    {
        // 4. If-Modified-Since, only for GET/HEAD and only without If-None-Match.
        return Precondition::NotModified;
    }
    Precondition::Proceed
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// Both tags strong and identical (§8.8.3.2).
    Strong,
    /// Identical opaque tags, W/ prefixes ignored.
    Weak,
}

/// Whether `current` matches the field value `list` (`*` or a list of entity tags).
pub fn matches_list(list: &str, current: Option<&str>, comparison: Comparison) -> bool {
    if list.trim() == "*" {
        return true;
    }
    let Some(current) = current else { return false };
    let current_opaque = current.strip_prefix("W/").unwrap_or(current);
    entity_tags(list).any(|(weak, opaque)| match comparison {
        Comparison::Strong => !weak && !current.starts_with("W/") && opaque == current_opaque,
        Comparison::Weak => opaque == current_opaque,
    })
}

/// Entity tags of a list, as (weak, `"opaque"` with quotes). Stops at the first malformed one.
pub fn entity_tags(list: &str) -> impl Iterator<Item = (bool, &str)> {
    let mut rest = list;
    std::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return None;
        }
        let weak = rest.starts_with("W/");
        let tag_start = if weak { &rest[2..] } else { rest };
        if !tag_start.starts_with('"') {
            rest = "";
            return None;
        }
        let close = tag_start[1..].find('"')? + 2;
        let opaque = &tag_start[..close];
        rest = &tag_start[close..];
        Some((weak, opaque))
    })
}

/// An HTTP-date, as whole seconds since the epoch; `None` when it does not parse.
pub fn parse_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text.trim()).ok().map(seconds)
}

/// Dates in HTTP have one-second resolution; file times have nanoseconds.
pub fn seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_lists() {
        let tags: Vec<_> = entity_tags(r#""a", W/"b" ,"c,d""#).collect();
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
}
