//! The PROXY protocol (`proxy_protocol`, `trusted_proxies`; `--proxy-protocol`,
//! `--trusted-proxy`): behind a load balancer, each connection starts with a header naming the
//! client, and the access log shows that client. Versions 1 and 2 on a plain socket, before a
//! TLS handshake and before the HTTP/2 preface; a request in the same packet as the header;
//! every malformed, slow or untrusted start closed without a byte of answer while other
//! clients are served; the configuration's mistakes placed in the file; a reload that turns it
//! on.

mod support;

use std::io::{Read, Write};
use std::net::{Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use support::{
    Authority, Client, H2Request, SIGHUP, Server, TLS13, WAIT, assert_placed, children_of,
    combined, config_problems, exchange_h2c_after, try_connect_tls_after, wait_lines, write_file,
};

/// The fixed part of every version 2 header.
const V2_SIGNATURE: &[u8] = b"\r\n\r\n\0\r\nQUIT\n";

/// A version 2 header: PROXY (or LOCAL) command, family and protocol byte, then `block`.
fn v2(proxy: bool, family_protocol: u8, block: &[u8]) -> Vec<u8> {
    let mut header = V2_SIGNATURE.to_vec();
    header.push(if proxy { 0x21 } else { 0x20 });
    header.push(family_protocol);
    header.extend_from_slice(&u16::try_from(block.len()).unwrap().to_be_bytes());
    header.extend_from_slice(block);
    header
}

/// A version 2 header for TCP over IPv4 from `src`, to 10.0.0.1:443, with `tlvs` after.
fn v2_tcp4(src: [u8; 4], port: u16, tlvs: &[u8]) -> Vec<u8> {
    let mut block = src.to_vec();
    block.extend_from_slice(&[10, 0, 0, 1]);
    block.extend_from_slice(&port.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    block.extend_from_slice(tlvs);
    v2(true, 0x11, &block)
}

/// A version 2 header for TCP over IPv6 from `src`.
fn v2_tcp6(src: &str, port: u16) -> Vec<u8> {
    let mut block = src.parse::<Ipv6Addr>().unwrap().octets().to_vec();
    block.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
    block.extend_from_slice(&port.to_be_bytes());
    block.extend_from_slice(&443u16.to_be_bytes());
    v2(true, 0x21, &block)
}

/// A server whose sockets take the header from loopback proxies: plain (HTTP/1.1 and HTTP/2
/// by prior knowledge) on 127.0.0.1, TLS on 127.0.0.2; and a socket on 127.0.0.3 that trusts
/// only 10.0.0.0/8, so the tests' connections are untrusted there. Header timeout 2 s.
struct Proxied {
    dir: tempfile::TempDir,
    ca: Authority,
    server: Server,
}

impl Proxied {
    fn start() -> Proxied {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        ca.leaf(&["a.test"]).write(dir.path(), "a");
        write_file(dir.path(), "www/hello.txt", "hello\n");
        let config = r#"workers = 1
[limits]
header_timeout = 2
[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.2:0"]
server_names = ["a.test"]
root = "www"
http2_cleartext = true
proxy_protocol = true
trusted_proxies = ["::1", "127.0.0.0/8"]
access_log = { path = "access.log" }
[site.tls]
cert = "a.pem"
key = "a.key"
[[site]]
listen = ["127.0.0.3:0"]
server_names = ["b.test"]
root = "www"
proxy_protocol = true
trusted_proxies = ["10.0.0.0/8"]
"#;
        let file = write_file(dir.path(), "site.toml", config);
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        assert_eq!(server.addrs.len(), 3, "plain, TLS, untrusted");
        Proxied { dir, ca, server }
    }

    fn plain(&self) -> SocketAddr {
        self.server.addrs[0]
    }

    fn tls(&self) -> SocketAddr {
        self.server.addrs[1]
    }

    fn untrusted(&self) -> SocketAddr {
        self.server.addrs[2]
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("access.log")
    }

    /// Waits for the access log line of the request for `target` and returns its client.
    fn client_logged_for(&self, target: &str, lines_expected: usize) -> String {
        let lines = wait_lines(&self.log(), lines_expected);
        let wanted = format!("GET {target} ");
        let line = lines
            .iter()
            .find(|line| line.contains(&wanted))
            .unwrap_or_else(|| panic!("no line for {target} in:\n{}", lines.join("\n")));
        combined(line).peer
    }
}

/// Opens a connection to `addr` and sends `bytes`.
fn connect_and_send(addr: SocketAddr, bytes: &[u8]) -> Client {
    let mut client = Client::connect(addr);
    client.send(bytes);
    client
}

fn get(target: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: a.test\r\n\r\n")
}

#[test]
fn each_kind_of_header_names_the_client_in_the_access_log() {
    let site = Proxied::start();
    let tlvs = [
        &[0xea, 0x00, 0x06, 0x01][..],
        b"vpce-",
        &[0x01, 0x00, 0x02],
        b"h2",
    ]
    .concat();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (
            b"PROXY TCP4 203.0.113.7 10.0.0.1 51000 443\r\n".to_vec(),
            "203.0.113.7",
        ),
        (
            b"PROXY TCP6 2001:db8::7 2001:db8::1 51000 443\r\n".to_vec(),
            "2001:db8::7",
        ),
        // UNKNOWN and LOCAL: the connection is the proxy's own; its address stands.
        (b"PROXY UNKNOWN\r\n".to_vec(), "127.0.0.1"),
        (v2_tcp4([198, 51, 100, 9], 40000, &[]), "198.51.100.9"),
        (v2_tcp6("2001:db8::9", 40000), "2001:db8::9"),
        (v2(false, 0x00, &[]), "127.0.0.1"),
        (v2_tcp4([192, 0, 2, 33], 40000, &tlvs), "192.0.2.33"),
    ];
    for (index, (header, _)) in cases.iter().enumerate() {
        let target = format!("/hello.txt?case={index}");
        let mut client = Client::connect(site.plain());
        if index % 2 == 0 {
            // The header and the request in one packet: the request is not lost to the
            // header's read.
            client.send(&[&header[..], get(&target).as_bytes()].concat());
        } else {
            client.send(header);
            client.send(get(&target).as_bytes());
        }
        let response = client.response();
        assert_eq!(response.status, 200, "case {index}: {}", response.head);
        assert_eq!(response.text(), "hello\n");
        // The connection goes on as any other: a second request, the same client.
        let again = client.get("/hello.txt?again");
        assert_eq!(again.status, 200);
    }
    for (index, (_, client)) in cases.iter().enumerate() {
        let logged = site.client_logged_for(&format!("/hello.txt?case={index}"), 2 * cases.len());
        assert_eq!(&logged, client, "case {index}");
    }
}

#[test]
fn a_header_before_the_tls_handshake_and_before_the_http2_preface() {
    let site = Proxied::start();
    let config = Arc::new(site.ca.client(&[TLS13]));
    for (index, header) in [
        v2_tcp4([203, 0, 113, 50], 1234, &[]),
        b"PROXY TCP4 203.0.113.51 10.0.0.1 1234 443\r\n".to_vec(),
    ]
    .iter()
    .enumerate()
    {
        let mut client = try_connect_tls_after(site.tls(), header, "a.test", &config)
            .unwrap_or_else(|e| panic!("handshake after header {index}: {e}"));
        let response = client.get_from("a.test", &format!("/hello.txt?tls={index}"));
        assert_eq!(response.status, 200);
        assert_eq!(response.text(), "hello\n");
    }

    let answers = exchange_h2c_after(
        site.plain(),
        &v2_tcp6("2001:db8::52", 1234),
        &[H2Request::get("a.test", "/hello.txt?h2c")],
    );
    assert_eq!(answers[0].status, 200);
    assert_eq!(answers[0].body, b"hello\n");

    assert_eq!(
        site.client_logged_for("/hello.txt?tls=0", 3),
        "203.0.113.50"
    );
    assert_eq!(
        site.client_logged_for("/hello.txt?tls=1", 3),
        "203.0.113.51"
    );
    assert_eq!(site.client_logged_for("/hello.txt?h2c", 3), "2001:db8::52");
}

/// What the server sent before it closed the connection; panics if it keeps it open past
/// `WAIT`. A reset (the server closed with bytes unread) ends it like a close.
fn sent_before_close(client: &mut Client) -> Vec<u8> {
    client.read_until_closed()
}

#[test]
fn bad_headers_are_closed_without_an_answer_while_others_are_served() {
    let site = Proxied::start();
    let mut too_long_v1 = b"PROXY UNKNOWN ".to_vec();
    too_long_v1.resize(200, b'x');
    too_long_v1.extend_from_slice(b"\r\n");
    let mut bad_signature = v2_tcp4([192, 0, 2, 1], 1, &[]);
    bad_signature[8] = b'X';
    let mut past_the_limit = v2(false, 0x00, &[]);
    past_the_limit[14..16].copy_from_slice(&4097u16.to_be_bytes());
    let mut wrong_family = v2_tcp4([192, 0, 2, 1], 1, &[]);
    wrong_family[13] = 0x41;
    let mut datagram = v2_tcp4([192, 0, 2, 1], 1, &[]);
    datagram[13] = 0x12;
    let request = get("/hello.txt");
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("no header", request.clone().into_bytes()),
        ("too long", too_long_v1),
        (
            "double space",
            b"PROXY TCP4  192.0.2.1 10.0.0.1 1 2\r\n".to_vec(),
        ),
        (
            "TCP6 with an IPv4 address",
            b"PROXY TCP6 192.0.2.1 10.0.0.1 1 2\r\n".to_vec(),
        ),
        (
            "port past 65535",
            b"PROXY TCP4 192.0.2.1 10.0.0.1 65536 2\r\n".to_vec(),
        ),
        ("bad signature", bad_signature),
        ("length past the limit", past_the_limit),
        ("wrong family", wrong_family),
        ("datagram", datagram),
    ];
    for (name, bytes) in &cases {
        // What follows a bad header is never read as a request either.
        let mut client = connect_and_send(site.plain(), &[&bytes[..], request.as_bytes()].concat());
        assert_eq!(sent_before_close(&mut client), b"", "{name}");
    }

    // Truncated, then the proxy closes its side: closed at once, without an answer.
    let header = b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n";
    for cut in [1, 10, header.len() - 1] {
        let mut client = connect_and_send(site.plain(), &header[..cut]);
        client.stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(sent_before_close(&mut client), b"", "cut at {cut}");
    }
    let v2_header = v2_tcp4([192, 0, 2, 1], 1, &[]);
    for cut in [5, 15, v2_header.len() - 1] {
        let mut client = connect_and_send(site.plain(), &v2_header[..cut]);
        client.stream.shutdown(std::net::Shutdown::Write).unwrap();
        assert_eq!(sent_before_close(&mut client), b"", "v2 cut at {cut}");
    }

    // Truncated and left open: while it waits, another client is served; at the header
    // timeout it is closed without an answer.
    let mut stalled = connect_and_send(site.plain(), &header[..20]);
    let mut stalled_tls = connect_and_send(site.tls(), &v2_header[..20]);
    let mut served = connect_and_send(site.plain(), &[&header[..], request.as_bytes()].concat());
    assert_eq!(served.response().status, 200);
    assert_eq!(sent_before_close(&mut stalled), b"");
    assert_eq!(sent_before_close(&mut stalled_tls), b"");
}

#[test]
fn a_header_sent_byte_by_byte_is_cut_off_at_the_header_timeout() {
    let site = Proxied::start();
    let header = b"PROXY TCP4 203.0.113.99 10.0.0.1 51000 443\r\n";
    let mut slow = TcpStream::connect(site.plain()).unwrap();
    slow.set_read_timeout(Some(WAIT)).unwrap();
    // A byte every 100 ms: the whole header would take 4.4 s, twice the header timeout, which
    // runs from the first byte and is not renewed by each one.
    let mut written = 0;
    for (index, byte) in header.iter().enumerate() {
        if slow.write_all(&[*byte]).is_err() {
            break;
        }
        written += 1;
        if index == 3 {
            // Meanwhile, another client is served.
            let request = [&header[..], get("/hello.txt?meanwhile").as_bytes()].concat();
            let mut other = connect_and_send(site.plain(), &request);
            assert_eq!(other.response().status, 200);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        written < header.len(),
        "the server was still reading after the whole header"
    );
    // Had the server taken the trickle, this request would be answered.
    let _ = slow.write_all(get("/hello.txt?slow").as_bytes());
    let mut answer = Vec::new();
    let _ = slow.read_to_end(&mut answer);
    assert_eq!(answer, b"");
}

#[test]
fn an_untrusted_peer_is_closed_before_its_header_is_read() {
    let site = Proxied::start();
    let request = [
        &b"PROXY TCP4 10.1.2.3 10.0.0.1 51000 443\r\n"[..],
        get("/hello.txt").as_bytes(),
    ]
    .concat();
    let mut untrusted = connect_and_send(site.untrusted(), &request);
    assert_eq!(sent_before_close(&mut untrusted), b"");
    // The trusted socket serves the same bytes.
    let mut trusted = connect_and_send(site.plain(), &request);
    assert_eq!(trusted.response().status, 200);
}

#[test]
fn the_command_line_takes_the_header_from_trusted_proxies() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "hello.txt", "hi\n");
    let root = dir.path().to_str().unwrap();
    let server = Server::start(&["--proxy-protocol", "--trusted-proxy", "127.0.0.1", root]);
    let header = b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n";
    let mut client = connect_and_send(
        server.addr(),
        &[&header[..], get("/hello.txt").as_bytes()].concat(),
    );
    assert_eq!(client.response().text(), "hi\n");
    let mut bare = connect_and_send(server.addr(), get("/hello.txt").as_bytes());
    assert_eq!(sent_before_close(&mut bare), b"");

    let untrusted = Server::start(&["--proxy-protocol", "--trusted-proxy", "10.0.0.0/8", root]);
    let mut client = connect_and_send(
        untrusted.addr(),
        &[&header[..], get("/hello.txt").as_bytes()].concat(),
    );
    assert_eq!(sent_before_close(&mut client), b"");

    // Each flag needs the other, and a range must be one.
    for args in [
        &["--proxy-protocol"][..],
        &["--trusted-proxy", "127.0.0.1"],
        &["--proxy-protocol", "--trusted-proxy", "10.0.0.1/8"],
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
            .arg("-t")
            .args(args)
            .output()
            .unwrap();
        assert_ne!(output.status.code(), Some(0), "{args:?}");
    }
}

