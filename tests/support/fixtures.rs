//! On-disk fixtures: a site tree whose every edge case is a real file, and deterministic bytes.

use std::path::{Path, PathBuf};

/// A site tree for tests, inside a temporary folder that also holds a secret *beside* the root:
///
/// ```text
/// tmp/secret.txt            never to be served
/// tmp/outside/              a directory outside the root
/// tmp/root/index.html, hello.txt, empty.txt, data.bin (200 KiB), page.html
///         sub/index.html    nodir/<script>.txt, nodir/a b.txt, nodir/.hidden
///         .env, .git/config, .well-known/acme.txt
///         link-in.txt -> hello.txt          link-out.txt -> ../secret.txt
///         link-abs-in.txt -> /abs/root/hello.txt   link-dir-out -> ../outside
/// ```
pub(crate) struct Site {
    pub dir: tempfile::TempDir,
}

pub(crate) const SECRET: &str = "TOP-SECRET-do-not-serve";

impl Site {
    pub(crate) fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("nodir")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join(".well-known")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        std::fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        std::fs::write(root.join("hello.txt"), "hello, world\n").unwrap();
        std::fs::write(root.join("page.html"), "<p>page</p>\n").unwrap();
        std::fs::write(root.join("empty.txt"), "").unwrap();
        std::fs::write(root.join("data.bin"), pattern(200 * 1024)).unwrap();
        std::fs::write(root.join("sub/index.html"), "<h1>sub</h1>\n").unwrap();
        std::fs::write(root.join("nodir/<script>.txt"), "x").unwrap();
        std::fs::write(root.join("nodir/a b.txt"), "y").unwrap();
        std::fs::write(root.join("nodir/.hidden"), "z").unwrap();
        std::fs::write(root.join(".env"), SECRET).unwrap();
        std::fs::write(root.join(".git/config"), SECRET).unwrap();
        std::fs::write(root.join(".well-known/acme.txt"), "token").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, root.join(name)).unwrap()
        };
        link(Path::new("hello.txt"), "link-in.txt");
        link(Path::new("../secret.txt"), "link-out.txt");
        link(&root.join("hello.txt"), "link-abs-in.txt");
        link(Path::new("../outside"), "link-dir-out");
        Site { dir }
    }

    pub(crate) fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub(crate) fn root_arg(&self) -> String {
        self.root().to_string_lossy().into_owned()
    }
}

/// Deterministic bytes that make an offset error visible.
pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Writes `text` to `dir/name`, making its folders, and returns the path.
pub(crate) fn write_file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

/// `line:column` (1-based, the column in characters) where `needle` first occurs in `text`:
/// where forkhttpd must place a problem in a configuration file, computed from the file's text
/// so that expected places follow edits to it.
pub(crate) fn place_of(text: &str, needle: &str) -> String {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} in the file"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    format!("{line}:{column}")
}

/// Runs `forkhttpd -t -c FILE` on `text` (beside a `www/index.html`), which must fail, and
/// returns the file, its problem lines, and the folder that holds them.
pub(crate) fn config_problems(text: &str) -> (PathBuf, Vec<String>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let file = write_file(dir.path(), "site.toml", text);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-t", "-c", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (file, stderr.lines().map(str::to_owned).collect(), dir)
}

/// Asserts that `lines` has a problem at `needle`'s place in `text` that says `words`.
pub(crate) fn assert_placed(file: &Path, lines: &[String], text: &str, needle: &str, words: &str) {
    let place = format!("{}:{}: ", file.display(), place_of(text, needle));
    assert!(
        lines
            .iter()
            .any(|l| l.contains(&place) && l.contains(words)),
        "no {words:?} at {place} in:\n{}",
        lines.join("\n")
    );
}
