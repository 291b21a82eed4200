//! Property: any valid pipelined sequence of requests, split at any byte positions, gets the
//! same responses as when it is sent in one write.

mod support;

use std::time::Duration;

use proptest::prelude::*;
use support::{Client, Server, Site};

/// One request of the sequence, and whether its response has no body (HEAD).
fn request() -> impl Strategy<Value = (Vec<u8>, bool)> {
    let paths = prop::sample::select(vec![
        "/hello.txt",
        "/missing",
        "/sub",
        "/sub/",
        "/data.bin?x=1",
        "/nodir/a%20b.txt",
        "/%2e%2e/x",
        "/empty.txt",
    ]);
    let extra = prop::sample::select(vec![
        "",
        "User-Agent: prop\r\n",
        "Range: bytes=0-3\r\n",
        "Range: bytes=0-1,5-9\r\n",
        "If-None-Match: \"nope\"\r\n",
        "Accept-Encoding: gzip, br\r\n",
    ]);
    let body = "[a-z]{0,40}";
    (0..5usize, paths, extra, body).prop_map(|(kind, path, extra, body)| {
        let head = |method: &str, more: &str| {
            format!("{method} {path} HTTP/1.1\r\nHost: t\r\n{extra}{more}\r\n")
        };
        match kind {
            0 => (head("GET", "").into_bytes(), false),
            1 => (head("HEAD", "").into_bytes(), true),
            2 => (
                format!(
                    "{}{body}",
                    head("POST", &format!("Content-Length: {}\r\n", body.len()))
                )
                .into_bytes(),
                false,
            ),
            3 => {
                let chunks = if body.is_empty() {
                    String::new()
                } else {
                    format!("{:x}\r\n{body}\r\n", body.len())
                };
                (
                    format!(
                        "{}{chunks}0\r\n\r\n",
                        head("PUT", "Transfer-Encoding: chunked\r\n")
                    )
                    .into_bytes(),
                    false,
                )
            }
            _ => (head("OPTIONS", "").into_bytes(), false),
        }
    })
}

/// A response's status, sorted headers and body.
type Comparable = (u16, Vec<(String, String)>, Vec<u8>);

/// What a response looks like with the parts that may differ between two sends removed: the
/// Date, and the multipart boundary (random per response).
fn comparable(response: &support::Response) -> Comparable {
    let boundary = response
        .header("content-type")
        .and_then(|t| t.split("boundary=").nth(1))
        .map(str::to_owned);
    let mut headers: Vec<(String, String)> = response
        .headers
        .iter()
        .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
        .map(|(n, v)| {
            (
                n.to_ascii_lowercase(),
                boundary.as_ref().map_or(v.clone(), |b| v.replace(b, "B")),
            )
        })
        .collect();
    headers.sort();
    let body = match &boundary {
        Some(b) => String::from_utf8_lossy(&response.body)
            .replace(b, "B")
            .into_bytes(),
        None => response.body.clone(),
    };
    (response.status, headers, body)
}

fn exchange_all(server: &Server, pieces: &[&[u8]], heads: &[bool]) -> Vec<Comparable> {
    let mut client = Client::connect(server.addr());
    client.stream.set_nodelay(true).unwrap();
    for (i, piece) in pieces.iter().enumerate() {
        if i > 0 {
            // Separate segments, so the server sees separate reads.
            std::thread::sleep(Duration::from_millis(2));
        }
        client.send(piece);
    }
    heads
        .iter()
        .map(|&head| comparable(&client.read_response(head).expect("a response")))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn split_pipeline_gets_the_same_responses(
        requests in prop::collection::vec(request(), 1..6),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let site = SITE.with(|s| s.root_arg());
        let server = SERVER.with(|cell| cell.get_or_init(|| Server::start(&[&site])).addr());
        let bytes: Vec<u8> = requests.iter().flat_map(|(r, _)| r.clone()).collect();
        let heads: Vec<bool> = requests.iter().map(|(_, head)| *head).collect();
        let mut positions: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len())).collect();
        positions.sort_unstable();
        positions.dedup();
        let mut pieces: Vec<&[u8]> = Vec::new();
        let mut start = 0;
        for position in positions.into_iter().chain([bytes.len()]) {
            if position > start {
                pieces.push(&bytes[start..position]);
                start = position;
            }
        }
        SERVER.with(|cell| {
            let server_ref = cell.get().unwrap();
            assert_eq!(server_ref.addr(), server);
            let whole = exchange_all(server_ref, &[&bytes], &heads);
            let split = exchange_all(server_ref, &pieces, &heads);
            prop_assert_eq!(whole, split);
            Ok(())
        })?;
    }
}

thread_local! {
    static SITE: Site = Site::new();
    static SERVER: std::cell::OnceCell<Server> = const { std::cell::OnceCell::new() };
}
