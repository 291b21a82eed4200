//! A site on plain and TLS sockets at once: `https_redirect` answers plain requests with a 308
//! to the same URL over HTTPS (except ACME's HTTP-01 challenges), and `hsts` adds
//! Strict-Transport-Security to the site's TLS answers only.

mod support;

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::sync::Arc;

use support::{Authority, Server, TLS13, exchange, write_file};

/// Site a redirects and sends HSTS; site b, on the same sockets, does neither.
const CONFIG: &str = r#"workers = 1

[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["TLS_ADDR"]
server_names = ["a.test"]
root = "a"
https_redirect = true
hsts = "max-age=63072000"
[site.tls]
cert = "a.pem"
key = "a.key"

[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["TLS_ADDR"]
server_names = ["b.test"]
root = "b"
[site.tls]
cert = "b.pem"
key = "b.key"
"#;

struct Both {
    _dir: tempfile::TempDir,
    ca: Authority,
    server: Server,
}

impl Both {
    /// Starts the two sites with their TLS socket on `tls_addr`.
    fn start(tls_addr: &str) -> Both {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        for name in ["a", "b"] {
            ca.leaf(&[&format!("{name}.test")]).write(dir.path(), name);
            write_file(
                dir.path(),
                &format!("{name}/index.html"),
                &format!("site {name}"),
            );
            write_file(dir.path(), &format!("{name}/dir/file.txt"), name);
            write_file(
                dir.path(),
                &format!("{name}/.well-known/acme-challenge/token"),
                "the challenge's answer",
            );
        }
        let server = start(dir.path(), &CONFIG.replace("TLS_ADDR", tls_addr));
        assert_eq!(server.addrs.len(), 2, "one plain socket, one TLS socket");
        Both {
            _dir: dir,
            ca,
            server,
        }
    }

    fn plain(&self) -> SocketAddr {
        self.server.addrs[0]
    }

    fn tls(&self) -> SocketAddr {
        self.server.addrs[1]
    }

    fn plain_get(&self, host: &str, target: &str) -> support::Response {
        exchange(
            self.plain(),
            format!("GET {target} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
        )
    }

    fn tls_get(&self, host: &str, target: &str) -> support::Response {
        let config = Arc::new(self.ca.client(&[TLS13]));
        support::connect_tls(self.tls(), host, &config).get_from(host, target)
    }
}

fn start(dir: &Path, config: &str) -> Server {
    let file = write_file(dir, "sites.toml", config);
    Server::start_exact(&["-c", file.to_str().unwrap()])
}

/// A port that was free a moment ago, for a configuration that must name its TLS port.
fn free_port(ip: &str) -> u16 {
    let listener = TcpListener::bind((ip, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn a_plain_request_is_redirected_to_the_same_url_over_https() {
    let port = free_port("127.0.0.2");
    let both = Both::start(&format!("127.0.0.2:{port}"));
    let response = both.plain_get("a.test", "/dir/file.txt?x=1&y=%20two");
    assert_eq!(response.status, 308, "{}", response.head);
    assert_eq!(
        response.header("location"),
        Some(format!("https://a.test:{port}/dir/file.txt?x=1&y=%20two").as_str())
    );
    // The port the client used for plain HTTP is not the HTTPS one.
    let with_port = both.plain_get(&format!("a.test:{}", both.plain().port()), "/");
    assert_eq!(
        with_port.header("location"),
        Some(format!("https://a.test:{port}/").as_str())
    );
    // The URL it names serves the file.
    let followed = both.tls_get("a.test", "/dir/file.txt?x=1&y=%20two");
    assert_eq!((followed.status, followed.text()), (200, "a".into()));
    // Site b on the same plain socket is not redirected.
    let b = both.plain_get("b.test", "/dir/file.txt");
    assert_eq!((b.status, b.text()), (200, "b".into()));
}

#[test]
fn the_redirect_names_the_port_the_tls_socket_got() {
    // `127.0.0.2:0`: the TLS socket's port is chosen at start; the redirect must name it, as
    // the start-up line does.
    let both = Both::start("127.0.0.2:0");
    let response = both.plain_get("a.test", "/dir/file.txt?q=1");
    assert_eq!(response.status, 308, "{}", response.head);
    assert_eq!(
        response.header("location"),
        Some(format!("https://a.test:{}/dir/file.txt?q=1", both.tls().port()).as_str())
    );
}

#[test]
fn acme_challenges_are_answered_over_plain_http() {
    let port = free_port("127.0.0.2");
    let both = Both::start(&format!("127.0.0.2:{port}"));
    let response = both.plain_get("a.test", "/.well-known/acme-challenge/token");
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(response.text(), "the challenge's answer");
    assert_eq!(response.header("location"), None);
    // Only the challenges: the rest of /.well-known/ is redirected.
    let other = both.plain_get("a.test", "/.well-known/other");
    assert_eq!(other.status, 308);
}

#[test]
fn hsts_is_sent_on_the_sites_tls_answers_only() {
    let port = free_port("127.0.0.2");
    let both = Both::start(&format!("127.0.0.2:{port}"));
    let hsts = |response: &support::Response| {
        response
            .header("strict-transport-security")
            .map(str::to_owned)
    };
    let over_tls = both.tls_get("a.test", "/");
    assert_eq!(over_tls.text(), "site a");
    assert_eq!(hsts(&over_tls).as_deref(), Some("max-age=63072000"));
    // Every answer over TLS, errors and cached answers included.
    let missing = both.tls_get("a.test", "/missing");
    assert_eq!(missing.status, 404);
    assert_eq!(hsts(&missing).as_deref(), Some("max-age=63072000"));
    let again = both.tls_get("a.test", "/");
    assert_eq!(hsts(&again).as_deref(), Some("max-age=63072000"));

    // Not over plain HTTP: neither on the redirect nor on a challenge's answer.
    assert_eq!(hsts(&both.plain_get("a.test", "/")), None);
    assert_eq!(
        hsts(&both.plain_get("a.test", "/.well-known/acme-challenge/token")),
        None
    );
    // Not for site b, which has no hsts, on the same TLS socket.
    let b = both.tls_get("b.test", "/");
    assert_eq!(b.text(), "site b");
    assert_eq!(hsts(&b), None);
}

#[test]
fn the_same_port_0_address_may_be_a_sites_plain_and_tls_address() {
    // `listen = ["127.0.0.1:0"]` and `listen_tls = ["127.0.0.1:0"]` in one site: two sockets,
    // each on a free port of its own, as on the command line.
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    ca.leaf(&["a.test"]).write(dir.path(), "a");
    write_file(dir.path(), "a/index.html", "site a");
    let config = "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\n\
                  listen_tls = [\"127.0.0.1:0\"]\nserver_names = [\"a.test\"]\nroot = \"a\"\n\
                  [site.tls]\ncert = \"a.pem\"\nkey = \"a.key\"\n";
    let file = write_file(dir.path(), "site.toml", config);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-t", "-c", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "refused: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let server = start(dir.path(), config);
    assert_eq!(server.addrs.len(), 2);
    let plain = exchange(server.addrs[0], b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert_eq!(plain.text(), "site a");
    let config = Arc::new(ca.client(&[TLS13]));
    let mut tls = support::connect_tls(server.addrs[1], "a.test", &config);
    assert_eq!(tls.get_from("a.test", "/").text(), "site a");
}
