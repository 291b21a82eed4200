//! `[metrics]`: a Prometheus page on a socket of its own, as a scraper sees it. Requests counted
//! by site, method and status class, with their body bytes, whichever worker answered them and
//! whichever worker answers the scrape; open and idle connections going up and back down; TLS
//! handshakes (completed and failed) and HTTP/2 streams; the metrics socket answering only
//! `GET /metrics` (404, 405 otherwise), closing after each answer, and a client that stalls on
//! it holding no one else up; configuration mistakes placed in the file.
//! (Reloads and killed workers: `metrics_signals.rs`.)

mod support;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use support::{
    Authority, Client, H2Request, Server, TLS13, body_bytes, connect_tls, eventually, exchange,
    exchange_h2, metrics_addr, place_of, request_metrics, requests, sample, scrape,
    try_connect_tls, write_file,
};

/// Two sites on one plain socket, `a.test` and `b.test`, and the metrics socket.
fn two_sites(dir: &Path, workers: usize, limits: &str) -> (Server, SocketAddr) {
    write_file(dir, "a/index.html", "site a");
    write_file(dir, "b/index.html", "site b!");
    let config = format!(
        "workers = {workers}\n[limits]\n{limits}\n[metrics]\nlisten = \"127.0.0.1:0\"\n\
         [[site]]\nlisten = [\"127.0.0.1:0\"]\nserver_names = [\"a.test\"]\nroot = \"a\"\n\
         [[site]]\nlisten = [\"127.0.0.1:0\"]\nserver_names = [\"b.test\"]\nroot = \"b\"\n"
    );
    let file = write_file(dir, "site.toml", &config);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let metrics = metrics_addr(&server);
    (server, metrics)
}

