//! HTTPS on a `listen_tls` socket: over TLS 1.3 and TLS 1.2 a client gets what plain HTTP gives
//! (files, keep-alive, ranges, conditional answers, large bodies), and what is not TLS is
//! refused at the door: plain HTTP gets a 400 page that says so, other bytes a bare close, and
//! a handshake that stalls is closed at the header timeout.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

use ring::digest::{SHA256, digest};
use rustls::{ClientConfig, ProtocolVersion};
use support::{
    Authority, Client, Leaf, Server, TLS12, TLS13, WAIT, connect_tls, pattern, write_file,
};

/// A site with a certificate for `a.test`, served over TLS (on 127.0.0.2, so that its port-0
/// address differs from the plain one) and plain HTTP.
struct Https {
    dir: tempfile::TempDir,
    ca: Authority,
    leaf: Leaf,
    server: Server,
}

impl Https {
    /// Starts it with `limits` as the file's `[limits]` table.
    fn start(limits: &str) -> Https {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        let leaf = ca.leaf(&["a.test"]);
        leaf.write(dir.path(), "a");
        write_file(dir.path(), "www/hello.txt", "hello, world\n");
        write_file(dir.path(), "www/index.html", "<h1>home</h1>\n");
        let config = format!(
            "workers = 1\n[limits]\n{limits}\n[[site]]\nlisten = [\"127.0.0.1:0\"]\n\
             listen_tls = [\"127.0.0.2:0\"]\nserver_names = [\"a.test\"]\nroot = \"www\"\n\
             [site.tls]\ncert = \"a.pem\"\nkey = \"a.key\"\n"
        );
        let file = write_file(dir.path(), "site.toml", &config);
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        assert_eq!(server.addrs.len(), 2, "the plain socket, then the TLS one");
        Https {
            dir,
            ca,
            leaf,
            server,
        }
    }

    fn tls(&self) -> SocketAddr {
        self.server.addrs[1]
    }

    fn root(&self) -> std::path::PathBuf {
        self.dir.path().join("www")
    }

    fn client(&self) -> Arc<ClientConfig> {
        Arc::new(self.ca.client(&[TLS13, TLS12]))
    }

    fn connect(&self) -> Client<support::TlsStream> {
        connect_tls(self.tls(), "a.test", &self.client())
    }
}

#[test]
fn a_get_over_tls_1_3_and_tls_1_2_returns_the_file() {
    let https = Https::start("");
    for (version, expected) in [
        (TLS13, ProtocolVersion::TLSv1_3),
        (TLS12, ProtocolVersion::TLSv1_2),
    ] {
        let config = Arc::new(https.ca.client(&[version]));
        let mut client = connect_tls(https.tls(), "a.test", &config);
        let conn = &client.stream.conn;
        assert_eq!(conn.protocol_version(), Some(expected));
        assert_eq!(conn.alpn_protocol(), Some(&b"http/1.1"[..]), "{expected:?}");
        assert_eq!(
            client.server_cert(),
            https.leaf.der,
            "the site's certificate"
        );
        let response = client.get_from("a.test", "/hello.txt");
        assert_eq!(response.status, 200, "{expected:?}: {}", response.head);
        assert_eq!(response.text(), "hello, world\n");
        assert_eq!(
            response.header("content-type"),
            Some("text/plain; charset=utf-8")
        );
    }
}

#[test]
fn one_tls_connection_carries_several_requests() {
    let https = Https::start("");
    let mut client = https.connect();
    for _ in 0..3 {
        let response = client.get_from("a.test", "/hello.txt");
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "hello, world\n");
        assert_eq!(response.header("connection"), None, "kept alive");
    }
    // Pipelined: three requests in one write, three answers in order.
    client.send(
        b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\n\r\n\
          GET /index.html HTTP/1.1\r\nHost: a.test\r\n\r\n\
          GET /missing HTTP/1.1\r\nHost: a.test\r\n\r\n",
    );
    assert_eq!(client.response().text(), "hello, world\n");
    assert_eq!(client.response().text(), "<h1>home</h1>\n");
    assert_eq!(client.response().status, 404);
    // And the last one closes when asked to.
    client.send(b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\nConnection: close\r\n\r\n");
    assert_eq!(client.response().status, 200);
    assert!(client.is_closed());
}

