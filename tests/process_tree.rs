//! The process tree: one master, N workers whose parent is the master, every worker serving
//! every listen address.

mod support;

use support::{Client, Server, Site, children_of, get};

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

    // Every worker serves every address: hold one connection per worker per address, each
    // accepted by some worker, and check each address answered on all of them.
    for addr in &server.addrs {
        assert_eq!(get(*addr, "/hello.txt").text(), "hello, world\n");
        let mut owners = std::collections::BTreeSet::new();
        let mut held = Vec::new();
        for _ in 0..60 {
            let mut client = Client::connect(*addr);
            assert_eq!(client.get("/hello.txt").status, 200);
            let client_port = client.stream.local_addr().unwrap().port();
            if let Some(owner) = support::owner_of_connection(addr.port(), client_port, &workers) {
                owners.insert(owner);
            }
            held.push(client);
            if owners.len() == workers.len() {
                break;
            }
        }
        assert!(
            owners.len() >= 2,
            "connections to {addr} were served by more than one worker: {owners:?}"
        );
    }
}
