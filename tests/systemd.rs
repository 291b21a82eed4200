//! Running under systemd: readiness, reload and stop notifications on `NOTIFY_SOCKET`, and
//! listening sockets passed by socket activation (`LISTEN_FDS`), set here as systemd sets them.

mod support;

use std::net::TcpListener;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use support::{SIGHUP, SIGTERM, Server, get};

/// A notification socket for one test, and what arrives on it.
struct Notifications {
    socket: UnixDatagram,
    _dir: tempfile::TempDir,
    path: String,
}

impl Notifications {
    fn new() -> Notifications {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let socket = UnixDatagram::bind(&path).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Notifications {
            socket,
            path: path.to_str().unwrap().to_owned(),
            _dir: dir,
        }
    }

    /// The next message, as its `KEY=VALUE` lines.
    fn next(&self) -> Vec<String> {
        let mut buffer = [0u8; 4096];
        let n = self
            .socket
            .recv(&mut buffer)
            .expect("a notification within 10 s");
        String::from_utf8_lossy(&buffer[..n])
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

fn value<'a>(message: &'a [String], key: &str) -> Option<&'a str> {
    message
        .iter()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
}

#[test]
fn ready_reloading_and_stopping_are_notified() {
    let notes = Notifications::new();
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "hello\n").unwrap();
    let config = root.path().join("forkhttpd.toml");
    let site = format!(
        "workers = 2\n[[site]]\nlisten = [\"127.0.0.1:0\"]\nroot = {:?}\n",
        root.path()
    );
    std::fs::write(&config, &site).unwrap();
    let server = Server::spawn_env(
        &["-c", config.to_str().unwrap()],
        &[("NOTIFY_SOCKET", &notes.path)],
    )
    .started();

    let ready = notes.next();
    assert_eq!(value(&ready, "READY"), Some("1"), "{ready:?}");
    assert_eq!(
        value(&ready, "MAINPID"),
        Some(server.pid().to_string().as_str())
    );
    assert_eq!(value(&ready, "STATUS"), Some("serving with 2 workers"));
    assert_eq!(get(server.addr(), "/").status, 200);

    // A reload: RELOADING=1 with the monotonic time it began, then READY=1.
    std::fs::write(&config, site.replace("workers = 2", "workers = 3")).unwrap();
    server.signal(SIGHUP);
    let reloading = notes.next();
    assert_eq!(value(&reloading, "RELOADING"), Some("1"), "{reloading:?}");
    let began: u64 = value(&reloading, "MONOTONIC_USEC")
        .unwrap()
        .parse()
        .unwrap();
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).unwrap();
    assert!(began > 0 && began <= now.tv_sec() as u64 * 1_000_000 + now.tv_nsec() as u64 / 1_000);
    let ready = notes.next();
    assert_eq!(value(&ready, "READY"), Some("1"), "{ready:?}");
    assert_eq!(value(&ready, "STATUS"), Some("serving with 3 workers"));

    // A refused reload still ends in READY=1: systemd would otherwise wait for it.
    std::fs::write(&config, "workers = \"many\"\n").unwrap();
    server.signal(SIGHUP);
    assert_eq!(value(&notes.next(), "RELOADING"), Some("1"));
    let ready = notes.next();
    assert_eq!(value(&ready, "READY"), Some("1"), "{ready:?}");
    assert_eq!(
        value(&ready, "STATUS"),
        Some("serving with 3 workers; the last reload was refused")
    );
    assert_eq!(get(server.addr(), "/").status, 200);

    server.signal(SIGTERM);
    let stopping = notes.next();
    assert_eq!(value(&stopping, "STOPPING"), Some("1"), "{stopping:?}");
}

#[test]
fn an_activated_socket_replaces_the_bind() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("index.html"), "activated\n").unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The address is still bound by the socket passed in: binding it again would fail, so a
    // served request shows the inherited socket was used.
    let server = Server::spawn_activated(
        listener,
        "web",
        &[
            "-w",
            "2",
            "-l",
            &addr.to_string(),
            root.path().to_str().unwrap(),
        ],
    )
    .started();
    assert_eq!(server.addr(), addr);
    server.wait_for(&format!("{addr}: socket web from systemd"));
    let response = get(addr, "/");
    assert_eq!(response.status, 200);
    assert_eq!(response.text(), "activated\n");
    // A second plain address in the configuration is bound as usual beside it.
    drop(server);
}

#[test]
fn an_activated_socket_nobody_listens_on_is_a_start_up_error() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut server = Server::spawn_activated(listener, "stray", &["-l", "127.0.0.1:0"]);
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(1));
    let line = server.wait_for("socket activation");
    assert!(
        line.contains(&format!(
            "systemd passed socket stray for {addr}, where no site listens"
        )),
        "{line}"
    );
}

#[test]
fn a_descriptor_that_is_no_listening_socket_is_a_start_up_error() {
    // A connected socket is not a listening one.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let _connected = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (accepted, _) = listener.accept().unwrap();
    let as_listener = TcpListener::from(std::os::fd::OwnedFd::from(accepted));
    let mut server = Server::spawn_activated(as_listener, "web", &["-l", "127.0.0.1:0"]);
    assert_eq!(server.wait_exit().code(), Some(1));
    let line = server.wait_for("socket activation");
    assert!(
        line.contains("descriptor 3 (web) is not a listening TCP socket"),
        "{line}"
    );
}
