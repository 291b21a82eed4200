//! The response cache: small files and 404s served from memory, fresh within a second of an
//! edit, per content coding, and exactly the bytes the full pipeline would send.

mod support;

use support::{Client, Server, Site, eventually, exchange, get};

fn fetch(server: &Server, path: &str, accept: &str) -> support::Response {
    support::get_with(
        server.addr(),
        path,
        &format!("Accept-Encoding: {accept}\r\n"),
    )
}

#[test]
fn edited_file_is_served_fresh_within_a_second() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_eq!(get(server.addr(), "/hello.txt").text(), "hello, world\n");
    std::fs::write(
        site.root().join("hello.txt"),
        "edited, longer than before\n",
    )
    .unwrap();
    assert!(eventually(
        || get(server.addr(), "/hello.txt").text() == "edited, longer than before\n"
    ));
    // Same length, new bytes: caught by the file version, not the size.
    std::fs::write(
        site.root().join("hello.txt"),
        "EDITED, LONGER THAN BEFORE\n",
    )
    .unwrap();
    assert!(eventually(
        || get(server.addr(), "/hello.txt").text() == "EDITED, LONGER THAN BEFORE\n"
    ));
}

#[test]
fn created_and_deleted_files_are_noticed_within_a_second() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_eq!(get(server.addr(), "/new.txt").status, 404);
    std::fs::write(site.root().join("new.txt"), "new").unwrap();
    assert!(eventually(|| get(server.addr(), "/new.txt").status == 200));
    std::fs::remove_file(site.root().join("new.txt")).unwrap();
    assert!(eventually(|| get(server.addr(), "/new.txt").status == 404));
}

#[test]
fn cached_responses_equal_uncached_ones() {
    let site = Site::new();
    let cached = Server::start(&[&site.root_arg()]);
    let uncached = Server::start(&["--file-cache-bytes", "0", &site.root_arg()]);
    for path in [
        "/hello.txt",
        "/",
        "/sub/",
        "/missing",
        "/data.bin",
        "/empty.txt",
        "/.env",
    ] {
        for _ in 0..3 {
            let a = get(cached.addr(), path);
            let b = get(uncached.addr(), path);
            assert_eq!(
                (a.status, a.stable_headers(), &a.body),
                (b.status, b.stable_headers(), &b.body),
                "{path}"
            );
        }
        let mut client = Client::connect(cached.addr());
        client.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = client.head_response();
        assert_eq!(
            head.stable_headers(),
            get(cached.addr(), path).stable_headers(),
            "HEAD {path}"
        );
    }
}

#[test]
fn each_coding_ranking_gets_its_own_entry() {
    let site = Site::new();
    let css: String = (0..200)
        .map(|i| format!(".c{i} {{ color: red }}\n"))
        .collect();
    std::fs::write(site.root().join("style.css"), &css).unwrap();
    let server = Server::start(&["--compress", &site.root_arg()]);
    for _ in 0..3 {
        assert_eq!(
            fetch(&server, "/style.css", "br").header("content-encoding"),
            Some("br")
        );
        assert_eq!(
            fetch(&server, "/style.css", "gzip").header("content-encoding"),
            Some("gzip")
        );
        assert_eq!(
            fetch(&server, "/style.css", "identity").header("content-encoding"),
            None
        );
        assert_eq!(get(server.addr(), "/style.css").text(), css);
    }
}

#[test]
fn conditional_and_range_requests_bypass_the_cache() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let first = get(server.addr(), "/hello.txt");
    let etag = first.header("etag").unwrap();
    std::fs::write(site.root().join("hello.txt"), "changed\n").unwrap();
    // At once, not after a second: validators always see the file as it is.
    let response = exchange(
        server.addr(),
        format!("GET /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "changed\n")
    );
    let range = exchange(
        server.addr(),
        b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-2\r\n\r\n",
    );
    assert_eq!((range.status, range.text().as_str()), (206, "cha"));
}
