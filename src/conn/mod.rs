//! One client connection, from accept to close: buffers, deadlines, keep-alive, pipelining and
//! lingering close.
//!
//! The loop: serve every complete request already buffered, in order, queuing their responses
//! in one output buffer (pipelined responses go out in one write); flush; then wait for more
//! bytes under the right deadline. Request bodies are framed and discarded so the next request
//! starts at the right byte. A request that cannot be read gets its error response and the
//! connection is closed, after a lingering read so the response is not lost to a reset.
//!
//! Each request is answered by the site its authority names among those on the connection's
//! socket (`vhost::Route`). Its access log line is begun as soon as it is parsed, while its
//! bytes are in the input buffer, and completed at `finished()`, the one point every response
//! passes, with the body bytes that did go out.

mod buffers;
mod deadlines;
mod h2;
mod handshake;
mod io;
mod proxied;
mod scrape;
mod stream;

pub(crate) use h2::serve_cleartext;
pub(crate) use handshake::serve_tls;
pub(crate) use proxied::serve_proxied;
pub(crate) use scrape::serve_scrape;

use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use self::stream::Stream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{Level, debug, event};

use self::deadlines::{Deadlines, Wait};

use crate::access_log::{AccessLogs, Pending, RequestFields, SinkId};
use crate::cache::{Outgoing, ResponseCache};
use crate::error::{self, Rejection};
use crate::http::body::BodyDecoder;
use crate::http::encode::Persistence;
use crate::http::parse::Request;
use crate::http::parse::{Framing, HeadLimits, header_slots};
use crate::http::{Method, Response, Status, Version};
use crate::metrics::MethodClass;
use crate::vhost::{Route, VirtualHost};

/// Per-connection limits, from the configuration.
#[derive(Clone, Copy, Debug)]
pub struct ConnLimits {
    pub head: HeadLimits,
    /// Time to receive a whole request head, from its first byte; also each read of a body.
    pub header_timeout: Duration,
    /// Time an idle keep-alive connection waits for its next request.
    pub keepalive_timeout: Duration,
    /// Time one write may wait for the client to read.
    pub send_timeout: Duration,
    /// Requests served before the connection is closed.
    pub max_requests: u32,
    pub http2: Http2Limits,
}

/// HTTP/2's own bounds, per connection ([`crate::limits`] has the defaults and their reasons).
#[derive(Clone, Copy, Debug)]
pub struct Http2Limits {
    pub max_concurrent_streams: u32,
    /// Streams the client may reset before the server accepts them (Rapid Reset).
    pub max_pending_resets: usize,
    /// Streams the server may reset for the client's errors (MadeYouReset).
    pub max_error_resets: usize,
}

impl Default for Http2Limits {
    fn default() -> Http2Limits {
        Http2Limits {
            max_concurrent_streams: crate::limits::H2_MAX_CONCURRENT_STREAMS,
            max_pending_resets: crate::limits::H2_MAX_PENDING_RESETS,
            max_error_resets: crate::limits::H2_MAX_LOCAL_ERROR_RESETS,
        }
    }
}

/// What every connection of a worker shares.
pub(crate) struct Shared {
    /// The worker's sites; a connection's `Route` picks one per request.
    pub hosts: Vec<VirtualHost>,
    /// The access logs the sites write to.
    pub logs: AccessLogs,
    /// Small answers with their heads encoded, in front of the sites.
    pub cache: ResponseCache,
    pub limits: ConnLimits,
    /// Every connection's deadline; also ends idle connections when the worker drains.
    pub deadlines: Deadlines,
}

impl Shared {
    pub(crate) fn new(
        hosts: Vec<VirtualHost>,
        logs: AccessLogs,
        cache: ResponseCache,
        limits: ConnLimits,
    ) -> Shared {
        Shared {
            hosts,
            logs,
            cache,
            limits,
            deadlines: Deadlines::new(
                [limits.keepalive_timeout, limits.send_timeout]
                    .into_iter()
                    .filter(|timeout| !timeout.is_zero())
                    .fold(limits.header_timeout, Duration::min),
            ),
        }
    }
}

