//! HTTP/2 on a TLS connection whose client chose `h2` by ALPN (RFC 9113), with the `h2` crate
//! doing the framing, HPACK, flow-control accounting and the protocol's own checks.
//!
//! The connection's task polls the `h2` connection (every frame moves through it) and accepts
//! streams; each stream is a task of its own that builds the same `Request` HTTP/1.1 parses,
//! lets the socket's `Route` pick the site (with the same 421 rule for names that cross the TLS
//! connection's SNI) and asks `VirtualHost::answer`, so every static-file behaviour is the
//! HTTP/1.1 one. What differs is only the way out: fields through HPACK, never the
//! connection-specific ones, and the body in DATA frames as the client's windows open.
//!
//! Deadlines stay in the worker's register: the connection's slot waits `Idle` (the keep-alive
//! timeout while no stream is open; a drain ends it at once and sends GOAWAY, letting open
//! streams finish), and each stream's slot bounds each wait for window by the send timeout, so
//! a client that never opens its window loses the stream, and the stream holds one chunk.

use std::future::poll_fn;
use std::os::unix::fs::FileExt;
use std::rc::Rc;
use std::task::Poll;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, SendStream};
use tokio::sync::OwnedSemaphorePermit;
use tracing::debug;

use super::deadlines::{Hold, Wait};
use super::handshake::until;
use super::stream::Stream;
use super::{Origin, Shared};
use crate::access_log::RequestFields;
use crate::cache::Outgoing;
use crate::http::parse::{Framing, Request};
use crate::http::{Body, Method, Response, Status, Version};
use crate::limits;

/// The ALPN protocol name of HTTP/2 over TLS.
pub(crate) const ALPN: &[u8] = b"h2";

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