#[test]
fn configuration_mistakes_are_placed_in_the_file() {
    let text = r#"[[site]]
listen = ["127.0.0.1:0"]
root = "www"
proxy_protocol = true
[[site]]
listen = ["127.0.0.2:0"]
root = "www"
trusted_proxies = ["10.0.0.0/8"]
[[site]]
listen = ["127.0.0.3:0"]
root = "www"
proxy_protocol = true
trusted_proxies = ["10.0.0.1/8", "nonsense", "::/129"]
"#;
    let (file, lines, _dir) = config_problems(text);
    assert_placed(
        &file,
        &lines,
        text,
        "true",
        "proxy_protocol needs trusted_proxies",
    );
    assert_placed(
        &file,
        &lines,
        text,
        "[\"10.0.0.0/8\"]",
        "without proxy_protocol",
    );
    assert_placed(
        &file,
        &lines,
        text,
        "\"10.0.0.1/8\"",
        "bits set past the prefix",
    );
    assert_placed(&file, &lines, text, "\"nonsense\"", "not an address");
    assert_placed(&file, &lines, text, "\"::/129\"", "prefix length");
    assert_eq!(lines.len(), 5, "{}", lines.join("\n"));

    // An empty list trusts no one: every connection would be refused.
    let text = "[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\nproxy_protocol = true\ntrusted_proxies = []\n";
    let (file, lines, _dir) = config_problems(text);
    assert_placed(
        &file,
        &lines,
        text,
        "true",
        "proxy_protocol needs trusted_proxies",
    );
}

