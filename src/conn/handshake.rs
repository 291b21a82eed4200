//! The start of a connection on a TLS socket: what arrives first, then the handshake, both
//! under the header timeout, before the connection proper (`serve`) runs over the TLS stream.
//!
//! - A first byte that is not a TLS handshake record is not TLS: a letter means a client spoke
//!   plain HTTP to the HTTPS port, and it gets a `400` page saying so (as nginx does); anything
//!   else is closed at once.
//! - A client that stalls mid-handshake is dropped at its deadline, holding no more than an
//!   idle connection does meanwhile: the wait holds no timer, only its slot in the register.
//! - The server name the client asked for (SNI) picks the site; `serve` answers `421` to a
//!   request whose Host names another site on the socket.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::task::Poll;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use super::deadlines::{Deadlines, Hold, Wait};
use super::{Origin, Shared};
use crate::http::encode::Persistence;
use crate::vhost::Route;

/// The first byte of every TLS record that starts a handshake (RFC 8446 §5.1).
const HANDSHAKE_RECORD: u8 = 0x16;

/// What a client that spoke plain HTTP to the TLS port is told, before the close.
const PLAIN_HTTP_PAGE: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>400 Bad Request</title></head>\n\
<body><h1>400 Bad Request</h1><p>The plain HTTP request was sent to an HTTPS port.</p><hr><p>forkhttpd</p></body></html>\n";

/// Serves one connection accepted on a TLS socket.
pub(crate) async fn serve_tls(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Rc<Shared>,
    route: Rc<Route>,
    tls: Arc<rustls::ServerConfig>,
    permit: OwnedSemaphorePermit,
) {
    let slot = shared.deadlines.register();
    let deadline = shared.deadlines.after(shared.limits.header_timeout);
    let opened = Box::pin(open(stream, &shared, slot, deadline, tls)).await;
    shared.deadlines.unregister(slot);
    let Some(stream) = opened else {
        return;
    };
    let sni_site = stream
        .get_ref()
        .1
        .server_name()
        .map(|name| route.select(Some(name)));
    let origin = Origin {
        peer,
        route,
        secure: true,
        sni_site,
    };
    if stream.get_ref().1.alpn_protocol() == Some(super::h2::ALPN) {
        // Boxed: HTTP/2's state would otherwise widen every HTTP/1.1 connection's future too.
        Box::pin(super::h2::serve(stream, origin, shared, permit)).await;
        return;
    }
    super::serve(stream, origin, shared, permit).await;
}

/// The TLS stream once its handshake is done; `None` when the connection is not TLS, fails its
/// handshake or runs out of time.
async fn open(
    stream: TcpStream,
    shared: &Shared,
    slot: u32,
    deadline: u64,
    tls: Arc<rustls::ServerConfig>,
) -> Option<Box<tokio_rustls::server::TlsStream<TcpStream>>> {
    let deadlines = &shared.deadlines;
    let mut first = [0u8; 1];
    let peeked = until(deadlines, slot, deadline, |cx| {
        stream.poll_peek(cx, &mut tokio::io::ReadBuf::new(&mut first))
    })
    .await;
    match peeked {
        Ok(1) if first[0] == HANDSHAKE_RECORD => {}
        Ok(1) if first[0].is_ascii_alphabetic() => {
            refuse_plain_http(&stream);
            return None;
        }
        _ => return None,
    }
    let mut accept = TlsAcceptor::from(tls).accept(stream);
    let handshake = until(deadlines, slot, deadline, |cx| {
        std::pin::Pin::new(&mut accept).poll(cx)
    })
    .await;
    crate::metrics::recorder().tls_handshake(handshake.is_ok());
    match handshake {
        // Boxed: the TLS state is large, and a future that held it by value would copy it
        // into each layer it is passed down through.
        Ok(stream) => Some(Box::new(stream)),
        Err(error) => {
            debug!(%error, "TLS handshake failed");
            None
        }
    }
}

/// Polls `poll` until it is ready or `deadline` (in `slot` of the register) passes.
pub(super) fn until<T>(
    deadlines: &Deadlines,
    slot: u32,
    deadline: u64,
    mut poll: impl FnMut(&mut std::task::Context<'_>) -> Poll<std::io::Result<T>>,
) -> impl Future<Output = std::io::Result<T>> {
    let mut armed = false;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(result) = poll(cx) {
            return Poll::Ready(result);
        }
        match deadlines.hold(&mut armed, slot, Wait::Read, || deadline, cx.waker()) {
            Hold::Waiting => Poll::Pending,
            Hold::Expired | Hold::Refused => Poll::Ready(Err(ErrorKind::TimedOut.into())),
        }
    })
}

/// Answers plain HTTP on the TLS port with a `400` page, as well as a non-blocking socket can
/// without waiting: what the client sent is read first, so that closing does not reset the
/// connection and destroy the answer.
fn refuse_plain_http(stream: &TcpStream) {
    let mut scratch = [0u8; 4096];
    while matches!(stream.try_read(&mut scratch), Ok(n) if n > 0) {}
    let response = crate::http::Response::new(
        crate::http::Status::BAD_REQUEST,
        crate::http::Body::Static(PLAIN_HTTP_PAGE.as_bytes()),
    )
    .with_header("Content-Type", "text/html; charset=utf-8");
    let mut bytes = Vec::new();
    crate::http::encode::write_head(&mut bytes, &response, Persistence::Close);
    bytes.extend_from_slice(PLAIN_HTTP_PAGE.as_bytes());
    let _ = stream.try_write(&bytes);
    let _ = socket2::SockRef::from(stream).shutdown(std::net::Shutdown::Write);
}