#[test]
fn ranges_and_conditional_requests_work_over_tls() {
    let https = Https::start("");
    let data = pattern(1000);
    std::fs::write(https.root().join("data.bin"), &data).unwrap();
    let mut client = https.connect();
    client.send(b"GET /data.bin HTTP/1.1\r\nHost: a.test\r\nRange: bytes=0-9\r\n\r\n");
    let ranged = client.response();
    assert_eq!(ranged.status, 206, "{}", ranged.head);
    assert_eq!(ranged.header("content-range"), Some("bytes 0-9/1000"));
    assert_eq!(ranged.body, data[..10]);

    client.send(b"GET /data.bin HTTP/1.1\r\nHost: a.test\r\nRange: bytes=990-\r\n\r\n");
    let tail = client.response();
    assert_eq!(tail.status, 206);
    assert_eq!(tail.body, data[990..]);

    let full = client.get_from("a.test", "/data.bin");
    assert_eq!(full.body, data);
    let etag = full.header("etag").expect("an ETag").to_owned();
    client.send(
        format!("GET /data.bin HTTP/1.1\r\nHost: a.test\r\nIf-None-Match: {etag}\r\n\r\n")
            .as_bytes(),
    );
    let unchanged = client.response();
    assert_eq!(unchanged.status, 304, "{}", unchanged.head);
    assert!(unchanged.body.is_empty());
    assert_eq!(unchanged.header("etag"), Some(etag.as_str()));
    // The connection is still in step after a body-less answer.
    assert_eq!(
        client.get_from("a.test", "/hello.txt").text(),
        "hello, world\n"
    );
}

#[test]
fn a_large_file_arrives_whole_over_tls() {
    let https = Https::start("");
    let data = pattern(8 * 1024 * 1024);
    std::fs::write(https.root().join("big.bin"), &data).unwrap();
    for version in [TLS13, TLS12] {
        let config = Arc::new(https.ca.client(&[version]));
        let mut client = connect_tls(https.tls(), "a.test", &config);
        let response = client.get_from("a.test", "/big.bin");
        assert_eq!(response.status, 200);
        assert_eq!(response.body.len(), data.len());
        assert_eq!(
            digest(&SHA256, &response.body).as_ref(),
            digest(&SHA256, &data).as_ref(),
            "the same bytes"
        );
    }
}

#[test]
fn plain_http_on_the_tls_port_gets_a_400_page_and_a_close() {
    let https = Https::start("");
    let mut client = Client::connect(https.tls());
    client.send(b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 400, "{}", response.head);
    assert!(response.head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(
        response
            .text()
            .contains("plain HTTP request was sent to an HTTPS port"),
        "{}",
        response.text()
    );
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed(), "closed after the page");
    // The plain socket serves the same request.
    let plain = support::exchange(
        https.server.addrs[0],
        b"GET /hello.txt HTTP/1.1\r\nHost: a.test\r\n\r\n",
    );
    assert_eq!(plain.text(), "hello, world\n");
}

#[test]
fn bytes_that_are_neither_tls_nor_http_are_closed_without_an_answer() {
    let https = Https::start("");
    let mut client = Client::connect(https.tls());
    client.send(b"\x00\x01\x02");
    assert_eq!(client.read_until_closed(), b"", "closed, nothing sent");
    // The worker is still there for the next client.
    assert_eq!(https.connect().get_from("a.test", "/hello.txt").status, 200);
}

#[test]
fn a_handshake_that_stalls_is_closed_at_the_header_timeout() {
    let https = Https::start("header_timeout = 1.0");
    // The first half of a real ClientHello, and then nothing.
    let mut hello = Vec::new();
    let mut conn = rustls::ClientConnection::new(https.client(), "a.test".try_into().unwrap())
        .expect("a TLS client");
    conn.write_tls(&mut hello).unwrap();
    assert_eq!(hello[0], 0x16, "a handshake record");
    let mut stalled = TcpStream::connect(https.tls()).unwrap();
    stalled.set_read_timeout(Some(WAIT)).unwrap();
    stalled.write_all(&hello[..hello.len() / 2]).unwrap();
    // The server gives up: end of stream (or a reset) well before the test's own bound, which
    // is a read timeout and fails the test.
    let mut buf = [0u8; 64];
    match stalled.read(&mut buf) {
        Ok(0) => {}
        Ok(n) => panic!("the server answered a half ClientHello with {n} bytes"),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the server kept the stalled handshake open: {e}"),
    }
    assert_eq!(https.connect().get_from("a.test", "/hello.txt").status, 200);
}

/// A keep-alive connection the server ends for being idle ends with TLS's close_notify: the
/// client reads a clean end of stream, not a truncation (rustls reports one as UnexpectedEof).
#[test]
fn an_idle_connection_is_closed_with_close_notify() {
    let https = Https::start("keepalive_timeout = 0.5");
    let mut client = https.connect();
    assert_eq!(client.get_from("a.test", "/hello.txt").status, 200);
    let mut rest = Vec::new();
    let read = client.stream.read_to_end(&mut rest);
    assert!(
        read.is_ok(),
        "the close came without close_notify: {read:?}"
    );
    assert!(rest.is_empty());
}