/// `METHOD PATH` for `host` on a new connection; the response (without a body for HEAD).
fn ask(addr: SocketAddr, method: &str, path: &str, host: &str) -> support::Response {
    let mut client = Client::connect(addr);
    client.send(format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
    client.read_response(method == "HEAD").expect("a response")
}

#[test]
fn requests_are_counted_by_site_method_and_status_class_with_their_body_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let (server, metrics) = two_sites(dir.path(), 2, "");
    let site = server.addr();
    // Each on a new connection, so both workers take some.
    let home_a = ask(site, "GET", "/", "a.test");
    assert_eq!(home_a.text(), "site a");
    let missing = ask(site, "GET", "/missing", "a.test");
    assert_eq!(missing.status, 404);
    let head_b = ask(site, "HEAD", "/", "b.test");
    assert_eq!((head_b.status, head_b.body.len()), (200, 0));
    let home_b = ask(site, "GET", "/", "b.test");
    assert_eq!(home_b.text(), "site b!");
    let post = ask(site, "POST", "/", "b.test");
    assert_eq!(post.status, 405);
    // Refused before any site answered: counted for the site the head named if it got that
    // far (its Content-Length, 413), else for the socket's default site (a version, 505).
    let too_large = exchange(
        site,
        b"GET / HTTP/1.1\r\nHost: b.test\r\nContent-Length: 999999999999\r\n\r\n",
    );
    assert_eq!(too_large.status, 413);
    let garbage = exchange(site, b"GET / HTTP/9.9\r\nHost: b.test\r\n\r\n");
    assert_eq!(garbage.status, 505);

    // Counted before each response was written, so a scrape after the answers sees them all.
    let page = scrape(metrics);
    assert_eq!(requests(&page, "a.test", "GET", "2xx"), 1, "{page}");
    assert_eq!(requests(&page, "a.test", "GET", "4xx"), 1, "{page}");
    assert_eq!(requests(&page, "b.test", "HEAD", "2xx"), 1, "{page}");
    assert_eq!(requests(&page, "b.test", "GET", "2xx"), 1, "{page}");
    assert_eq!(requests(&page, "b.test", "other", "4xx"), 1, "{page}");
    assert_eq!(requests(&page, "b.test", "GET", "4xx"), 1, "{page}");
    assert_eq!(requests(&page, "a.test", "GET", "5xx"), 1, "{page}");
    let bytes_a = (home_a.body.len() + missing.body.len() + garbage.body.len()) as u64;
    let bytes_b = (home_b.body.len() + post.body.len() + too_large.body.len()) as u64;
    assert_eq!(body_bytes(&page, "a.test"), bytes_a, "{page}");
    assert_eq!(body_bytes(&page, "b.test"), bytes_b, "{page}");
    for family in [
        "# TYPE forkhttpd_requests_total counter",
        "# TYPE forkhttpd_response_bytes_total counter",
        "# TYPE forkhttpd_connections_open gauge",
        "# TYPE forkhttpd_connections_idle gauge",
        "# TYPE forkhttpd_tls_handshakes_total counter",
        "# TYPE forkhttpd_tls_handshake_failures_total counter",
        "# TYPE forkhttpd_http2_streams_total counter",
        "# TYPE forkhttpd_worker_restarts_total counter",
        "# TYPE forkhttpd_reloads_total counter",
        "# TYPE forkhttpd_start_time_seconds gauge",
        "# TYPE forkhttpd_build_info gauge",
        "# HELP forkhttpd_requests_total ",
    ] {
        assert!(
            page.lines().any(|l| l.starts_with(family)),
            "{family}: {page}"
        );
    }
    let version = format!(
        "forkhttpd_build_info{{version=\"{}\"}}",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(sample(&page, &version), Some(1));
    let started = sample(&page, "forkhttpd_start_time_seconds").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(started <= now && started > now - 3600, "{started}");
    assert_eq!(sample(&page, "forkhttpd_reloads_total"), Some(0));
    assert_eq!(sample(&page, "forkhttpd_worker_restarts_total"), Some(0));

    // Scrapes are not requests of a site: scraping again changes nothing.
    let again = scrape(metrics);
    let counted = |page: &str| -> Vec<String> {
        page.lines()
            .filter(|l| l.starts_with("forkhttpd_re"))
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(counted(&page), counted(&again));
}

#[test]
fn open_and_idle_connections_go_up_while_held_and_down_once_closed() {
    let dir = tempfile::tempdir().unwrap();
    let (server, metrics) = two_sites(dir.path(), 2, "");
    let gauges = || {
        let page = scrape(metrics);
        (
            sample(&page, "forkhttpd_connections_open").unwrap(),
            sample(&page, "forkhttpd_connections_idle").unwrap(),
        )
    };
    assert_eq!(gauges(), (0, 0));
    // Three keep-alive connections, each answered once and then waiting for a next request.
    let mut held: Vec<Client> = (0..3).map(|_| Client::connect(server.addr())).collect();
    for client in &mut held {
        assert_eq!(client.get("/").status, 200);
    }
    assert!(
        eventually(|| gauges() == (3, 3)),
        "open, idle: {:?}",
        gauges()
    );
    // One sends half a request: still open, no longer idle.
    held[0].send(b"GET / HTTP/1.1\r\n");
    assert!(
        eventually(|| gauges() == (3, 2)),
        "open, idle: {:?}",
        gauges()
    );
    drop(held);
    assert!(
        eventually(|| gauges() == (0, 0)),
        "open, idle: {:?}",
        gauges()
    );
}

#[test]
fn tls_handshakes_and_http2_streams_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    ca.leaf(&["a.test"]).write(dir.path(), "a");
    write_file(dir.path(), "www/index.html", "home");
    let config = "workers = 1\n[metrics]\nlisten = \"127.0.0.1:0\"\n\
                  [[site]]\nlisten_tls = [\"127.0.0.1:0\"]\nserver_names = [\"a.test\"]\n\
                  root = \"www\"\n[site.tls]\ncert = \"a.pem\"\nkey = \"a.key\"\n";
    let file = write_file(dir.path(), "site.toml", config);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let metrics = metrics_addr(&server);
    let tls = server.addr();
    let client = ca.client(&[TLS13]);

    let mut one = connect_tls(tls, "a.test", &Arc::new(client.clone()));
    assert_eq!(one.get_from("a.test", "/").status, 200);
    let requests_h2 = [
        H2Request::get("a.test", "/"),
        H2Request::get("a.test", "/"),
        H2Request::get("a.test", "/missing"),
    ];
    let answers = exchange_h2(tls, "a.test", &client, &requests_h2);
    assert_eq!(answers.len(), 3);
    // A client that does not trust the certificate gives up on the handshake.
    let stranger = Arc::new(Authority::new().client(&[TLS13]));
    assert!(try_connect_tls(tls, "a.test", &stranger).is_err());

    let expected = |page: &str| {
        sample(page, "forkhttpd_tls_handshakes_total") == Some(2)
            && sample(page, "forkhttpd_tls_handshake_failures_total") == Some(1)
            && sample(page, "forkhttpd_http2_streams_total") == Some(3)
            && requests(page, "a.test", "GET", "2xx") == 3
            && requests(page, "a.test", "GET", "4xx") == 1
    };
    // The stranger's failure reaches the server after the client has given up.
    assert!(
        eventually(|| expected(&scrape(metrics))),
        "{}",
        scrape(metrics)
    );
    let page = scrape(metrics);
    assert_eq!(
        body_bytes(&page, "a.test"),
        3 * 4 + answers[2].body.len() as u64
    );
    // Of the three connections only the HTTP/1.1 one over TLS is left, open and idle.
    let gauges = |page: &str| {
        (
            sample(page, "forkhttpd_connections_open"),
            sample(page, "forkhttpd_connections_idle"),
        )
    };
    assert!(
        eventually(|| gauges(&scrape(metrics)) == (Some(1), Some(1))),
        "{}",
        scrape(metrics)
    );
    drop(one);
    assert!(
        eventually(|| gauges(&scrape(metrics)) == (Some(0), Some(0))),
        "{}",
        scrape(metrics)
    );
}

#[test]
fn the_metrics_socket_answers_get_of_metrics_only_then_closes() {
    let dir = tempfile::tempdir().unwrap();
    let (_server, metrics) = two_sites(dir.path(), 2, "");
    let page = request_metrics(metrics, "GET", "/metrics");
    assert_eq!(page.status, 200);
    assert_eq!(page.header("connection"), Some("close"));
    let head = request_metrics(metrics, "HEAD", "/metrics");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-type"), page.header("content-type"));
    assert!(head.body.is_empty());
    assert_eq!(request_metrics(metrics, "GET", "/").status, 404);
    assert_eq!(request_metrics(metrics, "GET", "/metrics/x").status, 404);
    let post = request_metrics(metrics, "POST", "/metrics");
    assert_eq!(post.status, 405);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));
    // One answer per connection: the socket closes after it.
    let mut client = Client::connect(metrics);
    client
        .send(b"GET /metrics HTTP/1.1\r\nHost: p\r\n\r\nGET /metrics HTTP/1.1\r\nHost: p\r\n\r\n");
    assert_eq!(client.response().status, 200);
    assert!(
        client.read_until_closed().is_empty(),
        "one answer, then the close"
    );
}

