//! ACME sites through the real binary, without a CA (the e2e script `tests/e2e/acme_pebble.sh`
//! has pebble issue a real certificate): the key's problems are placed in the file; HTTP-01
//! challenges left in `state/http-01/` are answered on the plain listener, before the redirect
//! to HTTPS; a CA that cannot be reached is logged and retried while the site serves on; a
//! certificate already in `state` serves at start, and a new one there serves after a reload,
//! with the helper running on through that reload and a SIGUSR1; a helper that dies is
//! respawned and takes up the work.

mod support;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use support::{
    Authority, Client, SIGHUP, SIGKILL, SIGUSR1, Server, TLS13, children_of, connect_tls, exchange,
    place_of, write_file,
};

/// One ACME site on a plain and a TLS socket, its CA at an address nothing listens on.
const SITE: &str = r#"workers = 1
log_level = "debug"
[[site]]
listen = ["127.0.0.1:0"]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test", "www.a.test"]
root = "www"
https_redirect = true
[site.tls]
acme = { email = "ops@a.test", directory = "https://127.0.0.1:1/dir", state = "state" }
"#;

/// Where `SITE`'s certificate lives under its state folder.
const CERTIFICATE: &str = "state/127.0.0.1-1-dir/a.test.pem";

fn start(dir: &Path) -> Server {
    write_file(dir, "www/index.html", "home");
    let file = write_file(dir, "site.toml", SITE);
    Server::start_exact(&["-c", file.to_str().unwrap()])
}

#[test]
fn problems_with_the_acme_key_are_placed_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    write_file(dir.path(), "not-a-cert.pem", "nothing\n");
    let acme =
        r#"acme = { email = "ops@a.test", directory = "https://ca.test/dir", state = "state" }"#;
    let cases = [
        (
            SITE.replace("listen = [\"127.0.0.1:0\"]\n", ""),
            "{ email",
            "acme needs a plain listen address too",
        ),
        (
            SITE.replace("\"www.a.test\"", "\"*.a.test\""),
            "\"*.a.test\"",
            "acme cannot get a wildcard name",
        ),
        (
            SITE.replace("\"www.a.test\"", "\"127.0.0.2\""),
            "\"127.0.0.2\"",
            "for DNS names, not addresses",
        ),
        (
            SITE.replace("ops@a.test", "ops"),
            "\"ops\"",
            "email must be an address",
        ),
        (
            SITE.replace("https://127.0.0.1:1/dir", "http://ca.test/dir"),
            "\"http://ca.test/dir\"",
            "directory must be an https:// URL",
        ),
        (
            SITE.replace("state = \"state\"", "state = \"www/index.html\""),
            "\"www/index.html\"",
            "is not a folder",
        ),
        (
            SITE.replace(
                "state = \"state\"",
                "state = \"state\", ca_root = \"not-a-cert.pem\"",
            ),
            "\"not-a-cert.pem\"",
            "no certificate in",
        ),
        (
            SITE.replace(
                "[site.tls]\n",
                "[site.tls]\ncert = \"a.pem\"\nkey = \"a.key\"\n",
            ),
            "{ email",
            "cert and key, or acme, not both",
        ),
        (
            format!(
                "[[site]]\nlisten = [\"127.0.0.1:0\"]\nserver_names = [\"a.test\"]\n\
                 root = \"www\"\n[site.tls]\n{acme}\n"
            ),
            "{ email",
            "[site.tls] without listen_tls",
        ),
    ];
    for (text, at, problem) in &cases {
        let file = write_file(dir.path(), "site.toml", text);
        let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
            .args(["-t", "-c", file.to_str().unwrap()])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{problem}: {stderr}");
        let place = format!("{}:{}: ", file.display(), place_of(text, at));
        assert!(
            stderr
                .lines()
                .any(|line| line.contains(&place) && line.contains(problem)),
            "{problem:?} at {place} in:\n{stderr}"
        );
    }
}

