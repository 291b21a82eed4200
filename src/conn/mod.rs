//! One client connection, from accept to close: buffers, deadlines, keep-alive, pipelining and
//! lingering close.
//!
//! The loop: serve every complete request already buffered, in order, queuing their responses
//! in one output buffer (pipelined responses go out in one write); flush; then wait for more
//! bytes under the right deadline. Request bodies are framed and discarded so the next request
//! starts at the right byte. A request that cannot be read gets its error response and the
//! connection is closed, after a lingering read so the response is not lost to a reset.

mod io;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, watch};
use tokio::time::{Instant, timeout_at};
use tracing::debug;

use crate::error;
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
pub struct Shared {
    pub site: Site,
    pub limits: ConnLimits,
}

/// Why a connection ends early.
#[derive(Debug)]
enum Failure {
    /// The client must be told this status, then the connection closed.
    Reply(Status),
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

/// A request whose head has been read, and the response it gets.
struct Exchange {
    head_len: usize,
    framing: Framing,
    expect_continue: bool,
    head_only: bool,
    keep_alive: bool,
    version: Version,
    response: Response,
}

/// Serves one accepted connection until it closes. Holds the worker's connection permit for as
/// long as it lives.
pub async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    drain: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let mut conn = Connection {
        stream,
        peer,
        shared,
        drain,
        input: Vec::new(),
        output: Vec::new(),
        served: 0,
    };
    let end = match conn.run().await {
        Ok(end) => end,
        Err(Failure::Reply(status)) => match conn.reply_and_close(status).await {
            Ok(()) => End::Linger,
            Err(_) => End::Quiet,
        },
        Err(Failure::Gone(error)) => {
            debug!(peer = %conn.peer, %error, "connection lost");
            End::Quiet
        }
    };
    if end == End::Linger {
        conn.linger().await;
    }
    drop(permit);
}

struct Connection {
    stream: TcpStream,
    peer: SocketAddr,
    shared: Arc<Shared>,
    /// Becomes true when the worker is stopping: finish the request in hand, then close.
    drain: watch::Receiver<bool>,
    /// Bytes received and not yet consumed; bounded by the head limit plus one read.
    input: Vec<u8>,
    /// Responses queued and not yet written; flushed before any wait on the client.
    output: Vec<u8>,
    /// Requests answered on this connection.
    served: u32,
}

/// What a wait for more request bytes ended with.
enum Arrival {
    Data,
    Eof,
    Timeout,
    Drain,
}

impl Connection {
    async fn run(&mut self) -> Result<End, Failure> {
        // When the first byte of the request being read arrived: the head deadline runs from it.
        let mut head_started: Option<Instant> = None;
        loop {
            while !self.input.is_empty() {
                head_started.get_or_insert_with(Instant::now);
                let Some(exchange) = self.next_exchange()? else {
                    break;
                };
                head_started = None;
                match self.answer(exchange).await? {
                    Next::KeepAlive => {}
                    Next::Close(end) => {
                        self.flush().await?;
                        return Ok(end);
                    }
                }
            }
            self.flush().await?;
            if self.input.is_empty() && self.input.capacity() > io::IDLE_BUFFER_MAX {
                self.input = Vec::new();
            }
            if self.output.capacity() > io::IDLE_BUFFER_MAX {
                self.output = Vec::new();
            }

            // A new connection's first request is awaited like a head in progress: nginx's
            // client_header_timeout, not the keep-alive one.
            let deadline = match head_started {
                Some(started) => started + self.shared.limits.header_timeout,
                None if self.served == 0 => Instant::now() + self.shared.limits.header_timeout,
                None => Instant::now() + self.shared.limits.keepalive_timeout,
            };
            match self.wait_for_bytes(deadline).await? {
                Arrival::Data => {}
                Arrival::Eof | Arrival::Drain => return Ok(End::Quiet),
                Arrival::Timeout if self.input.is_empty() => return Ok(End::Quiet),
                Arrival::Timeout => return Err(Failure::Reply(Status::REQUEST_TIMEOUT)),
            }
        }
    }

    /// Parses the request at the front of the input and runs it through the site. `None`: the
    /// head is not complete yet.
    fn next_exchange(&self) -> Result<Option<Exchange>, Failure> {
        let mut slots = header_slots();
        match crate::http::parse::parse(&self.input, &mut slots, &self.shared.limits.head) {
            Ok(None) => Ok(None),
            Err(parse_error) => {
                let (status, _) = error::parse_error(parse_error);
                debug!(peer = %self.peer, ?parse_error, "rejected request");
                Err(Failure::Reply(status))
            }
            Ok(Some((request, head_len))) => Ok(Some(Exchange {
                head_len,
                framing: request.framing,
                expect_continue: request.expect_continue,
                head_only: request.method == Method::Head,
                keep_alive: request.keep_alive,
                version: request.version,
                response: self.shared.site.serve(&request),
            })),
        }
    }

