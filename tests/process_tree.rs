//! The process tree: one master, N workers whose parent is the master, every worker serving
//! every listen address.

mod support;

use support::{Client, Server, Site, children_of};

#[test]
fn master_forks_n_workers_that_serve_every_address() {
    let site = Site::new();
    let server = Server::start(&[
        "-w",
        "3",
        "-l",
        "127.0.0.1:0",
        "-l",
        "127.0.0.1:0",
        &site.root_arg(),
    ]);
    assert_eq!(server.addrs.len(), 2);
    let workers = children_of(server.pid());
    assert_eq!(workers.len(), 3, "three workers, children of the master");

    // The start-up log names the master's pid, and each worker's pid and parent.
    let master = server.pid();
    assert!(
        server
            .lines()
            .iter()
            .any(|l| l.contains(&format!("master pid {master} started with 3 workers")))
    );
    for pid in &workers {
        let line = format!("pid {pid} (parent {master}) started");
        assert!(server.lines().iter().any(|l| l.contains(&line)), "{line}");
    }

    // Every worker serves every address: each holds the one listening socket of each address
    // (inherited across fork), so each can accept from it. Which worker accepts a given
    // connection is the kernel's choice, so the test does not count connections per worker:
    // one worker may take all of a short burst.
    for addr in &server.addrs {
        let listener = support::listening_socket_inode(addr.port()).expect("listening socket");
        for pid in &workers {
            assert!(
                support::holds_socket(*pid, &listener),
                "worker {pid} holds the socket listening on {addr}"
            );
        }
        let mut client = Client::connect(*addr);
        assert_eq!(client.get("/hello.txt").text(), "hello, world\n");
        let client_port = client.stream.local_addr().unwrap().port();
        assert!(
            support::owner_of_connection(addr.port(), client_port, &workers).is_some(),
            "a worker, not the master, holds the connection"
        );
        assert_eq!(
            support::owner_of_connection(addr.port(), client_port, &[master]),
            None,
            "the master never accepts"
        );
    }
}
