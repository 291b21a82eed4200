//! Directory listings (`--listing`): links that cannot run script or leave the server, and the
//! page's security headers.

mod support;

use support::{Server, get};

#[test]
fn a_name_that_looks_like_a_scheme_is_linked_as_a_relative_path() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("javascript:alert(document.domain)"), "xss").unwrap();
    std::fs::write(dir.path().join("x&amp;y.txt"), "entity").unwrap();
    std::fs::write(dir.path().join("C:\\x"), "backslash").unwrap();
    let server = Server::start(&["--listing", &dir.path().to_string_lossy()]);
    let response = get(server.addr(), "/");
    let page = response.text();
    assert!(
        page.contains("href=\"./javascript%3Aalert%28document.domain%29\""),
        "{page}"
    );
    assert!(!page.contains("href=\"javascript:"), "{page}");
    assert!(page.contains("href=\"./x%26amp%3By.txt\""), "{page}");
    assert_eq!(get(server.addr(), "/x%26amp%3By.txt").text(), "entity");
    assert_eq!(
        get(server.addr(), "/javascript%3Aalert%28document.domain%29").text(),
        "xss"
    );
    // Shown, but not linked: the server answers 400 for any path holding a backslash.
    assert!(page.contains("C:\\x"), "{page}");
    assert!(!page.contains("href=\"./C"), "{page}");
    assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(
        response.header("content-security-policy"),
        Some("default-src 'none'; style-src 'unsafe-inline'; img-src data:")
    );
    assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
}

fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out).unwrap();
    out
}

#[test]
fn listing_is_compressed_when_the_client_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    for i in 0..100 {
        std::fs::write(dir.path().join(format!("file-{i}.txt")), "x").unwrap();
    }
    let root = dir.path().to_string_lossy().into_owned();
    let server = Server::start(&["--listing", "--compress", &root]);
    let plain = get(server.addr(), "/");
    assert_eq!(plain.header("content-encoding"), None);
    assert_eq!(plain.header("vary"), Some("Accept-Encoding"));
    let gzipped = support::get_with(server.addr(), "/", "Accept-Encoding: gzip\r\n");
    assert_eq!(gzipped.header("content-encoding"), Some("gzip"));
    assert_eq!(gzipped.header("vary"), Some("Accept-Encoding"));
    assert_eq!(gunzip(&gzipped.body), plain.body);
    assert!(gzipped.body.len() * 4 < plain.body.len());
    // Without --compress, never.
    let server = Server::start(&["--listing", &root]);
    let response = support::get_with(server.addr(), "/", "Accept-Encoding: gzip\r\n");
    assert_eq!(response.header("content-encoding"), None);
}
