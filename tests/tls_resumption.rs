//! TLS session resumption across workers: every worker derives the same session ticket keys,
//! so a client that comes back resumes its session whichever worker accepts the connection, over
//! TLS 1.3 and over TLS 1.2.

mod support;

use std::collections::HashSet;
use std::sync::Arc;

use rustls::{HandshakeKind, SupportedProtocolVersion};
use support::{Authority, Server, TLS12, TLS13, connect_tls, owner_of_connection, write_file};

const CONFIG: &str = r#"workers = 4
[[site]]
listen_tls = ["127.0.0.1:0"]
server_names = ["a.test"]
root = "www"
[site.tls]
cert = "a.pem"
key = "a.key"
"#;

/// Reconnections that must all resume; more follow (up to `MAX_RECONNECTIONS`) only until two
/// workers have served, since which worker accepts is the kernel's choice.
const RECONNECTIONS: usize = 20;
const MAX_RECONNECTIONS: usize = 200;

fn resumes_on_every_worker(version: &'static SupportedProtocolVersion) {
    let dir = tempfile::tempdir().unwrap();
    let ca = Authority::new();
    ca.leaf(&["a.test"]).write(dir.path(), "a");
    write_file(dir.path(), "www/index.html", "home");
    let file = write_file(dir.path(), "site.toml", CONFIG);
    let server = Server::start_exact(&["-c", file.to_str().unwrap()]);
    let addr = server.addr();
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 4);

    // One client configuration: its session store keeps the tickets it is given.
    let config = Arc::new(ca.client(&[version]));
    let mut first = connect_tls(addr, "a.test", &config);
    assert_eq!(
        first.stream.conn.handshake_kind(),
        Some(HandshakeKind::Full)
    );
    // A whole exchange, so that the tickets a TLS 1.3 server sends after its handshake arrive.
    assert_eq!(first.get_from("a.test", "/").text(), "home");
    drop(first);

    let mut served_by = HashSet::new();
    let mut n = 0;
    while n < RECONNECTIONS || (served_by.len() < 2 && n < MAX_RECONNECTIONS) {
        let mut client = connect_tls(addr, "a.test", &config);
        assert_eq!(
            client.stream.conn.handshake_kind(),
            Some(HandshakeKind::Resumed),
            "reconnection {n} ({version:?}), served by workers {served_by:?} so far"
        );
        let port = client.stream.sock.local_addr().unwrap().port();
        let worker = owner_of_connection(addr.port(), port, &workers).expect("a worker's");
        served_by.insert(worker);
        assert_eq!(client.get_from("a.test", "/").text(), "home");
        n += 1;
    }
    assert!(
        served_by.len() >= 2,
        "{n} connections all went to one worker: resumption across workers is untested"
    );
}

#[test]
fn a_tls_1_3_session_resumes_on_any_worker() {
    resumes_on_every_worker(TLS13);
}

#[test]
fn a_tls_1_2_session_resumes_on_any_worker() {
    resumes_on_every_worker(TLS12);
}
