//! A worker that keeps dying right after it starts is respawned with backoff, then given up on
//! loudly instead of in a fork storm; the other workers keep serving.

mod support;

use support::{SIGKILL, Server, Site, children_of, eventually, get, send_signal};

#[test]
fn slot_that_keeps_failing_is_given_up() {
    let site = Site::new();
    let server = Server::start(&["-w", "2", &site.root_arg()]);
    for attempt in 1..=5 {
        // The newest start line of worker 1 gives the pid to kill.
        assert!(eventually(|| starts_of_worker_1(&server).len() >= attempt));
        let line = starts_of_worker_1(&server).pop().unwrap();
        let pid: u32 = line
            .split("worker 1 pid ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        send_signal(pid, SIGKILL);
        server.wait_for(&format!("pid {pid} exited"));
    }
    let given_up = server.wait_for("not respawning it");
    assert!(
        given_up.contains("ERROR") && given_up.contains("worker 1"),
        "{given_up}"
    );
    assert_eq!(children_of(server.pid()).len(), 1, "worker 2 alone");
    assert_eq!(starts_of_worker_1(&server).len(), 5);
    assert_eq!(get(server.addr(), "/hello.txt").status, 200);
}

fn starts_of_worker_1(server: &Server) -> Vec<String> {
    server
        .lines()
        .into_iter()
        .filter(|l| l.contains("worker 1 pid ") && l.ends_with(") started"))
        .collect()
}
