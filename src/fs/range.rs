//! Range requests (RFC 9110 §14): parsing `Range`, and deciding what part of a representation
//! to send.
//!
//! Ranges are sorted and coalesced (overlapping or adjacent ones merged), so a response is never
//! larger than the representation itself plus part headers, whatever the request asks for. More
//! than `limits::MAX_RANGES` ranges after coalescing are answered with the whole representation.

use crate::limits::{MAX_RANGE_SPECS, MAX_RANGES};

/// An inclusive byte range of a representation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRange {
    pub first: u64,
    pub last: u64,
}

impl ByteRange {
    /// Bytes in the range; never zero, the range is inclusive.
    pub fn size(&self) -> u64 {
        self.last - self.first + 1
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ranges {
    /// Send the whole representation: no usable Range, or too many ranges.
    Whole,
    /// 206 with these ranges, sorted and disjoint.
    Partial(Vec<ByteRange>),
    /// 416: no range overlaps the representation.
    Unsatisfiable,
}

/// Evaluates a `Range` field value against a representation of `len` bytes.
pub fn evaluate(header: &str, len: u64) -> Ranges {
    let Some(specs) = parse(header) else {
        return Ranges::Whole;
    };
    let mut ranges: Vec<ByteRange> = specs
        .into_iter()
        .filter_map(|spec| spec.resolve(len))
        .collect();
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.first);
    let mut merged: Vec<ByteRange> = Vec::with_capacity(ranges.len());
    for range in ranges {
        match merged.last_mut() {
            Some(previous) if range.first <= previous.last.saturating_add(1) => {
                previous.last = previous.last.max(range.last);
            }
            _ => merged.push(range),
        }
    }
    if merged.len() > MAX_RANGES {
        Ranges::Whole
    } else {
        Ranges::Partial(merged)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Spec {
    /// `first-last` or `first-`
    From { first: u64, last: Option<u64> },
    /// `-suffix`: the last bytes.
    Suffix(u64),
}

impl Spec {
    fn resolve(self, len: u64) -> Option<ByteRange> {
        match self {
            Spec::From { first, last } if first < len => Some(ByteRange {
                first,
                last: last.map_or(len - 1, |l| l.min(len - 1)),
            }),
            Spec::Suffix(suffix) if suffix > 0 && len > 0 => Some(ByteRange {
                first: len - suffix.min(len),
                last: len - 1,
            }),
            _ => None,
        }
    }
}

/// `bytes=` followed by a list of specs; `None` when the field is not one we can use, which
/// means the Range is ignored (§14.2: a server MAY ignore a Range it does not understand).
fn parse(header: &str) -> Option<Vec<Spec>> {
    let (unit, list) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return None;
    }
    let mut specs = Vec::new();
    for element in list.split(',') {
        let element = element.trim_matches([' ', '\t']);
        if element.is_empty() {
            continue;
        }
        if specs.len() == MAX_RANGE_SPECS {
            return None;
        }
        let (first, last) = element.split_once('-')?;
        let spec = if first.is_empty() {
            Spec::Suffix(number(last)?)
        } else {
            let first = number(first)?;
            let last = if last.is_empty() {
                None
            } else {
                Some(number(last)?)
            };
            if last.is_some_and(|last| last < first) {
                return None;
            }
            Spec::From { first, last }
        };
        specs.push(spec);
    }
    if specs.is_empty() { None } else { Some(specs) }
}

fn number(digits: &str) -> Option<u64> {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn partial(pairs: &[(u64, u64)]) -> Ranges {
        Ranges::Partial(
            pairs
                .iter()
                .map(|&(first, last)| ByteRange { first, last })
                .collect(),
        )
    }

    #[test]
    fn single_ranges() {
        assert_eq!(evaluate("bytes=0-9", 100), partial(&[(0, 9)]));
        assert_eq!(evaluate("bytes=90-", 100), partial(&[(90, 99)]));
        assert_eq!(evaluate("bytes=-10", 100), partial(&[(90, 99)]));
        assert_eq!(evaluate("bytes=-1000", 100), partial(&[(0, 99)]));
        assert_eq!(evaluate("bytes=50-1000", 100), partial(&[(50, 99)]));
        assert_eq!(evaluate("BYTES = 1-1", 100), partial(&[(1, 1)]));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(evaluate("bytes=100-", 100), Ranges::Unsatisfiable);
        assert_eq!(evaluate("bytes=-0", 100), Ranges::Unsatisfiable);
        assert_eq!(evaluate("bytes=0-", 0), Ranges::Unsatisfiable);
        assert_eq!(
            evaluate("bytes=200-300, 100-150", 100),
            Ranges::Unsatisfiable
        );
    }

    #[test]
    fn invalid_is_ignored() {
        for header in [
            "bytes=5-1",
            "bytes=a-b",
            "items=0-1",
            "bytes=",
            "bytes=--1",
            "bytes 0-1",
            "bytes=0-1-2",
            "bytes=+1-2",
        ] {
            assert_eq!(evaluate(header, 100), Ranges::Whole, "{header}");
        }
    }

    #[test]
    fn overlapping_and_adjacent_ranges_coalesce() {
        assert_eq!(
            evaluate("bytes=0-9,5-19,20-29,50-59", 100),
            partial(&[(0, 29), (50, 59)])
        );
        assert_eq!(
            evaluate("bytes=50-59,0-9", 100),
            partial(&[(0, 9), (50, 59)])
        );
        // A classic amplification request: the same range many times costs one range.
        let repeated = format!("bytes={}", vec!["0-99"; 50].join(","));
        assert_eq!(evaluate(&repeated, 100), partial(&[(0, 99)]));
    }

    #[test]
    fn too_many_ranges_get_the_whole_file() {
        let many: Vec<String> = (0..17).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
        assert_eq!(
            evaluate(&format!("bytes={}", many.join(",")), 1000),
            Ranges::Whole
        );
        let sixteen: Vec<String> = (0..16).map(|i| format!("{}-{}", i * 10, i * 10)).collect();
        assert!(
            matches!(evaluate(&format!("bytes={}", sixteen.join(",")), 1000), Ranges::Partial(r) if r.len() == 16)
        );
    }
}
