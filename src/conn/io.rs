//! A connection's I/O over its `Stream`: bounded reads, writes under the send deadline, files
//! by sendfile when the stream is a plain socket and through a buffer when not, lingering close.

use std::fs::File;
use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BufMut;
use tokio::io::Interest;
use tokio::net::TcpStream;

use crate::conn::Shared;
use crate::conn::buffers;
use crate::conn::deadlines::{Deadlines, Hold, Wait};
use crate::conn::stream::Stream;
use crate::http::response::{Body, Segment, Source};
use crate::limits::{
    INLINE_BODY_MAX, LINGER_MAX_BYTES, LINGER_TIMEOUT, OUTPUT_FLUSH_BYTES, READ_CHUNK,
};

/// Largest single sendfile call; the kernel caps one call near 2 GiB anyway.
const SENDFILE_CHUNK: u64 = 1 << 30;

/// Bytes of a file read per write when the stream cannot take sendfile.
const COPY_CHUNK: usize = 64 * 1024;

/// How a read ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Read {
    /// Bytes were appended to the input.
    Data,
    /// The client closed its side.
    Eof,
    /// The deadline passed, or the worker drains an idle connection.
    Expired,
    /// An idle wait refused: the worker is draining.
    Refused,
}

/// Reads what the stream has into `input`, never letting it grow past `limit` bytes, waiting
/// until `deadline` (from the worker's register) if there is nothing yet. The input borrows a
/// buffer from the worker's pool only once the stream is readable, and gives an empty one back
/// while it waits. The register is armed only if the stream is not ready on the first look.
pub(crate) fn read<'a, S: Stream>(
    stream: &'a mut S,
    input: &'a mut Vec<u8>,
    limit: usize,
    deadlines: &'a Deadlines,
    slot: u32,
    wait: Wait,
    deadline: u64,
) -> impl Future<Output = io::Result<Read>> + 'a {
    let mut armed = false;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
            ready?;
            match poll_read_into(stream, cx, input, limit) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(Read::Eof)),
                Poll::Ready(Ok(_)) => return Poll::Ready(Ok(Read::Data)),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // The readiness was stale (edge-triggered, and our last read did not drain the
                // socket to WouldBlock), or the stream cannot tell it: the read has registered
                // for more. Wait without holding an empty buffer.
                Poll::Pending if input.is_empty() => buffers::give(std::mem::take(input)),
                Poll::Pending => {}
            }
        }
        match deadlines.hold(&mut armed, slot, wait, || deadline, cx.waker()) {
            Hold::Waiting => Poll::Pending,
            Hold::Expired => Poll::Ready(Ok(Read::Expired)),
            Hold::Refused => Poll::Ready(Ok(Read::Refused)),
        }
    })
}

/// One read into the free room of `input`, bounded by `limit` and `READ_CHUNK`.
fn poll_read_into<S: Stream>(
    stream: &mut S,
    cx: &mut Context<'_>,
    input: &mut Vec<u8>,
    limit: usize,
) -> Poll<io::Result<usize>> {
    let room = limit.saturating_sub(input.len()).min(READ_CHUNK);
    if room == 0 {
        // The parser rejects a head before the buffer is this full; reaching here is a bug.
        return Poll::Ready(Err(io::Error::other("input buffer full")));
    }
    if input.capacity() == 0 {
        *input = buffers::take();
    }
    if input.capacity() == input.len() {
        // A head larger than the buffer: double it.
        input.reserve(input.len().min(room));
    }
    let wanted = (input.capacity() - input.len()).min(room);
    stream.poll_read_some(cx, &mut (&mut *input).limit(wanted))
}

/// A connection's stream for writing, with the register that bounds how long a write may wait
/// for the client to read.
pub(crate) struct Writer<'a, S> {
    pub stream: &'a mut S,
    pub shared: &'a Shared,
    pub slot: u32,
}

