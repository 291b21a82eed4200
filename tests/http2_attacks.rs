//! HTTP/2 under attack, through the real binary, with frames written by hand over cleartext
//! HTTP/2 (the same connection code as over TLS): Rapid Reset, a CONTINUATION flood, SETTINGS
//! and PING floods, malformed requests, and a client that never opens its window. Each attack
//! must end with GOAWAY or a reset, or leave the server serving others, and the worker's memory
//! must stay bounded; a normal request on another connection is answered meanwhile.

mod support;

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use support::{H2Request, Server, children_of, exchange_h2c, rss_kib, write_file};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

const DATA: u8 = 0x0;
const HEADERS: u8 = 0x1;
const RST_STREAM: u8 = 0x3;
const SETTINGS: u8 = 0x4;
const PING: u8 = 0x6;
const GOAWAY: u8 = 0x7;
const CONTINUATION: u8 = 0x9;

const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;

/// The worker may grow by at most this during an attack (it starts near 4 MiB).
const RSS_BOUND_KIB: u64 = 64 * 1024;

fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut bytes = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    bytes.extend_from_slice(&stream.to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes
}

/// HPACK for `GET http://a.test{path}`: indexed :method GET and :scheme http, a literal :path
/// (name index 4) and :authority (name index 1), never indexed, not Huffman-coded.
fn get_block(path: &str) -> Vec<u8> {
    let mut block = vec![0x82, 0x86, 0x04, path.len() as u8];
    block.extend_from_slice(path.as_bytes());
    block.extend_from_slice(&[0x01, 6]);
    block.extend_from_slice(b"a.test");
    block
}

fn get(stream: u32, path: &str) -> Vec<u8> {
    frame(HEADERS, END_HEADERS | END_STREAM, stream, &get_block(path))
}

struct Target {
    _dir: tempfile::TempDir,
    server: Server,
}

impl Target {
    fn start(limits: &str) -> Target {
        let dir = tempfile::tempdir().unwrap();
        write_file(dir.path(), "www/index.html", "home");
        let big = "0123456789abcdef".repeat(1 << 16);
        write_file(dir.path(), "www/big.txt", &big);
        let config = format!(
            "workers = 1\n[limits]\n{limits}\n[[site]]\nlisten = [\"127.0.0.1:0\"]\n\
             server_names = [\"a.test\"]\nroot = \"www\"\nhttp2_cleartext = true\n"
        );
        let file = write_file(dir.path(), "site.toml", &config);
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        Target { _dir: dir, server }
    }

    fn addr(&self) -> SocketAddr {
        self.server.addrs[0]
    }

    fn worker_rss(&self) -> u64 {
        children_of(self.server.pid())
            .iter()
            .map(|&pid| rss_kib(pid))
            .sum()
    }

    /// A connection that has sent the preface and empty SETTINGS.
    fn connect(&self) -> TcpStream {
        let mut socket = TcpStream::connect(self.addr()).unwrap();
        socket.set_read_timeout(Some(support::WAIT)).unwrap();
        socket.set_write_timeout(Some(support::WAIT)).unwrap();
        socket.write_all(PREFACE).unwrap();
        socket.write_all(&frame(SETTINGS, 0, 0, &[])).unwrap();
        socket
    }

    /// A normal request on a connection of its own is answered.
    fn still_serves(&self) {
        let answers = exchange_h2c(self.addr(), &[H2Request::get("a.test", "/")]);
        assert_eq!(answers[0].status, 200);
        assert_eq!(answers[0].body, b"home");
    }
}

/// A frame as read: kind, flags, stream, payload.
type Frame = (u8, u8, u32, Vec<u8>);

/// Reads frames until the server closes (or the wait runs out); the frames it sent.
fn read_until_closed(socket: &mut TcpStream) -> Vec<Frame> {
    let mut frames = Vec::new();
    loop {
        let mut head = [0u8; 9];
        match socket.read_exact(&mut head) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::UnexpectedEof => return frames,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return frames,
            Err(e) => panic!("the server neither answered nor closed: {e}"),
        }
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        if socket.read_exact(&mut payload).is_err() {
            return frames;
        }
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        frames.push((head[3], head[4], stream, payload));
    }
}

/// The error code of a GOAWAY or RST_STREAM payload.
fn error_code(kind: u8, payload: &[u8]) -> u32 {
    let at = if kind == GOAWAY { 4 } else { 0 };
    u32::from_be_bytes(payload[at..at + 4].try_into().unwrap())
}

