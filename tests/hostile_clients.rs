//! Slow, idle, greedy and descriptor-hungry clients: the server keeps serving everyone else,
//! with bounded memory and no busy loop.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use support::{Client, Server, Site, children_of, get, raise_file_limit, rss_kib};

#[test]
fn slowloris_connections_do_not_starve_a_normal_client() {
    let held = 2000;
    assert!(
        raise_file_limit(4 * held as u64 + 200) >= 2 * held as u64 + 100,
        "descriptor limit too low"
    );
    let site = Site::new();
    let server = Server::start(&["--header-timeout", "3", &site.root_arg()]);
    let worker = children_of(server.pid())[0];
    let rss_before = rss_kib(worker);

    // 2,000 connections per worker, each sending its head a byte at a time.
    let mut slow: Vec<TcpStream> = (0..held)
        .map(|_| {
            let stream = TcpStream::connect(server.addr()).unwrap();
            stream.set_nodelay(true).unwrap();
            stream
        })
        .collect();
    let head = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nX-Slow: ";
    for round in 0..3 {
        for stream in &mut slow {
            let _ = stream.write_all(&head[round..round + 1]);
        }
        // Meanwhile a normal client is answered, on new connections and on one kept alive.
        for _ in 0..10 {
            assert_eq!(get(server.addr(), "/hello.txt").text(), "hello, world\n");
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    let rss_held = rss_kib(worker);
    // The head deadline runs from the first byte, whatever trickles after: every slow
    // connection gets 408 or is closed.
    let mut answered = 0;
    for stream in &mut slow {
        stream.set_read_timeout(Some(support::WAIT)).unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        if reply.starts_with(b"HTTP/1.1 408 ") {
            answered += 1;
        }
    }
    assert_eq!(
        answered, held,
        "every slowloris connection timed out with 408"
    );
    assert_eq!(get(server.addr(), "/hello.txt").status, 200);
    // Each idle connection costs a few KiB, not a buffer per byte received.
    let per_connection = rss_held.saturating_sub(rss_before) * 1024 / held as u64;
    assert!(
        per_connection < 32 * 1024,
        "{per_connection} bytes per slow connection"
    );
}

#[test]
fn at_the_connection_limit_the_worker_waits_and_then_resumes() {
    let site = Site::new();
    let server = Server::start(&["--max-connections", "3", &site.root_arg()]);
    let mut held: Vec<Client> = (0..3).map(|_| Client::connect(server.addr())).collect();
    for client in &mut held {
        assert_eq!(client.get("/hello.txt").status, 200);
    }
    // The fourth connection waits in the kernel's backlog: connected, but not served.
    let mut waiting = Client::connect(server.addr());
    waiting.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
    std::thread::sleep(Duration::from_millis(300));
    waiting.stream.set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    assert!(
        waiting.stream.peek(&mut byte).is_err(),
        "served beyond --max-connections"
    );
    waiting.stream.set_nonblocking(false).unwrap();
    // One connection ends: the waiting one is accepted and answered.
    drop(held.pop());
    assert_eq!(waiting.response().text(), "hello, world\n");
}

#[test]
fn running_out_of_descriptors_pauses_accepting_then_resumes() {
    let site = Site::new();
    let server = Server::start_with_file_limit(40, &[&site.root_arg()]);
    // More connections than the worker has descriptors for. Each sends a first byte: the kernel
    // hands a connection to the worker only then (TCP_DEFER_ACCEPT).
    let mut clients: Vec<Client> = (0..60)
        .map(|_| {
            let mut client = Client::connect(server.addr());
            client.send(b"G");
            client
        })
        .collect();
    server.wait_for("pausing accepts");
    for client in clients.iter_mut().take(5) {
        client.send(b"ET /hello.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(clients);
    // Once descriptors are free again, new connections are served.
    assert!(support::eventually(|| {
        let mut client = Client::connect(server.addr());
        client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
        client.read_response(false).is_some_and(|r| r.status == 200)
    }));
    let warnings = server
        .lines()
        .iter()
        .filter(|l| l.contains("pausing accepts"))
        .count();
    assert_eq!(
        warnings, 1,
        "logged once per episode, not per failed accept"
    );
    assert_eq!(
        children_of(server.pid()).len(),
        1,
        "the worker did not crash"
    );
}

#[test]
fn client_that_stops_reading_is_dropped_after_the_send_timeout() {
    let site = Site::new();
    let size = 64 << 20;
    std::fs::write(site.root().join("big.bin"), vec![b'x'; size]).unwrap();
    let server = Server::start(&["--send-timeout", "0.5", &site.root_arg()]);
    let mut stalled = Client::connect(server.addr());
    stalled.send(b"GET /big.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    std::thread::sleep(Duration::from_millis(1500));
    // Reading now drains what the kernel buffered, then the end: the body stops short.
    let mut received = Vec::new();
    let _ = stalled.stream.read_to_end(&mut received);
    assert!(received.starts_with(b"HTTP/1.1 200 OK"));
    assert!(
        received.len() < size,
        "the server gave up on a client that did not read"
    );
    assert_eq!(get(server.addr(), "/hello.txt").status, 200);
}

#[test]
fn endless_head_or_body_is_cut_at_its_limit() {
    let site = Site::new();
    let server = Server::start(&["--max-body-bytes", "100000", &site.root_arg()]);
    // A request line that never ends: 414 once the limit is passed, not a growing buffer.
    let mut client = Client::connect(server.addr());
    client.send(b"GET /");
    let chunk = vec![b'a'; 64 * 1024];
    let mut sent = 0;
    while sent < 1 << 20 && client.stream.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    assert_eq!(client.response().status, 414);
    // A chunked body that never ends: 413 at the body limit.
    let mut client = Client::connect(server.addr());
    client.send(b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let chunk = format!("{:x}\r\n{}\r\n", 10_000, "b".repeat(10_000));
    let mut sent = 0;
    while sent < 1 << 20 && client.stream.write_all(chunk.as_bytes()).is_ok() {
        sent += chunk.len();
    }
    assert_eq!(client.response().status, 413);
}

#[test]
fn silent_connections_never_take_a_workers_slot() {
    // A connection is handed to a worker only once its first bytes arrive (TCP_DEFER_ACCEPT):
    // a crowd that connects and says nothing cannot fill --max-connections.
    let site = Site::new();
    // A header timeout longer than the test's patience: were silent connections accepted, they
    // would hold all five slots for longer than the test waits.
    let server = Server::start(&[
        "--max-connections",
        "5",
        "--header-timeout",
        "60",
        &site.root_arg(),
    ]);
    let silent: Vec<TcpStream> = (0..50)
        .map(|_| TcpStream::connect(server.addr()).unwrap())
        .collect();
    for _ in 0..10 {
        assert_eq!(get(server.addr(), "/hello.txt").text(), "hello, world\n");
    }
    drop(silent);
}
