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

#[test]
fn confusion_corpus_never_serves_the_secret() {
    let site = Site::new();
    let secret = site.dir.path().join("secret.txt");
    std::os::unix::fs::symlink(&secret, site.root().join("link-abs-out.txt")).unwrap();
    std::os::unix::fs::symlink(site.dir.path(), site.root().join("link-parent")).unwrap();
    let server = Server::start(&[&site.root_arg()]);
    let deep_climb = format!("/{}{}secret.txt", "a/".repeat(500), "../".repeat(501));
    let deep_path = format!("/{}secret.txt", "a/".repeat(500));
    let too_long = format!("/{}", "a".repeat(40 * 1024));
    let cases: Vec<(String, u16)> = vec![
        // Encoded slashes and dots together.
        ("/%2e%2e%2fsecret.txt".into(), 400),
        ("/%2E%2E%2F%2E%2E%2Fsecret.txt".into(), 400),
        ("/sub/.%2e/.%2e/secret.txt".into(), 400),
        ("/%2e/%2e%2e/secret.txt".into(), 400),
        ("/./sub/./../../secret.txt".into(), 400),
        ("/sub/%2e%2e%2f.env".into(), 400),
        ("/../root/../secret.txt".into(), 400),
        ("/sub/../../root/hello.txt".into(), 400),
        (deep_climb, 400),
        // Double encoding and overlong UTF-8 stay literal names.
        ("/sub/..%252f..%252fsecret.txt".into(), 404),
        ("/%252e%252e%252fsecret.txt".into(), 404),
        ("/..%c0%afsecret.txt".into(), 404),
        ("/..%e0%80%afsecret.txt".into(), 404),
        ("/%c0%ae%c0%ae%c0%afsecret.txt".into(), 404),
        // Not a percent-encoding at all (RFC 3986 §2.1): refused, never decoded some other way.
        ("/%u002e%u002e/secret.txt".into(), 400),
        ("/%ff%fe/secret.txt".into(), 404),
        ("/.../secret.txt".into(), 404),
        ("/nodir/..;/..;/secret.txt".into(), 404),
        (deep_path, 404),
        // Backslashes and NUL.
        ("/\\../secret.txt".into(), 400),
        ("/%5C..%5Csecret.txt".into(), 400),
        ("/sub\\..\\..\\secret.txt".into(), 400),
        ("/hello.txt%00".into(), 400),
        ("/%00/secret.txt".into(), 400),
        // Absolute-form targets naming other hosts.
        ("http://127.0.0.2/../secret.txt".into(), 400),
        ("http://evil.example/%2e%2e/secret.txt".into(), 400),
        ("HTTP://t/..%2f..%2fsecret.txt".into(), 400),
        ("http://other.example/secret.txt".into(), 404),
        ("https://other.example/link-out.txt".into(), 404),
        // Symlinks, and paths through them.
        ("/link-abs-out.txt".into(), 404),
        ("/link-parent/secret.txt".into(), 404),
        // Through a link that leaves the root and comes back: the file is inside, so it is served.
        ("/link-parent/root/hello.txt".into(), 200),
        ("/link-out.txt/".into(), 404),
        ("/link-dir-out/../secret.txt".into(), 404),
        ("/link-in.txt/../../secret.txt".into(), 400),
        // Hidden and hard-to-see names.
        ("/.env.".into(), 404),
        ("/.ENV".into(), 404),
        ("/%2e%65nv".into(), 404),
        ("/.env%20".into(), 404),
        ("/.git/".into(), 404),
        ("/.git".into(), 404),
        ("/hello.txt%e2%80%8b".into(), 404),
        ("/hel%C4%B1o.txt".into(), 404),
        (
            "/%EF%BD%93%EF%BD%85%EF%BD%83%EF%BD%92%EF%BD%85%EF%BD%94.txt".into(),
            404,
        ),
        ("/secret.txt".into(), 404),
        (too_long, 414),
    ];
    assert!(cases.len() >= 30);
    for (target, status) in &cases {
        let (got, body) = fetch(&server, target);
        assert!(!body.contains(SECRET), "{target} served the secret");
        assert_eq!(got, *status, "{}", &target[..target.len().min(80)]);
    }
}