#[test]
fn rapid_reset_is_cut_off_and_others_are_served() {
    let target = Target::start("");
    let before = target.worker_rss();
    let mut socket = target.connect();
    let cancel = 8u32.to_be_bytes();
    let mut burst = Vec::new();
    for n in 0..20_000u32 {
        let stream = 2 * n + 1;
        burst.extend_from_slice(&get(stream, "/"));
        burst.extend_from_slice(&frame(RST_STREAM, 0, stream, &cancel));
    }
    // The server may close before taking it all: that is the point.
    let _ = socket.write_all(&burst);
    target.still_serves();
    let frames = read_until_closed(&mut socket);
    let goaway = frames.iter().find(|f| f.0 == GOAWAY);
    let (kind, _, _, payload) = goaway.expect("a GOAWAY ends the attack");
    // ENHANCE_YOUR_CALM (0xb) for too many resets, or PROTOCOL_ERROR (0x1).
    assert!(
        [0x1, 0xb].contains(&error_code(*kind, payload)),
        "{}",
        error_code(*kind, payload)
    );
    assert!(target.worker_rss() < before + RSS_BOUND_KIB);
    target.still_serves();
}

#[test]
fn a_continuation_flood_is_cut_off() {
    let target = Target::start("");
    let mut socket = target.connect();
    // A HEADERS frame that never ends: CONTINUATION after CONTINUATION of field lines.
    let mut first = get_block("/");
    first.extend_from_slice(&[0x00, 1, b'x', 16]);
    first.extend_from_slice(&[b'y'; 16]);
    let mut sent = socket
        .write_all(&frame(HEADERS, END_STREAM, 1, &first))
        .is_ok();
    let mut line = vec![0x00, 1, b'x', 120];
    line.extend_from_slice(&[b'z'; 120]);
    let filler: Vec<u8> = line
        .iter()
        .copied()
        .cycle()
        .take(line.len() * 100)
        .collect();
    let mut total = 0;
    while sent && total < 64 << 20 {
        sent = socket
            .write_all(&frame(CONTINUATION, 0, 1, &filler))
            .is_ok();
        total += filler.len();
    }
    assert!(
        !sent,
        "the server stopped reading long before 64 MiB of one header block"
    );
    let frames = read_until_closed(&mut socket);
    assert!(
        frames.iter().any(|f| f.0 == GOAWAY) || frames.is_empty(),
        "{frames:?}"
    );
    target.still_serves();
}

#[test]
fn settings_and_ping_floods_leave_memory_bounded() {
    let target = Target::start("");
    let before = target.worker_rss();
    for kind in [SETTINGS, PING] {
        let mut socket = target.connect();
        socket
            .set_write_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        let payload: &[u8] = if kind == PING { &[7; 8] } else { &[] };
        let flood: Vec<u8> = (0..10_000)
            .flat_map(|_| frame(kind, 0, 0, payload))
            .collect();
        // The client reads none of the acknowledgements: the server must stop reading (or end
        // the connection) rather than queue answers without bound.
        for _ in 0..200 {
            if socket.write_all(&flood).is_err() {
                break;
            }
        }
        target.still_serves();
        assert!(
            target.worker_rss() < before + RSS_BOUND_KIB,
            "{} KiB after a flood of frames of type {kind}",
            target.worker_rss()
        );
    }
}

