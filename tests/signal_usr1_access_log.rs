//! SIGUSR1 reopens the access log too: after logrotate moves the file and signals the master,
//! each worker writes what it buffered to the moved file and the lines that follow to a new file
//! at the configured path.

mod support;

use support::{SIGUSR1, Site, combined, eventually, get, lines_in, start_logging, stop_and_read};

#[test]
fn access_log_is_reopened_at_its_path() {
    let site = Site::new();
    let log = site.dir.path().join("access.log");
    let rotated = site.dir.path().join("access.log.1");
    let server = start_logging(&site.root_arg(), &log, "combined", &[]);

    assert_eq!(get(server.addr(), "/hello.txt?before").status, 200);
    // Moved while the line may still be in the worker's buffer: the reopen writes it out first.
    std::fs::rename(&log, &rotated).unwrap();
    server.signal(SIGUSR1);
    // The worker creates the file again when it reopens.
    assert!(eventually(|| log.exists()), "no new file at {log:?}");
    assert_eq!(get(server.addr(), "/hello.txt?after").status, 200);

    let requests = |lines: Vec<String>| -> Vec<String> {
        lines.iter().map(|line| combined(line).request).collect()
    };
    let new = requests(stop_and_read(server, &log));
    assert_eq!(new, ["GET /hello.txt?after HTTP/1.1"], "the new file");
    let old = requests(lines_in(&rotated));
    assert_eq!(old, ["GET /hello.txt?before HTTP/1.1"], "the moved file");
}
