//! What a connection needs of its byte stream: `AsyncRead` and `AsyncWrite`, plus two things
//! only a plain socket can do. Today the stream is a `TcpStream`; a TLS stream or an in-memory
//! pipe (the connection's own tests) runs through the same code.
//!
//! - Waiting for bytes without reading them, so an idle connection waits without holding a
//!   buffer. A stream that cannot tell says "ready" at once, and the connection waits in a read
//!   with a buffer instead.
//! - sendfile: bytes that reach the socket unchanged can go from the page cache to the socket
//!   without passing through user space. A stream that transforms them (TLS) has no raw socket,
//!   and files go through a pooled buffer instead.
//!
//! A socket also reads and writes through tokio's `try_*` calls, trying first and asking for
//! readiness only when the kernel says "would block": `poll_read` and `poll_write` ask first
//! and charge tokio's cooperative budget each time: about 140 instructions per request
//! (callgrind).

use std::io::{self, ErrorKind, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BufMut;
use tokio::io::{AsyncRead, AsyncWrite, Interest};
use tokio::net::TcpStream;

pub(crate) trait Stream: AsyncRead + AsyncWrite + Unpin {
    /// Resolves when a read would return bytes or the end of the stream, without taking them.
    fn poll_read_ready(&self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// The socket the bytes reach unchanged, for sendfile; `None` when they are transformed.
    fn raw_socket(&self) -> Option<&TcpStream> {
        None
    }

    /// Whether ending the stream means sending something (TLS's close_notify), so that even a
    /// quiet close (an idle timeout, a drain) must shut it down rather than drop it: a client
    /// that sees the connection end without one may take the last response as cut short.
    fn closes_with_a_message(&self) -> bool {
        false
    }

    /// Reads into `buf`'s free room; `Ok(0)` is the end of the stream.
    fn poll_read_some<B: BufMut>(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut B,
    ) -> Poll<io::Result<usize>> {
        tokio_util::io::poll_read_buf(Pin::new(self), cx, buf)
    }

    fn poll_write_some(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write(cx, buf)
    }

    fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(self).poll_write_vectored(cx, bufs)
    }

    /// Pushes out what the stream itself still holds (a TLS stream's records), after the
    /// connection has written everything it queued.
    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(self).poll_flush(cx)
    }
}

impl Stream for TcpStream {
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        TcpStream::poll_read_ready(self, cx)
    }

    fn raw_socket(&self) -> Option<&TcpStream> {
        Some(self)
    }

    fn poll_read_some<B: BufMut>(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut B,
    ) -> Poll<io::Result<usize>> {
        let wanted = buf.remaining_mut();
        loop {
            match self.try_read_buf(buf) {
                Ok(read) => {
                    if read > 0 && read < wanted {
                        // A short read means the socket had nothing more: forget its readiness
                        // now rather than learn it from one more read that fails with EAGAIN. A
                        // byte that arrives later raises a new edge-triggered event; a close is
                        // a final state that this does not clear.
                        let _ = self.try_io(Interest::READABLE, || {
                            Err::<(), _>(ErrorKind::WouldBlock.into())
                        });
                    }
                    return Poll::Ready(Ok(read));
                }
                // The WouldBlock cleared the readiness, so this waits for the next edge.
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    ready!(TcpStream::poll_read_ready(self, cx))?;
                }
                Err(error) => return Poll::Ready(Err(error)),
            }
        }
    }

    fn poll_write_some(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            match self.try_write(buf) {
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    ready!(self.poll_write_ready(cx))?;
                }
                result => return Poll::Ready(result),
            }
        }
    }

    fn poll_write_slices(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        loop {
            match self.try_write_vectored(bufs) {
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    ready!(self.poll_write_ready(cx))?;
                }
                result => return Poll::Ready(result),
            }
        }
    }

    /// A socket keeps nothing back: what `write` took is the kernel's.
    fn poll_flush_all(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A TLS connection: no sendfile (the bytes are encrypted in user space), so large bodies go
/// through the pooled buffers in chunks. rustls holds what it was given until flushed.
impl Stream for Box<tokio_rustls::server::TlsStream<TcpStream>> {
    fn closes_with_a_message(&self) -> bool {
        true
    }
}

/// The connection's tests run it over an in-memory pipe: no readiness, no sendfile.
#[cfg(test)]
impl Stream for tokio::io::DuplexStream {}
