//! Socket I/O for a connection: bounded reads, writes under the send deadline, sendfile,
//! lingering close.

use std::fs::File;
use std::future::Future;
use std::io::{self, ErrorKind, IoSlice};
use std::os::unix::fs::FileExt;
use std::task::{Context, Poll, ready};

use bytes::BufMut;
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::conn::Shared;
use crate::conn::buffers;
use crate::conn::deadlines::{Deadlines, Wait};
use crate::http::response::{Body, Segment, Source};
use crate::limits::{INLINE_BODY_MAX, LINGER_MAX_BYTES, LINGER_TIMEOUT, OUTPUT_FLUSH_BYTES};

/// Most bytes asked of the kernel per read.
pub(crate) const READ_CHUNK: usize = 16 * 1024;

/// Largest single sendfile call; the kernel caps one call near 2 GiB anyway.
const SENDFILE_CHUNK: u64 = 1 << 30;

/// Reads what the socket has into `input` without waiting, never letting it grow past `limit`
/// bytes; an empty buffer is borrowed from the worker's pool first. Returns the bytes read
/// (0: end of stream), or WouldBlock if the readiness was stale.
pub(crate) fn try_read(stream: &TcpStream, input: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
    let room = limit.saturating_sub(input.len()).min(READ_CHUNK);
    if room == 0 {
        // The parser rejects a head before the buffer is this full; reaching here is a bug.
        return Err(io::Error::other("input buffer full"));
    }
    if input.capacity() == 0 {
        *input = buffers::take();
    }
    if input.capacity() == input.len() {
        // A head larger than the buffer: double it.
        input.reserve(input.len().min(room));
    }
    let wanted = (input.capacity() - input.len()).min(room);
    let read = stream.try_read_buf(&mut (&mut *input).limit(wanted))?;
    if read > 0 && read < wanted {
        // A short read means the socket had nothing more: forget its readiness now rather than
        // learn it from one more read that fails with EAGAIN (one system call per request). A
        // byte that arrives later raises a new edge-triggered event, so nothing is missed; a
        // close (end of stream) is a final state that this does not clear.
        let _ = stream.try_io(Interest::READABLE, || {
            Err::<(), _>(io::ErrorKind::WouldBlock.into())
        });
    }
    Ok(read)
}

/// How a wait for the socket to become readable ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadWait {
    Readable,
    /// The deadline passed, or the worker drains an idle connection.
    Expired,
    /// An idle wait refused: the worker is draining.
    Refused,
}

/// Waits until `stream` is readable, or `deadline` (from the worker's register) passes. The
/// register is armed only if the socket is not ready on the first look.
pub(crate) fn readable<'a>(
    stream: &'a TcpStream,
    deadlines: &'a Deadlines,
    slot: u32,
    wait: Wait,
    deadline: u64,
) -> impl Future<Output = io::Result<ReadWait>> + 'a {
    let mut armed = false;
    std::future::poll_fn(move |cx| {
        if let Poll::Ready(ready) = stream.poll_read_ready(cx) {
            return Poll::Ready(ready.map(|()| ReadWait::Readable));
        }
        if !armed {
            armed = true;
            if !deadlines.arm(slot, wait, deadline, cx.waker()) {
                return Poll::Ready(Ok(ReadWait::Refused));
            }
        } else if deadlines.expired(slot) {
            return Poll::Ready(Ok(ReadWait::Expired));
        }
        Poll::Pending
    })
}

/// A connection's socket for writing, with the register that bounds how long a write may wait
/// for the client to read.
#[derive(Clone, Copy)]
pub(crate) struct Writer<'a> {
    pub stream: &'a TcpStream,
    pub shared: &'a Shared,
    pub slot: u32,
}

impl<'a> Writer<'a> {
    /// Runs `attempt` until it does not fail with WouldBlock, waiting for the socket to become
    /// writable in between; `armed` says whether this wait has its deadline yet. Each wait gets
    /// the whole send timeout: like nginx's `send_timeout`, it bounds the time between two
    /// successful writes, not the whole response.
    fn poll_attempt<T>(
        &self,
        cx: &mut Context<'_>,
        armed: &mut bool,
        mut attempt: impl FnMut() -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        let deadlines = &self.shared.deadlines;
        loop {
            match attempt() {
                Err(error) if error.kind() == ErrorKind::WouldBlock => {
                    if !*armed {
                        *armed = true;
                        let deadline = deadlines.after(self.shared.limits.send_timeout);
                        deadlines.arm(self.slot, Wait::Write, deadline, cx.waker());
                    } else if deadlines.expired(self.slot) {
                        return Poll::Ready(Err(ErrorKind::TimedOut.into()));
                    }
                    // The WouldBlock cleared the socket's readiness, so this does not spin.
                    ready!(self.stream.poll_write_ready(cx))?;
                }
                result => {
                    *armed = false;
                    return Poll::Ready(result);
                }
            }
        }
    }

