//! The access log sent to syslog (`--access-log syslog+udp://HOST:PORT`): one RFC 5424 message
//! per line, one line per datagram, `<190>1 TIMESTAMP HOSTNAME forkhttpd PID - - MSG`, where
//! PID is the worker's and MSG the line in the chosen format. A test's collector is a UDP
//! socket whose read timeout bounds the wait.

mod support;

use std::net::UdpSocket;

use support::{SIGTERM, Server, Site, WAIT, combined, exchange, get_with, json};

/// A collector on a free loopback port.
fn collector() -> UdpSocket {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    socket
}

fn start(site: &Site, collector: &UdpSocket, format: &str, extra: &[&str]) -> Server {
    let to = format!("syslog+udp://{}", collector.local_addr().unwrap());
    let mut args = vec!["--access-log", &to, "--access-log-format", format];
    args.extend_from_slice(extra);
    let root = site.root_arg();
    args.push(&root);
    Server::start(&args)
}

/// One message taken apart: its header fields and MSG.
struct Message {
    pri_version: String,
    timestamp: String,
    hostname: String,
    app: String,
    pid: String,
    msgid: String,
    structured: String,
    msg: String,
}

/// Receives the next datagram and takes it apart; panics if none comes within `WAIT`.
fn receive(collector: &UdpSocket) -> Message {
    let mut datagram = vec![0u8; 65536];
    let len = collector.recv(&mut datagram).expect("a syslog datagram");
    let text = String::from_utf8(datagram[..len].to_vec()).expect("a UTF-8 message");
    let fields: Vec<&str> = text.splitn(8, ' ').collect();
    let [
        pri_version,
        timestamp,
        hostname,
        app,
        pid,
        msgid,
        structured,
        msg,
    ] = fields[..]
    else {
        panic!("not an RFC 5424 message: {text:?}");
    };
    Message {
        pri_version: pri_version.into(),
        timestamp: timestamp.into(),
        hostname: hostname.into(),
        app: app.into(),
        pid: pid.into(),
        msgid: msgid.into(),
        structured: structured.into(),
        msg: msg.into(),
    }
}

#[test]
fn each_json_line_is_one_rfc5424_datagram_from_the_worker() {
    let site = Site::new();
    let collector = collector();
    let server = start(&site, &collector, "json", &[]);
    let workers = server.worker_pids();
    assert_eq!(
        get_with(server.addr(), "/hello.txt", "User-Agent: one\r\n").status,
        200
    );
    assert_eq!(
        get_with(server.addr(), "/missing", "User-Agent: two\r\n").status,
        404
    );

    let hostname = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    for (target, status, user_agent) in [("/hello.txt", 200, "one"), ("/missing", 404, "two")] {
        let message = receive(&collector);
        // PRI 190: facility local7, severity info; version 1.
        assert_eq!(message.pri_version, "<190>1");
        // `2026-12-02T01:40:45.123Z`
        let stamp = message.timestamp.as_bytes();
        assert!(
            stamp.len() == 24 && stamp[10] == b'T' && stamp[19] == b'.' && stamp[23] == b'Z',
            "{}",
            message.timestamp
        );
        assert_eq!(message.hostname, hostname.trim_end());
        assert_eq!(message.app, "forkhttpd");
        assert!(
            workers.iter().any(|pid| pid.to_string() == message.pid),
            "PID {} is a worker's ({workers:?})",
            message.pid
        );
        assert_eq!(
            (message.msgid.as_str(), message.structured.as_str()),
            ("-", "-")
        );
        assert!(!message.msg.ends_with('\n'), "no newline in a datagram");
        let line = json(&message.msg);
        assert_eq!(line["target"], target, "{}", message.msg);
        assert_eq!(line["status"], status);
        assert_eq!(line["user_agent"], user_agent);
    }
}

#[test]
fn combined_lines_and_rejections_reach_syslog() {
    let site = Site::new();
    let collector = collector();
    let server = start(&site, &collector, "combined", &[]);
    assert_eq!(get_with(server.addr(), "/hello.txt", "").status, 200);
    let bad = exchange(server.addr(), b"GET /\x1b[2J HTTP/1.1\r\n\r\n");
    assert_eq!(bad.status, 400);

    let first = combined(&receive(&collector).msg);
    assert_eq!(first.request, "GET /hello.txt HTTP/1.1");
    assert_eq!((first.status, first.bytes), (200, 13));
    let second = receive(&collector);
    assert!(
        second.msg.bytes().all(|b| (0x20..=0x7E).contains(&b)),
        "{:?}",
        second.msg
    );
    let second = combined(&second.msg);
    assert_eq!(second.request, r"GET /\x1B[2J HTTP/1.1");
    assert_eq!(second.status, 400);
    assert_eq!(second.bytes, bad.body.len() as u64);
}

#[test]
fn lines_buffered_at_a_graceful_stop_are_sent() {
    let site = Site::new();
    let collector = collector();
    let mut server = start(&site, &collector, "json", &[]);
    assert_eq!(support::get(server.addr(), "/hello.txt").status, 200);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0));
    let line = json(&receive(&collector).msg);
    assert_eq!(line["target"], "/hello.txt");
}
