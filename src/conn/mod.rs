//! One client connection, from accept to close: buffers, deadlines, keep-alive, pipelining and
//! lingering close.
//!
//! The loop: serve every complete request already buffered, in order, queuing their responses
//! in one output buffer (pipelined responses go out in one write); flush; then wait for more
//! bytes under the right deadline. Request bodies are framed and discarded so the next request
//! starts at the right byte. A request that cannot be read gets its error response and the
//! connection is closed, after a lingering read so the response is not lost to a reset.

mod buffers;
mod deadlines;
mod io;
mod stream;

use std::rc::Rc;
use std::time::Duration;

use std::future::Future;
use std::pin::Pin;

use self::stream::Stream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{Level, debug, event};

use self::deadlines::{Deadlines, Wait};

use crate::cache::{Outgoing, ResponseCache};
use crate::error::{self, Rejection};
use crate::fs::Site;
use crate::http::body::BodyDecoder;
use crate::http::encode::Persistence;
use crate::http::parse::{Framing, HeadLimits, header_slots};
use crate::http::{Method, Response, Status, Version};

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
}

/// What every connection of a worker shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub site: Site,
    /// Small answers with their heads encoded, in front of `site`.
    pub cache: ResponseCache,
    pub limits: ConnLimits,
    /// Every connection's deadline; also ends idle connections when the worker drains.
    pub deadlines: Deadlines,
}

impl Shared {
    pub(crate) fn new(site: Site, cache: ResponseCache, limits: ConnLimits) -> Shared {
        Shared {
            site,
            cache,
            limits,
            deadlines: Deadlines::new(
                limits
                    .header_timeout
                    .min(limits.keepalive_timeout)
                    .min(limits.send_timeout),
            ),
        }
    }
}

/// Why a connection ends early.
#[derive(Debug)]
enum Failure {
    /// The client must be told why (a status from `error::rejection`), then the connection
    /// closed. Boxed: the reason's text would otherwise widen every connection's future, for a
    /// path taken once per connection at most.
    Reply(Box<Rejection>),
    /// The client went away, or a socket error: nothing more can be sent.
    Gone(std::io::Error),
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
}

