//! Serving a folder: index files, directories, 404 pages, MIME types, HEAD, OPTIONS, methods.

mod support;

use support::{Client, Server, Site, exchange, get, pattern};

fn serve(site: &Site, extra: &[&str]) -> Server {
    let root = site.root_arg();
    let mut args = extra.to_vec();
    args.push(&root);
    Server::start(&args)
}

#[test]
fn root_serves_index_html() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let response = get(server.addr(), "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "<h1>home</h1>\n");
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        response
            .header("server")
            .map(|s| s.starts_with("forkhttpd/")),
        Some(true)
    );
    let date = response.header("date").expect("Date");
    assert!(
        httpdate::parse_http_date(date).is_ok(),
        "IMF-fixdate: {date}"
    );
    assert!(response.header("last-modified").is_some());
}

#[test]
fn file_content_types() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut client = Client::connect(server.addr());
    assert_eq!(
        client.get("/hello.txt").header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(
        client.get("/data.bin").header("content-type"),
        Some("application/octet-stream")
    );
    assert_eq!(
        client.get("/page.html").header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn large_and_empty_files_have_exact_bodies() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut client = Client::connect(server.addr());
    let big = client.get("/data.bin");
    assert_eq!(big.header("content-length"), Some("204800"));
    assert!(big.body == pattern(200 * 1024), "sendfile body differs");
    let empty = client.get("/empty.txt");
    assert_eq!(
        (empty.status, empty.header("content-length")),
        (200, Some("0"))
    );
    // The connection is still in step after a sendfile body.
    assert_eq!(client.get("/hello.txt").text(), "hello, world\n");
}

#[test]
fn head_has_the_same_headers_as_get_and_no_body() {
    let site = Site::new();
    let server = serve(&site, &[]);
    for path in ["/hello.txt", "/data.bin", "/missing", "/sub"] {
        let mut client = Client::connect(server.addr());
        let got = client.get(path);
        client.send(format!("HEAD {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let head = client.head_response();
        assert_eq!(head.status, got.status, "{path}");
        assert_eq!(head.stable_headers(), got.stable_headers(), "{path}");
        // Nothing follows the HEAD response: the next request's answer comes next.
        assert_eq!(client.get("/hello.txt").status, 200, "{path}");
    }
}

#[test]
fn directory_without_slash_redirects_keeping_the_query() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let response = get(server.addr(), "/sub?a=1&b=2");
    assert_eq!(response.status, 301);
    assert_eq!(response.header("location"), Some("/sub/?a=1&b=2"));
    let response = get(server.addr(), "/sub/");
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "<h1>sub</h1>\n")
    );
}

#[test]
fn a_directory_named_through_dot_segments_redirects_to_its_own_url() {
    // Its page's relative links would otherwise resolve against the dotted URL: `./x` on the
    // root's listing served at `/sub/..` names `/sub/x`.
    let site = Site::new();
    let server = serve(&site, &["--listing"]);
    for (path, location) in [
        ("/sub/..", "/"),
        ("/sub/../", "/"),
        ("/sub/./", "/sub/"),
        ("/nodir/%2e?q", "/nodir/?q"),
    ] {
        let response = get(server.addr(), path);
        assert_eq!(response.status, 301, "{path}");
        assert_eq!(response.header("location"), Some(location), "{path}");
    }
    // Files are served as before: no page of links, nothing to resolve.
    assert_eq!(get(server.addr(), "/sub/../hello.txt").status, 200);
}

#[test]
fn redirect_location_never_names_another_host() {
    let site = Site::new();
    let server = serve(&site, &[]);
    std::fs::create_dir_all(site.root().join("evil.com")).unwrap();
    for path in ["//evil.com", "///evil.com", "/.//evil.com", "/./evil.com"] {
        let response = get(server.addr(), path);
        assert_eq!(response.status, 301, "{path}");
        let location = response.header("location").unwrap();
        assert_eq!(location, "/evil.com/", "{path}");
    }
}

#[test]
fn directory_without_index_is_404_unless_listing() {
    let site = Site::new();
    let server = serve(&site, &[]);
    assert_eq!(get(server.addr(), "/nodir/").status, 404);
}

#[test]
fn listing_escapes_names_and_encodes_links() {
    let site = Site::new();
    let server = serve(&site, &["--listing"]);
    let response = get(server.addr(), "/nodir/");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let page = response.text();
    assert!(page.contains("&lt;script&gt;.txt"), "{page}");
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("href=./%3Cscript%3E.txt>"), "{page}");
    assert!(page.contains("href=./a%20b.txt>"), "{page}");
    assert!(page.contains("href=\"../\""), "{page}");
    assert!(!page.contains(".hidden"), "{page}");
    // Sorted by name.
    assert!(page.find("%3Cscript%3E.txt").unwrap() < page.find("a%20b.txt").unwrap());
    // The links work.
    assert_eq!(get(server.addr(), "/nodir/%3Cscript%3E.txt").text(), "x");
}

