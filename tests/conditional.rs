//! Validators and conditional requests (RFC 9110 §8.8, §13): ETag and Last-Modified on every
//! file, 304 for each validator form, 412 for failed preconditions, Cache-Control.

mod support;

use support::{Client, Server, Site};

fn request(server: &Server, path: &str, headers: &str) -> support::Response {
    support::get_with(server.addr(), path, headers)
}

#[test]
fn files_carry_a_strong_etag_and_last_modified() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let response = request(&server, "/hello.txt", "");
    let etag = response.header("etag").expect("ETag");
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"),
        "{etag}"
    );
    assert!(response.header("last-modified").is_some());
    assert_eq!(response.header("accept-ranges"), Some("bytes"));
    assert_ne!(
        request(&server, "/page.html", "").header("etag"),
        Some(etag)
    );
}

#[test]
fn if_none_match_gives_304_in_every_form() {
    let site = Site::new();
    let server = Server::start(&["--cache-control", "public, max-age=60", &site.root_arg()]);
    let etag = request(&server, "/hello.txt", "")
        .header("etag")
        .unwrap()
        .to_owned();
    for value in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".to_owned(),
    ] {
        let response = request(
            &server,
            "/hello.txt",
            &format!("If-None-Match: {value}\r\n"),
        );
        assert_eq!(response.status, 304, "If-None-Match: {value}");
        assert!(response.body.is_empty());
        assert_eq!(response.header("content-length"), None);
        assert_eq!(response.header("etag"), Some(etag.as_str()));
        assert!(response.header("last-modified").is_some());
        assert_eq!(response.header("cache-control"), Some("public, max-age=60"));
        assert_eq!(response.header("vary"), Some("Accept-Encoding"));
    }
    assert_eq!(
        request(&server, "/hello.txt", "If-None-Match: \"stale\"\r\n").status,
        200
    );
    // HEAD is conditional too.
    let mut client = Client::connect(server.addr());
    client.send(
        format!("HEAD /hello.txt HTTP/1.1\r\nHost: t\r\nIf-None-Match: {etag}\r\n\r\n").as_bytes(),
    );
    assert_eq!(client.head_response().status, 304);
}

#[test]
fn if_modified_since_gives_304_unless_if_none_match_is_present() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let modified = request(&server, "/hello.txt", "")
        .header("last-modified")
        .unwrap()
        .to_owned();
    assert_eq!(
        request(
            &server,
            "/hello.txt",
            &format!("If-Modified-Since: {modified}\r\n")
        )
        .status,
        304
    );
    let later = "Fri, 01 Jan 2100 00:00:00 GMT";
    assert_eq!(
        request(
            &server,
            "/hello.txt",
            &format!("If-Modified-Since: {later}\r\n")
        )
        .status,
        304
    );
    let earlier = "Thu, 01 Jan 1970 00:00:01 GMT";
    assert_eq!(
        request(
            &server,
            "/hello.txt",
            &format!("If-Modified-Since: {earlier}\r\n")
        )
        .status,
        200
    );
    // An unparsable date is ignored.
    assert_eq!(
        request(&server, "/hello.txt", "If-Modified-Since: yesterday\r\n").status,
        200
    );
    // If-None-Match takes precedence: a stale tag means 200 even with a current date.
    let both = format!("If-None-Match: \"stale\"\r\nIf-Modified-Since: {modified}\r\n");
    assert_eq!(request(&server, "/hello.txt", &both).status, 200);
}

#[test]
fn failed_if_match_or_if_unmodified_since_is_412() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let etag = request(&server, "/hello.txt", "")
        .header("etag")
        .unwrap()
        .to_owned();
    assert_eq!(
        request(&server, "/hello.txt", "If-Match: \"other\"\r\n").status,
        412
    );
    assert_eq!(
        request(&server, "/hello.txt", &format!("If-Match: W/{etag}\r\n")).status,
        412,
        "weak never matches If-Match"
    );
    assert_eq!(
        request(&server, "/hello.txt", &format!("If-Match: {etag}\r\n")).status,
        200
    );
    assert_eq!(
        request(&server, "/hello.txt", "If-Match: *\r\n").status,
        200
    );
    let past = "Thu, 01 Jan 1970 00:00:01 GMT";
    assert_eq!(
        request(
            &server,
            "/hello.txt",
            &format!("If-Unmodified-Since: {past}\r\n")
        )
        .status,
        412
    );
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    assert_eq!(
        request(
            &server,
            "/hello.txt",
            &format!("If-Unmodified-Since: {future}\r\n")
        )
        .status,
        200
    );
    // If-Match wins over If-Unmodified-Since.
    let both = format!("If-Match: {etag}\r\nIf-Unmodified-Since: {past}\r\n");
    assert_eq!(request(&server, "/hello.txt", &both).status, 200);
}

