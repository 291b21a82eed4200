//! An HTML index of a directory that has no index file, when `--listing` is on (step 6 of the
//! pipeline in `fs/mod.rs`).
//!
//! - `href.rs`: each entry's link, which resolves to that entry and nothing else.
//! - `sort.rs`: the `?sort=&order=` query and natural name order, directories first.
//! - `html.rs`: the page itself, escaped, styled once in the head, readable without script.
//!
//! Entries are stat'ed through the same confined open as requests, so a symlink pointing
//! outside the root is left out, not described. A listing carries no file version, so the
//! response cache never keeps one: every request reads the directory again.

mod href;
mod html;
pub(crate) mod sort;

use std::fs::Metadata;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::time::SystemTime;

use crate::fs::open::RootDir;
use crate::fs::path::Resolved;
use sort::Order;

/// A listing runs no script and loads nothing: should a name ever slip through unescaped, the
/// browser still refuses to run it. Styles are inline in the page; icons would be `data:`.
pub(crate) const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

/// Folder and file names can be private; a listing's URL is never sent to another site, even
/// if a future page gains an outside link. Costs only the Referer of clicks within the listing.
pub(crate) const REFERRER_POLICY: &str = "no-referrer";

/// One directory entry, as listed.
pub(crate) struct Entry {
    /// The name as the file system has it: linked to byte for byte.
    name: Vec<u8>,
    /// The name as shown and sorted: see [`display_text`].
    text: String,
    is_dir: bool,
    size: u64,
    modified: Option<SystemTime>,
}

/// Renders the listing of the directory open as `dir`, found at `resolved` under `root`, in
/// the order the request's query asks for.
pub(crate) fn render(
    root: &RootDir,
    dir: &std::fs::File,
    resolved: &Resolved,
    query: Option<&str>,
    show_hidden: bool,
) -> io::Result<String> {
    // Reading through /proc/self/fd lists exactly the directory that was opened, even if a path
    // component was renamed since.
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))? {
        let name = entry?.file_name().as_bytes().to_vec();
        if name.first() == Some(&b'.') && !show_hidden {
            continue;
        }
        if let Ok(opened) = root.open_beneath(&resolved.child(&name)) {
            entries.push(entry_for(name, &opened.meta));
        }
    }
    let order = Order::from_query(query);
    order.sort(&mut entries);
    Ok(html::page(&resolved.segments, &entries, order))
}

fn entry_for(name: Vec<u8>, meta: &Metadata) -> Entry {
    Entry {
        text: display_text(&name),
        name,
        is_dir: meta.is_dir(),
        size: meta.len(),
        modified: meta.modified().ok(),
    }
}

/// A name as text to show: invalid UTF-8 becomes U+FFFD, and so do control characters and
/// bidirectional overrides, which could make `x\u{202e}txt.exe` look like `xexe.txt`.
fn display_text(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                char::REPLACEMENT_CHARACTER
            } else {
                c
            }
        })
        .collect()
}

/// Unicode's bidirectional formatting characters (UAX #9 §2).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shown_text_is_safe_to_read() {
        assert_eq!(display_text(b"caf\xc3\xa9"), "café");
        assert_eq!(display_text(b"a\xffb"), "a\u{fffd}b");
        assert_eq!(display_text("x\u{202e}y".as_bytes()), "x\u{fffd}y");
        assert_eq!(display_text(b"tab\there"), "tab\u{fffd}here");
    }
}
