//! The connection state machine driven over an in-memory pipe (`tokio::io::duplex`), with the
//! built-in site behind it: split heads, pipelining, bodies read and dropped, error responses
//! and their close. No sockets, no processes: each test runs in milliseconds.

use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};
use tokio::sync::Semaphore;

use super::stream::Stream;
use super::{Shared, serve};
use crate::access_log::AccessLogs;
use crate::cache::ResponseCache;
use crate::config::Config;
use crate::fs::{FileCaches, Site};
use crate::vhost::{Route, VirtualHost};
use crate::worker::timer::Timer;

fn config() -> Config {
    Config::from_cli(clap::Parser::parse_from(["forkhttpd"])).unwrap()
}

fn runtime() -> tokio::runtime::LocalRuntime {
    tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build_local(tokio::runtime::LocalOptions::default())
        .unwrap()
}

const PEER: std::net::SocketAddr =
    std::net::SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 40000);

/// What a worker of the default configuration shares, serving `root` (or the built-in site).
fn shared(root: Option<&std::path::Path>) -> Rc<Shared> {
    let config = config();
    let site = &config.sites[0];
    let host = VirtualHost {
        name: site.name.clone(),
        files: Site::open(root, site.options.clone(), &FileCaches::new(1 << 20, None)).unwrap(),
        auth: None,
        access_log: None,
        https_port: None,
        hsts_line: None,
        acme_challenges: None,
        health: None,
    };
    let logs = AccessLogs::open(&[]).unwrap();
    let cache = ResponseCache::new(config.file_cache_bytes);
    Rc::new(Shared::new(vec![host], logs, cache, config.conn))
}

fn origin() -> super::Origin {
    super::Origin::plain(PEER, Rc::new(Route::default()))
}

/// Serves one connection whose client sends `chunks` one after another, then closes its side;
/// returns every byte the server sent. The built-in site answers.
fn converse(chunks: &[&[u8]]) -> Vec<u8> {
    converse_with(None, chunks)
}

/// `converse` with the site served from `root`.
fn converse_with(root: Option<&std::path::Path>, chunks: &[&[u8]]) -> Vec<u8> {
    converse_over(|pipe| pipe, root, chunks)
}

/// `converse` with the server's end of the pipe wrapped by `wrap`.
fn converse_over<S: Stream + 'static>(
    wrap: impl FnOnce(DuplexStream) -> S,
    root: Option<&std::path::Path>,
    chunks: &[&[u8]],
) -> Vec<u8> {
    runtime().block_on(async {
        let shared = shared(root);
        let permit = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        let (client, server) = tokio::io::duplex(1 << 20);
        let client = async move {
            let (mut from_server, mut to_server) = tokio::io::split(client);
            for chunk in chunks {
                to_server.write_all(chunk).await.unwrap();
                // Let the server see this chunk alone before the next arrives.
                tokio::task::yield_now().await;
            }
            to_server.shutdown().await.unwrap();
            let mut received = Vec::new();
            from_server.read_to_end(&mut received).await.unwrap();
            received
        };
        tokio::join!(serve(wrap(server), origin(), shared, permit), client).1
    })
}

/// Status code and `Connection` field of each response in `bytes`, whose bodies are framed by
/// Content-Length (every response of this server to GET or POST).
fn responses(mut bytes: &[u8]) -> Vec<(u16, Option<String>)> {
    let mut found = Vec::new();
    while !bytes.is_empty() {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut response = httparse::Response::new(&mut fields);
        let httparse::Status::Complete(head) = response.parse(bytes).unwrap() else {
            panic!("incomplete head: {}", String::from_utf8_lossy(bytes));
        };
        let field = |name: &str| {
            response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case(name))
                .map(|h| String::from_utf8_lossy(h.value).into_owned())
        };
        let length: usize = field("content-length").map_or(0, |v| v.parse().unwrap());
        found.push((response.code.unwrap(), field("connection")));
        bytes = &bytes[head + length..];
    }
    found
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";