/// Why a connection ends early.
enum Failure {
    /// The client must be told why (a status from `error::rejection`), then the connection
    /// closed. Boxed: the reason's text would otherwise widen every connection's future, for a
    /// path taken once per connection at most.
    Reply(Box<Refusal>),
    /// The client went away, or a socket error: nothing more can be sent.
    Gone(std::io::Error),
}

/// A rejected request, and its access log line if it was begun (a body that fails to frame).
struct Refusal {
    rejection: Rejection,
    log: Option<Logged>,
    /// Its site and method, if its head was parsed (for the metrics).
    request: Option<(usize, MethodClass)>,
}

impl Failure {
    fn reply(rejection: Rejection) -> Failure {
        Failure::Reply(Box::new(Refusal {
            rejection,
            log: None,
            request: None,
        }))
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        Failure::Gone(error)
    }
}

/// How a connection that ended normally is closed.
#[derive(Debug, PartialEq, Eq)]
enum End {
    /// Nothing pending in either direction: just close.
    Quiet,
    /// We sent `Connection: close`; the client may still be sending.
    Linger,
}

/// What follows an answered request.
enum Next {
    KeepAlive,
    Close(End),
}

/// What the request at the front of the input came to.
enum Step<'a> {
    /// Its head is not complete yet.
    Incomplete,
    Answered(Answer<'a>),
}

/// How far answering a request got without waiting.
enum Answer<'a> {
    /// The response is queued.
    Queued(Next),
    /// Answering it waits on the socket (a request body, a large response). Boxed: the path is
    /// rare and its state large, and every idle connection would otherwise pay for it.
    Waits(Pin<Box<dyn Future<Output = Result<Next, Failure>> + 'a>>),
}

impl Answer<'_> {
    async fn finish(self) -> Result<Next, Failure> {
        match self {
            Answer::Queued(next) => Ok(next),
            Answer::Waits(rest) => rest.await,
        }
    }
}

/// A request whose head has been read, and the response it gets.
struct Exchange {
    head_len: usize,
    framing: Framing,
    expect_continue: bool,
    head_only: bool,
    keep_alive: bool,
    version: Version,
    response: Outgoing,
    /// The connection closes after this response whatever the client asked: it is answered
    /// before its body was read.
    close: bool,
    /// When its head was complete, on `clock::monotonic_ms`.
    started_ms: u64,
    /// Its access log line, begun while the request's bytes are at hand, if its site logs.
    log: Option<Logged>,
    /// The site's `Strict-Transport-Security` field line, on a TLS connection.
    hsts: Option<Rc<[u8]>>,
    /// The site that answered it, and its method, as the metrics count them.
    site: usize,
    method: MethodClass,
}

/// An access log line waiting for the end of its response.
struct Logged {
    line: Pending,
    /// When the request's head was complete, on `clock::monotonic_us`.
    started_us: u64,
}

/// What the "finished" point knows of one response.
struct Sent {
    status: Status,
    /// Body bytes sent (all of them once queued; as many as went out if a send failed).
    body_bytes: u64,
    /// When the request's head was complete, on `clock::monotonic_ms`.
    started_ms: u64,
    log: Option<Logged>,
    /// Where the metrics count it: the site (host index) and the request's method.
    site: usize,
    method: MethodClass,
}

impl Exchange {
    /// Whether the response carries its body: not for HEAD, nor for statuses that have none
    /// (RFC 9110 §6.4.1: 1xx, 204, 304).
    fn sends_body(&self) -> bool {
        !self.head_only && self.response.status().allows_body()
    }
}

/// Serves one accepted connection until it closes. Holds the worker's connection permit for as
/// long as it lives.
///
/// Not an `async fn`: its arguments would be stored twice in the future, once as arguments and
/// once in the connection, and every idle connection would pay for both.
pub(crate) fn serve<S: Stream + 'static>(
    stream: S,
    origin: Origin,
    shared: Rc<Shared>,
    permit: OwnedSemaphorePermit,
) -> impl Future<Output = ()> {
    serve_with_input(stream, origin, shared, permit, Vec::new())
}