impl<'a, S: Stream> Writer<'a, S> {
    /// The same writer for a shorter borrow, to write more than once.
    pub(crate) fn reborrow(&mut self) -> Writer<'_, S> {
        Writer {
            stream: &mut *self.stream,
            shared: self.shared,
            slot: self.slot,
        }
    }

    fn under_deadline<T>(
        &self,
        cx: &mut Context<'_>,
        armed: &mut bool,
        polled: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        under_send_deadline(self.shared, self.slot, cx, armed, polled)
    }

    /// Writes and clears `output`. A `poll_fn`, not an `async fn`: this future is part of every
    /// connection's, and this way it holds only what it needs.
    pub(crate) fn write_all(
        self,
        output: &'a mut Vec<u8>,
    ) -> impl Future<Output = io::Result<()>> + 'a {
        let (mut written, mut armed) = (0, false);
        std::future::poll_fn(move |cx| {
            while written < output.len() {
                let polled = self.stream.poll_write_some(cx, &output[written..]);
                match ready!(self.under_deadline(cx, &mut armed, polled))? {
                    0 => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
                    sent => written += sent,
                }
            }
            let flushed = self.stream.poll_flush_all(cx);
            ready!(self.under_deadline(cx, &mut armed, flushed))?;
            output.clear();
            Poll::Ready(Ok(()))
        })
    }

    /// Writes `output` and then `body` with as few system calls as the stream allows (writev),
    /// without copying `body`; clears `output`. Counts the body bytes written in `sent`.
    async fn write_all_vectored(
        &mut self,
        output: &mut Vec<u8>,
        body: &[u8],
        sent: &mut u64,
    ) -> io::Result<()> {
        let (mut head_sent, mut body_sent, mut armed) = (0, 0, false);
        while head_sent < output.len() || body_sent < body.len() {
            let slices = [
                IoSlice::new(&output[head_sent..]),
                IoSlice::new(&body[body_sent..]),
            ];
            let written = std::future::poll_fn(|cx| {
                let polled = self.stream.poll_write_slices(cx, &slices);
                self.under_deadline(cx, &mut armed, polled)
            })
            .await?;
            if written == 0 {
                return Err(ErrorKind::WriteZero.into());
            }
            let from_head = written.min(output.len() - head_sent);
            head_sent += from_head;
            body_sent += written - from_head;
            *sent += (written - from_head) as u64;
        }
        std::future::poll_fn(|cx| {
            let flushed = self.stream.poll_flush_all(cx);
            self.under_deadline(cx, &mut armed, flushed)
        })
        .await?;
        output.clear();
        Ok(())
    }
}

/// Puts a response body on its way: appended to `output` if small, else sent from where it is
/// after `output` is flushed. `sent` counts the body bytes written or queued, so that a send
/// that fails half-way can be logged with what did go out.
pub(crate) async fn append_body<S: Stream>(
    writer: &mut Writer<'_, S>,
    output: &mut Vec<u8>,
    body: Body,
    sent: &mut u64,
) -> io::Result<()> {
    match body {
        Body::File { file, offset, len } if len > INLINE_BODY_MAX => {
            append_file_range(writer, output, &file, offset, len, sent).await?;
        }
        Body::Shared { bytes, offset, len } if len as u64 > INLINE_BODY_MAX => {
            // Boxed, here and below: rare, large states would otherwise size every connection's
            // future, idle ones included.
            let body = &bytes[offset..offset + len];
            Box::pin(writer.write_all_vectored(output, body, sent)).await?;
        }
        Body::Multipart { source, segments } => {
            // Body bytes in `output`, counted once written.
            let mut queued = 0;
            for segment in segments {
                match (segment, &source) {
                    (Segment::Literal(bytes), _) => {
                        output.extend_from_slice(&bytes);
                        queued += bytes.len() as u64;
                    }
                    (Segment::Range { offset, len }, Source::File(file)) => {
                        if len > INLINE_BODY_MAX {
                            // Flushes `output` first, then counts what it sends itself.
                            append_file_range(writer, output, file, offset, len, sent).await?;
                            *sent += std::mem::take(&mut queued);
                        } else {
                            append_file_range(writer, output, file, offset, len, sent).await?;
                            queued += len;
                        }
                    }
                    (Segment::Range { offset, len }, Source::Shared(bytes)) => {
                        output.extend_from_slice(&bytes[offset as usize..(offset + len) as usize]);
                        queued += len;
                    }
                }
                if output.len() >= OUTPUT_FLUSH_BYTES {
                    writer.reborrow().write_all(output).await?;
                    *sent += std::mem::take(&mut queued);
                }
            }
            *sent += queued;
        }
        body => {
            *sent += body.len();
            append_inline(output, body)?;
        }
    }
    Ok(())
}