/// What the "finished" point knows of one response.
#[derive(Clone, Copy)]
struct Sent {
    status: Status,
    /// Head and body.
    bytes: u64,
    /// When the request's head was complete, on `clock::monotonic_ms`.
    started_ms: u64,
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
    shared: Rc<Shared>,
    permit: OwnedSemaphorePermit,
) -> impl Future<Output = ()> {
    let slot = shared.deadlines.register();
    let mut conn = Connection {
        stream,
        shared,
        input: Vec::new(),
        output: Vec::new(),
        served: 0,
        slot,
    };
    async move {
        let end = match conn.run().await {
            Ok(end) => end,
            Err(Failure::Reply(rejection)) => match Box::pin(conn.reject(rejection)).await {
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
    /// Bytes received and not yet consumed; bounded by the head limit plus one read.
    input: Vec<u8>,
    /// Responses queued and not yet written; flushed before any wait on the client.
    output: Vec<u8>,
    /// Requests answered on this connection.
    served: u32,
    /// This connection's key in the worker's deadline register.
    slot: u32,
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
                (Wait::Idle, deadline)
            };
            match self.wait_for_bytes(wait, deadline).await? {
                Arrival::Data => {}
                Arrival::Eof | Arrival::Drain => return Ok(End::Quiet),
                Arrival::Timeout if self.input.is_empty() => return Ok(End::Quiet),
                Arrival::Timeout => return Err(Failure::Reply(Box::new(Rejection::Timeout))),
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
            Box::pin(self.discard_body(exchange.framing)).await?;
            self.answer(exchange)?.finish().await
        }))))
    }

    /// Parses the request at the front of the input and runs it through the site. `None`: the
    /// head is not complete yet.
    fn next_exchange(&self) -> Result<Option<Exchange>, Failure> {
        let mut slots = header_slots();
        match crate::http::parse::parse(&self.input, &mut slots, &self.shared.limits.head) {
            Ok(None) => Ok(None),
            Err(parse_error) => Err(Failure::Reply(Box::new(Rejection::Parse(parse_error)))),
            Ok(Some((request, head_len))) => Ok(Some(Exchange {
                head_len,
                framing: request.framing,
                expect_continue: request.expect_continue,
                head_only: request.method == Method::Head,
                keep_alive: request.keep_alive,
                version: request.version,
                response: self.shared.cache.serve(&self.shared.site, &request),
                close: false,
                started_ms: crate::clock::monotonic_ms(),
            })),
        }
    }

    /// The one place a response is queued: its head and, when small, its body now; a body that
    /// must be sent from where it is (a large file, a multipart body) as the returned future.
    fn answer(&mut self, exchange: Exchange) -> Result<Answer<'_>, Failure> {
        let (persistence, next) = self.decide(&exchange);
        let sends_body = exchange.sends_body();
        let status = exchange.response.status();
        self.ensure_output();
        let head_start = self.output.len();
        exchange.response.write_head(&mut self.output, persistence);
        let mut sent = Sent {
            status,
            bytes: (self.output.len() - head_start) as u64,
            started_ms: exchange.started_ms,
        };
        if !sends_body {
            self.finished(sent);
            return Ok(Answer::Queued(next));
        }
        let body = exchange.response.into_body();
        sent.bytes += body.len();
        if io::fits_inline(&body) {
            io::append_inline(&mut self.output, body)?;
            self.finished(sent);
            return Ok(Answer::Queued(next));
        }
        Ok(Answer::Waits(Box::pin(async move {
            let (mut writer, output) = self.writer();
            io::append_body(&mut writer, output, body).await?;
            self.finished(sent);
            Ok(next)
        })))
    }

    /// The one point every response passes once it is complete on our side (queued or
    /// written), rejections included: where the access log and the request counters attach.
    fn finished(&self, sent: Sent) {
        debug!(
            peer = %self.peer(),
            status = sent.status.code(),
            bytes = sent.bytes,
            ms = crate::clock::monotonic_ms().saturating_sub(sent.started_ms),
            "served"
        );
    }

    /// Whether the connection stays open after this response, what the response must say about
    /// it, and how the connection closes if it does not.
    fn decide(&self, exchange: &Exchange) -> (Persistence, Next) {
        let keep_alive = exchange.keep_alive
            && !exchange.close
            && !self.shared.deadlines.is_draining()
            && self.served < self.shared.limits.max_requests;
        let persistence = match (keep_alive, exchange.version) {
            (false, _) => Persistence::Close,
            (true, Version::Http10) => Persistence::KeepAlive10,
            (true, Version::Http11) => Persistence::KeepAlive,
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
                .map_err(|e| Failure::Reply(Box::new(Rejection::Parse(e))))?;
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
                Arrival::Timeout => return Err(Failure::Reply(Box::new(Rejection::Timeout))),
            }
        }
    }

    /// Waits for more bytes from the client, until `deadline`. An idle keep-alive connection
    /// (`Wait::Idle`) also gives up its wait when the worker starts draining. A connection that
    /// is reading a request, or has not sent its first one yet, does not: it was accepted by
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
    async fn reject(&mut self, rejection: Box<Rejection>) -> Result<(), Failure> {
        let (status, level) = error::rejection(*rejection);
        if level == Level::DEBUG {
            debug!(peer = %self.peer(), ?rejection, "rejected request");
        } else {
            event!(Level::WARN, peer = %self.peer(), ?rejection, "rejected request");
        }
        let response = Response::error(status);
        self.ensure_output();
        let head_start = self.output.len();
        crate::http::encode::write_head(&mut self.output, &response, Persistence::Close);
        let sent = Sent {
            status,
            bytes: (self.output.len() - head_start) as u64 + response.body.len(),
            started_ms: crate::clock::monotonic_ms(),
        };
        io::append_inline(&mut self.output, response.body)?;
        self.finished(sent);
        Ok(self.flush().await?)
    }

    /// The client's address, for logs. Asked of the kernel when needed rather than kept: every
    /// byte of a connection's state is paid for by each of thousands of idle connections.
    fn peer(&self) -> String {
        self.stream
            .peer_addr()
            .map_or_else(|_| "unknown".into(), |addr| addr.to_string())
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

#[cfg(test)]
mod tests;
