//! SIGUSR1: every process reopens --log-file, as logrotate's "move, then signal" needs.

mod support;

use std::path::Path;

use support::{SIGUSR1, Server, Site, eventually, exchange};

fn contains(path: &Path, needle: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| text.contains(needle))
}

#[test]
fn log_file_is_reopened_by_master_and_workers() {
    let site = Site::new();
    let log = site.dir.path().join("forkhttpd.log");
    let rotated = site.dir.path().join("forkhttpd.log.1");
    let server = Server::spawn(&[
        "-w",
        "2",
        "-l",
        "127.0.0.1:0",
        "--log-level",
        "debug",
        "--log-file",
        log.to_str().unwrap(),
        &site.root_arg(),
    ]);
    assert!(eventually(
        || std::fs::read_to_string(&log).is_ok_and(|t| t.matches(") started").count() == 2)
    ));
    let text = std::fs::read_to_string(&log).unwrap();
    let addr: std::net::SocketAddr = text
        .split("listening on http://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap()
        .parse()
        .unwrap();

    std::fs::rename(&log, &rotated).unwrap();
    server.signal(SIGUSR1);
    assert!(
        eventually(|| contains(&log, "log file reopened")),
        "the master writes to the new file"
    );
    // Workers log a rejected request at debug; with two workers, send enough for both.
    let mut attempts = 0;
    assert!(eventually(|| {
        attempts += 1;
        exchange(addr, b"GET / HTTP/1.1\r\n\r\n");
        std::fs::read_to_string(&log).is_ok_and(|t| t.matches("rejected request").count() >= 2)
            || attempts > 200
    }));
    assert!(
        contains(&log, "rejected request"),
        "workers write to the new file"
    );
    assert!(
        !contains(&rotated, "rejected request"),
        "nothing more goes to the rotated file"
    );
}
