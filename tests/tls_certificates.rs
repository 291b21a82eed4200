//! Certificates and keys: each PEM form of a key serves (PKCS#8, SEC1, PKCS#1 RSA), a pair
//! that does not load stops the start with its place in the file, a reload with a broken
//! certificate is refused while the old one keeps serving (and a good one is applied), and the
//! command line's `--tls-listen --cert --key` serves HTTPS alone.

mod support;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use rcgen::KeyPair;
use support::{
    Authority, Client, SIGHUP, Server, TEST_RSA_KEY, TLS12, TLS13, children_of, connect_tls,
    place_of, write_file,
};

/// One site on a TLS socket, its certificate and key in `a.pem` and `a.key`.
const ONE: &str = r#"workers = 1
[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "www"
[site.tls]
cert = "a.pem"
key = "a.key"
"#;

fn start(dir: &Path, config: &str) -> (Server, std::path::PathBuf) {
    write_file(dir, "www/index.html", "home");
    let file = write_file(dir, "site.toml", config);
    (Server::start_exact(&["-c", file.to_str().unwrap()]), file)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(args)
        .output()
        .expect("run forkhttpd")
}

#[test]
fn a_key_may_be_pkcs8_sec1_or_pkcs1_rsa() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let rsa = KeyPair::from_pem(TEST_RSA_KEY).expect("the test RSA key");
    let forms = [
        ("pkcs8", ca.leaf(&["pkcs8.test"]), None),
        ("sec1", ca.leaf(&["sec1.test"]), Some("EC PRIVATE KEY")),
        (
            "rsa8",
            ca.leaf_with_key(&["rsa8.test"], KeyPair::from_pem(TEST_RSA_KEY).unwrap()),
            None,
        ),
        (
            "pkcs1",
            ca.leaf_with_key(&["pkcs1.test"], rsa),
            Some("RSA PRIVATE KEY"),
        ),
    ];
    let mut config = String::from("workers = 1\n");
    for (name, leaf, label) in &forms {
        write_file(dir.path(), &format!("{name}.pem"), &leaf.pem);
        let key = label.map_or_else(|| leaf.pkcs8_pem(), |label| leaf.inner_key_pem(label));
        let first_line = key.lines().next().unwrap().to_owned();
        assert_eq!(
            first_line,
            format!("-----BEGIN {}-----", label.unwrap_or("PRIVATE KEY"))
        );
        write_file(dir.path(), &format!("{name}.key"), &key);
        config.push_str(&format!(
            "[[site]]\nlisten_tls = [\"127.0.0.1:0\"]\nserver_names = [\"{name}.test\"]\n\
             root = \"www\"\n[site.tls]\ncert = \"{name}.pem\"\nkey = \"{name}.key\"\n"
        ));
    }
    let (server, _) = start(dir.path(), &config);
    for version in [TLS13, TLS12] {
        let client = Arc::new(ca.client(&[version]));
        for (name, leaf, _) in &forms {
            let host = format!("{name}.test");
            let mut tls = connect_tls(server.addr(), &host, &client);
            assert_eq!(tls.server_cert(), leaf.der, "{name} over {version:?}");
            assert_eq!(tls.get_from(&host, "/").text(), "home");
        }
    }
}

#[test]
fn a_key_that_is_not_the_certificates_stops_the_start_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let (cert, _) = ca.leaf(&["a.test"]).write(dir.path(), "a");
    let (_, other_key) = ca.leaf(&["a.test"]).write(dir.path(), "other");
    write_file(dir.path(), "www/index.html", "home");
    let text = ONE.replace("\"a.key\"", "\"other.key\"");
    let file = write_file(dir.path(), "site.toml", &text);
    let output = run(&["-c", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let place = format!("{}:{}: ", file.display(), place_of(&text, "\"a.pem\""));
    let line = stderr
        .lines()
        .find(|l| l.contains(&place))
        .unwrap_or_else(|| panic!("a line at {place} in:\n{stderr}"));
    assert!(line.starts_with("forkhttpd: error: "), "{line}");
    assert!(line.contains(&cert.display().to_string()), "{line}");
    assert!(line.contains(&other_key.display().to_string()), "{line}");
    assert!(line.contains("do not make a pair"), "{line}");
    assert!(
        !stderr.contains("listening on"),
        "nothing served:\n{stderr}"
    );
}

#[test]
fn a_certificate_file_that_is_missing_or_not_pem_stops_the_start_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let (_, key) = ca.leaf(&["a.test"]).write(dir.path(), "a");
    write_file(dir.path(), "www/index.html", "home");
    write_file(dir.path(), "empty.pem", "no certificate here\n");
    for cert in ["missing.pem", "empty.pem"] {
        let text = ONE.replace("a.pem", cert);
        let file = write_file(dir.path(), "site.toml", &text);
        let output = run(&["-c", file.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(1), "{cert}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let place = format!(
            "{}:{}: ",
            file.display(),
            place_of(&text, &format!("\"{cert}\""))
        );
        let line = stderr
            .lines()
            .find(|l| l.contains(&place))
            .unwrap_or_else(|| panic!("{cert}: a line at {place} in:\n{stderr}"));
        assert!(line.contains(cert), "{line}");
        assert!(key.exists());
    }
}

#[test]
fn a_reload_with_a_broken_certificate_is_refused_and_the_old_one_serves() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let old = ca.leaf(&["a.test"]);
    old.write(dir.path(), "a");
    let (server, file) = start(dir.path(), ONE);
    let addr = server.addr();
    // A new client each time: one that resumed a session would be shown the certificate of
    // the session's first handshake, not the one the server has now.
    let connect = || connect_tls(addr, "a.test", &Arc::new(ca.client(&[TLS13])));
    assert_eq!(connect().server_cert(), old.der);
    let workers = children_of(server.pid());

    // A certificate file that is not a certificate.
    write_file(
        dir.path(),
        "a.pem",
        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n",
    );
    server.signal(SIGHUP);
    server.wait_for("reload refused");
    let place = format!("{}:{}: ", file.display(), place_of(ONE, "\"a.pem\""));
    let problem = server.wait_for(&place);
    assert!(problem.contains("ERROR"), "{problem}");
    assert!(problem.contains("a.pem"), "{problem}");
    assert_eq!(
        children_of(server.pid()),
        workers,
        "the old workers serve on"
    );
    let mut tls = connect();
    assert_eq!(tls.server_cert(), old.der, "the old certificate");
    assert_eq!(tls.get_from("a.test", "/").text(), "home");

    // A new pair that loads is applied by the next generation of workers.
    let new = ca.leaf(&["a.test"]);
    new.write(dir.path(), "a");
    server.signal(SIGHUP);
    server.wait_for("reloading: starting");
    server.wait_for_count("old generation", workers.len());
    let mut tls = connect();
    assert_eq!(tls.server_cert(), new.der, "the new certificate");
    assert_eq!(tls.get_from("a.test", "/").text(), "home");
}

