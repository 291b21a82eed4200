//! A raw HTTP/1.1 client over real sockets: bytes out exactly as written, responses parsed
//! just enough to assert on (status, fields, body by Content-Length or chunked or close).
//! It speaks over a plain socket, or over any other byte stream (`tls.rs` gives it TLS).

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::WAIT;

/// A parsed response.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Header names and values, minus Date (which may tick between two responses).
    pub(crate) fn stable_headers(&self) -> HashMap<String, String> {
        self.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    }
}

/// A client connection with its own read buffer, so pipelined responses can be read one by one.
pub(crate) struct Client<S = TcpStream> {
    pub stream: S,
    buffer: Vec<u8>,
}

impl Client {
    pub(crate) fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        Client::over(stream)
    }
}

impl<S: Read + Write> Client<S> {
    /// A client over a stream that is already connected (and whose reads time out).
    pub(crate) fn over(stream: S) -> Client<S> {
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a GET for `path` with a Host header.
    pub(crate) fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.response()
    }

    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 65536];
        match self.stream.read(&mut chunk) {
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                n
            }
            // A reset, or (over TLS) a close without close_notify: the end either way.
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::UnexpectedEof
                ) =>
            {
                0
            }
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Reads one response to a GET (or any method with a body).
    pub(crate) fn response(&mut self) -> Response {
        self.read_response(false).expect("a response")
    }

    /// Reads one response to a HEAD request: no body whatever Content-Length says.
    pub(crate) fn head_response(&mut self) -> Response {
        self.read_response(true).expect("a response")
    }

    /// Reads one response; `None` if the connection closed before a full head arrived.
    pub(crate) fn read_response(&mut self, to_head: bool) -> Option<Response> {
        let head_end = loop {
            if let Some(pos) = find(&self.buffer, b"\r\n\r\n") {
                break pos + 4;
            }
            if self.fill() == 0 {
                return None;
            }
        };
        let head = String::from_utf8(self.buffer[..head_end].to_vec()).expect("UTF-8 head");
        self.buffer.drain(..head_end);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect(status_line);
        let headers: Vec<(String, String)> = lines
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (name, value) = l.split_once(':').expect("header line");
                (name.to_owned(), value.trim().to_owned())
            })
            .collect();
        let mut response = Response {
            status,
            head,
            headers,
            body: Vec::new(),
        };
        let has_body = !to_head && status >= 200 && status != 204 && status != 304;
        if has_body {
            let length: usize = response
                .header("content-length")
                .expect("Content-Length on every response with a body")
                .parse()
                .unwrap();
            while self.buffer.len() < length {
                assert!(self.fill() > 0, "connection closed mid-body");
            }
            response.body = self.buffer.drain(..length).collect();
        }
        Some(response)
    }

    /// Whether the server closes the connection: reads until end of stream and returns what came
    /// before it. Panics if the server keeps it open past `WAIT`.
    pub(crate) fn read_until_closed(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buffer)
    }

    /// True if the server has closed the connection (end of stream with nothing more sent).
    pub(crate) fn is_closed(&mut self) -> bool {
        self.read_until_closed().is_empty()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends raw bytes on a new connection and reads one response.
pub(crate) fn exchange(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut client = Client::connect(addr);
    client.send(raw);
    client.response()
}

/// GET `path` on a new connection, with extra header lines (each ending in CRLF).
pub(crate) fn get_with(addr: SocketAddr, path: &str, headers: &str) -> Response {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n").as_bytes(),
    )
}

/// GET `path` on a new connection.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Response {
    Client::connect(addr).get(path)
}
