//! SIGTERM: a graceful stop. A download in progress completes, idle connections close, the
//! master exits 0 and removes its pid file.

mod support;

use std::io::Read;

use support::{Client, SIGTERM, Server, Site, pattern};

#[test]
fn download_in_progress_completes_and_master_exits_0() {
    let site = Site::new();
    let size = 64 << 20;
    std::fs::write(site.root().join("big.bin"), pattern(size)).unwrap();
    let pid_file = site.dir.path().join("forkhttpd.pid");
    // A keep-alive timeout longer than the test waits: only the drain can close the idle one.
    let mut server = Server::start(&[
        "-w",
        "2",
        "--keepalive-timeout",
        "60",
        "--pid-file",
        pid_file.to_str().unwrap(),
        &site.root_arg(),
    ]);
    assert_eq!(
        std::fs::read_to_string(&pid_file).unwrap().trim(),
        server.pid().to_string()
    );

    let mut idle = Client::connect(server.addr());
    assert_eq!(idle.get("/hello.txt").status, 200);

    let mut download = Client::connect(server.addr());
    download.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let mut head_and_some = vec![0u8; 1 << 20];
    download.stream.read_exact(&mut head_and_some).unwrap();

    server.signal(SIGTERM);
    server.wait_for("stopping gracefully");
    // Idle keep-alive connections are closed at once.
    assert!(idle.is_closed());

    let mut rest = Vec::new();
    download.stream.read_to_end(&mut rest).unwrap();
    let mut received = head_and_some;
    received.extend_from_slice(&rest);
    let head_end = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(head.contains(&format!("Content-Length: {size}")), "{head}");
    assert!(
        received[head_end..] == pattern(size),
        "the download completed with the right bytes"
    );

    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
    assert!(!pid_file.exists(), "pid file removed on exit");
}

#[test]
fn new_connections_are_refused_once_stopped() {
    let site = Site::new();
    let mut server = Server::start(&[&site.root_arg()]);
    let addr = server.addr();
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(std::net::TcpStream::connect(addr).is_err());
}

#[test]
fn a_request_body_in_progress_is_read_to_its_end_during_a_stop() {
    let site = Site::new();
    let mut server = Server::start(&["-w", "1", &site.root_arg()]);
    let mut client = Client::connect(server.addr());
    assert_eq!(client.get("/hello.txt").status, 200);
    client.send(b"POST /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nhello");
    // Lets the worker start reading the body before the stop (the outcome is the same if not).
    std::thread::sleep(std::time::Duration::from_millis(200));

    server.signal(SIGTERM);
    server.wait_for("draining");
    // A connection in the middle of a request is not idle: the drain waits for its body.
    client.send(b"world");
    let response = client.response();
    assert_eq!(response.status, 405);
    assert_eq!(response.header("connection"), Some("close"));
    assert_eq!(server.wait_exit().code(), Some(0));
}
