//! One access log destination of a worker: a buffer of whole lines and where they are written (a
//! file, standard output, or a syslog server over UDP).
//!
//! Lines are only ever written whole. A file (or stdout) gets the buffer in one `write_all`; with
//! O_APPEND the kernel places each write at the end, so lines from several workers interleave
//! but never overwrite each other. Syslog gets one datagram per line, sent without blocking. A
//! line that cannot be delivered is counted and dropped, and the count is logged at most once a
//! minute: a full disk or a dead collector must not stop the server or flood its log.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use super::format::{self, Time};
use super::{Destination, Format, Spec};

/// A sink's buffer: written when the next line might not fit, and by the worker's flush each
/// second. 64 KiB is one write per few hundred lines, as nginx's `access_log ... buffer=64k`.
const BUFFER_BYTES: usize = 64 * 1024;

/// Least time between two reports of lost lines.
const REPORT_EVERY_MS: u64 = 60_000;

pub(super) struct Sink {
    format: Format,
    /// Whole lines, each ending in `\n`; for syslog each is a whole message.
    lines: Vec<u8>,
    out: Output,
    losses: Losses,
}

enum Output {
    /// A file opened for appending, with its path for reopening; or a copy of standard output,
    /// with none. (The copy is written directly: `std::io::Stdout` would buffer by line.)
    File { file: File, path: Option<PathBuf> },
    /// Not connected: an ICMP port-unreachable would make later sends on a connected socket
    /// fail; with `send_to` a collector that restarts is simply reached again.
    Syslog {
        socket: UdpSocket,
        to: SocketAddr,
        /// ` HOSTNAME forkhttpd PID - - `: the message header after its timestamp, the same for
        /// every message (RFC 5424 §6: no MSGID, no structured data).
        header: Vec<u8>,
    },
}

/// Opens `path` to append (mode 0640: a log may name users and what they asked for). The error
/// names the path.
pub(super) fn open_append(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))
}

impl Sink {
    pub(super) fn open(spec: &Spec) -> io::Result<Sink> {
        let out = match &spec.destination {
            Destination::File(path) => Output::File {
                file: open_append(path)?,
                path: Some(path.clone()),
            },
            Destination::Stdout => Output::File {
                file: File::from(io::stdout().as_fd().try_clone_to_owned()?),
                path: None,
            },
            Destination::Syslog(to) => {
                let any = match to {
                    SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                    SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
                };
                let socket = UdpSocket::bind(any)?;
                socket.set_nonblocking(true)?;
                let header = format!(" {} forkhttpd {} - - ", hostname(), std::process::id());
                Output::Syslog {
                    socket,
                    to: *to,
                    header: header.into_bytes(),
                }
            }
        };
        Ok(Sink {
            format: spec.format,
            lines: Vec::with_capacity(BUFFER_BYTES),
            out,
            losses: Losses::default(),
        })
    }

    pub(super) fn format(&self) -> Format {
        self.format
    }

    /// Queues one line of at most `size` bytes, written into the buffer by `render` (without a
    /// newline). The buffer is written first if the line might not fit, so it never grows.
    pub(super) fn queue(&mut self, size: usize, render: impl FnOnce(Format, &mut Vec<u8>)) {
        let header = match &self.out {
            Output::Syslog { header, .. } => header.len() + 40,
            Output::File { .. } => 0,
        };
        if self.lines.len() + header + size + 1 > BUFFER_BYTES {
            self.flush();
        }
        if let Output::Syslog { header, .. } = &self.out {
            // PRI 190: facility local7, severity info, as nginx sends.
            self.lines.extend_from_slice(b"<190>1 ");
            format::push_rfc3339_ms(&mut self.lines, Time::now());
            self.lines.extend_from_slice(header);
        }
        render(self.format, &mut self.lines);
        self.lines.push(b'\n');
    }