#[test]
fn the_command_line_serves_https_alone_with_tls_listen_cert_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let leaf = ca.leaf(&["a.test"]);
    let (cert, key) = leaf.write(dir.path(), "a");
    write_file(dir.path(), "www/index.html", "home");
    let root = dir.path().join("www");
    let server = Server::start_exact(&[
        "-w",
        "1",
        "--tls-listen",
        "127.0.0.1:0",
        "--cert",
        cert.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        root.to_str().unwrap(),
    ]);
    assert_eq!(
        server.addrs.len(),
        1,
        "no plain socket: {:?}",
        server.lines()
    );
    let client = Arc::new(ca.client(&[TLS13, TLS12]));
    let mut tls = connect_tls(server.addr(), "a.test", &client);
    assert_eq!(tls.server_cert(), leaf.der);
    assert_eq!(tls.get_from("a.test", "/").text(), "home");
    // Without SNI too: the only certificate there is.
    let mut no_sni = ca.client(&[TLS13]);
    no_sni.enable_sni = false;
    let mut tls = connect_tls(server.addr(), "a.test", &Arc::new(no_sni));
    assert_eq!(tls.get_from("anything", "/").text(), "home");
    // The one socket is the TLS one: plain HTTP there is told so.
    let mut plain = Client::connect(server.addr());
    plain.send(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    assert_eq!(plain.response().status, 400);
}

#[test]
fn the_command_line_refuses_tls_listen_without_a_pair_that_loads() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let (cert, _) = ca.leaf(&["a.test"]).write(dir.path(), "a");
    let (_, other_key) = ca.leaf(&["b.test"]).write(dir.path(), "b");
    write_file(dir.path(), "www/index.html", "home");
    let root = dir.path().join("www");
    let (cert, other_key, root) = (
        cert.to_str().unwrap(),
        other_key.to_str().unwrap(),
        root.to_str().unwrap(),
    );
    for (args, words) in [
        (
            vec!["--tls-listen", "127.0.0.1:0", "--cert", cert, root],
            "--tls-listen needs --cert and --key",
        ),
        (
            vec![
                "--tls-listen",
                "127.0.0.1:0",
                "--cert",
                cert,
                "--key",
                other_key,
                root,
            ],
            "do not make a pair",
        ),
    ] {
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(words), "{args:?}: {stderr}");
    }
}

#[test]
fn a_reload_keeps_each_port_0_socket_with_its_kind() {
    // `127.0.0.1:0` is a plain and a TLS socket at once (one free port each), beside a third
    // socket; a reload must hand each kept socket back to the same kind of listener.
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    ca.leaf(&["a.test"]).write(dir.path(), "a");
    let config = r#"workers = 1
[[site]]
listen = ["127.0.0.2:0"]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "www"
[site.tls]
cert = "a.pem"
key = "a.key"
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["b.test"]
root = "www"
"#;
    let (server, _) = start(dir.path(), config);
    let announced = |lines: &[String]| -> Vec<String> {
        let mut sockets: Vec<String> = lines
            .iter()
            .filter_map(|line| line.split("listening on ").nth(1))
            .map(|rest| rest.split(' ').next().unwrap_or(rest).to_owned())
            .collect();
        sockets.sort();
        sockets.dedup();
        sockets
    };
    let before = announced(&server.lines());
    assert_eq!(before.len(), 3, "{before:?}");
    let tls_addr = server.addrs[1];
    let plain_addr = server.addrs[2];
    server.signal(SIGHUP);
    server.wait_for("reloading: starting");
    server.wait_for("old generation");
    assert_eq!(
        announced(&server.lines()),
        before,
        "the same ports, the same schemes"
    );
    let mut tls = connect_tls(tls_addr, "a.test", &Arc::new(ca.client(&[TLS13])));
    assert_eq!(tls.get_from("a.test", "/").text(), "home");
    let mut plain = Client::connect(plain_addr);
    assert_eq!(plain.get("/").text(), "home");
}
