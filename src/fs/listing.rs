//! An HTML index of a directory that has no index file, when `--listing` is on.
//!
//! Every name is HTML-escaped in text. Its link is `./` and the name with every byte outside
//! RFC 3986's unreserved set percent-encoded, so no name can be read as a scheme
//! (`javascript:alert(1)`), another host (`//evil.com`), a fragment, a query or an HTML entity.
//! Entries are stat'ed through the same confined open as requests, so a symlink pointing
//! outside the root is left out, not described.

use std::fmt::Write;
use std::fs::Metadata;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};

use crate::fs::open::RootDir;
use crate::fs::path::Resolved;

/// Everything but RFC 3986 §2.3 unreserved characters (ALPHA DIGIT `-` `.` `_` `~`). Encoding
/// `:` keeps a name from being a scheme; `&` and `;` from being read as an entity in the
/// attribute; `%`, `#` and `?` from changing what the link names.
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// A listing runs no script and loads nothing: should a name ever slip through unescaped, the
/// browser still refuses to run it. Styles are inline in the page; icons would be `data:`.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Folder and file names can be private; a listing's URL is never sent to another site, even
/// if a future page gains an outside link. Costs only the Referer of clicks within the listing.
pub const REFERRER_POLICY: &str = "no-referrer";

struct Entry {
    name: Vec<u8>,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// Renders the listing of the directory open as `dir`, found at `resolved` under `root`.
pub fn render(
    root: &RootDir,
    dir: &std::fs::File,
    resolved: &Resolved,
    show_hidden: bool,
) -> io::Result<String> {
    let relative = resolved.relative();
    // Reading through /proc/self/fd lists exactly the directory that was opened, even if a path
    // component was renamed since.
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        let name = entry?.file_name().as_bytes().to_vec();
        if name.first() == Some(&b'.') && !show_hidden {
            continue;
        }
        let mut path = relative.clone();
        if !path.is_empty() {
            path.push(b'/');
        }
        path.extend_from_slice(&name);
        if let Ok(opened) = root.open_beneath(&path) {
            entries.push(entry_for(name, &opened.meta));
        }
    }
    entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.cmp(&b.name)));

    let title = html_escape(&String::from_utf8_lossy(&percent_decoded_display(resolved)));
    let mut page = format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\"><title>Index of {title}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}td{{padding:0 1.5em 0 0}}\
         td.n{{text-align:right}}</style></head>\n<body><h1>Index of {title}</h1>\n<table>\n\
         <tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n"
    );
    if !resolved.segments.is_empty() {
        page.push_str("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n");
    }
    for entry in &entries {
        let slash = if entry.is_dir { "/" } else { "" };
        let text = html_escape(&String::from_utf8_lossy(&entry.name));
        let link = match href(&entry.name, entry.is_dir) {
            Some(href) => format!("<a href=\"{href}\">{text}{slash}</a>"),
            None => format!("{text}{slash}"),
        };
        let size = if entry.is_dir {
            "-".to_owned()
        } else {
            human_size(entry.size)
        };
        let modified = entry
            .modified
            .map(httpdate::fmt_http_date)
            .unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><td>{link}</td>\
             <td class=\"n\" title=\"{bytes} bytes\">{size}</td><td>{modified}</td></tr>",
            bytes = entry.size
        );
    }
    page.push_str("</table><hr><p>forkhttpd</p></body></html>\n");
    Ok(page)
}

/// The link to a directory entry, relative to the listing: `./name`, or `./name/` for a
/// directory. `None` for a name holding `\`: path resolution answers 400 for a `\`, even
/// percent-encoded (some clients read it as `/`), so such a link could only fail.
pub fn href(name: &[u8], is_dir: bool) -> Option<String> {
    if name.contains(&b'\\') {
        return None;
    }
    let mut href = String::from("./");
    href.extend(percent_encode(name, NOT_UNRESERVED));
    if is_dir {
        href.push('/');
    }
    Some(href)
}

fn entry_for(name: Vec<u8>, meta: &Metadata) -> Entry {
    Entry {
        name,
        is_dir: meta.is_dir(),
        size: meta.len(),
        modified: meta.modified().ok(),
    }
}

fn percent_decoded_display(resolved: &Resolved) -> Vec<u8> {
    let mut path = b"/".to_vec();
    for segment in &resolved.segments {
        path.extend_from_slice(segment);
        path.push(b'/');
    }
    path
}

/// Escapes the five characters that are special in HTML text and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            html_escape("<script>\"x\"&'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;"
        );
    }

    #[test]
    fn hrefs_are_relative_and_fully_encoded() {
        let cases: [(&[u8], bool, Option<&str>); 9] = [
            (
                b"javascript:alert(1)",
                false,
                Some("./javascript%3Aalert%281%29"),
            ),
            (b"x&amp;y.txt", false, Some("./x%26amp%3By.txt")),
            (b"//evil.com", true, Some("./%2F%2Fevil.com/")),
            (b"#frag", false, Some("./%23frag")),
            (b"?q", false, Some("./%3Fq")),
            (b"%41", false, Some("./%2541")),
            (b"a-b_c.d~e", false, Some("./a-b_c.d~e")),
            ("caf\u{e9}".as_bytes(), false, Some("./caf%C3%A9")),
            (b"C:\\x", false, None),
        ];
        for (name, is_dir, expected) in cases {
            assert_eq!(href(name, is_dir).as_deref(), expected, "{name:?}");
        }
        assert_eq!(href(b"\xff\xfe", false).as_deref(), Some("./%FF%FE"));
    }

    #[test]
    fn sizes() {
        assert_eq!(human_size(10), "10 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(16 << 20), "16.0 MiB");
    }
}
