//! The metrics through an instance's life: a SIGHUP that reorders the sites and adds one, a
//! worker killed with SIGKILL and respawned, and a SIGHUP that moves the metrics socket. No
//! counter is ever lower than before, a site's counts stay its own whatever its place in the
//! file, the gauges of the killed worker leave the sums, and reloads and restarts are counted.

mod support;

use std::net::{SocketAddr, TcpStream};
use std::path::Path;

use support::{
    Client, SIGHUP, SIGKILL, Server, eventually, metrics_addr_in, owner_of_connection, requests,
    sample, scrape, send_signal, write_file,
};

/// The configuration: `sites` in this order on one plain socket, metrics on `metrics`.
fn config(dir: &Path, sites: &[&str], metrics: &str) -> std::path::PathBuf {
    let mut text = format!("workers = 2\n[metrics]\nlisten = \"{metrics}\"\n");
    for site in sites {
        write_file(dir, &format!("{site}/index.html"), site);
        text.push_str(&format!(
            "[[site]]\nlisten = [\"127.0.0.1:0\"]\nserver_names = [\"{site}\"]\nroot = \"{site}\"\n"
        ));
    }
    write_file(dir, "site.toml", &text)
}

fn get(addr: SocketAddr, host: &str, times: usize) {
    for _ in 0..times {
        let mut client = Client::connect(addr);
        client.send(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        assert_eq!(client.response().text(), host);
    }
}

/// GET 2xx counts of the three sites, as one page says them.
fn counts(metrics: SocketAddr) -> [u64; 3] {
    let page = scrape(metrics);
    ["a.test", "b.test", "c.test"].map(|site| requests(&page, site, "GET", "2xx"))
}

#[test]
fn counters_never_fall_across_reloads_and_a_killed_worker() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), &["a.test", "b.test"], "127.0.0.1:0");
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let site = server.addr();
    let metrics = metrics_addr_in(&server.wait_for("serving metrics on"));
    get(site, "a.test", 3);
    get(site, "b.test", 2);
    assert_eq!(counts(metrics), [3, 2, 0]);

    // Reload: the sites in another order, and a new one first. Each keeps its own counts.
    config(dir.path(), &["c.test", "b.test", "a.test"], "127.0.0.1:0");
    server.signal(SIGHUP);
    server.wait_for_count("(parent ", 4);
    // Only the new generation answers from here on (an old worker would not know c.test).
    server.wait_for_count("old generation", 2);
    let announced = server.wait_for_count("serving metrics on", 2);
    assert_eq!(
        metrics_addr_in(&announced[1]),
        metrics,
        "the same socket, kept"
    );
    assert_eq!(counts(metrics), [3, 2, 0]);
    assert_eq!(sample(&scrape(metrics), "forkhttpd_reloads_total"), Some(1));
    get(site, "a.test", 1);
    get(site, "c.test", 1);
    assert_eq!(counts(metrics), [4, 2, 1]);

    // A keep-alive connection, open and idle, on the worker about to be killed.
    let mut held = Client::connect(site);
    assert_eq!(held.get("/").status, 200);
    let workers = server.worker_pids();
    let port = held.stream.local_addr().unwrap().port();
    let owner = owner_of_connection(site.port(), port, &workers).expect("its worker");
    let gauges = || {
        let page = scrape(metrics);
        (
            sample(&page, "forkhttpd_connections_open"),
            sample(&page, "forkhttpd_connections_idle"),
        )
    };
    assert!(
        eventually(|| gauges() == (Some(1), Some(1))),
        "{:?}",
        gauges()
    );
    let [a, b, c] = counts(metrics);
    send_signal(owner, SIGKILL);
    server.wait_for("respawning");
    server.wait_for_count("(parent ", 5);
    // Its counts stay; its connection is gone from the gauges, which the master zeroed.
    assert_eq!(counts(metrics), [a, b, c]);
    assert!(
        eventually(|| gauges() == (Some(0), Some(0))),
        "{:?}",
        gauges()
    );
    let page = scrape(metrics);
    assert_eq!(sample(&page, "forkhttpd_worker_restarts_total"), Some(1));
    assert_eq!(sample(&page, "forkhttpd_reloads_total"), Some(1));
    // The replacement counts on where its predecessor left off.
    get(site, "a.test", 4);
    assert_eq!(counts(metrics), [a + 4, b, c]);

    // Reload onto another metrics address: bound like any new address, the old one let go.
    config(dir.path(), &["c.test", "b.test", "a.test"], "127.0.0.2:0");
    server.signal(SIGHUP);
    let announced = server.wait_for_count("serving metrics on", 3);
    let moved = metrics_addr_in(&announced[2]);
    assert_ne!(moved, metrics);
    assert_eq!(counts(moved), [a + 4, b, c]);
    assert_eq!(sample(&scrape(moved), "forkhttpd_reloads_total"), Some(2));
    server.wait_for_count("old generation", 4);
    assert!(
        eventually(|| TcpStream::connect(metrics).is_err()),
        "the old metrics address still accepts"
    );
}
