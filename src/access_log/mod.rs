//! The access log: one line per response, per worker, to a file, standard output or syslog.
//!
//! The config names destinations ([`Spec`]); each worker opens its own [`AccessLogs`] after fork
//! and the connection logs through it in two steps, because the request's bytes (in the
//! connection's read buffer) are gone by the time its response has been sent: [`AccessLogs::begin`]
//! renders what the request knows into a [`Pending`], [`AccessLogs::finish`] adds status, size and
//! duration and queues the line. A worker is one thread, so the sinks are `RefCell`s and nothing
//! is locked; lines from several workers meet only in the kernel (O_APPEND, or one datagram each).
//!
//! `format.rs` renders and escapes (no I/O); `sink.rs` buffers whole lines and writes them.

mod format;
mod sink;

use std::cell::RefCell;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;

use format::Time;
use sink::Sink;

/// How a line is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// nginx's `combined`, byte for byte (with the time always in UTC).
    Combined,
    /// One JSON object per line.
    Json,
}

/// Where lines go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    File(PathBuf),
    Stdout,
    /// RFC 5424 messages over UDP, one datagram per line; the address is resolved once, when the
    /// config is read.
    Syslog(SocketAddr),
}

/// One access log of the config: its destination and format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) destination: Destination,
    pub(crate) format: Format,
}

impl Destination {
    /// `stdout`, `syslog+udp://HOST:PORT` (an IP, `[v6]` or a name) or else a file path.
    pub(crate) fn parse(s: &str) -> Result<Destination, String> {
        if s == "stdout" {
            return Ok(Destination::Stdout);
        }
        if let Some(authority) = s.strip_prefix("syslog+udp://") {
            let usage = || "syslog+udp:// needs HOST:PORT".to_owned();
            let (host, port) = authority.rsplit_once(':').ok_or_else(usage)?;
            if host.is_empty() || !matches!(port.parse::<u16>(), Ok(1..)) {
                return Err(usage());
            }
            let mut addresses = authority
                .to_socket_addrs()
                .map_err(|e| format!("cannot resolve {host}: {e}"))?;
            return addresses
                .next()
                .map(Destination::Syslog)
                .ok_or_else(|| format!("{host} has no address"));
        }
        if s.is_empty() {
            return Err("an access log path must not be empty".to_owned());
        }
        Ok(Destination::File(PathBuf::from(s)))
    }
}

impl Format {
    pub(crate) fn parse(s: &str) -> Result<Format, String> {
        match s {
            "combined" => Ok(Format::Combined),
            "json" => Ok(Format::Json),
            _ => Err(format!(
                "unknown access log format {s:?} (combined or json)"
            )),
        }
    }
}

/// Opens a file destination and closes it again, so the master can refuse a config whose log
/// cannot be opened (at start-up and on reload) before any worker tries. Keeps nothing.
pub(crate) fn check(spec: &Spec) -> io::Result<()> {
    match &spec.destination {
        Destination::File(path) => sink::open_append(path).map(drop),
        Destination::Stdout | Destination::Syslog(_) => Ok(()),
    }
}

/// Which of the config's access logs a line goes to: the index of its [`Spec`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SinkId(pub(crate) u16);

/// What a request brings to its line. Byte fields are as received; the renderer escapes them.
pub(crate) struct RequestFields<'a> {
    pub(crate) peer: IpAddr,
    /// The Basic-auth user name, as sent.
    pub(crate) user: Option<&'a [u8]>,
    /// The site's name (json only).
    pub(crate) site: &'a str,
    /// The request line as received, without CRLF; `None` writes `-`.
    pub(crate) request_line: Option<&'a [u8]>,
    /// `None` when the request could not be parsed (json only, as are `target` and `protocol`).
    pub(crate) method: Option<&'a [u8]>,
    pub(crate) target: Option<&'a [u8]>,
    pub(crate) protocol: Option<&'a str>,
    pub(crate) referer: Option<&'a [u8]>,
    pub(crate) user_agent: Option<&'a [u8]>,
}

/// A line begun by [`AccessLogs::begin`]: the parts before and after the response's numbers,
/// rendered into one pooled buffer. Dropping it without `finish` just loses the line.
pub(crate) struct Pending {
    /// The rendered head (`..split`) and tail (`split..`).
    parts: Vec<u8>,
    split: u32,
    sink: SinkId,
}

/// A worker's access logs, indexed by [`SinkId`].
pub(crate) struct AccessLogs {
    /// Each borrowed for one call, never across an await.
    sinks: Box<[RefCell<Sink>]>,
}

impl AccessLogs {
    /// Opens every spec; called in the worker after fork, so each worker has its own buffers,
    /// descriptors and sockets.
    pub(crate) fn open(specs: &[Spec]) -> io::Result<AccessLogs> {
        let sinks = specs
            .iter()
            .map(|spec| Sink::open(spec).map(RefCell::new))
            .collect::<io::Result<_>>()?;
        Ok(AccessLogs { sinks })
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }

    /// Renders the request's side of the line now, stamped with the current time. `sink` is an
    /// index into the specs given to [`AccessLogs::open`].
    pub(crate) fn begin(&self, sink: SinkId, fields: &RequestFields<'_>) -> Pending {
        let format = self.sinks[usize::from(sink.0)].borrow().format();
        let mut parts = pool::take();
        let split = format::render_request(format, fields, Time::now(), &mut parts);
        Pending {
            parts,
            // A head is bounded by the fields' bounds (`format::MAX_FIELD_BYTES`), far below 4 GiB.
            split: split as u32,
            sink,
        }
    }

