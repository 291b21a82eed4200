//! HTTP/2 through the real binary, with the `h2` crate as client: over TLS (ALPN `h2`) the same
//! answers as HTTP/1.1 for the same requests (index, listing, 404 and the site's error page,
//! redirects of both kinds, validators with 304 and 412, single and multipart ranges, HEAD,
//! precompressed and on-the-fly compression, 405, header rules, Basic auth), with no
//! connection-specific fields; many
//! concurrent streams with a large body each under flow control; the 421 rule; `http2 = false`;
//! the access log's protocol; the idle timeout and a graceful stop ending the connection; and
//! cleartext HTTP/2 by prior knowledge beside HTTP/1.1 (`http2_cleartext`).

mod support;

use std::net::SocketAddr;
use std::sync::Arc;

use support::{
    Authority, H2Request, H2Response, Server, TLS13, connect_tls, exchange_h2, exchange_h2c,
    handshake_h2, lines_in, negotiated, wait_lines, write_file,
};

const CONFIG: &str = r#"workers = 1
[limits]
keepalive_timeout = 1.0
[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "a"
compress = true
listing = true
error_pages = { 404 = "/404.html" }
access_log = { path = "a.log", format = "json" }
[site.tls]
cert = "a.pem"
key = "a.key"
[[site.headers]]
path = "/style.css"
set = { "Cache-Control" = "public, max-age=60" }
[[site.redirects]]
from = "/old"
to = "/docs/"
[site.auth]
realm = "staff"
users_file = "htpasswd"
paths = ["/private/**"]
[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["b.test"]
root = "b"
[site.tls]
cert = "b.pem"
key = "b.key"
"#;

struct Sites {
    dir: tempfile::TempDir,
    ca: Authority,
    server: Server,
}

impl Sites {
    fn start(config: &str) -> Sites {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        for name in ["a", "b"] {
            ca.leaf(&[&format!("{name}.test")]).write(dir.path(), name);
            write_file(
                dir.path(),
                &format!("{name}/index.html"),
                &format!("site {name}"),
            );
        }
        write_file(dir.path(), "a/docs/index.html", "docs");
        write_file(dir.path(), "a/listed/one.txt", "1");
        write_file(dir.path(), "a/listed/two.txt", "2");
        write_file(dir.path(), "a/404.html", "our own 404 page");
        write_file(dir.path(), "a/app.js", "console.log('plain')");
        write_file(dir.path(), "a/app.js.gz", "a precompressed stand-in");
        write_file(dir.path(), "a/private/plan.txt", "secret");
        let users = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/htpasswd");
        std::fs::copy(users, dir.path().join("htpasswd")).unwrap();
        write_file(
            dir.path(),
            "a/style.css",
            &"body { color: red }\n".repeat(200),
        );
        let big: String = (0..(1 << 20) / 16).map(|i| format!("{i:015}\n")).collect();
        write_file(dir.path(), "a/big.txt", &big);
        let file = write_file(dir.path(), "site.toml", config);
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        Sites { dir, ca, server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addrs[0]
    }

    fn h2(&self, requests: &[H2Request<'_>]) -> Vec<H2Response> {
        exchange_h2(self.addr(), "a.test", &self.ca.client(&[TLS13]), requests)
    }

    fn h1(&self, request: &str) -> support::Response {
        let mut client = connect_tls(self.addr(), "a.test", &Arc::new(self.ca.client(&[TLS13])));
        client.send(request.as_bytes());
        if request.starts_with("HEAD") {
            client.head_response()
        } else {
            client.response()
        }
    }
}

/// Fields that must agree between the two protocols (Date and the connection's own differ).
const COMPARED: [&str; 12] = [
    "cache-control",
    "www-authenticate",
    "allow",
    "content-type",
    "content-length",
    "content-encoding",
    "content-range",
    "etag",
    "last-modified",
    "location",
    "vary",
    "accept-ranges",
];

/// Extra request fields of a case.
type Fields<'a> = Vec<(&'a str, &'a str)>;

#[test]
fn http2_answers_as_http1_does() {
    let sites = Sites::start(CONFIG);
    let etag = sites.h1("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    let etag = etag.header("etag").expect("an ETag").to_owned();
    let cases: Vec<(&str, &str, Fields)> = vec![
        ("GET", "/", vec![]),
        ("GET", "/missing", vec![]),
        ("GET", "/docs", vec![]),
        ("GET", "/docs/", vec![]),
        ("HEAD", "/", vec![]),
        ("GET", "/", vec![("if-none-match", etag.as_str())]),
        ("GET", "/", vec![("if-match", "\"nope\"")]),
        ("GET", "/big.txt", vec![("range", "bytes=10-99")]),
        ("GET", "/big.txt", vec![("range", "bytes=0-1,100-199")]),
        ("GET", "/big.txt", vec![("range", "bytes=99999999-")]),
        ("GET", "/style.css", vec![("accept-encoding", "gzip")]),
        ("GET", "/app.js", vec![("accept-encoding", "gzip")]),
        ("GET", "/app.js", vec![]),
        ("POST", "/", vec![]),
        ("GET", "/listed/", vec![]),
        ("GET", "/old", vec![]),
        ("GET", "/private/plan.txt", vec![]),
        (
            "GET",
            "/private/plan.txt",
            vec![("authorization", "Basic c3RhZmY6Y2hhbmdlLW1l")],
        ),
        ("GET", "/%2e%2e/site.toml", vec![]),
    ];
    for (method, path, fields) in &cases {
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: a.test\r\n");
        for (name, value) in fields {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        if *method == "POST" {
            request.push_str("Content-Length: 0\r\n");
        }
        request.push_str("\r\n");
        let one = sites.h1(&request);
        let two = sites
            .h2(&[H2Request {
                method,
                path,
                authority: "a.test",
                fields,
            }])
            .remove(0);
        let case = format!("{method} {path} {fields:?}");
        assert_eq!(two.status, one.status, "{case}");
        // A multipart body's boundary is drawn per response.
        let boundary = |content_type: Option<&str>| {
            content_type
                .and_then(|t| t.split("boundary=").nth(1))
                .map(str::to_owned)
        };
        let unbound = |text: Option<&str>, boundary: &Option<String>| -> Option<String> {
            let text = text?.to_owned();
            Some(match boundary {
                Some(b) => text.replace(b.as_str(), "BOUNDARY"),
                None => text,
            })
        };
        let (b1, b2) = (
            boundary(one.header("content-type")),
            boundary(two.header("content-type")),
        );
        for name in COMPARED {
            assert_eq!(
                unbound(two.header(name), &b2),
                unbound(one.header(name), &b1),
                "{case}: {name}"
            );
        }
        let text =
            |body: &[u8], b: &Option<String>| unbound(Some(&String::from_utf8_lossy(body)), b);
        assert_eq!(text(&two.body, &b2), text(&one.body, &b1), "{case}: body");
        for name in ["connection", "keep-alive", "transfer-encoding"] {
            assert_eq!(two.header(name), None, "{case}: {name}");
        }
        assert!(two.header("date").is_some(), "{case}: date");
    }
    let precompressed = sites
        .h2(&[H2Request {
            method: "GET",
            path: "/app.js",
            authority: "a.test",
            fields: &[("accept-encoding", "gzip")],
        }])
        .remove(0);
    assert_eq!(precompressed.header("content-encoding"), Some("gzip"));
    assert_eq!(precompressed.body, b"a precompressed stand-in");
}

#[test]
fn many_streams_with_large_bodies_share_one_connection() {
    let sites = Sites::start(CONFIG);
    let expected = std::fs::read(sites.dir.path().join("a/big.txt")).unwrap();
    let requests: Vec<H2Request<'_>> = (0..20)
        .map(|_| H2Request::get("a.test", "/big.txt"))
        .collect();
    for answer in sites.h2(&requests) {
        assert_eq!(answer.status, 200);
        assert_eq!(answer.body.len(), expected.len());
        assert!(answer.body == expected, "the same bytes");
    }
}

#[test]
fn names_do_not_cross_and_the_log_says_http2() {
    let sites = Sites::start(CONFIG);
    let answers = sites.h2(&[H2Request::get("a.test", "/"), H2Request::get("b.test", "/")]);
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].body, b"site a");
    assert_eq!(answers[1].status, 421, "SNI chose a.test");
    let log = sites.dir.path().join("a.log");
    let lines = wait_lines(&log, 2);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(first["protocol"], "HTTP/2.0");
    assert_eq!(first["method"], "GET");
    assert_eq!(first["target"], "/");
    assert_eq!(first["status"], 200);
    assert_eq!(first["bytes"], 6);
    assert_eq!(lines_in(&log).len(), 2);
}

#[test]
fn alpn_offers_h2_unless_the_sites_turn_it_off() {
    let sites = Sites::start(CONFIG);
    let client = sites.ca.client(&[TLS13]);
    assert_eq!(
        negotiated(sites.addr(), "a.test", &client),
        Some(b"h2".to_vec())
    );

    let off = CONFIG
        .replace("compress = true", "compress = true\nhttp2 = false")
        .replace("root = \"b\"", "root = \"b\"\nhttp2 = false");
    let sites = Sites::start(&off);
    let client = sites.ca.client(&[TLS13]);
    assert_eq!(
        negotiated(sites.addr(), "a.test", &client),
        Some(b"http/1.1".to_vec())
    );
}

#[test]
fn sites_on_one_tls_address_must_agree_on_http2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    for name in ["a", "b"] {
        ca.leaf(&[&format!("{name}.test")]).write(dir.path(), name);
        write_file(dir.path(), &format!("{name}/index.html"), name);
    }
    let text = CONFIG.replace("root = \"b\"", "root = \"b\"\nhttp2 = false");
    let file = write_file(dir.path(), "site.toml", &text);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-t", "-c", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let place = format!("{}:{}: ", file.display(), support::place_of(&text, "false"));
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&place) && l.contains("must agree on http2")),
        "{stderr}"
    );
}

