//! A site's rules from the configuration file, as a client sees them: header rules (first match
//! wins, on the decoded path, never on errors), the default Cache-Control, redirects that keep
//! the query, the SPA fallback, custom error pages and a list of index files.

mod support;

use std::net::SocketAddr;
use std::path::Path;

use support::{Response, Server, exchange, get, get_with, write_file};

/// Starts a one-site server on `root = "www"` from `site`, the lines after `[[site]]`.
fn start(dir: &Path, site: &str) -> Server {
    let config =
        format!("workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n{site}");
    let file = write_file(dir, "site.toml", &config);
    Server::start_exact(&["-c", file.to_str().unwrap()])
}

const RULES: &str = r#"
cache_control = "no-cache"

[[site.headers]]
path = "/assets/**"
set = { "Cache-Control" = "public, max-age=31536000, immutable" }
remove = ["Last-Modified"]

[[site.headers]]
path = "/assets/*.css"
set = { "X-Second" = "never: the rule above matches first" }

[[site.headers]]
path = "/*.txt"
set = { "X-Top" = "1" }

[[site.headers]]
path = "/docs/index.html"
set = { "X-Docs" = "index" }

[[site.redirects]]
from = "/old/"
to = "https://example.com/new/"
prefix = true
status = 308

[[site.redirects]]
from = "/gone"
to = "/here"
"#;

fn rules_server(dir: &Path) -> Server {
    for file in [
        "assets/app.css",
        "assets/deep/x.js",
        "top.txt",
        "sub/deep.txt",
    ] {
        write_file(dir, &format!("www/{file}"), file);
    }
    write_file(dir, "www/docs/index.html", "docs");
    start(dir, RULES)
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

fn ok(addr: SocketAddr, path: &str) -> Response {
    let response = get(addr, path);
    assert_eq!(response.status, 200, "{path}: {}", response.head);
    response
}

#[test]
fn the_first_matching_header_rule_sets_and_removes_fields() {
    let dir = tempfile::tempdir().unwrap();
    let server = rules_server(dir.path());
    // Twice: the second answer comes from the response cache and must carry the rule too.
    for _ in 0..2 {
        let css = ok(server.addr(), "/assets/app.css");
        assert_eq!(css.header("cache-control"), Some(IMMUTABLE));
        assert_eq!(css.header("last-modified"), None, "{}", css.head);
        assert_eq!(css.header("x-second"), None, "only the first rule applies");
        assert_eq!(css.text(), "assets/app.css");
    }
    // `**` crosses segments; the rule matches the decoded path.
    let js = ok(server.addr(), "/assets/deep/x.js");
    assert_eq!(js.header("cache-control"), Some(IMMUTABLE));
    let encoded = ok(server.addr(), "/%61ssets/./deep/x.js");
    assert_eq!(encoded.header("cache-control"), Some(IMMUTABLE));
}

#[test]
fn a_single_star_stays_within_one_segment_and_the_rest_gets_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let server = rules_server(dir.path());
    let top = ok(server.addr(), "/top.txt");
    assert_eq!(top.header("x-top"), Some("1"));
    assert_eq!(top.header("cache-control"), Some("no-cache"));
    assert!(top.header("last-modified").is_some(), "{}", top.head);
    let deep = ok(server.addr(), "/sub/deep.txt");
    assert_eq!(
        deep.header("x-top"),
        None,
        "`/*.txt` is not `/sub/deep.txt`"
    );
    assert_eq!(deep.header("cache-control"), Some("no-cache"));
}

#[test]
fn a_directory_url_matches_as_its_index_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = rules_server(dir.path());
    let slash = ok(server.addr(), "/docs/");
    assert_eq!(slash.text(), "docs");
    assert_eq!(slash.header("x-docs"), Some("index"));
    assert_eq!(
        ok(server.addr(), "/docs/index.html").header("x-docs"),
        Some("index")
    );
}

#[test]
fn header_rules_leave_errors_alone_but_apply_to_304_and_206() {
    let dir = tempfile::tempdir().unwrap();
    let server = rules_server(dir.path());
    let missing = get(server.addr(), "/assets/missing.css");
    assert_eq!(missing.status, 404);
    assert_ne!(
        missing.header("cache-control"),
        Some(IMMUTABLE),
        "a 404 for a year"
    );

    let etag = ok(server.addr(), "/assets/app.css")
        .header("etag")
        .unwrap()
        .to_owned();
    let not_modified = get_with(
        server.addr(),
        "/assets/app.css",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert_eq!(not_modified.status, 304);
    assert_eq!(not_modified.header("cache-control"), Some(IMMUTABLE));
    let partial = get_with(server.addr(), "/assets/app.css", "Range: bytes=0-5\r\n");
    assert_eq!(partial.status, 206);
    assert_eq!(partial.text(), "assets");
    assert_eq!(partial.header("cache-control"), Some(IMMUTABLE));
}

#[test]
fn redirects_keep_the_query_with_the_configured_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = rules_server(dir.path());
    let redirect = |target: &str| {
        let response = get(server.addr(), target);
        let location = response.header("location").map(str::to_owned);
        (response.status, location.unwrap_or_default())
    };
    let new = |rest: &str| (308, format!("https://example.com/new/{rest}"));
    assert_eq!(redirect("/old/a?x=1"), new("a?x=1"));
    assert_eq!(redirect("/old/"), new(""));
    assert_eq!(redirect("/old/a/b%20c.html"), new("a/b%20c.html"));
    // The default status is 301; an exact rule does not take longer paths.
    assert_eq!(redirect("/gone"), (301, "/here".into()));
    assert_eq!(redirect("/gone?q=2"), (301, "/here?q=2".into()));
    assert_eq!(get(server.addr(), "/gone/more").status, 404);
    assert_eq!(
        get(server.addr(), "/old").status,
        404,
        "the rule is for /old/"
    );
}

