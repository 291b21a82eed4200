//! Links in a listing: every `href` is a relative reference that resolves to the entry it
//! names and can never be read as a scheme, another host, a query, a fragment or an entity.
//!
//! A name becomes `./` and the name with every byte outside RFC 3986 §2.3's unreserved set
//! percent-encoded. The `./` keeps a name with `:` from being a scheme (`javascript:`, RFC 3986
//! §4.2); encoding `/` keeps `//evil.com` from being an authority; `#`, `?` and `%` cannot
//! change what the link names; `&` and `;` cannot form an entity in the attribute. Bytes that
//! are not UTF-8 are encoded like any other, and path resolution decodes them back.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

/// Everything but the unreserved characters ALPHA DIGIT `-` `.` `_` `~`.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment, percent-encoded so that it holds only unreserved characters and `%XX`.
pub(crate) fn segment(name: &[u8]) -> String {
    percent_encode(name, NOT_UNRESERVED).collect()
}

/// [`push_entry`] as a string of its own.
#[cfg(test)]
pub(crate) fn entry(name: &[u8], is_dir: bool) -> Option<String> {
    let mut href = String::new();
    push_entry(&mut href, name, is_dir).then_some(href)
}

/// Writes the link to a directory entry, relative to the listing, at the end of `out`:
/// `./name`, or `./name/` for a directory. `false`, and nothing written, for a name holding
/// `\`: path resolution answers 400 for a `\`, even percent-encoded (some clients read it as
/// `/`), so such a link could only fail.
pub(crate) fn push_entry(out: &mut String, name: &[u8], is_dir: bool) -> bool {
    if name.contains(&b'\\') {
        return false;
    }
    out.push_str("./");
    out.extend(percent_encode(name, NOT_UNRESERVED));
    if is_dir {
        out.push('/');
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_relative_and_fully_encoded() {
        let cases: [(&[u8], bool, Option<&str>); 14] = [
            (
                b"javascript:alert(1)",
                false,
                Some("./javascript%3Aalert%281%29"),
            ),
            (b"data:text/html,x", false, Some("./data%3Atext%2Fhtml%2Cx")),
            (b"x&amp;y.txt", false, Some("./x%26amp%3By.txt")),
            (b"//evil.com", true, Some("./%2F%2Fevil.com/")),
            (b"#frag", false, Some("./%23frag")),
            (b"?q", false, Some("./%3Fq")),
            (b"%41", false, Some("./%2541")),
            (b"-rf", false, Some("./-rf")),
            (b"...", true, Some("./.../")),
            (b"a b+c=d@e", false, Some("./a%20b%2Bc%3Dd%40e")),
            (b"\"<'>\"", false, Some("./%22%3C%27%3E%22")),
            (b"a-b_c.d~e", false, Some("./a-b_c.d~e")),
            ("caf\u{e9}".as_bytes(), false, Some("./caf%C3%A9")),
            (b"C:\\x", false, None),
        ];
        for (name, is_dir, expected) in cases {
            assert_eq!(entry(name, is_dir).as_deref(), expected, "{name:?}");
        }
        assert_eq!(entry(b"\xff\xfe", false).as_deref(), Some("./%FF%FE"));
    }

    #[test]
    fn encoded_links_decode_to_the_name() {
        for name in [
            &b"x&amp;y.txt"[..],
            b"%",
            b"100%",
            b"\xff",
            "日本語".as_bytes(),
        ] {
            let href = entry(name, false).unwrap();
            let decoded: Vec<u8> = percent_encoding::percent_decode_str(&href[2..]).collect();
            assert_eq!(decoded, name);
        }
    }
}
