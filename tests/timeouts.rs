//! Deadlines: a client that does not finish its head gets 408 and is closed; an idle keep-alive
//! connection is closed; neither disturbs anyone else.

mod support;

use std::io::{Read, Write};

use support::{Client, H2Request, Server, Site, exchange_h2c, write_file};

#[test]
fn unfinished_head_gets_408_and_close() {
    let site = Site::new();
    let server = Server::start(&[
        "--header-timeout",
        "0.5",
        "--log-level",
        "debug",
        &site.root_arg(),
    ]);
    let mut slow = Client::connect(server.addr());
    slow.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n");
    // Meanwhile another client is served normally.
    assert_eq!(support::get(server.addr(), "/hello.txt").status, 200);
    let response = slow.response();
    assert_eq!(response.status, 408);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(slow.is_closed());
    // Logged like every other rejection: at debug, with the client's address.
    let logged = server.wait_for("rejected request");
    assert!(
        logged.contains("DEBUG") && logged.contains("Timeout"),
        "{logged}"
    );
    assert!(logged.contains("127.0.0.1:"), "{logged}");
}

#[test]
fn head_deadline_counts_the_whole_head_not_each_byte() {
    let site = Site::new();
    let server = Server::start(&["--header-timeout", "0.5", &site.root_arg()]);
    let mut slow = Client::connect(server.addr());
    slow.stream.set_nodelay(true).unwrap();
    // A byte every 100 ms would keep a per-read timer alive forever.
    let mut answered = None;
    for byte in b"GET /hello.txt HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
        if slow.stream.write_all_checked(&[*byte]).is_err() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
        if slow.stream.peek_nonblocking() {
            answered = slow.read_response(false);
            break;
        }
    }
    let response = answered
        .or_else(|| slow.read_response(false))
        .expect("a 408 response");
    assert_eq!(response.status, 408);
}

#[test]
fn a_408_is_followed_by_a_lingering_close_not_a_reset() {
    let site = Site::new();
    let server = Server::start(&["--header-timeout", "0.5", &site.root_arg()]);
    let mut slow = Client::connect(server.addr());
    slow.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n");
    assert_eq!(slow.response().status, 408);
    assert!(slow.is_closed(), "the server half-closes after the 408");
    // A client that was still sending when the 408 left (RFC 9112 §9.6). The server reads and
    // drops its bytes for a while; a server that had closed outright answers them with a
    // reset, and the client's next write fails.
    slow.stream.write_all_checked(&[b'a'; 1024]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    let again = slow.stream.write_all_checked(&[b'a'; 1024]);
    assert!(
        again.is_ok(),
        "the server reset the connection instead of lingering: {again:?}"
    );
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let site = Site::new();
    let server = Server::start(&["--keepalive-timeout", "0.3", &site.root_arg()]);
    let mut client = Client::connect(server.addr());
    assert_eq!(client.get("/hello.txt").status, 200);
    assert!(
        client.is_closed(),
        "idle connection must be closed without a response"
    );
}

#[test]
fn keepalive_timeout_zero_turns_keep_alive_off() {
    let site = Site::new();
    let server = Server::start(&["--keepalive-timeout", "0", &site.root_arg()]);
    let mut client = Client::connect(server.addr());
    let response = client.get("/hello.txt");
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed());
    // An HTTP/1.0 client asking for keep-alive is not given it either.
    let mut old = Client::connect(server.addr());
    old.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    let response = old.response();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(old.is_closed());
}

#[test]
fn keepalive_timeout_zero_in_the_file_still_serves_an_http2_connection_its_first_streams() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let config = r#"workers = 1
[limits]
keepalive_timeout = 0
[[site]]
listen = ["127.0.0.1:0"]
root = "www"
http2_cleartext = true
"#;
    let file = write_file(dir.path(), "site.toml", config);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let answers = exchange_h2c(
        server.addr(),
        &[
            H2Request::get("a.test", "/"),
            H2Request::get("a.test", "/x"),
        ],
    );
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].body, b"home");
    assert_eq!(answers[1].status, 404);

    // A client that takes its time between the preface and its first request is still
    // answered (the first request is awaited for the header timeout), then the connection
    // ends, with nothing open.
    let mut raw = std::net::TcpStream::connect(server.addr()).unwrap();
    raw.set_read_timeout(Some(support::WAIT)).unwrap();
    raw.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // HEADERS on stream 1, END_STREAM | END_HEADERS: GET, http, /, :authority a.test (HPACK
    // static table entries and one literal).
    let block = b"\x82\x86\x84\x41\x06a.test";
    let mut frame = vec![0, 0, block.len() as u8, 1, 5, 0, 0, 0, 1];
    frame.extend_from_slice(block);
    raw.write_all(&frame).unwrap();
    // Read until both are in: the end is a GOAWAY, then a PING this client never answers.
    let mut received = Vec::new();
    let mut chunk = [0u8; 4096];
    while !(frames(&received).any(|(kind, stream, _)| kind == 1 && stream == 1)
        && frames(&received).any(|(kind, _, _)| kind == 7))
    {
        match raw.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&chunk[..n]),
        }
    }
    assert!(
        frames(&received).any(|(kind, stream, payload)| kind == 1
            && stream == 1
            && payload.first() == Some(&0x88)),
        "no 200 for the late request in {received:?}"
    );
    assert!(
        frames(&received).any(|(kind, _, _)| kind == 7),
        "no GOAWAY in {received:?}"
    );

    // HTTP/1.1 on the same socket closes after its response.
    let mut client = Client::connect(server.addr());
    assert_eq!(client.get("/").header("connection"), Some("close"));
    assert!(client.is_closed());
}

/// The HTTP/2 frames in `bytes`: (type, stream, payload).
fn frames(bytes: &[u8]) -> impl Iterator<Item = (u8, u32, &[u8])> {
    let mut rest = bytes;
    std::iter::from_fn(move || {
        let head = rest.get(..9)?;
        let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        let payload = rest.get(9..9 + len)?;
        let kind = head[3];
        rest = &rest[9 + len..];
        Some((kind, stream, payload))
    })
}

/// Small socket helpers for the byte-by-byte test.
trait SlowSocket {
    fn write_all_checked(&mut self, bytes: &[u8]) -> std::io::Result<()>;
    fn peek_nonblocking(&self) -> bool;
}

impl SlowSocket for std::net::TcpStream {
    fn write_all_checked(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        std::io::Write::write_all(self, bytes)
    }

    fn peek_nonblocking(&self) -> bool {
        self.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let ready = matches!(self.peek(&mut byte), Ok(n) if n > 0);
        self.set_nonblocking(false).unwrap();
        ready
    }
}
