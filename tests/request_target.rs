//! The request target and Host (RFC 9112 §3.2, RFC 3986 §3.2): what is not a valid URI
//! component is refused with 400, never served as some guess a proxy might not share; what is
//! valid is served, from the target's authority when it has one.

mod support;

use support::{Client, Server, Site};

/// Sends `raw` with a valid request glued behind it; returns the first response's status and
/// whether the connection was then closed without answering the glued request. When it stays
/// open, the glued request must be answered.
fn status_and_closed(server: &Server, raw: &str) -> (u16, bool) {
    let mut client = Client::connect(server.addr());
    client.send(raw.as_bytes());
    client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let response = client
        .read_response(false)
        .unwrap_or_else(|| panic!("no response to {raw:?}"));
    if response.header("connection") == Some("close") {
        return (response.status, client.is_closed());
    }
    assert_eq!(client.response().status, 200, "after {raw:?}");
    (response.status, false)
}

fn with_host(host: &str) -> String {
    format!("GET /hello.txt HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn invalid_hosts_are_400_and_close() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    for host in [
        "a:b",
        "a:80:80",
        "a:65536",
        "[::1",
        "[::g]",
        "[::1]x",
        "[::1]:x",
        "[::1%25eth0]",
        "u@a",
        "u:p@a",
        "a b",
        "a%zz",
        "a%2",
        ":80",
        "a/b",
    ] {
        assert_eq!(
            status_and_closed(&server, &with_host(host)),
            (400, true),
            "Host: {host}"
        );
    }
}

#[test]
fn valid_hosts_are_served() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    // `a:` has an empty port, which RFC 3986 §3.2.3 allows (the scheme's default).
    for host in [
        "a",
        "a:",
        "a:80",
        "[::1]:8080",
        "[::1]",
        "[::ffff:127.0.0.1]:80",
        "[v1.x]",
        "127.0.0.1:80",
        "xn--bcher-kva.example",
        "a.b_c~d",
        "a%2Db",
        "a!$&'()*+,;=b",
        "",
    ] {
        assert_eq!(
            status_and_closed(&server, &with_host(host)),
            (200, false),
            "Host: {host}"
        );
    }
}

#[test]
fn absolute_form_authority_is_checked_and_wins_over_host() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    for target in [
        "http://u@a/hello.txt",
        "http://a:b/hello.txt",
        "http://a:80:80/hello.txt",
        "http://[::1/hello.txt",
        "http://a%zz/hello.txt",
        "http:///hello.txt",
        "http:/hello.txt",
        "http:hello.txt",
        "https://:80/hello.txt",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(status_and_closed(&server, &raw), (400, true), "{target}");
    }
    // RFC 9112 §3.2.2: the target's authority decides and Host is ignored, but Host must still
    // be present and valid (§3.2).
    for (target, host) in [
        ("http://a/hello.txt", "b"),
        ("HTTP://A.example:8080/hello.txt", "other.example"),
        ("https://[::1]/hello.txt", ""),
        ("http://a:/hello.txt", "a"),
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        assert_eq!(status_and_closed(&server, &raw), (200, false), "{target}");
    }
    let raw = "GET http://a/hello.txt HTTP/1.1\r\nHost: u@b\r\n\r\n";
    assert_eq!(status_and_closed(&server, raw), (400, true), "invalid Host");
    let raw = "GET http://a/hello.txt HTTP/1.1\r\n\r\n";
    assert_eq!(status_and_closed(&server, raw), (400, true), "missing Host");
}

#[test]
fn broken_percent_encoding_in_the_path_is_400() {
    // RFC 3986 §2.1: `%` only starts a percent-encoding. The framing is intact, so the
    // connection stays open.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    for target in [
        "/%zz",
        "/a%",
        "/a%4",
        "/%4/hello.txt",
        "/hello.txt%g0",
        "/%%41",
        "http://t/a%",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(status_and_closed(&server, &raw), (400, false), "{target}");
        // Twice: an answer kept in the response cache must be the same.
        assert_eq!(status_and_closed(&server, &raw), (400, false), "{target}");
    }
    // Valid encodings still decode, in either case.
    let raw = "GET /hell%6F.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_eq!(status_and_closed(&server, raw), (200, false));
    let raw = "GET /hell%6f.txt HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_eq!(status_and_closed(&server, raw), (200, false));
}

#[test]
fn query_is_not_checked_for_percent_encoding() {
    // A static server does not read the query, and browsers send a stray `%` in it as is.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    for target in ["/hello.txt?a=50%", "/hello.txt?%zz", "/hello.txt?a%4"] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(status_and_closed(&server, &raw), (200, false), "{target}");
    }
}

#[test]
fn fragment_in_the_target_is_400() {
    // RFC 9112 §3.2: a request target has no fragment. httparse accepts `#`; a proxy may cut
    // at it or pass it on, so the two would name different files.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    for target in [
        "/a#b",
        "/hello.txt#",
        "/hello.txt?q#f",
        "http://a/hello.txt#x",
        "http://a#x",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(status_and_closed(&server, &raw), (400, false), "{target}");
        assert_eq!(status_and_closed(&server, &raw), (400, false), "{target}");
    }
}