#[test]
fn an_idle_connection_is_closed_after_the_keep_alive_timeout() {
    let sites = Sites::start(CONFIG);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = sites.ca.client(&[TLS13]);
    let addr = sites.addr();
    let ended = runtime.block_on(async {
        let (_client, connection) = handshake_h2(addr, "a.test", &config).await;
        // The server ends the connection by itself (GOAWAY, then close); the bound only keeps a
        // broken server from hanging the test.
        tokio::time::timeout(support::WAIT, connection).await
    });
    assert!(matches!(ended, Ok(Ok(()))), "{ended:?}");
}

#[test]
fn a_graceful_stop_ends_an_http2_connection_with_goaway() {
    let mut sites =
        Sites::start(&CONFIG.replace("keepalive_timeout = 1.0", "keepalive_timeout = 60.0"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = sites.ca.client(&[TLS13]);
    let addr = sites.addr();
    let server = &sites.server;
    let ended = runtime.block_on(async {
        let (client, connection) = handshake_h2(addr, "a.test", &config).await;
        let connection = tokio::spawn(connection);
        // One exchange first, so the connection is surely in the worker's hands.
        let mut client = client.ready().await.unwrap();
        let request = http::Request::get("https://a.test/").body(()).unwrap();
        let (response, _) = client.send_request(request, true).unwrap();
        assert_eq!(response.await.unwrap().status(), 200);
        server.signal(support::SIGTERM);
        tokio::time::timeout(support::WAIT, connection).await
    });
    assert!(matches!(ended, Ok(Ok(Ok(())))), "{ended:?}");
    assert!(sites.server.wait_exit().success());
}

#[test]
fn cleartext_http2_by_prior_knowledge_beside_http1() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let config = r#"workers = 1
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "www"
http2_cleartext = true
[[site]]
listen = ["127.0.0.2:0"]
server_names = ["b.test"]
root = "www"
"#;
    let file = write_file(dir.path(), "site.toml", config);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let (h2c, plain) = (server.addrs[0], server.addrs[1]);

    let answers = exchange_h2c(
        h2c,
        &[
            H2Request::get("a.test", "/"),
            H2Request::get("a.test", "/x"),
        ],
    );
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].body, b"home");
    assert_eq!(answers[1].status, 404);

    // HTTP/1.1 on the same socket, the first bytes read twice over.
    let one = support::get(h2c, "/");
    assert_eq!(one.status, 200);
    assert_eq!(one.text(), "home");
    // An upgrade to h2c is not taken: the request is answered over HTTP/1.1.
    let upgrade = support::exchange(
        h2c,
        b"GET / HTTP/1.1\r\nHost: a.test\r\nConnection: Upgrade, HTTP2-Settings\r\n\
          Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n",
    );
    assert_eq!(upgrade.status, 200);
    assert_eq!(upgrade.header("upgrade"), None);
    assert_eq!(upgrade.text(), "home");

    // A socket whose sites did not ask for it answers the preface as the HTTP/1.1 it is not.
    let refused = support::exchange(plain, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    assert!(refused.status >= 400, "{}", refused.status);
}

#[test]
fn http2_cleartext_needs_http2() {
    let text = "[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\nhttp2 = false\nhttp2_cleartext = true\n";
    let (file, lines, _dir) = support::config_problems(text);
    support::assert_placed(&file, &lines, text, "true", "http2_cleartext needs http2");
}
