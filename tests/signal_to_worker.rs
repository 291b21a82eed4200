//! HUP and USR1 sent to a worker itself, as `pkill -HUP forkhttpd` does: the worker ignores
//! them (they are the master's), keeps its connections and is not replaced.

mod support;

use support::{Client, SIGHUP, SIGUSR1, Server, Site, send_signal};

#[test]
fn a_worker_ignores_hup_and_usr1_sent_to_it() {
    let site = Site::new();
    let server = Server::start(&["-w", "2", "--log-level", "debug", &site.root_arg()]);
    let workers = server.worker_pids();
    assert_eq!(workers.len(), 2);
    let mut client = Client::connect(server.addr());
    client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.response().status, 200);
    for &pid in &workers {
        send_signal(pid, SIGHUP);
        send_signal(pid, SIGUSR1);
    }
    // A worker that did not ignore them would be dead within microseconds; this leaves its
    // master the time to notice and log it.
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The keep-alive connection still serves, whichever worker holds it.
    for _ in 0..4 {
        client.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(client.response().status, 200);
    }
    let mut now = server.worker_pids();
    now.sort_unstable();
    let mut before = workers.clone();
    before.sort_unstable();
    assert_eq!(now, before, "no worker was replaced");
    let lines = server.lines();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("exited") || l.contains("reload")),
        "{lines:#?}"
    );
}
