//! A connection on the `[metrics]` socket: one request, answered, then the connection closes.
//!
//! The request head is read into a small buffer (`limits::METRICS_REQUEST_BYTES`) under the
//! header timeout, in the worker's deadline register like any other wait, so a scraper that
//! connects and says nothing holds a permit and a slot until then and never the worker: every
//! connection is a task of its own. The head is parsed by the server's own parser. `GET` (or
//! `HEAD`) of `/metrics` gets the page (`metrics::render`); another path 404; another method
//! on `/metrics` 405; a head that does not parse the status the parser's error maps to. Every
//! answer says `Connection: close`, and the close lingers so the answer is not lost to a reset.
//! Scrapes are neither logged nor counted.

use std::rc::Rc;

use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;

use super::Shared;
use super::handshake::until;
use super::stream::Stream;
use crate::error::{self, Rejection};
use crate::http::encode::{Persistence, write_head};
use crate::http::parse::{HeadLimits, header_slots, parse};
use crate::http::{Body, Method, Response, Status};
use crate::limits::METRICS_REQUEST_BYTES;

/// The one path served.
const PATH: &str = "/metrics";

/// Serves one connection accepted on the `[metrics]` socket.
pub(crate) async fn serve_scrape(
    mut stream: TcpStream,
    shared: Rc<Shared>,
    permit: OwnedSemaphorePermit,
) {
    let _permit = permit;
    let deadlines = &shared.deadlines;
    let slot = deadlines.register();
    let deadline = deadlines.after(shared.limits.header_timeout);
    let mut input = Vec::with_capacity(1024);
    let answer = loop {
        if let Some(answer) = answer(&input) {
            break answer;
        }
        // `answer` refuses a head before it fills the buffer, so there is always room.
        let room = METRICS_REQUEST_BYTES + 1 - input.len();
        let read = until(deadlines, slot, deadline, |cx| {
            stream.poll_read_some(cx, &mut bytes::BufMut::limit(&mut input, room))
        })
        .await;
        if !matches!(read, Ok(n) if n > 0) {
            // Gone, or silent past the header timeout: nothing to answer.
            deadlines.unregister(slot);
            return;
        }
    };
    let (response, head_only) = answer;
    let mut output = Vec::new();
    write_head(&mut output, &response, Persistence::Close);
    if !head_only && let Body::Bytes(body) = &response.body {
        output.extend_from_slice(body);
    }
    let writer = super::io::Writer {
        stream: &mut stream,
        shared: &shared,
        slot,
    };
    if writer.write_all(&mut output).await.is_ok() {
        super::io::linger(&mut stream, deadlines, slot).await;
    }
    deadlines.unregister(slot);
}

/// The answer to the head at the front of `input`, and whether it goes without its body
/// (HEAD); `None` while the head is incomplete.
fn answer(input: &[u8]) -> Option<(Response, bool)> {
    let limits = HeadLimits {
        max_head_bytes: METRICS_REQUEST_BYTES,
        max_headers: 64,
        // Never read: the connection closes after its answer.
        max_body_bytes: u64::MAX,
    };
    let mut slots = header_slots();
    let request = match parse(input, &mut slots, &limits) {
        Ok(None) => return None,
        Ok(Some((request, _))) => request,
        Err(e) => {
            let (status, _) = error::rejection(Rejection::Parse(e));
            return Some((Response::error(status), false));
        }
    };
    let path = request.target.split('?').next().unwrap_or_default();
    let head_only = request.method == Method::Head;
    let response = if path != PATH {
        Response::error(Status::NOT_FOUND)
    } else if !matches!(request.method, Method::Get | Method::Head) {
        Response::error(Status::METHOD_NOT_ALLOWED).with_header("Allow", "GET, HEAD")
    } else {
        let page = crate::metrics::render(crate::metrics::recorder());
        Response::new(Status::OK, Body::Bytes(page))
            .with_header("Content-Type", crate::metrics::CONTENT_TYPE)
            .with_header("Cache-Control", "no-store")
    };
    Some((response, head_only))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(request: &[u8]) -> Option<u16> {
        answer(request).map(|(response, _)| response.status.code())
    }

    #[test]
    fn only_get_or_head_of_metrics_is_answered_with_the_page() {
        let (page, head_only) = answer(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(page.status, Status::OK);
        assert!(!head_only);
        assert!(
            page.headers
                .iter()
                .any(|(name, value)| *name == "Content-Type"
                    && value == "text/plain; version=0.0.4; charset=utf-8")
        );
        assert_eq!(
            status(b"GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(200)
        );
        let (_, head_only) = answer(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert!(head_only);
        assert_eq!(status(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"), Some(404));
        assert_eq!(
            status(b"GET /metrics/ HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(404)
        );
        assert_eq!(
            status(b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n"),
            Some(405)
        );
    }

    #[test]
    fn incomplete_heads_wait_and_bad_ones_are_refused() {
        assert_eq!(status(b""), None);
        assert_eq!(status(b"GET /metrics HTTP/1.1\r\nHost"), None);
        assert_eq!(status(b"GET /metrics HTTP/9.9\r\n\r\n"), Some(505));
        assert_eq!(status(b"\x00\x01\r\n\r\n"), Some(400));
        let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000));
        assert_eq!(status(huge.as_bytes()), Some(431));
    }
}