#[test]
fn the_sites_of_a_socket_must_agree() {
    let text = r#"[[site]]
listen = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "www"
proxy_protocol = true
trusted_proxies = ["10.0.0.0/8"]
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["b.test"]
root = "www"
proxy_protocol = false
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["c.test"]
root = "www"
proxy_protocol = true
trusted_proxies = ["10.0.0.0/16"]
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["d.test"]
root = "www"
proxy_protocol = true
trusted_proxies = ["10.0.0.0/8", "10.0.0.0/8"]
"#;
    let (file, lines, _dir) = config_problems(text);
    assert_placed(&file, &lines, text, "false", "must agree on proxy_protocol");
    assert_placed(
        &file,
        &lines,
        text,
        "[\"10.0.0.0/16\"]",
        "must agree on trusted_proxies",
    );
    // The same ranges, repeated, are the same trust.
    assert_eq!(lines.len(), 2, "{}", lines.join("\n"));
}

/// Sends SIGHUP and waits until the new generation serves alone.
fn reload(server: &Server) {
    let old = children_of(server.pid());
    server.signal(SIGHUP);
    server.wait_for("reloading: starting");
    server.wait_for_count("old generation", old.len());
}

#[test]
fn a_reload_turns_the_header_on_for_the_same_socket() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/hello.txt", "hello\n");
    let before = "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n";
    let file = write_file(dir.path(), "site.toml", before);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let addr = server.addr();
    let header = b"PROXY TCP4 192.0.2.1 10.0.0.1 1 2\r\n";
    assert_eq!(
        connect_and_send(addr, get("/hello.txt").as_bytes())
            .response()
            .status,
        200
    );

    // The same address, so the same socket (and its queue) is kept.
    let after = "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n\
                 proxy_protocol = true\ntrusted_proxies = [\"127.0.0.1\"]\n";
    write_file(dir.path(), "site.toml", after);
    reload(&server);
    let mut bare = connect_and_send(addr, get("/hello.txt").as_bytes());
    assert_eq!(sent_before_close(&mut bare), b"");
    let request = [&header[..], get("/hello.txt").as_bytes()].concat();
    assert_eq!(connect_and_send(addr, &request).response().status, 200);
    assert_eq!(server.addrs, vec![addr]);
    assert!(
        !server
            .lines()
            .iter()
            .any(|l| l.contains("no longer listening")),
        "the socket was kept"
    );
}