/// Whether `body` is copied into the output buffer rather than sent from where it is.
pub(crate) fn fits_inline(body: &Body) -> bool {
    match body {
        Body::Empty | Body::Static(_) | Body::Bytes(_) => true,
        Body::Shared { len, .. } => *len as u64 <= INLINE_BODY_MAX,
        Body::File { len, .. } => *len <= INLINE_BODY_MAX,
        Body::Multipart { .. } => false,
    }
}

/// Appends a body for which `fits_inline` holds.
pub(crate) fn append_inline(output: &mut Vec<u8>, body: Body) -> io::Result<()> {
    match body {
        Body::Empty => {}
        Body::Static(bytes) => output.extend_from_slice(bytes),
        Body::Bytes(bytes) => output.extend_from_slice(&bytes),
        Body::Shared { bytes, offset, len } => {
            output.extend_from_slice(&bytes[offset..offset + len])
        }
        Body::File { file, offset, len } => read_file_range(output, &file, offset, len)?,
        Body::Multipart { .. } => return Err(io::Error::other("multipart bodies are not inline")),
    }
    Ok(())
}

/// Reads a file range to the end of `output`. A file that shrank since its fstat fails here,
/// and the connection is closed: the Content-Length already promised cannot be kept.
fn read_file_range(output: &mut Vec<u8>, file: &File, offset: u64, len: u64) -> io::Result<()> {
    let start = output.len();
    output.resize(start + len as usize, 0);
    if let Err(error) = file.read_exact_at(&mut output[start..], offset) {
        output.truncate(start);
        return Err(error);
    }
    Ok(())
}

/// Passes on a poll of the stream; when it waits, the wait gets the send deadline (armed once;
/// `armed` says whether it is, and is cleared when the poll completes, so the next wait gets a
/// fresh one). Each wait gets the whole send timeout: like nginx's `send_timeout`, it bounds
/// the time between two successful writes, not the whole response.
fn under_send_deadline<T>(
    shared: &Shared,
    slot: u32,
    cx: &mut Context<'_>,
    armed: &mut bool,
    polled: Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    let Poll::Pending = polled else {
        *armed = false;
        return polled;
    };
    let deadlines = &shared.deadlines;
    let deadline = || deadlines.after(shared.limits.send_timeout);
    match deadlines.hold(armed, slot, Wait::Write, deadline, cx.waker()) {
        Hold::Waiting => Poll::Pending,
        // Only idle waits are refused; a write's ends at its deadline.
        Hold::Expired | Hold::Refused => Poll::Ready(Err(ErrorKind::TimedOut.into())),
    }
}

/// Copies a small file range into `output`, or flushes `output` and sends a large one from the
/// file, counting what went out in `sent`.
async fn append_file_range<S: Stream>(
    writer: &mut Writer<'_, S>,
    output: &mut Vec<u8>,
    file: &File,
    offset: u64,
    len: u64,
    sent: &mut u64,
) -> io::Result<()> {
    if len <= INLINE_BODY_MAX {
        return read_file_range(output, file, offset, len);
    }
    writer.reborrow().write_all(output).await?;
    match writer.stream.raw_socket() {
        Some(socket) => {
            let (shared, slot) = (writer.shared, writer.slot);
            Box::pin(send_file(socket, shared, slot, file, offset, len, sent)).await
        }
        None => Box::pin(copy_file(writer, output, file, offset, len, sent)).await,
    }
}

