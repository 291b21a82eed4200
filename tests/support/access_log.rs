//! Reading what the access log wrote: starting a server that logs, waiting for lines (workers
//! write them at least once a second, and before they exit), and taking a line apart in either
//! format.

use std::path::Path;

use base64::Engine as _;
use serde_json::Value;

use super::eventually;
use super::server::{SIGTERM, Server};

/// Starts a one-worker server on `root` logging to `log` in `format`, with `extra` arguments.
pub(crate) fn start_logging(root: &str, log: &Path, format: &str, extra: &[&str]) -> Server {
    let log = log.to_str().unwrap();
    let mut args = vec!["--access-log", log, "--access-log-format", format];
    args.extend_from_slice(extra);
    args.push(root);
    Server::start(&args)
}

/// The log's lines as text; none if there is no file yet. A line that is not UTF-8, or a last
/// line without its newline, fails the test.
pub(crate) fn lines_in(path: &Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8(bytes).expect("the access log is UTF-8");
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a cut line: {text}"
    );
    text.lines().map(str::to_owned).collect()
}

/// Waits until the log holds at least `count` lines and returns them all.
pub(crate) fn wait_lines(path: &Path, count: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let found = eventually(|| {
        lines = lines_in(path);
        lines.len() >= count
    });
    assert!(
        found,
        "{count} lines expected, found:\n{}",
        lines.join("\n")
    );
    lines
}

/// Stops the server gracefully, so its workers write what they buffered, and returns every line
/// of the log.
pub(crate) fn stop_and_read(mut server: Server, path: &Path) -> Vec<String> {
    server.signal(SIGTERM);
    assert_eq!(server.wait_exit().code(), Some(0), "a graceful stop");
    lines_in(path)
}

/// A combined line taken apart: `PEER - USER [TIME] "REQUEST" STATUS BYTES "REFERER" "UA"`.
#[derive(Debug)]
pub(crate) struct Combined {
    pub peer: String,
    pub user: String,
    pub time: String,
    pub request: String,
    pub status: u16,
    pub bytes: u64,
    pub referer: String,
    pub user_agent: String,
}

/// Takes a combined line apart; panics if it is not one.
pub(crate) fn combined(line: &str) -> Combined {
    // Escaping leaves no `"` inside a field, so the quotes cut the line into exactly these.
    let parts: Vec<&str> = line.split('"').collect();
    let [prefix, request, numbers, referer, " ", user_agent, ""] = parts[..] else {
        panic!("not a combined line: {line}");
    };
    // The time has no `[`; a user name may.
    let (who, time) = prefix
        .strip_suffix("] ")
        .and_then(|p| p.rsplit_once(" ["))
        .unwrap_or_else(|| panic!("no [time] in {line}"));
    let mut who = who.splitn(3, ' ');
    let peer = who.next().unwrap().to_owned();
    assert_eq!(who.next(), Some("-"), "{line}");
    let user = who.next().expect("a user or -").to_owned();
    let numbers: Vec<&str> = numbers.trim().split(' ').collect();
    let [status, bytes] = numbers[..] else {
        panic!("not `STATUS BYTES` in {line}");
    };
    Combined {
        peer,
        user,
        time: time.to_owned(),
        request: request.to_owned(),
        status: status.parse().unwrap(),
        bytes: bytes.parse().unwrap(),
        referer: referer.to_owned(),
        user_agent: user_agent.to_owned(),
    }
}

/// Parses a json line; panics if it is not JSON.
pub(crate) fn json(line: &str) -> Value {
    serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
}

/// The keys of a json line, in the order they are written.
pub(crate) const JSON_KEYS: [&str; 12] = [
    "time",
    "client",
    "site",
    "method",
    "target",
    "protocol",
    "status",
    "bytes",
    "duration_us",
    "user",
    "referer",
    "user_agent",
];

/// An `Authorization: Basic` header line (with CRLF) for `user` and `password`.
pub(crate) fn basic_auth(user: &str, password: &str) -> String {
    let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Authorization: Basic {token}\r\n")
}
