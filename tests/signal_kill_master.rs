//! kill -9 of the master: its workers die with it, no orphan keeps the port.

mod support;

use support::{SIGKILL, Server, Site, children_of, eventually, is_alive};

#[test]
fn workers_do_not_outlive_a_killed_master() {
    let site = Site::new();
    let mut server = Server::start(&["-w", "3", &site.root_arg()]);
    let workers = children_of(server.pid());
    assert_eq!(workers.len(), 3);
    assert!(workers.iter().all(|&pid| is_alive(pid)));
    server.signal(SIGKILL);
    server.wait_exit();
    assert!(
        eventually(|| workers.iter().all(|&pid| !is_alive(pid))),
        "orphaned workers: {workers:?}"
    );
    assert!(
        std::net::TcpStream::connect(server.addr()).is_err(),
        "nothing listens any more"
    );
}
