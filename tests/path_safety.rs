//! No request reaches a byte outside the root: traversal in every encoding, symlinks that leave
//! the root, and dotfiles.

mod support;

use support::{Client, SECRET, Server, Site};

/// Sends a raw request target and returns (status, body).
fn fetch(server: &Server, target: &str) -> (u16, String) {
    let mut client = Client::connect(server.addr());
    client
        .send(format!("GET {target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    match client.read_response(false) {
        Some(response) => (response.status, response.text()),
        None => (0, String::new()),
    }
}

#[test]
fn traversal_variants_never_serve_the_secret() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    // (target, expected status): 400 when the path itself is invalid, 404 when it is a valid
    // path that names nothing inside the root.
    let cases: &[(&str, u16)] = &[
        ("/../secret.txt", 400),
        ("/../../secret.txt", 400),
        ("/sub/../../secret.txt", 400),
        ("/./../secret.txt", 400),
        ("/%2e%2e/secret.txt", 400),
        ("/%2E%2E/secret.txt", 400),
        ("/.%2e/secret.txt", 400),
        ("/%2e./secret.txt", 400),
        ("/sub/%2e%2e/%2e%2e/secret.txt", 400),
        ("/..%2fsecret.txt", 400),
        ("/..%2Fsecret.txt", 400),
        ("/sub%2f..%2f..%2fsecret.txt", 400),
        ("/..%5csecret.txt", 400),
        ("/..\\secret.txt", 400),
        ("/%5c..%5csecret.txt", 400),
        ("/secret.txt%00.html", 400),
        ("/%252e%252e/secret.txt", 404),
        ("/%c0%ae%c0%ae/secret.txt", 404),
        ("/..;/secret.txt", 404),
        ("/....//secret.txt", 404),
        ("http://t/../secret.txt", 400),
        ("http://t/%2e%2e/secret.txt", 400),
        ("/link-out.txt", 404),
        ("/link-dir-out/secret.txt", 404),
        ("/link-dir-out/", 404),
        ("/.env", 404),
        ("/.git/config", 404),
        ("/sub/../.env", 404),
        ("/%2eenv", 404),
        ("/%2egit/config", 404),
    ];
    for (target, status) in cases {
        let (got, body) = fetch(&server, target);
        assert!(!body.contains(SECRET), "{target} served the secret");
        assert_eq!(got, *status, "{target}");
    }
}

#[test]
fn dot_segments_inside_the_root_still_work() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_eq!(
        fetch(&server, "/sub/../hello.txt"),
        (200, "hello, world\n".into())
    );
    assert_eq!(
        fetch(&server, "/sub/%2e%2e/hello.txt"),
        (200, "hello, world\n".into())
    );
    assert_eq!(
        fetch(&server, "/./hello.txt"),
        (200, "hello, world\n".into())
    );
    assert_eq!(fetch(&server, "//hello.txt").0, 200);
}

#[test]
fn symlink_inside_the_root_is_followed() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_eq!(
        fetch(&server, "/link-in.txt"),
        (200, "hello, world\n".into())
    );
    // An absolute symlink whose target is inside the root is followed too.
    assert_eq!(
        fetch(&server, "/link-abs-in.txt"),
        (200, "hello, world\n".into())
    );
}

#[test]
fn symlink_to_a_file_swapped_in_later_is_checked_at_request_time() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let link = site.root().join("late.txt");
    std::os::unix::fs::symlink(site.dir.path().join("secret.txt"), &link).unwrap();
    let (status, body) = fetch(&server, "/late.txt");
    assert_eq!(status, 404);
    assert!(!body.contains(SECRET));
}

#[test]
fn encoded_names_reach_real_files() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    assert_eq!(fetch(&server, "/nodir/a%20b.txt"), (200, "y".into()));
    assert_eq!(fetch(&server, "/nodir/%3Cscript%3E.txt"), (200, "x".into()));
    assert_eq!(
        fetch(&server, "/hello.txt?x=../../secret.txt"),
        (200, "hello, world\n".into())
    );
}