    /// Consumes the exchange's request and queues its response. Returns whether the connection
    /// stays open, and if not, how it closes.
    async fn answer(&mut self, exchange: Exchange) -> Result<Next, Failure> {
        self.input.drain(..exchange.head_len);
        self.served += 1;
        let mut response = exchange.response;
        if exchange.framing != Framing::None {
            if exchange.expect_continue {
                // The client waits for 100 Continue before sending its body. We do not want the
                // body, so we answer now and close (RFC 9110 §10.1.1) instead of reading it.
                response.close = true;
            } else {
                self.discard_body(exchange.framing).await?;
            }
        }
        let keep_alive = exchange.keep_alive
            && !response.close
            && !*self.drain.borrow()
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
        } else if response.close || !self.input.is_empty() {
            Next::Close(End::Linger)
        } else {
            Next::Close(End::Quiet)
        };
        self.queue(response, exchange.head_only, persistence)
            .await?;
        Ok(next)
    }

    /// Reads and drops a request body, leaving any bytes after it in the input.
    async fn discard_body(&mut self, framing: Framing) -> Result<(), Failure> {
        let max_body = self.shared.limits.head.max_body_bytes;
        let mut decoder = BodyDecoder::new(framing);
        loop {
            let progress = decoder.consume(&self.input, max_body).map_err(|e| {
                debug!(peer = %self.peer, ?e, "rejected request body");
                Failure::Reply(error::parse_error(e).0)
            })?;
            self.input.drain(..progress.consumed);
            if progress.done {
                return Ok(());
            }
            self.flush().await?;
            let deadline = Instant::now() + self.shared.limits.header_timeout;
            match self.wait_for_bytes(deadline).await? {
                Arrival::Data | Arrival::Drain => {}
                Arrival::Eof => {
                    return Err(Failure::Gone(std::io::ErrorKind::UnexpectedEof.into()));
                }
                Arrival::Timeout => return Err(Failure::Reply(Status::REQUEST_TIMEOUT)),
            }
        }
    }

    /// Waits for more bytes from the client, until `deadline`. An idle keep-alive connection
    /// also gives up its wait when the worker starts draining. A connection that has not sent
    /// its first request yet does not: it was accepted by this worker, and closing it unanswered
    /// during a reload would fail a client that did nothing wrong.
    async fn wait_for_bytes(&mut self, deadline: Instant) -> Result<Arrival, Failure> {
        let idle = self.input.is_empty() && self.served > 0;
        if idle && *self.drain.borrow() {
            return Ok(Arrival::Drain);
        }
        let read_limit = self.shared.limits.head.max_head_bytes + io::READ_CHUNK;
        tokio::select! {
            biased;
            _ = self.drain.changed(), if idle => Ok(Arrival::Drain),
            read = timeout_at(deadline, io::read_some(&mut self.stream, &mut self.input, read_limit)) => {
                match read {
                    Err(_) => Ok(Arrival::Timeout),
                    Ok(Ok(0)) => Ok(Arrival::Eof),
                    Ok(Ok(_)) => Ok(Arrival::Data),
                    Ok(Err(error)) => Err(Failure::Gone(error)),
                }
            }
        }
    }

    async fn reply_and_close(&mut self, status: Status) -> Result<(), Failure> {
        self.queue(Response::fatal(status), false, Persistence::Close)
            .await?;
        self.flush().await
    }

    /// Appends a response to the output. Small bodies are copied in, so head and body go out in
    /// one write; large files are sent with sendfile after the output is flushed.
    async fn queue(
        &mut self,
        response: Response,
        head_only: bool,
        persistence: Persistence,
    ) -> Result<(), Failure> {
        crate::http::encode::write_head(&mut self.output, &response, persistence);
        if !head_only && response.status.allows_body() {
            io::append_body(
                &mut self.stream,
                &mut self.output,
                response.body,
                self.shared.limits.send_timeout,
            )
            .await?;
        }
        if self.output.len() >= crate::limits::OUTPUT_FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        io::write_all(
            &mut self.stream,
            &mut self.output,
            self.shared.limits.send_timeout,
        )
        .await?;
        Ok(())
    }

    async fn linger(&mut self) {
        io::linger(&mut self.stream).await;
    }
}