#[test]
fn challenges_are_answered_on_the_plain_listener_and_an_unreachable_ca_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    // A certificate file that does not load counts as none: the site starts without it.
    write_file(dir.path(), CERTIFICATE, "not a certificate\n");
    let server = start(dir.path());
    server.wait_for("site a.test: no certificate yet; the acme helper orders one");
    let plain = server.addrs[0];

    // The helper cannot reach its CA: it says so, says when it tries again, and the site
    // serves on meanwhile.
    server.wait_for("ordering a certificate for a.test, www.a.test");
    let failure = server.wait_for("next attempt in 60s");
    assert!(failure.contains("ERROR"), "{failure}");
    assert!(failure.contains("acme: site a.test"), "{failure}");

    write_file(dir.path(), "state/http-01/tok-EN_1", "tok-EN_1.thumbprint");
    let ask = |method: &str, path: &str| {
        let request = format!("{method} {path} HTTP/1.1\r\nHost: a.test\r\n\r\n");
        let mut client = Client::connect(plain);
        client.send(request.as_bytes());
        if method == "HEAD" {
            client.head_response()
        } else {
            client.response()
        }
    };
    let answer = ask("GET", "/.well-known/acme-challenge/tok-EN_1");
    assert_eq!(answer.status, 200, "answered before the redirect to HTTPS");
    assert_eq!(answer.text(), "tok-EN_1.thumbprint");
    assert_eq!(answer.header("content-type"), Some("text/plain"));
    let head = ask("HEAD", "/.well-known/acme-challenge/tok-EN_1");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("19"));

    // Other tokens, and anything that is not a token, are the site's own business.
    for path in [
        "/.well-known/acme-challenge/other",
        "/.well-known/acme-challenge/tok-EN_1.x",
        "/.well-known/acme-challenge/..%2f..%2fsite.toml",
    ] {
        let response = ask("GET", path);
        assert!(
            response.status == 404 || response.status == 400,
            "{path}: {}",
            response.status
        );
        assert_ne!(response.text(), "tok-EN_1.thumbprint");
    }
    let redirect = ask("GET", "/");
    assert_eq!(redirect.status, 308);
    // A challenge is a plain-HTTP matter: the file is not served for other methods.
    let post = exchange(
        plain,
        b"POST /.well-known/acme-challenge/tok-EN_1 HTTP/1.1\r\nHost: a.test\r\nContent-Length: 0\r\n\r\n",
    );
    assert_ne!(post.status, 200);
}

#[test]
fn a_stored_certificate_serves_at_start_and_a_new_one_after_a_reload() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    let first = ca.leaf(&["a.test", "www.a.test"]);
    let stored = |leaf: &support::Leaf| format!("{}{}", leaf.pem, leaf.pkcs8_pem());
    write_file(dir.path(), CERTIFICATE, &stored(&first));
    let server = start(dir.path());
    let tls = server.addrs[1];
    // The helper finds it good (the CA is unreachable, so without renewal information) and
    // orders nothing.
    server.wait_for("certificate good until renewal");
    assert!(
        !server
            .lines()
            .iter()
            .any(|line| line.contains("no certificate yet") || line.contains("ordering")),
        "{:#?}",
        server.lines()
    );
    let connect = || connect_tls(tls, "a.test", &Arc::new(ca.client(&[TLS13])));
    let mut client = connect();
    assert_eq!(client.server_cert(), first.der);
    assert_eq!(client.get_from("a.test", "/").text(), "home");

    // Log rotation reaches the helper too (it reopens the log; SIGUSR1 must not end it).
    server.signal(SIGUSR1);
    // What the helper does after an order: replace the file, then SIGHUP the master.
    let second = ca.leaf(&["a.test", "www.a.test"]);
    write_file(dir.path(), CERTIFICATE, &stored(&second));
    server.signal(SIGHUP);
    server.wait_for("reloading: starting");
    server.wait_for("old generation");
    let mut client = connect();
    assert_eq!(client.server_cert(), second.der);
    assert_eq!(client.get_from("www.a.test", "/").text(), "home");
    assert_eq!(
        server
            .lines()
            .iter()
            .filter(|line| line.contains("acme helper pid"))
            .count(),
        0,
        "the helper goes on through SIGUSR1 and a reload that changes no ACME site"
    );
}

#[test]
fn a_helper_that_dies_is_respawned() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    // The helper's lines carry its pid: `... INFO [PID] acme: site a.test: ordering ...`.
    let ordering = server.wait_for("acme: site a.test: ordering");
    let pid: u32 = ordering
        .split('[')
        .nth(1)
        .and_then(|rest| rest.split(']').next())
        .and_then(|pid| pid.parse().ok())
        .unwrap_or_else(|| panic!("a pid in {ordering:?}"));
    assert!(
        children_of(server.pid()).contains(&pid),
        "a child of the master"
    );
    support::send_signal(pid, SIGKILL);
    let exited = server.wait_for(&format!("acme helper pid {pid} exited"));
    assert!(exited.contains("respawning"), "{exited}");
    // The new helper takes up the work: it orders again.
    let again = server.wait_for_count("acme: site a.test: ordering", 2);
    assert!(!again[1].contains(&format!("[{pid}]")), "{again:?}");
}