#[test]
fn a_head_split_at_any_byte_gets_the_same_answer() {
    let whole = responses(&converse(&[GET]));
    assert_eq!(whole, vec![(200, None)]);
    for split in 1..GET.len() {
        let (first, second) = GET.split_at(split);
        assert_eq!(
            responses(&converse(&[first, second])),
            whole,
            "split at {split}"
        );
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let batch = [
        GET,
        b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n",
        b"OPTIONS / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /index.html HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ]
    .concat();
    assert_eq!(
        responses(&converse(&[&batch])),
        vec![
            (200, None),
            (404, None),
            (204, None),
            (200, Some("keep-alive".into()))
        ]
    );
}

#[test]
fn a_request_body_is_read_and_dropped_and_the_next_request_served() {
    let post = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello";
    let chunked =
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    // The body arrives in pieces after its head.
    let answers = responses(&converse(&[&post[..40], &post[40..], chunked, GET]));
    assert_eq!(answers, vec![(405, None), (405, None), (200, None)]);
}

#[test]
fn a_bad_request_is_answered_then_the_connection_closes() {
    // The request after the bad one is never answered: the server cannot know where it starts.
    let answers = responses(&converse(&[b"GET / HTTP/1.1\r\n\r\n", GET]));
    assert_eq!(answers, vec![(400, Some("close".into()))]);
}

#[test]
fn expect_continue_with_a_body_is_answered_without_reading_it() {
    let post =
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n";
    let answers = responses(&converse(&[post, GET]));
    assert_eq!(answers, vec![(405, Some("close".into()))]);
}

#[test]
fn connection_close_is_honoured_after_the_response() {
    let close = b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    let answers = responses(&converse(&[close, GET]));
    assert_eq!(answers, vec![(200, Some("close".into()))]);
}

/// A stream without sendfile (an in-memory pipe here, TLS later) gets large files through a
/// buffer, whole or in ranges, byte for byte.
#[test]
fn large_files_go_through_a_buffer_when_the_stream_has_no_socket() {
    let dir = tempfile::tempdir().unwrap();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(dir.path().join("large.bin"), &content).unwrap();

    let whole = converse_with(
        Some(dir.path()),
        &[b"GET /large.bin HTTP/1.1\r\nHost: a\r\n\r\n"],
    );
    assert_eq!(responses(&whole), vec![(200, None)]);
    assert!(whole.ends_with(&content), "the whole file, after its head");

    let ranged = converse_with(
        Some(dir.path()),
        &[b"GET /large.bin HTTP/1.1\r\nHost: a\r\nRange: bytes=1000-99999,200000-\r\n\r\n"],
    );
    assert_eq!(responses(&ranged), vec![(206, None)]);
    let find = |needle: &[u8]| ranged.windows(needle.len()).position(|w| w == needle);
    let first = find(&content[1000..100_000]).expect("the first range");
    let second = find(&content[200_000..]).expect("the second range");
    assert!(first < second);
}

/// A stream that holds back what it was given until flushed, as a TLS stream holds records.
impl Stream for tokio::io::BufWriter<DuplexStream> {}

#[test]
fn responses_are_flushed_out_of_a_stream_that_buffers() {
    let batch = [GET, b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n"].concat();
    let received = converse_over(tokio::io::BufWriter::new, None, &[&batch]);
    assert_eq!(responses(&received), vec![(200, None), (404, None)]);
}

/// A stream whose close cannot complete, as a TLS stream's close_notify cannot while the
/// client reads nothing and the socket's send buffer is full.
struct StallShutdown(DuplexStream);

impl tokio::io::AsyncRead for StallShutdown {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for StallShutdown {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Pending
    }
}

impl Stream for StallShutdown {}

/// After an error response the connection lingers, and every wait of the linger, the close
/// included, ends at its deadline: a client that neither reads nor closes cannot hold it.
#[test]
fn a_lingering_close_ends_even_when_the_stream_cannot_close() {
    runtime().block_on(async {
        let shared = shared(None);
        // The worker's deadline sweep, on a timerfd as in the worker.
        let sweeper = {
            let shared = shared.clone();
            tokio::task::spawn_local(async move {
                let ticks = Timer::new().unwrap();
                while ticks.sleep(Duration::from_millis(20)).await.is_ok() {
                    shared.deadlines.sweep();
                }
            })
        };
        let permit = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        let (mut client, server) = tokio::io::duplex(1 << 20);
        // No Host: 400, then the lingering close (LINGER_TIMEOUT). The client stays silent.
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
        let guard = Timer::new().unwrap();
        let ended = tokio::select! {
            () = serve(StallShutdown(server), origin(), shared, permit) => true,
            _ = guard.sleep(Duration::from_secs(20)) => false,
        };
        sweeper.abort();
        assert!(ended, "the connection never ended");
    });
}

#[test]
fn connection_future_stays_small() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let shared = shared(None);
        let permit = Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap();
        let future = serve(stream, origin(), shared, permit);
        // Every idle connection pays for this whole future (tokio rounds the task to 128
        // bytes): keep the rare, large states boxed. 256 bytes today (248 before the boxed
        // `Origin`: peer address and route).
        let size = std::mem::size_of_val(&future);
        assert!(size <= 256, "a connection's future grew to {size} bytes");
    });
}

