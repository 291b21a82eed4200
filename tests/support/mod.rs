//! Test support: starts the real `forkhttpd` binary on free loopback ports, waits for its log
//! lines instead of sleeping, and speaks raw HTTP over real sockets.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Upper bound on any wait in a test: a hung server fails the test instead of hanging it.
pub const WAIT: Duration = Duration::from_secs(20);

/// A running server, killed (with its workers) when dropped.
pub struct Server {
    child: Child,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    pub addrs: Vec<SocketAddr>,
    pub workers: usize,
}

impl Server {
    /// Starts `forkhttpd ARGS` on 127.0.0.1:0 with one worker unless ARGS say otherwise.
    pub fn start(args: &[&str]) -> Server {
        let mut full: Vec<String> = Vec::new();
        if !args.iter().any(|a| *a == "-l" || *a == "--listen") {
            full.extend(["-l".into(), "127.0.0.1:0".into()]);
        }
        if !args.iter().any(|a| *a == "-w" || *a == "--workers") {
            full.extend(["-w".into(), "1".into()]);
        }
        full.extend(args.iter().map(|a| a.to_string()));
        Server::start_exact(&full)
    }

    /// Starts `forkhttpd ARGS` exactly as given and waits until every worker is serving.
    pub fn start_exact<S: AsRef<str>>(args: &[S]) -> Server {
        let mut server = Server::spawn(args);
        server.await_start();
        server
    }

    /// Waits for the start-up lines and reads the addresses and worker count from them.
    fn await_start(&mut self) {
        let server = self;
        let started = server.wait_for("master pid ");
        server.workers = started
            .split("started with ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("worker count in the start line");
        server.addrs = server
            .lines()
            .iter()
            .filter_map(|line| line.split("listening on http://").nth(1))
            .map(|rest| rest.trim_end_matches('/').parse().expect("listen address"))
            .collect();
        server.wait_for_count(" started", server.workers + 1);
    }

    /// Starts the binary without waiting for anything.
    pub fn spawn<S: AsRef<str>>(args: &[S]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forkhttpd"));
        command.args(args.iter().map(AsRef::as_ref));
        Server::spawn_command(command)
    }

    /// Starts `forkhttpd ARGS` (as `Server::start` would) with at most `files` open descriptors
    /// per process, through the shell's `ulimit -n`.
    pub fn start_with_file_limit(files: u32, args: &[&str]) -> Server {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!("ulimit -n {files} && exec \"$0\" \"$@\""))
            .arg(env!("CARGO_BIN_EXE_forkhttpd"))
            .args(["-l", "127.0.0.1:0", "-w", "1"])
            .args(args);
        let mut server = Server::spawn_command(command);
        server.await_start();
        server
    }