/// [`serve`], with the first bytes of the connection already read into `input`.
pub(crate) fn serve_with_input<S: Stream + 'static>(
    stream: S,
    origin: Origin,
    shared: Rc<Shared>,
    permit: OwnedSemaphorePermit,
    input: Vec<u8>,
) -> impl Future<Output = ()> {
    let slot = shared.deadlines.register();
    let mut conn = Connection {
        stream,
        shared,
        origin: Box::new(origin),
        input,
        output: Vec::new(),
        served: 0,
        slot,
    };
    async move {
        let end = match conn.run().await {
            Ok(End::Quiet) if conn.stream.closes_with_a_message() => {
                let deadline = conn.shared.deadlines.after(crate::limits::LINGER_TIMEOUT);
                let (deadlines, slot) = (&conn.shared.deadlines, conn.slot);
                let _ = Box::pin(io::shut_down(&mut conn.stream, deadlines, slot, deadline)).await;
                End::Quiet
            }
            Ok(end) => end,
            Err(Failure::Reply(refusal)) => match Box::pin(conn.reject(refusal)).await {
                Ok(()) => End::Linger,
                Err(_) => End::Quiet,
            },
            Err(Failure::Gone(error)) => {
                debug!(peer = %conn.peer(), %error, "connection lost");
                End::Quiet
            }
        };
        if end == End::Linger {
            Box::pin(conn.linger()).await;
        }
        drop(conn);
        drop(permit);
    }
}

struct Connection<S> {
    stream: S,
    shared: Rc<Shared>,
    /// Where the connection came from and arrived. Boxed: read once per request, and every
    /// idle connection would otherwise carry a socket address in its future.
    origin: Box<Origin>,
    /// Bytes received and not yet consumed; bounded by the head limit plus one read.
    input: Vec<u8>,
    /// Responses queued and not yet written; flushed before any wait on the client.
    output: Vec<u8>,
    /// Requests answered on this connection.
    served: u32,
    /// This connection's key in the worker's deadline register.
    slot: u32,
}

/// Where a connection came from, and how it arrived.
pub(crate) struct Origin {
    pub peer: SocketAddr,
    /// The sites on the socket the connection arrived on.
    pub route: Rc<Route>,
    /// It arrived over TLS.
    pub secure: bool,
    /// The site its TLS server name (SNI) chose: every request on it must be for that site.
    pub sni_site: Option<usize>,
}

impl Origin {
    /// The site that answers `request` on this connection, and whether the request is
    /// misdirected (`421`): names must not cross on one TLS connection, since its certificate
    /// was the SNI site's, and only that site answers on it (RFC 9110 §7.4).
    pub(crate) fn site_for(&self, request: &Request<'_, '_>) -> (usize, bool) {
        let route = &self.route;
        match self.sni_site {
            Some(sni) if !route.is_single() => {
                let named = request.authority().map(|a| route.select(Some(a)));
                (sni, named.is_some_and(|named| named != sni))
            }
            Some(sni) => (sni, false),
            None if route.is_single() => (route.default, false),
            None => (route.select(request.authority()), false),
        }
    }

    /// A connection on a plain socket.
    pub(crate) fn plain(peer: SocketAddr, route: Rc<Route>) -> Origin {
        Origin {
            peer,
            route,
            secure: false,
            sni_site: None,
        }
    }
}

impl<S> Drop for Connection<S> {
    fn drop(&mut self) {
        self.shared.deadlines.unregister(self.slot);
    }
}

/// What a wait for more request bytes ended with.
enum Arrival {
    Data,
    Eof,
    Timeout,
    /// The worker is draining; the connection was idle and closes.
    Drain,
}

