//! A configuration file's sites each write their own access log: two sites on one socket, two
//! files; a request goes to the log of the site that answered it (rejections included, once its
//! head named one), and a request for a name no site claims, or one rejected before it names
//! any, to the socket's default site's log.

mod support;

use serde_json::Value;
use support::{Server, Site, exchange, json, lines_in, stop_and_read};

/// Starts the server from a configuration file in `site`'s folder: sites `a.test` (and
/// `www.a.test`, the socket's default) and `b.test` on one socket, logging as json to `a.log`
/// and `logs/b.log`. Relative log paths are relative to the file's folder.
fn start_two_sites(site: &Site) -> Server {
    let dir = site.dir.path();
    let config = format!(
        r#"
workers = 1

[limits]
max_body_bytes = 1000

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["a.test", "www.a.test"]
root = "{root}"
access_log = {{ path = "a.log", format = "json" }}

[[site]]
listen = ["127.0.0.1:0"]
server_names = ["b.test"]
root = "{root}"
access_log = {{ path = "logs/b.log", format = "json" }}
"#,
        root = site.root_arg()
    );
    std::fs::create_dir(dir.join("logs")).unwrap();
    let config_path = dir.join("forkhttpd.toml");
    std::fs::write(&config_path, config).unwrap();
    let server = Server::start_exact(&["-c", config_path.to_str().unwrap()]);
    assert_eq!(server.addrs.len(), 1, "both sites share one socket");
    server
}

#[test]
fn each_site_of_a_config_file_logs_to_its_own_file() {
    let site = Site::new();
    let dir = site.dir.path();
    let server = start_two_sites(&site);
    let addr = server.addr();

    let to = |host: &str, path: &str| {
        let raw = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n");
        exchange(addr, raw.as_bytes()).status
    };
    assert_eq!(to("a.test", "/hello.txt?to=a"), 200);
    assert_eq!(to("b.test", "/hello.txt?to=b"), 200);
    assert_eq!(to("www.a.test", "/missing?to=www-a"), 404);
    assert_eq!(to("unknown.test", "/hello.txt?to=default"), 200);
    assert_eq!(exchange(addr, b"GET /?to=bad HTTP/1.1\r\n\r\n").status, 400);

    let a = stop_and_read(server, &dir.join("a.log"));
    let b = lines_in(&dir.join("logs/b.log"));
    let fields = |lines: &[String]| -> Vec<(String, Value, u64)> {
        lines
            .iter()
            .map(|line| {
                let value = json(line);
                let site = value["site"].as_str().unwrap().to_owned();
                (
                    site,
                    value["target"].clone(),
                    value["status"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert_eq!(
        fields(&a),
        vec![
            ("a.test".into(), "/hello.txt?to=a".into(), 200),
            ("a.test".into(), "/missing?to=www-a".into(), 404),
            // A name no site claims, and a request without one, go to the first site.
            ("a.test".into(), "/hello.txt?to=default".into(), 200),
            ("a.test".into(), "/?to=bad".into(), 400),
        ]
    );
    assert_eq!(
        fields(&b),
        vec![("b.test".into(), "/hello.txt?to=b".into(), 200)]
    );
}

/// A body too large for `max_body_bytes` gets 413 whether its Content-Length says so up front
/// or its chunks show it. Either way the head was whole and named b.test, so the line is
/// b.test's, with the request's method and target, as nginx logs it in the named server.
#[test]
fn a_413_is_logged_by_the_site_the_request_named() {
    let site = Site::new();
    let dir = site.dir.path();
    let server = start_two_sites(&site);
    let chunked = b"POST /hello.txt?chunked HTTP/1.1\r\nHost: b.test\r\n\
                    Transfer-Encoding: chunked\r\n\r\n2000\r\n";
    assert_eq!(exchange(server.addr(), chunked).status, 413);
    let declared = b"POST /hello.txt?length HTTP/1.1\r\nHost: b.test\r\n\
                     Content-Length: 5000\r\n\r\n";
    assert_eq!(exchange(server.addr(), declared).status, 413);

    let a = stop_and_read(server, &dir.join("a.log"));
    let b = lines_in(&dir.join("logs/b.log"));
    assert!(a.is_empty(), "nothing for a.test:\n{}", a.join("\n"));
    let logged: Vec<(Value, Value, Value, Value)> = b
        .iter()
        .map(|line| {
            let value = json(line);
            let field = |key: &str| value[key].clone();
            (
                field("site"),
                field("method"),
                field("target"),
                field("status"),
            )
        })
        .collect();
    let expected = ["/hello.txt?chunked", "/hello.txt?length"]
        .map(|target| ("b.test".into(), "POST".into(), target.into(), 413.into()));
    assert_eq!(logged, expected, "{}", b.join("\n"));
}
