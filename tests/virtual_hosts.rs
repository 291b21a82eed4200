//! Virtual hosts from a configuration file: which site answers a request on a socket that
//! several sites share (exact names, then the longest wildcard, then the default site), the
//! authority of an absolute-form target over `Host`, a site alone on its own socket, and a
//! response cache that keeps the sites' answers apart.

mod support;

use std::net::SocketAddr;
use std::path::Path;

use support::{Client, Server, exchange, write_file};

/// Starts a server from `config`, with a root per site named in `sites` whose `index.html`
/// says `site NAME`.
fn start(dir: &Path, sites: &[&str], config: &str) -> Server {
    for site in sites {
        write_file(dir, &format!("{site}/index.html"), &format!("site {site}"));
    }
    let file = write_file(dir, "sites.toml", config);
    Server::start_exact(&["-c", file.to_str().unwrap()])
}

/// Which site answers `GET /` with this `Host` line (without the CRLF; "" sends none).
fn site_for(addr: SocketAddr, request_line: &str, host: &str) -> String {
    let host = if host.is_empty() {
        String::new()
    } else {
        format!("{host}\r\n")
    };
    let response = exchange(addr, format!("{request_line}\r\n{host}\r\n").as_bytes());
    assert_eq!(
        response.status, 200,
        "{request_line} {host}: {}",
        response.head
    );
    response.text()
}

fn host(addr: SocketAddr, name: &str) -> String {
    site_for(addr, "GET / HTTP/1.1", &format!("Host: {name}"))
}

const SHARED: &str = r#"
workers = 1

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "a"

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["b.test"]
root = "b"

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["*.w.test"]
root = "w"

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["*.deep.w.test"]
root = "deep"

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["c.test"]
default = true
root = "c"

[[site]]
listen = ["127.0.0.2:0"]
server_names = ["d.test"]
root = "d"
"#;

fn shared_server(dir: &Path) -> Server {
    let server = start(dir, &["a", "b", "w", "deep", "c", "d"], SHARED);
    assert_eq!(server.addrs.len(), 2, "one shared socket and d's own");
    server
}

#[test]
fn exact_names_choose_the_site_whatever_the_case_port_or_trailing_dot() {
    let dir = tempfile::tempdir().unwrap();
    let server = shared_server(dir.path());
    let addr = server.addr();
    assert_eq!(host(addr, "a.test"), "site a");
    assert_eq!(host(addr, "b.test"), "site b");
    assert_eq!(host(addr, "c.test"), "site c");
    assert_eq!(host(addr, "A.TEST"), "site a");
    assert_eq!(host(addr, &format!("a.test:{}", addr.port())), "site a");
    assert_eq!(host(addr, "a.test:8080"), "site a");
    assert_eq!(host(addr, "a.test."), "site a");
    assert_eq!(host(addr, "B.Test.:80"), "site b");
}

#[test]
fn wildcards_match_any_depth_below_their_name_and_the_longest_wins() {
    let dir = tempfile::tempdir().unwrap();
    let server = shared_server(dir.path());
    let addr = server.addr();
    assert_eq!(host(addr, "x.w.test"), "site w");
    assert_eq!(host(addr, "X.Y.W.Test:81"), "site w");
    assert_eq!(host(addr, "x.deep.w.test"), "site deep");
    assert_eq!(host(addr, "deep.w.test"), "site w", "`*.w.test` covers it");
    // `*.w.test` is not `w.test`: that name is nobody's, so the default site answers.
    assert_eq!(host(addr, "w.test"), "site c");
    assert_eq!(host(addr, "xw.test"), "site c");
}

#[test]
fn a_name_no_site_claims_goes_to_the_default_site() {
    let dir = tempfile::tempdir().unwrap();
    let server = shared_server(dir.path());
    let addr = server.addr();
    assert_eq!(host(addr, "unknown.example"), "site c");
    assert_eq!(host(addr, "127.0.0.1"), "site c");
    // d.test is a site, but not on this socket.
    assert_eq!(host(addr, "d.test"), "site c");
    // HTTP/1.0 may leave Host out.
    assert_eq!(site_for(addr, "GET / HTTP/1.0", ""), "site c");
}

#[test]
fn an_absolute_form_target_names_the_site_over_host() {
    let dir = tempfile::tempdir().unwrap();
    let server = shared_server(dir.path());
    let addr = server.addr();
    let absolute = |target: &str| site_for(addr, &format!("GET {target} HTTP/1.1"), "Host: a.test");
    assert_eq!(absolute("http://b.test/"), "site b");
    assert_eq!(absolute("http://B.TEST:8080/"), "site b");
    assert_eq!(absolute("http://x.w.test/"), "site w");
    assert_eq!(absolute("http://elsewhere.example/"), "site c");
}

#[test]
fn a_site_alone_on_its_socket_answers_every_name_there() {
    let dir = tempfile::tempdir().unwrap();
    let server = shared_server(dir.path());
    let own = server.addrs[1];
    assert_eq!(own.ip().to_string(), "127.0.0.2");
    assert_eq!(host(own, "d.test"), "site d");
    assert_eq!(host(own, "a.test"), "site d");
    assert_eq!(site_for(own, "GET / HTTP/1.0", ""), "site d");
    let listening: Vec<String> = server
        .lines()
        .into_iter()
        .filter(|line| line.contains("listening on"))
        .collect();
    assert!(
        listening
            .iter()
            .any(|l| l.contains(&format!("http://{own}/ for d.test"))),
        "{listening:?}"
    );
}

#[test]
fn without_a_default_the_first_site_on_the_socket_answers_unknown_names() {
    let dir = tempfile::tempdir().unwrap();
    let config = r#"
workers = 1
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["first.test"]
root = "first"
[[site]]
listen = ["127.0.0.1:0"]
server_names = ["second.test"]
root = "second"
"#;
    let server = start(dir.path(), &["first", "second"], config);
    let addr = server.addr();
    assert_eq!(host(addr, "second.test"), "site second");
    assert_eq!(host(addr, "other.test"), "site first");
    assert_eq!(site_for(addr, "GET / HTTP/1.0", ""), "site first");
}

#[test]
fn the_response_cache_keeps_each_sites_answers_apart() {
    let dir = tempfile::tempdir().unwrap();
    let server = shared_server(dir.path());
    // The same target on one connection (one worker, one cache), alternating sites: each
    // answer after the first of its site comes from the cache.
    let mut client = Client::connect(server.addr());
    for round in 0..4 {
        for (name, body) in [("a.test", "site a"), ("b.test", "site b"), ("x", "site c")] {
            client.send(format!("GET / HTTP/1.1\r\nHost: {name}\r\n\r\n").as_bytes());
            let response = client.response();
            assert_eq!(response.status, 200);
            assert_eq!(response.text(), body, "round {round}, Host {name}");
        }
    }
}
