//! kill -9 of a worker under load: it is reaped at once (no zombie) and replaced, and the other
//! worker's connections are not disturbed.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use support::{
    Client, SIGKILL, Server, Site, children_of, children_with_state, eventually, send_signal,
};

#[test]
fn killed_worker_is_replaced_without_zombie_or_harm_to_others() {
    let site = Site::new();
    let server = Server::start(&["-w", "2", &site.root_arg()]);
    let addr = server.addr();
    let workers = children_of(server.pid());
    assert_eq!(workers.len(), 2);

    // A keep-alive connection and the worker that owns it.
    let mut survivor = Client::connect(addr);
    assert_eq!(survivor.get("/hello.txt").status, 200);
    let client_port = survivor.stream.local_addr().unwrap().port();
    let owner = support::owner_of_connection(addr.port(), client_port, &workers).expect("owner");
    let victim = *workers.iter().find(|&&pid| pid != owner).unwrap();

    // Background load on new connections while the worker dies.
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut served = 0;
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let mut client = Client::connect(addr);
                client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
                if client.read_response(false).is_some_and(|r| r.status == 200) {
                    served += 1;
                }
            }
            served
        })
    };

    send_signal(victim, SIGKILL);
    server.wait_for(&format!("pid {victim} exited (signal SIGKILL); respawning"));
    // Reaped as soon as it died: no zombie child of the master.
    assert!(
        !children_with_state(server.pid())
            .iter()
            .any(|(_, state)| *state == 'Z')
    );
    assert!(eventually(|| {
        let now = children_of(server.pid());
        now.len() == 2 && !now.contains(&victim) && now.contains(&owner)
    }));
    server.wait_for_count(" started", 1 + 2 + 1);

    // The other worker's connection never noticed.
    for _ in 0..50 {
        assert_eq!(survivor.get("/hello.txt").status, 200);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(load.join().unwrap() > 0);
    // And every new connection after the replacement is served.
    for _ in 0..50 {
        assert_eq!(support::get(addr, "/hello.txt").status, 200);
    }
}
