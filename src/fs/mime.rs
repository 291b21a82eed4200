//! Content-Type from a file name: the `fs` pipeline's representation step asks the site's
//! [`Types`] once per file (the response cache keeps the answer for small files). The first
//! of these that knows the name answers:
//!
//! 1. the site's own `[site.types]`, by extension, sent as written;
//! 2. the files a website is made of, in our own table (`WEB_TYPES`), which follows the IANA
//!    media type registry and, where browsers depend on it, the WHATWG (`.js` and `.mjs` are
//!    `text/javascript` by RFC 9239 and the HTML standard);
//! 3. source code and other text formats that mime_guess sends as something a browser would
//!    save rather than show, or not at all (`TEXT_EXTENSIONS`): `text/plain; charset=utf-8`;
//! 4. mime_guess's table, for every other extension; its entries for web files lag the
//!    registry (`.mjs` `application/javascript`, `.woff` `application/font-woff`, `.m4a`
//!    `audio/m4a`, `.map` `text/plain`), which is why the web files come first;
//! 5. the text files a project ships, by name (`README`, `LICENSE`, `Makefile`: `TEXT_NAMES`),
//!    when no table knows their extension: `text/plain; charset=utf-8`;
//! 6. the site's `default_type`, else `application/octet-stream`.
//!
//! Every file goes out with `X-Content-Type-Options: nosniff`, so a browser does not guess past
//! the type said here: it shows a `text/` type and saves `application/octet-stream`. nginx's
//! compiled-in `default_type` is `text/plain`; we keep bytes for names we know nothing of, and
//! show the ones we know are text.

use std::borrow::Cow;

/// Names no table knows are sent as bytes for the client to save, never sniffed, unless the
/// site sets `default_type`.
pub(crate) const FALLBACK: &str = "application/octet-stream";

/// What source code and a project's text files are sent as, so that a browser shows them.
const PLAIN_TEXT: &str = "text/plain; charset=utf-8";

