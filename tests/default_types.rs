//! Content types as a client gets them for names the web's tables do not cover: a project's
//! text files and source code are shown (`text/plain; charset=utf-8`), other unknown names are
//! bytes (`application/octet-stream`) unless the site sets `default_type` (`--default-type`),
//! and a site's `[site.types]` wins over every table. Bad values are placed in the file.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{Server, assert_placed, config_problems, get, get_with, write_file};

const TEXT: &str = "text/plain; charset=utf-8";
const BYTES: &str = "application/octet-stream";

/// A root holding one file per case, and its folder.
fn root() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let www = dir.path().join("www");
    for name in [
        "README",
        "LICENSE",
        "Makefile",
        "x.rst",
        "x.diff",
        "x.go",
        "blob.unknownext",
        "noext",
        "notes.md",
        "a.foo",
        "a.upper",
        "index.html",
    ] {
        write_file(&www, name, &format!("{name}\n"));
    }
    (dir, www)
}

/// The Content-Type field exactly as it came over the wire, once.
fn content_type(server: &Server, name: &str) -> String {
    let response = get(server.addr(), &format!("/{name}"));
    assert_eq!(response.status, 200, "{name}: {}", response.head);
    assert_eq!(response.text(), format!("{name}\n"));
    assert!(
        response
            .head
            .contains("\r\nX-Content-Type-Options: nosniff\r\n"),
        "{name}: {}",
        response.head
    );
    let fields: Vec<&str> = (response.head.split("\r\n"))
        .filter_map(|line| line.strip_prefix("Content-Type: "))
        .collect();
    assert_eq!(fields.len(), 1, "{name}: {}", response.head);
    fields[0].to_string()
}

fn assert_types(server: &Server, expected: &[(&str, &str)]) {
    for (name, mime) in expected {
        assert_eq!(content_type(server, name), *mime, "{name}");
    }
}

#[test]
fn text_files_and_source_are_shown_and_the_rest_is_bytes() {
    let (_dir, www) = root();
    let server = Server::start(&[www.to_str().unwrap()]);
    assert_types(
        &server,
        &[
            ("README", TEXT),
            ("LICENSE", TEXT),
            ("Makefile", TEXT),
            ("x.rst", TEXT),
            ("x.diff", TEXT),
            ("x.go", TEXT),
            ("blob.unknownext", BYTES),
            ("noext", BYTES),
            ("notes.md", "text/markdown; charset=utf-8"),
        ],
    );
}

#[test]
fn default_type_on_the_command_line_is_for_unknown_names_only() {
    let (_dir, www) = root();
    let server = Server::start(&["--default-type", TEXT, www.to_str().unwrap()]);
    assert_types(
        &server,
        &[
            ("blob.unknownext", TEXT),
            ("noext", TEXT),
            ("README", TEXT),
            ("index.html", "text/html; charset=utf-8"),
        ],
    );
    let server = Server::start(&["--default-type", "application/x-foo", www.to_str().unwrap()]);
    assert_types(
        &server,
        &[
            ("blob.unknownext", "application/x-foo"),
            ("noext", "application/x-foo"),
            ("Makefile", TEXT),
            ("x.go", TEXT),
        ],
    );
}

#[test]
fn a_project_s_text_file_is_compressed_like_any_text() {
    let dir = tempfile::tempdir().unwrap();
    let text = "All rights reserved, and then some.\n".repeat(100);
    write_file(dir.path(), "README", &text);
    let server = Server::start(&["--compress", dir.path().to_str().unwrap()]);
    let response = get_with(server.addr(), "/README", "Accept-Encoding: gzip\r\n");
    assert_eq!(response.header("content-type"), Some(TEXT));
    assert_eq!(response.header("content-encoding"), Some("gzip"));
    assert!(response.body.len() < text.len());
}

fn config(dir: &Path, site: &str) -> PathBuf {
    let text = format!("workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n{site}");
    write_file(dir, "site.toml", &text)
}

#[test]
fn a_site_s_types_and_default_type_from_the_file() {
    let (dir, _www) = root();
    let file = config(
        dir.path(),
        "default_type = \"application/x-foo\"\n\
         [site.types]\n\
         md = \"text/plain; charset=utf-8\"\n\
         foo = \"application/x-bar\"\n\
         UPPER = \"text/x-up\"\n",
    );
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    assert_types(
        &server,
        &[
            ("notes.md", TEXT),
            ("a.foo", "application/x-bar"),
            ("a.upper", "text/x-up"),
            ("blob.unknownext", "application/x-foo"),
            ("noext", "application/x-foo"),
            ("README", TEXT),
            ("x.go", TEXT),
            ("index.html", "text/html; charset=utf-8"),
        ],
    );
}

#[test]
fn the_inline_form_of_types_is_the_same_table() {
    let (dir, _www) = root();
    let file = config(dir.path(), "types = { foo = \"application/x-bar\" }\n");
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    assert_types(&server, &[("a.foo", "application/x-bar"), ("noext", BYTES)]);
}

const BAD: &str = r#"[[site]]
listen = ["127.0.0.1:0"]
root = "www"
default_type = "nonsense"
types = { "a.b" = "text/plain", md = "bad", "" = "text/plain", "x/y" = "text/plain", Go = "text/x-go", go = "text/plain" }
"#;

#[test]
fn bad_types_are_placed_in_the_file() {
    let (file, lines, _dir) = config_problems(BAD);
    let media = "must be a media type such as \"text/plain\"";
    assert_placed(
        &file,
        &lines,
        BAD,
        "\"nonsense\"",
        &format!("default_type {media}"),
    );
    let key = "types keys are extensions without the dot, such as \"md\"";
    assert_placed(&file, &lines, BAD, "\"a.b\"", key);
    assert_placed(&file, &lines, BAD, "\"\" =", key);
    assert_placed(&file, &lines, BAD, "\"x/y\"", key);
    assert_placed(
        &file,
        &lines,
        BAD,
        "\"bad\"",
        &format!("the type for \"md\" {media}"),
    );
    assert_placed(&file, &lines, BAD, "go =", "\"go\" is in types twice");
    assert_eq!(lines.len(), 6, "{}", lines.join("\n"));
}

#[test]
fn starting_from_a_file_with_bad_types_says_the_same() {
    let (file, checked, dir) = config_problems(BAD);
    let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-c", file.to_str().unwrap()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let started: Vec<String> = (String::from_utf8_lossy(&output.stderr).lines())
        .map(str::to_owned)
        .collect();
    assert_eq!(started, checked);
}

#[test]
fn a_bad_default_type_on_the_command_line_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for test in [true, false] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forkhttpd"));
        if test {
            command.arg("-t");
        }
        let output = command
            .args(["-l", "127.0.0.1:0", "--default-type", "nonsense"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "-t: {test}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("--default-type must be a media type such as \"text/plain\""),
            "{stderr}"
        );
    }
    // And it describes the command line's site, which a file replaces.
    let file = write_file(dir.path(), "site.toml", "");
    let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-c", file.to_str().unwrap(), "--default-type", TEXT])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot be used with"));
}