#[test]
fn edited_file_gets_a_new_etag_and_fresh_bytes() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let first = request(&server, "/hello.txt", "");
    std::fs::write(site.root().join("hello.txt"), "edited\n").unwrap();
    let etag = first.header("etag").unwrap();
    let second = request(&server, "/hello.txt", &format!("If-None-Match: {etag}\r\n"));
    assert_eq!(second.status, 200);
    assert_eq!(second.text(), "edited\n");
    assert_ne!(second.header("etag"), first.header("etag"));
}

#[test]
fn same_bytes_get_the_same_etag_on_two_servers_started_apart() {
    let first_site = Site::new();
    let first = Server::start(&[&first_site.root_arg()]);
    let first_tag = request(&first, "/data.bin", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let first_modified = request(&first, "/data.bin", "")
        .header("last-modified")
        .unwrap()
        .to_owned();
    drop(first);

    // A copy of the same file with another mtime, served by another process.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second_site = Site::new();
    let copy = second_site.root().join("data.bin");
    let file = std::fs::File::options().write(true).open(&copy).unwrap();
    file.set_modified(
        std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000),
    )
    .unwrap();
    let second = Server::start(&[&second_site.root_arg()]);
    let response = request(&second, "/data.bin", "");
    assert_ne!(response.header("last-modified").unwrap(), first_modified);
    assert_eq!(response.header("etag").unwrap(), first_tag);
}

#[test]
fn large_file_etag_is_computed_off_the_request_path() {
    let site = Site::new();
    let big = site.root().join("big.bin");
    std::fs::write(&big, support::pattern(6 << 20)).unwrap();
    let server = Server::start(&[&site.root_arg()]);
    let mut client = Client::connect(server.addr());
    // The first response does not wait for the hash; a later one has the tag.
    let first = client.get("/big.bin");
    assert_eq!(first.status, 200);
    let mut etag = first.header("etag").map(str::to_owned);
    assert!(support::eventually(|| {
        etag = client.get("/big.bin").header("etag").map(str::to_owned);
        etag.is_some()
    }));
    let expected = {
        let file = std::fs::File::open(&big).unwrap();
        forkhttpd::fs::etag::hash_file(&file, 6 << 20).unwrap()
    };
    assert_eq!(etag.unwrap(), expected);
}

/// A large file's tag is hashed once per instance: every worker has it as soon as one worker
/// hashed it, and so does every new worker after a reload. Without the shared table, the
/// first request each worker sees for the file (half of new connections, with 2 workers)
/// would go without an ETag.
#[test]
fn large_file_etag_is_shared_by_workers_and_survives_reloads() {
    let site = Site::new();
    std::fs::write(site.root().join("big.bin"), support::pattern(8 << 20)).unwrap();
    let server = Server::start(&["-w", "4", &site.root_arg()]);
    let mut etag = None;
    assert!(support::eventually(|| {
        etag = request(&server, "/big.bin", "")
            .header("etag")
            .map(str::to_owned);
        etag.is_some()
    }));
    let etag = etag.unwrap();
    // New connections, spread over the 4 workers by the kernel: all answer with the tag.
    for _ in 0..24 {
        assert_eq!(
            request(&server, "/big.bin", "").header("etag"),
            Some(etag.as_str())
        );
    }
    let before = support::children_of(server.pid());
    server.signal(support::SIGHUP);
    assert!(support::eventually(|| {
        let now = support::children_of(server.pid());
        now.len() == 4 && now.iter().all(|pid| !before.contains(pid))
    }));
    server.wait_for_count(") started", 8);
    // The first response of the new generation already carries it.
    for _ in 0..8 {
        assert_eq!(
            request(&server, "/big.bin", "").header("etag"),
            Some(etag.as_str())
        );
    }
}