    /// Completes the line with what only the end knows and queues it in its sink, which writes
    /// when its buffer is full.
    pub(crate) fn finish(&self, pending: Pending, status: u16, body_bytes: u64, duration_us: u64) {
        let Pending { parts, split, sink } = pending;
        let (head, tail) = parts.split_at(split as usize);
        self.sinks[usize::from(sink.0)].borrow_mut().queue(
            parts.len() + format::NUMBERS_MAX,
            |format, line| {
                format::complete(format, head, tail, status, body_bytes, duration_us, line);
            },
        );
        pool::give(parts);
    }

    /// Writes what is buffered; the worker calls it at least once a second and before it exits.
    pub(crate) fn flush(&self) {
        for sink in &self.sinks {
            sink.borrow_mut().flush();
        }
    }

    /// SIGUSR1 (logrotate moved the files): writes what is buffered, then opens every file
    /// destination again by its path. A file that cannot be opened keeps the old one.
    pub(crate) fn reopen(&self) {
        for sink in &self.sinks {
            if let Err(e) = sink.borrow_mut().reopen() {
                tracing::error!("access log: cannot reopen {e}; still writing to the old file");
            }
        }
    }
}

impl Drop for AccessLogs {
    /// Lines queued before an early drop (an error path, a test) are written, not lost.
    fn drop(&mut self) {
        self.flush();
    }
}

/// Buffers for [`Pending`], recycled within the worker's thread so that logging a request does
/// not allocate once the pool is warm (as `conn::buffers` does for connections).
mod pool {
    use std::cell::RefCell;

    /// Room for a typical request's head and tail.
    const INITIAL_CAPACITY: usize = 512;
    /// Buffers grown larger (a request with huge fields) are freed rather than kept.
    const KEPT_CAPACITY_MAX: usize = 16 * 1024;
    /// Enough for the lines a busy worker has in flight at once; beyond it they are freed.
    const KEPT_MAX: usize = 64;

    thread_local! {
        static FREE: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    }

    pub(super) fn take() -> Vec<u8> {
        FREE.with_borrow_mut(Vec::pop)
            .unwrap_or_else(|| Vec::with_capacity(INITIAL_CAPACITY))
    }

    pub(super) fn give(mut buffer: Vec<u8>) {
        if buffer.capacity() > KEPT_CAPACITY_MAX {
            return;
        }
        buffer.clear();
        FREE.with_borrow_mut(|free| {
            if free.len() < KEPT_MAX {
                free.push(buffer);
            }
        });
    }

    #[cfg(test)]
    pub(super) fn kept() -> usize {
        FREE.with_borrow(Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        assert_eq!(Destination::parse("stdout"), Ok(Destination::Stdout));
        assert_eq!(
            Destination::parse("/var/log/forkhttpd/access.log"),
            Ok(Destination::File("/var/log/forkhttpd/access.log".into()))
        );
        assert_eq!(
            Destination::parse("syslog+udp://127.0.0.1:514"),
            Ok(Destination::Syslog("127.0.0.1:514".parse().unwrap()))
        );
        assert_eq!(
            Destination::parse("syslog+udp://[::1]:5514"),
            Ok(Destination::Syslog("[::1]:5514".parse().unwrap()))
        );
        let Ok(Destination::Syslog(named)) = Destination::parse("syslog+udp://localhost:514")
        else {
            panic!("a name resolves")
        };
        assert!(named.ip().is_loopback() && named.port() == 514);
        for bad in [
            "syslog+udp://",
            "syslog+udp://host",
            "syslog+udp://:514",
            "syslog+udp://host:0",
            "syslog+udp://host:port",
        ] {
            assert_eq!(
                Destination::parse(bad),
                Err("syslog+udp:// needs HOST:PORT".to_owned())
            );
        }
        assert!(Destination::parse("").is_err());
        assert_eq!(Format::parse("json"), Ok(Format::Json));
        assert_eq!(Format::parse("combined"), Ok(Format::Combined));
        assert!(Format::parse("common").is_err());
    }

    #[test]
    fn check_opens_a_file_and_keeps_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let spec = |path: PathBuf| Spec {
            destination: Destination::File(path),
            format: Format::Combined,
        };
        check(&spec(dir.path().join("access.log"))).unwrap();
        assert!(dir.path().join("access.log").exists());
        let error = check(&spec(dir.path().join("missing/access.log"))).unwrap_err();
        assert!(error.to_string().contains("missing/access.log"), "{error}");
        let stdout = Spec {
            destination: Destination::Stdout,
            format: Format::Json,
        };
        check(&stdout).unwrap();
    }

    #[test]
    fn pending_buffers_are_recycled() {
        // Each test runs on its own thread, so this pool starts empty.
        let dir = tempfile::tempdir().unwrap();
        let logs = AccessLogs::open(&[Spec {
            destination: Destination::File(dir.path().join("access.log")),
            format: Format::Combined,
        }])
        .unwrap();
        assert!(!logs.is_empty());
        let fields = RequestFields {
            peer: IpAddr::from([127, 0, 0, 1]),
            user: None,
            site: "-",
            request_line: None,
            method: None,
            target: None,
            protocol: None,
            referer: None,
            user_agent: None,
        };
        let pending = logs.begin(SinkId(0), &fields);
        let address = pending.parts.as_ptr();
        logs.finish(pending, 400, 0, 0);
        assert_eq!(pool::kept(), 1);
        let again = logs.begin(SinkId(0), &fields);
        assert_eq!(
            again.parts.as_ptr(),
            address,
            "the same allocation comes back"
        );
        drop(again);
        assert_eq!(
            pool::kept(),
            0,
            "a Pending dropped unfinished is just freed"
        );
        assert!(std::mem::size_of::<Pending>() <= 32);
    }
}
