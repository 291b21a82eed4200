//! SIGHUP: zero-downtime reload. A client looping on requests across the reload gets every
//! answer, and the workers are new processes afterwards.

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use support::{Client, SIGHUP, Server, Site, children_of, eventually};

#[test]
fn reload_replaces_workers_while_500_requests_all_succeed() {
    let site = Site::new();
    let server = Server::start(&["-w", "2", &site.root_arg()]);
    let addr = server.addr();
    let before = children_of(server.pid());
    assert_eq!(before.len(), 2);

    let progress = Arc::new(AtomicUsize::new(0));
    let client = {
        let progress = progress.clone();
        std::thread::spawn(move || {
            let mut failures = Vec::new();
            for i in 0..500 {
                // A new connection each time, so requests land on old and new workers alike.
                let mut client = Client::connect(addr);
                client.send(b"GET /hello.txt HTTP/1.1\r\nHost: t\r\n\r\n");
                match client.read_response(false) {
                    Some(response)
                        if response.status == 200 && response.text() == "hello, world\n" => {}
                    other => failures.push((i, other.map(|r| r.status))),
                }
                progress.store(i + 1, Ordering::Relaxed);
            }
            failures
        })
    };

    assert!(eventually(|| progress.load(Ordering::Relaxed) >= 100));
    server.signal(SIGHUP);
    server.wait_for("reloading");
    // Both old workers drain and exit while the loop goes on.
    server.wait_for_count("old generation", 2);
    let failures = client.join().unwrap();
    assert_eq!(
        failures,
        vec![],
        "every request across the reload was answered"
    );

    let after = children_of(server.pid());
    assert_eq!(after.len(), 2);
    assert!(
        after.iter().all(|pid| !before.contains(pid)),
        "new workers: {before:?} -> {after:?}"
    );
}

#[test]
fn reload_with_a_vanished_root_keeps_the_old_workers() {
    let site = Site::new();
    let server = Server::start(&["-w", "1", &site.root_arg()]);
    let before = children_of(server.pid());
    let moved = site.dir.path().join("moved");
    std::fs::rename(site.root(), &moved).unwrap();
    server.signal(SIGHUP);
    server.wait_for("reload refused");
    assert_eq!(children_of(server.pid()), before);
}
