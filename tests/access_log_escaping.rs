//! A request cannot forge an access log line: whatever bytes it carries, each response is one
//! line. In combined, bytes outside printable ASCII, `"` and `\` are written as `\xHH`, as nginx
//! does; in json, strings use JSON's escapes and bytes that are not UTF-8 are `\u00XX`.

mod support;

use support::{
    SIGTERM, Server, Site, basic_auth, combined, exchange, get_with, json, lines_in, start_logging,
    stop_and_read,
};

/// A Basic user name holding a whole fake line: base64 carries any byte, LF and ESC included.
const FORGED_USER: &str = "mallory\n127.0.0.1 - admin [01/Jan/2000] \"GET /admin HTTP/1.1\" \
                           200 1 \"-\" \"\x1b[2J";

/// What an attacker sends, on three connections: LF, CR and quote percent-escaped in the
/// target, and quotes, backslashes and a 0xFF byte in headers (a header with a control byte
/// is refused with 400); a
/// request line with ESC, quote, backslash and 0xFF, which gets a 400 and is still logged as
/// sent; and the fake line as a user name, on a path no rule protects (it is logged anyway).
fn forge(server: &Server) {
    let mut first = b"GET /hello.txt?%0A%0D%22 HTTP/1.1\r\nHost: t\r\n".to_vec();
    first.extend_from_slice(b"Referer: \"http://x/\"\r\n");
    first.extend_from_slice(b"User-Agent: a \"quoted\" \\back\\ \xff end\r\n\r\n");
    assert_eq!(exchange(server.addr(), &first).status, 200);
    let bad = b"GET /\x1b[2J\"\\\xff HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_eq!(exchange(server.addr(), bad).status, 400);
    let auth = basic_auth(FORGED_USER, "pw");
    assert_eq!(get_with(server.addr(), "/hello.txt", &auth).status, 200);
}

#[test]
fn a_request_cannot_forge_a_combined_line() {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let mut server = start_logging(&site.root_arg(), &log, "combined", &[]);
    forge(&server);
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0));

    let bytes = std::fs::read(&log).unwrap();
    let raw: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    assert_eq!(raw.len(), 3, "{}", String::from_utf8_lossy(&bytes));
    for line in &raw {
        let (newline, text) = line.split_last().unwrap();
        assert_eq!(*newline, b'\n');
        assert!(
            text.iter().all(|b| (0x20..=0x7E).contains(b)),
            "a raw byte outside printable ASCII: {}",
            String::from_utf8_lossy(line)
        );
    }
    let lines = lines_in(&log);
    let first = combined(&lines[0]);
    assert_eq!(first.request, "GET /hello.txt?%0A%0D%22 HTTP/1.1");
    assert_eq!(first.referer, r"\x22http://x/\x22");
    assert_eq!(first.user_agent, r"a \x22quoted\x22 \x5Cback\x5C \xFF end");
    let second = combined(&lines[1]);
    assert_eq!(second.status, 400);
    assert_eq!(second.request, r"GET /\x1B[2J\x22\x5C\xFF HTTP/1.1");
    let third = combined(&lines[2]);
    assert_eq!(
        third.user,
        r#"mallory\x0A127.0.0.1 - admin [01/Jan/2000] \x22GET /admin HTTP/1.1\x22 200 1 \x22-\x22 \x22\x1B[2J"#
    );
    assert_eq!(third.request, "GET /hello.txt HTTP/1.1");
}

#[test]
fn a_request_cannot_forge_a_json_line() {
    let site = Site::new();
    let log = site.dir.path().join("access.json");
    let server = start_logging(&site.root_arg(), &log, "json", &[]);
    forge(&server);
    let lines = stop_and_read(server, &log);
    assert_eq!(lines.len(), 3, "{}", lines.join("\n"));
    for line in &lines {
        assert!(
            line.bytes().all(|b| (0x20..=0x7E).contains(&b)),
            "a raw control or non-ASCII byte: {line}"
        );
    }
    let first = json(&lines[0]);
    assert_eq!(first["target"], "/hello.txt?%0A%0D%22");
    assert_eq!(first["referer"], "\"http://x/\"");
    // 0xFF is not UTF-8: written as \u00ff, which reads back as U+00FF.
    assert_eq!(first["user_agent"], "a \"quoted\" \\back\\ \u{ff} end");
    let second = json(&lines[1]);
    assert_eq!(second["status"], 400);
    // Refused, yet its parts are logged as sent: escaped, so harmless.
    assert_eq!(second["method"], "GET");
    assert_eq!(second["target"], "/\u{1b}[2J\"\\\u{ff}");
    assert!(
        lines[1].contains(r#""target":"/\u001b[2J\"\\\u00ff""#),
        "{}",
        lines[1]
    );
    let third = json(&lines[2]);
    assert_eq!(
        third["user"], FORGED_USER,
        "the whole name, escaped, read back"
    );
    assert!(lines[2].contains(r"mallory\n127.0.0.1") && lines[2].contains(r"\u001b[2J"));
}