    /// Writes every buffered line, or counts those that could not be.
    pub(super) fn flush(&mut self) {
        if !self.lines.is_empty() {
            match &mut self.out {
                Output::File { file, .. } => {
                    if let Err(e) = file.write_all(&self.lines) {
                        let lines = memchr::memchr_iter(b'\n', &self.lines).count();
                        self.losses.add(lines as u64, Some(e));
                    }
                }
                Output::Syslog { socket, to, .. } => {
                    let mut dropped = 0;
                    let mut start = 0;
                    for end in memchr::memchr_iter(b'\n', &self.lines) {
                        // Non-blocking: a full socket buffer drops the datagram (WouldBlock)
                        // instead of stalling every connection of the worker.
                        if socket.send_to(&self.lines[start..end], *to).is_err() {
                            dropped += 1;
                        }
                        start = end + 1;
                    }
                    self.losses.add(dropped, None);
                }
            }
            self.lines.clear();
        }
        self.report_losses();
    }

    /// Writes what is buffered, then opens a file destination again by its path; on failure
    /// the old file is kept.
    pub(super) fn reopen(&mut self) -> io::Result<()> {
        self.flush();
        if let Output::File {
            file,
            path: Some(path),
        } = &mut self.out
        {
            *file = open_append(path)?;
        }
        Ok(())
    }

    fn report_losses(&mut self) {
        let Some(total) = self.losses.due(crate::clock::monotonic_ms()) else {
            return;
        };
        match &self.out {
            Output::File { path, .. } => {
                let name = path.as_deref().unwrap_or(Path::new("stdout")).display();
                let cause = self.losses.cause.as_ref().map(ToString::to_string);
                let cause = cause.as_deref().unwrap_or("unknown error");
                tracing::error!(
                    "access log: cannot write to {name}: {cause}; {total} lines lost since start"
                );
            }
            Output::Syslog { to, .. } => {
                tracing::warn!("access log: {total} syslog datagrams dropped to {to} since start");
            }
        }
    }
}

/// What a sink failed to deliver, and when it last said so.
#[derive(Default)]
struct Losses {
    total: u64,
    reported: u64,
    last_report_ms: Option<u64>,
    /// The latest write error, for the report.
    cause: Option<io::Error>,
}

impl Losses {
    fn add(&mut self, lines: u64, cause: Option<io::Error>) {
        self.total += lines;
        if cause.is_some() {
            self.cause = cause;
        }
    }

    /// The total to report, if it grew since the last report and that was a minute ago.
    fn due(&mut self, now_ms: u64) -> Option<u64> {
        let recent = self
            .last_report_ms
            .is_some_and(|last| now_ms.saturating_sub(last) < REPORT_EVERY_MS);
        if self.total == self.reported || recent {
            return None;
        }
        self.last_report_ms = Some(now_ms);
        self.reported = self.total;
        Some(self.total)
    }
}