impl<S: Stream> Connection<S> {
    async fn run(&mut self) -> Result<End, Failure> {
        // The deadline of the request head being read: it runs from the head's first bytes (when
        // we first find it incomplete), not from each read.
        let mut head_deadline: Option<u64> = None;
        loop {
            while !self.input.is_empty() {
                let next = match self.step()? {
                    Step::Incomplete => break,
                    Step::Answered(Answer::Queued(next)) => next,
                    Step::Answered(Answer::Waits(rest)) => rest.await?,
                };
                head_deadline = None;
                if self.output.len() >= crate::limits::OUTPUT_FLUSH_BYTES {
                    self.flush().await?;
                }
                match next {
                    Next::KeepAlive => {}
                    Next::Close(end) => {
                        self.flush().await?;
                        return Ok(end);
                    }
                }
            }
            self.flush().await?;

            // A new connection's first request is awaited like a head in progress: nginx's
            // client_header_timeout, not the keep-alive one.
            let limits = &self.shared.limits;
            let (wait, deadline) = if !self.input.is_empty() || self.served == 0 {
                let deadline = head_deadline
                    .get_or_insert_with(|| self.shared.deadlines.after(limits.header_timeout));
                (Wait::Read, *deadline)
            } else {
                let deadline = self.shared.deadlines.after(limits.keepalive_timeout);
                (Wait::KeepAlive, deadline)
            };
            match self.wait_for_bytes(wait, deadline).await? {
                Arrival::Data => {}
                Arrival::Eof | Arrival::Drain => return Ok(End::Quiet),
                Arrival::Timeout if self.input.is_empty() => return Ok(End::Quiet),
                Arrival::Timeout => return Err(Failure::reply(Rejection::Timeout)),
            }
        }
    }

