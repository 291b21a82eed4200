//! HTTP/2 (RFC 9113) on a TLS connection whose client chose `h2` by ALPN, or on a plain one whose
//! sites take it by prior knowledge (`serve_cleartext`), with the `h2` crate doing the framing,
//! HPACK, flow-control accounting and the protocol's own checks.
//!
//! The connection's task polls the `h2` connection (every frame moves through it) and accepts
//! streams. Each stream builds the same `Request` HTTP/1.1 parses, lets `Origin::site_for` pick
//! the site (with the same 421 rule for names that cross the TLS connection's SNI) and asks
//! `VirtualHost::answer`, response cache included, so every static-file behaviour is the
//! HTTP/1.1 one. What differs is only the way out: fields through HPACK, never the
//! connection-specific ones, and the body in DATA frames as the client's windows open. Streams
//! that arrive together are answered in the connection's task, so their frames leave in one
//! write; one that must wait for window goes on as a task of its own.
//!
//! Deadlines stay in the worker's register: the connection's slot waits `Idle` (the keep-alive
//! timeout while no stream is open; a drain ends it at once and sends GOAWAY, letting open
//! streams finish), and each stream's slot bounds each wait for window by the send timeout, so
//! a client that never opens its window loses the stream, and the stream holds one chunk.

use std::future::poll_fn;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use bytes::{Buf, Bytes};
use h2::server::SendResponse;
use h2::{Reason, SendStream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;

use super::deadlines::{Hold, Wait};
use super::handshake::until;
use super::stream::Stream;
use super::{Origin, Shared};
use crate::access_log::RequestFields;
use crate::cache::Outgoing;
use crate::http::parse::{Framing, Request};
use crate::http::{Body, Method, Response, Status, Version, target};
use crate::limits;

/// The ALPN protocol name of HTTP/2 over TLS.
pub(crate) const ALPN: &[u8] = b"h2";

/// What an HTTP/2 client sends first (RFC 9113 §3.4): a request line no HTTP/1.1 server
/// serves (the `PRI` method is reserved for this), then the start of a SETTINGS frame.
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A connection on a plain socket whose sites accept HTTP/2 with prior knowledge
/// (`http2_cleartext`): the first bytes decide. The connection preface goes to HTTP/2, anything
/// else to HTTP/1.1 with the bytes already read. The decision reads as the connection would
/// anyway, under the header timeout, and waits for more bytes only while what came so far is
/// the start of the preface.
pub(crate) async fn serve_cleartext(
    mut stream: tokio::net::TcpStream,
    origin: Origin,
    shared: Rc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let deadlines = &shared.deadlines;
    let slot = deadlines.register();
    let deadline = deadlines.after(shared.limits.header_timeout);
    let mut input = super::buffers::take();
    let http2 = loop {
        if input.len() >= PREFACE.len() {
            break input.starts_with(PREFACE);
        }
        if !PREFACE.starts_with(&input) {
            break false;
        }
        let read = until(deadlines, slot, deadline, |cx| {
            stream.poll_read_some(cx, &mut input)
        })
        .await;
        if !matches!(read, Ok(n) if n > 0) {
            // Gone, or silent past the header timeout, before saying which protocol.
            deadlines.unregister(slot);
            super::buffers::give(input);
            return;
        }
    };
    deadlines.unregister(slot);
    if http2 {
        let stream = Replay {
            first: input,
            at: 0,
            inner: stream,
        };
        serve(stream, origin, shared, permit).await;
    } else {
        super::serve_with_input(stream, origin, shared, permit, input).await;
    }
}

/// A stream whose first bytes were already read: they are read again first.
struct Replay<S> {
    first: Vec<u8>,
    at: usize,
    inner: S,
}

impl<S: AsyncRead + Unpin> AsyncRead for Replay<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        if this.at < this.first.len() {
            let rest = &this.first[this.at..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.at += n;
            if this.at == this.first.len() {
                this.first = Vec::new();
                this.at = 0;
            }
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Replay<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Through the generic paths: `h2` reads and writes, it never needs sendfile.
impl Stream for Replay<tokio::net::TcpStream> {}

/// Serves one HTTP/2 connection until the client ends it, it stays idle past the keep-alive
/// timeout, or the worker drains.
pub(crate) async fn serve<S: Stream>(
    mut stream: S,
    origin: Origin,
    shared: Rc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let _permit = permit;
    let slot = shared.deadlines.register();
    // `h2` gets the stream by reference, so that it can be had back for the lingering close:
    // what the client sends after our last frame (its acknowledgement of GOAWAY, a window
    // update) is read and dropped, so that the close does not reset the connection and destroy
    // frames it has not read yet.
    drive(&mut stream, origin, &shared, slot).await;
    super::io::linger(&mut stream, &shared.deadlines, slot).await;
    shared.deadlines.unregister(slot);
}

/// The preface and SETTINGS exchange, under the header timeout; `None` if the client does not
/// complete it in time.
async fn handshake<'s, S: Stream>(
    stream: &'s mut S,
    shared: &Shared,
    slot: u32,
) -> Option<h2::server::Connection<&'s mut S, Chunk>> {
    let deadlines = &shared.deadlines;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(shared.limits.http2.max_concurrent_streams)
        .max_header_list_size(shared.limits.head.max_head_bytes as u32)
        .max_pending_accept_reset_streams(shared.limits.http2.max_pending_resets)
        .max_local_error_reset_streams(Some(shared.limits.http2.max_error_resets))
        .max_send_buffer_size(limits::H2_CHUNK)
        .initial_window_size(limits::H2_WINDOW)
        .initial_connection_window_size(limits::H2_WINDOW);
    // Boxed, and gone once it is done: the connection's future would otherwise keep room for
    // it (a second codec's worth) for the connection's whole life.
    let mut handshake = Box::pin(builder.handshake::<_, Chunk>(stream));
    let deadline = deadlines.after(shared.limits.header_timeout);
    let handshaken = until(deadlines, slot, deadline, |cx| {
        handshake.as_mut().poll(cx).map_err(std::io::Error::other)
    })
    .await;
    handshaken
        .inspect_err(|error| debug!(%error, "HTTP/2 preface failed"))
        .ok()
}

/// The connection's life in `h2`'s hands, from the preface to the last frame.
async fn drive<S: Stream>(stream: &mut S, origin: Origin, shared: &Rc<Shared>, slot: u32) {
    let deadlines = &shared.deadlines;
    // Boxed: the handshake's future ends with a connection in it, and this future would
    // otherwise keep room for that copy next to the one it keeps.
    let Some(mut connection) = Box::pin(handshake(stream, shared, slot)).await else {
        return;
    };
    let origin = Rc::new(origin);
    let open = Rc::new(std::cell::Cell::new(0usize));
    let mut idle_deadline = None;
    // Before its first stream a connection is awaited like a head in progress (as HTTP/1.1
    // awaits its first request); after that, for the keep-alive time, which may be zero.
    let mut first_wait = shared.limits.header_timeout;
    // The streams that arrived together. Every `poll_accept` also flushes what the answered
    // streams queued, so accepting them all before answering any lets their answers leave in
    // one write instead of one each. Bounded by the concurrent stream limit.
    let mut batch = Vec::new();
    loop {
        let next = poll_fn(|cx| {
            if deadlines.expired(slot) {
                return Poll::Ready(None);
            }
            loop {
                match connection.poll_accept(cx) {
                    Poll::Ready(Some(Ok(accepted))) => batch.push(accepted),
                    Poll::Ready(Some(Err(error))) => {
                        debug!(%error, "HTTP/2 connection error");
                        return Poll::Ready(Some(false));
                    }
                    Poll::Ready(None) => return Poll::Ready(Some(false)),
                    Poll::Pending => break,
                }
            }
            if !batch.is_empty() {
                return Poll::Ready(Some(true));
            }
            // No stream open: the keep-alive timeout runs. Streams open: only a drain ends
            // the wait.
            let deadline = if open.get() == 0 {
                // An idle connection keeps no room for streams (a kilobyte, for each of
                // thousands of idle connections).
                if batch.capacity() > 0 {
                    batch = Vec::new();
                }
                *idle_deadline.get_or_insert_with(|| deadlines.after(first_wait))
            } else {
                idle_deadline = None;
                u64::MAX
            };
            if !deadlines.arm(slot, Wait::Idle, deadline, cx.waker()) {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await;
        match next {
            Some(true) => {
                idle_deadline = None;
                first_wait = shared.limits.keepalive_timeout;
                for (request, respond) in batch.drain(..) {
                    open.set(open.get() + 1);
                    let stream = StreamTask {
                        shared: shared.clone(),
                        origin: origin.clone(),
                        open: open.clone(),
                    };
                    // Most answers are complete at once (the pipeline does not wait, and the
                    // window is open): they run here. One that must wait for window goes on
                    // as a task of its own, whose first poll takes its wakers over.
                    let mut answer = Box::pin(stream.run(request, respond));
                    let waiting = poll_fn(|cx| Poll::Ready(answer.as_mut().poll(cx).is_pending()));
                    if waiting.await {
                        tokio::task::spawn_local(answer);
                    }
                }
            }
            // The client closed, or broke the protocol (`h2` has sent GOAWAY).
            Some(false) => break,
            // Idle past the keep-alive timeout, or the worker is draining: GOAWAY, let the
            // open streams finish, and close.
            None => {
                connection.graceful_shutdown();
                let deadline = deadlines.after(shared.limits.send_timeout);
                let mut armed = false;
                let _ = poll_fn(|cx| {
                    if let Poll::Ready(done) = connection.poll_closed(cx) {
                        return Poll::Ready(done.is_ok());
                    }
                    // Streams in flight keep their own send deadlines; the close itself waits
                    // at most a send timeout once they are done.
                    if open.get() > 0 {
                        armed = false;
                        let _ = deadlines.arm(slot, Wait::None, u64::MAX, cx.waker());
                        return Poll::Pending;
                    }
                    match deadlines.hold(&mut armed, slot, Wait::Write, || deadline, cx.waker()) {
                        Hold::Waiting => Poll::Pending,
                        Hold::Expired | Hold::Refused => Poll::Ready(false),
                    }
                })
                .await;
                break;
            }
        }
    }
}

/// Whether a stream names its authority as HTTP/1.1 must (`http::target`, as the parser checks
/// Host): `:authority` a valid `uri-host [":" port]` (no userinfo), at most one Host, valid,
/// and the same as `:authority` when both are sent (RFC 9113 §8.3.1). Otherwise `400`, as
/// HTTP/1.1 answers a bad Host, so a name that would not pass there cannot reach a site, a
/// redirect's Location or the log by this road.
fn authority_ok(authority: Option<&str>, headers: &http::HeaderMap) -> bool {
    if authority.is_some_and(|a| !target::is_valid_authority(a.as_bytes())) {
        return false;
    }
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let (first, second) = (hosts.next(), hosts.next());
    match (first, second) {
        (_, Some(_)) => false,
        (None, None) => true,
        (Some(host), None) => {
            target::is_valid_host(host.as_bytes())
                && authority.is_none_or(|a| a.as_bytes().eq_ignore_ascii_case(host.as_bytes()))
        }
    }
}

/// One stream: its request, answered by the site, and its response sent.
struct StreamTask {
    shared: Rc<Shared>,
    origin: Rc<Origin>,
    /// The connection's count of open streams.
    open: Rc<std::cell::Cell<usize>>,
}

impl Drop for StreamTask {
    fn drop(&mut self) {
        self.open.set(self.open.get() - 1);
    }
}

impl StreamTask {
    async fn run(self, request: http::Request<h2::RecvStream>, mut respond: SendResponse<Chunk>) {
        let started_us = crate::clock::monotonic_us();
        crate::metrics::recorder().http2_stream();
        let (parts, _body) = request.into_parts();
        // Fields as the HTTP/1.1 parser gives them, with `:authority` as Host (RFC 9113
        // §8.3.1: it stands for Host, and a Host beside it must not differ).
        let authority = parts.uri.authority().map(|a| a.as_str().to_owned());
        let mut fields: Vec<httparse::Header<'_>> = Vec::with_capacity(parts.headers.len() + 1);
        if let Some(authority) = &authority {
            fields.push(httparse::Header {
                name: "host",
                value: authority.as_bytes(),
            });
        }
        for (name, value) in &parts.headers {
            if name == http::header::HOST && authority.is_some() {
                continue;
            }
            fields.push(httparse::Header {
                name: name.as_str(),
                value: value.as_bytes(),
            });
        }
        let target = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        let method = Method::from_token(parts.method.as_str());
        let malformed = !authority_ok(authority.as_deref(), &parts.headers);
        let request = Request {
            method,
            target: &target,
            version: Version::Http2,
            headers: &fields,
            framing: Framing::None,
            keep_alive: true,
            expect_continue: false,
        };

        let (site, misdirected) = self.origin.site_for(&request);
        let host = &self.shared.hosts[site];
        let log = host.log_sink(&request).map(|sink| {
            let request_line = format!("{} {} HTTP/2.0", parts.method.as_str(), target);
            let user = request
                .header("authorization")
                .and_then(crate::auth::basic_user);
            let fields = RequestFields {
                peer: self.origin.peer.ip(),
                user: user.as_deref().map(str::as_bytes),
                site: &host.name,
                request_line: Some(request_line.as_bytes()),
                method: Some(parts.method.as_str().as_bytes()),
                target: Some(target.as_bytes()),
                protocol: Some("HTTP/2.0"),
                referer: request.header("referer"),
                user_agent: request.header("user-agent"),
            };
            self.shared.logs.begin(sink, &fields)
        });
        let outgoing = if malformed {
            Outgoing::Built(Response::error(Status::BAD_REQUEST))
        } else if misdirected {
            Outgoing::Built(Response::error(Status::MISDIRECTED_REQUEST))
        } else {
            host.answer(site, &self.shared.cache, &request, self.origin.secure)
        };
        // A listing built off the worker's thread is awaited here, in the stream's task: the
        // connection's task and its other streams go on meanwhile.
        let outgoing = outgoing.ready().await;
        // Over TLS only (RFC 6797 §7.2), as HTTP/1.1 sends it: a cleartext HTTP/2 answer says
        // nothing of HTTPS.
        let hsts = host.hsts_value().filter(|_| self.origin.secure);
        let head_only = method == Method::Head;
        let (status, fields, body) = outgoing.into_http2();
        let sent = self
            .send(&mut respond, status, fields, body, hsts, head_only)
            .await
            .unwrap_or_else(|partial| partial);
        let counted_as = crate::metrics::MethodClass::of(method);
        crate::metrics::recorder().request(site, counted_as, status.code(), sent);
        if let Some(line) = log {
            let duration_us = crate::clock::monotonic_us().saturating_sub(started_us);
            self.shared
                .logs
                .finish(line, status.code(), sent, duration_us);
        }
        debug!(peer = %self.origin.peer, status = status.code(), bytes = sent, "served over HTTP/2");
    }

    /// Sends the head and the body; the body bytes sent, as `Err` if the stream ended first.
    async fn send(
        &self,
        respond: &mut SendResponse<Chunk>,
        status: Status,
        mut fields: http::HeaderMap,
        body: Body,
        hsts: Option<&str>,
        head_only: bool,
    ) -> Result<u64, u64> {
        crate::http::date::with_now(|now| {
            if let Ok(now) = http::HeaderValue::from_str(now) {
                fields.insert(http::header::DATE, now);
            }
        });
        if let Some(value) = hsts.and_then(|v| http::HeaderValue::from_str(v).ok()) {
            fields.insert(http::header::STRICT_TRANSPORT_SECURITY, value);
        }
        let mut head = http::Response::new(());
        *head.headers_mut() = fields;
        match http::StatusCode::from_u16(status.code()) {
            Ok(code) => *head.status_mut() = code,
            Err(_) => {
                respond.send_reset(Reason::INTERNAL_ERROR);
                return Err(0);
            }
        }
        let empty = !status.allows_body() || head_only || body.is_empty();
        let mut stream = match respond.send_response(head, empty) {
            Ok(stream) => stream,
            Err(_) => return Err(0),
        };
        if empty {
            return Ok(0);
        }
        let mut sender = BodySender {
            shared: &self.shared,
            stream: &mut stream,
            sent: 0,
        };
        match sender.send_body(body).await {
            Ok(()) => Ok(sender.sent),
            Err(()) => {
                sender.stream.send_reset(Reason::CANCEL);
                Err(sender.sent)
            }
        }
    }
}

/// A response body going out in DATA frames as the client's windows allow.
struct BodySender<'a> {
    shared: &'a Shared,
    stream: &'a mut SendStream<Chunk>,
    sent: u64,
}

impl BodySender<'_> {
    async fn send_body(&mut self, body: Body) -> Result<(), ()> {
        let total = body.len();
        match body {
            Body::Empty => self.send(Chunk::owned(Bytes::new()), true).await,
            Body::Static(bytes) => {
                self.send(Chunk::owned(Bytes::from_static(bytes)), true)
                    .await
            }
            Body::Bytes(bytes) => self.send(Chunk::owned(Bytes::from(bytes)), true).await,
            Body::Shared { bytes, offset, len } => {
                let chunk = Chunk::shared(bytes, offset, offset + len);
                self.send(chunk, true).await
            }
            Body::File { file, offset, len } => self.send_file(&file, offset, len, total).await,
            Body::Multipart { source, segments } => {
                let mut done = 0;
                for segment in segments {
                    match segment {
                        crate::http::response::Segment::Literal(bytes) => {
                            done += bytes.len() as u64;
                            self.send(Chunk::owned(Bytes::from(bytes)), done == total)
                                .await?;
                        }
                        crate::http::response::Segment::Range { offset, len } => {
                            match &source {
                                crate::http::response::Source::File(file) => {
                                    self.send_file(file, offset, len, total).await?;
                                }
                                crate::http::response::Source::Shared(bytes) => {
                                    let (start, end) = (offset as usize, (offset + len) as usize);
                                    let chunk = Chunk::shared(bytes.clone(), start, end);
                                    self.send(chunk, self.sent + len == total).await?;
                                }
                            }
                            done += len;
                        }
                    }
                }
                Ok(())
            }
        }
    }

    /// `len` bytes of `file` from `offset`, read a chunk at a time as window opens.
    async fn send_file(
        &mut self,
        file: &std::fs::File,
        offset: u64,
        len: u64,
        total: u64,
    ) -> Result<(), ()> {
        let mut at = 0;
        while at < len {
            let want = (len - at).min(limits::H2_CHUNK as u64) as usize;
            let mut chunk = vec![0u8; want];
            if file.read_exact_at(&mut chunk, offset + at).is_err() {
                return Err(());
            }
            at += want as u64;
            let last = self.sent + want as u64 == total;
            self.send(Chunk::owned(Bytes::from(chunk)), last).await?;
        }
        Ok(())
    }

    /// Sends `data`, waiting (under the send timeout, each wait) for the window it needs.
    async fn send(&mut self, mut data: Chunk, end: bool) -> Result<(), ()> {
        if !data.has_remaining() {
            return if end {
                self.stream.send_data(data, true).map_err(|_| ())
            } else {
                Ok(())
            };
        }
        let deadlines = &self.shared.deadlines;
        let slot = deadlines.register();
        let result = async {
            while data.has_remaining() {
                self.stream.reserve_capacity(data.remaining());
                let deadline = deadlines.after(self.shared.limits.send_timeout);
                let mut armed = false;
                let granted = poll_fn(|cx| match self.stream.poll_capacity(cx) {
                    Poll::Ready(Some(Ok(n))) if n > 0 => Poll::Ready(Ok(n)),
                    Poll::Ready(Some(Ok(_))) | Poll::Pending => {
                        if armed && deadlines.expired(slot) {
                            return Poll::Ready(Err(()));
                        }
                        // Armed again on every wait, not once: the first poll of a stream runs
                        // in the connection's task, later ones in the stream's own, and the
                        // sweep must wake whichever waits now.
                        armed = true;
                        deadlines.arm(slot, Wait::Write, deadline, cx.waker());
                        Poll::Pending
                    }
                    Poll::Ready(Some(Err(_)) | None) => Poll::Ready(Err(())),
                })
                .await?;
                let piece = data.split_to(granted.min(data.remaining()));
                let piece_len = piece.remaining() as u64;
                let last = end && !data.has_remaining();
                self.stream.send_data(piece, last).map_err(|_| ())?;
                self.sent += piece_len;
            }
            Ok(())
        }
        .await;
        deadlines.unregister(slot);
        result
    }
}

/// A piece of a body as `h2` sends it: bytes it owns, or a slice of bytes shared with the
/// response cache or the compressed-file cache, sent without a copy. Everything on a worker
/// runs on its one thread, so an `Rc` is enough and `h2` needs nothing `Send`.
pub(crate) enum Chunk {
    Owned(Bytes),
    Shared {
        bytes: Rc<[u8]>,
        at: usize,
        end: usize,
    },
}

impl Chunk {
    fn owned(bytes: Bytes) -> Chunk {
        Chunk::Owned(bytes)
    }

    fn shared(bytes: Rc<[u8]>, at: usize, end: usize) -> Chunk {
        Chunk::Shared { bytes, at, end }
    }

    /// The first `n` bytes, which this chunk no longer holds.
    fn split_to(&mut self, n: usize) -> Chunk {
        match self {
            Chunk::Owned(bytes) => Chunk::Owned(bytes.split_to(n)),
            Chunk::Shared { bytes, at, .. } => {
                let front = Chunk::Shared {
                    bytes: bytes.clone(),
                    at: *at,
                    end: *at + n,
                };
                *at += n;
                front
            }
        }
    }
}

impl Buf for Chunk {
    fn remaining(&self) -> usize {
        match self {
            Chunk::Owned(bytes) => bytes.len(),
            Chunk::Shared { at, end, .. } => end - at,
        }
    }

    fn chunk(&self) -> &[u8] {
        match self {
            Chunk::Owned(bytes) => bytes,
            Chunk::Shared { bytes, at, end } => &bytes[*at..*end],
        }
    }

    fn advance(&mut self, n: usize) {
        match self {
            Chunk::Owned(bytes) => bytes.advance(n),
            Chunk::Shared { at, end, .. } => *at = (*at + n).min(*end),
        }
    }
}
