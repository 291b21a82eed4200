//! Several sites on one TLS socket: the server name a client sends (SNI) chooses the site's
//! certificate, no SNI or a name no site claims gets the default site's, a request whose Host
//! names another site than SNI did is answered 421, and without SNI the Host line chooses the
//! site as on a plain socket.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::ClientConfig;
use support::{Authority, Leaf, Server, TLS12, TLS13, TlsStream, connect_tls, write_file};

/// Two sites, `a.test` and `b.test`, sharing one TLS socket, each with its own certificate and
/// an `index.html` that says `site NAME`.
struct Sites {
    _dir: tempfile::TempDir,
    ca: Authority,
    a: Leaf,
    b: Leaf,
    server: Server,
}

/// `DEFAULT` is replaced by `default = true` in the site that is the default: b, or none.
const CONFIG: &str = r#"workers = 1

[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "a"
[site.tls]
cert = "a.pem"
key = "a.key"

[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["b.test"]
root = "b"
B_DEFAULT
[site.tls]
cert = "b.pem"
key = "b.key"
"#;

impl Sites {
    /// Starts the two sites; with `b_default`, b is the default site, else a is (the first).
    /// The default site's certificate also covers `other.test`, a name no site claims, so a
    /// client can verify what the server sends for it.
    fn start(b_default: bool) -> Sites {
        let dir = tempfile::tempdir().unwrap();
        let ca = Authority::new();
        let (a_names, b_names): (&[&str], &[&str]) = if b_default {
            (&["a.test"], &["b.test", "other.test"])
        } else {
            (&["a.test", "other.test"], &["b.test"])
        };
        let (a, b) = (ca.leaf(a_names), ca.leaf(b_names));
        for (name, leaf) in [("a", &a), ("b", &b)] {
            leaf.write(dir.path(), name);
            write_file(
                dir.path(),
                &format!("{name}/index.html"),
                &format!("site {name}"),
            );
        }
        let default = if b_default { "default = true" } else { "" };
        let file = write_file(
            dir.path(),
            "sites.toml",
            &CONFIG.replace("B_DEFAULT", default),
        );
        let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
        assert_eq!(server.addrs.len(), 1, "one shared TLS socket");
        server.wait_for(&format!(
            "listening on https://{}/ for a.test, b.test",
            server.addr()
        ));
        Sites {
            _dir: dir,
            ca,
            a,
            b,
            server,
        }
    }

    fn client(&self, sni: bool) -> Arc<ClientConfig> {
        let mut config = self.ca.client(&[TLS13, TLS12]);
        config.enable_sni = sni;
        Arc::new(config)
    }

    /// A connection that sends `name` as SNI (and verifies the certificate for it).
    fn connect(&self, name: &str) -> support::Client<TlsStream> {
        connect_tls(self.server.addr(), name, &self.client(true))
    }

    /// A connection without SNI whose certificate is verified for `name`.
    fn connect_without_sni(&self, name: &str) -> support::Client<TlsStream> {
        connect_tls(self.server.addr(), name, &self.client(false))
    }
}

fn body(client: &mut support::Client<TlsStream>, raw: &str) -> (u16, String) {
    client.send(raw.as_bytes());
    let response = client.response();
    (response.status, response.text())
}

fn get(host: &str) -> String {
    format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n")
}

#[test]
fn each_server_name_gets_its_sites_certificate_and_files() {
    let sites = Sites::start(false);
    for (name, leaf, text) in [
        ("a.test", &sites.a, "site a"),
        ("b.test", &sites.b, "site b"),
    ] {
        let mut client = sites.connect(name);
        assert_eq!(client.server_cert(), leaf.der, "{name}'s certificate");
        assert_eq!(body(&mut client, &get(name)), (200, text.to_owned()));
        // Host may carry the port, or differ in case: still the same site.
        let port = sites.server.addr().port();
        let with_port = get(&format!("{}:{port}", name.to_uppercase()));
        assert_eq!(body(&mut client, &with_port), (200, text.to_owned()));
        // Names are case-insensitive in SNI too.
        let mut client = sites.connect(&name.to_uppercase());
        assert_eq!(client.server_cert(), leaf.der, "{name} in capitals");
        assert_eq!(body(&mut client, &get(name)), (200, text.to_owned()));
    }
}

#[test]
fn without_sni_the_default_sites_certificate_is_sent_and_host_chooses_the_site() {
    for (b_default, default) in [(false, "a"), (true, "b")] {
        let sites = Sites::start(b_default);
        let expected = if b_default { &sites.b } else { &sites.a };
        let name = format!("{default}.test");
        let mut client = sites.connect_without_sni(&name);
        assert_eq!(client.server_cert(), expected.der, "site {default}'s");
        // No server name to hold requests to: Host chooses, as on a plain socket.
        assert_eq!(body(&mut client, &get("a.test")), (200, "site a".into()));
        assert_eq!(body(&mut client, &get("b.test")), (200, "site b".into()));
        assert_eq!(
            body(&mut client, &get("unknown.test")),
            (200, format!("site {default}"))
        );
    }
}

#[test]
fn a_server_name_no_site_claims_gets_the_default_sites_certificate() {
    for (b_default, default) in [(false, "a"), (true, "b")] {
        let sites = Sites::start(b_default);
        let expected = if b_default { &sites.b } else { &sites.a };
        let mut client = sites.connect("other.test");
        assert_eq!(client.server_cert(), expected.der, "site {default}'s");
        assert_eq!(
            body(&mut client, &get("other.test")),
            (200, format!("site {default}"))
        );
    }
}

#[test]
fn a_request_for_another_site_than_sni_named_is_misdirected() {
    let sites = Sites::start(false);
    let mut client = sites.connect("a.test");
    let response = {
        client.send(get("b.test").as_bytes());
        client.response()
    };
    assert_eq!(response.status, 421, "{}", response.head);
    assert!(
        response
            .head
            .starts_with("HTTP/1.1 421 Misdirected Request\r\n")
    );
    assert!(!response.text().contains("site b"), "b's files stay b's");

    // The other way round, and by an absolute-form target's authority over Host.
    let mut client = sites.connect("b.test");
    assert_eq!(body(&mut client, &get("a.test")).0, 421);
    let mut client = sites.connect("a.test");
    let absolute = "GET https://b.test/ HTTP/1.1\r\nHost: a.test\r\n\r\n";
    assert_eq!(body(&mut client, absolute).0, 421);

    // The names agree: served. HTTP/1.0 without Host: the SNI site.
    let mut client = sites.connect("b.test");
    assert_eq!(body(&mut client, &get("b.test")), (200, "site b".into()));
    let old = "GET / HTTP/1.0\r\n\r\n";
    let mut client = sites.connect("b.test");
    assert_eq!(body(&mut client, old), (200, "site b".into()));
}

#[test]
fn sites_on_their_own_tls_sockets_each_present_their_own_certificate() {
    // Not shared: a.test on one socket, b.test on another; each socket sends its site's
    // certificate whatever name the client asks for.
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let (a, b) = (ca.leaf(&["a.test"]), ca.leaf(&["b.test"]));
    for (name, leaf) in [("a", &a), ("b", &b)] {
        leaf.write(dir.path(), name);
        write_file(
            dir.path(),
            &format!("{name}/index.html"),
            &format!("site {name}"),
        );
    }
    let config = CONFIG
        .replacen("127.0.0.1:0", "127.0.0.2:0", 1)
        .replace("B_DEFAULT", "");
    let server = start(dir.path(), &config);
    assert_eq!(server.addrs.len(), 2);
    let client = Arc::new(ca.client(&[TLS13]));
    let addr_of = |ip: &str| -> SocketAddr {
        *server
            .addrs
            .iter()
            .find(|a| a.ip().to_string() == ip)
            .unwrap()
    };
    let mut on_a = connect_tls(addr_of("127.0.0.2"), "a.test", &client);
    assert_eq!(on_a.server_cert(), a.der);
    assert_eq!(body(&mut on_a, &get("a.test")), (200, "site a".into()));
    let mut on_b = connect_tls(addr_of("127.0.0.1"), "b.test", &client);
    assert_eq!(on_b.server_cert(), b.der);
    assert_eq!(body(&mut on_b, &get("b.test")), (200, "site b".into()));
}

fn start(dir: &Path, config: &str) -> Server {
    let file = write_file(dir, "sites.toml", config);
    Server::start_exact(&["-c", file.to_str().unwrap()])
}