/// Web files by extension (lower case), sorted for binary search. Text types carry
/// `charset=utf-8`: without it old clients read them as US-ASCII or ISO-8859-1, and sites today
/// are written in UTF-8. XML types carry none: their own encoding declaration must win
/// (RFC 7303 §3).
const WEB_TYPES: &[(&str, &str)] = &[
    ("aac", "audio/aac"),
    ("apng", "image/apng"),
    ("atom", "application/atom+xml"),
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("eot", "application/vnd.ms-fontobject"),
    ("epub", "application/epub+zip"),
    ("flac", "audio/flac"),
    ("gif", "image/gif"),
    ("glb", "model/gltf-binary"),
    ("gltf", "model/gltf+json"),
    ("gz", "application/gzip"),
    ("htm", "text/html; charset=utf-8"),
    ("html", "text/html; charset=utf-8"),
    ("ico", "image/vnd.microsoft.icon"),
    ("ics", "text/calendar; charset=utf-8"),
    ("jpeg", "image/jpeg"),
    ("jpg", "image/jpeg"),
    ("js", "text/javascript; charset=utf-8"),
    ("json", "application/json"),
    ("jsonld", "application/ld+json"),
    ("jxl", "image/jxl"),
    ("m4a", "audio/mp4"),
    ("m4v", "video/mp4"),
    ("map", "application/json"),
    ("md", "text/markdown; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("mov", "video/quicktime"),
    ("mp3", "audio/mpeg"),
    ("mp4", "video/mp4"),
    ("oga", "audio/ogg"),
    ("ogg", "audio/ogg"),
    ("ogv", "video/ogg"),
    ("opus", "audio/ogg"),
    ("otf", "font/otf"),
    ("pdf", "application/pdf"),
    ("png", "image/png"),
    ("rss", "application/rss+xml"),
    ("svg", "image/svg+xml"),
    ("tar", "application/x-tar"),
    ("tif", "image/tiff"),
    ("tiff", "image/tiff"),
    ("ttf", "font/ttf"),
    ("txt", "text/plain; charset=utf-8"),
    ("vtt", "text/vtt; charset=utf-8"),
    ("wasm", "application/wasm"),
    ("wav", "audio/wav"),
    ("webm", "video/webm"),
    ("webmanifest", "application/manifest+json"),
    ("webp", "image/webp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("xhtml", "application/xhtml+xml"),
    ("xml", "application/xml"),
    ("yaml", "application/yaml"),
    ("yml", "application/yaml"),
    ("zip", "application/zip"),
    ("zst", "application/zstd"),
];

/// Text formats sent as `text/plain; charset=utf-8` (lower case, sorted for binary search):
/// source code and markup meant to be read, which mime_guess does not know (most of them) or
/// sends as a type a browser saves: `java` (`application/octet-stream`), `sh`
/// (`application/x-sh`), `pl` and `pm` (`application/x-perl`), `sql` (`application/x-sql`),
/// `tex` (`application/x-tex`), `dart` (`application/vnd.dart`), `org` (`application/
/// vnd.lotus-organizer`: Lotus Organizer's files, long gone; Org mode's are everywhere).
/// What mime_guess already sends as text stays as it says (`.c`, `.h`, `.cpp`, `.py`, `.ini`,
/// `.conf`, `.log` `text/plain`; `.rs` `text/x-rust`, `.toml` `text/x-toml`, `.lua`
/// `text/x-lua`): any `text/` type is shown, and gets `charset=utf-8` like these.
///
/// Left out on purpose: `ts`, also the MPEG transport stream of HLS video segments, which
/// mime_guess sends as video and so do we (`tsx` is TypeScript only); single letters (`.v`,
/// `.m`, `.d`, `.r`), each the extension of several languages and formats.
const TEXT_EXTENSIONS: &[&str] = &[
    "adoc",
    "asciidoc",
    "bash",
    "bib",
    "clj",
    "cljc",
    "cljs",
    "cmake",
    "dart",
    "diff",
    "edn",
    "el",
    "erl",
    "ex",
    "exs",
    "fish",
    "gemspec",
    "go",
    "gradle",
    "groovy",
    "hcl",
    "hrl",
    "hs",
    "java",
    "jl",
    "kt",
    "kts",
    "lhs",
    "ml",
    "mli",
    "nim",
    "nix",
    "org",
    "patch",
    "pl",
    "pm",
    "properties",
    "proto",
    "ps1",
    "pyi",
    "rb",
    "rst",
    "scala",
    "sh",
    "sql",
    "swift",
    "tex",
    "tf",
    "tsx",
    "zig",
    "zsh",
];

/// The text files a project ships, by name (lower case; matched in any case). Asked only when
/// no table knows the name's extension, a name is one of them if it is one of these alone
/// (`README`, `makefile`), or followed by `.` (`LICENSE.MIT`, `Makefile.am`, `Dockerfile.dev`)
/// or `-` (`LICENSE-MIT`, `LICENSE-APACHE`, as Rust crates ship them) and more. So `README.md`
/// and `LICENSE.txt` keep their extension's type, and `README.bin` is what mime_guess says
/// `.bin` is.
const TEXT_NAMES: &[&str] = &[
    "authors",
    "brewfile",
    "caddyfile",
    "changelog",
    "changes",
    "codeowners",
    "containerfile",
    "contributing",
    "contributors",
    "copying",
    "copyright",
    "dockerfile",
    "gemfile",
    "gnumakefile",
    "history",
    "install",
    "jenkinsfile",
    "justfile",
    "licence",
    "license",
    "maintainers",
    "makefile",
    "news",
    "notice",
    "podfile",
    "procfile",
    "rakefile",
    "readme",
    "thanks",
    "todo",
    "vagrantfile",
];

/// A site's table of types: the built-in tables above, with the site's own entries
/// (`[site.types]`) before them and its `default_type` after them.
#[derive(Clone, Debug)]
pub struct Types {
    /// `[site.types]`: extensions in lower case, sorted, and their types, which win over every
    /// table. Empty for most sites, which then pay nothing for it.
    overrides: Box<[(Box<str>, &'static str)]>,
    /// `default_type`: for names no table knows and that are no project's text file.
    default: &'static str,
}

impl Default for Types {
    fn default() -> Types {
        Types {
            overrides: Box::default(),
            default: FALLBACK,
        }
    }
}

impl Types {
    /// A site's table: `overrides` are extensions (without the dot, in any case) and their
    /// types, `default` the `default_type`. Both are checked by the configuration, which
    /// interns the types so that every response borrows them.
    pub(crate) fn new(
        overrides: Vec<(String, &'static str)>,
        default: Option<&'static str>,
    ) -> Types {
        let mut overrides: Vec<(Box<str>, &'static str)> = (overrides.into_iter())
            .map(|(extension, mime)| (extension.to_ascii_lowercase().into(), mime))
            .collect();
        overrides.sort_by(|a, b| a.0.cmp(&b.0));
        overrides.dedup_by(|a, b| a.0 == b.0);
        Types {
            overrides: overrides.into(),
            default: default.unwrap_or(FALLBACK),
        }
    }

    /// The Content-Type this site sends for a file named `name`.
    pub(crate) fn content_type(&self, name: &[u8]) -> Cow<'static, str> {
        if let Some(extension) = extension(name) {
            if let Some(own) = self.own(extension) {
                return Cow::Borrowed(own);
            }
            if let Some(known) = builtin(extension) {
                return known;
            }
        }
        if is_text_name(name) {
            Cow::Borrowed(PLAIN_TEXT)
        } else {
            Cow::Borrowed(self.default)
        }
    }

    /// The site's own type for `extension`, compared without case.
    fn own(&self, extension: &[u8]) -> Option<&'static str> {
        if self.overrides.is_empty() {
            return None;
        }
        let lower = || extension.iter().map(u8::to_ascii_lowercase);
        (self.overrides)
            .binary_search_by(|(known, _)| known.bytes().cmp(lower()))
            .ok()
            .map(|i| self.overrides[i].1)
    }
}

/// What follows the last dot of `name`, unless that dot begins it (`.bashrc` has none).
fn extension(name: &[u8]) -> Option<&[u8]> {
    match name.iter().rposition(|&b| b == b'.') {
        Some(dot) if dot > 0 => Some(&name[dot + 1..]),
        _ => None,
    }
}

/// The type the built-in tables give `extension`, if one knows it.
fn builtin(extension: &[u8]) -> Option<Cow<'static, str>> {
    // Extensions in our tables are at most 11 bytes; longer ones cannot match.
    let mut lower = [0u8; 12];
    if let Some(lower) = lower.get_mut(..extension.len()) {
        lower.copy_from_slice(extension);
        lower.make_ascii_lowercase();
        let lower = &*lower;
        if let Ok(i) = WEB_TYPES.binary_search_by(|(ext, _)| ext.as_bytes().cmp(lower)) {
            return Some(Cow::Borrowed(WEB_TYPES[i].1));
        }
        if TEXT_EXTENSIONS
            .binary_search_by(|ext| ext.as_bytes().cmp(lower))
            .is_ok()
        {
            return Some(Cow::Borrowed(PLAIN_TEXT));
        }
    }
    let extension = std::str::from_utf8(extension).ok()?;
    match mime_guess::from_ext(extension).first_raw()? {
        "text/plain" => Some(Cow::Borrowed(PLAIN_TEXT)),
        mime if mime.starts_with("text/") => Some(Cow::Owned(format!("{mime}; charset=utf-8"))),
        mime => Some(Cow::Borrowed(mime)),
    }
}

/// Whether `name` is one of `TEXT_NAMES`, alone or before a `.` or `-`.
fn is_text_name(name: &[u8]) -> bool {
    let stem = name
        .split(|&b| b == b'.' || b == b'-')
        .next()
        .unwrap_or(name);
    TEXT_NAMES
        .iter()
        .any(|known| known.as_bytes().eq_ignore_ascii_case(stem))
}

/// Whether `value` is a media type as Content-Type carries it (RFC 9110 §8.3.1): `type/subtype`,
/// each a token, then any `; name=value` parameters, each value a token or a quoted string; no
/// control characters, no space at either end.
pub(crate) fn is_media_type(value: &str) -> bool {
    let bytes = value.as_bytes();
    let mut at = 0;
    let token = |at: &mut usize| {
        let start = *at;
        while bytes.get(*at).is_some_and(|&b| is_tchar(b)) {
            *at += 1;
        }
        *at > start
    };
    let ows = |at: &mut usize| {
        while matches!(bytes.get(*at), Some(b' ' | b'\t')) {
            *at += 1;
        }
    };
    if !token(&mut at) || bytes.get(at) != Some(&b'/') {
        return false;
    }
    at += 1;
    if !token(&mut at) {
        return false;
    }
    loop {
        if at == bytes.len() {
            return true;
        }
        ows(&mut at);
        if bytes.get(at) != Some(&b';') {
            return false;
        }
        at += 1;
        ows(&mut at);
        if !token(&mut at) || bytes.get(at) != Some(&b'=') {
            return false;
        }
        at += 1;
        if bytes.get(at) != Some(&b'"') {
            if !token(&mut at) {
                return false;
            }
            continue;
        }
        at += 1;
        loop {
            let text = |b: u8| b == b'\t' || (b' '..=b'~').contains(&b);
            match bytes.get(at) {
                Some(b'"') => break,
                Some(b'\\') if bytes.get(at + 1).is_some_and(|&b| text(b)) => at += 2,
                Some(&b) if b != b'\\' && text(b) => at += 1,
                _ => return false,
            }
        }
        at += 1;
    }
}

/// RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn content_type(name: &[u8]) -> Cow<'static, str> {
        Types::default().content_type(name)
    }

    #[test]
    fn tables_are_sorted_and_lower_case() {
        for pair in WEB_TYPES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        for (ext, _) in WEB_TYPES {
            assert_eq!(*ext, ext.to_ascii_lowercase());
            assert!(ext.len() < 12);
        }
        for table in [TEXT_EXTENSIONS, TEXT_NAMES] {
            for pair in table.windows(2) {
                assert!(pair[0] < pair[1], "{} before {}", pair[0], pair[1]);
            }
            for entry in table {
                assert_eq!(*entry, entry.to_ascii_lowercase());
                assert!(!entry.contains(['.', '-']), "{entry}");
            }
        }
        for ext in TEXT_EXTENSIONS {
            assert!(ext.len() < 12);
            assert!(web_type(ext).is_none(), "{ext} is a web file");
        }
    }

    fn web_type(ext: &str) -> Option<&'static str> {
        WEB_TYPES.iter().find(|(e, _)| *e == ext).map(|(_, t)| *t)
    }

    /// The common extensions of the web, checked against the IANA registry (and nginx's
    /// `mime.types` where it agrees with it; where not, the registry is named).
    #[test]
    fn common_web_extensions() {
        let expected = [
            ("index.html", "text/html; charset=utf-8"),
            ("old.htm", "text/html; charset=utf-8"),
            ("page.xhtml", "application/xhtml+xml"),
            ("site.css", "text/css; charset=utf-8"),
            ("app.js", "text/javascript; charset=utf-8"),
            ("module.mjs", "text/javascript; charset=utf-8"), // RFC 9239
            ("legacy.cjs", "text/javascript; charset=utf-8"),
            ("data.json", "application/json"),
            ("app.js.map", "application/json"), // source maps are JSON
            ("ld.jsonld", "application/ld+json"),
            ("site.webmanifest", "application/manifest+json"),
            ("feed.xml", "application/xml"), // RFC 7303; nginx: text/xml
            ("feed.atom", "application/atom+xml"),
            ("feed.rss", "application/rss+xml"),
            ("readme.txt", "text/plain; charset=utf-8"),
            ("table.csv", "text/csv; charset=utf-8"),
            ("notes.md", "text/markdown; charset=utf-8"), // RFC 7763
            ("subs.vtt", "text/vtt; charset=utf-8"),
            ("cal.ics", "text/calendar; charset=utf-8"),
            ("conf.yaml", "application/yaml"), // RFC 9512
            ("conf.yml", "application/yaml"),
            ("logo.svg", "image/svg+xml"),
            ("a.png", "image/png"),
            ("a.PNG", "image/png"),
            ("a.jpg", "image/jpeg"),
            ("a.jpeg", "image/jpeg"),
            ("a.gif", "image/gif"),
            ("a.webp", "image/webp"),
            ("a.avif", "image/avif"),
            ("a.apng", "image/apng"),
            ("a.jxl", "image/jxl"),
            ("favicon.ico", "image/vnd.microsoft.icon"), // nginx: image/x-icon
            ("a.bmp", "image/bmp"),
            ("a.tiff", "image/tiff"),
            ("a.tif", "image/tiff"),
            ("f.woff", "font/woff"),   // RFC 8081; nginx: font/woff
            ("f.woff2", "font/woff2"), // RFC 8081
            ("f.ttf", "font/ttf"),
            ("f.otf", "font/otf"),
            ("f.eot", "application/vnd.ms-fontobject"),
            ("v.mp4", "video/mp4"),
            ("v.m4v", "video/mp4"), // nginx: video/x-m4v, unregistered
            ("v.webm", "video/webm"),
            ("v.ogv", "video/ogg"),
            ("v.mov", "video/quicktime"),
            ("s.mp3", "audio/mpeg"),
            ("s.m4a", "audio/mp4"), // RFC 4337; nginx: audio/x-m4a
            ("s.aac", "audio/aac"),
            ("s.ogg", "audio/ogg"),
            ("s.oga", "audio/ogg"),
            ("s.opus", "audio/ogg"), // RFC 7845
            ("s.flac", "audio/flac"),
            ("s.wav", "audio/wav"),
            ("m.wasm", "application/wasm"),
            ("doc.pdf", "application/pdf"),
            ("a.zip", "application/zip"),
            ("a.gz", "application/gzip"),  // RFC 6713
            ("a.zst", "application/zstd"), // RFC 8878
            ("a.tar", "application/x-tar"),
            ("book.epub", "application/epub+zip"),
            ("m.glb", "model/gltf-binary"),
            ("m.gltf", "model/gltf+json"),
            ("a.7z", "application/x-7z-compressed"),
            (
                "a.docx",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
        ];
        assert!(expected.len() >= 60);
        for (name, mime) in expected {
            assert_eq!(content_type(name.as_bytes()), mime, "{name}");
        }
    }

    #[test]
    fn unknown_and_extensionless_names_are_bytes() {
        assert_eq!(content_type(b"archive.unknownext"), FALLBACK);
        assert_eq!(content_type(b"noext"), FALLBACK);
        assert_eq!(content_type(b".bashrc"), FALLBACK);
        assert_eq!(content_type(b"trailing."), FALLBACK);
        assert_eq!(content_type(b"x.averyveryverylongextension"), FALLBACK);
        assert_eq!(content_type(b"bad.\xff"), FALLBACK);
        assert_eq!(content_type(b""), FALLBACK);
    }

    /// A project's text files, in any case, alone or with an extension no table knows.
    #[test]
    fn a_project_s_text_files_are_shown() {
        for name in [
            "README",
            "readme",
            "LICENSE",
            "LICENCE",
            "COPYING",
            "COPYRIGHT",
            "copyright", // Debian's debian/copyright
            "CHANGELOG",
            "CHANGES",
            "AUTHORS",
            "NOTICE",
            "INSTALL",
            "TODO",
            "Makefile",
            "GNUmakefile",
            "Dockerfile",
            "Containerfile",
            "Vagrantfile",
            "Gemfile",
            "Rakefile",
            "Procfile",
            "Jenkinsfile",
            "LICENSE.MIT",
            "LICENSE-MIT",
            "LICENSE-APACHE",
            "COPYING.LESSER",
            "Makefile.am",
            "Dockerfile.dev",
            "README.rst", // .rst is text by itself
        ] {
            assert_eq!(content_type(name.as_bytes()), PLAIN_TEXT, "{name}");
        }
        // A known extension keeps its own type.
        assert_eq!(content_type(b"README.md"), "text/markdown; charset=utf-8");
        assert_eq!(content_type(b"LICENSE.txt"), PLAIN_TEXT);
        assert_eq!(content_type(b"README.html"), "text/html; charset=utf-8");
        assert_eq!(content_type(b"Makefile.zip"), "application/zip");
        assert_eq!(content_type(b"README.bin"), "application/octet-stream");
        // Only the name itself, not one that starts like it.
        assert_eq!(content_type(b"READMEFIRST"), FALLBACK);
        assert_eq!(content_type(b"my-readme"), FALLBACK);
        assert_eq!(content_type(b"x.README"), FALLBACK);
        assert_eq!(content_type(b".readme"), FALLBACK);
    }

    /// Source code and text formats are shown as text: ours as `text/plain`, those mime_guess
    /// already sends as text as it says.
    #[test]
    fn source_files_are_shown() {
        let plain = [
            "rst",
            "diff",
            "patch",
            "go",
            "java",
            "c",
            "h",
            "cc",
            "cpp",
            "hpp",
            "py",
            "rb",
            "pl",
            "pm",
            "sh",
            "bash",
            "ini",
            "cfg",
            "conf",
            "log",
            "adoc",
            "org",
            "tex",
            "kt",
            "swift",
            "sql",
            "properties",
            "gradle",
            "cmake",
            "el",
            "hs",
            "ml",
            "scala",
            "clj",
            "erl",
            "ex",
            "exs",
            "dart",
            "zig",
            "nim",
            "tsx",
        ];
        for ext in plain {
            let name = format!("x.{ext}");
            assert_eq!(content_type(name.as_bytes()), PLAIN_TEXT, "{name}");
            let upper = format!("X.{}", ext.to_ascii_uppercase());
            assert_eq!(content_type(upper.as_bytes()), PLAIN_TEXT, "{upper}");
        }
        assert_eq!(content_type(b"main.rs"), "text/x-rust; charset=utf-8");
        assert_eq!(content_type(b"Cargo.toml"), "text/x-toml; charset=utf-8");
        assert_eq!(content_type(b"init.lua"), "text/x-lua; charset=utf-8");
        for ext in TEXT_EXTENSIONS {
            let name = format!("x.{ext}");
            assert_eq!(content_type(name.as_bytes()), PLAIN_TEXT, "{name}");
        }
    }

    /// `.ts` is also an MPEG transport stream (HLS segments): it stays video.
    #[test]
    fn ts_stays_video() {
        let mime = content_type(b"segment0.ts");
        assert!(mime.starts_with("video/"), "{mime}");
    }

    #[test]
    fn a_site_s_types_win_over_every_table() {
        let types = Types::new(
            vec![
                ("md".into(), "text/plain; charset=utf-8"),
                ("foo".into(), "application/x-bar"),
                ("UPPER".into(), "text/x-up"),
                ("ts".into(), "text/typescript"),
                ("7z".into(), "application/x-mine"),
                ("go".into(), "text/x-go"),
            ],
            None,
        );
        assert_eq!(types.content_type(b"notes.md"), PLAIN_TEXT);
        assert_eq!(types.content_type(b"NOTES.MD"), PLAIN_TEXT);
        assert_eq!(types.content_type(b"a.foo"), "application/x-bar");
        assert_eq!(types.content_type(b"a.upper"), "text/x-up");
        assert_eq!(types.content_type(b"a.Upper"), "text/x-up");
        assert_eq!(types.content_type(b"app.ts"), "text/typescript");
        assert_eq!(types.content_type(b"a.7z"), "application/x-mine");
        assert_eq!(types.content_type(b"main.go"), "text/x-go");
        // The rest is as without them.
        assert_eq!(types.content_type(b"a.html"), "text/html; charset=utf-8");
        assert_eq!(types.content_type(b"README"), PLAIN_TEXT);
        assert_eq!(types.content_type(b"a.unknownext"), FALLBACK);
        assert_eq!(types.content_type(b"md"), FALLBACK);
    }

    #[test]
    fn default_type_is_for_names_no_table_knows() {
        let types = Types::new(Vec::new(), Some("application/x-foo"));
        assert_eq!(types.content_type(b"blob.unknownext"), "application/x-foo");
        assert_eq!(types.content_type(b"noext"), "application/x-foo");
        assert_eq!(types.content_type(b".bashrc"), "application/x-foo");
        assert_eq!(types.content_type(b"trailing."), "application/x-foo");
        assert_eq!(types.content_type(b"bad.\xff"), "application/x-foo");
        // Known names and extensions are not its.
        assert_eq!(types.content_type(b"README"), PLAIN_TEXT);
        assert_eq!(types.content_type(b"LICENSE.MIT"), PLAIN_TEXT);
        assert_eq!(types.content_type(b"x.go"), PLAIN_TEXT);
        assert_eq!(types.content_type(b"a.png"), "image/png");
        assert_eq!(types.content_type(b"a.7z"), "application/x-7z-compressed");
        assert_eq!(types.content_type(b"data.bin"), "application/octet-stream");
    }

    #[test]
    fn media_types_are_checked() {
        for good in [
            "text/plain",
            "text/plain; charset=utf-8",
            "text/plain;charset=utf-8",
            "application/x-foo",
            "application/vnd.api+json",
            "multipart/mixed; boundary=\"a b;c\"",
            "text/x-up; a=1 ; b=\"q\\\"uote\"",
        ] {
            assert!(is_media_type(good), "{good}");
        }
        for bad in [
            "",
            "nonsense",
            "bad",
            "text/",
            "/plain",
            "text /plain",
            "text/plain ",
            " text/plain",
            "text/plain;",
            "text/plain; charset",
            "text/plain; charset=",
            "text/plain; a=\"open",
            "text/plain\r\nX-Injected: 1",
            "text/plain\t",
            "text/plain, text/html",
            "text/pläin",
            "a/b/c",
        ] {
            assert!(!is_media_type(bad), "{bad:?}");
        }
    }
}
