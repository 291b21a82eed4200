//! The order of a listing: the `?sort=name|size|date&order=asc|desc` query, and natural order
//! for names (`file2` before `file10`, `a` beside `A`).
//!
//! Directories always come first. Ties are broken by the raw name bytes, so the order is total
//! and the same on every request.
//!
//! Names are compared by a key made once per entry ([`natural_key`]), whose bytes compare as
//! [`natural_cmp`] compares the names: a sort makes about 17 comparisons per entry of a
//! 100,000-entry folder, and each would otherwise fold the case of every character again.

use std::cmp::Ordering;

use super::Entry;

/// The column a listing is sorted by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Column {
    Name,
    Size,
    Date,
}

impl Column {
    pub(crate) const ALL: [Column; 3] = [Column::Name, Column::Size, Column::Date];

    /// The value of `sort=` in the query.
    pub(crate) fn token(self) -> &'static str {
        match self {
            Column::Name => "name",
            Column::Size => "size",
            Column::Date => "date",
        }
    }
}

/// How a listing is sorted; the default is by name, ascending.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Order {
    pub column: Column,
    pub descending: bool,
}

impl Order {
    pub(crate) const DEFAULT: Order = Order {
        column: Column::Name,
        descending: false,
    };

    /// Reads `sort=` and `order=` from a query. Anything else, or a value we do not know, leaves
    /// the default: a listing never fails because of its query.
    pub(crate) fn from_query(query: Option<&str>) -> Order {
        let mut order = Order::DEFAULT;
        for pair in query.unwrap_or("").split('&') {
            match pair.split_once('=') {
                Some(("sort", "name")) => order.column = Column::Name,
                Some(("sort", "size")) => order.column = Column::Size,
                Some(("sort", "date")) => order.column = Column::Date,
                Some(("order", "asc")) => order.descending = false,
                Some(("order", "desc")) => order.descending = true,
                _ => {}
            }
        }
        order
    }

    /// The query that asks for this order, with both fields: one URL per order.
    pub(crate) fn query(self) -> String {
        let direction = if self.descending { "desc" } else { "asc" };
        format!("?sort={}&order={direction}", self.column.token())
    }

    /// Sorts `entries`: directories first, then by the column (names naturally), in the
    /// chosen direction.
    pub(crate) fn sort(self, entries: &mut [Entry]) {
        entries.sort_unstable_by(|a, b| self.compare(a, b));
    }

    /// Keeps the first `limit` entries in this order, sorted, and says how many were left
    /// out. Only those are sorted: the rest are only partitioned off.
    pub(crate) fn sort_first(self, entries: &mut Vec<Entry>, limit: usize) -> usize {
        let left_out = entries.len().saturating_sub(limit);
        if left_out > 0 {
            entries.select_nth_unstable_by(limit, |a, b| self.compare(a, b));
            entries.truncate(limit);
        }
        self.sort(entries);
        left_out
    }

    /// The order itself; total, since two entries of a folder never have the same name.
    fn compare(self, a: &Entry, b: &Entry) -> Ordering {
        let by_column = match self.column {
            Column::Name => Ordering::Equal,
            // A directory's size is the file system's, not its content's: not shown, and
            // not sorted by.
            Column::Size => size(a).cmp(&size(b)),
            Column::Date => a.modified.cmp(&b.modified),
        };
        let within = by_column
            .then_with(|| a.key.cmp(&b.key))
            .then_with(|| a.name.cmp(&b.name));
        let within = if self.descending {
            within.reverse()
        } else {
            within
        };
        b.is_dir.cmp(&a.is_dir).then(within)
    }
}

fn size(entry: &Entry) -> u64 {
    if entry.is_dir { 0 } else { entry.size }
}

/// Natural order: runs of ASCII digits compare as numbers (`2` < `10`, any length, no
/// overflow), everything else char by char, ignoring case. `Equal` can hold for different
/// names (`a` and `A`, `01` and `1`); the caller breaks the tie. The definition that sorting
/// follows through [`natural_key`], and the tests hold the key to.
#[cfg(test)]
pub(crate) fn natural_cmp(a: &str, b: &str) -> Ordering {
    let (mut i, mut j) = (0, 0);
    while let (Some(x), Some(y)) = (a[i..].chars().next(), b[j..].chars().next()) {
        if x.is_ascii_digit() && y.is_ascii_digit() {
            let end_a = i + digits(&a[i..]);
            let end_b = j + digits(&b[j..]);
            let (n, m) = (
                a[i..end_a].trim_start_matches('0'),
                b[j..end_b].trim_start_matches('0'),
            );
            // Without leading zeros, a longer run is a larger number.
            let order = n.len().cmp(&m.len()).then_with(|| n.cmp(m));
            if order != Ordering::Equal {
                return order;
            }
            (i, j) = (end_a, end_b);
        } else {
            let order = fold(x).cmp(&fold(y));
            if order != Ordering::Equal {
                return order;
            }
            (i, j) = (i + x.len_utf8(), j + y.len_utf8());
        }
    }
    (i < a.len()).cmp(&(j < b.len()))
}

