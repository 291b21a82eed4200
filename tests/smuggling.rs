//! Request smuggling matrix (RFC 9112 §6, §11.2): ambiguous or malformed framings, each sent
//! with a valid request glued behind it. Either the first is rejected and the connection closed
//! (the glued request is never answered), or both are answered exactly, in order.

mod support;

use support::{Client, Server, Site};

const SECOND: &[u8] = b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n";

#[derive(Clone, Copy, Debug)]
enum Expect {
    /// The first gets this status with `Connection: close`; nothing more is answered.
    Reject(u16),
    /// The first gets this status and the glued request is answered after it.
    Both(u16),
}

fn post(headers: &str, body: &str) -> Vec<u8> {
    format!("POST /hello.txt HTTP/1.1\r\nHost: t\r\n{headers}\r\n{body}").into_bytes()
}

fn chunked(body: &str) -> Vec<u8> {
    post("Transfer-Encoding: chunked\r\n", body)
}

fn cases() -> Vec<(&'static str, Vec<u8>, Expect)> {
    use Expect::{Both, Reject};
    vec![
        // Content-Length and Transfer-Encoding together.
        (
            "CL then TE",
            post(
                "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            Reject(400),
        ),
        (
            "TE then CL",
            post(
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                "0\r\n\r\n",
            ),
            Reject(400),
        ),
        (
            "CL 0 with TE",
            post(
                "Content-Length: 0\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            Reject(400),
        ),
        // Content-Length values.
        (
            "CL repeated, different",
            post("Content-Length: 5\r\nContent-Length: 6\r\n", "hello!"),
            Reject(400),
        ),
        (
            "CL repeated, equal",
            post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL list",
            post("Content-Length: 5, 5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL plus sign",
            post("Content-Length: +5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL minus sign",
            post("Content-Length: -5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL inner space",
            post("Content-Length: 5 5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL inner tab",
            post("Content-Length: 5\t5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL hex",
            post("Content-Length: 0x5\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL decimal point",
            post("Content-Length: 5.0\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL overflow",
            post("Content-Length: 99999999999999999999999\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL u64 max",
            post("Content-Length: 18446744073709551615\r\n", "hello"),
            Reject(413),
        ),
        ("CL empty", post("Content-Length: \r\n", ""), Reject(400)),
        (
            "CL letters",
            post("Content-Length: five\r\n", "hello"),
            Reject(400),
        ),
        (
            "CL leading zeros",
            post("Content-Length: 0005\r\n", "hello"),
            Both(405),
        ),
        (
            "CL padded with spaces",
            post("Content-Length:   5  \r\n", "hello"),
            Both(405),
        ),
        ("CL zero", post("Content-Length: 0\r\n", ""), Both(405)),
        (
            "GET with a CL body",
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc".to_vec(),
            Both(200),
        ),
        // Transfer-Encoding values.
        (
            "TE chunked not last",
            post("Transfer-Encoding: chunked, identity\r\n", "0\r\n\r\n"),
            Reject(400),
        ),
        (
            "TE chunked twice in a list",
            post("Transfer-Encoding: chunked, chunked\r\n", "0\r\n\r\n"),
            Reject(400),
        ),
        (
            "TE chunked in two fields",
            post(
                "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
                "0\r\n\r\n",
            ),
            Reject(400),
        ),
        (
            "TE gzip then chunked",
            post("Transfer-Encoding: gzip, chunked\r\n", "0\r\n\r\n"),
            Reject(501),
        ),
        (
            "TE identity",
            post("Transfer-Encoding: identity\r\n", ""),
            Reject(501),
        ),
        (
            "TE unknown token",
            post("Transfer-Encoding: xchunked\r\n", "0\r\n\r\n"),
            Reject(501),
        ),
        (
            "TE with parameters",
            post("Transfer-Encoding: chunked;x=1\r\n", "0\r\n\r\n"),
            Reject(501),
        ),
        (
            "TE empty",
            post("Transfer-Encoding: \r\n", "0\r\n\r\n"),
            Reject(400),
        ),
        (
            "TE in HTTP/1.0",
            b"POST /hello.txt HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(),
            Reject(400),
        ),
        (
            "TE odd casing",
            post("Transfer-Encoding: ChUnKeD\r\n", "0\r\n\r\n"),
            Both(405),
        ),
        (
            "TE padded",
            post("Transfer-Encoding:  \tchunked \t\r\n", "0\r\n\r\n"),
            Both(405),
        ),
        (
            "TE space before colon",
            post("Transfer-Encoding : chunked\r\n", "0\r\n\r\n"),
            Reject(400),
        ),
        (
            "TE obs-folded",
            post("Transfer-Encoding:\r\n chunked\r\n", "0\r\n\r\n"),
            Reject(400),
        ),
        // Chunk sizes and extensions.
        (
            "chunk size overflow",
            chunked("fffffffffffffffff\r\n"),
            Reject(400),
        ),
        (
            "chunk size over the body limit",
            chunked("ffffffffffffffff\r\n"),
            Reject(413),
        ),
        (
            "chunk size bad hex",
            chunked("5g\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk size negative",
            chunked("-5\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk size with leading space",
            chunked(" 5\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk size missing",
            chunked("\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk size 0x prefix",
            chunked("0x5\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk extension without ;",
            chunked("5 ext\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk extension with CR",
            chunked("5;a=\rb\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "chunk extension endless",
            chunked(&format!("5;{}\r\nhello\r\n0\r\n\r\n", "x".repeat(2000))),
            Reject(400),
        ),
        (
            "chunk extension valid",
            chunked("5;name=value;q=\"x\"\r\nhello\r\n0\r\n\r\n"),
            Both(405),
        ),
        (
            "chunk size uppercase hex",
            chunked("A\r\n0123456789\r\n0\r\n\r\n"),
            Both(405),
        ),
        (
            "chunk size leading zeros",
            chunked("0005\r\nhello\r\n0\r\n\r\n"),
            Both(405),
        ),
        // Line endings inside chunked framing.
        (
            "bare LF after size",
            chunked("5\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "bare LF after data",
            chunked("5\r\nhello\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "no CRLF after data",
            chunked("5\r\nhelloXX0\r\n\r\n"),
            Reject(400),
        ),
        (
            "data longer than its size",
            chunked("3\r\nhello\r\n0\r\n\r\n"),
            Reject(400),
        ),
        (
            "missing final chunk",
            chunked("5\r\nhello\r\n"),
            Reject(400),
        ),
        ("bare LF ends the trailers", chunked("0\r\n\n"), Reject(400)),
        // Trailers.
        (
            "valid trailers",
            chunked("0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"),
            Both(405),
        ),
        (
            "trailer without colon",
            chunked("0\r\nnot a field\r\n\r\n"),
            Reject(400),
        ),
        (
            "trailer obs-fold",
            chunked("0\r\nX: a\r\n b\r\n\r\n"),
            Reject(400),
        ),
        (
            "trailer with NUL",
            chunked("0\r\nX: a\0b\r\n\r\n"),
            Reject(400),
        ),
        // Heads.
        (
            "obs-fold in a header",
            post("X-Folded: a\r\n b\r\nContent-Length: 0\r\n", ""),
            Reject(400),
        ),
        (
            "invalid byte in a name",
            post("X\x7fY: 1\r\nContent-Length: 0\r\n", ""),
            Reject(400),
        ),
        (
            "space inside a name",
            post("X Y: 1\r\nContent-Length: 0\r\n", ""),
            Reject(400),
        ),
        (
            "NUL in a value",
            post("X: a\0b\r\nContent-Length: 0\r\n", ""),
            Reject(400),
        ),
        (
            "bare CR in a value",
            post("X: a\rb\r\nContent-Length: 0\r\n", ""),
            Reject(400),
        ),
        (
            "bare LF in the head",
            b"POST /hello.txt HTTP/1.1\nHost: t\nContent-Length: 0\n\n".to_vec(),
            Reject(400),
        ),
        (
            "Host repeated",
            b"GET /hello.txt HTTP/1.1\r\nHost: t\r\nHost: u\r\n\r\n".to_vec(),
            Reject(400),
        ),
    ]
}

#[test]
fn every_ambiguous_framing_is_rejected_or_answered_exactly() {
    let site = Site::new();
    let server = Server::start(&[&site.root_arg()]);
    let cases = cases();
    assert!(cases.len() >= 40, "{} cases", cases.len());
    for (name, first, expect) in cases {
        let mut client = Client::connect(server.addr());
        let mut bytes = first.clone();
        bytes.extend_from_slice(SECOND);
        client.send(&bytes);
        let response = client
            .read_response(false)
            .unwrap_or_else(|| panic!("{name}: no response"));
        match expect {
            Expect::Reject(status) => {
                assert_eq!(response.status, status, "{name}");
                assert_eq!(response.header("connection"), Some("close"), "{name}");
                assert!(
                    client.is_closed(),
                    "{name}: the glued request must not be answered"
                );
            }
            Expect::Both(status) => {
                assert_eq!(response.status, status, "{name}");
                let second = client
                    .read_response(false)
                    .unwrap_or_else(|| panic!("{name}: second unanswered"));
                assert_eq!(
                    (second.status, second.text().as_str()),
                    (200, "hello, world\n"),
                    "{name}"
                );
            }
        }
    }
}
