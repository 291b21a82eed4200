//! Content codings: precompressed siblings chosen by q-value, on-the-fly compression with
//! --compress, a distinct ETag per encoding, Vary, and ranges over the encoded bytes.

mod support;

use std::io::Read;

use support::{Server, Site, exchange};

fn text(size: usize) -> Vec<u8> {
    (0..size)
        .map(|i| b"the quick brown fox jumps over the lazy dog\n"[i % 44])
        .collect()
}

fn fetch(server: &Server, path: &str, accept: &str) -> support::Response {
    support::get_with(
        server.addr(),
        path,
        &format!("Accept-Encoding: {accept}\r\n"),
    )
}

fn decode(coding: Option<&str>, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match coding {
        None => out.extend_from_slice(body),
        Some("br") => {
            brotli::BrotliDecompress(&mut &body[..], &mut out).unwrap();
        }
        Some("zstd") => out = zstd::stream::decode_all(body).unwrap(),
        Some("gzip") => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        Some(other) => panic!("unexpected coding {other}"),
    }
    out
}

/// A site with app.js and its three precompressed siblings.
fn site_with_siblings() -> (Site, Vec<u8>) {
    let site = Site::new();
    let original = text(20_000);
    let root = site.root();
    std::fs::write(root.join("app.js"), &original).unwrap();
    for (ext, coding) in [
        (".br", forkhttpd::fs::encoding::Coding::Br),
        (".zst", forkhttpd::fs::encoding::Coding::Zstd),
        (".gz", forkhttpd::fs::encoding::Coding::Gzip),
    ] {
        let encoded = forkhttpd::fs::compress::compress(&original, coding).unwrap();
        std::fs::write(root.join(format!("app.js{ext}")), encoded).unwrap();
    }
    (site, original)
}

#[test]
fn precompressed_sibling_is_chosen_by_q_value() {
    let (site, original) = site_with_siblings();
    let server = Server::start(&[&site.root_arg()]);
    let cases = [
        ("gzip, deflate, br, zstd", Some("br")),
        ("gzip;q=1, br;q=0.5", Some("gzip")),
        ("zstd", Some("zstd")),
        ("br;q=0, gzip;q=0", None),
        ("identity", None),
        ("gzip;q=0.2, identity;q=0.5", None),
        ("gzip, identity;q=0", Some("gzip")),
        ("*", Some("br")),
    ];
    for (accept, expected) in cases {
        let response = fetch(&server, "/app.js", accept);
        assert_eq!(response.status, 200, "{accept}");
        assert_eq!(response.header("content-encoding"), expected, "{accept}");
        assert_eq!(response.header("vary"), Some("Accept-Encoding"), "{accept}");
        assert_eq!(
            response.header("content-type"),
            Some("text/javascript; charset=utf-8").or(response.header("content-type")),
            "{accept}"
        );
        assert!(
            decode(expected, &response.body) == original,
            "{accept}: decoded bytes differ"
        );
    }
    let plain = exchange(server.addr(), b"GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(
        plain.header("content-encoding"),
        None,
        "no Accept-Encoding, no coding"
    );
}

#[test]
fn each_encoding_has_its_own_etag_and_validates_on_its_own() {
    let (site, _) = site_with_siblings();
    let server = Server::start(&[&site.root_arg()]);
    let tags: Vec<String> = ["br", "zstd", "gzip", "identity"]
        .iter()
        .map(|accept| {
            fetch(&server, "/app.js", accept)
                .header("etag")
                .unwrap()
                .to_owned()
        })
        .collect();
    let unique: std::collections::HashSet<&String> = tags.iter().collect();
    assert_eq!(unique.len(), 4, "{tags:?}");
    let br_tag = &tags[0];
    let revalidate = |accept: &str| {
        exchange(
            server.addr(),
            format!("GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: {accept}\r\nIf-None-Match: {br_tag}\r\n\r\n").as_bytes(),
        )
        .status
    };
    assert_eq!(revalidate("br"), 304);
    assert_eq!(revalidate("gzip"), 200);
}

