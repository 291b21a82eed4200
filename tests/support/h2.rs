//! An HTTP/2 client for the tests: the `h2` crate over rustls, on a runtime of the test's own,
//! asking for `h2` by ALPN. Requests on one connection go out as concurrent streams.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use rustls::ClientConfig;
use rustls::pki_types::ServerName;

use super::WAIT;

/// One answer as the client saw it.
#[derive(Debug)]
pub(crate) struct H2Response {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

impl H2Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A request: method, path, authority, and extra fields.
pub(crate) struct H2Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub authority: &'a str,
    pub fields: &'a [(&'a str, &'a str)],
}

impl<'a> H2Request<'a> {
    pub(crate) fn get(authority: &'a str, path: &'a str) -> H2Request<'a> {
        H2Request {
            method: "GET",
            path,
            authority,
            fields: &[],
        }
    }
}

/// The protocol ALPN settled on with `addr` when the client offers `h2` and `http/1.1`.
pub(crate) fn negotiated(addr: SocketAddr, name: &str, config: &ClientConfig) -> Option<Vec<u8>> {
    let client = super::try_connect_tls(addr, name, &Arc::new(offering_h2(config))).ok()?;
    client.stream.conn.alpn_protocol().map(<[u8]>::to_vec)
}

fn offering_h2(config: &ClientConfig) -> ClientConfig {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    config
}

/// Sends every request at once on one HTTP/2 connection to `addr` (TLS, SNI `name`) and
/// returns the answers in order.
pub(crate) fn exchange_h2(
    addr: SocketAddr,
    name: &str,
    config: &ClientConfig,
    requests: &[H2Request<'_>],
) -> Vec<H2Response> {
    let config = Arc::new(offering_h2(config));
    let name = ServerName::try_from(name.to_owned()).unwrap();
    run(async {
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        exchange_on(tls, "https", requests).await
    })
}

/// An HTTP/2 connection over TLS (ALPN `h2` only), for tests that drive it themselves: the
/// handle for requests, and the connection, which must be polled (awaited or spawned).
pub(crate) async fn handshake_h2(
    addr: SocketAddr,
    name: &str,
    config: &ClientConfig,
) -> (
    h2::client::SendRequest<Bytes>,
    h2::client::Connection<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, Bytes>,
) {
    let mut config = config.clone();
    config.alpn_protocols = vec![b"h2".to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = ServerName::try_from(name.to_owned()).unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .unwrap();
    h2::client::handshake(tls).await.unwrap()
}

/// As `exchange_h2`, in cleartext with prior knowledge (the preface first, no ALPN).
pub(crate) fn exchange_h2c(addr: SocketAddr, requests: &[H2Request<'_>]) -> Vec<H2Response> {
    exchange_h2c_after(addr, b"", requests)
}

/// As `exchange_h2c`, with `first` sent before the preface (a PROXY header).
pub(crate) fn exchange_h2c_after(
    addr: SocketAddr,
    first: &[u8],
    requests: &[H2Request<'_>],
) -> Vec<H2Response> {
    run(async {
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tokio::io::AsyncWriteExt::write_all(&mut tcp, first)
            .await
            .unwrap();
        exchange_on(tcp, "http", requests).await
    })
}

fn run<T>(exchange: impl std::future::Future<Output = T>) -> T {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(WAIT, exchange)
            .await
            .expect("HTTP/2 exchange within the wait")
    })
}

async fn exchange_on<T>(io: T, scheme: &str, requests: &[H2Request<'_>]) -> Vec<H2Response>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (client, connection) = h2::client::handshake(io).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut pending = Vec::new();
    for request in requests {
        let mut builder = http::Request::builder()
            .method(request.method)
            .uri(format!("{scheme}://{}{}", request.authority, request.path));
        for (field, value) in request.fields {
            builder = builder.header(*field, *value);
        }
        let mut client = client.clone().ready().await.unwrap();
        let (response, _) = client
            .send_request(builder.body(()).unwrap(), true)
            .unwrap();
        pending.push(response);
    }
    // Every stream is read at once, as a browser does: one read in turn would leave the
    // others' data unreleased, holding the connection's window.
    let readers: Vec<_> = pending
        .into_iter()
        .map(|response| {
            tokio::spawn(async move {
                let (parts, mut body) = response.await.unwrap().into_parts();
                let mut bytes = Vec::new();
                while let Some(chunk) = body.data().await {
                    let chunk: Bytes = chunk.unwrap();
                    let _ = body.flow_control().release_capacity(chunk.len());
                    bytes.extend_from_slice(&chunk);
                }
                H2Response {
                    status: parts.status.as_u16(),
                    headers: parts.headers,
                    body: bytes,
                }
            })
        })
        .collect();
    let mut answers = Vec::new();
    for reader in readers {
        answers.push(reader.await.unwrap());
    }
    answers
}
