//! With no arguments, the built-in welcome site on 127.0.0.1:8000 and 127.0.0.1:8080.

mod support;

use support::{Server, get};

#[test]
fn no_arguments_serve_the_welcome_site_on_both_default_ports() {
    let server = Server::start_exact::<&str>(&["-w", "2"]);
    let ports: Vec<u16> = server.addrs.iter().map(|a| a.port()).collect();
    assert_eq!(ports, vec![8000, 8080]);
    for addr in &server.addrs {
        assert!(addr.ip().is_loopback());
        let page = get(*addr, "/");
        assert_eq!(page.status, 200);
        assert!(page.text().contains("Welcome to forkhttpd"));
        assert!(
            page.text().contains("forkhttpd ./site"),
            "says how to serve a folder"
        );
        assert_eq!(
            page.header("content-type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(get(*addr, "/index.html").status, 200);
        let missing = get(*addr, "/anything-else");
        assert_eq!(missing.status, 404);
        assert!(missing.text().contains("404 Not Found"));
    }
    let lines = server.lines();
    assert!(
        lines
            .iter()
            .any(|l| l.contains("listening on http://127.0.0.1:8000/"))
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains("listening on http://127.0.0.1:8080/"))
    );
}

#[test]
fn welcome_page_names_no_ports_it_may_not_listen_on_and_has_an_icon() {
    let server = Server::start(&[]);
    let page = get(server.addr(), "/");
    assert_eq!(page.status, 200);
    assert!(!page.text().contains("8000"), "names no fixed port");
    assert!(!page.text().contains("8080"), "names no fixed port");
    let icon = get(server.addr(), "/favicon.ico");
    assert_eq!(icon.status, 200);
    assert_eq!(
        icon.header("content-type"),
        Some("image/vnd.microsoft.icon")
    );
    // An ICO header (reserved 0, type 1 = icon) holding one PNG image.
    assert_eq!(&icon.body[..4], &[0, 0, 1, 0]);
    assert_eq!(&icon.body[22..26], b"\x89PNG");
    assert_eq!(get(server.addr(), "/favicon.ico/").status, 404);
}
