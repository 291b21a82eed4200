//! SIGUSR1 when the log file cannot be reopened: the old file keeps receiving the log, and it
//! says the reopen failed instead of claiming it worked.

mod support;

use support::{SIGUSR1, Server, Site, eventually};

#[test]
fn failed_reopen_is_reported_in_the_old_file() {
    let site = Site::new();
    let logs = site.dir.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join("forkhttpd.log");
    let server = Server::spawn(&[
        "-w",
        "1",
        "-l",
        "127.0.0.1:0",
        "--log-file",
        log.to_str().unwrap(),
        &site.root_arg(),
    ]);
    assert!(eventually(
        || std::fs::read_to_string(&log).is_ok_and(|t| t.contains(") started"))
    ));

    // The folder moves away and a plain file takes its name: opening logs/forkhttpd.log now
    // fails with ENOTDIR, while the open descriptor still reaches the moved file.
    let moved = site.dir.path().join("logs.old");
    std::fs::rename(&logs, &moved).unwrap();
    std::fs::write(&logs, "not a folder").unwrap();
    server.signal(SIGUSR1);
    let old = moved.join("forkhttpd.log");
    assert!(
        eventually(|| std::fs::read_to_string(&old)
            .is_ok_and(|t| t.matches("cannot reopen log file").count() >= 2)),
        "master and worker both report the failure in the file they still write to"
    );
    let text = std::fs::read_to_string(&old).unwrap();
    assert!(!text.contains("log file reopened"), "{text}");
}