#[test]
fn malformed_requests_get_stream_errors() {
    let target = Target::start("");
    let mut socket = target.connect();
    // No :path.
    let mut no_path = vec![0x82, 0x86, 0x01, 6];
    no_path.extend_from_slice(b"a.test");
    socket
        .write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &no_path))
        .unwrap();
    // A connection-specific field (RFC 9113 §8.2.2): `connection: close`.
    let mut with_connection = get_block("/");
    with_connection.extend_from_slice(&[0x00, 10]);
    with_connection.extend_from_slice(b"connection");
    with_connection.extend_from_slice(&[5]);
    with_connection.extend_from_slice(b"close");
    socket
        .write_all(&frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            3,
            &with_connection,
        ))
        .unwrap();
    // A Host that names another authority than `:authority`, and userinfo in `:authority`:
    // names HTTP/1.1 would answer 400.
    let mut other_host = get_block("/");
    other_host.extend_from_slice(&[0x00, 4]);
    other_host.extend_from_slice(b"host");
    other_host.extend_from_slice(&[6]);
    other_host.extend_from_slice(b"b.test");
    socket
        .write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 5, &other_host))
        .unwrap();
    let mut userinfo = vec![0x82, 0x86, 0x84, 0x01, 10];
    userinfo.extend_from_slice(b"eve@a.test");
    socket
        .write_all(&frame(HEADERS, END_HEADERS | END_STREAM, 7, &userinfo))
        .unwrap();
    // Then a good request, and a GOAWAY of our own so the server ends the connection.
    socket.write_all(&get(11, "/")).unwrap();
    socket
        .write_all(&frame(GOAWAY, 0, 0, &[0, 0, 0, 11, 0, 0, 0, 0]))
        .unwrap();
    let frames = read_until_closed(&mut socket);
    for stream in [1, 3] {
        let reset = frames
            .iter()
            .find(|f| f.0 == RST_STREAM && f.2 == stream)
            .unwrap_or_else(|| panic!("stream {stream} reset: {frames:?}"));
        assert_eq!(error_code(RST_STREAM, &reset.3), 0x1, "PROTOCOL_ERROR");
    }
    let answered = frames.iter().any(|f| f.0 == HEADERS && f.2 == 11);
    let body: Vec<u8> = frames
        .iter()
        .filter(|f| f.0 == DATA && f.2 == 11)
        .flat_map(|f| f.3.clone())
        .collect();
    assert!(answered, "{frames:?}");
    assert_eq!(body, b"home");
    // `:status 400` is entry 12 of HPACK's static table: one indexed byte, 0x8c.
    for stream in [5, 7] {
        let refused = frames.iter().any(|f| {
            (f.0 == HEADERS && f.2 == stream && f.3.first() == Some(&0x8c))
                || (f.0 == RST_STREAM && f.2 == stream && error_code(RST_STREAM, &f.3) == 0x1)
        });
        assert!(refused, "stream {stream} refused: {frames:?}");
    }
}

#[test]
fn a_client_that_never_opens_its_window_loses_the_stream() {
    let target = Target::start("send_timeout = 1.0");
    let mut socket = TcpStream::connect(target.addr()).unwrap();
    socket.set_read_timeout(Some(support::WAIT)).unwrap();
    socket.write_all(PREFACE).unwrap();
    // SETTINGS_INITIAL_WINDOW_SIZE = 0: no stream may receive a byte of DATA.
    socket
        .write_all(&frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]))
        .unwrap();
    socket.write_all(&get(1, "/big.txt")).unwrap();
    // Read until the stream is reset; the connection stays, idle, until its own timeout.
    let mut frames = Vec::new();
    while !frames.iter().any(|f: &Frame| f.0 == RST_STREAM && f.2 == 1) {
        let mut head = [0u8; 9];
        socket
            .read_exact(&mut head)
            .expect("a reset within the wait");
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        socket.read_exact(&mut payload).unwrap();
        let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]) & 0x7fff_ffff;
        frames.push((head[3], head[4], stream, payload));
    }
    assert!(
        frames.iter().any(|f| f.0 == HEADERS && f.2 == 1),
        "the head went out"
    );
    assert!(
        !frames
            .iter()
            .any(|f| f.0 == DATA && f.2 == 1 && !f.3.is_empty()),
        "no byte of body without window"
    );
    target.still_serves();
}

/// The server's first SETTINGS frame, as (identifier, value) pairs.
fn server_settings(socket: &mut TcpStream) -> Vec<(u16, u32)> {
    loop {
        let mut head = [0u8; 9];
        socket.read_exact(&mut head).unwrap();
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        socket.read_exact(&mut payload).unwrap();
        if head[3] == SETTINGS && head[4] & 0x1 == 0 {
            return payload
                .chunks(6)
                .map(|s| {
                    (
                        u16::from_be_bytes([s[0], s[1]]),
                        u32::from_be_bytes([s[2], s[3], s[4], s[5]]),
                    )
                })
                .collect();
        }
    }
}

#[test]
fn the_stream_limit_is_announced_and_configurable() {
    const MAX_CONCURRENT_STREAMS: u16 = 0x3;
    let target = Target::start("");
    let settings = server_settings(&mut target.connect());
    assert!(
        settings.contains(&(MAX_CONCURRENT_STREAMS, 128)),
        "{settings:?}"
    );

    let target = Target::start("http2_max_concurrent_streams = 2");
    let settings = server_settings(&mut target.connect());
    assert!(
        settings.contains(&(MAX_CONCURRENT_STREAMS, 2)),
        "{settings:?}"
    );
    // Within the limit, streams are answered as ever.
    let answers = exchange_h2c(
        target.addr(),
        &[H2Request::get("a.test", "/"), H2Request::get("a.test", "/")],
    );
    assert!(answers.iter().all(|a| a.status == 200));
}