    /// Reads the request at the front of the input and answers it. A plain function, so the
    /// exchange (the largest local) never sits in the connection's future; only an answer that
    /// must wait on the socket (a request body, a large response body) becomes a future.
    fn step(&mut self) -> Result<Step<'_>, Failure> {
        let Some(mut exchange) = self.next_exchange()? else {
            return Ok(Step::Incomplete);
        };
        self.input.drain(..exchange.head_len);
        self.served += 1;
        if exchange.framing == Framing::None {
            return Ok(Step::Answered(self.answer(exchange)?));
        }
        if exchange.expect_continue {
            // The client waits for 100 Continue before sending its body. We do not want the
            // body, so we answer now and close (RFC 9110 §10.1.1) instead of reading it.
            exchange.close = true;
            return Ok(Step::Answered(self.answer(exchange)?));
        }
        Ok(Step::Answered(Answer::Waits(Box::pin(async move {
            match Box::pin(self.discard_body(exchange.framing)).await {
                Ok(()) => {}
                // The refusal is this request's answer: its log line is the one begun for it.
                Err(Failure::Reply(mut refusal)) => {
                    refusal.log = exchange.log.take();
                    refusal.request = Some((exchange.site, exchange.method));
                    return Err(Failure::Reply(refusal));
                }
                Err(gone) => return Err(gone),
            }
            self.answer(exchange)?.finish().await
        }))))
    }

    /// Parses the request at the front of the input and runs it through the site. `None`: the
    /// head is not complete yet.
    fn next_exchange(&self) -> Result<Option<Exchange>, Failure> {
        let mut slots = header_slots();
        match crate::http::parse::parse(&self.input, &mut slots, &self.shared.limits.head) {
            Ok(None) => Ok(None),
            Err(parse_error) => Err(Failure::reply(Rejection::Parse(parse_error))),
            Ok(Some((request, head_len))) => {
                let (site, misdirected) = self.origin.site_for(&request);
                let host = &self.shared.hosts[site];
                let log = host
                    .log_sink(&request)
                    .map(|sink| self.begin_log(sink, host, Some((&request, head_len))));
                let response = if misdirected {
                    Outgoing::Built(Response::error(Status::MISDIRECTED_REQUEST))
                } else {
                    host.answer(site, &self.shared.cache, &request, self.origin.secure)
                };
                Ok(Some(Exchange {
                    head_len,
                    framing: request.framing,
                    expect_continue: request.expect_continue,
                    head_only: request.method == Method::Head,
                    keep_alive: request.keep_alive,
                    version: request.version,
                    response,
                    hsts: if self.origin.secure {
                        host.hsts_line.clone()
                    } else {
                        None
                    },
                    close: false,
                    started_ms: crate::clock::monotonic_ms(),
                    log,
                    site,
                    method: MethodClass::of(request.method),
                }))
            }
        }
    }

    /// The site a refused request named, read leniently from what was received: its
    /// absolute-form authority or Host, if the head got that far; else the default site. Only
    /// for its log line: it was answered without a site.
    fn refused_site(&self) -> usize {
        let route = &self.origin.route;
        if route.is_single() {
            return route.default;
        }
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut head = httparse::Request::new(&mut fields);
        // A partial head fills what it has; an error leaves what was read before it.
        let _ = head.parse(&self.input);
        let absolute = head.path.and_then(|target| {
            crate::http::target::absolute_authority(target)
                .ok()
                .flatten()
        });
        let host = absolute.or_else(|| {
            let host = head
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("host"))?;
            std::str::from_utf8(host.value).ok()
        });
        route.select(host)
    }

    /// Renders the request's side of its access log line: `request` with its head's length,
    /// or `None` for a request that could not be parsed, whose first line is logged as sent
    /// (and, in json, split at its two spaces if it has exactly two).
    fn begin_log(
        &self,
        sink: SinkId,
        host: &VirtualHost,
        request: Option<(&Request<'_, '_>, usize)>,
    ) -> Logged {
        let head = match request {
            Some((_, head_len)) => &self.input[..head_len],
            None => &self.input[..],
        };
        let request_line = first_line(head);
        let user = request
            .and_then(|(r, _)| r.header("authorization"))
            .and_then(crate::auth::basic_user);
        let request = request.map(|(r, _)| r);
        let (method, target, protocol) = match request {
            Some(r) => (
                request_line.and_then(|l| l.split(|&b| b == b' ').next()),
                Some(r.target.as_bytes()),
                Some(match r.version {
                    Version::Http10 => "HTTP/1.0",
                    Version::Http11 => "HTTP/1.1",
                    Version::Http2 => "HTTP/2.0",
                }),
            ),
            None => split_request_line(request_line),
        };
        let fields = RequestFields {
            peer: self.origin.peer.ip(),
            user: user.as_deref().map(str::as_bytes),
            site: &host.name,
            request_line,
            method,
            target,
            protocol,
            referer: request.and_then(|r| r.header("referer")),
            user_agent: request.and_then(|r| r.header("user-agent")),
        };
        Logged {
            line: self.shared.logs.begin(sink, &fields),
            started_us: crate::clock::monotonic_us(),
        }
    }

    /// The one place a response is queued: its head and, when small, its body now; a body that
    /// must be sent from where it is (a large file, a multipart body) as the returned future.
    /// A response still being made (a listing, `Outgoing::Later`) is awaited first, in the
    /// returned future: the responses queued before it are written while it is made, and the
    /// requests after it wait their turn, so pipelined responses keep their order.
    fn answer(&mut self, mut exchange: Exchange) -> Result<Answer<'_>, Failure> {
        if matches!(exchange.response, Outgoing::Later(_)) {
            return Ok(Answer::Waits(Box::pin(async move {
                self.flush().await?;
                let later = std::mem::replace(&mut exchange.response, Outgoing::Built(unused()));
                exchange.response = later.ready().await;
                self.answer(exchange)?.finish().await
            })));
        }
        let (persistence, next) = self.decide(&exchange);
        let sends_body = exchange.sends_body();
        let status = exchange.response.status();
        self.ensure_output();
        exchange.response.write_head(&mut self.output, persistence);
        if let Some(line) = &exchange.hsts {
            // Before the blank line that ends the head.
            let end = self.output.len() - 2;
            self.output.truncate(end);
            self.output.extend_from_slice(line);
            self.output.extend_from_slice(b"\r\n");
        }
        let mut sent = Sent {
            status,
            body_bytes: 0,
            started_ms: exchange.started_ms,
            log: exchange.log,
            site: exchange.site,
            method: exchange.method,
        };
        if !sends_body {
            self.finished(sent);
            return Ok(Answer::Queued(next));
        }
        let body = exchange.response.into_body();
        if io::fits_inline(&body) {
            sent.body_bytes = body.len();
            io::append_inline(&mut self.output, body)?;
            self.finished(sent);
            return Ok(Answer::Queued(next));
        }
        Ok(Answer::Waits(Box::pin(async move {
            let (mut writer, output) = self.writer();
            let mut body_sent = 0;
            let result = io::append_body(&mut writer, output, body, &mut body_sent).await;
            // An aborted download is logged too, with the bytes that did go out.
            sent.body_bytes = body_sent;
            self.finished(sent);
            result?;
            Ok(next)
        })))
    }

    /// The one point every response passes once it is complete on our side (queued or
    /// written), rejections included: where the access log and the request counters attach.
    fn finished(&self, sent: Sent) {
        let status = sent.status.code();
        crate::metrics::recorder().request(sent.site, sent.method, status, sent.body_bytes);
        if let Some(log) = sent.log {
            let duration_us = crate::clock::monotonic_us().saturating_sub(log.started_us);
            self.shared
                .logs
                .finish(log.line, status, sent.body_bytes, duration_us);
        }
        debug!(
            peer = %self.peer(),
            status = sent.status.code(),
            bytes = sent.body_bytes,
            ms = crate::clock::monotonic_ms().saturating_sub(sent.started_ms),
            "served"
        );
    }

    /// Whether the connection stays open after this response, what the response must say about
    /// it, and how the connection closes if it does not.
    fn decide(&self, exchange: &Exchange) -> (Persistence, Next) {
        // A zero keep-alive time turns keep-alive off, as nginx's `keepalive_timeout 0` does.
        let keep_alive = exchange.keep_alive
            && !self.shared.limits.keepalive_timeout.is_zero()
            && !exchange.close
            && !self.shared.deadlines.is_draining()
            && self.served < self.shared.limits.max_requests;
        let persistence = match (keep_alive, exchange.version) {
            (false, _) => Persistence::Close,
            (true, Version::Http10) => Persistence::KeepAlive10,
            (true, Version::Http11 | Version::Http2) => Persistence::KeepAlive,
        };
        // Closing with nothing unread is a plain FIN. The lingering read is for when the client
        // may still be sending: bytes already buffered, or a body we chose not to read.
        let next = if keep_alive {
            Next::KeepAlive
        } else if exchange.close || !self.input.is_empty() {
            Next::Close(End::Linger)
        } else {
            Next::Close(End::Quiet)
        };
        (persistence, next)
    }

    /// Reads and drops a request body, leaving any bytes after it in the input.
    async fn discard_body(&mut self, framing: Framing) -> Result<(), Failure> {
        let max_body = self.shared.limits.head.max_body_bytes;
        let mut decoder = BodyDecoder::new(framing);
        loop {
            let progress = decoder
                .consume(&self.input, max_body)
                .map_err(|e| Failure::reply(Rejection::Parse(e)))?;
            self.input.drain(..progress.consumed);
            if progress.done {
                return Ok(());
            }
            self.flush().await?;
            let deadline = self
                .shared
                .deadlines
                .after(self.shared.limits.header_timeout);
            match self.wait_for_bytes(Wait::Read, deadline).await? {
                Arrival::Data => {}
                // A body in progress is not idle: a drain does not end this wait.
                Arrival::Eof | Arrival::Drain => {
                    return Err(Failure::Gone(std::io::ErrorKind::UnexpectedEof.into()));
                }
                Arrival::Timeout => return Err(Failure::reply(Rejection::Timeout)),
            }
        }
    }

    /// Waits for more bytes from the client, until `deadline`. An idle keep-alive connection
    /// (`Wait::KeepAlive`) waits at most the drain grace once the worker drains, and a request
    /// that arrives meanwhile is answered with `Connection: close`. A connection that is
    /// reading a request, or has not sent its first one yet, waits as usual: it was accepted by
    /// this worker, and closing it unanswered during a reload would fail a client that did
    /// nothing wrong.
    ///
    /// The wait holds no read state and no timer, so an idle connection's future is small; its
    /// buffers go back to the pool while it waits.
    async fn wait_for_bytes(&mut self, wait: Wait, deadline: u64) -> Result<Arrival, Failure> {
        buffers::give(std::mem::take(&mut self.output));
        if self.input.is_empty() {
            buffers::give(std::mem::take(&mut self.input));
        }
        let read_limit = self.shared.limits.head.max_head_bytes + crate::limits::READ_CHUNK;
        let deadlines = &self.shared.deadlines;
        let read = io::read(
            &mut self.stream,
            &mut self.input,
            read_limit,
            deadlines,
            self.slot,
            wait,
            deadline,
        );
        match read.await {
            Ok(io::Read::Data) => Ok(Arrival::Data),
            Ok(io::Read::Eof) => Ok(Arrival::Eof),
            Ok(io::Read::Expired) => Ok(Arrival::Timeout),
            Ok(io::Read::Refused) => Ok(Arrival::Drain),
            Err(error) => Err(Failure::Gone(error)),
        }
    }

    /// Answers a rejected request with its status and `Connection: close`, logged at the level
    /// the error table gives.
    async fn reject(&mut self, refusal: Box<Refusal>) -> Result<(), Failure> {
        let Refusal {
            rejection,
            log,
            request,
        } = *refusal;
        let (site, method) = request.unwrap_or_else(|| {
            let line = first_line(&self.input);
            (self.refused_site(), MethodClass::of_line(line))
        });
        // A request that could not be read is logged with its first line as it came, by the
        // site its Host names if it got that far (a 413 for its Content-Length, a 505), else
        // by the socket's default site, as nginx logs it in its default server.
        let log = log.or_else(|| {
            let host = &self.shared.hosts[site];
            let sink = host.access_log?;
            Some(self.begin_log(sink, host, None))
        });
        let (status, level) = error::rejection(rejection);
        if level == Level::DEBUG {
            debug!(peer = %self.peer(), ?rejection, "rejected request");
        } else {
            event!(Level::WARN, peer = %self.peer(), ?rejection, "rejected request");
        }
        let response = Response::error(status);
        self.ensure_output();
        crate::http::encode::write_head(&mut self.output, &response, Persistence::Close);
        let sent = Sent {
            status,
            body_bytes: response.body.len(),
            started_ms: crate::clock::monotonic_ms(),
            log,
            site,
            method,
        };
        io::append_inline(&mut self.output, response.body)?;
        self.finished(sent);
        Ok(self.flush().await?)
    }

    /// The client's address, for logs.
    fn peer(&self) -> SocketAddr {
        self.origin.peer
    }

    /// Borrows a write buffer from the pool if the connection has given its own back.
    fn ensure_output(&mut self) {
        if self.output.capacity() == 0 {
            self.output = buffers::take();
        }
    }

    /// The socket for writing, under this connection's send deadline, and the output buffer.
    fn writer(&mut self) -> (io::Writer<'_, S>, &mut Vec<u8>) {
        let writer = io::Writer {
            stream: &mut self.stream,
            shared: &self.shared,
            slot: self.slot,
        };
        (writer, &mut self.output)
    }

    /// Writes the queued responses. Returns the writer's future itself: a wrapping `async fn`
    /// would add its own state to every connection's future.
    fn flush(&mut self) -> impl Future<Output = std::io::Result<()>> + '_ {
        let (writer, output) = self.writer();
        writer.write_all(output)
    }

    async fn linger(&mut self) {
        io::linger(&mut self.stream, &self.shared.deadlines, self.slot).await;
    }
}

