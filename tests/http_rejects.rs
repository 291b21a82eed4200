//! Malformed and ambiguous requests: each gets the right status and, where the framing can no
//! longer be trusted, a closed connection (RFC 9110, RFC 9112 §11.2).

mod support;

use support::{Client, Server, Site};

/// Sends `raw`, expects `status` with `Connection: close`, then the connection closed.
fn assert_rejected(server: &Server, raw: &[u8], status: u16) {
    let mut client = Client::connect(server.addr());
    client.send(raw);
    // A second, valid request glued on must not be answered: the connection is not trusted.
    client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    let what = String::from_utf8_lossy(raw).into_owned();
    let response = client
        .read_response(false)
        .unwrap_or_else(|| panic!("no response to {what:?}"));
    assert_eq!(response.status, status, "{what:?}");
    assert_eq!(response.header("connection"), Some("close"), "{what:?}");
    assert!(
        response.text().contains(&status.to_string()),
        "an HTML error page for {what:?}"
    );
    assert!(client.is_closed(), "connection left open after {what:?}");
}

#[test]
fn malformed_heads_get_400_and_close() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let cases: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Bare: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\0b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Ctl: a\x07b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX\x01Bad: 1\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\nHost: a\r\n\r\n",
        b"GET / FOO/1.1\r\nHost: a\r\n\r\n",
        b"/ HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX",
        b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",
    ];
    for case in cases {
        assert_rejected(&server, case, 400);
    }
}

#[test]
fn unsupported_transfer_coding_is_501() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_rejected(
        &server,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
        501,
    );
}

#[test]
fn other_http_versions_are_505() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_rejected(&server, b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505);
    assert_rejected(&server, b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505);
    assert_rejected(&server, b"GET / HTTP/0.9\r\nHost: a\r\n\r\n", 505);
}

#[test]
fn long_request_line_is_414() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let line = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(33 * 1024));
    assert_rejected(&server, line.as_bytes(), 414);
}

#[test]
fn large_or_crowded_head_is_431() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    // Just over the 32 KiB default.
    let big = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nCookie: {}\r\n\r\n",
        "c".repeat(32 * 1024)
    );
    assert_rejected(&server, big.as_bytes(), 431);
    // 257 fields with Host: one over the default of 256.
    let fields: String = (0..256).map(|i| format!("X-{i}: v\r\n")).collect();
    let crowded = format!("GET / HTTP/1.1\r\nHost: a\r\n{fields}\r\n");
    assert_rejected(&server, crowded.as_bytes(), 431);
}

#[test]
fn heads_real_clients_send_are_accepted() {
    // Browsers with large cookies and requests that passed several proxies: what nginx accepts
    // by default (32 KiB in all) is served.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let many: String = (0..200)
        .map(|i| format!("X-Forwarded-{i}: v\r\n"))
        .collect();
    let response = support::get_with(server.addr(), "/hello.txt", &many);
    assert_eq!(response.status, 200, "200 fields plus Host");
    assert_eq!(response.text(), "hello, world\n");

    let cookie = format!("Cookie: {}\r\n", "c".repeat(30 * 1024));
    let response = support::get_with(server.addr(), "/hello.txt", &cookie);
    assert_eq!(response.status, 200, "a 30 KiB head");

    // The same large head, twice on one connection (the grown buffer is reused) and then a
    // small request behind it.
    let mut client = Client::connect(server.addr());
    let head = format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\n{cookie}\r\n");
    client.send(format!("{head}{head}GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    for _ in 0..3 {
        assert_eq!(client.response().status, 200);
    }
}

#[test]
fn limits_follow_the_flags() {
    let site = Site::new();
    let server = Server::start(&[
        "--max-head-bytes",
        "200",
        "--max-headers",
        "3",
        &site.root_arg(),
    ]);
    let fine = "GET /hello.txt HTTP/1.1\r\nHost: a\r\nA: 1\r\n\r\n";
    assert_eq!(
        support::exchange(server.addr(), fine.as_bytes()).status,
        200
    );
    let crowded = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert_rejected(&server, crowded.as_bytes(), 431);
    let long = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nA: {}\r\n\r\n",
        "x".repeat(200)
    );
    assert_rejected(&server, long.as_bytes(), 431);
}

#[test]
fn unknown_expectation_is_417() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_rejected(
        &server,
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: the-unexpected\r\n\r\n",
        417,
    );
}

#[test]
fn leading_empty_line_before_a_request_is_ignored() {
    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line before the request-line.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let response = support::exchange(
        server.addr(),
        b"\r\nGET /hello.txt HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    assert_eq!(response.status, 200);
}

#[test]
fn http10_request_needs_no_host() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let response = support::exchange(server.addr(), b"GET /hello.txt HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
}
