//! Reading the `[metrics]` endpoint: where it listens (from its start-up line), a scrape over a
//! plain socket, and the value of one series on a page.

use std::net::SocketAddr;

use super::{Client, Response, Server};

/// The address of the latest `serving metrics on http://ADDR/metrics` line.
pub(crate) fn metrics_addr(server: &Server) -> SocketAddr {
    let line = server.wait_for("serving metrics on ");
    metrics_addr_in(&line)
}

/// The address in a `serving metrics on http://ADDR/metrics` line.
pub(crate) fn metrics_addr_in(line: &str) -> SocketAddr {
    let rest = line.split("serving metrics on http://").nth(1).expect(line);
    rest.trim_end_matches("/metrics").parse().expect(line)
}

/// `GET /metrics`, asserting a 200 with the exposition format's media type.
pub(crate) fn scrape(addr: SocketAddr) -> String {
    let response = request_metrics(addr, "GET", "/metrics");
    assert_eq!(response.status, 200, "{}", response.head);
    assert_eq!(
        response.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    response.text()
}

/// `METHOD PATH` on the metrics socket, on a new connection.
pub(crate) fn request_metrics(addr: SocketAddr, method: &str, path: &str) -> Response {
    let mut client = Client::connect(addr);
    client.send(format!("{method} {path} HTTP/1.1\r\nHost: prometheus\r\n\r\n").as_bytes());
    client.read_response(method == "HEAD").expect("an answer")
}

/// The value of `series` (name and labels exactly as the page writes them) on `page`.
pub(crate) fn sample(page: &str, series: &str) -> Option<u64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().expect(value))
}

/// `forkhttpd_requests_total` for a site, method and status class, 0 if absent.
pub(crate) fn requests(page: &str, site: &str, method: &str, code: &str) -> u64 {
    let series =
        format!("forkhttpd_requests_total{{site=\"{site}\",method=\"{method}\",code=\"{code}\"}}");
    sample(page, &series).unwrap_or(0)
}

/// `forkhttpd_response_bytes_total` for a site, 0 if absent.
pub(crate) fn body_bytes(page: &str, site: &str) -> u64 {
    sample(
        page,
        &format!("forkhttpd_response_bytes_total{{site=\"{site}\"}}"),
    )
    .unwrap_or(0)
}