/// The host's name for syslog's HOSTNAME field, read once per sink; `-` (RFC 5424's "unknown")
/// if it cannot be read or is not the printable ASCII the field allows. The kernel's copy in
/// /proc is what gethostname(2) returns, without another system call binding.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let name = name.trim_end_matches('\n');
    let printable = |byte: u8| (0x21..=0x7E).contains(&byte);
    if (1..=255).contains(&name.len()) && name.bytes().all(printable) {
        name.to_owned()
    } else {
        "-".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AccessLogs, RequestFields, SinkId};
    use super::*;
    use std::net::IpAddr;
    use std::time::Duration;

    fn fields(user_agent: &[u8]) -> RequestFields<'_> {
        RequestFields {
            peer: IpAddr::from([192, 0, 2, 1]),
            user: None,
            site: "-",
            request_line: Some(b"GET / HTTP/1.1"),
            method: Some(b"GET"),
            target: Some(b"/"),
            protocol: Some("HTTP/1.1"),
            referer: None,
            user_agent: Some(user_agent),
        }
    }

    fn log(logs: &AccessLogs, user_agent: &[u8]) {
        let pending = logs.begin(SinkId(0), &fields(user_agent));
        logs.finish(pending, 200, 10, 20);
    }

    fn file_logs(path: &Path) -> AccessLogs {
        let spec = Spec {
            destination: Destination::File(path.to_owned()),
            format: Format::Combined,
        };
        AccessLogs::open(&[spec]).unwrap()
    }

    fn read(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn a_file_gets_whole_lines_when_flushed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let logs = file_logs(&path);
        log(&logs, b"one");
        log(&logs, b"two");
        assert_eq!(read(&path), "", "nothing is written below 64 KiB");
        logs.flush();
        let text = read(&path);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("192.0.2.1 - - [") && lines[0].ends_with("\"-\" \"one\""));
        assert!(lines[1].ends_with(" 200 10 \"-\" \"two\""));
        assert!(text.ends_with('\n'));
    }

    #[test]
    fn a_full_buffer_is_written_without_flush() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let logs = file_logs(&path);
        let user_agent = [b'u'; 1000];
        let mut queued = 0;
        while read(&path).is_empty() {
            log(&logs, &user_agent);
            queued += 1;
            assert!(queued < 100, "64 KiB is about 60 lines");
        }
        let text = read(&path);
        assert!(text.len() <= BUFFER_BYTES && text.len() > BUFFER_BYTES - 1100);
        assert_eq!(text.lines().count(), queued - 1, "the last line waits");
        assert!(text.ends_with("uuu\"\n"));
        drop(logs);
        assert_eq!(read(&path).lines().count(), queued, "dropping flushes");
    }

    #[test]
    fn reopen_follows_a_moved_file_and_keeps_the_old_one_on_failure() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.log");
        let rotated = dir.path().join("access.log.1");
        let logs = file_logs(&path);
        log(&logs, b"before");
        std::fs::rename(&path, &rotated).unwrap();
        log(&logs, b"moved");
        logs.reopen();
        log(&logs, b"after");
        logs.flush();
        assert_eq!(
            read(&rotated).lines().count(),
            2,
            "reopen flushes to the old file"
        );
        assert!(read(&path).ends_with("\"after\"\n") && read(&path).lines().count() == 1);

        // A path that cannot be opened keeps the file that is open.
        let sub = dir.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let logs = file_logs(&sub.join("access.log"));
        std::fs::rename(&sub, dir.path().join("gone")).unwrap();
        logs.reopen();
        log(&logs, b"kept");
        logs.flush();
        assert!(read(&dir.path().join("gone/access.log")).ends_with("\"kept\"\n"));
    }

    #[test]
    fn syslog_sends_one_rfc5424_datagram_per_line() {
        let collector = UdpSocket::bind("127.0.0.1:0").unwrap();
        collector
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let spec = Spec {
            destination: Destination::Syslog(collector.local_addr().unwrap()),
            format: Format::Json,
        };
        let logs = AccessLogs::open(&[spec]).unwrap();
        log(&logs, b"first");
        log(&logs, b"second\nline");
        logs.flush();
        for user_agent in ["first", "second\nline"] {
            let mut datagram = [0; 2048];
            let len = collector.recv(&mut datagram).unwrap();
            let message = std::str::from_utf8(&datagram[..len]).unwrap();
            let fields: Vec<&str> = message.splitn(8, ' ').collect();
            assert_eq!(fields.len(), 8, "{message}");
            assert_eq!(fields[0], "<190>1");
            let stamp = fields[1].as_bytes();
            assert!(
                stamp.len() == 24 && stamp[10] == b'T' && stamp[23] == b'Z',
                "{message}"
            );
            assert!(!fields[2].is_empty());
            assert_eq!(fields[3], "forkhttpd");
            assert_eq!(fields[4], std::process::id().to_string());
            assert_eq!(&fields[5..7], ["-", "-"]);
            let line: serde_json::Value = serde_json::from_str(fields[7]).unwrap();
            assert_eq!(line["user_agent"], user_agent);
        }
    }

    #[test]
    fn losses_are_reported_at_most_once_a_minute() {
        let mut losses = Losses::default();
        assert_eq!(losses.due(0), None);
        losses.add(3, None);
        assert_eq!(losses.due(1000), Some(3));
        losses.add(2, None);
        assert_eq!(losses.due(30_000), None, "within the minute");
        assert_eq!(losses.due(61_000), Some(5));
        assert_eq!(losses.due(200_000), None, "nothing new");
        losses.add(1, Some(io::Error::other("disk full")));
        assert_eq!(losses.due(200_001), Some(6));
        assert!(losses.cause.is_some());
    }
}