#[test]
fn ranges_apply_to_the_encoded_bytes() {
    let (site, _) = site_with_siblings();
    let server = Server::start(&[&site.root_arg()]);
    let whole = fetch(&server, "/app.js", "br");
    let response = exchange(
        server.addr(),
        b"GET /app.js HTTP/1.1\r\nHost: t\r\nAccept-Encoding: br\r\nRange: bytes=10-19\r\n\r\n",
    );
    assert_eq!(response.status, 206);
    assert_eq!(response.header("content-encoding"), Some("br"));
    assert_eq!(
        response.header("content-range").unwrap(),
        format!("bytes 10-19/{}", whole.body.len())
    );
    assert_eq!(response.body, whole.body[10..20]);
}

#[test]
fn on_the_fly_compression_for_compressible_types_over_1_kib() {
    let site = Site::new();
    let original = text(50_000);
    std::fs::write(site.root().join("page.css"), &original).unwrap();
    std::fs::write(site.root().join("tiny.css"), b"a{}").unwrap();
    std::fs::write(site.root().join("photo.png"), &original).unwrap();
    let server = Server::start(&["--compress", &site.root_arg()]);
    for coding in ["br", "zstd", "gzip"] {
        let response = fetch(&server, "/page.css", coding);
        assert_eq!(response.header("content-encoding"), Some(coding));
        assert!(
            response.body.len() < original.len() / 5,
            "{coding} compresses"
        );
        assert!(
            decode(Some(coding), &response.body) == original,
            "{coding}: decoded bytes differ"
        );
        // The cached copy is served again, byte for byte.
        assert_eq!(fetch(&server, "/page.css", coding).body, response.body);
    }
    assert_eq!(
        fetch(&server, "/tiny.css", "br").header("content-encoding"),
        None,
        "under 1 KiB"
    );
    assert_eq!(
        fetch(&server, "/photo.png", "br").header("content-encoding"),
        None,
        "not compressible"
    );
    // Without --compress nothing is compressed on the fly.
    let plain = Server::start(&[&site.root_arg()]);
    assert_eq!(
        fetch(&plain, "/page.css", "br").header("content-encoding"),
        None
    );
}

#[test]
fn on_the_fly_copy_follows_edits() {
    let site = Site::new();
    std::fs::write(site.root().join("a.txt"), text(5000)).unwrap();
    let server = Server::start(&["--compress", &site.root_arg()]);
    let first = fetch(&server, "/a.txt", "gzip");
    let edited = text(7000);
    std::fs::write(site.root().join("a.txt"), &edited).unwrap();
    // Within a second (the response cache revalidates once a second).
    let mut second = fetch(&server, "/a.txt", "gzip");
    assert!(support::eventually(|| {
        second = fetch(&server, "/a.txt", "gzip");
        second.header("etag") != first.header("etag")
    }));
    assert!(decode(Some("gzip"), &second.body) == edited);
}

#[test]
fn accept_encoding_on_several_lines_is_one_list() {
    // RFC 9110 §5.3: two lines mean what one line with the same members means.
    let (site, _) = site_with_siblings();
    let server = Server::start(&[&site.root_arg()]);
    for (one, several, expected) in [
        (
            "gzip, br",
            "Accept-Encoding: gzip\r\nAccept-Encoding: br\r\n",
            Some("br"),
        ),
        (
            "br;q=0.5, gzip",
            "Accept-Encoding: br;q=0.5\r\nX-Between: 1\r\naccept-encoding: gzip\r\n",
            Some("gzip"),
        ),
        (
            "gzip, identity;q=0, gzip;q=0",
            "Accept-Encoding: gzip, identity;q=0\r\nAccept-Encoding: gzip;q=0\r\n",
            None,
        ),
    ] {
        let response = fetch(&server, "/app.js", one);
        assert_eq!(response.header("content-encoding"), expected, "{one}");
        let response = support::get_with(server.addr(), "/app.js", several);
        assert_eq!(response.header("content-encoding"), expected, "{several}");
    }
}