    /// `poll_attempt` as a future.
    async fn when_writable<T>(&self, mut attempt: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        let mut armed = false;
        std::future::poll_fn(|cx| self.poll_attempt(cx, &mut armed, &mut attempt)).await
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
                let attempt = || self.stream.try_write(&output[written..]);
                match ready!(self.poll_attempt(cx, &mut armed, attempt))? {
                    0 => return Poll::Ready(Err(ErrorKind::WriteZero.into())),
                    sent => written += sent,
                }
            }
            output.clear();
            Poll::Ready(Ok(()))
        })
    }
}

/// Puts a response body on its way: appended to `output` if small, else sent from the file
/// with sendfile after `output` is flushed.
pub(crate) async fn append_body(
    writer: &Writer<'_>,
    output: &mut Vec<u8>,
    body: Body,
) -> io::Result<()> {
    match body {
        Body::File { file, offset, len } if len > INLINE_BODY_MAX => {
            append_file_range(writer, output, &file, offset, len).await?;
        }
        Body::Shared { bytes, offset, len } if len as u64 > INLINE_BODY_MAX => {
            // Boxed, here and below: rare, large states would otherwise size every connection's
            // future, idle ones included.
            Box::pin(write_all_vectored(
                writer,
                output,
                &bytes[offset..offset + len],
            ))
            .await?;
        }
        Body::Multipart { source, segments } => {
            for segment in segments {
                match (segment, &source) {
                    (Segment::Literal(bytes), _) => output.extend_from_slice(&bytes),
                    (Segment::Range { offset, len }, Source::File(file)) => {
                        append_file_range(writer, output, file, offset, len).await?;
                    }
                    (Segment::Range { offset, len }, Source::Shared(bytes)) => {
                        output.extend_from_slice(&bytes[offset as usize..(offset + len) as usize]);
                    }
                }
                if output.len() >= OUTPUT_FLUSH_BYTES {
                    writer.write_all(output).await?;
                }
            }
        }
        body => append_inline(output, body)?,
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

/// Writes `output` and then `body` with as few system calls as the socket allows (writev),
/// without copying `body`; clears `output`.
async fn write_all_vectored(
    writer: &Writer<'_>,
    output: &mut Vec<u8>,
    body: &[u8],
) -> io::Result<()> {
    let (mut head_sent, mut body_sent) = (0, 0);
    while head_sent < output.len() || body_sent < body.len() {
        let slices = [
            IoSlice::new(&output[head_sent..]),
            IoSlice::new(&body[body_sent..]),
        ];
        let written = writer
            .when_writable(|| writer.stream.try_write_vectored(&slices))
            .await?;
        if written == 0 {
            return Err(ErrorKind::WriteZero.into());
        }
        let from_head = written.min(output.len() - head_sent);
        head_sent += from_head;
        body_sent += written - from_head;
    }
    output.clear();
    Ok(())
}

/// Copies a small file range into `output`, or flushes `output` and sends a large one with
/// sendfile.
async fn append_file_range(
    writer: &Writer<'_>,
    output: &mut Vec<u8>,
    file: &File,
    offset: u64,
    len: u64,
) -> io::Result<()> {
    if len <= INLINE_BODY_MAX {
        return read_file_range(output, file, offset, len);
    }
    writer.write_all(output).await?;
    Box::pin(send_file(writer, file, offset, len)).await
}

/// Sends `len` bytes of `file` from `offset` without copying them through user space.
async fn send_file(writer: &Writer<'_>, file: &File, offset: u64, len: u64) -> io::Result<()> {
    let end = offset + len;
    let mut position = offset;
    while position < end {
        let count = (end - position).min(SENDFILE_CHUNK) as usize;
        let mut file_offset = position as libc::off_t;
        let sent = writer
            .when_writable(|| {
                writer.stream.try_io(Interest::WRITABLE, || {
                    nix::sys::sendfile::sendfile(writer.stream, file, Some(&mut file_offset), count)
                        .map_err(io::Error::from)
                })
            })
            .await?;
        if sent == 0 {
            // The file was truncated under us.
            return Err(ErrorKind::UnexpectedEof.into());
        }
        position += sent as u64;
    }
    Ok(())
}

/// Half-closes, then reads and drops what the client still sends, for a bounded time and
/// amount, so that our last response is not destroyed by a reset (RFC 9112 §9.6).
pub(crate) async fn linger(stream: &mut TcpStream, deadlines: &Deadlines, slot: u32) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let deadline = deadlines.after(LINGER_TIMEOUT);
    // On the heap, and only here: an array would be part of every connection's future.
    let mut scratch = vec![0u8; 4096];
    let mut dropped = 0;
    while dropped < LINGER_MAX_BYTES {
        match readable(stream, deadlines, slot, Wait::Read, deadline).await {
            Ok(ReadWait::Readable) => {}
            _ => return,
        }
        match stream.try_read(&mut scratch) {
            Ok(0) => return,
            Ok(read) => dropped += read,
            Err(error) if error.kind() == ErrorKind::WouldBlock => {}
            Err(_) => return,
        }
    }
}