/// What every connection's task holds for its whole life, idle or not: a future that kept a
/// TLS stream or an HTTP/2 codec by value (or twice, as async functions' arguments are) costs
/// every idle connection kilobytes. The bounds leave room for compiler changes, not for that.
#[test]
fn connection_futures_stay_small() {
    use tokio::net::TcpStream;
    type Tls = Box<tokio_rustls::server::TlsStream<TcpStream>>;
    fn size4<A, B, C, D, R>(_: fn(A, B, C, D) -> R) -> usize {
        std::mem::size_of::<R>()
    }
    fn size6<A, B, C, D, E, G, R>(_: fn(A, B, C, D, E, G) -> R) -> usize {
        std::mem::size_of::<R>()
    }
    let tls = size6(super::serve_tls);
    assert!(tls <= 1024, "a TLS connection's task is {tls} bytes");
    let plain = size4(super::serve::<TcpStream>);
    assert!(plain <= 1024, "a plain connection's task is {plain} bytes");
    let http2 = size4(super::h2::serve::<Tls>);
    // `h2`'s connection (about 1.3 KB) is kept once, and nothing else of size.
    assert!(
        http2 <= 3072,
        "an HTTP/2 connection's future is {http2} bytes"
    );
    let cleartext = size4(super::h2::serve_cleartext);
    assert!(
        cleartext <= 3072,
        "a cleartext HTTP/2 connection's task is {cleartext} bytes"
    );
}

/// A connection on a PROXY protocol socket: the task that reads the header holds a few words
/// and a borrowed buffer, and ends once it has started the connection's own task (the same
/// future as on any other socket, bounded above). 368 and 376 bytes today.
#[test]
fn proxy_header_tasks_stay_small() {
    runtime().block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shared = shared(None);
        let trusted: Rc<[crate::proxy_proto::Cidr]> = Rc::new([]);
        let stream = || async { tokio::net::TcpStream::connect(addr).await.unwrap() };
        let permit = || async { Arc::new(Semaphore::new(1)).acquire_owned().await.unwrap() };

        let (conn_shared, route, permit1) = (shared.clone(), origin().route, permit().await);
        let plain = super::serve_proxied(stream().await, PEER, &trusted, shared.clone(), {
            move |stream, peer| {
                serve(
                    stream,
                    super::Origin::plain(peer, route),
                    conn_shared,
                    permit1,
                )
            }
        });
        let plain = std::mem::size_of_val(&plain);
        assert!(
            plain <= 512,
            "a plain socket's PROXY header task is {plain} bytes"
        );

        let tls = crate::tls::server_config(Route::default(), vec![None], true);
        let (conn_shared, route, permit2) = (shared.clone(), origin().route, permit().await);
        let secure = super::serve_proxied(stream().await, PEER, &trusted, shared.clone(), {
            move |stream, peer| super::serve_tls(stream, peer, conn_shared, route, tls, permit2)
        });
        let secure = std::mem::size_of_val(&secure);
        assert!(
            secure <= 512,
            "a TLS socket's PROXY header task is {secure} bytes"
        );
    });
}