/// Bytes that compare as [`natural_cmp`] compares `text`: each char folded (UTF-8 bytes
/// compare as code points), and each run of ASCII digits as `0`, the length of the run without
/// its leading zeros, and those digits. No other char encodes to a `0` byte, and a run's first
/// byte sits where its first digit would, so a run compares with any other char as that digit
/// does; two runs compare by length, then digit by digit, as numbers. A name is at most 255
/// bytes (NAME_MAX), so one byte holds the length; longer text saturates it.
pub(crate) fn natural_key(text: &str) -> Box<[u8]> {
    let mut key = Vec::with_capacity(text.len() + 4);
    let mut i = 0;
    while let Some(c) = text[i..].chars().next() {
        if c.is_ascii_digit() {
            let end = i + digits(&text[i..]);
            let run = text[i..end].trim_start_matches('0');
            key.push(b'0');
            key.push(u8::try_from(run.len()).unwrap_or(u8::MAX));
            key.extend_from_slice(run.as_bytes());
            i = end;
        } else if c.is_ascii() {
            key.push(c.to_ascii_lowercase() as u8);
            i += 1;
        } else {
            let mut buffer = [0u8; 4];
            key.extend_from_slice(fold(c).encode_utf8(&mut buffer).as_bytes());
            i += c.len_utf8();
        }
    }
    key.into()
}

fn digits(text: &str) -> usize {
    text.bytes().take_while(u8::is_ascii_digit).count()
}

/// A char without its case; the first char of its lowercase form is enough to put `É` beside
/// `é`.
fn fold(c: char) -> char {
    c.to_lowercase().next().unwrap_or(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<&str> = names.to_vec();
        names.sort_by(|a, b| natural_cmp(a, b).then_with(|| a.cmp(b)));
        names.into_iter().map(str::to_owned).collect()
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(
            sorted(&["file10", "file2", "file1", "file02", "file100"]),
            ["file1", "file02", "file2", "file10", "file100"]
        );
        assert_eq!(
            sorted(&["a10b2", "a10b10", "a9"]),
            ["a9", "a10b2", "a10b10"]
        );
        // Longer than any integer type.
        let big = "x123456789012345678901234567890";
        let bigger = "x223456789012345678901234567890";
        assert_eq!(natural_cmp(big, bigger), Ordering::Less);
        assert_eq!(natural_cmp("x9", big), Ordering::Less);
    }

    #[test]
    fn case_is_ignored_and_ties_are_deterministic() {
        assert_eq!(sorted(&["b", "a", "B", "A"]), ["A", "a", "B", "b"]);
        assert_eq!(natural_cmp("Café", "cafÉ"), Ordering::Equal);
        assert_eq!(natural_cmp("abc", "ABD"), Ordering::Less);
    }

    #[test]
    fn prefixes_come_first() {
        assert_eq!(natural_cmp("a", "ab"), Ordering::Less);
        assert_eq!(natural_cmp("ab", "a"), Ordering::Greater);
        assert_eq!(natural_cmp("", ""), Ordering::Equal);
        assert_eq!(natural_cmp("1", "1a"), Ordering::Less);
    }

    proptest::proptest! {
        /// The key orders names exactly as `natural_cmp` does: digits, letters of both cases,
        /// punctuation around `0` in ASCII, and chars beyond ASCII.
        #[test]
        fn keys_compare_as_names(a in "[0-9a-cA-C./:_é€😀]{0,12}", b in "[0-9a-cA-C./:_é€😀]{0,12}") {
            proptest::prop_assert_eq!(natural_key(&a).cmp(&natural_key(&b)), natural_cmp(&a, &b));
        }
    }

    #[test]
    fn keys_compare_as_names_in_known_cases() {
        for (a, b) in [
            ("file2", "file10"),
            ("a", "A"),
            ("x9", "x10a"),
            ("007", "7"),
            ("1", "1a"),
            ("a1b", "a01c"),
            ("/", "0"),
            ("9", ":"),
            ("Café", "cafÉ"),
        ] {
            assert_eq!(
                natural_key(a).cmp(&natural_key(b)),
                natural_cmp(a, b),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn queries() {
        assert_eq!(Order::from_query(None), Order::DEFAULT);
        assert_eq!(
            Order::from_query(Some("sort=bogus&order=up")),
            Order::DEFAULT
        );
        let size_desc = Order {
            column: Column::Size,
            descending: true,
        };
        assert_eq!(Order::from_query(Some("sort=size&order=desc")), size_desc);
        assert_eq!(size_desc.query(), "?sort=size&order=desc");
        assert_eq!(
            Order::from_query(Some("order=asc&sort=date&x=1")).column,
            Column::Date
        );
    }
}