#[test]
fn if_none_match_on_several_lines_is_one_list() {
    // RFC 9110 §5.3: several field lines are one list, as if joined with commas.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let etag = request(&server, "/hello.txt", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let matching = [
        (
            format!("If-None-Match: \"a\", {etag}\r\n"),
            format!("If-None-Match: \"a\"\r\nIf-None-Match: {etag}\r\n"),
        ),
        (
            format!("If-None-Match: {etag}, \"a\"\r\n"),
            format!("If-None-Match: {etag}\r\nIf-None-Match: \"a\"\r\n"),
        ),
        (
            format!("If-None-Match: \"a\", \"b\", W/{etag}\r\n"),
            format!("If-None-Match: \"a\"\r\nX-Between: 1\r\nif-none-match: \"b\", W/{etag}\r\n"),
        ),
    ];
    for (one, several) in &matching {
        assert_eq!(request(&server, "/hello.txt", one).status, 304, "{one}");
        assert_eq!(
            request(&server, "/hello.txt", several).status,
            304,
            "{several}"
        );
    }
    let one = "If-None-Match: \"a\", \"b\"\r\n";
    let several = "If-None-Match: \"a\"\r\nIf-None-Match: \"b\"\r\n";
    assert_eq!(request(&server, "/hello.txt", one).status, 200);
    assert_eq!(request(&server, "/hello.txt", several).status, 200);
    // A malformed member ends the list on one line or several alike.
    let one = format!("If-None-Match: \"a\", garbage, {etag}\r\n");
    let several = format!("If-None-Match: \"a\", garbage\r\nIf-None-Match: {etag}\r\n");
    assert_eq!(request(&server, "/hello.txt", &one).status, 200);
    assert_eq!(request(&server, "/hello.txt", &several).status, 200);
}

#[test]
fn if_match_on_several_lines_is_one_list() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let etag = request(&server, "/hello.txt", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let one = format!("If-Match: \"a\", {etag}\r\n");
    let several = format!("If-Match: \"a\"\r\nIf-Match: {etag}\r\n");
    assert_eq!(request(&server, "/hello.txt", &one).status, 200);
    assert_eq!(request(&server, "/hello.txt", &several).status, 200);
    let one = "If-Match: \"a\", \"b\"\r\n";
    let several = "If-Match: \"a\"\r\nIf-Match: \"b\"\r\n";
    assert_eq!(request(&server, "/hello.txt", one).status, 412);
    assert_eq!(request(&server, "/hello.txt", several).status, 412);
}

#[test]
fn invalid_or_repeated_dates_are_ignored() {
    // RFC 9110 §13.1.3, §13.1.4: a date field that is not one valid HTTP-date is ignored, so it
    // never gives a 304 or a 412.
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let modified = request(&server, "/hello.txt", "")
        .header("last-modified")
        .unwrap()
        .to_owned();
    let past = "Thu, 01 Jan 1970 00:00:01 GMT";
    let future = "Fri, 01 Jan 2100 00:00:00 GMT";
    for headers in [
        "If-Modified-Since: yesterday\r\n".to_owned(),
        format!("If-Modified-Since: {modified}, {modified}\r\n"),
        format!("If-Modified-Since: {modified}\r\nIf-Modified-Since: {modified}\r\n"),
        format!("If-Modified-Since: {future}\r\nIf-Modified-Since: {past}\r\n"),
    ] {
        assert_eq!(
            request(&server, "/hello.txt", &headers).status,
            200,
            "{headers}"
        );
    }
    for headers in [
        "If-Unmodified-Since: yesterday\r\n".to_owned(),
        format!("If-Unmodified-Since: {past}, {past}\r\n"),
        format!("If-Unmodified-Since: {past}\r\nIf-Unmodified-Since: {past}\r\n"),
        format!("If-Unmodified-Since: {future}\r\nIf-Unmodified-Since: {past}\r\n"),
    ] {
        assert_eq!(
            request(&server, "/hello.txt", &headers).status,
            200,
            "{headers}"
        );
    }
}

#[test]
fn if_range_on_several_lines_sends_the_whole_file() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let etag = request(&server, "/hello.txt", "")
        .header("etag")
        .unwrap()
        .to_owned();
    let one = format!("Range: bytes=0-4\r\nIf-Range: {etag}\r\n");
    let response = request(&server, "/hello.txt", &one);
    assert_eq!((response.status, response.text().as_str()), (206, "hello"));
    let several = format!("Range: bytes=0-4\r\nIf-Range: {etag}\r\nIf-Range: {etag}\r\n");
    let response = request(&server, "/hello.txt", &several);
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "hello, world\n")
    );
}