#[test]
fn listing_leaves_out_symlinks_that_leave_the_root() {
    let site = Site::new();
    std::fs::remove_file(site.root().join("index.html")).unwrap();
    let server = serve(&site, &["--listing"]);
    let page = get(server.addr(), "/").text();
    assert!(page.contains("link-in.txt"), "{page}");
    assert!(page.contains("sub/"), "{page}");
    assert!(!page.contains("link-out.txt"), "{page}");
    assert!(!page.contains("link-dir-out"), "{page}");
    assert!(
        !page.contains("href=\"../\""),
        "the root has no parent link: {page}"
    );
}

#[test]
fn missing_file_uses_the_site_404_page() {
    let site = Site::new();
    std::fs::write(site.root().join("404.html"), "custom not found").unwrap();
    let server = serve(&site, &[]);
    let response = get(server.addr(), "/nope.html");
    assert_eq!(response.status, 404);
    assert_eq!(response.text(), "custom not found");
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn missing_file_without_404_page_gets_the_builtin_one() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let response = get(server.addr(), "/nope.html");
    assert_eq!(response.status, 404);
    assert!(response.text().contains("404 Not Found"));
    assert_eq!(
        response.header("content-type"),
        Some("text/html; charset=utf-8")
    );
}

#[test]
fn options_lists_the_allowed_methods() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let response = exchange(server.addr(), b"OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(response.status, 204);
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
    let response = exchange(
        server.addr(),
        b"OPTIONS /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(response.header("allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn write_methods_get_405_with_allow_and_unknown_ones_501() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let mut client = Client::connect(server.addr());
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        client.send(
            format!("{method} /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n")
                .as_bytes(),
        );
        let response = client.response();
        assert_eq!(response.status, 405, "{method}");
        assert_eq!(
            response.header("allow"),
            Some("GET, HEAD, OPTIONS"),
            "{method}"
        );
        assert!(response.text().contains("405 Method Not Allowed"));
    }
    client.send(b"BREW /pot HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.response().status, 501);
    // Still the same connection: errors of method do not close it.
    assert_eq!(client.get("/hello.txt").status, 200);
}

#[test]
fn absolute_form_target_is_served_from_this_site() {
    let site = Site::new();
    let server = serve(&site, &[]);
    let response = exchange(
        server.addr(),
        b"GET http://other.example/hello.txt HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    assert_eq!(
        (response.status, response.text().as_str()),
        (200, "hello, world\n")
    );
}

#[test]
fn well_known_is_served_despite_the_leading_dot() {
    let site = Site::new();
    let server = serve(&site, &[]);
    assert_eq!(get(server.addr(), "/.well-known/acme.txt").text(), "token");
}

#[test]
fn hidden_flag_serves_dotfiles() {
    let site = Site::new();
    let server = serve(&site, &["--hidden"]);
    assert_eq!(get(server.addr(), "/.env").status, 200);
}

#[test]
fn current_web_file_types_follow_the_registry() {
    let site = Site::new();
    let expected = [
        ("module.mjs", "text/javascript; charset=utf-8"),
        ("app.js", "text/javascript; charset=utf-8"),
        ("font.woff", "font/woff"),
        ("font.otf", "font/otf"),
        ("song.m4a", "audio/mp4"),
        ("app.js.map", "application/json"),
        ("site.webmanifest", "application/manifest+json"),
        ("image.avif", "image/avif"),
        ("module.wasm", "application/wasm"),
    ];
    for (name, _) in expected {
        std::fs::write(site.root().join(name), "x").unwrap();
    }
    let server = serve(&site, &[]);
    let mut client = Client::connect(server.addr());
    for (name, content_type) in expected {
        let response = client.get(&format!("/{name}"));
        assert_eq!(response.status, 200, "{name}");
        assert_eq!(
            response.header("content-type"),
            Some(content_type),
            "{name}"
        );
    }
}

#[test]
fn every_response_passes_the_finished_point_once() {
    let site = Site::new();
    let server = serve(&site, &["--log-level", "debug"]);
    let mut client = Client::connect(server.addr());
    assert_eq!(client.get("/hello.txt").status, 200);
    assert_eq!(client.get("/missing").status, 404);
    let lines = server.wait_for_count(" served ", 2);
    assert!(lines[0].contains("status=200"), "{}", lines[0]);
    assert!(lines[1].contains("status=404"), "{}", lines[1]);
    // The body's bytes, as the access log counts them.
    let bytes: u64 = lines[0]
        .split("bytes=")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .expect("a byte count");
    assert_eq!(bytes, 13, "{}", lines[0]);
    assert!(lines[0].contains("peer=127.0.0.1:"), "{}", lines[0]);
    // A rejected request passes the same point.
    support::exchange(server.addr(), b"GET / HTTP/1.1\r\n\r\n");
    let lines = server.wait_for_count(" served ", 3);
    assert!(lines[2].contains("status=400"), "{}", lines[2]);
}