/// A placeholder while a response is taken out of its exchange to be awaited.
fn unused() -> Response {
    Response::new(Status::INTERNAL_SERVER_ERROR, crate::http::Body::Empty)
}

/// A refused request's line as `method target protocol`, if it has that shape: three parts
/// between two single spaces, the protocol text. Logged as sent (escaped), never interpreted.
type LineParts<'a> = (Option<&'a [u8]>, Option<&'a [u8]>, Option<&'a str>);

fn split_request_line(line: Option<&[u8]>) -> LineParts<'_> {
    let parts: Option<Vec<&[u8]>> = line.map(|l| l.split(|&b| b == b' ').collect());
    match parts.as_deref() {
        Some([method, target, protocol]) if !method.is_empty() && !target.is_empty() => {
            match std::str::from_utf8(protocol) {
                Ok(protocol) => (Some(method), Some(target), Some(protocol)),
                Err(_) => (None, None, None),
            }
        }
        _ => (None, None, None),
    }
}

/// The request line at the front of a head: up to its CR or LF, after any empty lines a
/// client may send before it (RFC 9112 §2.2). `None` if there is nothing.
fn first_line(head: &[u8]) -> Option<&[u8]> {
    let start = head.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let rest = &head[start..];
    let end = memchr::memchr2(b'\r', b'\n', rest).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests;
