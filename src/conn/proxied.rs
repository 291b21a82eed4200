//! The start of a connection on a socket whose sites take the PROXY protocol
//! (`proxy_protocol`): before TLS or HTTP, the peer must be a trusted proxy, and its first
//! bytes the header (`proxy_proto`) naming the client. That client becomes the connection's
//! peer (`Origin::peer`, in the access log and the debug log), and the connection goes on as on
//! any socket: a TLS handshake, the HTTP/2 preface check, or HTTP/1.1.
//!
//! - A peer outside `trusted_proxies` is closed at once, before a byte is read: a header from it
//!   could name any client.
//! - The header is read exactly, never a byte past it, so what follows (a ClientHello, a
//!   request sent in the same packet) is still in the socket for the next layer. Each step peeks
//!   at what has arrived, and consumes only bytes the parser has placed inside the header
//!   (`Incomplete` means all of them are) or the header itself once it is whole. Consuming what
//!   was seen also means the next peek waits for new bytes rather than seeing the same again.
//! - A malformed header, an end of stream before its end, or a header not whole within the
//!   header timeout (counted from accept, not reset by each byte) closes the connection without
//!   an answer: whatever the bytes were, they were not meant for HTTP. The wait holds a slot in
//!   the deadline register and a pooled buffer, nothing more.
//!
//! The layer after the header starts its own deadline, so a connection that is slow at both
//! may take two header timeouts in all; only a trusted proxy gets that far.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Poll;

use tokio::net::TcpStream;
use tracing::debug;

use super::Shared;
use super::deadlines::Deadlines;
use super::handshake::until;
use crate::proxy_proto::{self, Cidr, Parsed};

/// Checks the peer, reads the PROXY header, then starts `serve` with the stream and the client
/// the header names (the peer itself when the header names none: a proxy's own health check).
///
/// `serve` runs as a task of its own, and this one ends: a connection then holds for its whole
/// life only what a connection on any other socket holds, not also this task's arguments and
/// the header's state (about 300 bytes more per idle connection when it ran inside this one).
///
/// Not an `async fn`, whose arguments would be stored twice in its future.
pub(crate) fn serve_proxied<F, Fut>(
    stream: TcpStream,
    peer: SocketAddr,
    trusted: &[Cidr],
    shared: Rc<Shared>,
    serve: F,
) -> impl Future<Output = ()> + use<F, Fut>
where
    F: FnOnce(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + 'static,
{
    let trusted = trusted.iter().any(|range| range.contains(peer.ip()));
    async move {
        if !trusted {
            debug!(%peer, "not a trusted proxy: closed");
            return;
        }
        let deadlines = &shared.deadlines;
        let slot = deadlines.register();
        let deadline = deadlines.after(shared.limits.header_timeout);
        // Sized once for the longest header; peeks and reads go into its free end, so nothing
        // is cleared again between steps.
        let mut buffer = super::buffers::take();
        buffer.resize(proxy_proto::MAX_LEN, 0);
        let read = read_header(&stream, &mut buffer, deadlines, slot, deadline).await;
        super::buffers::give(buffer);
        deadlines.unregister(slot);
        match read {
            Ok(source) => {
                tokio::task::spawn_local(serve(stream, source.unwrap_or(peer)));
            }
            Err(error) => debug!(%peer, %error, "PROXY header refused: closed"),
        }
    }
}

/// Reads the header, and nothing after it, into `buffer`; the client it names, if any.
async fn read_header(
    stream: &TcpStream,
    buffer: &mut [u8],
    deadlines: &Deadlines,
    slot: u32,
    deadline: u64,
) -> std::io::Result<Option<SocketAddr>> {
    // Bytes consumed so far, every one of them inside the header. Each turn consumes at least
    // one more, and the header is at most `MAX_LEN`, so this ends.
    let mut consumed = 0;
    loop {
        let peeked = until(deadlines, slot, deadline, |cx| {
            stream.poll_peek(cx, &mut tokio::io::ReadBuf::new(&mut buffer[consumed..]))
        })
        .await?;
        if peeked == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        let seen = consumed + peeked;
        let (upto, source) = match proxy_proto::parse(&buffer[..seen]) {
            Parsed::Done { header_len, source } => (header_len, Some(source)),
            Parsed::Incomplete(_) if seen < buffer.len() => (seen, None),
            // Cannot happen (a header is at most `MAX_LEN`), but must not loop if it did.
            Parsed::Incomplete(_) => return Err(ErrorKind::InvalidData.into()),
            Parsed::Invalid(reason) => return Err(std::io::Error::other(reason)),
        };
        // The bytes were there to peek, so these reads do not wait on the client. The parser
        // never ends a header inside bytes it called incomplete; if it did, this refuses
        // rather than panics.
        let Some(wanted) = buffer.get_mut(consumed..upto) else {
            return Err(ErrorKind::InvalidData.into());
        };
        let mut at = 0;
        until(deadlines, slot, deadline, |cx| {
            poll_read_exact(stream, cx, wanted, &mut at)
        })
        .await?;
        consumed = upto;
        if let Some(source) = source {
            return Ok(source);
        }
    }
}

/// Reads into the rest of `wanted` from `*at`, until it is full.
fn poll_read_exact(
    stream: &TcpStream,
    cx: &mut std::task::Context<'_>,
    wanted: &mut [u8],
    at: &mut usize,
) -> Poll<std::io::Result<()>> {
    while *at < wanted.len() {
        match stream.try_read(&mut wanted[*at..]) {
            Ok(0) => return Poll::Ready(Err(ErrorKind::UnexpectedEof.into())),
            Ok(n) => *at += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                std::task::ready!(stream.poll_read_ready(cx))?;
            }
            Err(e) => return Poll::Ready(Err(e)),
        }
    }
    Poll::Ready(Ok(()))
}