/// The connection's life in `h2`'s hands, from the preface to the last frame.
async fn drive<S: Stream>(stream: &mut S, origin: Origin, shared: &Rc<Shared>, slot: u32) {
    let deadlines = &shared.deadlines;
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(limits::H2_MAX_CONCURRENT_STREAMS)
        .max_header_list_size(shared.limits.head.max_head_bytes as u32)
        .max_pending_accept_reset_streams(limits::H2_MAX_PENDING_RESETS)
        .max_local_error_reset_streams(Some(limits::H2_MAX_LOCAL_ERROR_RESETS))
        .max_send_buffer_size(limits::H2_CHUNK)
        .initial_window_size(limits::H2_WINDOW)
        .initial_connection_window_size(limits::H2_WINDOW);
    let mut handshake = builder.handshake::<_, Bytes>(stream);
    let deadline = deadlines.after(shared.limits.header_timeout);
    let handshaken = until(deadlines, slot, deadline, |cx| {
        std::pin::Pin::new(&mut handshake)
            .poll(cx)
            .map_err(std::io::Error::other)
    })
    .await;
    let mut connection = match handshaken {
        Ok(connection) => connection,
        Err(error) => {
            debug!(%error, "HTTP/2 preface failed");
            return;
        }
    };
    let origin = Rc::new(origin);
    let open = Rc::new(std::cell::Cell::new(0usize));
    let mut idle_deadline = None;
    loop {
        let next = poll_fn(|cx| {
            if deadlines.expired(slot) {
                return Poll::Ready(None);
            }
            match connection.poll_accept(cx) {
                Poll::Ready(Some(Ok(accepted))) => return Poll::Ready(Some(Some(accepted))),
                Poll::Ready(Some(Err(error))) => {
                    debug!(%error, "HTTP/2 connection error");
                    return Poll::Ready(Some(None));
                }
                Poll::Ready(None) => return Poll::Ready(Some(None)),
                Poll::Pending => {}
            }
            // No stream open: the keep-alive timeout runs. Streams open: only a drain ends
            // the wait.
            let deadline = if open.get() == 0 {
                *idle_deadline
                    .get_or_insert_with(|| deadlines.after(shared.limits.keepalive_timeout))
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
            Some(Some((request, respond))) => {
                idle_deadline = None;
                open.set(open.get() + 1);
                let stream = StreamTask {
                    shared: shared.clone(),
                    origin: origin.clone(),
                    open: open.clone(),
                };
                tokio::task::spawn_local(stream.run(request, respond));
            }
            // The client closed, or broke the protocol (`h2` has sent GOAWAY).
            Some(None) => break,
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
    async fn run(self, request: http::Request<h2::RecvStream>, mut respond: SendResponse<Bytes>) {
        let started_us = crate::clock::monotonic_us();
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
        let request = Request {
            method,
            target: &target,
            version: Version::Http2,
            headers: &fields,
            framing: Framing::None,
            keep_alive: true,
            expect_continue: false,
        };

        let route = &self.origin.route;
        let (site, misdirected) = match self.origin.sni_site {
            Some(sni) if !route.is_single() => {
                let named = request.authority().map(|a| route.select(Some(a)));
                (sni, named.is_some_and(|named| named != sni))
            }
            Some(sni) => (sni, false),
            None => (route.select(request.authority()), false),
        };
        let host = &self.shared.hosts[site];
        let log = host.access_log.map(|sink| {
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
        let outgoing = if misdirected {
            Outgoing::Built(Response::error(Status::MISDIRECTED_REQUEST))
        } else {
            host.answer_uncached(&request, self.origin.secure)
        };
        let hsts = host.hsts_value();
        let head_only = method == Method::Head;
        let status = outgoing.status();
        let response = match outgoing {
            Outgoing::Built(response) => response,
            // Not produced by `answer_uncached`.
            Outgoing::Cached(_) => Response::error(Status::INTERNAL_SERVER_ERROR),
        };
        let sent = self
            .send(&mut respond, response, hsts, head_only)
            .await
            .unwrap_or_else(|partial| partial);
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
        respond: &mut SendResponse<Bytes>,
        response: Response,
        hsts: Option<&str>,
        head_only: bool,
    ) -> Result<u64, u64> {
        let status = response.status;
        let with_body = status.allows_body();
        let mut head = http::Response::builder().status(status.code());
        head = head.header(http::header::SERVER, crate::http::encode::SERVER);
        crate::http::date::with_now(|now| {
            head = std::mem::take(&mut head).header(http::header::DATE, now);
        });
        for (name, value) in &response.headers {
            head = head.header(*name, value.as_ref());
        }
        if let Some(value) = hsts {
            head = head.header(http::header::STRICT_TRANSPORT_SECURITY, value);
        }
        if with_body {
            head = head.header(http::header::CONTENT_LENGTH, response.body.len());
        }
        let Ok(head) = head.body(()) else {
            respond.send_reset(Reason::INTERNAL_ERROR);
            return Err(0);
        };
        let empty = !with_body || head_only || response.body.is_empty();
        let mut body = match respond.send_response(head, empty) {
            Ok(body) => body,
            Err(_) => return Err(0),
        };
        if empty {
            return Ok(0);
        }
        let mut sender = BodySender {
            shared: &self.shared,
            stream: &mut body,
            sent: 0,
        };
        match sender.send_body(response.body).await {
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
    stream: &'a mut SendStream<Bytes>,
    sent: u64,
}

impl BodySender<'_> {
    async fn send_body(&mut self, body: Body) -> Result<(), ()> {
        let total = body.len();
        match body {
            Body::Empty => self.send(Bytes::new(), true).await,
            Body::Static(bytes) => self.send(Bytes::from_static(bytes), true).await,
            Body::Bytes(bytes) => self.send(Bytes::from(bytes), true).await,
            Body::Shared { bytes, offset, len } => {
                self.send(Bytes::copy_from_slice(&bytes[offset..offset + len]), true)
                    .await
            }
            Body::File { file, offset, len } => self.send_file(&file, offset, len, total).await,
            Body::Multipart { source, segments } => {
                let mut done = 0;
                for segment in segments {
                    match segment {
                        crate::http::response::Segment::Literal(bytes) => {
                            done += bytes.len() as u64;
                            self.send(Bytes::from(bytes), done == total).await?;
                        }
                        crate::http::response::Segment::Range { offset, len } => {
                            match &source {
                                crate::http::response::Source::File(file) => {
                                    self.send_file(file, offset, len, total).await?;
                                }
                                crate::http::response::Source::Shared(bytes) => {
                                    let (start, end) = (offset as usize, (offset + len) as usize);
                                    let chunk = Bytes::copy_from_slice(&bytes[start..end]);
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
            self.send(Bytes::from(chunk), last).await?;
        }
        Ok(())
    }

    /// Sends `data`, waiting (under the send timeout, each wait) for the window it needs.
    async fn send(&mut self, mut data: Bytes, end: bool) -> Result<(), ()> {
        if data.is_empty() {
            return if end {
                self.stream.send_data(data, true).map_err(|_| ())
            } else {
                Ok(())
            };
        }
        let deadlines = &self.shared.deadlines;
        let slot = deadlines.register();
        let result = async {
            while !data.is_empty() {
                self.stream.reserve_capacity(data.len());
                let deadline = deadlines.after(self.shared.limits.send_timeout);
                let mut armed = false;
                let granted = poll_fn(|cx| match self.stream.poll_capacity(cx) {
                    Poll::Ready(Some(Ok(n))) if n > 0 => Poll::Ready(Ok(n)),
                    Poll::Ready(Some(Ok(_))) | Poll::Pending => {
                        match deadlines.hold(&mut armed, slot, Wait::Write, || deadline, cx.waker())
                        {
                            Hold::Waiting => Poll::Pending,
                            Hold::Expired | Hold::Refused => Poll::Ready(Err(())),
                        }
                    }
                    Poll::Ready(Some(Err(_)) | None) => Poll::Ready(Err(())),
                })
                .await?;
                let piece = data.split_to(granted.min(data.len()));
                let piece_len = piece.len() as u64;
                let last = end && data.is_empty();
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