    fn spawn_command(mut command: Command) -> Server {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start forkhttpd");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut reader = std::io::BufReader::new(stderr);
            let mut line = String::new();
            while std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) > 0 {
                let (lines, changed) = &*sink;
                lines.lock().unwrap().push(line.trim_end().to_owned());
                changed.notify_all();
                line.clear();
            }
        });
        Server {
            child,
            log,
            addrs: Vec::new(),
            workers: 0,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line so far.
    pub fn lines(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle` and returns it.
    pub fn wait_for(&self, needle: &str) -> String {
        self.wait_for_count(needle, 1).pop().unwrap()
    }

    /// Waits until `count` log lines contain `needle`; returns them.
    pub fn wait_for_count(&self, needle: &str, count: usize) -> Vec<String> {
        let (lines, changed) = &*self.log;
        let deadline = Instant::now() + WAIT;
        let mut guard = lines.lock().unwrap();
        loop {
            let found: Vec<String> = guard
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect();
            if found.len() >= count {
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no {count} log lines with {needle:?} in:\n{}",
                guard.join("\n")
            );
            guard = changed.wait_timeout(guard, left).unwrap().0;
        }
    }

    pub fn signal(&self, signal: i32) {
        send_signal(self.pid(), signal);
    }

    /// Waits for the master to exit and returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pids of the master's live children (its workers).
    pub fn worker_pids(&self) -> Vec<u32> {
        children_of(self.pid())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Workers die with the master (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn send_signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid this test started; no memory is involved.
    let rc = unsafe { libc_kill(pid as i32, signal) };
    assert_eq!(rc, 0, "kill({pid}, {signal})");
}

unsafe extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, signal: i32) -> i32;
}

pub const SIGHUP: i32 = 1;
pub const SIGINT: i32 = 2;
pub const SIGKILL: i32 = 9;
pub const SIGUSR1: i32 = 10;
pub const SIGTERM: i32 = 15;

/// Children of `pid` from /proc, with their state letter (R, S, Z, ...).
pub fn children_with_state(pid: u32) -> Vec<(u32, char)> {
    let mut children = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return children;
    };
    for entry in entries.flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
            continue;
        };
        // "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, rest)| rest) else {
            continue;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next().and_then(|s| s.chars().next()).unwrap_or('?');
        let parent = fields.next().and_then(|p| p.parse::<u32>().ok());
        if parent == Some(pid) {
            children.push((child, state));
        }
    }
    children.sort();
    children
}

pub fn children_of(pid: u32) -> Vec<u32> {
    children_with_state(pid)
        .into_iter()
        .filter(|(_, s)| *s != 'Z')
        .map(|(p, _)| p)
        .collect()
}

pub fn is_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            !stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false)
}

/// Polls `condition` until true or `WAIT` passes; returns whether it became true.
pub fn eventually(mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// A parsed response.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub head: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Header names and values, minus Date (which may tick between two responses).
    pub fn stable_headers(&self) -> HashMap<String, String> {
        self.headers
            .iter()
            .filter(|(n, _)| !n.eq_ignore_ascii_case("date"))
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
            .collect()
    }
}

/// A client connection with its own read buffer, so pipelined responses can be read one by one.
pub struct Client {
    pub stream: TcpStream,
    buffer: Vec<u8>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(WAIT)).unwrap();
        stream.set_write_timeout(Some(WAIT)).unwrap();
        Client {
            stream,
            buffer: Vec::new(),
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a GET for `path` with a Host header.
    pub fn get(&mut self, path: &str) -> Response {
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
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => 0,
            Err(e) => panic!("read: {e}"),
        }
    }

    /// Reads one response to a GET (or any method with a body).
    pub fn response(&mut self) -> Response {
        self.read_response(false).expect("a response")
    }

    /// Reads one response to a HEAD request: no body whatever Content-Length says.
    pub fn head_response(&mut self) -> Response {
        self.read_response(true).expect("a response")
    }

    /// Reads one response; `None` if the connection closed before a full head arrived.
    pub fn read_response(&mut self, to_head: bool) -> Option<Response> {
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
    pub fn read_until_closed(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buffer)
    }

    /// True if the server has closed the connection (end of stream with nothing more sent).
    pub fn is_closed(&mut self) -> bool {
        self.read_until_closed().is_empty()
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Sends raw bytes on a new connection and reads one response.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut client = Client::connect(addr);
    client.send(raw);
    client.response()
}

/// GET `path` on a new connection, with extra header lines (each ending in CRLF).
pub fn get_with(addr: SocketAddr, path: &str, headers: &str) -> Response {
    exchange(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: t\r\n{headers}\r\n").as_bytes(),
    )
}

/// GET `path` on a new connection.
pub fn get(addr: SocketAddr, path: &str) -> Response {
    Client::connect(addr).get(path)
}

/// A site tree for tests, inside a temporary folder that also holds a secret *beside* the root:
///
/// ```text
/// tmp/secret.txt            never to be served
/// tmp/outside/              a directory outside the root
/// tmp/root/index.html, hello.txt, empty.txt, data.bin (200 KiB), page.html
///         sub/index.html    nodir/<script>.txt, nodir/a b.txt, nodir/.hidden
///         .env, .git/config, .well-known/acme.txt
///         link-in.txt -> hello.txt          link-out.txt -> ../secret.txt
///         link-abs-in.txt -> /abs/root/hello.txt   link-dir-out -> ../outside
/// ```
pub struct Site {
    pub dir: tempfile::TempDir,
}

pub const SECRET: &str = "TOP-SECRET-do-not-serve";

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let root = base.join("root");
        std::fs::create_dir_all(root.join("sub")).unwrap();
        std::fs::create_dir_all(root.join("nodir")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        std::fs::create_dir_all(root.join(".well-known")).unwrap();
        std::fs::create_dir_all(base.join("outside")).unwrap();
        std::fs::write(base.join("secret.txt"), SECRET).unwrap();
        std::fs::write(base.join("outside/secret.txt"), SECRET).unwrap();
        std::fs::write(root.join("index.html"), "<h1>home</h1>\n").unwrap();
        std::fs::write(root.join("hello.txt"), "hello, world\n").unwrap();
        std::fs::write(root.join("page.html"), "<p>page</p>\n").unwrap();
        std::fs::write(root.join("empty.txt"), "").unwrap();
        std::fs::write(root.join("data.bin"), pattern(200 * 1024)).unwrap();
        std::fs::write(root.join("sub/index.html"), "<h1>sub</h1>\n").unwrap();
        std::fs::write(root.join("nodir/<script>.txt"), "x").unwrap();
        std::fs::write(root.join("nodir/a b.txt"), "y").unwrap();
        std::fs::write(root.join("nodir/.hidden"), "z").unwrap();
        std::fs::write(root.join(".env"), SECRET).unwrap();
        std::fs::write(root.join(".git/config"), SECRET).unwrap();
        std::fs::write(root.join(".well-known/acme.txt"), "token").unwrap();
        let link = |target: &Path, name: &str| {
            std::os::unix::fs::symlink(target, root.join(name)).unwrap()
        };
        link(Path::new("hello.txt"), "link-in.txt");
        link(Path::new("../secret.txt"), "link-out.txt");
        link(&root.join("hello.txt"), "link-abs-in.txt");
        link(Path::new("../outside"), "link-dir-out");
        Site { dir }
    }

    pub fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    pub fn root_arg(&self) -> String {
        self.root().to_string_lossy().into_owned()
    }
}

/// Deterministic bytes that make an offset error visible.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

/// Which of `candidates` holds the server side of the loopback TCP connection from
/// `client_port` to `server_port` (found through /proc/net/tcp inodes).
pub fn owner_of_connection(server_port: u16, client_port: u16, candidates: &[u32]) -> Option<u32> {
    let inode = socket_inode(|local, remote, _| local == server_port && remote == client_port)?;
    candidates
        .iter()
        .copied()
        .find(|&pid| holds_socket(pid, &inode))
}

/// The inode of the IPv4 socket listening on `port`.
pub fn listening_socket_inode(port: u16) -> Option<String> {
    const LISTEN: &str = "0A";
    socket_inode(|local, _, state| local == port && state == LISTEN)
}

/// The inode of the first socket in /proc/net/tcp whose local port, remote port and state
/// (hex, as the kernel writes it) satisfy `wanted`.
fn socket_inode(wanted: impl Fn(u16, u16, &str) -> bool) -> Option<String> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let port = |addr: &str| u16::from_str_radix(addr.rsplit(':').next()?, 16).ok();
        wanted(port(fields[1])?, port(fields[2])?, fields[3]).then(|| fields[9].to_owned())
    })
}

/// Whether process `pid` has the socket with this inode among its descriptors.
pub fn holds_socket(pid: u32, inode: &str) -> bool {
    let wanted = format!("socket:[{inode}]");
    std::fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|fds| {
        fds.flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|target| target.to_string_lossy() == wanted)
        })
    })
}

/// Raises this process's soft descriptor limit to `wanted` (or the hard limit), so a test can
/// hold thousands of connections; children inherit it.
pub fn raise_file_limit(wanted: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let target = wanted.min(hard).max(soft);
    setrlimit(Resource::RLIMIT_NOFILE, target, hard).unwrap();
    target
}

/// A worker's resident memory in KiB, from /proc.
pub fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
