//! SIGHUP with a configuration file: the file is read again; one with errors is refused (each
//! problem logged in place, the old workers keep serving), a good one is applied by a new
//! generation of workers on the same sockets.

mod support;

use std::net::{SocketAddr, TcpListener};

use support::{SIGHUP, Server, children_of, exchange, place_of, write_file};

fn get(addr: SocketAddr, host: &str, path: &str) -> support::Response {
    let response = exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes(),
    );
    assert_eq!(response.status, 200, "{host}{path}: {}", response.head);
    response
}

/// Sends SIGHUP for the server's first reload that is applied, and waits until the new
/// generation serves alone: every old worker has exited.
fn reload(server: &Server) {
    let old = children_of(server.pid());
    server.signal(SIGHUP);
    server.wait_for("reloading: starting");
    server.wait_for_count("old generation", old.len());
}

const V1: &str = r#"workers = 1
[[site]]
listen = ["127.0.0.1:0"]
root = "v1"
"#;

#[test]
fn a_bad_file_is_refused_and_a_good_one_applied() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "v1/hello.txt", "version 1");
    write_file(dir.path(), "v2/hello.txt", "version 2");
    let file = write_file(dir.path(), "site.toml", V1);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let addr = server.addr();
    let workers = children_of(server.pid());
    assert_eq!(get(addr, "t", "/hello.txt").text(), "version 1");

    // Two problems: both are logged in place, and nothing changes.
    let bad = r#"workers = 1
[[site]]
listen = ["127.0.0.1:0"]
root = "nowhere"
[[site.headers]]
path = "/a/[b"
set = { "X-Generation" = "bad" }
"#;
    write_file(dir.path(), "site.toml", bad);
    server.signal(SIGHUP);
    server.wait_for("reload refused");
    for needle in ["\"nowhere\"", "\"/a/[b\""] {
        let place = format!("{}:{}: ", file.display(), place_of(bad, needle));
        let line = server.wait_for(&place);
        assert!(line.contains("ERROR"), "{line}");
    }
    assert_eq!(
        children_of(server.pid()),
        workers,
        "the old workers keep serving"
    );
    let response = get(addr, "t", "/hello.txt");
    assert_eq!(response.text(), "version 1");
    assert_eq!(response.header("x-generation"), None);

    // A file that is not TOML is refused the same way.
    write_file(dir.path(), "site.toml", "workers = 1\n[[site]\n");
    server.signal(SIGHUP);
    server.wait_for_count("reload refused", 2);
    server.wait_for(&format!("{}:2:", file.display()));
    assert_eq!(children_of(server.pid()), workers);
    assert_eq!(get(addr, "t", "/hello.txt").text(), "version 1");

    // A good file with another root and a header rule: applied on the same socket.
    let good = V1.replace("\"v1\"", "\"v2\"")
        + "[[site.headers]]\npath = \"/**\"\nset = { \"X-Generation\" = \"2\" }\n";
    write_file(dir.path(), "site.toml", &good);
    reload(&server);
    server.wait_for("reloading: starting 1 new workers");
    let after = children_of(server.pid());
    assert_eq!(after.len(), 1);
    assert!(
        !workers.contains(&after[0]),
        "a new worker: {workers:?} -> {after:?}"
    );
    let response = get(addr, "t", "/hello.txt");
    assert_eq!(response.text(), "version 2");
    assert_eq!(response.header("x-generation"), Some("2"));
    let listening = server.wait_for_count("listening on", 2);
    assert!(
        listening[1].contains(&format!("http://{addr}/")),
        "the same socket: {listening:?}"
    );
}

#[test]
fn a_reload_adds_a_site_on_the_shared_socket() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "a/index.html", "site a");
    write_file(dir.path(), "b/index.html", "site b");
    let one = "workers = 1\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nserver_names = [\"a.test\"]\nroot = \"a\"\n";
    let file = write_file(dir.path(), "sites.toml", one);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let addr = server.addr();
    assert_eq!(get(addr, "b.test", "/").text(), "site a", "the only site");

    let two = format!(
        "{one}[[site]]\nlisten = [\"127.0.0.1:0\"]\nserver_names = [\"b.test\"]\nroot = \"b\"\n"
    );
    write_file(dir.path(), "sites.toml", &two);
    reload(&server);
    let listening = server.wait_for_count("listening on", 2);
    assert!(
        listening[1].contains(&format!("http://{addr}/ for a.test, b.test")),
        "{listening:?}"
    );
    assert_eq!(get(addr, "b.test", "/").text(), "site b");
    assert_eq!(get(addr, "a.test", "/").text(), "site a");
    assert_eq!(
        get(addr, "other", "/").text(),
        "site a",
        "still the first site"
    );
}

#[test]
fn a_reload_applies_a_new_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "v1/index.html", "home");
    let file = write_file(dir.path(), "site.toml", V1);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    assert_eq!(children_of(server.pid()).len(), 1);
    write_file(
        dir.path(),
        "site.toml",
        &V1.replace("workers = 1", "workers = 3"),
    );
    reload(&server);
    server.wait_for("reloading: starting 3 new workers, 1 old ones drain");
    // The first worker's start line, then three new ones.
    server.wait_for_count(") started", 4);
    assert_eq!(children_of(server.pid()).len(), 3);
    assert_eq!(get(server.addr(), "t", "/").text(), "home");
}

#[test]
fn a_reload_that_cannot_bind_a_new_address_keeps_the_old_sockets() {
    let dir = tempfile::tempdir().unwrap();
    write_file(dir.path(), "v1/hello.txt", "version 1");
    write_file(dir.path(), "v2/hello.txt", "version 2");
    let file = write_file(dir.path(), "site.toml", V1);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let addr = server.addr();
    let workers = children_of(server.pid());

    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let taken = holder.local_addr().unwrap();
    let both = format!("\"127.0.0.1:0\", \"{taken}\"");
    write_file(
        dir.path(),
        "site.toml",
        &V1.replace("\"127.0.0.1:0\"", &both),
    );
    server.signal(SIGHUP);
    let refused = server.wait_for("reload refused");
    assert!(
        refused.contains(&format!("cannot listen on {taken}")),
        "{refused}"
    );
    assert_eq!(children_of(server.pid()), workers);
    assert_eq!(get(addr, "t", "/hello.txt").text(), "version 1");

    // The master still holds the first socket: the next good reload's workers serve on it.
    write_file(dir.path(), "site.toml", &V1.replace("\"v1\"", "\"v2\""));
    reload(&server);
    assert_eq!(get(addr, "t", "/hello.txt").text(), "version 2");
}
