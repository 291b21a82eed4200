//! Deadlines: a client that does not finish its head gets 408 and is closed; an idle keep-alive
//! connection is closed; neither disturbs anyone else.

mod support;

use support::{Client, Server, Site};

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
