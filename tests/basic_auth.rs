//! HTTP Basic authentication on the paths a configuration file protects: the challenge, wrong
//! and right credentials, every spelling of a protected path, and a response cache that never
//! hands a protected file to a request without credentials.

mod support;

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine;
use support::{Client, Response, Server, exchange, get, get_with, write_file};

const SECRET: &str = "the staff-only file";
const CHALLENGE: &str = "Basic realm=\"staff\", charset=\"UTF-8\"";

/// A site whose `/private/**` is for ann (password "right") and bob (password "other").
fn start(dir: &Path) -> Server {
    start_with(dir, "")
}

/// `start`, with `site_lines` added to the site.
fn start_with(dir: &Path, site_lines: &str) -> Server {
    start_protecting(dir, site_lines, "/private/**")
}

/// `start_with`, protecting `pattern` instead of `/private/**`.
fn start_protecting(dir: &Path, site_lines: &str, pattern: &str) -> Server {
    write_file(dir, "www/index.html", "home");
    write_file(dir, "www/public/y.txt", "for everyone");
    write_file(dir, "www/private/x.txt", SECRET);
    write_file(dir, "www/private/index.html", "private home");
    write_file(dir, "www/private/sub/d.txt", SECRET);
    let ann = bcrypt::hash("right", 4).unwrap();
    let bob = bcrypt::hash("other", 4).unwrap();
    write_file(
        dir,
        "htpasswd",
        &format!("# staff\nann:{ann}\n\nbob:{bob}\n"),
    );
    let config = r#"
workers = 1
[[site]]
listen = ["127.0.0.1:0"]
root = "www"
SITE_LINES
[site.auth]
realm = "staff"
users_file = "htpasswd"
paths = ["PATTERN"]
"#;
    let config = config
        .replace("SITE_LINES", site_lines)
        .replace("PATTERN", pattern);
    let file = write_file(dir, "site.toml", &config);
    Server::start_exact(&["-c", file.to_str().unwrap()])
}

fn basic(credentials: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(credentials);
    format!("Authorization: Basic {token}\r\n")
}

fn with(addr: SocketAddr, path: &str, credentials: &str) -> Response {
    get_with(addr, path, &basic(credentials))
}

fn assert_denied(response: &Response, what: &str) {
    assert_eq!(response.status, 401, "{what}: {}", response.head);
    assert_eq!(
        response.header("www-authenticate"),
        Some(CHALLENGE),
        "{what}"
    );
    assert!(!response.text().contains(SECRET), "{what}");
    assert!(!response.text().contains("private home"), "{what}");
}

#[test]
fn a_protected_path_without_credentials_gets_the_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    assert_denied(&get(server.addr(), "/private/x.txt"), "no credentials");
    assert_denied(&get(server.addr(), "/private/"), "the directory's index");
    assert_denied(&get(server.addr(), "/private/none.txt"), "a missing file");
    let mut client = Client::connect(server.addr());
    client.send(b"HEAD /private/x.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.head_response();
    assert_eq!(head.status, 401);
    assert_eq!(head.header("www-authenticate"), Some(CHALLENGE));
}

#[test]
fn wrong_credentials_are_refused_and_right_ones_get_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    assert_denied(&with(addr, "/private/x.txt", "ann:wrong"), "wrong password");
    assert_denied(&with(addr, "/private/x.txt", "ann:other"), "bob's password");
    assert_denied(&with(addr, "/private/x.txt", "eve:right"), "unknown user");
    assert_denied(&with(addr, "/private/x.txt", "ann"), "no colon");
    let bearer = get_with(addr, "/private/x.txt", "Authorization: Bearer right\r\n");
    assert_denied(&bearer, "another scheme");
    for credentials in ["ann:right", "bob:other"] {
        let response = with(addr, "/private/x.txt", credentials);
        assert_eq!(response.status, 200, "{credentials}");
        assert_eq!(response.text(), SECRET);
    }
    // Remembered after the first check, but only for the right password.
    assert_eq!(with(addr, "/private/x.txt", "ann:right").status, 200);
    assert_denied(
        &with(addr, "/private/x.txt", "ann:Right"),
        "a password one letter off",
    );
}

#[test]
fn unprotected_paths_need_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    for (path, body) in [("/", "home"), ("/public/y.txt", "for everyone")] {
        let response = get(server.addr(), path);
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(response.text(), body);
        assert_eq!(response.header("www-authenticate"), None);
    }
}

#[test]
fn every_spelling_of_a_protected_path_is_protected() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr = server.addr();
    for target in [
        "/%70rivate/x.txt",
        "/%70%72%69%76%61%74%65/x.txt",
        "/public/../private/x.txt",
        "/PRIVATE/../private/x.txt",
        "/./private/x.txt",
        "//private/x.txt",
        "/private//x.txt",
        "/private/%2e/x.txt",
        "/private/x.txt?download=1",
        "http://t/private/x.txt",
    ] {
        let response = exchange(
            addr,
            format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes(),
        );
        assert_denied(&response, target);
        let allowed = with(addr, target, "ann:right");
        assert_ne!(allowed.status, 401, "{target} with credentials");
    }
}

#[test]
fn a_cached_protected_file_is_never_served_without_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    // One connection, one worker: the first answer is cached, the others must still be checked.
    let mut client = Client::connect(server.addr());
    let authorized = basic("ann:right");
    for round in 0..3 {
        client
            .send(format!("GET /private/x.txt HTTP/1.1\r\nHost: t\r\n{authorized}\r\n").as_bytes());
        let response = client.response();
        assert_eq!(response.status, 200, "round {round}");
        assert_eq!(response.text(), SECRET);
        client.send(b"GET /private/x.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_denied(&client.response(), "after a cached 200");
        let wrong = basic("ann:wrong");
        client.send(format!("GET /private/x.txt HTTP/1.1\r\nHost: t\r\n{wrong}\r\n").as_bytes());
        assert_denied(&client.response(), "wrong password after a cached 200");
    }
    assert_denied(&get(server.addr(), "/private/x.txt"), "a new connection");
}

#[test]
fn a_configured_401_page_keeps_the_challenge() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/errors/401.html", "who are you?");
    let server = start_with(dir.path(), "error_pages = { 401 = \"/errors/401.html\" }");
    let denied = with(server.addr(), "/private/x.txt", "staff:wrong");
    assert_eq!(denied.text(), "who are you?");
    assert_denied(&denied, "the configured page");
}

#[test]
fn every_way_of_writing_a_folder_protects_everything_beneath_it() {
    for pattern in ["/private", "/private/", "/private/*", "/private/**"] {
        let dir = tempfile::tempdir().unwrap();
        let server = start_protecting(dir.path(), "", pattern);
        for path in [
            "/private",
            "/private/",
            "/private/x.txt",
            "/private/sub/d.txt",
        ] {
            let response = get(server.addr(), path);
            assert_eq!(
                response.status, 401,
                "{pattern} on {path}: {}",
                response.head
            );
            assert!(!response.text().contains(SECRET), "{pattern} on {path}");
        }
        let inside = with(server.addr(), "/private/sub/d.txt", "ann:right");
        assert_eq!(inside.text(), SECRET, "{pattern}");
        assert_eq!(get(server.addr(), "/public/y.txt").status, 200, "{pattern}");
    }
}
