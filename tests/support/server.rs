//! Starting the real `forkhttpd` binary and watching it: its log lines (waited for, never slept
//! on), its exit, its signals.

use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[allow(unused_imports)]
pub use nix::sys::signal::Signal::{SIGHUP, SIGINT, SIGKILL, SIGTERM, SIGUSR1};

use super::WAIT;
use super::procfs::children_of;

/// A running server, killed (with its workers) when dropped.
pub(crate) struct Server {
    child: Child,
    log: Arc<(Mutex<Vec<String>>, Condvar)>,
    pub addrs: Vec<SocketAddr>,
    pub workers: usize,
}

impl Server {
    /// Starts `forkhttpd ARGS` on 127.0.0.1:0 with one worker unless ARGS say otherwise.
    pub(crate) fn start(args: &[&str]) -> Server {
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
    pub(crate) fn start_exact<S: AsRef<str>>(args: &[S]) -> Server {
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
            .filter_map(|line| line.split("listening on ").nth(1))
            .filter_map(|rest| {
                rest.strip_prefix("http://")
                    .or(rest.strip_prefix("https://"))
            })
            // `ADDR/`, then ` for SITES` when started from a configuration file.
            .map(|rest| rest.split(' ').next().unwrap_or(rest))
            .map(|rest| rest.trim_end_matches('/').parse().expect("listen address"))
            .collect();
        server.wait_for_count(" started", server.workers + 1);
    }

    /// Starts the binary without waiting for anything.
    pub(crate) fn spawn<S: AsRef<str>>(args: &[S]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forkhttpd"));
        command.args(args.iter().map(AsRef::as_ref));
        Server::spawn_command(command)
    }

    /// Starts the binary with `env` added to its environment, without waiting for anything.
    #[allow(dead_code)]
    pub(crate) fn spawn_env<S: AsRef<str>>(args: &[S], env: &[(&str, &str)]) -> Server {
        let mut command = Command::new(env!("CARGO_BIN_EXE_forkhttpd"));
        command
            .args(args.iter().map(AsRef::as_ref))
            .envs(env.iter().copied());
        Server::spawn_command(command)
    }

    /// Starts `forkhttpd ARGS` (as `Server::start` would) with at most `files` open descriptors
    /// per process, through the shell's `ulimit -n`.
    pub(crate) fn start_with_file_limit(files: u32, args: &[&str]) -> Server {
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

    /// Starts `forkhttpd ARGS` as systemd's socket activation would: `listener` is its
    /// descriptor 3, announced by `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES=NAME` (set by
    /// a shell that then execs the binary, so that the pid is the binary's own).
    #[allow(dead_code)]
    pub(crate) fn spawn_activated<S: AsRef<str>>(
        listener: std::net::TcpListener,
        name: &str,
        args: &[S],
    ) -> Server {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(format!(
                "exec 3<&0 0</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES={name}; \
                 exec \"$0\" \"$@\""
            ))
            .arg(env!("CARGO_BIN_EXE_forkhttpd"))
            .args(args.iter().map(AsRef::as_ref));
        Server::spawn_with_stdin(command, Stdio::from(std::os::fd::OwnedFd::from(listener)))
    }

    /// Waits until every worker is serving, for a server started with `spawn*`.
    #[allow(dead_code)]
    pub(crate) fn started(mut self) -> Server {
        self.await_start();
        self
    }

    fn spawn_command(command: Command) -> Server {
        Server::spawn_with_stdin(command, Stdio::null())
    }

    fn spawn_with_stdin(mut command: Command, stdin: Stdio) -> Server {
        let mut child = command
            .stdin(stdin)
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

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addrs[0]
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line so far.
    pub(crate) fn lines(&self) -> Vec<String> {
        self.log.0.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle` and returns it.
    pub(crate) fn wait_for(&self, needle: &str) -> String {
        self.wait_for_count(needle, 1).pop().unwrap()
    }

    /// Waits until `count` log lines contain `needle`; returns them.
    pub(crate) fn wait_for_count(&self, needle: &str, count: usize) -> Vec<String> {
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

    pub(crate) fn signal(&self, signal: Signal) {
        send_signal(self.pid(), signal);
    }

    /// Waits for the master to exit and returns its status.
    pub(crate) fn wait_exit(&mut self) -> ExitStatus {
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
    pub(crate) fn worker_pids(&self) -> Vec<u32> {
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

/// Sends `signal` to a process this test started.
pub(crate) fn send_signal(pid: u32, signal: Signal) {
    let pid = Pid::from_raw(i32::try_from(pid).expect("a pid"));
    kill(pid, signal).unwrap_or_else(|e| panic!("kill({pid}, {signal}): {e}"));
}

/// Raises this process's soft descriptor limit to `wanted` (or the hard limit), so a test can
/// hold thousands of connections; children inherit it.
pub(crate) fn raise_file_limit(wanted: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    let target = wanted.min(hard).max(soft);
    setrlimit(Resource::RLIMIT_NOFILE, target, hard).unwrap();
    target
}