/// Sends `len` bytes of `file` from `offset` without copying them through user space.
async fn send_file(
    socket: &TcpStream,
    shared: &Shared,
    slot: u32,
    file: &File,
    offset: u64,
    len: u64,
    total: &mut u64,
) -> io::Result<()> {
    let end = offset + len;
    let mut position = offset;
    while position < end {
        let count = (end - position).min(SENDFILE_CHUNK) as usize;
        let mut file_offset = position as libc::off_t;
        let mut armed = false;
        let sent = std::future::poll_fn(|cx| {
            let polled = loop {
                let attempt = socket.try_io(Interest::WRITABLE, || {
                    nix::sys::sendfile::sendfile(socket, file, Some(&mut file_offset), count)
                        .map_err(io::Error::from)
                });
                match attempt {
                    // The WouldBlock cleared the socket's readiness, so this does not spin.
                    Err(error) if error.kind() == ErrorKind::WouldBlock => {
                        match socket.poll_write_ready(cx) {
                            Poll::Ready(Ok(())) => {}
                            Poll::Ready(Err(error)) => break Poll::Ready(Err(error)),
                            Poll::Pending => break Poll::Pending,
                        }
                    }
                    result => break Poll::Ready(result),
                }
            };
            under_send_deadline(shared, slot, cx, &mut armed, polled)
        })
        .await?;
        if sent == 0 {
            // The file was truncated under us.
            return Err(ErrorKind::UnexpectedEof.into());
        }
        position += sent as u64;
        *total += sent as u64;
    }
    Ok(())
}

/// Sends `len` bytes of `file` from `offset` through a buffer, for a stream that cannot take
/// sendfile. A file that shrank since its fstat fails here and the connection is closed.
async fn copy_file<S: Stream>(
    writer: &mut Writer<'_, S>,
    output: &mut Vec<u8>,
    file: &File,
    offset: u64,
    len: u64,
    sent: &mut u64,
) -> io::Result<()> {
    let end = offset + len;
    let mut position = offset;
    while position < end {
        let count = (end - position).min(COPY_CHUNK as u64);
        read_file_range(output, file, position, count)?;
        writer.reborrow().write_all(output).await?;
        position += count;
        *sent += count;
    }
    Ok(())
}

/// Half-closes the stream: a socket's FIN is immediate; a TLS stream's close_notify must be
/// written first, which a client that reads nothing can hold up until `deadline`.
pub(crate) fn shut_down<'a, S: Stream>(
    stream: &'a mut S,
    deadlines: &'a Deadlines,
    slot: u32,
    deadline: u64,
) -> impl Future<Output = io::Result<()>> + 'a {
    let mut armed = false;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(result) = Pin::new(&mut *stream).poll_shutdown(cx) {
            return Poll::Ready(result);
        }
        match deadlines.hold(&mut armed, slot, Wait::Write, || deadline, cx.waker()) {
            Hold::Waiting => Poll::Pending,
            Hold::Expired | Hold::Refused => Poll::Ready(Err(ErrorKind::TimedOut.into())),
        }
    })
}

/// Half-closes, then reads and drops what the client still sends, for a bounded time and
/// amount, so that our last response is not destroyed by a reset (RFC 9112 §9.6).
pub(crate) async fn linger<S: Stream>(stream: &mut S, deadlines: &Deadlines, slot: u32) {
    let deadline = deadlines.after(LINGER_TIMEOUT);
    if shut_down(stream, deadlines, slot, deadline).await.is_err() {
        return;
    }
    let mut scratch = Vec::new();
    let mut dropped = 0;
    while dropped < LINGER_MAX_BYTES {
        scratch.clear();
        match read(
            stream,
            &mut scratch,
            READ_CHUNK,
            deadlines,
            slot,
            Wait::Read,
            deadline,
        )
        .await
        {
            Ok(Read::Data) => dropped += scratch.len(),
            _ => break,
        }
    }
    buffers::give(scratch);
}