#[test]
fn a_client_that_stalls_on_the_metrics_socket_holds_up_no_one_and_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    // One worker: a stalled client would block the very worker that must answer.
    let (server, metrics) = two_sites(dir.path(), 1, "header_timeout = 1.0");
    let mut stalled = TcpStream::connect(metrics).unwrap();
    stalled.write_all(b"GET /metr").unwrap();
    let mut silent = TcpStream::connect(metrics).unwrap();
    for _ in 0..4 {
        assert!(scrape(metrics).contains("forkhttpd_build_info"));
        assert_eq!(ask(server.addr(), "GET", "/", "a.test").status, 200);
    }
    // At the header timeout the stalled client is closed, without an answer.
    stalled.set_read_timeout(Some(support::WAIT)).unwrap();
    let mut rest = Vec::new();
    let read = std::io::Read::read_to_end(&mut stalled, &mut rest);
    assert!(read.is_ok(), "closed, not still waiting: {read:?}");
    assert!(rest.is_empty(), "{}", String::from_utf8_lossy(&rest));
    silent.write_all(b"GET /metrics HTTP/1.1\r\n").ok();
}

#[test]
fn metrics_configuration_mistakes_are_placed_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "www/index.html", "home");
    let check = |text: &str| -> String {
        let file = write_file(dir.path(), "site.toml", text);
        let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
            .args(["-t", "-c", file.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let place = format!("{}:", file.display());
        assert!(stderr.contains(&place), "{stderr}");
        stderr
    };
    let site = "[[site]]\nlisten = [\"127.0.0.1:18123\"]\nroot = \"www\"\n";
    let bad = format!("[metrics]\nlisten = \"nowhere\"\n{site}");
    let stderr = check(&bad);
    assert!(
        stderr.contains(&format!(
            "{}: invalid listen address",
            place_of(&bad, "\"nowhere\"")
        )),
        "{stderr}"
    );
    let taken = format!("[metrics]\nlisten = \"127.0.0.1:18123\"\n{site}");
    let stderr = check(&taken);
    assert!(
        stderr.contains(&format!(
            "{}: 127.0.0.1:18123 is a site's listen address",
            place_of(&taken, "\"127.0.0.1:18123\"")
        )),
        "{stderr}"
    );
    let unknown = format!("[metrics]\nlisten = \"127.0.0.1:0\"\npath = \"/m\"\n{site}");
    let stderr = check(&unknown);
    assert!(stderr.contains("unknown field `path`"), "{stderr}");
    // A good one passes, and so does port 0 beside sites on port 0 (two free ports).
    let good = "[metrics]\nlisten = \"127.0.0.1:0\"\n\
                [[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = \"www\"\n";
    let file = write_file(dir.path(), "site.toml", good);
    let output = Command::new(env!("CARGO_BIN_EXE_forkhttpd"))
        .args(["-t", "-c", file.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
}
