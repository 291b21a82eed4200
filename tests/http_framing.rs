//! Message framing over a byte stream: split requests, pipelined requests, request bodies, and
//! connection persistence (RFC 9112 §6, §9).

mod support;

use std::time::Duration;

use support::{Client, Server, Site};

fn serve(site: &Site) -> Server {
    Server::start(&[&site.root_arg()])
}

#[test]
fn request_sent_one_byte_at_a_time() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    client.stream.set_nodelay(true).unwrap();
    for byte in b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nUser-Agent: slow\r\n\r\n" {
        client.send(&[*byte]);
        std::thread::sleep(Duration::from_millis(1));
    }
    let response = client.response();
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "hello, world\n")
    );
}

#[test]
fn three_pipelined_requests_in_one_write_answer_in_order() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    client.send(
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /missing HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /sub/ HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let first = client.response();
    let second = client.response();
    let third = client.response();
    assert_eq!(
        (first.status, first.text().as_str()),
        (200, "hello, world\n")
    );
    assert_eq!(second.status, 404);
    assert_eq!(
        (third.status, third.text().as_str()),
        (200, "<h1>sub</h1>\n")
    );
}

#[test]
fn pipelined_requests_split_at_every_byte_boundary() {
    let site = Site::new();
    let server = serve(&site);
    let requests: &[u8] =
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\nHEAD /sub/ HTTP/1.1\r\nHost: t\r\n\r\n";
    for split in [1, 10, 17, 33, 34, 35, 36, 50, requests.len() - 1] {
        let mut client = Client::connect(server.addr());
        client.stream.set_nodelay(true).unwrap();
        client.send(&requests[..split]);
        std::thread::sleep(Duration::from_millis(5));
        client.send(&requests[split..]);
        assert_eq!(
            client.response().text(),
            "hello, world\n",
            "split at {split}"
        );
        let head = client.head_response();
        assert_eq!(head.status, 200, "split at {split}");
    }
}

#[test]
fn http11_keeps_the_connection_open_by_default() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    let first = client.get("/hello.txt");
    assert_eq!(first.header("connection"), None);
    assert_eq!(client.get("/hello.txt").status, 200);
}

#[test]
fn http11_connection_close_is_honoured() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let response = client.response();
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed());
}

#[test]
fn http10_closes_unless_keep_alive_is_asked_for() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    client.send(b"GET /hello.txt HTTP/1.0\r\n\r\n");
    let response = client.response();
    assert_eq!(response.header("connection"), Some("close"));
    assert!(response.head.starts_with("HTTP/1.1 200 OK\r\n"));
    assert!(client.is_closed());

    let mut client = Client::connect(server.addr());
    client.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.response().header("connection"), Some("keep-alive"));
    client.send(b"GET /hello.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(client.response().status, 200);
}

#[test]
fn content_length_body_is_discarded_and_the_next_request_read() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    // The body looks like a request; it must be skipped, not served.
    let body = "GET /missing HTTP/1.1\r\nHost: t\r\n\r\n";
    let request = format!(
        "POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}\
         GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        body.len()
    );
    client.send(request.as_bytes());
    assert_eq!(client.response().status, 405);
    let next = client.response();
    assert_eq!((next.status, next.text().as_str()), (200, "hello, world\n"));
}

#[test]
fn chunked_body_is_discarded_and_the_next_request_read() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    let tail = " HTTP/1.1\r\nHost: t\r\n\r\n";
    let request = format!(
        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\
         8\r\nGET /mis\r\n{:x};name=value\r\n{tail}\r\n0\r\nX-Trailer: 1\r\n\r\n\
         GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
        tail.len()
    );
    client.send(request.as_bytes());
    assert_eq!(client.response().status, 405);
    let next = client.response();
    assert_eq!((next.status, next.text().as_str()), (200, "hello, world\n"));
}

#[test]
fn body_arriving_slowly_is_still_framed() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    client.stream.set_nodelay(true).unwrap();
    client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    for part in [&b"4\r"[..], b"\nab", b"cd\r\n", b"0\r\n", b"\r\n"] {
        std::thread::sleep(Duration::from_millis(5));
        client.send(part);
    }
    client.send(b"GET /sub/ HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.response().text(), "hello, world\n");
    assert_eq!(client.response().text(), "<h1>sub</h1>\n");
}

#[test]
fn body_over_the_limit_is_refused_with_413_and_close() {
    let site = Site::new();
    let server = Server::start(&["--max-body-bytes", "1000", &site.root_arg()]);
    let mut client = Client::connect(server.addr());
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1001\r\n\r\n");
    let response = client.response();
    assert_eq!(response.status, 413);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.is_closed());

    let mut client = Client::connect(server.addr());
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3e9\r\n");
    assert_eq!(client.response().status, 413);
    assert!(client.is_closed());
}

#[test]
fn expect_continue_with_an_unwanted_body_is_answered_at_once() {
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    client.send(
        b"PUT /x HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n",
    );
    let response = client.response();
    assert_eq!(response.status, 405);
    assert_eq!(response.header("connection"), Some("close"));
}

#[test]
fn error_response_survives_unread_client_data() {
    // Lingering close: the client keeps sending after a fatal error; the response must still
    // arrive whole instead of being destroyed by a reset.
    let site = Site::new();
    let server = serve(&site);
    let mut client = Client::connect(server.addr());
    let mut junk = b"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n".to_vec();
    junk.extend(std::iter::repeat_n(b'a', 100_000));
    client.send(&junk);
    assert_eq!(client.response().status, 400);
}

#[test]
fn requests_per_connection_are_capped() {
    let site = Site::new();
    let server = Server::start(&["--max-requests-per-connection", "3", &site.root_arg()]);
    let mut client = Client::connect(server.addr());
    assert_eq!(client.get("/hello.txt").header("connection"), None);
    assert_eq!(client.get("/hello.txt").header("connection"), None);
    assert_eq!(client.get("/hello.txt").header("connection"), Some("close"));
    assert!(client.is_closed());
}