#[test]
fn every_spelling_of_a_redirected_path_is_redirected() {
    let dir = tempfile::tempdir().unwrap();
    let server = rules_server(dir.path());
    for target in [
        "/%6fld/a?x=1",
        "/x/../old/a?x=1",
        "/./old/a?x=1",
        "/%6F%6C%64/a?x=1",
    ] {
        let response = get(server.addr(), target);
        assert_eq!(response.status, 308, "{target}");
        assert_eq!(
            response.header("location"),
            Some("https://example.com/new/a?x=1"),
            "{target}"
        );
    }
}

fn pages_server(dir: &Path) -> Server {
    write_file(dir, "www/index.html", "<p>the app</p>");
    write_file(dir, "www/real.txt", "real");
    write_file(dir, "www/errors/404.html", "custom not found");
    write_file(dir, "www/errors/403.html", "custom forbidden");
    let locked = write_file(dir, "www/locked.txt", "locked");
    std::fs::set_permissions(locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    start(
        dir,
        "spa_fallback = \"/index.html\"\n\
         error_pages = { 404 = \"/errors/404.html\", 403 = \"/errors/403.html\" }\n",
    )
}

#[test]
fn missing_routes_get_the_spa_fallback_and_missing_files_do_not() {
    let dir = tempfile::tempdir().unwrap();
    let server = pages_server(dir.path());
    let addr = server.addr();
    for route in ["/users/42", "/users/42/", "/settings?tab=2"] {
        let response = get(addr, route);
        assert_eq!(response.status, 200, "{route}");
        assert_eq!(response.text(), "<p>the app</p>", "{route}");
    }
    assert_eq!(
        ok(addr, "/real.txt").text(),
        "real",
        "files are still themselves"
    );
    let missing = get(addr, "/app.js");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.text(), "custom not found");
    let post = exchange(
        addr,
        b"POST /users/42 HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(post.status, 405);
    assert_ne!(post.text(), "<p>the app</p>");
    let mut client = support::Client::connect(addr);
    client.send(b"HEAD /users/42 HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("14"));
    // Nothing follows the head: the next response on the connection is the next request's.
    client.send(b"GET /real.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.response().text(), "real");
}

#[test]
fn error_pages_keep_their_status() {
    let dir = tempfile::tempdir().unwrap();
    let server = pages_server(dir.path());
    for _ in 0..2 {
        let missing = get(server.addr(), "/nothing.html");
        assert_eq!(missing.status, 404);
        assert_eq!(missing.text(), "custom not found");
        assert!(
            missing
                .header("content-type")
                .unwrap()
                .starts_with("text/html")
        );
    }
    // The owner of /proc/self is this process's effective user (nix's `geteuid` needs a
    // feature the crate does not enable).
    let euid = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").unwrap());
    if euid == 0 {
        eprintln!("running as root: every file is readable, so no 403 to check");
        return;
    }
    let locked = get(server.addr(), "/locked.txt");
    assert_eq!(locked.status, 403);
    assert_eq!(locked.text(), "custom forbidden");
}

#[test]
fn index_names_are_tried_in_order() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/home.html", "root home");
    write_file(dir.path(), "www/both/home.html", "both: home");
    write_file(dir.path(), "www/both/index.html", "both: index");
    write_file(dir.path(), "www/only/index.html", "only: index");
    write_file(dir.path(), "www/none/other.html", "other");
    let server = start(dir.path(), "index = [\"home.html\", \"index.html\"]\n");
    assert_eq!(ok(server.addr(), "/").text(), "root home");
    assert_eq!(ok(server.addr(), "/both/").text(), "both: home");
    assert_eq!(ok(server.addr(), "/only/").text(), "only: index");
    assert_eq!(get(server.addr(), "/none/").status, 404);
}

#[test]
fn a_directory_url_matches_header_rules_as_the_index_file_it_serves() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/home.html", "root home");
    write_file(dir.path(), "www/only/index.html", "only: index");
    let server = start(
        dir.path(),
        "index = [\"home.html\", \"index.html\"]\n\
         [[site.headers]]\npath = \"/**/index.html\"\nset = { \"X-Index\" = \"yes\" }\n",
    );
    assert_eq!(
        ok(server.addr(), "/only/index.html").header("x-index"),
        Some("yes")
    );
    // `/only/` is served from `only/index.html`, so a rule for that file applies to it, as
    // it does with the default index list.
    let slash = ok(server.addr(), "/only/");
    assert_eq!(slash.text(), "only: index");
    assert_eq!(slash.header("x-index"), Some("yes"), "{}", slash.head);
}

#[test]
fn an_error_page_keeps_the_fields_its_status_requires() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    write_file(dir.path(), "www/errors/405.html", "custom 405");
    write_file(dir.path(), "www/errors/416.html", "custom 416");
    let server = start(
        dir.path(),
        "error_pages = { 405 = \"/errors/405.html\", 416 = \"/errors/416.html\" }\n",
    );
    let post = exchange(
        server.addr(),
        b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.text(), "custom 405");
    assert_eq!(
        post.header("allow"),
        Some("GET, HEAD, OPTIONS"),
        "RFC 9110 §15.5.6"
    );
    let range = get_with(server.addr(), "/index.html", "Range: bytes=100-200\r\n");
    assert_eq!(range.status, 416);
    assert_eq!(range.text(), "custom 416");
    assert_eq!(
        range.header("content-range"),
        Some("bytes */4"),
        "RFC 9110 §15.5.17"
    );
}
