//! Range requests (RFC 9110 §14): 206 single and multipart, 416, If-Range, Range only on GET.

mod support;

use support::{Client, Server, Site, exchange, pattern};

const LEN: usize = 200 * 1024;

fn ranged(server: &Server, range: &str, extra: &str) -> support::Response {
    support::get_with(
        server.addr(),
        "/data.bin",
        &format!("Range: {range}\r\n{extra}"),
    )
}

#[test]
fn single_ranges_are_206_with_content_range() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let data = pattern(LEN);
    let cases = [
        ("bytes=0-99", 0, 99),
        ("bytes=100-", 100, LEN - 1),
        ("bytes=-500", LEN - 500, LEN - 1),
        ("bytes=1000-99999999", 1000, LEN - 1),
    ];
    for (range, first, last) in cases {
        let response = ranged(&server, range, "");
        assert_eq!(response.status, 206, "{range}");
        assert_eq!(
            response.header("content-range").unwrap(),
            format!("bytes {first}-{last}/{LEN}"),
            "{range}"
        );
        assert_eq!(
            response.header("content-type"),
            Some("application/octet-stream")
        );
        assert!(response.body == data[first..=last], "{range}: body");
    }
}

#[test]
fn several_ranges_are_multipart_byteranges_checked_byte_for_byte() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let data = pattern(LEN);
    // Unsorted, overlapping and adjacent on purpose: they coalesce into three parts.
    let response = ranged(&server, "bytes=50000-99999, 0-9, 5-19, 20-29, 150000-", "");
    assert_eq!(response.status, 206);
    let content_type = response.header("content-type").unwrap();
    let boundary = content_type
        .strip_prefix("multipart/byteranges; boundary=")
        .expect(content_type);
    let expected_parts = [(0usize, 29usize), (50000, 99999), (150000, LEN - 1)];

    let mut expected = Vec::new();
    for (i, (first, last)) in expected_parts.iter().enumerate() {
        if i > 0 {
            expected.extend_from_slice(b"\r\n");
        }
        expected.extend_from_slice(
            format!("--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes {first}-{last}/{LEN}\r\n\r\n")
                .as_bytes(),
        );
        expected.extend_from_slice(&data[*first..=*last]);
    }
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(
        response.header("content-length").unwrap(),
        expected.len().to_string()
    );
    assert!(response.body == expected, "multipart body differs");
}

#[test]
fn unsatisfiable_range_is_416_with_the_length() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    for range in [
        format!("bytes={LEN}-"),
        "bytes=-0".to_owned(),
        format!("bytes={}-{}", LEN + 10, LEN + 20),
    ] {
        let response = ranged(&server, &range, "");
        assert_eq!(response.status, 416, "{range}");
        assert_eq!(
            response.header("content-range").unwrap(),
            format!("bytes */{LEN}")
        );
    }
    let empty = exchange(
        server.addr(),
        b"GET /empty.txt HTTP/1.1\r\nHost: t\r\nRange: bytes=0-\r\n\r\n",
    );
    assert_eq!(
        (empty.status, empty.header("content-range")),
        (416, Some("bytes */0"))
    );
}

#[test]
fn malformed_or_abusive_ranges_get_the_whole_file() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let many: Vec<String> = (0..40)
        .map(|i| format!("{}-{}", i * 100, i * 100))
        .collect();
    for range in [
        "bytes=9-1".to_owned(),
        "lines=1-2".to_owned(),
        "bytes=x".to_owned(),
        format!("bytes={}", many.join(",")),
    ] {
        let response = ranged(&server, &range, "");
        assert_eq!(response.status, 200, "{range}");
        assert_eq!(response.body.len(), LEN);
    }
    // The same range fifty times is coalesced into one: the response is not fifty copies.
    let repeated = format!("bytes={}", vec!["0-4999"; 50].join(","));
    let response = ranged(&server, &repeated, "");
    assert_eq!(response.status, 206);
    assert_eq!(
        response.header("content-range").unwrap(),
        format!("bytes 0-4999/{LEN}")
    );
    assert_eq!(response.body.len(), 5000);
    // Past 100 range specs the header is ignored as abuse: the whole file, once.
    let endless = format!("bytes={}", vec!["0-4"; 150].join(","));
    let response = ranged(&server, &endless, "");
    assert_eq!((response.status, response.body.len()), (200, LEN));
}

#[test]
fn if_range_with_etag_or_date_both_ways() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let whole = exchange(server.addr(), b"GET /data.bin HTTP/1.1\r\nHost: t\r\n\r\n");
    let etag = whole.header("etag").unwrap();
    let modified = whole.header("last-modified").unwrap();
    assert_eq!(
        ranged(&server, "bytes=0-9", &format!("If-Range: {etag}\r\n")).status,
        206
    );
    assert_eq!(
        ranged(&server, "bytes=0-9", &format!("If-Range: {modified}\r\n")).status,
        206
    );
    assert_eq!(
        ranged(&server, "bytes=0-9", "If-Range: \"changed\"\r\n").status,
        200
    );
    assert_eq!(
        ranged(&server, "bytes=0-9", &format!("If-Range: W/{etag}\r\n")).status,
        200
    );
    assert_eq!(
        ranged(
            &server,
            "bytes=0-9",
            "If-Range: Thu, 01 Jan 1970 00:00:01 GMT\r\n"
        )
        .status,
        200
    );
}

#[test]
fn range_is_ignored_on_head() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let mut client = Client::connect(server.addr());
    client.send(b"HEAD /data.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=0-9\r\n\r\n");
    let response = client.head_response();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("content-length"),
        Some(LEN.to_string().as_str())
    );
}

#[test]
fn large_range_uses_the_zero_copy_path() {
    // A range over the inline threshold goes out with sendfile from the right offset.
    let site = Site::new();
    let big = pattern(3 << 20);
    std::fs::write(site.root().join("big.bin"), &big).unwrap();
    let server = Server::start(&[&site.root_arg()]);
    let response = exchange(
        server.addr(),
        b"GET /big.bin HTTP/1.1\r\nHost: t\r\nRange: bytes=1000001-2999999\r\n\r\n",
    );
    assert_eq!(response.status, 206);
    assert!(response.body == big[1_000_001..=2_999_999]);
}

#[test]
fn a_416_for_a_compressed_representation_is_an_uncompressed_error_page() {
    let site = Site::new();
    std::fs::write(site.root().join("app.js"), "x".repeat(4000)).unwrap();
    std::fs::write(
        site.root().join("app.js.gz"),
        b"\x1f\x8b\x08 a precompressed sibling",
    )
    .unwrap();
    let server = Server::start(&[&site.root_arg()]);
    let response = support::get_with(
        server.addr(),
        "/app.js",
        "Accept-Encoding: gzip\r\nRange: bytes=999999-\r\n",
    );
    assert_eq!(response.status, 416);
    assert_eq!(response.header("content-encoding"), None);
    assert!(response.text().contains("416"), "the error page, readable");
    // The same file without the Range is the sibling, gzip.
    let whole = support::get_with(server.addr(), "/app.js", "Accept-Encoding: gzip\r\n");
    assert_eq!(whole.header("content-encoding"), Some("gzip"));
}
