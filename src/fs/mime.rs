//! Content-Type from a file name (mime_guess's table), with a charset on text.

use std::borrow::Cow;

/// Unknown types are sent as bytes for the client to save, never sniffed (we also send
/// `X-Content-Type-Options: nosniff`).
pub const FALLBACK: &str = "application/octet-stream";

/// The Content-Type for a file named `name`.
pub fn content_type(name: &[u8]) -> Cow<'static, str> {
    let extension = match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => &name[dot + 1..],
        _ => return Cow::Borrowed(FALLBACK),
    };
    let Some(mime) = std::str::from_utf8(extension)
        .ok()
        .and_then(|ext| mime_guess::from_ext(ext).first_raw())
    else {
        return Cow::Borrowed(FALLBACK);
    };
    if needs_charset(mime) {
        Cow::Owned(format!("{mime}; charset=utf-8"))
    } else {
        Cow::Borrowed(mime)
    }
}

/// Text types default to US-ASCII or ISO-8859-1 in old clients; sites today are UTF-8.
fn needs_charset(mime: &str) -> bool {
    mime.starts_with("text/") || mime == "application/javascript" || mime == "application/json"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_types() {
        assert_eq!(content_type(b"index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type(b"a.PNG"), "image/png");
        assert_eq!(content_type(b"archive.unknownext"), FALLBACK);
        assert_eq!(content_type(b"Makefile"), FALLBACK);
        assert_eq!(content_type(b".bashrc"), FALLBACK);
    }
}
